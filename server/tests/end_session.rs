//! Ending a session: for all, refused, concurrent, by the last leave, by the REST API, and what comes after.

mod common;

use common::{Meeting, TestServer, Ws};
use endsession_protocol::{ClientFrame, EndReason, ErrorCode, LeaveState, Permissions, ServerFrame};
use reqwest::Method;
use serde_json::json;

fn ended(session_id: &str, reason: EndReason, kicked: u32) -> ServerFrame {
    ServerFrame::RoomLeft {
        state: LeaveState::Ended,
        session_id: session_id.into(),
        reason: Some(reason),
        kicked_count: Some(kicked),
        message: None,
        ended_by: None,
        event_id: None,
    }
}

/// Frames with the end record's `endedBy` and `eventId` left out: end_record.rs checks those; here the rest.
trait WithoutRecord {
    fn without_record(self) -> Vec<ServerFrame>;
}

impl WithoutRecord for Vec<ServerFrame> {
    fn without_record(mut self) -> Vec<ServerFrame> {
        for frame in &mut self {
            if let ServerFrame::RoomLeft { ended_by, event_id, .. } = frame {
                (*ended_by, *event_id) = (None, None);
            }
        }
        self
    }
}

/// Joins a host and `guests` guests; returns (host socket, guest sockets, session id), all frames so far read.
async fn room(server: &TestServer, meeting: &Meeting, guests: usize) -> (Ws, Vec<Ws>, String) {
    let (_, token) = server.host(meeting).await;
    let (host, session) = server.join(&token).await;
    let mut sockets = Vec::new();
    for _ in 0..guests {
        let (_, token) = server.guest(meeting).await;
        let (ws, joined) = server.join(&token).await;
        assert_eq!(joined, session);
        sockets.push(ws);
    }
    (host, sockets, session)
}

#[tokio::test]
async fn ending_for_all_tells_everyone_and_closes_every_socket() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (mut host, guests, session) = room(&server, &meeting, 2).await;

    host.send(&ClientFrame::kick_all(7)).await;
    let frames = host.until_closed().await.without_record();
    let result =
        ServerFrame::KickAllResult { id: 7, session_id: session.clone(), kicked_count: 3, already_ended: false };
    // Whatever the host was told before (the guests joining), it ends with the result, then the end.
    assert_eq!(frames[frames.len() - 2..], [result, ended(&session, EndReason::HostEndedMeeting, 3)], "{frames:?}");

    for mut guest in guests {
        let frames = guest.until_closed().await.without_record();
        assert_eq!(frames.last(), Some(&ended(&session, EndReason::HostEndedMeeting, 3)), "{frames:?}");
    }
    let (_, body) = server.active_session(&meeting).await;
    assert_eq!(body["data"]["status"], "ENDED");
    assert_eq!(body["data"]["id"], session.as_str());
    assert_eq!(body["data"]["max_concurrent_participants"], 3);
    assert_eq!(body["data"]["reason"], "HOST_ENDED_MEETING");
}

#[tokio::test]
async fn kick_all_without_permission_is_refused_and_nobody_leaves() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (mut host, mut guests, session) = room(&server, &meeting, 1).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { .. }));

    guests[0].send_text(r#"{"type":"kickAll","id":3}"#).await;
    assert_eq!(
        guests[0].recv().await,
        ServerFrame::Error {
            id: Some(3),
            code: ErrorCode::PermissionDenied,
            message: "Unauthorized: User does not have permission to kick peers.".into()
        }
    );

    // Everybody is still there: a newcomer is announced to both, in the same session.
    let (newcomer_id, token) = server.guest(&meeting).await;
    let (_newcomer, joined) = server.join(&token).await;
    assert_eq!(joined, session);
    for ws in [&mut host, &mut guests[0]] {
        match ws.recv().await {
            ServerFrame::ParticipantJoined { participant } => assert_eq!(participant.id, newcomer_id),
            other => panic!("expected participantJoined, got {other:?}"),
        }
    }
    let (_, body) = server.active_session(&meeting).await;
    assert_eq!((body["data"]["status"].as_str(), body["data"]["live_participants"].as_u64()), (Some("LIVE"), Some(3)));
}

#[tokio::test]
async fn a_repeated_kick_all_gets_the_same_answer() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (mut host, _guests, session) = room(&server, &meeting, 1).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { .. }));

    host.send_together(&[ClientFrame::kick_all(1), ClientFrame::kick_all(2)]).await;
    let frames = host.until_closed().await.without_record();
    let answer = |id, already_ended| ServerFrame::KickAllResult {
        id,
        session_id: session.clone(),
        kicked_count: 2,
        already_ended,
    };
    assert_eq!(frames, [answer(1, false), answer(2, true), ended(&session, EndReason::HostEndedMeeting, 2)]);
    assert_eq!(server.rest_kick_all(&meeting).await, json!({ "action": "kick_all", "kicked_participants_count": 0 }));
}

#[tokio::test]
async fn concurrent_kick_alls_end_the_session_once() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (mut first, mut guests, session) = room(&server, &meeting, 1).await;
    let (_, token) = server.host(&meeting).await;
    let (mut second, _) = server.join(&token).await;

    // Two hosts and the API, at once.
    let (a, b, rest) = tokio::join!(
        async {
            first.send(&ClientFrame::kick_all(1)).await;
            first.until_closed().await.without_record()
        },
        async {
            second.send(&ClientFrame::kick_all(2)).await;
            second.until_closed().await.without_record()
        },
        server.rest_kick_all(&meeting),
    );

    let mut winners = 0;
    for frames in [&a, &b] {
        assert_eq!(frames.last(), Some(&ended(&session, EndReason::HostEndedMeeting, 3)), "{frames:?}");
        for frame in frames {
            if let ServerFrame::KickAllResult { session_id, kicked_count, already_ended, .. } = frame {
                assert_eq!((session_id, *kicked_count), (&session, 3), "every caller gets the same answer");
                winners += usize::from(!already_ended);
            }
        }
    }
    match rest["kicked_participants_count"].as_u64() {
        Some(3) => winners += 1,
        Some(0) => {}
        other => panic!("unexpected REST count {other:?}"),
    }
    assert_eq!(winners, 1, "exactly one call ended the session: {a:?} {b:?} {rest}");
    assert_eq!(
        guests[0].until_closed().await.without_record().last(),
        Some(&ended(&session, EndReason::HostEndedMeeting, 3))
    );

    let row = server.server.store().db().await.unwrap().session(&meeting.id, &session).await.unwrap().unwrap();
    assert_eq!((row.end_reason, row.kicked_count), (Some(EndReason::HostEndedMeeting), Some(3)));
    guests.clear();
}

#[tokio::test]
async fn the_last_to_leave_ends_the_session() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (mut a, mut others, session) = room(&server, &meeting, 1).await;
    let mut b = others.pop().unwrap();
    assert!(matches!(a.recv().await, ServerFrame::ParticipantJoined { .. }));
    let (_, body) = server.active_session(&meeting).await;
    assert_eq!(body["data"]["live_participants"], 2);

    a.send(&ClientFrame::Leave).await;
    assert_eq!(
        a.until_closed().await.without_record(),
        [ServerFrame::RoomLeft {
            state: LeaveState::Left,
            session_id: session.clone(),
            reason: None,
            kicked_count: None,
            message: None,
            ended_by: None,
            event_id: None,
        }]
    );
    assert!(matches!(b.recv().await, ServerFrame::ParticipantLeft { .. }));
    let (_, body) = server.active_session(&meeting).await;
    assert_eq!((body["data"]["status"].as_str(), body["data"]["live_participants"].as_u64()), (Some("LIVE"), Some(1)));

    b.send(&ClientFrame::Leave).await;
    assert_eq!(
        b.until_closed().await.without_record(),
        [ServerFrame::RoomLeft {
            state: LeaveState::Left,
            session_id: session.clone(),
            reason: None,
            kicked_count: None,
            message: None,
            ended_by: None,
            event_id: None,
        }]
    );
    let (_, body) = server.active_session(&meeting).await;
    assert_eq!(body["data"]["status"], "ENDED");
    assert!(body["data"]["ended_at"].is_string());
    let row = server.server.store().db().await.unwrap().session(&meeting.id, &session).await.unwrap().unwrap();
    assert_eq!(row.end_reason, Some(EndReason::AllParticipantsLeft));
}

#[tokio::test]
async fn joining_after_the_end_starts_a_new_session() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (_, token) = server.host(&meeting).await;
    let (mut host, first_session) = server.join(&token).await;
    host.send(&ClientFrame::kick_all(1)).await;
    assert_eq!(
        host.until_closed().await.without_record().last(),
        Some(&ended(&first_session, EndReason::HostEndedMeeting, 1))
    );

    let (_host, answer) = server.join_with(&token, None).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, participants, .. } => {
            assert_ne!(session_id, first_session, "a new session");
            assert!(!reconnected);
            assert!(participants.is_empty());
        }
        other => panic!("expected joined, got {other:?}"),
    }
    let (_, body) = server.active_session(&meeting).await;
    assert_eq!(body["data"]["status"], "LIVE");
}

#[tokio::test]
async fn the_rest_api_ends_the_session_like_a_host() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (mut host, mut guests, session) = room(&server, &meeting, 1).await;

    assert_eq!(server.rest_kick_all(&meeting).await, json!({ "action": "kick_all", "kicked_participants_count": 2 }));
    for ws in [&mut host, &mut guests[0]] {
        assert_eq!(
            ws.until_closed().await.without_record().last(),
            Some(&ended(&session, EndReason::HostEndedMeeting, 2))
        );
    }
    assert_eq!(server.rest_kick_all(&meeting).await["kicked_participants_count"], 0, "idempotent");
    let (_, body) = server.active_session(&meeting).await;
    assert_eq!(body["data"]["status"], "ENDED");
}

#[tokio::test]
async fn a_preset_change_is_pushed_and_then_enforced() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (guest_id, token) = server.guest(&meeting).await;
    let (mut guest, session) = server.join(&token).await;

    guest.send(&ClientFrame::kick_all(1)).await;
    assert!(matches!(guest.recv().await, ServerFrame::Error { code: ErrorCode::PermissionDenied, .. }));

    let path = format!("/{}/meetings/{}/participants/{guest_id}", meeting.app_id, meeting.id);
    let data = server.admin(Method::PATCH, &path, Some(json!({ "preset_name": "group_call_host" }))).await;
    assert_eq!(data["preset_name"], "group_call_host");
    assert!(data["token"].is_string());
    assert_eq!(
        guest.recv().await,
        ServerFrame::PermissionsUpdate {
            preset_name: "group_call_host".into(),
            permissions: Permissions { kick_participant: true }
        }
    );

    guest.send(&ClientFrame::kick_all(2)).await;
    assert_eq!(
        guest.until_closed().await.without_record(),
        [
            ServerFrame::KickAllResult { id: 2, session_id: session.clone(), kicked_count: 1, already_ended: false },
            ended(&session, EndReason::HostEndedMeeting, 1),
        ]
    );
}

#[tokio::test]
async fn a_join_uses_the_current_preset_not_the_one_in_the_token() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (id, old_token) = server.guest(&meeting).await;
    let path = format!("/{}/meetings/{}/participants/{id}", meeting.app_id, meeting.id);
    server.admin(Method::PATCH, &path, Some(json!({ "preset_name": "group_call_host" }))).await;

    let (_ws, answer) = server.join_with(&old_token, None).await;
    match answer {
        ServerFrame::Joined { permissions, self_participant, .. } => {
            assert!(permissions.kick_participant);
            assert_eq!(self_participant.preset_name, "group_call_host");
        }
        other => panic!("expected joined, got {other:?}"),
    }
}
