//! Signing as RealtimeKit signs: `rtk-signature` is the base64 of an RSA-SHA256 (PKCS#1 v1.5) signature over the raw
//! body bytes, checked by receivers against the public key served at `/.well-known/webhooks.json`.
//!
//! The key pair is made once per data directory and kept there as PKCS#8 PEM ([`KEY_FILE`]), so receivers that pinned
//! the public key keep verifying across restarts. Replacing the file (and restarting) rotates the key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::RsaPrivateKey;
use std::io::Write;
use std::path::Path;

/// The private key's file inside `--data`.
pub const KEY_FILE: &str = "webhooks-signing-key.pem";

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
}

/// Signs webhook bodies. Cheap to share behind an `Arc`.
pub struct Signer {
    key: SigningKey<Sha256>,
    public_pem: String,
}

impl Signer {
    /// The key of `<dir>/webhooks-signing-key.pem`, made and saved first if the file does not exist. Slow the first
    /// time (RSA key generation takes a while): call it off the async threads.
    pub fn load_or_create(dir: &Path) -> Result<Signer, KeyError> {
        let path = dir.join(KEY_FILE);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(pem) => Signer::from_pem(&pem).map_err(|message| KeyError::Invalid { path: shown, message }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = RsaPrivateKey::new(&mut rand_core::OsRng, KEY_BITS)
                    .map_err(|e| KeyError::Generate(e.to_string()))?;
                let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Generate(e.to_string()))?;
                write_private(&path, pem.as_bytes()).map_err(|source| KeyError::Io { path: shown, source })?;
                Signer::from_key(key).map_err(KeyError::Generate)
            }
            Err(source) => Err(KeyError::Io { path: shown, source }),
        }
    }

    /// A signer for a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Signer, String> {
        Signer::from_key(RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?)
    }

    fn from_key(key: RsaPrivateKey) -> Result<Signer, String> {
        let public_pem = key.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| e.to_string())?;
        Ok(Signer { key: SigningKey::new(key), public_pem })
    }

    /// The `rtk-signature` of a body: base64 of RSA-SHA256 PKCS#1 v1.5 over exactly these bytes. The signature is
    /// deterministic; the random number only blinds the private-key operation against timing attacks.
    pub fn sign(&self, body: &[u8]) -> String {
        STANDARD.encode(self.key.sign_with_rng(&mut rand_core::OsRng, body).to_bytes())
    }

    /// The public key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), what `/.well-known/webhooks.json`
    /// serves and what Node's `crypto.verify` and Python's `cryptography` load as they are.
    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }
}

/// Writes the key readable by its owner only, complete or not at all: a crash mid-write must not leave a truncated
/// key that would stop the next start.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial = path.with_extension("pem.partial");
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
        assert!(verify(signer.public_key_pem(), body, &signature));
        assert!(!verify(signer.public_key_pem(), br#"{"event":"meeting.ended" }"#, &signature), "tampered body");
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
