//! The [`Hub`] of several server nodes: each meeting's live session is state in Redis, and frames reach the
//! connections of every node through Redis pub/sub (`--redis redis://…`).
//!
//! Design: the same I/O-free rules as [`super::LocalHub`] ([`Room`]), with Redis as the lock and the memory.
//! - **Lock.** Per meeting, a lease `endsession:lock:{meeting}` taken with `SET NX PX` ([`LEASE`]) by whichever node
//!   handles a transition, waited for at most [`LOCK_WAIT`]. Under it the node loads the room
//!   (`endsession:room:{meeting}`, a [`RoomSnapshot`] as JSON; absent when no session is live), runs the
//!   transition `LocalHub` runs (`transitions.rs`: the rules and the store writes around them), and releases. This is what serializes a meeting's transitions
//!   across nodes (start a session, join, end once, join-vs-end), so every guarantee of [`super`] that `LocalHub`
//!   keeps with its in-process lock holds across nodes.
//! - **Release is one Lua script** ([`RELEASE`]): if the lease is still ours, save (or delete) the room, publish the
//!   transition's frames and delete the lease, atomically. Frames are therefore published after the store writes
//!   (the end is recorded before anyone is told), never for a transition whose lease ran out (another node may
//!   have taken the meeting since), and in the order the transitions happened (Redis delivers the publishes of one
//!   script, and of successive scripts, in order).
//! - **Fan-out.** A connection's id carries its node's number (`node << 32 | n`, the node's number drawn at
//!   random when it starts, not taken by a live node), so the rules' deliveries are grouped per node and published on `endsession:node:{node}`.
//!   Each node subscribes to its own channel before it serves, and hands the frames to its connections' [`Outbox`]es
//!   (never a socket write: the guarantee that fan-out only queues holds). Every frame goes through pub/sub, the
//!   node's own too, so one connection's frames keep their order whichever node decided them.
//! - **Timers** (reconnect grace, keep-alive, countdown) run on the node whose transition started them; they take
//!   the lock like any transition and check their generation, as in `LocalHub`. Each is also on record in Redis
//!   with its due time, written by the release script with the room, so another node runs it if its node died
//!   (see `redis_timers.rs`).
//!
//! - **Dead nodes** (see `redis_watch.rs`): each node stamps itself alive in Redis every second and sweeps the live
//!   meetings; the connections of a node whose stamp lapsed are treated as dropped (the grace runs on the sweeping
//!   node, so their participants may resume through any node), and the timers its death left overdue run there.
//!
//! - **Redis and the store at odds** (see `redis_reconcile.rs`): a live session whose room Redis lost is put back
//!   from the store; an end the store recorded and nobody was told is told.
//!
//! - **A node cut from Redis** (its stamp failing for [`watch::ALIVE_FOR`], when the others count it dead) or whose
//!   subscription drops (frames published meanwhile are lost to it) asks each of its connections to reconnect
//!   (closed with 1013): their clients resume through any node and get the session's current state there.

use super::countdown::Countdowns;
use super::hub_core::{HubBase, HubCore, Timer};
use super::room::{KickRefusal, LiveInfo, Room, RoomSnapshot};
use super::transitions::Transitions;
use super::{ConnId, Deliver, Hub, HubError, JoinOutcome, JoinRequest, KickAllOutcome, Outbound, Outbox, Seat};
use crate::store::{Store, StoreError};

use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "redis_bus.rs"]
mod bus;
#[path = "redis_hub.rs"]
mod hub;
#[path = "redis_lock.rs"]
mod lease;
#[path = "redis_reconcile.rs"]
mod reconcile;
#[path = "redis_timers.rs"]
mod timers;
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
    base: HubBase,
    redis: ConnectionManager,
    release: redis::Script,
    unlock: redis::Script,
    /// This node's number: the high half of its connection ids, and its channel.
    node: u64,
    next_conn: AtomicU64,
    /// This node's joined connections, by id: where the frames published for them go.
    local: Mutex<HashMap<ConnId, Outbox>>,
    subscriber: tokio::task::JoinHandle<()>,
    /// Its background tasks: stamping this node alive and sweeping for dead ones (see `redis_watch.rs`), and
    /// comparing Redis with the store (see `redis_reconcile.rs`).
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// `endsession:{cluster}`: the keys of the nodes that share this store (see [`RedisHub::connect`]).
    prefix: String,
    /// The value of `{prefix}:epoch` this node last saw: a Redis that lost its data (restart, `FLUSHALL`, failover
    /// to a replica behind) has another, or none (see `redis_watch.rs`).
    epoch: Mutex<Option<String>>,
    /// Timers started under a meeting's lease and not yet written to Redis: (meeting id, due unix ms, entry); the
    /// release of that lease writes them (see `redis_timers.rs`).
    unsaved_timers: Mutex<Vec<(String, i64, String)>>,
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

/// The Redis client of `--redis` `url`: `redis://` in the clear, `rediss://` over TLS, trusting the system's roots or
/// only the PEM CA certificate(s) in `ca_file` (`--redis-ca-file`). Errors on a malformed URL or an unreadable CA.
pub fn redis_client(url: &str, ca_file: Option<&std::path::Path>) -> anyhow::Result<redis::Client> {
    let Some(path) = ca_file else { return Ok(redis::Client::open(url)?) };
    anyhow::ensure!(url.starts_with("rediss://"), "--redis-ca-file needs a rediss:// (TLS) --redis URL");
    let root_cert = std::fs::read(path).map_err(|e| anyhow::anyhow!("--redis-ca-file {}: {e}", path.display()))?;
    let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert) };
    Ok(redis::Client::build_with_tls(url, certificates)?)
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
    pub async fn connect(client: redis::Client, cluster: &str, store: Store, grace: Duration) -> anyhow::Result<Self> {
        let mut redis = client.get_connection_manager().await?;
        // Drawn at random (31 bits, not 0), skipping a number whose node is alive. Not a counter in Redis: after
        // Redis lost its data a counter starts again from 1 while the nodes numbered before go on, unstamped for up
        // to a heartbeat, and a new node took the number of a live one.
        let node = loop {
            let random = u32::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..4].try_into().expect("4 bytes"));
            let node = u64::from(random >> 1).max(1);
            if watch::claim(&mut redis, node).await? {
                break node;
            }
        };
        let (ready, subscribed) = tokio::sync::oneshot::channel();
        let inner = Arc::new_cyclic(|weak| Inner {
            base: HubBase::new(store, grace),
            redis,
            release: redis::Script::new(RELEASE),
            unlock: redis::Script::new(UNLOCK),
            node,
            next_conn: AtomicU64::new(1),
            local: Mutex::default(),
            subscriber: tokio::spawn(bus::listen(client, bus::channel(node), weak.clone(), ready)),
            background: Mutex::default(),
            prefix: format!("endsession:{cluster}"),
            unsaved_timers: Mutex::default(),
            epoch: Mutex::default(),
        });
        // Alive before it serves, so that no other node's sweep takes its first connections for a dead node's.
        inner.stamp().await?;
        inner.same_epoch().await?;
        *inner.background.lock().unwrap_or_else(|p| p.into_inner()) = vec![
            tokio::spawn(watch::watch(Arc::downgrade(&inner))),
            tokio::spawn(reconcile::reconcile(Arc::downgrade(&inner))),
        ];
        subscribed.await.map_err(|_| anyhow::anyhow!("could not subscribe to this node's redis channel"))??;
        tracing::info!(node, "live sessions in redis");
        Ok(RedisHub { inner })
    }

    /// Stops every store write and join of this hub, and its subscription, as a crash would (see
    /// [`super::LocalHub::halt`]).
    pub fn halt(&self) {
        self.inner.base.halt();
        self.inner.subscriber.abort();
        // Its stamp lapses: to the other nodes it is dead, as after a SIGKILL.
        for task in std::mem::take(&mut *self.inner.background.lock().unwrap_or_else(|p| p.into_inner())) {
            task.abort();
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
    async fn join(self: &Arc<Self>, request: JoinRequest) -> JoinOutcome {
        if self.halted() {
            return JoinOutcome::Unavailable;
        }
        let mut held = match self.lock(&request.meeting_id).await {
            Ok(held) => held,
            Err(e) => return unavailable(&request.meeting_id, e),
        };
        // A live session the store has and Redis lost is put back first: the join lands in it, as a resume.
        if let Err(e) = self.adopt_live_session(&mut held).await {
            self.release(held).await;
            return unavailable(&request.meeting_id, e);
        }
        let sink = held.sink.clone();
        // Known to this node from its admission on: the frames published for it go to its outbox.
        let connect = |outbox| {
            let conn = (self.node << 32) | self.next_conn.fetch_add(1, Ordering::Relaxed);
            self.local.lock().unwrap_or_else(|p| p.into_inner()).insert(conn, outbox);
            (conn, Remote { conn, sink })
        };
        let outcome = self.join_room(&mut held.room, request, connect).await;
        if !self.release(held).await {
            // Not admitted as far as the other nodes know: the client retries.
            if let JoinOutcome::Joined { seat, .. } = &outcome {
                self.forget(seat.conn_id);
            }
            return JoinOutcome::Unavailable;
        }
        outcome
    }

    /// Forgets a connection of this node (it left, dropped, or was told its last frame).
    fn forget(&self, conn: ConnId) {
        self.local.lock().unwrap_or_else(|p| p.into_inner()).remove(&conn);
    }

    /// Asks every connection of this node to reconnect ([`Outbox::reconnect`]) and forgets them: the node can no
    /// longer keep them in step (it was cut from Redis long enough for the others to count it dead, or lost its
    /// subscription and with it the frames published meanwhile). Their clients resume through any node.
    fn let_go_of_everyone(&self, why: &str) {
        let local = std::mem::take(&mut *self.local.lock().unwrap_or_else(|p| p.into_inner()));
        if local.is_empty() {
            return;
        }
        tracing::warn!(connections = local.len(), why, "asking every connection of this node to reconnect");
        for outbox in local.values() {
            outbox.reconnect();
        }
    }
}

/// The timers run on the node whose transition started them, each under the meeting's lease like any transition.
impl HubCore for Inner {
    type Conn = Remote;

    fn base(&self) -> &HubBase {
        &self.base
    }

    async fn timer_ran_out(self: Arc<Self>, meeting_id: String, session_id: String, timer: Timer) {
        let due = timers::Due { meeting_id, session_id, timer };
        let entry = due.entry();
        self.run_due(due, entry).await;
    }

    /// Sleeps here and is on record in Redis, so that another node runs it if this one dies.
    fn spawn_timer(self: &Arc<Self>, meeting_id: &str, session_id: &str, delay: Duration, timer: Timer) {
        self.start_timer(meeting_id, session_id, delay, timer);
    }
}

fn unavailable(meeting_id: &str, error: impl std::fmt::Display) -> JoinOutcome {
    tracing::error!(meeting_id, %error, "join failed on redis");
    JoinOutcome::Unavailable
}
