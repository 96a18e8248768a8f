//! What an "End meeting for all" control should show: [`EndState`].

use crate::core::{LeaveState, RoomState};
use serde::{Serialize, Serializer};

/// The end state of one participant, derived from where it is ([`RoomState`]), its `kick_participant` permission
/// and whether an end it asked for is under way. The framework bindings render it; none of them re-derives it.
///
/// | room state | permission | end in flight | end state |
/// |---|---|---|---|
/// | `Joined` | any | yes | `Ending` |
/// | `Joined` | `kick_participant` | no | `Allowed` |
/// | `Joined` | none | no | `NoPermission` |
/// | `Init`, `Joining`, `Reconnecting` | any | any | `NotJoined` |
/// | `Left(state)` | any | any | `Left(state)` (`ended`, `kicked`, `left`, ...) |
///
/// ```
/// use endsession::{EndState, LeaveState, RoomState};
/// assert_eq!(EndState::derive(RoomState::Joined, true, false), EndState::Allowed);
/// assert_eq!(EndState::derive(RoomState::Joined, true, true).as_str(), "ending");
/// assert_eq!(EndState::derive(RoomState::Left(LeaveState::Ended), true, false).as_str(), "ended");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndState {
    /// In the session, and allowed to end it for everyone.
    Allowed,
    /// In the session, without the `kick_participant` permission.
    NoPermission,
    /// Not in the session (yet, or again): before joining, while joining or reconnecting.
    NotJoined,
    /// This participant's end is under way: sent, or confirmed and the `roomLeft` not here yet.
    Ending,
    /// Out of the room, and why (`Ended` when the session was ended for all).
    Left(LeaveState),
}

/// Before the first join.
impl Default for EndState {
    fn default() -> Self {
        EndState::NotJoined
    }
}

impl EndState {
    /// The end state for a participant in `room`, with or without the permission, with or without an end in flight.
    pub fn derive(room: RoomState, kick_participant: bool, ending: bool) -> Self {
        match room {
            RoomState::Joined if ending => EndState::Ending,
            RoomState::Joined if kick_participant => EndState::Allowed,
            RoomState::Joined => EndState::NoPermission,
            RoomState::Init | RoomState::Joining | RoomState::Reconnecting => EndState::NotJoined,
            RoomState::Left(state) => EndState::Left(state),
        }
    }

    /// The JavaScript name: `allowed`, `no-permission`, `not-joined`, `ending`, or the leave state.
    pub fn as_str(self) -> &'static str {
        match self {
            EndState::Allowed => "allowed",
            EndState::NoPermission => "no-permission",
            EndState::NotJoined => "not-joined",
            EndState::Ending => "ending",
            EndState::Left(state) => state.as_str(),
        }
    }
}

/// As its JavaScript name ([`EndState::as_str`]).
impl Serialize for EndState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl RoomState {
    /// Reads a room state as JavaScript shows it (`meeting.self.roomState`, ours or RealtimeKit's). Unknown
    /// names (`init`, `waitlisted`, ...) read as [`RoomState::Init`]; `disconnected` is [`RoomState::Reconnecting`].
    ///
    /// ```
    /// use endsession::{LeaveState, RoomState};
    /// assert_eq!(RoomState::parse("joined"), RoomState::Joined);
    /// assert_eq!(RoomState::parse("disconnected"), RoomState::Reconnecting);
    /// assert_eq!(RoomState::parse("kicked"), RoomState::Left(LeaveState::Kicked));
    /// assert_eq!(RoomState::parse("waitlisted"), RoomState::Init);
    /// ```
    pub fn parse(name: &str) -> Self {
        match LeaveState::parse(name) {
            _ if name == "joined" => RoomState::Joined,
            Some(LeaveState::Disconnected) => RoomState::Reconnecting,
            Some(state) => RoomState::Left(state),
            None => RoomState::Init,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_derives_as_the_table_says() {
        for kick in [false, true] {
            for ending in [false, true] {
                for room in [RoomState::Init, RoomState::Joining, RoomState::Reconnecting] {
                    assert_eq!(EndState::derive(room, kick, ending), EndState::NotJoined);
                }
                for state in LeaveState::ALL {
                    assert_eq!(EndState::derive(RoomState::Left(state), kick, ending), EndState::Left(state));
                }
            }
        }
        assert_eq!(EndState::derive(RoomState::Joined, false, false), EndState::NoPermission);
        assert_eq!(EndState::derive(RoomState::Joined, true, false), EndState::Allowed);
        assert_eq!(EndState::derive(RoomState::Joined, true, true), EndState::Ending);
        // A permission revoked while the end is in flight: the server decides; the control shows the end.
        assert_eq!(EndState::derive(RoomState::Joined, false, true), EndState::Ending);
    }

    #[test]
    fn names_are_the_javascript_ones() {
        let names: Vec<_> = [EndState::Allowed, EndState::NoPermission, EndState::NotJoined, EndState::Ending]
            .into_iter()
            .chain(LeaveState::ALL.map(EndState::Left))
            .map(EndState::as_str)
            .collect();
        assert_eq!(
            names,
            [
                "allowed",
                "no-permission",
                "not-joined",
                "ending",
                "ended",
                "kicked",
                "left",
                "rejected",
                "disconnected",
                "failed"
            ]
        );
    }

    #[test]
    fn room_states_parse_back_from_their_javascript_names() {
        for room in [RoomState::Init, RoomState::Joined, RoomState::Reconnecting]
            .into_iter()
            .chain(LeaveState::ALL.into_iter().filter(|s| *s != LeaveState::Disconnected).map(RoomState::Left))
        {
            assert_eq!(RoomState::parse(room.as_str()), room);
        }
        assert_eq!(RoomState::parse("joining"), RoomState::Init);
        assert_eq!(RoomState::parse("stageLeft"), RoomState::Init);
    }
}
