//! The countdown to a session's end (issue 13): [`SessionEnding`], the `sessionEnding` payload.

use endsession_protocol::{EndReason, EndedBy};
use serde::Serialize;

/// The session will end at `ends_at` unless someone with `kick_participant` (or the REST API) cancels it: the
/// `sessionEnding` event's payload, and what [`Machine::session_ending`](crate::Machine::session_ending) holds while
/// the countdown runs. `{sessionId, endsAt, remainingMs, reason}` plus `endedBy` and `message` when given.
///
/// ```
/// use endsession::SessionEnding;
/// use endsession_protocol::EndReason;
/// let s = SessionEnding {
///     session_id: "s-1".into(),
///     ends_at: "2026-11-30T00:00:30.000Z".into(),
///     remaining_ms: 30_000,
///     reason: EndReason::HostEndedMeeting,
///     ended_by: None,
///     message: Some("Wrapping up".into()),
/// };
/// assert_eq!(s.remaining_ms, 30_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnding {
    pub session_id: String,
    /// When the session ends: UTC, RFC 3339 with milliseconds, by the server's clock.
    pub ends_at: String,
    /// How long until then, in ms, from when the server sent it (free of clock skew; a u32 is 49 days, far past
    /// [`endsession_protocol::MAX_GRACE_SECONDS`]).
    pub remaining_ms: u32,
    /// `HOST_ENDED_MEETING` (a host or the API asked for it) or `NO_HOST`.
    pub reason: EndReason,
    /// Who asked for it: a participant or `{api: true}`; `None` for `NO_HOST`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<EndedBy>,
    /// The host's message, shown with the countdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
