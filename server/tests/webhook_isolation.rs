//! One hanging webhook receiver delays only its own deliveries: with 300 events pending for a receiver that
//! accepts and never answers, another account's `meeting.started` reaches its healthy receiver at once, and the
//! hanging one holds only its own few places.

mod common;
mod webhook_support;

use common::{TestServer, OTHER_ACCOUNT, OTHER_ADMIN};
use endsession_protocol::{ClientFrame, LeaveState, ServerFrame};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use webhook_support::{eventually, subscribe, summary, Answer, Receiver, ALL_EVENTS, PATIENCE};

/// How long the healthy receiver may wait for its event: a behaviour bound with a wide margin (the delivery is
/// immediate; on the base commit it waited for the hanging receiver's attempts to time out, a minute here).
const BOUND: Duration = Duration::from_secs(3);
/// Sessions ended with events for the hanging receiver: four events each, 300 in all (the input).
const SESSIONS: usize = 75;
/// `--webhook-endpoint-concurrency`'s default.
const PLACES: usize = 4;

async fn other_account(server: &TestServer, method: Method, path: &str, body: Value) -> Value {
    let (status, answer) =
        server.call(method, &server.kit_of(OTHER_ACCOUNT, path), Some(OTHER_ADMIN), Some(body)).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer["data"].clone()
}

#[tokio::test]
async fn a_hanging_receiver_with_many_pending_events_does_not_delay_another_account() {
    // Attempts to the hanging receiver do not time out while the test runs: its places stay taken.
    let server = TestServer::start_with(|config| config.webhooks.timeout = Duration::from_secs(120)).await;
    let hanging = Receiver::start(&server, |_, _| Answer::Hang).await;
    let meeting = server.meeting().await;
    subscribe(&server, &meeting, &hanging.url, &ALL_EVENTS).await;
    for round in 0..SESSIONS {
        let (_, token) = server.host(&meeting).await;
        let (mut ws, _) = server.join(&token).await;
        ws.send(&ClientFrame::kick_all(1)).await;
        let frames = ws.until_closed().await;
        assert!(
            frames.iter().any(|f| matches!(f, ServerFrame::RoomLeft { state: LeaveState::Ended, .. })),
            "round {round}: {frames:?}"
        );
    }
    eventually(PATIENCE, "every event in the outbox", || async {
        let events = server.server.store().db().await.unwrap().webhook_events(&meeting.app_id).await.unwrap();
        (events.len() == SESSIONS * 4).then_some(())
    })
    .await;
    hanging.wait_until(PATIENCE, "the hanging receiver's places taken", |got| got.len() >= PLACES).await;

    // Another account, a healthy receiver.
    let app = other_account(&server, Method::POST, "/apps", json!({ "name": "other" })).await;
    let app_id = app["app"]["id"].as_str().unwrap().to_owned();
    let other = other_account(&server, Method::POST, &format!("/{app_id}/meetings"), json!({ "title": "T" })).await;
    let other_id = other["id"].as_str().unwrap();
    let healthy = Receiver::start(&server, |_, _| Answer::Status(200)).await;
    let hook = json!({ "name": "healthy", "url": healthy.url, "events": ["meeting.started"] });
    other_account(&server, Method::POST, &format!("/{app_id}/webhooks"), hook).await;
    let person = json!({ "custom_participant_id": "host", "preset_name": "group_call_host", "name": "Host" });
    let participant =
        other_account(&server, Method::POST, &format!("/{app_id}/meetings/{other_id}/participants"), person).await;
    let (_ws, session_id) = server.join(participant["token"].as_str().unwrap()).await;
    let started = Instant::now();

    let got = healthy.wait_until(BOUND, "meeting.started at the healthy receiver", |got| !got.is_empty()).await;
    assert!(got[0].verified && got[0].accepted());
    assert_eq!((got[0].event(), got[0].session_id()), ("meeting.started".into(), session_id));
    assert!(got[0].at.duration_since(started) < BOUND);

    // The hanging receiver holds its own places only: one unanswered request per place, each the first event of a
    // session (the rest of each session waits behind it), the others pending in the outbox.
    let held = hanging.got();
    assert_eq!(held.len(), PLACES, "{:#?}", summary(&held));
    assert!(held.iter().all(|d| d.event() == "meeting.started" && d.verified), "{:#?}", summary(&held));
}
