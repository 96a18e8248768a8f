//! The [`Hub`] of several server nodes: each meeting's live session is state in Redis, and frames reach the
//! connections of every node through Redis pub/sub (`--redis redis://…`).
//!
//! Design: the same I/O-free rules as [`super::LocalHub`] ([`Room`]), with Redis as the lock and the memory.
//! - **Lock.** Per meeting, a lease `endsession:lock:{meeting}` taken with `SET NX PX` ([`LEASE`]) by whichever node
//!   handles a transition, waited for at most [`LOCK_WAIT`]. Under it the node loads the room
//!   (`endsession:room:{meeting}`, a [`RoomSnapshot`] as JSON; absent when no session is live), applies the rules,
//!   writes the store exactly as `LocalHub` does, and releases. This is what serializes a meeting's transitions
//!   across nodes (start a session, join, end once, join-vs-end), so every guarantee of [`super`] that `LocalHub`
//!   keeps with its in-process lock holds across nodes.
//! - **Release is one Lua script** ([`RELEASE`]): if the lease is still ours, save (or delete) the room, publish the
//!   transition's frames and delete the lease, atomically. Frames are therefore published after the store writes
//!   (the end is recorded before anyone is told), never for a transition whose lease ran out (another node may
//!   have taken the meeting since), and in the order the transitions happened (Redis delivers the publishes of one
//!   script, and of successive scripts, in order).
//! - **Fan-out.** A connection's id carries its node's number (`node << 32 | n`, the number from `INCR
//!   endsession:nodes`), so the rules' deliveries are grouped per node and published on `endsession:node:{node}`.
//!   Each node subscribes to its own channel before it serves, and hands the frames to its connections' [`Outbox`]es
//!   (never a socket write: the guarantee that fan-out only queues holds). Every frame goes through pub/sub, the
//!   node's own too, so one connection's frames keep their order whichever node decided them.
//! - **Timers** (reconnect grace, keep-alive, countdown) run on the node whose transition started them; they take
//!   the lock like any transition and check their generation, as in `LocalHub`.
//!
//! - **Dead nodes** (see `redis_watch.rs`): each node stamps itself alive in Redis every second and sweeps the live
//!   meetings; the connections of a node whose stamp lapsed are treated as dropped (the grace runs on the sweeping
//!   node, so their participants may resume through any node), and a countdown overdue because its timer died with
//!   its node ends.
//!
//! Not covered yet: a reconnect-grace or keep-alive timer that was already running on a node when it died is lost
//! with it (an absent participant of that node stays absent until it resumes or the session ends otherwise); a
//! lost pub/sub connection is re-established, but frames published meanwhile are not replayed.

use super::room::{Departure, Ending, KickRefusal, Linger, LiveInfo, Room, RoomSnapshot};
use super::{ConnId, Deliver, Hub, HubError, JoinOutcome, JoinRequest, KickAllOutcome, Outbound, Outbox, Seat};
use crate::clock;
use crate::store::{new_id, JoinRefusal, ResumeCheck, Store, StoreError};

use endsession_protocol::{ErrorCode, LeaveState, ServerFrame};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "redis_bus.rs"]
mod bus;
#[path = "redis_countdown.rs"]
mod countdown;
#[path = "redis_hub.rs"]
mod hub;
#[path = "redis_lock.rs"]
mod lease;
#[path = "redis_watch.rs"]
mod watch;
use lease::{RELEASE, UNLOCK};

/// How long a node may hold a meeting's lock before Redis lets it go (a node that died mid-transition).
pub const LEASE: Duration = Duration::from_secs(30);
/// How long a transition waits for a meeting's lock before it gives up (a join is then `Unavailable`).
pub const LOCK_WAIT: Duration = Duration::from_secs(20);

pub struct RedisHub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    grace: Duration,
    redis: ConnectionManager,
    release: redis::Script,
    unlock: redis::Script,
    /// This node's number: the high half of its connection ids, and its channel.
    node: u64,
    next_conn: AtomicU64,
    /// This node's joined connections, by id: where the frames published for them go.
    local: Mutex<HashMap<ConnId, Outbox>>,
    halted: AtomicBool,
    subscriber: tokio::task::JoinHandle<()>,
    /// Stamps this node alive and sweeps for dead ones (see `redis_watch.rs`).
    watcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// `endsession:{cluster}`: the keys of the nodes that share this store (see [`RedisHub::connect`]).
    prefix: String,
}

/// The frames a transition decided, in order, for [`Inner::release`] to publish.
type Sink = Arc<Mutex<Vec<(ConnId, Outbound)>>>;

/// A connection as the rules see it on this node: its id, and the transition's [`Sink`].
#[derive(Clone)]
struct Remote {
    conn: ConnId,
    sink: Sink,
}

impl Deliver for Remote {
    fn deliver(&self, message: Outbound) {
        self.sink.lock().unwrap_or_else(|p| p.into_inner()).push((self.conn, message));
    }
}

/// A meeting's room, loaded under its lease.
struct Held {
    meeting_id: String,
    token: String,
    room: Room<Remote>,
    sink: Sink,
}

impl Held {
    fn remote(&self, conn: ConnId) -> Remote {
        Remote { conn, sink: self.sink.clone() }
    }
}

impl Inner {
    fn lock_key(&self, meeting_id: &str) -> String {
        format!("{}:lock:{meeting_id}", self.prefix)
    }

    fn room_key(&self, meeting_id: &str) -> String {
        format!("{}:room:{meeting_id}", self.prefix)
    }

    /// The set of meetings with a live session (kept by the release script), for the watch of dead nodes.
    fn live_key(&self) -> String {
        format!("{}:live", self.prefix)
    }
}

fn node_of(conn: ConnId) -> u64 {
    conn >> 32
}

fn live_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Task(format!("live sessions (redis): {error}"))
}

impl RedisHub {
    /// Connects to Redis at `url` (`redis://host:port[/db]`), takes a node number and subscribes to its channel;
    /// returns once frames for this node can arrive. Errors if Redis cannot be reached.
    ///
    /// `cluster` names the nodes that share one store (the caller derives it from the store's own secret), so that
    /// deployments, or test runs, sharing one Redis never see each other's meetings.
    pub async fn connect(url: &str, cluster: &str, store: Store, grace: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let mut redis = client.get_connection_manager().await?;
        let node: u64 = redis.incr("endsession:nodes", 1).await?;
        let (ready, subscribed) = tokio::sync::oneshot::channel();
        let inner = Arc::new_cyclic(|weak| Inner {
            store,
            grace,
            redis,
            release: redis::Script::new(RELEASE),
            unlock: redis::Script::new(UNLOCK),
            node,
            next_conn: AtomicU64::new(1),
            local: Mutex::default(),
            halted: AtomicBool::new(false),
            subscriber: tokio::spawn(bus::listen(client, bus::channel(node), weak.clone(), ready)),
            watcher: Mutex::default(),
            prefix: format!("endsession:{cluster}"),
        });
        // Alive before it serves, so that no other node's sweep takes its first connections for a dead node's.
        inner.stamp().await?;
        *inner.watcher.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(tokio::spawn(watch::watch(Arc::downgrade(&inner))));
        subscribed.await.map_err(|_| anyhow::anyhow!("could not subscribe to this node's redis channel"))??;
        tracing::info!(node, "live sessions in redis");
        Ok(RedisHub { inner })
    }

    /// Stops every store write and join of this hub, and its subscription, as a crash would (see
    /// [`super::LocalHub::halt`]).
    pub fn halt(&self) {
        self.inner.halted.store(true, Ordering::SeqCst);
        self.inner.subscriber.abort();
        // Its stamp lapses: to the other nodes it is dead, as after a SIGKILL.
        if let Some(watcher) = self.inner.watcher.lock().unwrap_or_else(|p| p.into_inner()).take() {
            watcher.abort();
        }
    }

    /// This node's number (unique among the nodes that used this Redis).
    pub fn node(&self) -> u64 {
        self.inner.node
    }
}

impl Drop for RedisHub {
    fn drop(&mut self) {
        self.halt();
    }
}

impl Inner {
    fn halted(&self) -> bool {
        self.halted.load(Ordering::SeqCst)
    }

    /// Records an end, then has everybody told (at the release): the store is never behind what clients were told.
    async fn finish(&self, meeting_id: &str, mut ending: Ending<Remote>) -> KickAllOutcome {
        let outcome = KickAllOutcome {
            session_id: ending.session_id.clone(),
            kicked_count: ending.kicked_count,
            already_ended: false,
            ends_at: None,
        };
        let (session_id, record, peak, kicked) =
            (ending.session_id.clone(), ending.record(), ending.peak, ending.kicked_count);
        let (meeting, ended_at) = (meeting_id.to_owned(), ending.ended_at.clone().unwrap_or_else(clock::now));
        if !self.halted() {
            let recorded = self.store.run(move |db| {
                db.transaction(|db| db.end_session_recorded(&meeting, &session_id, &ended_at, &record, peak, kicked))
            });
            match recorded.await {
                Ok(event_id) => ending.event_id = event_id,
                Err(e) => tracing::error!(meeting_id, error = %e, "could not record the end of a session"),
            }
        }
        let remains = ending.deliver();
        tokio::task::spawn_blocking(move || drop(remains));
        outcome
    }

    async fn join(self: &Arc<Self>, request: JoinRequest) -> JoinOutcome {
        if self.halted() {
            return JoinOutcome::Unavailable;
        }
        let mut held = match self.lock(&request.meeting_id).await {
            Ok(held) => held,
            Err(e) => return unavailable(&request.meeting_id, e),
        };
        let outcome = self.join_held(&mut held, request).await;
        if !self.release(held).await {
            // Not admitted as far as the other nodes know: the client retries.
            if let JoinOutcome::Joined { seat, .. } = &outcome {
                self.forget(seat.conn_id);
            }
            return JoinOutcome::Unavailable;
        }
        outcome
    }

    /// [`super::LocalHub`]'s join, step for step, on a room held under its lease.
    async fn join_held(self: &Arc<Self>, held: &mut Held, request: JoinRequest) -> JoinOutcome {
        let JoinRequest { app_id, meeting_id, participant_id, resume, outbox } = request;
        let member = held.room.is_member(&participant_id);
        let live_id = held.room.live_session_id().map(str::to_owned);

        let mut former_member = false;
        if let Some(resume) = resume.clone().filter(|id| !(member && live_id.as_deref() == Some(id))) {
            let (meeting, participant) = (meeting_id.clone(), participant_id.clone());
            match self.store.run(move |db| db.resume_check(&meeting, &resume, &participant)).await {
                Ok(ResumeCheck { participant_gone: true, .. }) => {
                    let message = "the participant no longer exists".to_string();
                    return JoinOutcome::Refused { code: ErrorCode::NotFound, message };
                }
                Ok(ResumeCheck { session: Some(row), removed, was_in, end, .. }) => {
                    if let Some(state) = removed {
                        return JoinOutcome::Ended {
                            state,
                            session_id: row.id,
                            reason: None,
                            kicked_count: None,
                            ended_by: None,
                            message: None,
                            event_id: None,
                        };
                    }
                    if !row.is_live() {
                        let end = end.unwrap_or_default();
                        return JoinOutcome::Ended {
                            state: LeaveState::Ended,
                            session_id: row.id,
                            reason: row.end_reason,
                            kicked_count: row.kicked_count,
                            ended_by: end.ended_by,
                            message: end.message,
                            event_id: end.event_id,
                        };
                    }
                    former_member = was_in && live_id.as_deref() == Some(row.id.as_str());
                }
                Ok(_) => {}
                Err(e) => return unavailable(&meeting_id, e),
            }
        }

        let new_session = held.room.is_idle().then(|| (new_id(), clock::now()));
        let session_id = match &new_session {
            Some((id, _)) => id.clone(),
            None => live_id.clone().expect("a room that is not idle is live"),
        };
        let peak = (!member).then(|| u32::try_from(held.room.member_count() + 1).unwrap_or(u32::MAX));
        let (app, meeting, participant, starting) =
            (app_id, meeting_id.clone(), participant_id.clone(), new_session.clone());
        let admitted = self.store.run(move |db| {
            db.transaction(|db| {
                let context = match db.admission_context(&app, &meeting, &participant, member || former_member)? {
                    Ok(context) => context,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                let (mut keep_alive, mut no_host_after) = (Duration::ZERO, None);
                if let Some((id, at)) = &starting {
                    let row = db.meeting(&app, &meeting)?;
                    keep_alive = row.as_ref().map(|m| m.session_keep_alive()).unwrap_or_default();
                    no_host_after = row.as_ref().and_then(|m| m.end_when_no_host_after());
                    db.start_session(id, &meeting, at)?;
                }
                let now = clock::now();
                if !member {
                    db.record_arrival(&meeting, &session_id, &context.participant, &now)?;
                    db.clear_removal(&session_id, &participant)?;
                }
                db.touch_session(&session_id, &now, peak)?;
                Ok(Ok((context, keep_alive, no_host_after)))
            })
        });
        let (context, keep_alive, no_host_after) = match admitted.await {
            Ok(Ok(admitted)) => admitted,
            Ok(Err(JoinRefusal::NotFound(message))) => {
                return JoinOutcome::Refused { code: ErrorCode::NotFound, message }
            }
            Ok(Err(JoinRefusal::Inactive)) => {
                let message = "the meeting is INACTIVE: nobody can join it".to_string();
                return JoinOutcome::Refused { code: ErrorCode::MeetingInactive, message };
            }
            Err(e) => return unavailable(&meeting_id, e),
        };
        if let Some((session_id, started_at)) = new_session {
            held.room.start(session_id, started_at, keep_alive);
            held.room.set_no_host_after(no_host_after);
        }

        let conn_id = (self.node << 32) | self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.local.lock().unwrap_or_else(|p| p.into_inner()).insert(conn_id, outbox);
        let own = held.remote(conn_id);
        let admission =
            held.room.admit(context.participant.clone(), context.permissions, conn_id, own.clone(), resume.as_deref());
        self.watch_hosts(held).await;
        if let Some(frame) = held.room.countdown_frame(clock::unix_ms()) {
            own.deliver(Outbound::Frame(Outbound::encode(&frame)));
        }
        let seat =
            Seat { meeting_id: meeting_id.clone(), session_id: admission.session_id.clone(), participant_id, conn_id };
        let frame = Box::new(ServerFrame::Joined {
            session_id: admission.session_id,
            meeting_id,
            self_participant: context.participant,
            permissions: context.permissions,
            participants: admission.others,
            participant_count: Some(u32::try_from(admission.others_count).unwrap_or(u32::MAX)),
            reconnected: admission.reconnected || former_member,
            heartbeat_ms: None,
        });
        JoinOutcome::Joined { seat, frame }
    }

    /// As [`super::LocalHub`]'s: the stay ends in the store (with a removal if `kicked`), and the session if that
    /// emptied it, now (`ending`) or after its keep-alive (`linger`).
    #[allow(clippy::too_many_arguments)] // the same arguments as LocalHub's
    async fn removed(
        self: &Arc<Self>,
        meeting_id: &str,
        session_id: &str,
        participant_id: &str,
        at: String,
        kicked: bool,
        ending: Option<Ending<Remote>>,
        linger: Option<Linger>,
    ) {
        if self.halted() {
            return;
        }
        let (meeting, session, participant, left_at) =
            (meeting_id.to_owned(), session_id.to_owned(), participant_id.to_owned(), at.clone());
        let ends = ending.is_some();
        let recorded = self.store.run(move |db| {
            db.transaction(|db| {
                if !ends {
                    db.record_departure(&meeting, &session, &participant, &left_at)?;
                }
                if kicked {
                    db.record_removal(&session, &participant, LeaveState::Kicked, &left_at)?;
                }
                Ok(())
            })
        });
        if !ends || kicked {
            if let Err(e) = recorded.await {
                tracing::error!(meeting_id, error = %e, "could not record a participant leaving");
            }
        }
        if let Some(ending) = ending {
            self.finish(meeting_id, ending).await;
        }
        if let Some(linger) = linger {
            self.spawn_linger(meeting_id, session_id, linger, at);
        }
    }

    async fn settle(self: &Arc<Self>, seat: &Seat, departure: Departure<Remote>) {
        match departure {
            Departure::Removed { ending, linger } => {
                let (meeting, session, participant) = (&seat.meeting_id, &seat.session_id, &seat.participant_id);
                self.removed(meeting, session, participant, clock::now(), false, ending, linger).await;
            }
            Departure::Absent { generation } => {
                self.spawn_expiry(&seat.meeting_id, &seat.session_id, &seat.participant_id, generation)
            }
            Departure::StillConnected | Departure::NotPresent => {}
        }
    }

    fn spawn_expiry(self: &Arc<Self>, meeting_id: &str, session_id: &str, participant_id: &str, generation: u64) {
        let inner = self.clone();
        let (meeting_id, session_id, participant_id) =
            (meeting_id.to_owned(), session_id.to_owned(), participant_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(inner.grace).await;
            if let Some(mut held) = inner.lock_existing(&meeting_id).await {
                let at = held.room.last_seen(&participant_id).unwrap_or_else(clock::now);
                if let Departure::Removed { ending, linger } =
                    held.room.expire(&session_id, &participant_id, generation)
                {
                    inner.removed(&meeting_id, &session_id, &participant_id, at, false, ending, linger).await;
                }
                inner.watch_hosts(&mut held).await;
                inner.release(held).await;
            }
        });
    }

    fn spawn_linger(self: &Arc<Self>, meeting_id: &str, session_id: &str, linger: Linger, emptied_at: String) {
        let inner = self.clone();
        let (meeting_id, session_id) = (meeting_id.to_owned(), session_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(linger.keep_alive).await;
            if let Some(mut held) = inner.lock_existing(&meeting_id).await {
                if let Some(mut ending) = held.room.linger_expired(&session_id, linger.generation) {
                    ending.ended_at.get_or_insert(emptied_at);
                    inner.finish(&meeting_id, ending).await;
                }
                inner.release(held).await;
            }
        });
    }

    /// Forgets a connection of this node (it left, dropped, or was told its last frame).
    fn forget(&self, conn: ConnId) {
        self.local.lock().unwrap_or_else(|p| p.into_inner()).remove(&conn);
    }
}

fn unavailable(meeting_id: &str, error: impl std::fmt::Display) -> JoinOutcome {
    tracing::error!(meeting_id, %error, "join failed on the store or redis");
    JoinOutcome::Unavailable
}
