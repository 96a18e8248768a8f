//! Node liveness for [`super::RedisHub`]: each node stamps `endsession:alive:{node}` every [`HEARTBEAT`] (it lapses
//! [`ALIVE_FOR`] after the last stamp), and sweeps the live meetings of its store with the same tick. A connection
//! whose node has lapsed (the node died: SIGKILL, crash, lost network) is treated as dropped: its participant is
//! absent for the reconnect grace, timed by the sweeping node, so it may resume through any node and is removed if it
//! does not (the session ends `ALL_PARTICIPANTS_LEFT` if that empties it). The same tick runs the timers a dead node
//! left overdue (`redis_timers.rs`): a reconnect grace, a keep-alive, a countdown. Several nodes may sweep at once:
//! the lease serializes them, a connection already dropped is not dropped twice, and a timer that already ran does
//! nothing.

use super::{Countdowns, HubCore, Inner, Remote, Sink};
use crate::clock;
use crate::hub::hub_core::Ticker;
use crate::hub::room::{Room, RoomSnapshot};
use crate::hub::Seat;
use crate::hub::ALIVE_STAMP;
use crate::store::StoreError;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often a node stamps itself alive and sweeps.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a stamp lasts: a node missing three stamps in a row is dead.
pub const ALIVE_FOR: Duration = Duration::from_secs(3);

pub(super) fn alive_key(node: u64) -> String {
    format!("endsession:alive:{node}")
}

/// Claims node number `node`: stamps it alive unless it already is (another node has it). True if claimed. A
/// number is drawn at random (see [`super::RedisHub::connect`]), so that a node starting just after Redis lost its
/// data, before the live nodes stamped themselves again, does not take the number of one of them.
pub(super) async fn claim(redis: &mut redis::aio::ConnectionManager, node: u64) -> redis::RedisResult<bool> {
    let ms = u64::try_from(ALIVE_FOR.as_millis()).unwrap_or(u64::MAX);
    let options = redis::SetOptions::default()
        .conditional_set(redis::ExistenceCheck::NX)
        .with_expiration(redis::SetExpiry::PX(ms));
    let set: Option<String> = redis.set_options(alive_key(node), 1, options).await?;
    Ok(set.is_some())
}

impl Inner {
    /// Whether Redis still has the data this node saw: `{prefix}:epoch` holds the random value some node set when it
    /// found none, and it is gone or another after Redis lost its data. True on the first look. Unlike this node's
    /// stamp, it cannot be written back by one of this node's own commands that timed out during the loss and ran
    /// after: such a command sets a new value, which is still not the one seen before.
    pub(super) async fn same_epoch(&self) -> redis::RedisResult<bool> {
        let mut redis = self.redis.clone();
        let key = format!("{}:epoch", self.prefix);
        let _: bool = redis.set_nx(&key, crate::store::new_id()).await?;
        let now: Option<String> = redis.get(&key).await?;
        let mut seen = self.epoch.lock().unwrap_or_else(|p| p.into_inner());
        let same = seen.is_none() || *seen == now;
        *seen = now;
        Ok(same)
    }

    /// Stamps this node alive. Ok(false) if its previous stamp was gone: Redis lost it (restarted without its data,
    /// `FLUSHALL`, a failover to a replica that was behind) or it lapsed (this node was cut off too long).
    pub(super) async fn stamp(&self) -> redis::RedisResult<bool> {
        let mut redis = self.redis.clone();
        let ms = u64::try_from(ALIVE_FOR.as_millis()).unwrap_or(u64::MAX);
        let options = redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(ms)).get(true);
        let previous: Option<String> = redis.set_options(alive_key(self.node), 1, options).await?;
        Ok(previous.is_some())
    }
}

/// Stamps and sweeps every [`HEARTBEAT`] until the hub is dropped or halted (a halted node looks dead to the others).
/// A node whose stamp has failed this long lets go of its connections ([`Inner::let_go_of_everyone`]): by then
/// the others count it dead (see [`ALIVE_FOR`]) and take its participants as dropped.
pub(super) async fn watch(inner: Weak<Inner>) {
    let mut ticker = Ticker::new(HEARTBEAT, inner);
    let mut last_stamp = tokio::time::Instant::now();
    let mut last_alive_stamp = tokio::time::Instant::now();
    while let Some(inner) = ticker.next().await {
        // Two checks of one loss. The epoch catches Redis losing its data even when this node's stamp was written
        // back by one of its own commands that timed out; the stamp also catches a stamp that lapsed (this node
        // cut off longer than ALIVE_FOR), after which the others took it for dead.
        // Bounded: a Redis that does not answer counts as one that refuses.
        let stamped = tokio::time::timeout(HEARTBEAT, inner.stamp()).await;
        let epoch = match stamped {
            Ok(Ok(_)) => tokio::time::timeout(HEARTBEAT, inner.same_epoch()).await,
            _ => Ok(Ok(true)),
        };
        if let Ok(Ok(false)) = epoch {
            inner.let_go_of_everyone("redis lost its data (its epoch changed)");
        } else if let Ok(Ok(false)) = stamped {
            // The stamp of a second ago is gone, and with it, most likely, every room and stamp in Redis: the
            // frames and rooms of this node's connections cannot be trusted. Their clients resume, and the first
            // join of each meeting puts its session back from the store (`redis_reconcile.rs`).
            inner.let_go_of_everyone("redis lost this node's stamp (its data was lost, or this node was cut off)");
        }
        if !matches!(stamped, Ok(Ok(_))) {
            tracing::warn!(error = ?stamped.map(|r| r.err()), "redis: could not stamp this node alive");
            if last_stamp.elapsed() >= ALIVE_FOR - HEARTBEAT {
                inner.let_go_of_everyone("cut from redis: the other nodes count this one dead");
            }
            continue;
        }
        last_stamp = tokio::time::Instant::now();
        match sweep(&inner).await {
            Ok(alive_here) if last_alive_stamp.elapsed() >= ALIVE_STAMP && !alive_here.is_empty() => {
                last_alive_stamp = tokio::time::Instant::now();
                stamp_sessions_alive(&inner, &alive_here).await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "redis: could not sweep the live sessions"),
        }
        if let Err(e) = inner.run_overdue_timers().await {
            tracing::warn!(error = %e, "redis: could not run the overdue timers");
        }
    }
}

/// Stamps `sessions.last_alive_at` of the live sessions with someone connected to this node, as `LocalHub` does
/// (see [`ALIVE_STAMP`]): a session put back from the store after Redis lost it (`redis_reconcile.rs`) dates the
/// departures of those who do not come back, and its end, from this stamp.
async fn stamp_sessions_alive(inner: &Inner, session_ids: &[String]) {
    let stamped: Result<(), StoreError> =
        async { inner.store().db().await?.stamp_alive(session_ids, &clock::now()).await }.await;
    if let Err(e) = stamped {
        tracing::warn!(error = %e, "could not stamp live sessions as alive");
    }
}

/// Looks at every live meeting of this store; takes the lease only of those that need it. Returns the live sessions
/// with someone connected to this node.
async fn sweep(inner: &Arc<Inner>) -> redis::RedisResult<Vec<String>> {
    let mut redis = inner.redis.clone();
    let meetings: Vec<String> = redis.smembers(inner.live_key()).await?;
    let mut alive: HashMap<u64, bool> = HashMap::from([(inner.node, true)]);
    let mut alive_here = Vec::new();
    for meeting_id in meetings {
        let Some(text) = redis.get::<_, Option<String>>(inner.room_key(&meeting_id)).await? else { continue };
        let Ok(snapshot) = serde_json::from_str::<RoomSnapshot>(&text) else { continue };
        let sink = Sink::default();
        let room: Room<Remote> = Room::from_snapshot(snapshot, |conn| Remote { conn, sink: sink.clone() });
        let mut dead = false;
        let connections = room.connections();
        if let Some(session_id) =
            room.live_session_id().filter(|_| connections.iter().any(|(_, c)| super::node_of(*c) == inner.node))
        {
            alive_here.push(session_id.to_owned());
        }
        for (_, conn) in connections {
            let node = super::node_of(conn);
            if let std::collections::hash_map::Entry::Vacant(entry) = alive.entry(node) {
                entry.insert(redis.exists(alive_key(node)).await?);
            }
            dead |= !alive[&node];
        }
        if dead {
            settle_dead(inner, &meeting_id, &alive).await;
        }
    }
    Ok(alive_here)
}

/// Under the lease: drops the connections of dead nodes (`alive` as this sweep found them; a node it did not look
/// at is taken as alive).
async fn settle_dead(inner: &Arc<Inner>, meeting_id: &str, alive: &HashMap<u64, bool>) {
    let Some(mut held) = inner.lock_existing(meeting_id).await else { return };
    let Some(session_id) = held.room.live_session_id().map(str::to_owned) else {
        inner.release(held).await;
        return;
    };
    let mut dropped: HashMap<u64, Vec<crate::hub::ConnId>> = HashMap::new();
    for (participant_id, conn) in held.room.connections() {
        if alive.get(&super::node_of(conn)).copied().unwrap_or(true) {
            continue;
        }
        dropped.entry(super::node_of(conn)).or_default().push(conn);
        tracing::info!(meeting_id, participant_id, node = super::node_of(conn), "its node is gone: dropped");
        let departure = held.room.disconnect(&participant_id, conn);
        let seat =
            Seat { meeting_id: meeting_id.to_owned(), session_id: session_id.clone(), participant_id, conn_id: conn };
        inner.settle(&seat, departure).await;
    }
    if !held.room.is_idle() {
        inner.watch_hosts(&mut held.room, meeting_id).await;
    }
    if !inner.release(held).await {
        return;
    }
    // A node taken for dead may be alive (its stamp lost with Redis's data, or late): its clients resume.
    let mut redis = inner.redis.clone();
    for (node, conns) in dropped {
        let published: redis::RedisResult<i64> =
            redis.publish(super::bus::channel(node), super::bus::reconnect_message(conns)).await;
        if let Err(e) = published {
            tracing::warn!(node, error = %e, "redis: could not ask the connections of a node taken for dead to reconnect");
        }
    }
}
