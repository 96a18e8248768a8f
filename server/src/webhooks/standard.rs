//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>, spec 1.0.0, "Signature scheme" and "Webhook
//! headers"), sent beside `rtk-signature` so receivers can verify with the `standardwebhooks` libraries (PyPI, npm):
//!
//! - `webhook-id`: the event id, the same on every attempt (it is also `rtk-uuid`);
//! - `webhook-timestamp`: when this attempt was sent, integer unix seconds (receivers reject old ones: replays);
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{raw body}">` with the
//!   webhook's secret, space-separated one per secret while a rotated secret's old one is still accepted.
//!
//! Hand-written over the `hmac` crate (already in the build through `jsonwebtoken`) rather than the reference
//! `standardwebhooks` crate: that one pins `http` 0.2 and `base64` 0.21, second copies of crates the server has in
//! newer versions, for what is one HMAC and a format string here. The spec's test vector checks it below.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature scheme's identifier for HMAC-SHA256 (symmetric) signatures.
pub const VERSION: &str = "v1";

/// One `v1,<base64>` signature of a message with the raw secret bytes `key` (what follows `whsec_`, decoded).
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; a 0-byte key is refused where secrets are made, not here.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("{VERSION},{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per key, in the order given, space-separated.
pub fn signature_header<'a>(
    keys: impl IntoIterator<Item = &'a [u8]>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    keys.into_iter().map(|key| sign(key, msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> Vec<u8> {
        STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap()
    }

    #[test]
    fn the_spec_test_vector() {
        // The reference libraries' published vector (Python `test_sign_function`, JavaScript, Go alike).
        let signature = sign(
            &key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn the_rust_reference_librarys_vector() {
        let signature = sign(
            &key("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"),
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn id_timestamp_and_body_are_all_signed() {
        let k = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let base = sign(&k, "a", 1, b"{}");
        assert_ne!(base, sign(&k, "b", 1, b"{}"), "another id");
        assert_ne!(base, sign(&k, "a", 2, b"{}"), "another timestamp (a replay with a fresh one)");
        assert_ne!(base, sign(&k, "a", 1, b"{} "), "another body");
        assert_ne!(base, sign(b"another key", "a", 1, b"{}"), "another key");
    }

    #[test]
    fn one_signature_per_key_space_separated_in_order() {
        let (old, new) = (b"old secret bytes".as_slice(), b"new secret bytes".as_slice());
        let header = signature_header([new, old], "id", 7, b"body");
        assert_eq!(header, format!("{} {}", sign(new, "id", 7, b"body"), sign(old, "id", 7, b"body")));
        assert_eq!(signature_header([new], "id", 7, b"body"), sign(new, "id", 7, b"body"));
    }
}
