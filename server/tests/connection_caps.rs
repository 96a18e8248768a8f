//! Smaller caps on WebSockets (issue 11, fault 7): sockets per participant, and text frames that are not UTF-8.

mod common;

use common::*;
use endsession_protocol::{ClientFrame, ErrorCode, ServerFrame, PROTOCOL_VERSION};
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

/// Close codes of RFC 6455 §7.4.1.
const POLICY_VIOLATION: u16 = 1008;
const INVALID_PAYLOAD: u16 = 1007;

/// The server's answer to a violation: its `Error` frame, then the close code.
async fn error_and_close(ws: &mut Ws) -> (ServerFrame, Option<u16>) {
    let frame = ws.recv().await;
    (frame, ws.close_code().await)
}

fn raw_text(bytes: &[u8], is_final: bool) -> Message {
    Message::Frame(Frame::message(bytes.to_vec(), OpCode::Data(Data::Text), is_final))
}

fn continuation(bytes: &[u8]) -> Message {
    Message::Frame(Frame::message(bytes.to_vec(), OpCode::Data(Data::Continue), true))
}

#[tokio::test]
async fn a_participant_gets_at_most_its_cap_of_sockets_and_a_closed_one_frees_a_place() {
    let server = TestServer::start_with(|config| config.limits.max_sockets_per_participant = 3).await;
    let meeting = server.meeting().await;
    let (_, token) = server.host(&meeting).await;
    let mut tabs = Vec::new();
    for _ in 0..3 {
        tabs.push(server.join(&token).await.0);
    }
    for resume in [None, Some("any-session")] {
        let mut extra = server.connect().await;
        extra
            .send(&ClientFrame::Join {
                token: token.clone(),
                resume: resume.map(Into::into),
                version: PROTOCOL_VERSION,
            })
            .await;
        let (frame, code) = error_and_close(&mut extra).await;
        assert!(matches!(frame, ServerFrame::Error { code: ErrorCode::TooManyConnections, .. }), "{frame:?}");
        assert_eq!(code, Some(POLICY_VIOLATION));
    }

    // Another participant is not affected.
    let (_, guest_token) = server.guest(&meeting).await;
    server.join(&guest_token).await;

    // A tab that closes gives its place back.
    tabs.pop().unwrap().drop_abruptly();
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let (ws, answer) = server.join_with(&token, None).await;
        if matches!(answer, ServerFrame::Joined { .. }) {
            tabs.push(ws);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the closed tab's place was not freed: {answer:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn text_frames_that_are_not_utf8_are_closed_with_1007_before_and_after_join() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (_, host_token) = server.host(&meeting).await;
    let (_, guest_token) = server.guest(&meeting).await;
    let (mut host, session) = server.join(&host_token).await;

    let bad: [&[u8]; 4] = [
        b"\xff",
        b"{\"type\":\"leave\xc0\xaf\"}", // an overlong encoding of '/'
        b"{\"type\":\"\xed\xa0\x80\"}",  // a UTF-16 surrogate
        b"{\"type\":\"leave\"}\xe2\x82", // cut in the middle of a character
    ];
    for bytes in bad {
        for joined in [false, true] {
            let mut ws = if joined { server.join(&guest_token).await.0 } else { server.connect().await };
            ws.send_message(raw_text(bytes, true)).await;
            let (frame, code) = error_and_close(&mut ws).await;
            assert!(matches!(frame, ServerFrame::Error { code: ErrorCode::MalformedFrame, .. }), "{frame:?}");
            assert_eq!(code, Some(INVALID_PAYLOAD), "{bytes:?} (joined: {joined})");
        }
    }
    // The same in a message split over two frames.
    let mut ws = server.join(&guest_token).await.0;
    ws.send_message(raw_text(b"{\"type\":\"le", false)).await;
    ws.send_message(continuation(b"ave\xff\"}")).await;
    let (frame, code) = error_and_close(&mut ws).await;
    assert!(matches!(frame, ServerFrame::Error { code: ErrorCode::MalformedFrame, .. }), "{frame:?}");
    assert_eq!(code, Some(INVALID_PAYLOAD));

    // The others are unaffected: the host can still end the session it is in.
    host.send(&ClientFrame::kick_all(1)).await;
    let frames = host.until_closed().await;
    assert!(
        frames.iter().any(|f| matches!(f, ServerFrame::KickAllResult { session_id, .. } if *session_id == session)),
        "{frames:?}"
    );
}
