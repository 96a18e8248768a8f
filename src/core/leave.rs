//! How and why the participant left the room: [`Leave`], the `roomLeft` payload.

use crate::core::LeaveState;
use endsession_protocol::{EndReason, ErrorCode};
use serde::Serialize;

/// One `roomLeft`: the leave state, the session it was in, and why. Fields that do not apply to the state are
/// `None`; JavaScript gets `{state, sessionId, reason}` plus `kickedCount` for an end and `code`/`message` for a
/// refusal (see `interop::event`).
///
/// ```
/// use endsession::{Leave, LeaveState};
/// let left = Leave::new(LeaveState::Left, "s-1");
/// assert_eq!((left.state, left.session_id.as_str(), left.reason), (LeaveState::Left, "s-1", None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Leave {
    pub state: LeaveState,
    /// The session the participant was in (or was refused from); empty when it never got one.
    pub session_id: String,
    /// With [`LeaveState::Ended`]: why the session ended, as the server said (`None` from a server that did not).
    pub reason: Option<EndReason>,
    /// With [`LeaveState::Ended`]: how many participants the end removed, when the server said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kicked_count: Option<u32>,
    /// With [`LeaveState::Rejected`]: the server's error code, when the refusal was an error frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    /// With [`LeaveState::Rejected`] (or a server `roomLeft` that gave one): the server's why, for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Leave {
    /// A leave with no why beyond its state.
    pub fn new(state: LeaveState, session_id: &str) -> Self {
        Leave { state, session_id: session_id.into(), reason: None, kicked_count: None, code: None, message: None }
    }
}
