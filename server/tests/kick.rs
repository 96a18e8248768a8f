//! Removing participants from the REST API: kick by id or custom id, and deleting a participant. The removed ones
//! are told `kicked`; the others stay; a session the removals empty ends.

mod common;

use common::TestServer;
use endsession_protocol::{ClientFrame, EndReason, ErrorCode, LeaveState, ServerFrame, PROTOCOL_VERSION};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn kicked(session_id: &str) -> ServerFrame {
    ServerFrame::RoomLeft {
        state: LeaveState::Kicked,
        session_id: session_id.into(),
        reason: None,
        kicked_count: None,
        message: None,
        ended_by: None,
        event_id: None,
    }
}

#[tokio::test]
async fn deleting_a_participant_kicks_its_socket_and_revokes_its_token() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (_, host_token) = server.host(&meeting).await;
    let (guest_id, guest_token) = server.guest(&meeting).await;
    let (mut host, session) = server.join(&host_token).await;
    let (mut guest, _) = server.join(&guest_token).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { .. }));

    let path = TestServer::meeting_path(&meeting, &format!("/participants/{guest_id}"));
    let deleted = server.admin(Method::DELETE, &path, None).await;
    assert_eq!(deleted["id"], guest_id.as_str());
    assert!(deleted["preset_id"].is_string(), "{deleted}");

    assert_eq!(guest.until_closed().await, vec![kicked(&session)]);
    assert_eq!(host.recv().await, ServerFrame::ParticipantLeft { participant_id: guest_id.clone() });
    let (_, live) = server.active_session(&meeting).await;
    assert_eq!((&live["data"]["status"], &live["data"]["live_participants"]), (&json!("LIVE"), &json!(1)));

    // Its token no longer joins; the participant is gone from the REST API too.
    let mut again = server.connect().await;
    again.send(&ClientFrame::Join { token: guest_token, resume: None, version: PROTOCOL_VERSION }).await;
    assert!(matches!(again.recv().await, ServerFrame::Error { code: ErrorCode::InvalidToken, .. }));
    again.expect_closed().await;
    for (method, suffix) in [(Method::GET, ""), (Method::DELETE, ""), (Method::POST, "/token")] {
        let (status, _) = server.api(method, &format!("{path}{suffix}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn kick_by_custom_ids_removes_only_them_and_an_emptied_session_ends() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    // The API does not make custom ids unique: a kick by custom id removes every participant that has it.
    let (ann_1, ann_1_token) = server.participant_with(&meeting, "ann", "group_call_participant").await;
    let (ann_2, ann_2_token) = server.participant_with(&meeting, "ann", "group_call_participant").await;
    let (bob, bob_token) = server.participant_with(&meeting, "bob", "group_call_host").await;
    let (_, absent_token) = server.participant_with(&meeting, "cy", "group_call_participant").await;
    drop(absent_token); // cy never joins: a kick names it, and it is not in the answer
    let (mut a1, session) = server.join(&ann_1_token).await;
    let (mut a2, _) = server.join(&ann_2_token).await;
    let (mut b, _) = server.join(&bob_token).await;

    let kick = TestServer::meeting_path(&meeting, "/active-session/kick");
    let data = server.admin(Method::POST, &kick, Some(json!({ "custom_participant_ids": ["ann", "cy"] }))).await;
    assert_eq!(data["action"], "kick");
    let mut ids: Vec<_> = data["participants"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected = vec![ann_1.as_str(), ann_2.as_str()];
    expected.sort();
    assert_eq!(ids, expected, "{data}");
    assert_eq!(data["participants"][0]["name"], "ann");

    for ws in [&mut a1, &mut a2] {
        assert_eq!(ws.until_closed().await.last(), Some(&kicked(&session)));
    }
    // Bob joined last: all he hears is the two leaving.
    let left = [b.recv().await, b.recv().await];
    for id in [&ann_1, &ann_2] {
        assert!(left.contains(&ServerFrame::ParticipantLeft { participant_id: id.clone() }), "{left:?}");
    }

    // Kicking what is not in the session is an empty answer, not an error.
    let data = server.admin(Method::POST, &kick, Some(json!({ "participant_ids": [ann_1] }))).await;
    assert_eq!(data["participants"], json!([]));
    let (_, live) = server.active_session(&meeting).await;
    assert_eq!((&live["data"]["status"], &live["data"]["live_participants"]), (&json!("LIVE"), &json!(1)));

    // Kicking the last one ends the session as the last leave does.
    let data = server.admin(Method::POST, &kick, Some(json!({ "participant_ids": [bob] }))).await;
    assert_eq!(data["participants"][0]["id"], bob.as_str());
    assert_eq!(b.until_closed().await, vec![kicked(&session)]);
    let (_, ended) = server.active_session(&meeting).await;
    assert_eq!(ended["data"]["status"], "ENDED");
    assert_eq!(ended["data"]["reason"], EndReason::AllParticipantsLeft.as_str());

    // A kick is not a delete: the kicked may join again, into a new session.
    let (_, next) = server.join(&ann_1_token).await;
    assert_ne!(next, session);
}

#[tokio::test]
async fn a_kick_needs_someone_to_kick() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let kick = TestServer::meeting_path(&meeting, "/active-session/kick");
    for body in [json!({}), json!({ "participant_ids": [] }), json!({ "ids": ["x"] })] {
        let (status, answer) = server.api(Method::POST, &kick, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["success"], false);
    }
}
