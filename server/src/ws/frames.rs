//! Reading client frames off a socket, and the polite ways of writing and closing.

use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket};
use endsession_protocol::{ClientFrame, ErrorCode, ServerFrame, MAX_FRAME_BYTES};
use futures_util::SinkExt;
use std::time::Duration;

/// How long to wait for the client's half of the closing handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// One message from the client, judged.
pub enum Incoming {
    Frame(ClientFrame),
    /// Not a frame we accept: answer with an `Error` and close (see [`fail`]).
    Invalid(Violation),
    /// The client closed, or the socket broke.
    Closed,
    /// Ping or pong: the transport already answered.
    Ignore,
}

pub struct Violation {
    pub code: ErrorCode,
    pub message: String,
    /// The WebSocket close code that goes with it.
    pub close_code: u16,
}

impl Violation {
    /// A frame that is valid but not allowed now.
    pub fn unexpected(message: impl Into<String>) -> Self {
        Violation { code: ErrorCode::UnexpectedFrame, message: message.into(), close_code: close_code::POLICY }
    }
}

/// Judges what `socket.recv()` returned.
pub fn classify(received: Option<Result<Message, axum::Error>>) -> Incoming {
    let message = match received {
        Some(Ok(message)) => message,
        Some(Err(_)) | None => return Incoming::Closed,
    };
    match message {
        Message::Text(text) if text.len() > MAX_FRAME_BYTES => Incoming::Invalid(Violation {
            code: ErrorCode::FrameTooLarge,
            message: format!("frame of {} bytes is over the limit of {MAX_FRAME_BYTES} bytes", text.len()),
            close_code: close_code::SIZE,
        }),
        Message::Text(text) => match ClientFrame::decode(&text) {
            Ok(frame) => Incoming::Frame(frame),
            Err(e) => Incoming::Invalid(Violation {
                code: ErrorCode::MalformedFrame,
                message: e.to_string(),
                close_code: close_code::POLICY,
            }),
        },
        Message::Binary(_) => Incoming::Invalid(Violation {
            code: ErrorCode::MalformedFrame,
            message: "binary frames are not part of the protocol: send JSON text frames".into(),
            close_code: close_code::UNSUPPORTED,
        }),
        Message::Ping(_) | Message::Pong(_) => Incoming::Ignore,
        Message::Close(_) => Incoming::Closed,
    }
}

/// Sends text that may be shared with other connections.
pub async fn send_text(socket: &mut WebSocket, text: Utf8Bytes) -> Result<(), axum::Error> {
    socket.send(Message::Text(text)).await
}

pub async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> Result<(), axum::Error> {
    send_text(socket, frame.encode().into()).await
}

/// Sends a last frame and closes; both leave in one write (see `WRITE_BUFFER`).
pub async fn send_final(socket: &mut WebSocket, text: Utf8Bytes, code: u16, reason: &'static str) {
    if socket.feed(Message::Text(text)).await.is_ok() {
        close(socket, code, reason).await;
    }
}

/// Answers a violation with its `Error` frame, then closes.
pub async fn fail(socket: &mut WebSocket, violation: Violation) {
    let frame = ServerFrame::Error { id: None, code: violation.code, message: violation.message };
    send_final(socket, frame.encode().into(), violation.close_code, "").await;
}

/// Sends a close frame and waits (briefly) for the client's: closing the TCP connection with unread data could
/// reset it and lose the frames the client has not read yet.
pub async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
