//! One task per connection: wait for `join`, then serve the socket and the hub's queue with one `select!`.
//!
//! A single task (not a reader and a writer) keeps an idle connection small, and makes this task the only writer of
//! its socket, so frame order is simply the order of the code below: `Joined` before anything queued, a
//! `KickAllResult` before the `RoomLeft` that follows it.

use super::frames::{
    classify, close, fail, send, send_final, send_final_after, send_text, Incoming, Socket, Transport, Violation,
};
use super::{Endpoint, SocketSlot};
use crate::hub::{
    check_end_options, HubError, Inbox, JoinOutcome, JoinRequest, KickAllOutcome, Outbound, Outbox, Queued, Seat,
    KICK_DENIED_MESSAGE,
};
use endsession_protocol::{ClientFrame, EndOptions, ErrorCode, LeaveState, ServerFrame, PROTOCOL_VERSION};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use tungstenite::protocol::frame::coding::CloseCode;

/// The whole life of one connection.
///
/// Not an `async fn`: its arguments would stay in its future for the connection's whole life (rustc keeps an async
/// fn's arguments apart from its states), and the socket is the largest of them. A task's allocation is the size of
/// its future's largest state, held until the connection closes; the join (token check, store, hub, the `Joined`
/// write) has by far the largest futures, so it runs boxed and is freed once joined. Inline, the two made every
/// idle connection's task ~4 KiB (heaptrack, bench/end-latency at N = 1,000).
pub fn run(socket: Transport, state: Endpoint) -> impl Future<Output = ()> + Send {
    let entering = Box::pin(enter(socket, state));
    async move {
        // Borrowed by `serve`, not moved into it: moved, it would be held twice (the argument, and the locals).
        if let Some(mut admitted) = entering.await {
            serve(&mut admitted).await;
        }
    }
}

/// A connection that joined: what [`serve`] needs, and its place in the per-participant socket count.
struct Admitted {
    socket: Socket,
    inbox: Inbox,
    seat: Seat,
    state: Endpoint,
    /// Held until the connection ends.
    _slot: SocketSlot,
}

/// From the upgrade to `Joined` sent; None if the connection ended there (refused, failed, resumed into an end).
async fn enter(socket: Transport, state: Endpoint) -> Option<Admitted> {
    let limits = state.sockets.limits();
    let mut socket = Socket::new(socket, limits.write_timeout);
    let (token, resume, version) = await_join(&mut socket, limits.join_timeout).await?;
    if version != PROTOCOL_VERSION {
        let message = format!("protocol version {version} is not supported; this server speaks {PROTOCOL_VERSION}");
        let violation = Violation { code: ErrorCode::UnsupportedVersion, message, close_code: CloseCode::Policy };
        fail(&mut socket, violation).await;
        return None;
    }
    // Signature and expiry here; the participant's token version is checked by the hub, in the same store
    // transaction as the admission (`JoinRequest::token_version`).
    let claims = match state.tokens.verify(&token) {
        Ok(claims) => claims,
        Err(message) => {
            let violation = Violation { code: ErrorCode::InvalidToken, message, close_code: CloseCode::Policy };
            fail(&mut socket, violation).await;
            return None;
        }
    };
    // The token (~0.4 KB) is not needed past its check.
    drop(token);

    let Some(slot) = state.sockets.admit(&claims.sub) else {
        let max = limits.max_sockets_per_participant;
        let message = format!("this participant already has {max} open connections: close one first");
        let violation = Violation { code: ErrorCode::TooManyConnections, message, close_code: CloseCode::Policy };
        fail(&mut socket, violation).await;
        return None;
    };
    let (outbox, inbox) = Outbox::bounded(limits.outbox_frames);
    let request = JoinRequest {
        app_id: claims.app_id,
        meeting_id: claims.meeting_id,
        participant_id: claims.sub,
        resume,
        outbox,
        token_version: claims.ver,
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
                state.hub.disconnect(&seat).await;
                return None;
            }
            Some(Admitted { socket, inbox, seat, state, _slot: slot })
        }
        JoinOutcome::Ended { state, session_id, reason, kicked_count, ended_by, message, event_id } => {
            let frame = ServerFrame::RoomLeft { state, session_id, reason, kicked_count, message, ended_by, event_id };
            send_final(&mut socket, frame.encode().into(), CloseCode::Normal, "session ended").await;
            None
        }
        JoinOutcome::Refused { code, message } => {
            fail(&mut socket, Violation { code, message, close_code: CloseCode::Policy }).await;
            None
        }
        JoinOutcome::Unavailable => {
            close(&mut socket, CloseCode::Error, "store unavailable, retry").await;
            None
        }
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
    /// The hub asked it to reconnect ([`crate::hub::Outbox::reconnect`]): closed with 1013, then dropped as above.
    Reconnect,
}

/// Serves a joined connection until it leaves, is ended, or drops.
async fn serve(admitted: &mut Admitted) {
    let Admitted { socket, inbox, seat, state, .. } = admitted;
    let (seat, state) = (&*seat, &*state);
    let limits = state.sockets.limits();
    // One timer for both deadlines (one timer-wheel entry per idle connection, not two): the next heartbeat, and
    // silence. `last_heard` moves forward on every message (any frame, a Pong included) without touching the timer
    // (re-registering it at every message would cost more); when the timer fires, each deadline is checked against
    // the clock and the timer set to the earlier of the two.
    let mut last_heard = Instant::now();
    let mut next_heartbeat = last_heard + limits.heartbeat_interval;
    let timer = tokio::time::sleep_until(next_heartbeat.min(last_heard + limits.heartbeat_timeout));
    tokio::pin!(timer);
    let exit = loop {
        tokio::select! {
            // The socket first: a `kickAll` already sent is answered before a queued `RoomLeft` closes the socket,
            // so a losing concurrent caller still gets its `KickAllResult`.
            biased;
            received = socket.recv() => {
                last_heard = Instant::now();
                let exit = match classify(received) {
                    Incoming::Ignore => None,
                    Incoming::Closed => Some(Exit::Dropped),
                    // Boxed for the same reason as the join (see `run`): a client frame is rare, and answering it
                    // (the hub, the store, an error and a close) would otherwise size every idle task.
                    incoming => Box::pin(answer(socket, incoming, seat, state)).await,
                };
                if let Some(exit) = exit {
                    break exit;
                }
            }
            queued = inbox.next() => match queued {
                Queued::Message(Outbound::Frame(text)) => {
                    if send_text(socket, text).await.is_err() {
                        break Exit::Dropped;
                    }
                }
                Queued::Message(Outbound::Final(text, fan_out)) => {
                    send_final_after(socket, text, CloseCode::Normal, "session ended", fan_out).await;
                    break Exit::Done;
                }
                Queued::Lagging => break Exit::Lagging,
                Queued::Reconnect => break Exit::Reconnect,
                Queued::Closed => break Exit::Done,
            },
            () = &mut timer => {
                let now = Instant::now();
                if now >= last_heard + limits.heartbeat_timeout {
                    tracing::info!(participant_id = %seat.participant_id, "silent past the heartbeat timeout: dropped");
                    break Exit::Dropped;
                }
                if now >= next_heartbeat {
                    if socket.heartbeat().await.is_err() {
                        break Exit::Dropped;
                    }
                    // From now, not from the missed deadline: a late heartbeat does not bring the next one forward.
                    next_heartbeat = Instant::now() + limits.heartbeat_interval;
                }
                timer.as_mut().reset(next_heartbeat.min(last_heard + limits.heartbeat_timeout));
            }
        }
    };
    match exit {
        Exit::Done => {}
        Exit::Dropped => state.hub.disconnect(seat).await,
        Exit::Lagging => {
            tracing::info!(participant_id = %seat.participant_id, "too far behind its queue: dropped");
            // The hub first: the close below may wait for its write deadline.
            state.hub.disconnect(seat).await;
            close(socket, CloseCode::Again, "too far behind: reconnect to catch up").await;
        }
        Exit::Reconnect => {
            tracing::info!(participant_id = %seat.participant_id, "its node lost the shared state: asked to reconnect");
            // The close first: the hub is the part that is failing, and the client should resume elsewhere now.
            close(socket, CloseCode::Again, "this server lost its shared state: reconnect").await;
            state.hub.disconnect(seat).await;
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
                    close(socket, CloseCode::Error, "store unavailable, retry").await;
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
                    close(socket, CloseCode::Error, "store unavailable, retry").await;
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
            send_final(socket, frame.encode().into(), CloseCode::Normal, "left").await;
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
