//! The wasm module behind the `endsession` npm package: one participant's meeting, able to end the session for
//! everyone.
//!
//! Two layers, as in automerge:
//! - a pure core that knows nothing of JavaScript and is tested natively: [`Machine`] (the state machine) with its
//!   inputs and [`Effect`]s, [`RoomState`], [`EndState`], [`Event`], [`ClientError`], [`Reconnect`],
//!   [`Participants`], [`ws_url`];
//! - a thin wasm-bindgen layer: [`WasmMeeting`] (the JavaScript surface), `driver` (runs the machine
//!   with a `WebSocket` and `setTimeout`) and `interop` (every Rust ↔ JavaScript conversion).
//!
//! The TypeScript package (`js/`) wraps [`WasmMeeting`] in the RealtimeKit-shaped `Meeting`; users never see it.

pub mod core;
mod wasm;

pub use crate::core::*;
pub use wasm::{end_state_of, WasmMeeting};
