//! Wire messages between the endsession client (the wasm module) and `endsession-server`.
//!
//! One WebSocket per participant, one JSON object per text frame, told apart by its `"type"` field.
//! The client opens the socket at [`WS_PATH`] and its first frame must be [`ClientFrame::Join`]; the server answers
//! [`ServerFrame::Joined`] or an [`ServerFrame::Error`] followed by a close.
//!
//! ```
//! use endsession_protocol::{ClientFrame, ServerFrame, LeaveState, EndReason};
//!
//! let frame = ClientFrame::kick_all(7);
//! assert_eq!(ClientFrame::decode(&frame.encode()).unwrap(), frame);
//!
//! let end = ServerFrame::RoomLeft {
//!     state: LeaveState::Ended,
//!     session_id: "s-1".into(),
//!     reason: Some(EndReason::HostEndedMeeting),
//!     kicked_count: Some(3),
//!     message: None,
//!     ended_by: None,
//!     event_id: None,
//! };
//! assert!(end.encode().contains(r#""state":"ended""#));
//! ```
//!
//! The wire form is the serde derives on the frames (`#[serde(tag = "type", rename_all = "camelCase")]`); the
//! server and the load generator encode and decode with `serde_json` through [`ClientFrame::encode`],
//! [`ServerFrame::decode`] and the like; the browser decodes `JSON.parse` output with `serde-wasm-bindgen`.
//! [`fixtures`] (feature `fixtures`) pairs JSON texts with frames for every decoder's tests.

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
mod frames;
mod json;

pub use frames::{
    ClientFrame, EndOptions, EndReason, EndedBy, ErrorCode, LeaveState, Participant, Permissions, RunningCountdown,
    ServerFrame,
};
pub use json::DecodeError;

/// Path of the WebSocket endpoint on the server.
pub const WS_PATH: &str = "/realtime/ws";

/// Version of this protocol, sent in [`ClientFrame::Join`]; the server refuses versions it does not speak.
pub const PROTOCOL_VERSION: u32 = 1;

/// Large sessions stay O(1) per join. While a session, counting the participant who comes or goes, has at most this
/// many participants, every client knows everyone: `Joined.participants` lists all the others, and joins and leaves
/// are announced (`ParticipantJoined`, `ParticipantLeft`). Beyond it, `Joined` lists only the
/// [`LARGE_SESSION_LISTED`] earliest to join (with `participantCount` giving the total) and nothing is announced, so
/// nobody is flooded with an O(n) list or O(n) announcements per join.
pub const LISTED_PARTICIPANTS_MAX: usize = 100;

/// How many others `Joined.participants` lists once a session is larger than [`LISTED_PARTICIPANTS_MAX`]: the
/// earliest to join (often the hosts). Kept small because a socket's write buffer stays as large as the largest
/// frame it ever sent: a 100-name `Joined` (~13 KB) held per connection doubled the server's memory per idle
/// participant at 10,000 (bench/end-latency: 24.0 KiB with 100 listed, 14.3 KiB with 20).
pub const LARGE_SESSION_LISTED: usize = 20;

/// Largest client frame the server accepts, in bytes. Larger frames get [`ErrorCode::FrameTooLarge`] and a close.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// Longest end message (`kickAll`'s `message`), in characters: it is shown on every participant's ended screen and
/// sent to every one of them, so it stays a sentence, not a document.
pub const MAX_END_MESSAGE_CHARS: usize = 500;

/// Longest countdown `kickAll`'s `graceSeconds` may ask for: an hour. 0 ends at once.
pub const MAX_GRACE_SECONDS: u32 = 3600;
