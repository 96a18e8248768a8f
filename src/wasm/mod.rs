//! The thin wasm-bindgen layer over [`crate::core`]: [`WasmMeeting`] (the JavaScript surface), `driver` (runs the
//! machine with a `WebSocket` and timers), `interop` (every Rust ↔ JavaScript conversion), `vocabulary` (the names
//! emitted into the `.d.ts`).

mod driver;
mod interop;
mod meeting;
mod vocabulary;

pub use meeting::{end_state_of, WasmMeeting};
