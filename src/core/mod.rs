//! The pure core: one participant's meeting as a state machine, with no JavaScript in it, tested natively.
//!
//! [`Machine`] takes inputs (calls, socket frames, timer firings) and returns [`Effect`]s for a driver to carry out;
//! around it the states ([`RoomState`], [`EndState`], [`LeaveState`]), the [`Event`]s, the [`ClientError`]s, the
//! [`Participants`] list and the [`Reconnect`] policy.

mod countdown;
mod effects;
mod end_state;
mod endpoint;
pub(crate) mod errors;
mod events;
mod leave;
mod machine;
mod participants;
mod reconnect;
mod room;

pub use countdown::SessionEnding;
pub use effects::{CallId, CancelEndResult, Effect, KickAllResult, Outcome};
pub use end_state::EndState;
pub use endpoint::ws_url;
pub use errors::{ClientError, CONNECTION_FAILED, CONNECTION_LOST, NOT_JOINED, PERMISSION_DENIED, ROOM_LEFT};
pub use events::Event;
pub use leave::Leave;
pub use machine::{Machine, CONNECT_TIMEOUT_MS, HEARTBEAT_TIMEOUT_FACTOR};
pub use participants::Participants;
pub use reconnect::Reconnect;
pub use room::{LeaveState, RoomState};
