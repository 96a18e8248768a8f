//! Where the participant is: [`RoomState`].

pub use endsession_protocol::LeaveState;

/// The participant's place in the room, as `meeting.self.roomState` shows it.
///
/// ```
/// use endsession::{LeaveState, RoomState};
/// assert_eq!(RoomState::Init.as_str(), "init");
/// assert_eq!(RoomState::Reconnecting.as_str(), "disconnected");
/// assert_eq!(RoomState::Left(LeaveState::Ended).as_str(), "ended");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomState {
    /// Created, `join()` not called yet.
    Init,
    /// `join()` called; waiting for the socket and the server's `joined`.
    Joining,
    /// In the session.
    Joined,
    /// The socket dropped while joined; a reconnect is scheduled or under way. JavaScript reads `disconnected`, as
    /// RealtimeKit's `roomState` does meanwhile.
    Reconnecting,
    /// Out of the room, and why. `roomLeft` was emitted with the same state.
    Left(LeaveState),
}

impl RoomState {
    /// The JavaScript name: `init`, `joining`, `joined`, `disconnected` (reconnecting), or the leave state (`ended`,
    /// `left`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RoomState::Init => "init",
            RoomState::Joining => "joining",
            RoomState::Joined => "joined",
            RoomState::Reconnecting => "disconnected",
            RoomState::Left(state) => state.as_str(),
        }
    }
}
