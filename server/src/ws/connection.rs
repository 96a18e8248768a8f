//! One task per connection: wait for `join`, then serve the socket and the hub's queue with one `select!`.
//!
//! A single task (not a reader and a writer) keeps an idle connection small, and makes this task the only writer of
//! its socket, so frame order is simply the order of the code below: `Joined` before anything queued, a
//! `KickAllResult` before the `RoomLeft` that follows it.

use super::frames::{classify, close, fail, send, send_final, send_text, Incoming, Violation};
use crate::hub::{HubError, JoinOutcome, JoinRequest, Outbound, Seat, KICK_DENIED_MESSAGE};
use crate::state::AppState;
use axum::extract::ws::{close_code, WebSocket};
use endsession_protocol::{ClientFrame, ErrorCode, LeaveState, ServerFrame, PROTOCOL_VERSION};
use std::time::Duration;
use tokio::sync::mpsc;

/// A socket that does not send `join` within this time is closed.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole life of one connection.
pub async fn run(mut socket: WebSocket, state: AppState) {
    let Some((token, resume, version)) = await_join(&mut socket).await else {
        return;
    };
    if version != PROTOCOL_VERSION {
        let message = format!("protocol version {version} is not supported; this server speaks {PROTOCOL_VERSION}");
        let violation = Violation { code: ErrorCode::UnsupportedVersion, message, close_code: close_code::POLICY };
        return fail(&mut socket, violation).await;
    }
    let claims = match crate::token::admit(&state.tokens, &state.store, &token).await {
        Ok(claims) => claims,
        Err(message) => {
            let violation = Violation { code: ErrorCode::InvalidToken, message, close_code: close_code::POLICY };
            return fail(&mut socket, violation).await;
        }
    };

    let (outbox, inbox) = mpsc::unbounded_channel();
    let request = JoinRequest {
        app_id: claims.app_id,
        meeting_id: claims.meeting_id,
        participant_id: claims.sub,
        resume,
        outbox,
    };
    match state.hub.join(request).await {
        JoinOutcome::Joined { seat, frame } => {
            let sent = send(&mut socket, &frame).await;
            // Not kept for the life of the connection: with its list of participants it is the largest thing this
            // task holds (bench/end-latency measured ~0.4 KB of RSS per listed participant per connection).
            drop(frame);
            if sent.is_err() {
                return state.hub.disconnect(&seat).await;
            }
            serve(socket, inbox, seat, &state).await;
        }
        JoinOutcome::Ended { session_id, reason } => {
            let frame = ServerFrame::RoomLeft {
                state: LeaveState::Ended,
                session_id,
                reason,
                kicked_count: None,
                message: None,
            };
            send_final(&mut socket, frame.encode().into(), close_code::NORMAL, "session ended").await;
        }
        JoinOutcome::Refused { code, message } => {
            fail(&mut socket, Violation { code, message, close_code: close_code::POLICY }).await;
        }
        JoinOutcome::Unavailable => close(&mut socket, close_code::ERROR, "store unavailable, retry").await,
    }
}

/// Reads until the first frame; anything but a `join` is answered with an error and a close.
async fn await_join(socket: &mut WebSocket) -> Option<(String, Option<String>, u32)> {
    let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
    loop {
        let Ok(received) = tokio::time::timeout_at(deadline, socket.recv()).await else {
            let message = format!("no `join` frame within {} s", JOIN_TIMEOUT.as_secs());
            fail(socket, Violation::unexpected(message)).await;
            return None;
        };
        match classify(received) {
            Incoming::Frame(ClientFrame::Join { token, resume, version }) => return Some((token, resume, version)),
            Incoming::Frame(_) => {
                fail(socket, Violation::unexpected("the first frame must be `join`")).await;
                return None;
            }
            Incoming::Invalid(violation) => {
                fail(socket, violation).await;
                return None;
            }
            Incoming::Closed => return None,
            Incoming::Ignore => {}
        }
    }
}

/// How [`serve`] ended.
enum Exit {
    /// The hub already let go of this connection (it left, or the session ended).
    Done,
    /// The socket went away or misbehaved: the participant may come back within the grace.
    Dropped,
}

/// Serves a joined connection until it leaves, is ended, or drops.
async fn serve(mut socket: WebSocket, mut inbox: mpsc::UnboundedReceiver<Outbound>, seat: Seat, state: &AppState) {
    let exit = loop {
        tokio::select! {
            // The socket first: a `kickAll` already sent is answered before a queued `RoomLeft` closes the socket,
            // so a losing concurrent caller still gets its `KickAllResult`.
            biased;
            received = socket.recv() => match classify(received) {
                Incoming::Frame(ClientFrame::KickAll { id }) => {
                    let reply = match state.hub.kick_all(&seat).await {
                        Ok(outcome) => ServerFrame::KickAllResult {
                            id,
                            session_id: outcome.session_id,
                            kicked_count: outcome.kicked_count,
                            already_ended: outcome.already_ended,
                        },
                        Err(HubError::PermissionDenied) => ServerFrame::Error {
                            id: Some(id),
                            code: ErrorCode::PermissionDenied,
                            message: KICK_DENIED_MESSAGE.into(),
                        },
                        Err(HubError::Store(e)) => {
                            tracing::error!(error = %e, "kickAll failed on the store");
                            close(&mut socket, close_code::ERROR, "store unavailable, retry").await;
                            break Exit::Dropped;
                        }
                    };
                    if send(&mut socket, &reply).await.is_err() {
                        break Exit::Dropped;
                    }
                }
                Incoming::Frame(ClientFrame::Leave) => {
                    if state.hub.leave(&seat).await {
                        let frame =
                            ServerFrame::RoomLeft { state: LeaveState::Left, session_id: seat.session_id.clone(), reason: None , kicked_count: None, message: None };
                        send_final(&mut socket, frame.encode().into(), close_code::NORMAL, "left").await;
                        break Exit::Done;
                    }
                    // Not in the session any more: it ended, and its `RoomLeft { Ended }` is next in the queue.
                }
                Incoming::Frame(ClientFrame::Join { .. }) => {
                    fail(&mut socket, Violation::unexpected("already joined: send `join` once per socket")).await;
                    break Exit::Dropped;
                }
                Incoming::Invalid(violation) => {
                    fail(&mut socket, violation).await;
                    break Exit::Dropped;
                }
                Incoming::Closed => break Exit::Dropped,
                Incoming::Ignore => {}
            },
            queued = inbox.recv() => match queued {
                Some(Outbound::Frame(text)) => {
                    if send_text(&mut socket, text).await.is_err() {
                        break Exit::Dropped;
                    }
                }
                Some(Outbound::Final(text)) => {
                    send_final(&mut socket, text, close_code::NORMAL, "session ended").await;
                    break Exit::Done;
                }
                None => break Exit::Done,
            },
        }
    };
    if let Exit::Dropped = exit {
        state.hub.disconnect(&seat).await;
    }
}
