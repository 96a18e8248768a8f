//! Wire messages between the endsession client (the wasm module) and `endsession-server`.
//!
//! One WebSocket per participant, one JSON object per text frame, told apart by its `"type"` field.
//! The client opens the socket at [`WS_PATH`] and its first frame must be [`ClientFrame::Join`]; the server answers
//! [`ServerFrame::Joined`] or an [`ServerFrame::Error`] followed by a close.
//!
//! ```
//! use endsession_protocol::{ClientFrame, ServerFrame, LeaveState, EndReason};
//!
//! let frame = ClientFrame::KickAll { id: 7 };
//! assert_eq!(ClientFrame::decode(&frame.encode()).unwrap(), frame);
//!
//! let end = ServerFrame::RoomLeft {
//!     state: LeaveState::Ended,
//!     session_id: "s-1".into(),
//!     reason: Some(EndReason::HostEndedMeeting),
//! };
//! assert!(end.encode().contains(r#""state":"ended""#));
//! ```
//!
//! The codec is `miniserde`, not `serde_json`: this crate is compiled into the browser payload, which has a 25 KB
//! (gzip) budget, and the frames are few and flat.

mod codec;
mod frames;

pub use codec::DecodeError;
pub use frames::{ClientFrame, EndReason, ErrorCode, LeaveState, Participant, Permissions, ServerFrame};

/// Path of the WebSocket endpoint on the server.
pub const WS_PATH: &str = "/realtime/ws";

/// Version of this protocol, sent in [`ClientFrame::Join`]; the server refuses versions it does not speak.
pub const PROTOCOL_VERSION: u32 = 1;

/// Large sessions stay O(1) per join: `Joined.participants` lists at most this many others (the earliest to join,
/// with `participantCount` giving the total), and joins and leaves are announced (`ParticipantJoined`,
/// `ParticipantLeft`) only while the session, counting the participant who comes or goes, has at most this many
/// participants. So in a session of up to this size every client knows everyone; beyond it, a client knows the
/// first ones plus those announced, and nobody is flooded with an O(n) list or O(n) announcements per join.
pub const LISTED_PARTICIPANTS_MAX: usize = 100;

/// Largest client frame the server accepts, in bytes. Larger frames get [`ErrorCode::FrameTooLarge`] and a close.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
