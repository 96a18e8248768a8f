//! The WebSocket endpoint at [`endsession_protocol::WS_PATH`]: one socket per participant connection.
//!
//! Deadlines and caps (from [`crate::config::Limits`]): `join` within `join_timeout` of the upgrade; every write
//! within `write_timeout`; a heartbeat (WebSocket Ping + `ping` frame) every `heartbeat_interval`, and a joined socket
//! silent for `heartbeat_timeout` is dropped (grace, then `participantLeft`, as for a TCP drop); at most
//! `outbox_frames` queued frames per socket; at most `max_sockets_per_participant` sockets per participant.

mod connection;
mod frames;
mod handshake;
mod sockets;

pub use sockets::{SocketSlot, Sockets};

use crate::hub::Hub;
use crate::store::Store;
use crate::token::TokenKeys;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

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
/// behind it leave in one write (one segment) instead of two; larger frames are written at once. A larger message
/// is written as fragments of this size (`frames::send_text`): tungstenite keeps the write buffer's capacity once
/// grown, so one large `Joined` would otherwise stay as much memory for the connection's life.
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

/// `GET /realtime/ws`: checks the upgrade, answers 101, and hands the socket to its connection task.
///
/// What is upgraded, and how others are answered: [`handshake::accept`]. The connection is taken from hyper here
/// rather than through axum's `WebSocket`, so that the connection can write fragments (see [`WRITE_BUFFER`]).
pub async fn upgrade(State(state): State<Endpoint>, mut request: Request) -> Response {
    let response = match handshake::accept(&request) {
        Ok(response) => response,
        Err(refusal) => return refusal.into_response(),
    };
    // Present on every request of a connection served `with_upgrades` (src/listen.rs).
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return (StatusCode::UPGRADE_REQUIRED, "this connection cannot be upgraded").into_response();
    };
    tokio::spawn(async move {
        // Fails if the client went away before the 101 reached it: nothing to serve.
        let Ok(upgraded) = on_upgrade.await else { return };
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_TRANSPORT_MESSAGE))
            .max_frame_size(Some(MAX_TRANSPORT_MESSAGE))
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(WRITE_BUFFER);
        let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
        connection::run(socket, state).await;
    });
    response
}
