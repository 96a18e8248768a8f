//! Reading client frames off a socket, and the polite ways of writing and closing, each write within a deadline.

use crate::hub::FanOut;
use endsession_protocol::{ClientFrame, ErrorCode, ServerFrame, MAX_FRAME_BYTES};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::time::Duration;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Bytes, Message, Utf8Bytes};

/// The upgraded HTTP connection, as a WebSocket (see `super::upgrade`).
pub type Transport = WebSocketStream<TokioIo<Upgraded>>;

/// A WebSocket whose every write has a deadline: a client that stops reading fills its TCP window, and a write that
/// cannot finish must not hold the connection's task (and its memory) for ever.
pub struct Socket {
    ws: Transport,
    write_timeout: Duration,
}

/// The socket broke, or a write missed its deadline: treat the connection as dropped.
#[derive(Debug)]
pub struct Gone;

impl Socket {
    pub fn new(ws: Transport, write_timeout: Duration) -> Self {
        Socket { ws, write_timeout }
    }

    /// The next message; cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, tungstenite::Error>> {
        self.ws.next().await
    }

    /// Runs one write (a send, or feeds and a flush) within the write deadline.
    async fn write<'a, F, Fut>(&'a mut self, write: F) -> Result<(), Gone>
    where
        F: FnOnce(&'a mut Transport) -> Fut,
        Fut: Future<Output = Result<(), tungstenite::Error>> + 'a,
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
    pub close_code: CloseCode,
}

impl Violation {
    /// A frame that is valid but not allowed now.
    pub fn unexpected(message: impl Into<String>) -> Self {
        Violation { code: ErrorCode::UnexpectedFrame, message: message.into(), close_code: CloseCode::Policy }
    }
}

/// Judges what `socket.recv()` returned.
pub fn classify(received: Option<Result<Message, tungstenite::Error>>) -> Incoming {
    let message = match received {
        Some(Ok(message)) => message,
        Some(Err(e)) if is_invalid_utf8(&e) => {
            return Incoming::Invalid(Violation {
                code: ErrorCode::MalformedFrame,
                message: "a text frame must be valid UTF-8".into(),
                close_code: CloseCode::Invalid,
            })
        }
        Some(Err(e)) => {
            return match (too_long(&e), framing_violation(&e)) {
                (Some(size), _) => Incoming::Invalid(too_large(format!("message of {size} bytes or more"))),
                (None, Some(rule)) => Incoming::Invalid(Violation {
                    code: ErrorCode::MalformedFrame,
                    message: format!("not a valid WebSocket frame: {rule}"),
                    close_code: CloseCode::Protocol,
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
                close_code: CloseCode::Policy,
            }),
        },
        Message::Binary(_) => Incoming::Invalid(Violation {
            code: ErrorCode::MalformedFrame,
            message: "binary frames are not part of the protocol: send JSON text frames".into(),
            close_code: CloseCode::Unsupported,
        }),
        // A raw frame is only ever written, never read.
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Incoming::Ignore,
        Message::Close(_) => Incoming::Closed,
    }
}

/// `FrameTooLarge`, closed with 1009 (RFC 6455 §7.4.1: a message too big to process); `what` names the message.
fn too_large(what: String) -> Violation {
    Violation {
        code: ErrorCode::FrameTooLarge,
        message: format!("{what} is over the limit of {MAX_FRAME_BYTES} bytes"),
        close_code: CloseCode::Size,
    }
}

/// The transport's error for a message over its limit: a frame whose header announces more (refused before its
/// payload is read) or fragments that add up to more. Its size is the announced length, or the fragments' total so
/// far. After it the transport reads nothing more (the stream is fused), but it still writes, so the `Error` and
/// the close frame go out.
fn too_long(error: &tungstenite::Error) -> Option<usize> {
    use tungstenite::error::CapacityError;
    match error {
        tungstenite::Error::Capacity(CapacityError::MessageTooLong { size, .. }) => Some(*size),
        _ => None,
    }
}

/// The transport's error for a frame that breaks RFC 6455's framing (a control frame over 125 bytes or fragmented,
/// a continuation with nothing to continue, reserved bits without an extension, an unmasked client frame, an
/// unknown opcode, a new message inside a fragmented one), as words for the `Error` frame; answered with close 1002
/// (§7.4.1). As after [`too_long`], the transport reads no more but still writes. A TCP close without the closing
/// handshake is a protocol error to tungstenite too, but there is nobody left to tell: `None`.
fn framing_violation(error: &tungstenite::Error) -> Option<String> {
    use tungstenite::error::ProtocolError as P;
    match error {
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
fn is_invalid_utf8(error: &tungstenite::Error) -> bool {
    matches!(error, tungstenite::Error::Utf8(_))
}

/// Sends text that may be shared with other connections.
pub async fn send_text(socket: &mut Socket, text: Utf8Bytes) -> Result<(), Gone> {
    socket
        .write(|ws| async move {
            feed_text(ws, text).await?;
            ws.flush().await
        })
        .await
}

/// Buffers a text message without flushing it; text over [`FRAGMENT`] bytes as a fragmented message, each fragment
/// written as soon as it is buffered.
async fn feed_text(ws: &mut Transport, text: Utf8Bytes) -> Result<(), tungstenite::Error> {
    if text.len() <= FRAGMENT {
        return ws.feed(Message::Text(text)).await;
    }
    for fragment in fragments(Bytes::from(text)) {
        ws.feed(Message::Frame(fragment)).await?;
    }
    Ok(())
}

/// Payload bytes per fragment of a large message: the write buffer's size, so that each fragment is written as soon
/// as it is buffered and the buffer never grows past one fragment (see `super::WRITE_BUFFER`). heaptrack showed the
/// buffer holding the largest frame a socket ever sent, the `Joined` (up to ~13 KB), for the connection's life.
const FRAGMENT: usize = super::WRITE_BUFFER;

/// A text message as RFC 6455 §5.4 fragments: a text frame, then continuations, the last one final. A fragment may
/// end inside a UTF-8 sequence; only the whole message must be valid UTF-8 (§5.6).
fn fragments(text: Bytes) -> impl Iterator<Item = Frame> {
    let len = text.len();
    (0..len).step_by(FRAGMENT).map(move |start| {
        let end = (start + FRAGMENT).min(len);
        let opcode = if start == 0 { Data::Text } else { Data::Continue };
        Frame::message(text.slice(start..end), OpCode::Data(opcode), end == len)
    })
}

pub async fn send(socket: &mut Socket, frame: &ServerFrame) -> Result<(), Gone> {
    send_text(socket, frame.encode().into()).await
}

/// Sends a last frame and closes; both leave in one write (see `WRITE_BUFFER`).
pub async fn send_final(socket: &mut Socket, text: Utf8Bytes, code: CloseCode, reason: &'static str) {
    if socket.write(|ws| feed_text(ws, text)).await.is_ok() {
        close(socket, code, reason).await;
    }
}

/// [`send_final`] for a frame the hub may have sent to several connections at once (`fan_out`: an end, or on Redis
/// the run of it one node received): once this connection's frames are written, it waits (at most [`CLOSE_WAIT`])
/// until every connection of the fan-out has taken its frame before it awaits its client's close, so that the
/// others' writes go before its teardown (see [`FanOut`]).
pub async fn send_final_after(
    socket: &mut Socket,
    text: Utf8Bytes,
    code: CloseCode,
    reason: &'static str,
    fan_out: Option<FanOut>,
) {
    if socket.write(|ws| feed_text(ws, text)).await.is_ok() && send_close(socket, code, reason).await.is_ok() {
        if let Some(fan_out) = fan_out {
            fan_out.drained(CLOSE_WAIT).await;
        }
        await_close(socket).await;
    }
}

/// Answers a violation with its `Error` frame, then closes.
pub async fn fail(socket: &mut Socket, violation: Violation) {
    let frame = ServerFrame::Error { id: None, code: violation.code, message: violation.message };
    send_final(socket, frame.encode().into(), violation.close_code, "").await;
}

/// Sends a close frame and waits (briefly) for the client's: closing the TCP connection with unread data could
/// reset it and lose the frames the client has not read yet.
pub async fn close(socket: &mut Socket, code: CloseCode, reason: &'static str) {
    if send_close(socket, code, reason).await.is_ok() {
        await_close(socket).await;
    }
}

async fn send_close(socket: &mut Socket, code: CloseCode, reason: &'static str) -> Result<(), Gone> {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    socket.write(|ws| ws.send(Message::Close(Some(frame)))).await
}

/// Reads until the client's close frame, for at most [`CLOSE_WAIT`].
async fn await_close(socket: &mut Socket) {
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(message)) = socket.ws.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reassembles fragments as a client would, checking each frame's header on the way.
    fn reassemble(frames: Vec<Frame>) -> Vec<u8> {
        let last = frames.len() - 1;
        let mut message = Vec::new();
        for (i, frame) in frames.into_iter().enumerate() {
            let expected = if i == 0 { Data::Text } else { Data::Continue };
            assert_eq!(frame.header().opcode, OpCode::Data(expected), "fragment {i}");
            assert_eq!(frame.header().is_final, i == last, "fragment {i} of {last}");
            assert!(!frame.payload().is_empty() && frame.payload().len() <= FRAGMENT, "fragment {i}");
            message.extend_from_slice(frame.payload());
        }
        message
    }

    #[test]
    fn a_large_text_comes_back_whole_from_its_fragments() {
        // Just over one fragment, an exact multiple (no empty last fragment), and multi-byte characters cut in two.
        for text in ["x".repeat(FRAGMENT + 1), "y".repeat(3 * FRAGMENT), "é€😀".repeat(FRAGMENT)] {
            let frames: Vec<Frame> = fragments(Bytes::from(text.clone())).collect();
            assert_eq!(frames.len(), text.len().div_ceil(FRAGMENT));
            assert_eq!(reassemble(frames), text.as_bytes());
        }
    }
}
