//! Every event the meeting emits: [`Event`].

use crate::core::{EndState, Leave, SessionEnding};
use endsession_protocol::{EndedBy, Participant};
use serde::Serialize;

/// An event for the JavaScript listeners. [`Event::name`] is the event name, the fields are its payload.
///
/// | name | emitter in JS | payload |
/// |---|---|---|
/// | `roomJoined` | `meeting.self` | `{reconnected}` |
/// | `roomLeft` | `meeting.self` | `{state, sessionId, reason}` (+ `kickedCount`, `code`, `message`, `endedBy`, `eventId`: [`Leave`]) |
/// | `sessionEnding` | `meeting.self` | [`SessionEnding`] |
/// | `sessionEndCancelled` | `meeting.self` | `{sessionId, cancelledBy?}` |
/// | `permissionsUpdate` | `meeting.self.permissions` | `{kickParticipant}` |
/// | `participantJoined` | `meeting.participants.joined` | the participant |
/// | `participantLeft` | `meeting.participants.joined` | the participant |
/// | `endStateChange` | the meeting's end-state source | `{state}` |
///
/// ```
/// use endsession::{Event, Leave, LeaveState};
/// assert_eq!(Event::RoomLeft(Leave::new(LeaveState::Ended, "s-1")).name(), "roomLeft");
/// ```
/// Serializes as its payload alone (the name travels apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum Event {
    /// The participant is in the session; `reconnected` after a dropped socket was restored.
    RoomJoined { reconnected: bool },
    /// The participant is out of the room, and why. Emitted once per leave (`disconnected` may precede a later
    /// one).
    RoomLeft(Leave),
    /// The participant's preset changed on the server.
    PermissionsUpdate { kick_participant: bool },
    /// Someone else joined the session.
    ParticipantJoined(Participant),
    /// Someone else left the session.
    ParticipantLeft(Participant),
    /// A countdown to the session's end started (or was running when this participant joined or came back).
    SessionEnding(SessionEnding),
    /// The countdown was cancelled: the session goes on. `cancelled_by` is `None` when a host's return cancelled a
    /// `NO_HOST` countdown, or when the countdown was found gone on coming back from a dropped socket.
    SessionEndCancelled {
        session_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        cancelled_by: Option<EndedBy>,
    },
    /// [`Machine::end_state`](crate::Machine::end_state) changed. The driver emits it after the other events of
    /// an input, comparing with the last state it reported, so a listener that calls back in never sees it stale.
    EndStateChange { state: EndState },
}

impl Event {
    /// The JavaScript event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::RoomJoined { .. } => "roomJoined",
            Event::RoomLeft(_) => "roomLeft",
            Event::PermissionsUpdate { .. } => "permissionsUpdate",
            Event::ParticipantJoined(_) => "participantJoined",
            Event::ParticipantLeft(_) => "participantLeft",
            Event::SessionEnding(_) => "sessionEnding",
            Event::SessionEndCancelled { .. } => "sessionEndCancelled",
            Event::EndStateChange { .. } => "endStateChange",
        }
    }
}
