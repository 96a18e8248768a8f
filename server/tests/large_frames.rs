//! A server frame over 1 KiB (a `Joined` listing many participants, a `roomLeft` with a long message) leaves as a
//! fragmented text message of at most 1 KiB per fragment, and every client gets it whole. Read over raw TCP, so that
//! the test sees the frames themselves; the transport's write buffer never grows past one fragment (issue 15).

mod common;

use common::*;
use endsession_protocol::{ClientFrame, EndReason, LeaveState, ServerFrame, MAX_END_MESSAGE_CHARS, PROTOCOL_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest fragment the server writes: its write buffer (`ws::WRITE_BUFFER`).
const FRAGMENT: usize = 1024;

/// One WebSocket frame as read off the wire.
struct RawFrame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// A client that speaks RFC 6455 by hand, to see how the server cuts its messages into frames.
struct RawClient {
    tcp: TcpStream,
}

impl RawClient {
    async fn connect(server: &TestServer) -> Self {
        let mut tcp = TcpStream::connect(server.server.addr()).await.unwrap();
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            endsession_protocol::WS_PATH
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        // The 101's head, byte by byte so that nothing after it is read.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tokio::time::timeout(GUARD, tcp.read_u8()).await.unwrap().unwrap());
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        // RFC 6455 §1.3's example key and its accept value.
        assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
        RawClient { tcp }
    }

    /// Sends one text frame, masked as a client must (with a zero key, which leaves the payload as it is).
    async fn send(&mut self, frame: &ClientFrame) {
        let payload = frame.encode();
        let mut bytes = vec![0x81];
        match payload.len() {
            len @ 0..=125 => bytes.push(0x80 | len as u8),
            len => {
                bytes.push(0x80 | 126);
                bytes.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
            }
        }
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(payload.as_bytes());
        self.tcp.write_all(&bytes).await.unwrap();
    }

    async fn frame(&mut self) -> RawFrame {
        tokio::time::timeout(GUARD, async {
            let (first, second) = (self.tcp.read_u8().await.unwrap(), self.tcp.read_u8().await.unwrap());
            assert_eq!(second & 0x80, 0, "a server frame must not be masked");
            let len = match second & 0x7f {
                126 => usize::from(self.tcp.read_u16().await.unwrap()),
                127 => usize::try_from(self.tcp.read_u64().await.unwrap()).unwrap(),
                len => usize::from(len),
            };
            let mut payload = vec![0; len];
            self.tcp.read_exact(&mut payload).await.unwrap();
            RawFrame { fin: first & 0x80 != 0, opcode: first & 0x0f, payload }
        })
        .await
        .expect("a frame in time")
    }

    /// The next data message, skipping pings: its frames' payload sizes, and the message.
    async fn message(&mut self) -> (Vec<usize>, ServerFrame) {
        loop {
            let first = self.frame().await;
            if first.opcode == 0x9 {
                continue;
            }
            assert_eq!(first.opcode, 0x1, "a message starts with a text frame");
            let mut sizes = vec![first.payload.len()];
            let (mut fin, mut text) = (first.fin, first.payload);
            while !fin {
                let next = self.frame().await;
                if next.opcode == 0x9 {
                    continue; // A control frame may come between fragments (§5.4).
                }
                assert_eq!(next.opcode, 0x0, "a fragment after the first is a continuation");
                sizes.push(next.payload.len());
                fin = next.fin;
                text.extend_from_slice(&next.payload);
            }
            let text = String::from_utf8(text).expect("the whole message is UTF-8");
            return (sizes, ServerFrame::decode(&text).unwrap_or_else(|e| panic!("{e}: {text}")));
        }
    }
}

/// Asserts that a message of `sizes` was cut as it should be: more than one fragment, none over [`FRAGMENT`].
fn assert_fragmented(sizes: &[usize]) {
    assert!(sizes.len() > 1, "a message over {FRAGMENT} bytes leaves in fragments, got {sizes:?}");
    assert!(sizes.iter().all(|&size| size <= FRAGMENT), "{sizes:?}");
}

#[tokio::test]
async fn a_large_joined_and_a_large_room_left_arrive_whole_in_fragments_of_at_most_1_kib() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (host_id, host_token) = server.host(&meeting).await;
    let (mut host, _) = server.join(&host_token).await;
    let mut earlier = Vec::new();
    let mut listed = vec![host_id];
    for i in 0..15 {
        let (id, token) = server
            .participant_with(&meeting, &format!("guest-with-a-long-name-{i:02}"), "group_call_participant")
            .await;
        let (ws, _) = server.join(&token).await;
        earlier.push(ws);
        listed.push(id);
    }

    let (_, token) = server.guest(&meeting).await;
    let mut raw = RawClient::connect(&server).await;
    raw.send(&ClientFrame::Join { token, resume: None, version: PROTOCOL_VERSION }).await;
    let (sizes, joined) = raw.message().await;
    assert_fragmented(&sizes);
    let ServerFrame::Joined { participants, .. } = joined else { panic!("expected joined, got {joined:?}") };
    let mut seen: Vec<String> = participants.into_iter().map(|p| p.id).collect();
    seen.sort();
    listed.sort();
    assert_eq!(seen, listed, "everyone already in the session is listed");

    // 500 four-byte characters: a fragment boundary falls inside a character.
    let message = "😀".repeat(MAX_END_MESSAGE_CHARS);
    host.send(&ClientFrame::KickAll { id: 1, message: Some(message.clone()), lock: false, grace_seconds: None }).await;
    let (sizes, left) = raw.message().await;
    assert_fragmented(&sizes);
    let expect_ended = |frame: ServerFrame| match frame {
        ServerFrame::RoomLeft {
            state: LeaveState::Ended,
            reason: Some(EndReason::HostEndedMeeting),
            message: m,
            ..
        } => {
            assert_eq!(m.as_deref(), Some(message.as_str()))
        }
        other => panic!("expected roomLeft ended with the message, got {other:?}"),
    };
    expect_ended(left);
    for mut ws in earlier {
        let frames = ws.until_closed().await;
        let last = frames.into_iter().rfind(|f| matches!(f, ServerFrame::RoomLeft { .. }));
        expect_ended(last.expect("a roomLeft before the close"));
    }
    // The close frame follows, unfragmented.
    let close = raw.frame().await;
    assert_eq!((close.opcode, close.fin), (0x8, true));
}
