//! A restart within the reconnect window does not end sessions: participants resume them (`Joined { reconnected:
//! true }`) with no webhook; a session nobody comes back to ends `ALL_PARTICIPANTS_LEFT` with its true peak, at
//! the last moment anyone was present (downtime is not meeting time), and only those who never came back leave.

mod common;
mod receiver;

use common::{Meeting, Pair, TestServer, GUARD};
use endsession_protocol::ServerFrame;
use receiver::Receiver;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn subscribe_all(server: &TestServer, meeting: &Meeting, url: &str) {
    let events = ["meeting.started", "meeting.ended", "meeting.participantJoined", "meeting.participantLeft"];
    let body = json!({ "name": "all", "url": url, "events": events });
    server.admin(Method::POST, &format!("/{}/webhooks", meeting.app_id), Some(body)).await;
}

async fn session(server: &TestServer, meeting: &Meeting, id: &str) -> Value {
    server.admin(Method::GET, &format!("/{}/sessions/{id}", meeting.app_id), None).await
}

fn count(events: &[receiver::Event], name: &str, session: &str) -> usize {
    events.iter().filter(|e| e.name() == name && e.session_id() == session).count()
}

#[tokio::test]
async fn participants_resume_their_session_after_a_restart_with_no_webhook() {
    let server = TestServer::start_with_grace(Duration::from_secs(30)).await;
    let (receiver, url) = Receiver::start().await;
    receiver.trust(&server.base).await;
    let meeting = server.meeting().await;
    subscribe_all(&server, &meeting, &url).await;
    let Pair { session, host, host_id, host_token, guest, guest_id, guest_token } =
        server.host_and_guest_joined(&meeting).await;
    let before = receiver.wait(GUARD, "started and two joins", |e| e.len() >= 3).await;

    let server = server.restart().await;
    host.drop_abruptly();
    guest.drop_abruptly();
    let (mut host, answer) = server.join_with(&host_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, participants, .. } => {
            assert_eq!((session_id.as_str(), reconnected), (session.as_str(), true));
            assert_eq!(participants.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [guest_id.as_str()]);
        }
        other => panic!("expected the same session, got {other:?}"),
    }
    let (_guest, answer) = server.join_with(&guest_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::Joined { reconnected: true, .. }), "{answer:?}");
    let live = server.admin(Method::GET, &TestServer::meeting_path(&meeting, "/active-session"), None).await;
    assert_eq!(
        (&live["id"], &live["status"], &live["live_participants"]),
        (&json!(session), &json!("LIVE"), &json!(2))
    );

    // The host saw nobody leave or join; the session ends when the host ends it, with both counted.
    host.send(&endsession_protocol::ClientFrame::kick_all(1)).await;
    assert_eq!(
        host.recv().await,
        ServerFrame::KickAllResult { id: 1, session_id: session.clone(), kicked_count: 2, already_ended: false }
    );
    let events = receiver.wait(GUARD, "the end", |e| e.iter().any(|e| e.name() == "meeting.ended")).await;
    assert_eq!(count(&events, "meeting.started", &session), 1);
    assert_eq!(count(&events, "meeting.participantJoined", &session), 2, "no join again after the restart");
    assert_eq!(count(&events, "meeting.ended", &session), 1);
    let _ = (before, host_id);
    let ended = session_json(&server, &meeting, &session).await;
    assert_eq!((&ended["reason"], &ended["max_concurrent_participants"]), (&json!("HOST_ENDED_MEETING"), &json!(2)));
}

async fn session_json(server: &TestServer, meeting: &Meeting, id: &str) -> Value {
    session(server, meeting, id).await
}

#[tokio::test]
async fn a_session_nobody_returns_to_ends_with_its_peak_at_the_last_moment_anyone_was_there() {
    let server = TestServer::start_with_grace(Duration::from_millis(600)).await;
    let (receiver, url) = Receiver::start().await;
    receiver.trust(&server.base).await;
    let meeting = server.meeting().await;
    subscribe_all(&server, &meeting, &url).await;
    let (_, a_token) = server.guest(&meeting).await;
    let (_, b_token) = server.guest(&meeting).await;
    let (_, c_token) = server.guest(&meeting).await;
    let (a, session) = server.join(&a_token).await;
    let (b, _) = server.join(&b_token).await;
    let (mut c, _) = server.join(&c_token).await;
    // Three at once, then one leaves on purpose: the peak is 3, two are in at the restart.
    c.send(&endsession_protocol::ClientFrame::Leave).await;
    c.until_closed().await;
    receiver.wait(GUARD, "the leave", |e| e.iter().any(|e| e.name() == "meeting.participantLeft")).await;

    let server = server.restart().await;
    let stopped_at = endsession_server::clock::now();
    a.drop_abruptly();
    b.drop_abruptly();
    receiver.trust(&server.base).await;
    // Nobody comes back: after the grace it ends.
    let deadline = tokio::time::Instant::now() + GUARD * 2;
    let ended = loop {
        let row = session_json(&server, &meeting, &session).await;
        if row["status"] == "ENDED" {
            break row;
        }
        assert!(tokio::time::Instant::now() < deadline, "ended after the grace: {row}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (&ended["reason"], &ended["max_concurrent_participants"], &ended["live_participants"]),
        (&json!("ALL_PARTICIPANTS_LEFT"), &json!(3), &json!(0))
    );
    let ended_at = ended["ended_at"].as_str().unwrap();
    assert!(ended_at <= stopped_at.as_str(), "downtime is not meeting time: ended {ended_at}, stopped {stopped_at}");
    assert!(ended_at >= ended["started_at"].as_str().unwrap());

    let events = receiver
        // Room for one retry (2 s backoff) if a first attempt reached the receiver before it trusted the new server.
        .wait(GUARD * 3, "the end and the two who never came back", |e| {
            count(e, "meeting.ended", &session) == 1 && count(e, "meeting.participantLeft", &session) == 3
        })
        .await;
    assert_eq!(count(&events, "meeting.started", &session), 1);
    let end = events.iter().find(|e| e.name() == "meeting.ended").unwrap();
    assert_eq!(end.body["reason"], "ALL_PARTICIPANTS_LEFT");
    assert_eq!(end.body["meeting"]["endedAt"].as_str(), Some(ended_at));
    // A late resume learns that it ended, and why.
    let (_, answer) = server.join_with(&a_token, Some(&session)).await;
    assert!(
        matches!(
            answer,
            ServerFrame::RoomLeft {
                state: endsession_protocol::LeaveState::Ended,
                reason: Some(endsession_protocol::EndReason::AllParticipantsLeft),
                ..
            }
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_quiet_session_is_stamped_alive_so_its_end_after_a_crash_is_near_the_crash() {
    let server = TestServer::start_with_grace(Duration::from_secs(2)).await;
    let meeting = server.meeting().await;
    let (_, token) = server.guest(&meeting).await;
    let (ws, session) = server.join(&token).await;
    let joined_at = session_json(&server, &meeting, &session).await["started_at"].as_str().unwrap().to_owned();
    // Nothing happens in it for longer than the stamp interval; then the server goes away.
    tokio::time::sleep(endsession_server::hub::ALIVE_STAMP + Duration::from_secs(1)).await;
    let server = server.restart().await;
    let stopped_at = endsession_server::clock::now();
    ws.drop_abruptly();
    assert_eq!(session_json(&server, &meeting, &session).await["status"], "LIVE", "restored, not ended");

    let deadline = tokio::time::Instant::now() + GUARD;
    let ended = loop {
        let row = session_json(&server, &meeting, &session).await;
        if row["status"] == "ENDED" {
            break row;
        }
        assert!(tokio::time::Instant::now() < deadline, "ended after the grace: {row}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ended_at = ended["ended_at"].as_str().unwrap();
    assert!(ended_at <= stopped_at.as_str(), "not after the crash: {ended_at} vs {stopped_at}");
    let quiet = endsession_server::clock::minutes_between(&joined_at, Some(ended_at)) * 60.0;
    assert!(quiet >= 1.0, "stamped alive while someone was connected, not ended at its last event: {ended}");
}
