//! The circuit breaker: a webhook whose receiver keeps failing is paused (no attempts, none used up) and resumes
//! when a probe gets through; closed again, a failure or two is retried at once, as before.

mod common;
mod webhook_support;

use common::TestServer;
use std::time::Duration;
use webhook_support::{eventually, subscribe, summary, Answer, Receiver, PATIENCE};

const PAUSE: Duration = Duration::from_millis(1500);
/// What counts as "waited for the pause": a lower bound, so a slow machine cannot make it fail.
const PAUSED: Duration = Duration::from_millis(1200);

#[tokio::test]
async fn a_failing_endpoint_is_paused_then_resumes_when_it_answers() {
    let server = TestServer::start_with(|config| {
        config.webhooks.retry_base = Duration::from_millis(20);
        config.webhooks.max_attempts = 100;
        config.webhooks.breaker_failures = 3;
        config.webhooks.breaker_pause = PAUSE;
    })
    .await;
    let receiver = Receiver::start(&server, |_, _| Answer::Status(500)).await;
    let meeting = server.meeting().await;
    let hook = subscribe(&server, &meeting, &receiver.url, &["meeting.started"]).await;
    let (_, token) = server.host(&meeting).await;
    let (_ws, _) = server.join(&token).await;

    // Three failures in a row open the breaker; the receiver is healthy again from then on.
    receiver.wait_until(PATIENCE, "three failed attempts", |got| got.len() >= 3).await;
    receiver.script(|_, _| Answer::Status(200));
    let got = receiver.wait_until(PATIENCE, "the probe accepted", |got| got.iter().any(|d| d.accepted())).await;
    assert_eq!(got.len(), 4, "three failures, then nothing until the probe: {:#?}", summary(&got));
    assert!(got.iter().all(|d| d.verified && d.webhook_id == hook));
    assert!(got.iter().all(|d| d.uuid == got[0].uuid), "one event, retried");
    let gap = got[3].at.duration_since(got[2].at);
    assert!(gap >= PAUSED, "paused for its pause after the third failure, but the next attempt came after {gap:?}");
    assert!(got[1].at.duration_since(got[0].at) < PAUSED, "before that, retried after the retry wait");
    let event_id = got[0].uuid.clone();
    let state = eventually(PATIENCE, "the delivery recorded", || async {
        let states = server.server.store().db().await.unwrap().webhook_deliveries(&event_id).await.unwrap();
        states.into_iter().find(|s| s.delivered)
    })
    .await;
    assert_eq!(state.attempts, 4, "the pause used up no attempts: {state:?}");

    // Closed again: two failures (below the threshold) are retried without a pause.
    receiver.script(|_, before| Answer::Status(if before.len() < 6 { 500 } else { 200 }));
    let second = server.meeting_in(&meeting.app_id).await;
    let (_, token) = server.host(&second).await;
    let (_ws2, _) = server.join(&token).await;
    let got = receiver.wait_until(PATIENCE, "the second event accepted", |got| got.len() >= 7).await;
    let again = &got[4..];
    assert_eq!(again.iter().map(|d| d.accepted()).collect::<Vec<_>>(), [false, false, true], "{:#?}", summary(&got));
    let took = again[2].at.duration_since(again[0].at);
    assert!(took < PAUSED, "no pause once closed: the retries took {took:?}");
}
