//! Signing as RealtimeKit signs: `rtk-signature` is the base64 of an RSA-SHA256 (PKCS#1 v1.5) signature over the raw
//! body bytes, checked by receivers against the public key served at `/.well-known/webhooks.json`.
//!
//! The key pair is made once per data directory and kept there as PKCS#8 PEM ([`KEY_FILE`], mode 600), so receivers
//! that pinned the public key keep verifying across restarts.
//!
//! Rotation ([`rotate`], `endsession-server --rotate-webhook-signing-key`) announces a new key before it signs: it is
//! written beside the current one ([`NEXT_KEY_FILE`], with its switch time in [`SWITCH_FILE`]) and, once the running
//! server has looked (every [`LOOK_EVERY`]) or at its next start, `/.well-known/webhooks.json` lists both keys (`publicKeys`) while the current one still signs; at the
//! switch time (the rotation plus `--webhook-rotation-window-ms`) the new key signs every attempt from then on —
//! retries of older events too, since each attempt is signed when it is sent — and the old one leaves the list. A
//! receiver that refreshes the key list at least once per window never sees a signature it cannot check. The next
//! start after the switch makes the new key the file's.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::RsaPrivateKey;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The private key's file inside `--data`.
pub const KEY_FILE: &str = "webhooks-signing-key.pem";
/// A rotation's new key, announced until it signs (then it replaces [`KEY_FILE`] at the next start).
pub const NEXT_KEY_FILE: &str = "webhooks-signing-key.next.pem";
/// When [`NEXT_KEY_FILE`] starts signing: unix milliseconds, as text. Missing means at once.
pub const SWITCH_FILE: &str = "webhooks-signing-key.next.switch-at";

/// RealtimeKit's keys are 2048-bit; so are ours.
const KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("webhook signing key {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("webhook signing key {path} is not a PKCS#8 PEM RSA private key: {message}")]
    Invalid { path: String, message: String },
    #[error("could not make a webhook signing key: {0}")]
    Generate(String),
    #[error(
        "a webhook signing key rotation is already under way: the new key signs from {switch_at}; rotate again after \
         that"
    )]
    RotationUnderWay { switch_at: String },
}

/// One RSA key pair and its public key as PEM.
struct KeyPair {
    key: SigningKey<Sha256>,
    public_pem: String,
}

impl KeyPair {
    fn from_key(key: RsaPrivateKey) -> Result<KeyPair, String> {
        let public_pem = key.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| e.to_string())?;
        Ok(KeyPair { key: SigningKey::new(key), public_pem })
    }

    fn read(path: &Path) -> Result<KeyPair, KeyError> {
        let shown = path.display().to_string();
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: shown.clone(), source })?;
        let key = RsaPrivateKey::from_pkcs8_pem(&pem)
            .map_err(|e| KeyError::Invalid { path: shown.clone(), message: e.to_string() })?;
        KeyPair::from_key(key).map_err(|message| KeyError::Invalid { path: shown, message })
    }

    /// A new key pair, saved to `path` (mode 600) before it is returned.
    /// Several nodes may start at once on one data directory: the first key linked into place is everybody's, so
    /// that every node signs with the key `/.well-known/webhooks.json` publishes.
    fn generate(path: &Path) -> Result<KeyPair, KeyError> {
        let (pair, pem) = KeyPair::new()?;
        let io = |source| KeyError::Io { path: path.display().to_string(), source };
        let mut partial = path.as_os_str().to_owned();
        partial.push(format!(".{}.partial", uuid::Uuid::new_v4()));
        let partial = PathBuf::from(partial);
        write_private(&partial, pem.as_bytes()).map_err(io)?;
        // A hard link is created only if nothing is at `path`, and whole: never a half-written key.
        let linked = std::fs::hard_link(&partial, path);
        let _ = std::fs::remove_file(&partial);
        match linked {
            Ok(()) => Ok(pair),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => KeyPair::read(path),
            Err(e) => Err(io(e)),
        }
    }

    /// A new key pair and its private key's PEM, not saved yet. Slow: RSA key generation.
    fn new() -> Result<(KeyPair, String), KeyError> {
        let key = RsaPrivateKey::new(&mut rand_core::OsRng, KEY_BITS).map_err(|e| KeyError::Generate(e.to_string()))?;
        let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Generate(e.to_string()))?.to_string();
        Ok((KeyPair::from_key(key).map_err(KeyError::Generate)?, pem))
    }

    fn save(path: &Path, pem: &str) -> Result<(), KeyError> {
        write_private(path, pem.as_bytes()).map_err(|source| KeyError::Io { path: path.display().to_string(), source })
    }
}

/// Signs webhook bodies with the key of the moment. Cheap to share behind an `Arc`.
pub struct Signer {
    keys: RwLock<Keys>,
    /// The data directory, looked at every [`LOOK_EVERY`] for a rotation made while the server runs (None for a
    /// signer made from a PEM).
    dir: Option<PathBuf>,
    looked: Mutex<Instant>,
    /// How long what a rotation replaces stays accepted (`--webhook-rotation-window-ms`).
    rotation_window: Duration,
}

/// The current key and a rotation's new one with when (unix ms) it starts signing.
struct Keys {
    current: Arc<KeyPair>,
    next: Option<(Arc<KeyPair>, i64)>,
}

impl Keys {
    /// The key that signs at `now_ms`.
    fn signing_at(&self, now_ms: i64) -> &Arc<KeyPair> {
        match &self.next {
            Some((next, switch_at_ms)) if now_ms >= *switch_at_ms => next,
            _ => &self.current,
        }
    }
}

/// How often a running server looks for a rotation `--rotate-webhook-signing-key` made (one `stat`).
pub const LOOK_EVERY: Duration = Duration::from_secs(2);

/// What [`rotate`] did: the new public key and when it starts signing (unix ms).
#[derive(Debug)]
pub struct Rotation {
    pub public_key_pem: String,
    pub switch_at_ms: i64,
}

impl Signer {
    /// The keys of `<dir>`: [`KEY_FILE`], made and saved first if it does not exist, and a rotation's
    /// [`NEXT_KEY_FILE`] (made the current key here if its switch time has passed). Slow the first time (RSA key
    /// generation takes a while): call it off the async threads.
    pub fn load_or_create(dir: &Path) -> Result<Signer, KeyError> {
        let path = dir.join(KEY_FILE);
        let mut current = match std::fs::metadata(&path) {
            Ok(_) => KeyPair::read(&path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => KeyPair::generate(&path)?,
            Err(source) => return Err(KeyError::Io { path: path.display().to_string(), source }),
        };
        let next_path = dir.join(NEXT_KEY_FILE);
        let mut next = None;
        if next_path.exists() {
            let key = KeyPair::read(&next_path)?;
            let switch_at_ms = read_switch_at(dir);
            if crate::clock::unix_ms() >= switch_at_ms {
                // The switch has come: the new key is the key from now on, on disk too.
                std::fs::rename(&next_path, &path)
                    .map_err(|source| KeyError::Io { path: next_path.display().to_string(), source })?;
                let _ = std::fs::remove_file(dir.join(SWITCH_FILE));
                current = key;
            } else {
                next = Some((Arc::new(key), switch_at_ms));
            }
        }
        Ok(Signer {
            keys: RwLock::new(Keys { current: Arc::new(current), next }),
            dir: Some(dir.to_owned()),
            looked: Mutex::new(Instant::now()),
            rotation_window: super::delivery::DEFAULT_ROTATION_WINDOW,
        })
    }

    /// A new private key as PKCS#8 PEM, for a store that keeps it itself (the Postgres store keeps the nodes' one
    /// key in its database). Slow: RSA key generation.
    pub fn new_key_pem() -> Result<String, KeyError> {
        Ok(KeyPair::new()?.1)
    }

    /// A signer for a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Signer, String> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
        Ok(Signer {
            keys: RwLock::new(Keys { current: Arc::new(KeyPair::from_key(key)?), next: None }),
            dir: None,
            looked: Mutex::new(Instant::now()),
            rotation_window: super::delivery::DEFAULT_ROTATION_WINDOW,
        })
    }

    /// The same signer with another rotation window.
    pub fn with_rotation_window(self, rotation_window: Duration) -> Signer {
        Signer { rotation_window, ..self }
    }

    /// How long an old webhook secret stays accepted after `rotate-secret` (unless the call says otherwise).
    pub fn rotation_window(&self) -> Duration {
        self.rotation_window
    }

    /// Takes up a rotation made on the data directory since the last look, at most once per [`LOOK_EVERY`]. A key
    /// file that cannot be read is logged and left for the next start to refuse; signing goes on with what it has.
    fn look(&self) {
        let Some(dir) = &self.dir else { return };
        {
            let mut looked = self.looked.lock().unwrap_or_else(PoisonError::into_inner);
            if looked.elapsed() < LOOK_EVERY {
                return;
            }
            *looked = Instant::now();
        }
        let next_path = dir.join(NEXT_KEY_FILE);
        if !next_path.exists() {
            return;
        }
        let switch_at_ms = read_switch_at(dir);
        let known = self.keys.read().unwrap_or_else(PoisonError::into_inner).next.as_ref().map(|(_, at)| *at);
        if known == Some(switch_at_ms) {
            return;
        }
        match KeyPair::read(&next_path) {
            Ok(key) => {
                let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
                // What signs now stays the current key (a finished rotation's new key, if there was one).
                keys.current = keys.signing_at(crate::clock::unix_ms()).clone();
                keys.next = Some((Arc::new(key), switch_at_ms));
                tracing::info!(signs_from = %format_ms(switch_at_ms), "webhook signing key rotation announced");
            }
            Err(e) => tracing::error!(error = %e, "could not take up the webhook signing key rotation"),
        }
    }

    /// Announces a rotation's new key (PKCS#8 PEM) that signs from `switch_at_ms` (unix ms), as [`Signer::look`]
    /// does for one made on the data directory; for keys kept in the store (see [`super::shared_key`]). The same
    /// rotation announced again changes nothing.
    pub fn announce(&self, next_pem: &str, switch_at_ms: i64) -> Result<(), String> {
        let known = self.keys.read().unwrap_or_else(PoisonError::into_inner).next.as_ref().map(|(_, at)| *at);
        if known == Some(switch_at_ms) {
            return Ok(());
        }
        let key = KeyPair::from_key(RsaPrivateKey::from_pkcs8_pem(next_pem).map_err(|e| e.to_string())?)?;
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        // What signs now stays the current key (a finished rotation's new key, if there was one).
        keys.current = keys.signing_at(crate::clock::unix_ms()).clone();
        keys.next = Some((Arc::new(key), switch_at_ms));
        tracing::info!(signs_from = %format_ms(switch_at_ms), "webhook signing key rotation announced");
        Ok(())
    }

    fn signing_key(&self, now_ms: i64) -> Arc<KeyPair> {
        self.look();
        self.keys.read().unwrap_or_else(PoisonError::into_inner).signing_at(now_ms).clone()
    }

    /// The `rtk-signature` of a body, with the key of this moment: base64 of RSA-SHA256 PKCS#1 v1.5 over exactly
    /// these bytes. The signature is deterministic; the random number only blinds the private-key operation
    /// against timing attacks.
    pub fn sign(&self, body: &[u8]) -> String {
        self.sign_at(crate::clock::unix_ms(), body)
    }

    fn sign_at(&self, now_ms: i64, body: &[u8]) -> String {
        STANDARD.encode(self.signing_key(now_ms).key.sign_with_rng(&mut rand_core::OsRng, body).to_bytes())
    }

    /// The public key that checks what is signed now, as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`):
    /// `publicKey` of `/.well-known/webhooks.json`, what Node's `crypto.verify` and Python's `cryptography` load as
    /// they are.
    pub fn public_key_pem(&self) -> String {
        self.signing_key(crate::clock::unix_ms()).public_pem.clone()
    }

    /// Every public key a receiver should accept now: the signing one first, then a rotation's announced one
    /// (`publicKeys` of `/.well-known/webhooks.json`); and when the announced one starts signing (unix ms).
    pub fn public_keys(&self) -> (Vec<String>, Option<i64>) {
        self.look();
        self.public_keys_at(crate::clock::unix_ms())
    }

    fn public_keys_at(&self, now_ms: i64) -> (Vec<String>, Option<i64>) {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        match &keys.next {
            Some((next, switch_at_ms)) if now_ms < *switch_at_ms => {
                (vec![keys.current.public_pem.clone(), next.public_pem.clone()], Some(*switch_at_ms))
            }
            _ => (vec![keys.signing_at(now_ms).public_pem.clone()], None),
        }
    }
}

/// Rotates the signing key of `<dir>`: a new key is made and announced, and signs from `window` on (see the module
/// docs). A running server takes it up within [`LOOK_EVERY`]. Refused while an earlier rotation's switch is still to
/// come. Slow (RSA key generation): call it off the async threads.
pub fn rotate(dir: &Path, window: Duration) -> Result<Rotation, KeyError> {
    let signer = Signer::load_or_create(dir)?; // makes a first key, and finishes a rotation whose time has come
    let pending = signer.keys.into_inner().unwrap_or_else(PoisonError::into_inner).next;
    if let Some((_, switch_at_ms)) = pending {
        return Err(KeyError::RotationUnderWay { switch_at: format_ms(switch_at_ms) });
    }
    // Made before the window starts: generating it takes a while, which must not eat into the announcement.
    let (next, pem) = KeyPair::new()?;
    let switch_at_ms = crate::clock::unix_ms().saturating_add(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
    // The switch time first: a key file without one would sign at once.
    let switch = dir.join(SWITCH_FILE);
    write_private(&switch, switch_at_ms.to_string().as_bytes())
        .map_err(|source| KeyError::Io { path: switch.display().to_string(), source })?;
    KeyPair::save(&dir.join(NEXT_KEY_FILE), &pem)?;
    Ok(Rotation { public_key_pem: next.public_pem, switch_at_ms })
}

/// `--rotate-webhook-signing-key`: [`rotate`], and what it did on standard output (the new public key, PEM, last).
pub fn rotate_and_report(dir: &Path, window: Duration) -> anyhow::Result<()> {
    report(&rotate(dir, window)?);
    Ok(())
}

/// What a rotation did, on standard output (the new public key, PEM, last).
pub fn report(rotation: &Rotation) {
    println!(
        "webhook signing key rotated: a running server lists the new key in /.well-known/webhooks.json within {} s \
         (or from its next start), and it signs from {}",
        LOOK_EVERY.as_secs(),
        format_ms(rotation.switch_at_ms)
    );
    print!("{}", rotation.public_key_pem);
}

/// The switch time of a rotation; at once if the file is missing or damaged.
fn read_switch_at(dir: &Path) -> i64 {
    std::fs::read_to_string(dir.join(SWITCH_FILE)).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0)
}

/// An API timestamp of unix milliseconds.
pub fn format_ms(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    crate::clock::format(at)
}

/// Writes the key readable by its owner only, complete or not at all: a crash mid-write must not leave a truncated
/// key that would stop the next start.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    use rsa::RsaPublicKey;

    fn verify(public_pem: &str, body: &[u8], signature: &str) -> bool {
        let key = VerifyingKey::<Sha256>::new(RsaPublicKey::from_public_key_pem(public_pem).unwrap());
        let bytes = STANDARD.decode(signature).unwrap();
        key.verify(body, &Signature::try_from(bytes.as_slice()).unwrap()).is_ok()
    }

    #[test]
    fn the_key_is_made_once_and_signatures_verify_against_its_public_pem() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(dir.path()).unwrap();
        let pem = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the private key is its owner's only");
        }
        assert!(signer.public_key_pem().starts_with("-----BEGIN PUBLIC KEY-----"));

        let again = Signer::load_or_create(dir.path()).unwrap();
        assert_eq!(again.public_key_pem(), signer.public_key_pem(), "a restart keeps the key");

        let body = br#"{"event":"meeting.ended"}"#;
        let signature = signer.sign(body);
        assert_eq!(signature, again.sign(body), "PKCS#1 v1.5 signatures are deterministic");
        assert!(verify(&signer.public_key_pem(), body, &signature));
        assert!(!verify(&signer.public_key_pem(), br#"{"event":"meeting.ended" }"#, &signature), "tampered body");
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_rotation_announces_the_new_key_then_switches_to_it_at_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let old = Signer::load_or_create(dir.path()).unwrap();
        let rotation = rotate(dir.path(), Duration::from_secs(3600)).unwrap();
        assert_eq!(mode(&dir.path().join(NEXT_KEY_FILE)), 0o600, "the new private key is its owner's only");
        assert_ne!(rotation.public_key_pem, old.public_key_pem());
        let error = rotate(dir.path(), Duration::ZERO).expect_err("one rotation at a time");
        assert!(matches!(error, KeyError::RotationUnderWay { .. }), "{error}");

        let signer = Signer::load_or_create(dir.path()).unwrap();
        let before = rotation.switch_at_ms - 1;
        let (keys, switch_at) = signer.public_keys_at(before);
        assert_eq!(keys, [old.public_key_pem(), rotation.public_key_pem.clone()], "both published, signer first");
        assert_eq!(switch_at, Some(rotation.switch_at_ms));
        let body = b"{}";
        assert!(verify(&old.public_key_pem(), body, &signer.sign_at(before, body)), "the old key signs until then");
        assert!(verify(&rotation.public_key_pem, body, &signer.sign_at(rotation.switch_at_ms, body)), "then the new");
        let (keys, switch_at) = signer.public_keys_at(rotation.switch_at_ms);
        assert_eq!((keys, switch_at), (vec![rotation.public_key_pem.clone()], None), "and the old one is gone");
    }

    #[test]
    fn a_running_signer_takes_up_a_rotation_made_on_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(dir.path()).unwrap();
        let old = signer.public_key_pem();
        let look_now = || *signer.looked.lock().unwrap() = Instant::now() - LOOK_EVERY;

        let first = rotate(dir.path(), Duration::from_secs(4)).unwrap();
        look_now();
        let (keys, switch_at) = signer.public_keys();
        assert_eq!((keys, switch_at), (vec![old.clone(), first.public_key_pem.clone()], Some(first.switch_at_ms)));
        assert!(verify(&old, b"{}", &signer.sign(b"{}")), "announced, not signing yet");

        // After its switch the first rotation's key signs; a second rotation is taken up with it as the current key.
        let until_switch = first.switch_at_ms - crate::clock::unix_ms();
        std::thread::sleep(Duration::from_millis(u64::try_from(until_switch).unwrap_or(0) + 100));
        assert!(verify(&first.public_key_pem, b"{}", &signer.sign(b"{}")), "switched without a restart");
        let second = rotate(dir.path(), Duration::from_secs(3600)).unwrap();
        look_now();
        let (keys, _) = signer.public_keys();
        assert_eq!(keys, [first.public_key_pem.clone(), second.public_key_pem.clone()]);
        assert!(verify(&first.public_key_pem, b"{}", &signer.sign(b"{}")));
    }

    #[test]
    fn after_the_switch_a_start_makes_the_new_key_the_key() {
        let dir = tempfile::tempdir().unwrap();
        Signer::load_or_create(dir.path()).unwrap();
        let rotation = rotate(dir.path(), Duration::ZERO).unwrap();
        let signer = Signer::load_or_create(dir.path()).unwrap();
        assert_eq!(signer.public_key_pem(), rotation.public_key_pem);
        assert_eq!(signer.public_keys().0, std::slice::from_ref(&rotation.public_key_pem));
        assert!(!dir.path().join(NEXT_KEY_FILE).exists() && !dir.path().join(SWITCH_FILE).exists());
        assert_eq!(mode(&dir.path().join(KEY_FILE)), 0o600);
        let again = rotate(dir.path(), Duration::from_secs(60)).unwrap();
        assert_ne!(again.public_key_pem, rotation.public_key_pem, "a finished rotation allows the next one");
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        let error = Signer::load_or_create(dir.path()).err().expect("refused");
        assert!(matches!(error, KeyError::Invalid { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(), "not a key", "left for the operator");
    }
}
