//! Bad clients get a clear `Error` frame and a close, and never disturb the others.

mod common;

use common::TestServer;
use endsession_protocol::{ClientFrame, ErrorCode, ServerFrame, MAX_FRAME_BYTES, PROTOCOL_VERSION};
use endsession_server::store::MeetingStatus;
use tokio_tungstenite::tungstenite::Message;

/// Expects `Error { code }` and then the close; returns the message.
async fn expect_fatal(ws: &mut common::Ws, code: ErrorCode) -> String {
    match ws.recv().await {
        ServerFrame::Error { code: got, message, id: None } if got == code => {
            ws.expect_closed().await;
            message
        }
        other => panic!("expected error {code:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_frames_get_an_error_and_a_close_while_others_keep_working() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (_, host_token) = server.host(&meeting).await;
    let (mut host, session) = server.join(&host_token).await;

    let oversized = ClientFrame::Join { token: "x".repeat(MAX_FRAME_BYTES), resume: None, version: 1 }.encode();
    let cases: Vec<(Message, ErrorCode, &str)> = vec![
        (Message::text("{not json"), ErrorCode::MalformedFrame, "frame is not valid JSON"),
        (Message::text(r#"{"type":"dance"}"#), ErrorCode::MalformedFrame, "unknown frame type `dance`"),
        (Message::text(r#"{"type":"join","version":1}"#), ErrorCode::MalformedFrame, "missing field `token`"),
        (Message::text(oversized), ErrorCode::FrameTooLarge, "over the limit"),
        (Message::binary(vec![1, 2, 3]), ErrorCode::MalformedFrame, "binary frames"),
        (Message::text(r#"{"type":"leave"}"#), ErrorCode::UnexpectedFrame, "first frame must be `join`"),
        (Message::text(r#"{"type":"kickAll","id":1}"#), ErrorCode::UnexpectedFrame, "first frame must be `join`"),
    ];
    for (message, code, expected) in cases {
        let mut bad = server.connect().await;
        bad.send_message(message).await;
        let text = expect_fatal(&mut bad, code).await;
        assert!(text.contains(expected), "{text:?} should mention {expected:?}");
    }

    // A joined client that misbehaves is closed too.
    let (_, guest_token) = server.guest(&meeting).await;
    let (mut guest, _) = server.join(&guest_token).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { .. }));
    guest.send_text(r#"{"type":"kickAll","id":"one"}"#).await;
    let text = expect_fatal(&mut guest, ErrorCode::MalformedFrame).await;
    assert_eq!(text, "`id` must be a non-negative integer");
    let (_, other_token) = server.guest(&meeting).await;
    let (mut other, _) = server.join(&other_token).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { .. }));
    other.send(&ClientFrame::Join { token: other_token.clone(), resume: None, version: PROTOCOL_VERSION }).await;
    expect_fatal(&mut other, ErrorCode::UnexpectedFrame).await;

    // The host never noticed any of it and still ends the session (the two dropped guests are within the grace).
    host.send(&ClientFrame::kick_all(9)).await;
    assert_eq!(
        host.recv().await,
        ServerFrame::KickAllResult { id: 9, session_id: session, kicked_count: 3, already_ended: false }
    );
}

#[tokio::test]
async fn bad_tokens_versions_and_inactive_meetings_are_refused() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (_, token) = server.guest(&meeting).await;

    for bad in ["garbage", "", &format!("{token}x")] {
        let (mut ws, answer) = server.join_with(bad, None).await;
        match answer {
            ServerFrame::Error { code: ErrorCode::InvalidToken, message, .. } => {
                assert!(message.starts_with("invalid participant token"), "{message}")
            }
            other => panic!("expected InvalidToken for {bad:?}, got {other:?}"),
        }
        ws.expect_closed().await;
    }

    let mut ws = server.connect().await;
    ws.send(&ClientFrame::Join { token: token.clone(), resume: None, version: PROTOCOL_VERSION + 1 }).await;
    expect_fatal(&mut ws, ErrorCode::UnsupportedVersion).await;

    server
        .server
        .store()
        .with(|db| db.set_meeting_status(&meeting.app_id, &meeting.id, MeetingStatus::Inactive))
        .unwrap();
    let mut ws = server.connect().await;
    ws.send(&ClientFrame::Join { token, resume: None, version: PROTOCOL_VERSION }).await;
    let message = expect_fatal(&mut ws, ErrorCode::MeetingInactive).await;
    assert!(message.contains("INACTIVE"), "{message}");
    let (status, _) = server.active_session(&meeting).await;
    assert_eq!(status, 404, "a refused join starts no session");
}
