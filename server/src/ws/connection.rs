//! One task per connection: wait for `join`, then serve the socket and the hub's queue with one `select!`.
//!
//! A single task (not a reader and a writer) keeps an idle connection small, and makes this task the only writer of
//! its socket, so frame order is simply the order of the code below: `Joined` before anything queued, a
//! `KickAllResult` before the `RoomLeft` that follows it.

use super::frames::{classify, close, fail, send, send_final, send_text, Incoming, Socket, Violation};
use super::Endpoint;
use crate::config::Limits;
use crate::hub::{
    check_end_options, HubError, Inbox, JoinOutcome, JoinRequest, KickAllOutcome, Outbound, Outbox, Queued, Seat,
    KICK_DENIED_MESSAGE,
};
use axum::extract::ws::{close_code, WebSocket};
use endsession_protocol::{ClientFrame, EndOptions, ErrorCode, LeaveState, ServerFrame, PROTOCOL_VERSION};
use std::time::Duration;
use tokio::time::Instant;

/// The whole life of one connection.
pub async fn run(socket: WebSocket, state: Endpoint) {
    // Borrowed from the shared state (not copied into every connection's task).
    let limits = state.sockets.limits();
    let mut socket = Socket::new(socket, limits.write_timeout);
    let Some((token, resume, version)) = await_join(&mut socket, limits.join_timeout).await else {
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

    let Some(_slot) = state.sockets.admit(&claims.sub) else {
        let max = limits.max_sockets_per_participant;
        let message = format!("this participant already has {max} open connections: close one first");
        let violation = Violation { code: ErrorCode::TooManyConnections, message, close_code: close_code::POLICY };
        return fail(&mut socket, violation).await;
    };
    let (outbox, inbox) = Outbox::bounded(limits.outbox_frames);
    let request = JoinRequest {
        app_id: claims.app_id,
        meeting_id: claims.meeting_id,
        participant_id: claims.sub,
        resume,
        outbox,
    };
    match state.hub.join(request).await {
        JoinOutcome::Joined { seat, mut frame } => {
            if let ServerFrame::Joined { heartbeat_ms, .. } = frame.as_mut() {
                *heartbeat_ms = Some(u32::try_from(limits.heartbeat_interval.as_millis()).unwrap_or(u32::MAX));
            }
            let sent = send(&mut socket, &frame).await;
            // Not kept for the life of the connection: with its list of participants it is the largest thing this
            // task holds (bench/end-latency measured ~0.4 KB of RSS per listed participant per connection).
            drop(frame);
            if sent.is_err() {
                return state.hub.disconnect(&seat).await;
            }
            serve(socket, inbox, seat, &state, limits).await;
        }
        JoinOutcome::Ended { state, session_id, reason, kicked_count, ended_by, message, event_id } => {
            let frame = ServerFrame::RoomLeft { state, session_id, reason, kicked_count, message, ended_by, event_id };
            send_final(&mut socket, frame.encode().into(), close_code::NORMAL, "session ended").await;
        }
        JoinOutcome::Refused { code, message } => {
            fail(&mut socket, Violation { code, message, close_code: close_code::POLICY }).await;
        }
        JoinOutcome::Unavailable => close(&mut socket, close_code::ERROR, "store unavailable, retry").await,
    }
}

/// Reads until the first frame; anything but a `join` is answered with an error and a close.
async fn await_join(socket: &mut Socket, timeout: Duration) -> Option<(String, Option<String>, u32)> {
    let deadline = Instant::now() + timeout;
    loop {
        let Ok(received) = tokio::time::timeout_at(deadline, socket.recv()).await else {
            let message = format!("no `join` frame within {} ms", timeout.as_millis());
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
    /// The socket went away, misbehaved, missed a write deadline or fell silent: the participant may come back
    /// within the grace.
    Dropped,
    /// Its queue overflowed: dropped as above, then closed with 1013 (try again later) if the client still reads.
    Lagging,
}

/// Serves a joined connection until it leaves, is ended, or drops.
async fn serve(mut socket: Socket, mut inbox: Inbox, seat: Seat, state: &Endpoint, limits: &Limits) {
    let mut heartbeat = tokio::time::interval_at(Instant::now() + limits.heartbeat_interval, limits.heartbeat_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Moved forward on every message (any frame, a Pong included). The timer is not reset on each message (that
    // would re-register it every time); when it fires early it is set again from the last message.
    let mut last_heard = Instant::now();
    let silence = tokio::time::sleep_until(last_heard + limits.heartbeat_timeout);
    tokio::pin!(silence);
    let exit = loop {
        tokio::select! {
            // The socket first: a `kickAll` already sent is answered before a queued `RoomLeft` closes the socket,
            // so a losing concurrent caller still gets its `KickAllResult`.
            biased;
            received = socket.recv() => {
                last_heard = Instant::now();
                if let Some(exit) = answer(&mut socket, classify(received), &seat, state).await {
                    break exit;
                }
            }
            queued = inbox.next() => match queued {
                Queued::Message(Outbound::Frame(text)) => {
                    if send_text(&mut socket, text).await.is_err() {
                        break Exit::Dropped;
                    }
                }
                Queued::Message(Outbound::Final(text)) => {
                    send_final(&mut socket, text, close_code::NORMAL, "session ended").await;
                    break Exit::Done;
                }
                Queued::Lagging => break Exit::Lagging,
                Queued::Closed => break Exit::Done,
            },
            _ = heartbeat.tick() => {
                if socket.heartbeat().await.is_err() {
                    break Exit::Dropped;
                }
            }
            () = &mut silence => {
                if last_heard.elapsed() >= limits.heartbeat_timeout {
                    tracing::info!(participant_id = %seat.participant_id, "silent past the heartbeat timeout: dropped");
                    break Exit::Dropped;
                }
                silence.as_mut().reset(last_heard + limits.heartbeat_timeout);
            }
        }
    };
    match exit {
        Exit::Done => {}
        Exit::Dropped => state.hub.disconnect(&seat).await,
        Exit::Lagging => {
            tracing::info!(participant_id = %seat.participant_id, "too far behind its queue: dropped");
            // The hub first: the close below may wait for its write deadline.
            state.hub.disconnect(&seat).await;
            close(&mut socket, close_code::AGAIN, "too far behind: reconnect to catch up").await;
        }
    }
}

/// Acts on one message from a joined client; `Some` ends the connection.
async fn answer(socket: &mut Socket, incoming: Incoming, seat: &Seat, state: &Endpoint) -> Option<Exit> {
    match incoming {
        Incoming::Frame(ClientFrame::KickAll { id, message, lock, grace_seconds }) => {
            let options = EndOptions { message, lock, grace_seconds };
            if let Err(message) = check_end_options(&options) {
                // A bad option is the caller's mistake, not a broken socket: refused, and nothing happens.
                let reply = ServerFrame::Error { id: Some(id), code: ErrorCode::InvalidOptions, message };
                return send(socket, &reply).await.err().map(|_| Exit::Dropped);
            }
            let reply = match state.hub.kick_all(seat, options).await {
                Ok(KickAllOutcome { session_id, ends_at: Some(ends_at), .. }) => {
                    ServerFrame::KickAllScheduled { id, session_id, ends_at }
                }
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
                    close(socket, close_code::ERROR, "store unavailable, retry").await;
                    return Some(Exit::Dropped);
                }
            };
            send(socket, &reply).await.err().map(|_| Exit::Dropped)
        }
        Incoming::Frame(ClientFrame::CancelEnd { id }) => {
            let reply = match state.hub.cancel_end(&seat.meeting_id, Some(seat)).await {
                Ok(cancelled) => ServerFrame::CancelEndResult { id, cancelled },
                Err(HubError::PermissionDenied) => ServerFrame::Error {
                    id: Some(id),
                    code: ErrorCode::PermissionDenied,
                    message: KICK_DENIED_MESSAGE.into(),
                },
                Err(HubError::Store(e)) => {
                    tracing::error!(error = %e, "cancelEnd failed on the store");
                    close(socket, close_code::ERROR, "store unavailable, retry").await;
                    return Some(Exit::Dropped);
                }
            };
            send(socket, &reply).await.err().map(|_| Exit::Dropped)
        }
        Incoming::Frame(ClientFrame::Leave) => {
            if !state.hub.leave(seat).await {
                // Not in the session any more: it ended, and its `RoomLeft { Ended }` is next in the queue.
                return None;
            }
            let frame = ServerFrame::RoomLeft {
                state: LeaveState::Left,
                session_id: seat.session_id.clone(),
                reason: None,
                kicked_count: None,
                message: None,
                ended_by: None,
                event_id: None,
            };
            send_final(socket, frame.encode().into(), close_code::NORMAL, "left").await;
            Some(Exit::Done)
        }
        Incoming::Frame(ClientFrame::Join { .. }) => {
            fail(socket, Violation::unexpected("already joined: send `join` once per socket")).await;
            Some(Exit::Dropped)
        }
        Incoming::Invalid(violation) => {
            fail(socket, violation).await;
            Some(Exit::Dropped)
        }
        Incoming::Closed => Some(Exit::Dropped),
        Incoming::Ignore => None,
    }
}
