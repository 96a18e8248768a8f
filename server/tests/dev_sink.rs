//! `--dev`'s webhook sink (`POST /dev/webhook-sink`, `GET /dev/webhook-deliveries`): the server's own deliveries
//! arrive there verified (both signatures), and anything that fails a check is listed as not verified, with which
//! check failed, and refused with 401: never dropped silently, never shown as verified.

mod common;

use common::{TestServer, GUARD};
use endsession_server::dev::{DEV_ACCOUNT, DEV_SECRET, SINK_PATH};
use endsession_server::webhooks::{standard, Signer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

async fn dev_server() -> (TestServer, PathBuf) {
    let mut data = PathBuf::new();
    let server = TestServer::start_with(|config| {
        config.dev = true;
        data = config.data.clone();
    })
    .await;
    (server, data)
}

/// `GET /dev/webhook-deliveries?meeting=…` → its `deliveries`, newest first.
async fn deliveries(server: &TestServer, meeting_id: &str) -> Vec<Value> {
    let url = format!("{}/dev/webhook-deliveries?meeting={meeting_id}", server.base);
    let (status, body) = server.call(Method::GET, &url, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sink"], true, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

/// Waits (within a deadline) for a delivery of `event` for the meeting.
async fn delivered(server: &TestServer, meeting_id: &str, event: &str) -> Value {
    let deadline = tokio::time::Instant::now() + GUARD * 2;
    loop {
        if let Some(found) = deliveries(server, meeting_id).await.into_iter().find(|d| d["event"] == event) {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {event} delivery for {meeting_id} in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_servers_own_deliveries_are_listed_verified_with_session_reason_and_message() {
    let (server, _) = dev_server().await;
    let seed = server.server.dev().unwrap();
    let (app, meeting_id) = (seed.app_id.clone(), seed.meeting_id.clone());
    let kit = |path: &str| server.kit_of(DEV_ACCOUNT, &format!("/{app}/meetings/{meeting_id}{path}"));
    let body = json!({ "name": "Ann", "preset_name": "group_call_host", "custom_participant_id": "ann" });
    let (status, added) = server.call(Method::POST, &kit("/participants"), Some(DEV_SECRET), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let (_ann, session) = server.join(added["data"]["token"].as_str().unwrap()).await;

    let end = json!({ "message": "Thanks, all" });
    let (status, ended) =
        server.call(Method::POST, &kit("/active-session/kick-all"), Some(DEV_SECRET), Some(end)).await;
    assert_eq!(status, StatusCode::OK, "{ended}");

    let started = delivered(&server, &meeting_id, "meeting.started").await;
    assert_eq!((&started["verified"], &started["sessionId"]), (&json!(true), &json!(session)), "{started}");
    let ended = delivered(&server, &meeting_id, "meeting.ended").await;
    assert_eq!(ended["verified"], true, "{ended}");
    assert_eq!((&ended["rtkSignature"], &ended["standardSignature"]), (&json!("valid"), &json!("valid")));
    assert_eq!(ended["sessionId"], session);
    assert_eq!(ended["reason"], "HOST_ENDED_MEETING");
    assert_eq!(ended["message"], "Thanks, all");
    assert_eq!(ended["endedBy"], json!({ "api": true }));
    assert!(ended["problem"].is_null(), "{ended}");
}

#[tokio::test]
async fn a_delivery_that_fails_a_check_is_listed_not_verified_with_the_reason_and_refused() {
    let (server, data) = dev_server().await;
    let seed = server.server.dev().unwrap();
    let webhook_id = seed.sink.as_ref().unwrap().webhook_id.clone();
    let hook = server.server.store().db().await.unwrap().webhook(&seed.app_id, &webhook_id).await.unwrap().unwrap();
    let secret = hook.secret.as_bytes().to_vec();
    // The server's own signing key, read from its data directory: a sender that signs as the server does.
    let signer = Signer::load_or_create(&data).unwrap();
    let meeting = "forged-meeting";
    let body = json!({ "event": "meeting.ended", "meeting": { "id": meeting, "sessionId": "s-1" },
                       "reason": "HOST_ENDED_MEETING", "endedBy": null, "message": null })
    .to_string();
    let now = endsession_server::clock::unix_ms() / 1000;

    struct Attempt {
        what: &'static str,
        rtk: Option<String>,
        id: &'static str,
        timestamp: i64,
        standard: Option<String>,
        /// The expected `rtkSignature` and `standardSignature`.
        checks: (&'static str, &'static str),
    }
    let good_rtk = || Some(signer.sign(body.as_bytes()));
    let good_standard = |id: &str, at: i64| Some(standard::sign(&secret, id, at, body.as_bytes()));
    let attempts = [
        Attempt {
            what: "rtk-signature of another body",
            rtk: Some(signer.sign(b"{}")),
            id: "evt-1",
            timestamp: now,
            standard: good_standard("evt-1", now),
            checks: ("invalid", "valid"),
        },
        Attempt {
            what: "rtk-signature not base64",
            rtk: Some("not a signature!".into()),
            id: "evt-2",
            timestamp: now,
            standard: good_standard("evt-2", now),
            checks: ("invalid", "valid"),
        },
        Attempt {
            what: "webhook-signature with another secret",
            rtk: good_rtk(),
            id: "evt-3",
            timestamp: now,
            standard: Some(standard::sign(b"some other secret", "evt-3", now, body.as_bytes())),
            checks: ("valid", "invalid"),
        },
        Attempt {
            what: "webhook-signature for another webhook-id",
            rtk: good_rtk(),
            id: "evt-4",
            timestamp: now,
            standard: good_standard("evt-other", now),
            checks: ("valid", "invalid"),
        },
        Attempt {
            what: "a replay: a valid webhook-signature, an hour old",
            rtk: good_rtk(),
            id: "evt-5",
            timestamp: now - 3600,
            standard: good_standard("evt-5", now - 3600),
            checks: ("valid", "invalid"),
        },
        Attempt {
            what: "no signatures at all",
            rtk: None,
            id: "evt-6",
            timestamp: now,
            standard: None,
            checks: ("missing", "missing"),
        },
    ];
    let post = |attempt: &Attempt| {
        let mut request = server
            .http
            .post(format!("{}{SINK_PATH}", server.base))
            .header("content-type", "application/json")
            .header("webhook-id", attempt.id)
            .header("webhook-timestamp", attempt.timestamp.to_string())
            .body(body.clone());
        if let Some(rtk) = &attempt.rtk {
            request = request.header("rtk-signature", rtk);
        }
        if let Some(standard) = &attempt.standard {
            request = request.header("webhook-signature", standard);
        }
        request.send()
    };
    for attempt in &attempts {
        let answer = tokio::time::timeout(GUARD, post(attempt)).await.unwrap().unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{}", attempt.what);
        let listed = deliveries(&server, meeting).await;
        let newest = &listed[0];
        assert_eq!(newest["webhookId"], attempt.id, "{}: listed, newest first", attempt.what);
        assert_eq!(newest["verified"], false, "{}: {newest}", attempt.what);
        assert_eq!(
            (newest["rtkSignature"].as_str().unwrap(), newest["standardSignature"].as_str().unwrap()),
            attempt.checks,
            "{}",
            attempt.what
        );
        assert!(newest["problem"].as_str().is_some_and(|p| !p.is_empty()), "{}: says why", attempt.what);
        assert_eq!((&newest["event"], &newest["sessionId"]), (&json!("meeting.ended"), &json!("s-1")));
    }

    // The same body, signed as the server signs it, verifies: the checks above failed for their one fault.
    let genuine = Attempt {
        what: "both signatures valid",
        rtk: good_rtk(),
        id: "evt-7",
        timestamp: now,
        standard: good_standard("evt-7", now),
        checks: ("valid", "valid"),
    };
    let answer = tokio::time::timeout(GUARD, post(&genuine)).await.unwrap().unwrap();
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    let listed = deliveries(&server, meeting).await;
    assert_eq!((&listed[0]["webhookId"], &listed[0]["verified"]), (&json!("evt-7"), &json!(true)));
    assert_eq!(listed.len(), attempts.len() + 1, "every delivery listed, none dropped");
}

#[tokio::test]
async fn the_sink_keeps_its_webhook_and_secret_across_a_restart_and_follows_the_new_port() {
    let (server, _) = dev_server().await;
    let seed = server.server.dev().unwrap();
    let (app, webhook_id) = (seed.app_id.clone(), seed.sink.as_ref().unwrap().webhook_id.clone());
    let before = server.server.store().db().await.unwrap().webhook(&app, &webhook_id).await.unwrap().unwrap();
    assert_eq!(before.url, format!("{}{SINK_PATH}", server.base));

    let server = server.restart().await;
    let seed = server.server.dev().unwrap();
    assert_eq!(seed.sink.as_ref().unwrap().webhook_id, webhook_id, "the same webhook");
    let after = server.server.store().db().await.unwrap().webhook(&app, &webhook_id).await.unwrap().unwrap();
    assert_eq!(after.secret, before.secret, "the secret shown once at creation still holds");
    assert_eq!(after.url, format!("{}{SINK_PATH}", server.base), "pointed at the new port");
    assert_eq!(server.server.store().db().await.unwrap().webhooks(&app).await.unwrap().len(), 1);
}

#[tokio::test]
async fn without_dev_there_is_no_sink() {
    let server = TestServer::start().await;
    for path in [SINK_PATH, "/dev/webhook-deliveries"] {
        let method = if path == SINK_PATH { Method::POST } else { Method::GET };
        let (status, _) = server.call(method, &format!("{}{path}", server.base), None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}
