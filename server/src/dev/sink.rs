//! What `--dev`'s webhook sink keeps and how it checks a delivery, free of HTTP (the routes are
//! [`crate::rest::dev_sink`]): the last [`KEPT`] deliveries ([`Deliveries`]), and the two signature checks, as an
//! app's receiver would make them:
//!
//! - `rtk-signature` (RealtimeKit's): RSA-SHA256 PKCS#1 v1.5 over the raw body, against the keys published at
//!   `/.well-known/webhooks.json`;
//! - `webhook-signature` (Standard Webhooks 1.0.0): HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` with
//!   the webhook's secret, any of the space-separated `v1,` signatures matching, and `webhook-timestamp` within
//!   [`TOLERANCE_SECS`] of now.
//!
//! Verification uses the `rsa` and `hmac` crates (`verify_slice` compares in constant time).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Deliveries kept in memory; older ones are forgotten.
pub const KEPT: usize = 100;
/// How far `webhook-timestamp` may be from now, in seconds: the reference libraries' default (replay protection).
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// A `message` longer than this is cut in the list (the API allows 500 characters).
pub const MESSAGE_CHARS: usize = 500;

/// The last [`KEPT`] deliveries the sink received, oldest first.
#[derive(Debug, Default)]
pub struct Deliveries {
    inner: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    next_seq: u64,
    kept: VecDeque<Received>,
}

impl Deliveries {
    /// Keeps `received`, numbering it, and forgets the oldest past [`KEPT`].
    pub fn push(&self, mut received: Received) {
        let mut log = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        log.next_seq += 1;
        received.seq = log.next_seq;
        if log.kept.len() == KEPT {
            log.kept.pop_front();
        }
        log.kept.push_back(received);
    }

    /// Newest first; only the meeting's if `meeting_id` is given.
    pub fn list(&self, meeting_id: Option<&str>) -> Vec<Received> {
        let log = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let wanted = |r: &&Received| meeting_id.is_none_or(|id| r.meeting_id.as_deref() == Some(id));
        log.kept.iter().rev().filter(wanted).cloned().collect()
    }
}

/// One delivery as the sink saw it. Fields read from the body are null when the body lacks them (or is not JSON).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    /// 1, 2, ... in the order received (since this start).
    pub seq: u64,
    /// API timestamp.
    pub received_at: String,
    /// `webhook-id` (the event id; the same on every attempt).
    pub webhook_id: Option<String>,
    pub event: Option<String>,
    pub meeting_id: Option<String>,
    pub session_id: Option<String>,
    pub reason: Option<String>,
    /// `meeting.ended`: the host's message.
    pub message: Option<String>,
    /// `meeting.ended`: who ended it (`{id, name, customParticipantId}`, `{api: true}` or null).
    pub ended_by: Option<Value>,
    /// `participantJoined` / `participantLeft`: the participant's display name.
    pub participant: Option<String>,
    /// `rtk-signature` checked against the published key.
    pub rtk_signature: Check,
    /// `webhook-signature` checked with the webhook's secret.
    pub standard_signature: Check,
    /// Both signatures valid.
    pub verified: bool,
    /// Why not, when not.
    pub problem: Option<String>,
}

/// The outcome of one signature check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    Valid,
    Invalid,
    Missing,
}

/// `rtk-signature`: base64 of an RSA-SHA256 PKCS#1 v1.5 signature over `body`, by any of the published keys (PEM).
pub fn check_rtk(public_keys: &[String], signature: Option<&str>, body: &[u8]) -> Check {
    let Some(signature) = signature else { return Check::Missing };
    let Ok(bytes) = STANDARD.decode(signature.trim()) else { return Check::Invalid };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else { return Check::Invalid };
    let verifies = |pem: &String| {
        RsaPublicKey::from_public_key_pem(pem)
            .map(|key| VerifyingKey::<Sha256>::new(key).verify(body, &signature).is_ok())
            .unwrap_or(false)
    };
    if public_keys.iter().any(verifies) {
        Check::Valid
    } else {
        Check::Invalid
    }
}

/// Standard Webhooks: some `v1,<base64>` in `signature` is the HMAC-SHA256 of `{id}.{timestamp}.{body}` with one of
/// `secrets` (raw bytes), and `timestamp` (unix seconds) is within [`TOLERANCE_SECS`] of `now_secs`. The error says
/// which part failed.
pub fn check_standard<'a>(
    secrets: impl IntoIterator<Item = &'a [u8]>,
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), String> {
    let (Some(id), Some(timestamp), Some(signature)) = (id, timestamp, signature) else {
        return Err("webhook-id, webhook-timestamp or webhook-signature missing".into());
    };
    let at: i64 = timestamp.trim().parse().map_err(|_| format!("webhook-timestamp `{timestamp}` is not a number"))?;
    if (now_secs - at).abs() > TOLERANCE_SECS {
        return Err(format!("webhook-timestamp {at} is more than {TOLERANCE_SECS} s from now ({now_secs})"));
    }
    let candidates: Vec<Vec<u8>> = signature
        .split_whitespace()
        .filter_map(|one| one.strip_prefix(crate::webhooks::standard::VERSION)?.strip_prefix(','))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect();
    for secret in secrets {
        for candidate in &candidates {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(at.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            if mac.verify_slice(candidate).is_ok() {
                return Ok(());
            }
        }
    }
    Err("webhook-signature does not verify with the webhook's secret".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::standard;

    #[test]
    fn the_standard_signature_checks_secret_id_timestamp_and_body() {
        let key = b"a secret of the webhook".as_slice();
        let header = standard::signature_header([key], "evt", 1000, b"{}");
        let check = |secret: &[u8], id, ts: &str, sig: &str, body: &[u8], now| {
            check_standard([secret], Some(id), Some(ts), Some(sig), body, now)
        };
        assert_eq!(check(key, "evt", "1000", &header, b"{}", 1000), Ok(()));
        assert!(check(b"another", "evt", "1000", &header, b"{}", 1000).is_err(), "another secret");
        assert!(check(key, "other", "1000", &header, b"{}", 1000).is_err(), "another id");
        assert!(check(key, "evt", "1000", &header, b"{ }", 1000).is_err(), "another body");
        assert!(check(key, "evt", "1001", &header, b"{}", 1000).is_err(), "another timestamp");
        let old = check(key, "evt", "1000", &header, b"{}", 1000 + TOLERANCE_SECS + 1).unwrap_err();
        assert!(old.contains("from now"), "{old}");
        let two = format!("v1,AAAA {header}");
        assert_eq!(check(key, "evt", "1000", &two, b"{}", 1000), Ok(()), "any one of several");
        assert!(check_standard([key], None, Some("1000"), Some(&header), b"{}", 1000).is_err());
    }

    #[test]
    fn the_list_is_bounded_newest_first_and_filtered_by_meeting() {
        let deliveries = Deliveries::default();
        let received = |meeting: &str| Received {
            seq: 0,
            received_at: String::new(),
            webhook_id: None,
            event: None,
            meeting_id: Some(meeting.into()),
            session_id: None,
            reason: None,
            message: None,
            ended_by: None,
            participant: None,
            rtk_signature: Check::Missing,
            standard_signature: Check::Missing,
            verified: false,
            problem: None,
        };
        for i in 0..KEPT + 5 {
            deliveries.push(received(if i % 2 == 0 { "a" } else { "b" }));
        }
        let all = deliveries.list(None);
        assert_eq!(all.len(), KEPT);
        assert_eq!((all[0].seq, all[KEPT - 1].seq), ((KEPT + 5) as u64, 6));
        assert!(deliveries.list(Some("a")).iter().all(|r| r.meeting_id.as_deref() == Some("a")));
    }
}
