//! What the state machine asks its driver to do: [`Effect`].

use crate::core::{ClientError, Event};
use endsession_protocol::ClientFrame;
use serde::Serialize;

/// Names one pending `join()`, `kickAll()` or `cancelEnd()` call, i.e. one JavaScript promise. The driver picks the ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallId(pub u32);

/// The server's answer to `kickAll()`.
///
/// ```
/// use endsession::KickAllResult;
/// let r = KickAllResult { session_id: "s-1".into(), kicked_count: 3, already_ended: false, ends_at: None };
/// assert_eq!(r.kicked_count, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KickAllResult {
    /// The session that ended.
    pub session_id: String,
    /// How many participants the end removed.
    pub kicked_count: u32,
    /// True when the session had already been ended by someone else.
    pub already_ended: bool,
    /// With a countdown (`kickAll` with `graceSeconds`, answered `kickAllScheduled`): when the session ends, UTC,
    /// RFC 3339 with milliseconds (the server's clock); `kicked_count` is 0 then, as nobody has been removed yet.
    /// Left out of the JavaScript object when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
}

/// The server's answer to `cancelEnd()`: `{cancelled}`, false when no countdown was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CancelEndResult {
    pub cancelled: bool,
}

/// What a call resolves with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `join()` completed.
    Joined,
    /// `kickAll()` completed.
    KickAll(KickAllResult),
    /// `cancelEnd()` completed.
    CancelEnd(CancelEndResult),
}

/// One instruction for the driver, in the order the machine produced them.
///
/// ```
/// use endsession::{CallId, ClientError, Effect, Machine, Reconnect};
/// let mut m = Machine::new("token".into(), Reconnect::default());
/// m.kick_all(CallId(1));
/// assert_eq!(m.take_effects(), [Effect::Reject(CallId(1), ClientError::not_joined())]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Open a socket to the server (there is none open).
    Open,
    /// Send this frame on the open socket.
    Send(ClientFrame),
    /// Close the socket if one is open, and cancel a scheduled reconnect. No close event follows.
    Close,
    /// Call `reconnect_due` after this many milliseconds.
    ScheduleReconnect(u32),
    /// `Some(ms)`: (re)start the silence timer, replacing any running one: call `silence_due` after `ms` unless
    /// another `WatchSilence` comes first. `None`: stop it. Comes after every frame while the server sends
    /// heartbeats, so `silence_due` means "no frame for `ms`".
    WatchSilence(Option<u32>),
    /// Tell the listeners.
    Emit(Event),
    /// Resolve the call's promise.
    Resolve(CallId, Outcome),
    /// Reject the call's promise.
    Reject(CallId, ClientError),
}
