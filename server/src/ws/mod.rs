//! The WebSocket endpoint at [`endsession_protocol::WS_PATH`]: one socket per participant connection.
//!
//! Deadlines and caps (from [`crate::config::Limits`]): `join` within `join_timeout` of the upgrade; every write
//! within `write_timeout`; a heartbeat (WebSocket Ping + `ping` frame) every `heartbeat_interval`, and a joined socket
//! silent for `heartbeat_timeout` is dropped (grace, then `participantLeft`, as for a TCP drop); at most
//! `outbox_frames` queued frames per socket; at most `max_sockets_per_participant` sockets per participant.

mod connection;
mod frames;
mod sockets;

pub use sockets::{SocketSlot, Sockets};

use crate::hub::Hub;
use crate::store::Store;
use crate::token::TokenKeys;
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use std::sync::Arc;

/// Largest frame, and largest message (all its fragments together), the transport reads: the protocol's own limit.
/// tungstenite refuses a frame whose header announces more before reading its payload, and a fragmented message as
/// soon as its fragments add up to more, so an oversized message costs the server at most this much memory; the
/// refusal is answered with `FrameTooLarge` and close 1009 (see `frames::classify`).
const MAX_TRANSPORT_MESSAGE: usize = endsession_protocol::MAX_FRAME_BYTES;

/// Initial read buffer, kept for the connection's life. Client frames are tiny (a `join` with its token is the
/// largest, under 1 KiB; a larger frame grows the buffer as it needs); tungstenite's 128 KiB default would dominate
/// the memory of an idle connection. Measured with `N=2000 bench/end-latency.sh`, server RSS per idle participant:
/// 13,685 B with 4 KiB, 10,271 B with 1 KiB (the floor: 8,800 B).
const READ_BUFFER: usize = 1024;

/// Frames smaller than this wait in the write buffer for the next flush, so that a `roomLeft` and the close frame
/// behind it leave in one write (one segment) instead of two; larger frames are written at once.
const WRITE_BUFFER: usize = 1024;

/// What a connection needs: the part of the server's shared state the WebSocket endpoint uses, taken from it with
/// axum's `FromRef` (so this module does not depend on the REST API's state).
#[derive(Clone)]
pub struct Endpoint {
    pub store: Store,
    pub hub: Arc<dyn Hub>,
    /// Checks the participant token `join` presents.
    pub tokens: Arc<TokenKeys>,
    /// The deadlines and caps, and the open sockets per participant.
    pub sockets: Arc<Sockets>,
}

/// `GET /realtime/ws`: upgrades and hands the socket to its connection task.
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<Endpoint>) -> Response {
    ws.max_message_size(MAX_TRANSPORT_MESSAGE)
        .max_frame_size(MAX_TRANSPORT_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| connection::run(socket, state))
}
