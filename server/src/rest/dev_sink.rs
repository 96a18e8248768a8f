//! `--dev`'s webhook sink, its HTTP half: the demo app's own webhook receiver, on this server's address (registered
//! by [`crate::dev`]; the checks and the kept list are [`crate::dev::sink`]). It checks every delivery as an app's
//! receiver would, and keeps the last [`KEPT`](crate::dev::sink::KEPT) for the demo page's backend pane:
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
use crate::dev::sink::{check_rtk, check_standard, Check, Received, MESSAGE_CHARS};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    let found = match state.store.db().await {
        Ok(mut db) => db.webhook(&app_id, &webhook_id).await,
        Err(e) => Err(e),
    };
    let secrets = match found {
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

/// The query of `GET /dev/webhook-deliveries`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Only this meeting's deliveries.
    pub meeting: Option<String>,
}

/// `GET /dev/webhook-deliveries[?meeting=ID]` → `{deliveries: [delivery], sink: bool}`: what the sink received,
/// newest first (at most [`KEPT`](crate::dev::sink::KEPT)); `sink` false (and no deliveries) when the sink is off.
pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Response {
    let Some(seed) = state.dev.as_deref() else { return StatusCode::NOT_FOUND.into_response() };
    let deliveries = seed.sink.as_ref().map(|sink| sink.deliveries.list(query.meeting.as_deref())).unwrap_or_default();
    Json(DeliveriesBody { deliveries, sink: seed.sink.is_some() }).into_response()
}

/// The answer of `GET /dev/webhook-deliveries`.
#[derive(Serialize)]
struct DeliveriesBody {
    deliveries: Vec<Received>,
    /// False when the sink is off (`--webhook-targets public`).
    sink: bool,
}
