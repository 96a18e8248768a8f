//! Every error a call can fail with: [`ClientError`].
//!
//! Codes are strings, as RealtimeKit's `ClientError.code` is. `1201` and `1205` carry RealtimeKit's exact messages;
//! `4000`–`4050` come from the server ([`endsession_protocol::ErrorCode`]); `4900`–`4902` are the client's own.

use endsession_protocol::ErrorCode;
use serde::Serialize;

/// Why a `join()` or `kickAll()` call failed.
///
/// ```
/// use endsession::ClientError;
/// let e = ClientError::not_joined();
/// assert_eq!(e.code, "1205");
/// assert!(e.message.starts_with("[ERR1205]: {Participant} Action not permitted without joining room"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientError {
    /// `"1201"`, `"1205"`, a server code such as `"4010"`, or a client code `"49xx"`.
    pub code: String,
    /// A sentence for a developer, prefixed `[ERR<code>]: ` as RealtimeKit's are.
    pub message: String,
}

/// RealtimeKit: kickAll without the `kick_participant` permission.
pub const PERMISSION_DENIED: &str = "1201";
/// RealtimeKit: kickAll before joining (and, unlike RealtimeKit, after leaving).
pub const NOT_JOINED: &str = "1205";
/// The socket could not be opened, or closed before the server let the participant in.
pub const CONNECTION_FAILED: &str = "4900";
/// The socket dropped before the server answered a `kickAll`.
pub const CONNECTION_LOST: &str = "4901";
/// The participant left the room (`leave()`, or the server ended it) before the call completed.
pub const ROOM_LEFT: &str = "4902";

impl ClientError {
    fn new(code: &str, message: &str) -> Self {
        ClientError { code: code.into(), message: message.into() }
    }

    /// `1205`, RealtimeKit's message for `kickAll()` outside the room.
    pub fn not_joined() -> Self {
        Self::new(
            NOT_JOINED,
            "[ERR1205]: {Participant} Action not permitted without joining room\nCan`t kick all without joining room",
        )
    }

    /// `1201`, RealtimeKit's message for `kickAll()` without `kick_participant`.
    pub fn permission_denied() -> Self {
        Self::new(
            PERMISSION_DENIED,
            "[ERR1201]: {Participant} Permission denied\nUnauthorized: User does not have permission to kick peers.",
        )
    }

    /// `4900`: the server could not be reached, or reconnecting gave up.
    pub fn connection_failed() -> Self {
        Self::new(CONNECTION_FAILED, "[ERR4900]: Could not connect to the meeting server")
    }

    /// `4901`: the socket dropped while a request was waiting for the server.
    pub fn connection_lost() -> Self {
        Self::new(CONNECTION_LOST, "[ERR4901]: The connection to the meeting server was lost before it answered")
    }

    /// `4902`: the room was left before the call completed.
    pub fn room_left() -> Self {
        Self::new(ROOM_LEFT, "[ERR4902]: The participant left the room before the call completed")
    }

    /// An error frame from the server, with its code; `1201` gets RealtimeKit's message.
    ///
    /// ```
    /// use endsession::ClientError;
    /// use endsession_protocol::ErrorCode;
    /// let e = ClientError::from_server(ErrorCode::InvalidToken, "token expired");
    /// assert_eq!((e.code.as_str(), e.message.as_str()), ("4010", "[ERR4010]: token expired"));
    /// ```
    pub fn from_server(code: ErrorCode, message: &str) -> Self {
        if code == ErrorCode::PermissionDenied {
            return Self::permission_denied();
        }
        let code = code.as_str();
        let mut text = String::with_capacity(9 + code.len() + message.len());
        text.push_str("[ERR");
        text.push_str(code);
        text.push_str("]: ");
        text.push_str(message);
        Self::new(code, &text)
    }
}
