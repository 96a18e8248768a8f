//! `session_keep_alive_time_in_secs` (RealtimeKit's meaning): the session stays live that long after its last
//! participant leaves; a rejoin meanwhile is the same session, and `meeting.ended` comes only when the time runs
//! out, dated when the last participant left.

mod common;
mod receiver;

use common::{Meeting, TestServer, GUARD};
use endsession_protocol::{ClientFrame, LeaveState, ServerFrame};
use receiver::Receiver;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

async fn meeting_with_keep_alive(server: &TestServer, secs: f64) -> Meeting {
    let app = server.admin(Method::POST, "/apps", Some(json!({ "name": "keep-alive" }))).await;
    let app_id = app["app"]["id"].as_str().unwrap().to_owned();
    let body = json!({ "title": "K", "session_keep_alive_time_in_secs": secs });
    let meeting = server.admin(Method::POST, &format!("/{app_id}/meetings"), Some(body)).await;
    assert_eq!(meeting["session_keep_alive_time_in_secs"], json!(secs));
    Meeting { app_id, id: meeting["id"].as_str().unwrap().to_owned() }
}

async fn leave(ws: &mut common::Ws) {
    ws.send(&ClientFrame::Leave).await;
    assert!(matches!(ws.until_closed().await.as_slice(), [ServerFrame::RoomLeft { state: LeaveState::Left, .. }]));
}

async fn active(server: &TestServer, meeting: &Meeting) -> Value {
    server.admin(Method::GET, &TestServer::meeting_path(meeting, "/active-session"), None).await
}

#[tokio::test]
async fn a_rejoin_within_the_keep_alive_is_the_same_session_and_the_end_waits_for_it() {
    let server = TestServer::start().await;
    let (receiver, url) = Receiver::start().await;
    receiver.trust(&server.base).await;
    let meeting = meeting_with_keep_alive(&server, 2.0).await;
    let hook = json!({ "name": "h", "url": url, "events": ["meeting.started", "meeting.ended"] });
    server.admin(Method::POST, &format!("/{}/webhooks", meeting.app_id), Some(hook)).await;
    let (_, token) = server.guest(&meeting).await;

    let (mut ws, session) = server.join(&token).await;
    leave(&mut ws).await;
    let live = active(&server, &meeting).await;
    assert_eq!(
        (&live["id"], &live["status"], &live["live_participants"]),
        (&json!(session), &json!("LIVE"), &json!(0))
    );
    let (mut ws, again) = server.join(&token).await;
    assert_eq!(again, session, "the rejoin is in the same session");
    leave(&mut ws).await;

    // Runs out about 2 s after the last leave.
    let events = receiver
        .wait(GUARD * 2, "meeting.ended after the keep-alive", |e| e.iter().any(|e| e.name() == "meeting.ended"))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = if receiver.events().len() > events.len() { receiver.events() } else { events };
    let names: Vec<_> = events.iter().map(|e| e.name()).collect();
    assert_eq!(names, ["meeting.started", "meeting.ended"], "one start, one end: {events:?}");
    assert_eq!(events[1].body["reason"], "ALL_PARTICIPANTS_LEFT");
    assert_eq!(events[1].session_id(), session);

    // It ended when the last participant left, not when the keep-alive ran out.
    let ended = active(&server, &meeting).await;
    assert_eq!((&ended["id"], &ended["status"]), (&json!(session), &json!("ENDED")));
    let stays = server.admin(Method::GET, &format!("/{}/sessions/{session}/participants", meeting.app_id), None).await;
    let last_left = stays["participants"].as_array().unwrap().iter().filter_map(|s| s["left_at"].as_str()).max();
    assert_eq!(ended["ended_at"].as_str(), last_left, "{ended} {stays}");

    // After it, a join starts a new session.
    let (_ws, third) = server.join(&token).await;
    assert_ne!(third, session);
}

#[tokio::test]
async fn the_api_can_end_a_session_kept_alive_and_bad_keep_alives_are_refused() {
    let server = TestServer::start().await;
    let meeting = meeting_with_keep_alive(&server, 600.0).await;
    let (_, token) = server.guest(&meeting).await;
    let (mut ws, session) = server.join(&token).await;
    leave(&mut ws).await;
    assert_eq!(active(&server, &meeting).await["status"], "LIVE");
    assert_eq!(server.rest_kick_all(&meeting).await["kicked_participants_count"], 0);
    let ended = active(&server, &meeting).await;
    assert_eq!(
        (&ended["id"], &ended["status"], &ended["reason"]),
        (&json!(session), &json!("ENDED"), &json!("HOST_ENDED_MEETING"))
    );

    for bad in [json!(-1), json!(1e9), json!("long")] {
        let body = json!({ "title": "x", "session_keep_alive_time_in_secs": bad });
        let (status, answer) = server.api(Method::POST, &format!("/{}/meetings", meeting.app_id), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
        assert!(answer.to_string().contains("session_keep_alive_time_in_secs"), "{answer}");
    }
}

#[tokio::test]
async fn a_restart_during_the_keep_alive_keeps_the_session_for_a_rejoin_and_the_rest_of_its_time() {
    let server = TestServer::start().await;
    let meeting = meeting_with_keep_alive(&server, 3.0).await;
    let (_, token) = server.guest(&meeting).await;
    let (mut ws, session) = server.join(&token).await;
    leave(&mut ws).await;
    let left_at = std::time::Instant::now();

    // The server restarts within the keep-alive: the session is still live, and a rejoin is in it.
    let server = server.restart().await;
    let live = active(&server, &meeting).await;
    assert_eq!((&live["id"], &live["status"]), (&json!(session), &json!("LIVE")), "{live}");
    let (mut ws, again) = server.join(&token).await;
    assert_eq!(again, session, "a rejoin within the keep-alive, across a restart, is in the same session");
    leave(&mut ws).await;

    // And the keep-alive runs out as it would have: once, dated at the last departure.
    let server = server.restart().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let ended = loop {
        let live = active(&server, &meeting).await;
        if live["status"] == "ENDED" {
            break live;
        }
        assert!(tokio::time::Instant::now() < deadline, "the restored keep-alive never ran out: {live}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(left_at.elapsed() >= Duration::from_secs(3), "ended before the keep-alive ran out: {ended}");
    assert_eq!((&ended["id"], &ended["reason"]), (&json!(session), &json!("ALL_PARTICIPANTS_LEFT")), "{ended}");
}
