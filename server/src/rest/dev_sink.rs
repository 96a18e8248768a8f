//! `--dev`'s webhook sink: the demo app's own webhook receiver, on this server's address (registered by
//! [`crate::dev`]). It checks every delivery as an app's receiver would, and keeps the last [`KEPT`] for the demo
//! page's backend pane:
//!
//! - `rtk-signature` (RealtimeKit's): RSA-SHA256 PKCS#1 v1.5 over the raw body, against the keys published at
//!   `/.well-known/webhooks.json` (read from the same signer that serves that document, so a key rotation's new key
//!   verifies as soon as it is listed);
//! - `webhook-signature` (Standard Webhooks 1.0.0): HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` with
//!   the webhook's secret (the current one, and the previous one while a rotation keeps it), any of the
//!   space-separated `v1,` signatures matching, and `webhook-timestamp` within [`TOLERANCE_SECS`] of now.
//!
//! Verification uses the `rsa` and `hmac` crates (`verify_slice` compares in constant time). A delivery that fails
//! either check is listed with `verified: false` and the reason, and answered 401 (as a receiver refuses a forgery);
//! it is never dropped silently.
//!
//! `GET /dev/webhook-deliveries[?meeting=ID]` → `{deliveries: [delivery]}`, newest first (see [`Received`]).

use crate::clock;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Deliveries kept in memory; older ones are forgotten.
pub const KEPT: usize = 100;
/// How far `webhook-timestamp` may be from now, in seconds: the reference libraries' default (replay protection).
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// A `message` longer than this is cut in the list (the API allows 500 characters).
const MESSAGE_CHARS: usize = 500;

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
    fn push(&self, mut received: Received) {
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

/// `POST /dev/webhook-sink`: verifies and lists the delivery; 204 when both signatures verify, else 401 (listed
/// too). 404 without the sink.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(seed) = state.dev.as_deref() else { return StatusCode::NOT_FOUND.into_response() };
    let Some(sink) = &seed.sink else { return StatusCode::NOT_FOUND.into_response() };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);

    let mut problems = Vec::new();
    let (public_keys, _) = state.webhook_signer.public_keys();
    let rtk = check_rtk(&public_keys, header("rtk-signature").as_deref(), &body);
    if rtk != Check::Valid {
        problems.push(format!("rtk-signature {}", word(rtk)));
    }
    let (app_id, webhook_id) = (seed.app_id.clone(), sink.webhook_id.clone());
    let secrets = match state.store.run(move |db| db.webhook(&app_id, &webhook_id)).await {
        Ok(Some(hook)) => {
            let now_ms = clock::unix_ms();
            let previous = hook.previous_secret.into_iter().filter(|(_, until)| now_ms < *until);
            std::iter::once(hook.secret).chain(previous.map(|(secret, _)| secret)).collect()
        }
        Ok(None) => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "dev sink: could not read its webhook's secret");
            Vec::new()
        }
    };
    let standard = check_standard(
        secrets.iter().map(|s| s.as_bytes()),
        header("webhook-id").as_deref(),
        header("webhook-timestamp").as_deref(),
        header("webhook-signature").as_deref(),
        &body,
        clock::unix_ms() / 1000,
    );
    if let Err(why) = &standard {
        problems.push(why.clone());
    }
    let standard = match standard {
        Ok(()) => Check::Valid,
        Err(_) if header("webhook-signature").is_none() => Check::Missing,
        Err(_) => Check::Invalid,
    };

    let json: Option<Value> = serde_json::from_slice(&body).ok();
    if json.is_none() {
        problems.push("the body is not JSON".into());
    }
    let text = |pointer: &str| {
        json.as_ref()
            .and_then(|j| j.pointer(pointer))
            .and_then(Value::as_str)
            .map(|s| s.chars().take(MESSAGE_CHARS).collect())
    };
    let verified = rtk == Check::Valid && standard == Check::Valid;
    sink.deliveries.push(Received {
        seq: 0,
        received_at: clock::now(),
        webhook_id: header("webhook-id"),
        event: text("/event"),
        meeting_id: text("/meeting/id"),
        session_id: text("/meeting/sessionId"),
        reason: text("/reason"),
        message: text("/message"),
        ended_by: json.as_ref().and_then(|j| j.get("endedBy")).filter(|v| !v.is_null()).cloned(),
        participant: text("/participant/userDisplayName"),
        rtk_signature: rtk,
        standard_signature: standard,
        verified,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    });
    if verified {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "signature not verified").into_response()
    }
}

fn word(check: Check) -> &'static str {
    match check {
        Check::Valid => "valid",
        Check::Invalid => "does not verify",
        Check::Missing => "missing",
    }
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

/// The query of `GET /dev/webhook-deliveries`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Only this meeting's deliveries.
    pub meeting: Option<String>,
}

/// `GET /dev/webhook-deliveries[?meeting=ID]` → `{deliveries: [delivery], sink: bool}`: what the sink received,
/// newest first (at most [`KEPT`]); `sink` false (and no deliveries) when the sink is off.
pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Response {
    let Some(seed) = state.dev.as_deref() else { return StatusCode::NOT_FOUND.into_response() };
    let deliveries = seed.sink.as_ref().map(|sink| sink.deliveries.list(query.meeting.as_deref())).unwrap_or_default();
    Json(serde_json::json!({ "deliveries": deliveries, "sink": seed.sink.is_some() })).into_response()
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
