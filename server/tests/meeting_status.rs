//! `status: INACTIVE` refuses new joins and ends nothing; the people already in the live session keep it (a
//! reconnect is not a new join); `ACTIVE` again lets a new session start.

mod common;

use common::{Meeting, TestServer};
use endsession_protocol::{EndReason, ErrorCode, LeaveState, ServerFrame};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn set_status(server: &TestServer, meeting: &Meeting, status: &str) {
    let path = TestServer::meeting_path(meeting, "");
    let data = server.admin(Method::PATCH, &path, Some(json!({ "status": status }))).await;
    assert_eq!(data["status"], status);
}

/// Joins and expects the INACTIVE refusal: `Error { 4030 }`, then the close.
async fn expect_refused(server: &TestServer, token: &str, resume: Option<&str>) {
    let (mut ws, answer) = server.join_with(token, resume).await;
    match answer {
        ServerFrame::Error { code: ErrorCode::MeetingInactive, message, id: None } => {
            assert!(message.contains("INACTIVE"), "{message}")
        }
        other => panic!("expected the INACTIVE refusal, got {other:?}"),
    }
    ws.expect_closed().await;
}

#[tokio::test]
async fn inactive_refuses_newcomers_while_the_live_session_goes_on() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (_, host_token) = server.host(&meeting).await;
    let (guest_id, guest_token) = server.guest(&meeting).await;
    let (_, late_token) = server.guest(&meeting).await;
    let (mut host, session) = server.join(&host_token).await;
    let (guest, _) = server.join(&guest_token).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { .. }));

    set_status(&server, &meeting, "INACTIVE").await;
    expect_refused(&server, &late_token, None).await;

    // The guest's network drops: coming back within the grace is not a new join, so it is let in.
    guest.drop_abruptly();
    let (mut guest, answer) = server.join_with(&guest_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, .. } => {
            assert_eq!((session_id, reconnected), (session.clone(), true))
        }
        other => panic!("a member resumes an INACTIVE meeting's live session, got {other:?}"),
    }

    // Once it has left, it is a newcomer like any other.
    guest.send(&endsession_protocol::ClientFrame::Leave).await;
    assert!(matches!(guest.recv().await, ServerFrame::RoomLeft { state: LeaveState::Left, .. }));
    assert_eq!(host.recv().await, ServerFrame::ParticipantLeft { participant_id: guest_id });
    expect_refused(&server, &guest_token, None).await;

    // The session is live all along, with the host in it; ending it still works and reaches the host only now.
    let (_, live) = server.active_session(&meeting).await;
    assert_eq!((&live["data"]["id"], &live["data"]["status"]), (&json!(session), &json!("LIVE")));
    assert_eq!(live["data"]["live_participants"], 1);
    assert_eq!(server.rest_kick_all(&meeting).await["kicked_participants_count"], 1);
    let frames = host.until_closed().await;
    assert!(
        matches!(
            frames.as_slice(),
            [ServerFrame::RoomLeft {
                state: LeaveState::Ended,
                session_id: ended,
                reason: Some(EndReason::HostEndedMeeting),
                kicked_count: Some(1),
                ..
            }] if *ended == session
        ),
        "{frames:?}"
    );
}

#[tokio::test]
async fn inactive_then_active_again_starts_a_new_session() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (_, token) = server.host(&meeting).await;
    let (_host, first) = server.join(&token).await;
    set_status(&server, &meeting, "INACTIVE").await;
    server.rest_kick_all(&meeting).await;

    // The host was in the session that ended: resuming it learns `ended`, a fresh join is refused.
    let (mut ws, answer) = server.join_with(&token, Some(&first)).await;
    assert!(matches!(answer, ServerFrame::RoomLeft { state: LeaveState::Ended, .. }), "{answer:?}");
    ws.expect_closed().await;
    expect_refused(&server, &token, None).await;
    let (status, body) = server.active_session(&meeting).await;
    assert_eq!((status, &body["data"]["status"]), (StatusCode::OK, &json!("ENDED")), "no session started: {body}");

    set_status(&server, &meeting, "ACTIVE").await;
    let (_again, second) = server.join(&token).await;
    assert_ne!(second, first);
    let (_, live) = server.active_session(&meeting).await;
    assert_eq!((&live["data"]["id"], &live["data"]["status"]), (&json!(second), &json!("LIVE")));
}
