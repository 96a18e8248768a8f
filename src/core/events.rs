//! Every event the meeting emits: [`Event`].

use crate::core::{EndState, Leave};
use endsession_protocol::Participant;
use serde::Serialize;

/// An event for the JavaScript listeners. [`Event::name`] is the event name, the fields are its payload.
///
/// | name | emitter in JS | payload |
/// |---|---|---|
/// | `roomJoined` | `meeting.self` | `{reconnected}` |
/// | `roomLeft` | `meeting.self` | `{state, sessionId, reason}` (+ `kickedCount`, `code`, `message`: [`Leave`]) |
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
            Event::EndStateChange { .. } => "endStateChange",
        }
    }
}
