//! Reading client frames off a socket, and the polite ways of writing and closing, each write within a deadline.

use axum::body::Bytes;
use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket};
use endsession_protocol::{ClientFrame, ErrorCode, ServerFrame, MAX_FRAME_BYTES};
use futures_util::SinkExt;
use std::future::Future;
use std::time::Duration;

/// A WebSocket whose every write has a deadline: a client that stops reading fills its TCP window, and a write that
/// cannot finish must not hold the connection's task (and its memory) for ever.
pub struct Socket {
    ws: WebSocket,
    write_timeout: Duration,
}

/// The socket broke, or a write missed its deadline: treat the connection as dropped.
#[derive(Debug)]
pub struct Gone;

impl Socket {
    pub fn new(ws: WebSocket, write_timeout: Duration) -> Self {
        Socket { ws, write_timeout }
    }

    /// The next message; cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        self.ws.recv().await
    }

    /// Runs one write (a send, or feeds and a flush) within the write deadline.
    async fn write<'a, F, Fut>(&'a mut self, write: F) -> Result<(), Gone>
    where
        F: FnOnce(&'a mut WebSocket) -> Fut,
        Fut: Future<Output = Result<(), axum::Error>> + 'a,
    {
        match tokio::time::timeout(self.write_timeout, write(&mut self.ws)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(Gone),
        }
    }

    /// A heartbeat: a WebSocket Ping (answered by any client's transport) and a `ping` frame (seen by the page's
    /// code, which has no access to transport pings), in one write.
    pub async fn heartbeat(&mut self) -> Result<(), Gone> {
        self.write(|ws| async move {
            ws.feed(Message::Ping(Bytes::new())).await?;
            ws.send(Message::Text(Utf8Bytes::from(ServerFrame::Ping.encode()))).await
        })
        .await
    }
}

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
        Some(Err(e)) if is_invalid_utf8(&e) => {
            return Incoming::Invalid(Violation {
                code: ErrorCode::MalformedFrame,
                message: "a text frame must be valid UTF-8".into(),
                close_code: close_code::INVALID,
            })
        }
        Some(Err(e)) => {
            return match (too_long(&e), framing_violation(&e)) {
                (Some(size), _) => Incoming::Invalid(too_large(format!("message of {size} bytes or more"))),
                (None, Some(rule)) => Incoming::Invalid(Violation {
                    code: ErrorCode::MalformedFrame,
                    message: format!("not a valid WebSocket frame: {rule}"),
                    close_code: close_code::PROTOCOL,
                }),
                (None, None) => Incoming::Closed,
            }
        }
        None => return Incoming::Closed,
    };
    match message {
        // The transport's limit is the same (see `MAX_TRANSPORT_MESSAGE`); kept so that this rule does not depend on it.
        Message::Text(text) if text.len() > MAX_FRAME_BYTES => {
            Incoming::Invalid(too_large(format!("frame of {} bytes", text.len())))
        }
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

/// `FrameTooLarge`, closed with 1009 (RFC 6455 §7.4.1: a message too big to process); `what` names the message.
fn too_large(what: String) -> Violation {
    Violation {
        code: ErrorCode::FrameTooLarge,
        message: format!("{what} is over the limit of {MAX_FRAME_BYTES} bytes"),
        close_code: close_code::SIZE,
    }
}

/// The transport's error for a message over its limit: a frame whose header announces more (refused before its
/// payload is read) or fragments that add up to more. Its size is the announced length, or the fragments' total so
/// far. After it the transport reads nothing more (the stream is fused), but it still writes, so the `Error` and
/// the close frame go out.
fn too_long(error: &axum::Error) -> Option<usize> {
    use tungstenite::error::CapacityError;
    match std::error::Error::source(error)?.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(CapacityError::MessageTooLong { size, .. }) => Some(*size),
        _ => None,
    }
}

/// The transport's error for a frame that breaks RFC 6455's framing (a control frame over 125 bytes or fragmented,
/// a continuation with nothing to continue, reserved bits without an extension, an unmasked client frame, an
/// unknown opcode, a new message inside a fragmented one), as words for the `Error` frame; answered with close 1002
/// (§7.4.1). As after [`too_long`], the transport reads no more but still writes. A TCP close without the closing
/// handshake is a protocol error to tungstenite too, but there is nobody left to tell: `None`.
fn framing_violation(error: &axum::Error) -> Option<String> {
    use tungstenite::error::ProtocolError as P;
    match std::error::Error::source(error)?.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Protocol(
            rule @ (P::NonZeroReservedBits
            | P::UnmaskedFrameFromClient
            | P::FragmentedControlFrame
            | P::ControlFrameTooBig
            | P::UnknownControlFrameType(_)
            | P::UnknownDataFrameType(_)
            | P::UnexpectedContinueFrame
            | P::ExpectedFragment(_)
            | P::InvalidOpcode(_)
            | P::InvalidCloseSequence),
        ) => Some(rule.to_string()),
        _ => None,
    }
}

/// The transport's error for a text frame that is not UTF-8 (RFC 6455 §8.1: close with 1007).
fn is_invalid_utf8(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Utf8(_)))
}

/// Sends text that may be shared with other connections.
pub async fn send_text(socket: &mut Socket, text: Utf8Bytes) -> Result<(), Gone> {
    socket.write(|ws| ws.send(Message::Text(text))).await
}

pub async fn send(socket: &mut Socket, frame: &ServerFrame) -> Result<(), Gone> {
    send_text(socket, frame.encode().into()).await
}

/// Sends a last frame and closes; both leave in one write (see `WRITE_BUFFER`).
pub async fn send_final(socket: &mut Socket, text: Utf8Bytes, code: u16, reason: &'static str) {
    if socket.write(|ws| ws.feed(Message::Text(text))).await.is_ok() {
        close(socket, code, reason).await;
    }
}

/// Answers a violation with its `Error` frame, then closes.
pub async fn fail(socket: &mut Socket, violation: Violation) {
    let frame = ServerFrame::Error { id: None, code: violation.code, message: violation.message };
    send_final(socket, frame.encode().into(), violation.close_code, "").await;
}

/// Sends a close frame and waits (briefly) for the client's: closing the TCP connection with unread data could
/// reset it and lose the frames the client has not read yet.
pub async fn close(socket: &mut Socket, code: u16, reason: &'static str) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    if socket.write(|ws| ws.send(Message::Close(Some(frame)))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(message)) = socket.ws.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
