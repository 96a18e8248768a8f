//! How and why the participant left the room: [`Leave`], the `roomLeft` payload.

use crate::core::LeaveState;
use endsession_protocol::{EndReason, EndedBy, ErrorCode};
use serde::Serialize;

/// One `roomLeft`: the leave state, the session it was in, and why. Fields that do not apply to the state are
/// `None`; JavaScript gets `{state, sessionId, reason}` plus `kickedCount`, `message`, `endedBy` and `eventId` for an
/// end and `code`/`message` for a refusal (see `interop::event`).
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
    /// With [`LeaveState::Ended`]: the host's message (`kickAll`'s `message`); with [`LeaveState::Rejected`] (or
    /// another server `roomLeft` that gave one): the server's why, for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// With [`LeaveState::Ended`]: who ended it, a participant or `{api: true}` (`None` for `ALL_PARTICIPANTS_LEFT`,
    /// `NO_HOST`, or from a server that did not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<EndedBy>,
    /// With [`LeaveState::Ended`]: the id of the end's `meeting.ended` event, which is the `rtk-uuid` header of its
    /// webhook deliveries (the same for every participant of the session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

impl Leave {
    /// A leave with no why beyond its state.
    pub fn new(state: LeaveState, session_id: &str) -> Self {
        Leave {
            state,
            session_id: session_id.into(),
            reason: None,
            kicked_count: None,
            code: None,
            message: None,
            ended_by: None,
            event_id: None,
        }
    }
}
