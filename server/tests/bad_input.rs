//! Bad clients get a clear `Error` frame and a close, and never disturb the others.

mod common;

use common::TestServer;
use endsession_protocol::{ClientFrame, ErrorCode, ServerFrame, MAX_FRAME_BYTES, PROTOCOL_VERSION};
use endsession_server::store::MeetingStatus;
use futures_util::{SinkExt, StreamExt};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

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
        .db()
        .await
        .unwrap()
        .set_meeting_status(&meeting.app_id, &meeting.id, MeetingStatus::Inactive)
        .await
        .unwrap();
    let mut ws = server.connect().await;
    ws.send(&ClientFrame::Join { token, resume: None, version: PROTOCOL_VERSION }).await;
    let message = expect_fatal(&mut ws, ErrorCode::MeetingInactive).await;
    assert!(message.contains("INACTIVE"), "{message}");
    let (status, _) = server.active_session(&meeting).await;
    assert_eq!(status, 404, "a refused join starts no session");
}

/// How an oversized message is sent: whole, or as a text message in fragments of the given sizes.
enum Oversized {
    Text(usize),
    Binary(usize),
    Fragments(&'static [usize]),
}

impl Oversized {
    fn messages(&self) -> Vec<Message> {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        match *self {
            Oversized::Text(len) => vec![Message::text("x".repeat(len))],
            Oversized::Binary(len) => vec![Message::binary(vec![7u8; len])],
            Oversized::Fragments(sizes) => sizes
                .iter()
                .enumerate()
                .map(|(i, &len)| {
                    let opcode = OpCode::Data(if i == 0 { Data::Text } else { Data::Continue });
                    Message::Frame(Frame::message("x".repeat(len), opcode, i + 1 == sizes.len()))
                })
                .collect(),
        }
    }
}

/// A TCP stream that counts the bytes the client's kernel took for sending.
struct Counted {
    tcp: tokio::net::TcpStream,
    written: Arc<AtomicUsize>,
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.written.fetch_add(n, Ordering::Relaxed);
        }
        written
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// A socket whose written bytes are counted, joined with `token` if given.
async fn connect_counted(server: &TestServer, token: Option<&str>) -> (WebSocketStream<Counted>, Arc<AtomicUsize>) {
    let addr = server.server.addr();
    let written = Arc::new(AtomicUsize::new(0));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let stream = Counted { tcp, written: written.clone() };
    let url = format!("ws://{addr}{}", endsession_protocol::WS_PATH);
    let (mut ws, _) =
        tokio::time::timeout(common::GUARD, tokio_tungstenite::client_async(url, stream)).await.unwrap().unwrap();
    if let Some(token) = token {
        let join = ClientFrame::Join { token: token.into(), resume: None, version: PROTOCOL_VERSION };
        ws.send(Message::text(join.encode())).await.unwrap();
        match tokio::time::timeout(common::GUARD, ws.next()).await.unwrap() {
            Some(Ok(Message::Text(text))) => {
                assert!(matches!(ServerFrame::decode(&text), Ok(ServerFrame::Joined { .. })), "{text}")
            }
            other => panic!("expected joined, got {other:?}"),
        }
    }
    (ws, written)
}

/// What the server answered an oversized message with.
struct Refusal {
    /// The frames before the close.
    frames: Vec<ServerFrame>,
    /// The close frame's code; None if the TCP connection ended without one.
    close_code: Option<u16>,
}

/// Sends `oversized` while reading (a server that stops reading would block a client that only writes), until the
/// server closes and the write ends.
async fn refusal_of(ws: WebSocketStream<Counted>, oversized: &Oversized) -> Refusal {
    let (mut sink, mut stream) = ws.split();
    let messages = oversized.messages();
    let writer = tokio::spawn(async move {
        for message in messages {
            sink.feed(message).await?;
        }
        sink.flush().await
    });
    let mut frames = Vec::new();
    let close_code = loop {
        let message = tokio::time::timeout(common::GUARD, stream.next()).await.expect("no answer in time");
        match message {
            Some(Ok(Message::Text(text))) => frames.push(ServerFrame::decode(&text).expect("a valid server frame")),
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break None,
        }
    };
    // Ends once all is written or the server closed the TCP connection (whether tokio-tungstenite calls that an error
    // depends on the order it learns of the close in).
    let _ = tokio::time::timeout(common::GUARD, writer).await.expect("the write neither ended nor failed");
    Refusal { frames, close_code }
}

#[tokio::test]
async fn oversized_messages_of_any_size_get_error_4001_and_close_1009_before_and_after_join() {
    const MIB: usize = 1024 * 1024;
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (_, token) = server.guest(&meeting).await;
    let cases = [
        ("16 KiB + 1", Oversized::Text(MAX_FRAME_BYTES + 1)),
        ("1 MiB", Oversized::Text(MIB)),
        ("1 MiB + 1", Oversized::Text(MIB + 1)),
        ("8 MiB", Oversized::Text(8 * MIB)),
        ("binary 1 MiB + 1", Oversized::Binary(MIB + 1)),
        ("fragments 3 x 400 KiB", Oversized::Fragments(&[400 * 1024; 3])),
        ("fragments 3 x 8 KiB", Oversized::Fragments(&[8 * 1024; 3])),
    ];
    for joined in [false, true] {
        for (what, oversized) in &cases {
            let what = format!("{what}, {}", if joined { "after join" } else { "before join" });
            let (ws, written) = connect_counted(&server, joined.then_some(token.as_str())).await;
            let refusal = refusal_of(ws, oversized).await;
            match refusal.frames.as_slice() {
                [ServerFrame::Error { id: None, code: ErrorCode::FrameTooLarge, message }] => assert!(
                    message.contains(&format!("over the limit of {MAX_FRAME_BYTES} bytes")),
                    "{what}: {message}"
                ),
                other => panic!("{what}: expected one Error 4001, got {other:?}"),
            }
            assert_eq!(refusal.close_code, Some(1009), "{what}: close code");
            if matches!(oversized, Oversized::Text(len) if *len == 8 * MIB) {
                // The server stopped reading at the frame's header and closed the connection: the client's kernel
                // could take no more than what the socket buffers hold, far from all of it.
                let written = written.load(Ordering::Relaxed);
                assert!(written < 8 * MIB, "{what}: the server took all {written} bytes before refusing");
            }
        }
    }
    // The server still serves.
    let (mut ws, _) = server.join(&token).await;
    ws.send(&ClientFrame::Leave).await;
    assert!(matches!(ws.recv().await, ServerFrame::RoomLeft { .. }));
}

/// A frame whose header announces more than the limit is refused at the header: the server does not wait for (and
/// buffer) the payload.
#[tokio::test]
async fn an_oversized_frame_is_refused_at_its_header_without_waiting_for_the_payload() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    for announced in [MAX_FRAME_BYTES as u64 + 1, 512 * 1024, 1 << 20, 1 << 40] {
        let mut ws = server.connect().await;
        // FIN + text; masked (mask key 0, so the payload is sent as is) with a 64-bit length; then only 20 KiB of the
        // announced payload, and the socket stays open.
        let mut frame = vec![0x81, 0xFF];
        frame.extend_from_slice(&announced.to_be_bytes());
        frame.extend_from_slice(&[0; 4]);
        frame.extend(std::iter::repeat_n(b'x', (20 * 1024).min(announced as usize - 1)));
        ws.stream.get_mut().write_all(&frame).await.unwrap();
        ws.stream.get_mut().flush().await.unwrap();
        match ws.recv().await {
            ServerFrame::Error { id: None, code: ErrorCode::FrameTooLarge, message } => {
                assert!(message.contains(&announced.to_string()), "{announced}: {message}")
            }
            other => panic!("{announced}: expected Error 4001, got {other:?}"),
        }
        assert_eq!(ws.close_code().await, Some(1009), "{announced}");
    }
}

/// Frames that break RFC 6455's framing rules (not our protocol's): each gets `Error 4000` naming the rule, then
/// close 1002 (§7.4.1 protocol error), before and after join — not a bare TCP close.
#[tokio::test]
async fn frames_that_break_websocket_framing_get_error_4000_and_close_1002_before_and_after_join() {
    use tokio::io::AsyncWriteExt;
    /// A client frame, masked with key 0 (so the payload is sent as is) unless `masked` is false.
    fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
        let mut out = vec![first];
        let mask = if masked { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(mask | n as u8),
            n => {
                out.push(mask | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        if masked {
            out.extend_from_slice(&[0; 4]);
        }
        out.extend_from_slice(payload);
        out
    }
    let cases: [(&str, Vec<u8>); 8] = [
        ("a 200-byte ping (control frames carry at most 125)", frame(0x89, &[b'p'; 200], true)),
        ("a fragmented ping", frame(0x09, b"p", true)),
        ("a continuation with no message started", frame(0x80, b"abc", true)),
        ("RSV1 set without an extension", frame(0xC1, b"{}", true)),
        ("an unmasked client frame", frame(0x81, br#"{"type":"leave"}"#, false)),
        ("an unknown data opcode", frame(0x83, b"x", true)),
        ("an unknown control opcode", frame(0x8B, b"", true)),
        ("a new message inside a fragmented one", [frame(0x01, b"{", true), frame(0x81, b"{}", true)].concat()),
    ];
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    for joined in [false, true] {
        for (what, bytes) in &cases {
            let mut ws = match joined {
                false => server.connect().await,
                true => {
                    let (_, token) = server.participant(&meeting, "group_call_participant").await;
                    server.join(&token).await.0
                }
            };
            ws.stream.get_mut().write_all(bytes).await.unwrap();
            ws.stream.get_mut().flush().await.unwrap();
            match ws.recv().await {
                ServerFrame::Error { id: None, code: ErrorCode::MalformedFrame, .. } => {}
                other => panic!("{what} (joined: {joined}): expected Error 4000, got {other:?}"),
            }
            assert_eq!(ws.close_code().await, Some(1002), "{what} (joined: {joined})");
        }
    }
}
