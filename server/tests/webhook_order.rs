//! Webhooks of one session arrive in the order they happened, at a real receiver that verifies every signature: a
//! later event waits for the earlier ones of its session, retries included; an event given up after its last attempt
//! lets the rest of its session go on; other sessions never wait.

mod common;
mod webhook_support;

use common::TestServer;
use endsession_protocol::ClientFrame;
use std::time::Duration;
use webhook_support::{subscribe, summary, Answer, Delivery, Receiver, ALL_EVENTS, PATIENCE};

/// The app's event ids in the order the store recorded them: the order they happened.
async fn events_in_order(server: &TestServer, app_id: &str) -> Vec<(String, String)> {
    let events = server.server.store().db().await.unwrap().webhook_events(app_id).await.unwrap();
    events.into_iter().map(|(id, event, _)| (id, event)).collect()
}

fn first_attempt(delivery: &Delivery, before: &[Delivery]) -> bool {
    !before.iter().any(|d| d.uuid == delivery.uuid)
}

/// Every request for an event came after every earlier event (in `order`) was accepted.
fn assert_nothing_overtook(got: &[Delivery], order: &[String]) {
    let position = |uuid: &str| order.iter().position(|id| id == uuid).expect("an event of the app");
    for (i, delivery) in got.iter().enumerate() {
        let accepted_before: Vec<&str> = got[..i].iter().filter(|d| d.accepted()).map(|d| d.uuid.as_str()).collect();
        for earlier in &order[..position(&delivery.uuid)] {
            assert!(
                accepted_before.contains(&earlier.as_str()),
                "request {i} ({}) went before an earlier event was delivered: {:#?}",
                delivery.event(),
                summary(got)
            );
        }
    }
}

#[tokio::test]
async fn a_session_s_events_arrive_in_the_order_they_happened_when_first_attempts_fail() {
    let server = TestServer::start_with(|config| {
        config.webhooks.retry_base = Duration::from_millis(20);
        config.webhooks.max_attempts = 20;
    })
    .await;
    // The first attempt of every participantLeft fails, and that of every other participantJoined.
    let receiver = Receiver::start(&server, |delivery, before| {
        let joins_before = before.iter().filter(|d| d.event() == "meeting.participantJoined").count();
        let fail = match delivery.event().as_str() {
            "meeting.participantLeft" => first_attempt(delivery, before),
            "meeting.participantJoined" => first_attempt(delivery, before) && joins_before % 2 == 1,
            _ => false,
        };
        Answer::Status(if fail { 500 } else { 200 })
    })
    .await;
    let meeting = server.meeting().await;
    subscribe(&server, &meeting, &receiver.url, &ALL_EVENTS).await;

    let (_, host) = server.host(&meeting).await;
    let (_host_ws, session_id) = server.join(&host).await;
    let mut guests = Vec::new();
    for _ in 0..5 {
        let (_, token) = server.guest(&meeting).await;
        guests.push(server.join(&token).await.0);
    }
    // One guest leaves by itself; then the API ends the session for the other five.
    let mut leaving = guests.remove(0);
    leaving.send(&ClientFrame::Leave).await;
    leaving.until_closed().await;
    server.rest_kick_all(&meeting).await;

    // started, 6 joined, 1 + 5 left, ended.
    let order: Vec<String> = common_wait_for_events(&server, &meeting.app_id, 14).await;
    let got = receiver
        .wait_until(PATIENCE, "every event accepted", |got| {
            order.iter().all(|id| got.iter().any(|d| d.accepted() && &d.uuid == id))
        })
        .await;
    assert!(got.iter().all(|d| d.verified), "every delivery's signature verifies");
    assert!(got.iter().all(|d| d.session_id() == session_id));
    assert!(got.iter().filter(|d| !d.accepted()).count() >= 8, "retries were needed: {:#?}", summary(&got));
    let accepted: Vec<&str> = got.iter().filter(|d| d.accepted()).map(|d| d.uuid.as_str()).collect();
    assert_eq!(accepted, order, "accepted in the order they happened: {:#?}", summary(&got));
    assert_nothing_overtook(&got, &order);
    assert_eq!(got.last().map(Delivery::event).as_deref(), Some("meeting.ended"), "meeting.ended comes last");
}

/// Waits until the app has `n` events recorded; returns their ids in order.
async fn common_wait_for_events(server: &TestServer, app_id: &str, n: usize) -> Vec<String> {
    webhook_support::eventually(PATIENCE, "the events recorded", || async {
        let events = events_in_order(server, app_id).await;
        (events.len() >= n).then(|| events.into_iter().map(|(id, _)| id).collect())
    })
    .await
}

#[tokio::test]
async fn an_event_given_up_lets_its_session_go_on_and_other_sessions_never_wait_for_it() {
    let server = TestServer::start_with(|config| {
        config.webhooks.retry_base = Duration::from_secs(1);
        config.webhooks.max_attempts = 3; // attempts at 0 s, 1 s and 3 s, then it is given up
    })
    .await;
    // The very first event this receiver sees (session A's meeting.started) fails every attempt.
    let receiver = Receiver::start(&server, |delivery, before| {
        let doomed = before.first().map_or(&delivery.uuid, |first| &first.uuid);
        Answer::Status(if &delivery.uuid == doomed { 500 } else { 200 })
    })
    .await;
    let a = server.meeting().await;
    let b = server.meeting_in(&a.app_id).await;
    subscribe(&server, &a, &receiver.url, &ALL_EVENTS).await;

    let (_, host_a) = server.host(&a).await;
    let (_ws_a, session_a) = server.join(&host_a).await;
    let doomed = receiver.wait_until(PATIENCE, "A's meeting.started", |got| !got.is_empty()).await[0].uuid.clone();
    let (_, guest_a) = server.guest(&a).await;
    let _guest_ws = server.join(&guest_a).await;
    let (_, host_b) = server.host(&b).await;
    let (_ws_b, session_b) = server.join(&host_b).await;
    server.rest_kick_all(&b).await;
    server.rest_kick_all(&a).await;

    // A: started, 2 joined, 2 left, ended; B: started, joined, left, ended. All but A's started get through.
    let order = common_wait_for_events(&server, &a.app_id, 10).await;
    let got = receiver
        .wait_until(PATIENCE, "all but the doomed event accepted", |got| {
            order.iter().filter(|id| **id != doomed).all(|id| got.iter().any(|d| d.accepted() && &d.uuid == id))
        })
        .await;
    assert!(got.iter().all(|d| d.verified));
    let attempts: Vec<&Delivery> = got.iter().filter(|d| d.uuid == doomed).collect();
    assert_eq!(attempts.len(), 3, "attempted up to --webhook-max-attempts: {:#?}", summary(&got));
    let given_up_at = attempts[2].at;
    let states = server.server.store().db().await.unwrap().webhook_deliveries(&doomed).await.unwrap();
    assert!(states[0].abandoned && !states[0].delivered, "recorded as given up: {states:?}");

    let of = |session: &str| -> Vec<&Delivery> { got.iter().filter(|d| d.session_id() == session).collect() };
    let b_events: Vec<String> = of(&session_b).iter().map(|d| d.event()).collect();
    assert_eq!(b_events, ["meeting.started", "meeting.participantJoined", "meeting.participantLeft", "meeting.ended"]);
    assert!(
        of(&session_b).iter().all(|d| d.at < given_up_at),
        "session B did not wait for session A's retries: {:#?}",
        summary(&got)
    );
    let a_rest: Vec<&Delivery> = of(&session_a).into_iter().filter(|d| d.uuid != doomed).collect();
    assert!(
        a_rest.iter().all(|d| d.at >= given_up_at),
        "the rest of session A waited until its first event was given up: {:#?}",
        summary(&got)
    );
    let a_order: Vec<&str> =
        order.iter().map(String::as_str).filter(|id| a_rest.iter().any(|d| d.uuid == *id)).collect();
    let a_accepted: Vec<&str> = a_rest.iter().filter(|d| d.accepted()).map(|d| d.uuid.as_str()).collect();
    assert_eq!(a_accepted, a_order, "then in order");
    assert_eq!(a_rest.len(), 5);
}
