//! Redis and the store kept in agreement, for [`super::RedisHub`]. The store is the record (sessions, their ends, who
//! is in them); Redis holds each live session's room. They part in two ways, and this puts them together again:
//!
//! - **A live session with no room**: Redis restarted without its data (or failed over to a replica that was
//!   behind), or a transition's store writes committed and its release never ran (its lease ran out). The first
//!   join of the meeting puts the session back before it is admitted ([`Inner::adopt_live_session`]), and the
//!   reconcile pass does it for meetings nobody joins: the participants are absent for the reconnect grace, as
//!   after a restart of one node ([`super::super::LocalHub::restore`]), so clients that resume get the same session
//!   (`reconnected: true`) and those that do not come back leave; the session ends `ALL_PARTICIPANTS_LEFT` if
//!   nobody does. Without this the session stayed LIVE in the store forever, and a join started a second one.
//! - **An end recorded but never told**: its node recorded the end, lost Redis before its release, and died. Redis
//!   has a room whose session the store has ENDED; the pass tells its participants the end as recorded (the same
//!   `roomLeft`, the same `eventId`) and deletes the room, recording nothing again. Without this they stayed in a
//!   session that had ended.
//!
//! Every node runs the pass every [`RECONCILE_EVERY`]. It compares the store's live sessions with the rooms in
//! Redis without a lock, then settles each meeting found at odds under the meeting's lease after reading both sides
//! again, so a transition under way (which holds the lease from its store writes to its release) is never mistaken
//! for a fault, and passes on several nodes at once settle each meeting once.

use super::{live_error, Held, HubCore, Inner, Transitions};
use crate::clock;
use crate::hub::hub_core::Ticker;
use crate::hub::room::RoomSnapshot;
use crate::store::{EndRecord, StoreError};
use endsession_protocol::EndReason;
use redis::AsyncCommands;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often each node compares the rooms in Redis with the store's live sessions: a fault above is settled within
/// this (plus the lease of a node that died holding one, [`super::LEASE`]).
pub const RECONCILE_EVERY: Duration = Duration::from_secs(10);

/// The first generation of a room put back from the store: above any generation an earlier copy of the room
/// could have reached (one per absence, keep-alive or countdown, from 0), so that no timer of that copy, still
/// sleeping on some node, matches an absence of this one. Unix milliseconds × 1024: an earlier copy would need more
/// than 1024 such events per millisecond of its life to reach it.
fn generation_floor() -> u64 {
    u64::try_from(clock::unix_ms()).unwrap_or(0).saturating_mul(1024)
}

impl Inner {
    /// If the locked room is idle and the store has a live session of its meeting, puts that session back into it
    /// (see the module doc). Errors if the store cannot be read (the caller's transition is then unavailable).
    pub(super) async fn adopt_live_session(self: &Arc<Self>, held: &mut Held) -> Result<(), StoreError> {
        if !held.room.is_idle() {
            return Ok(());
        }
        let Some(live) = self.store().db().await?.live_session_to_restore(&held.meeting_id).await? else {
            return Ok(());
        };
        let (session_id, members) = (live.session.id.clone(), live.members.len());
        tracing::warn!(
            meeting_id = held.meeting_id,
            session_id,
            members,
            "a live session had no room in redis: put back from the store"
        );
        self.restore_in_room(&mut held.room, live, generation_floor()).await?;
        Ok(())
    }

    /// Under the meeting's lease: tells a recorded end nobody was told, and puts back a live session with no room.
    async fn reconcile_meeting(self: &Arc<Self>, meeting_id: &str) -> Result<(), StoreError> {
        let mut held = self.lock(meeting_id).await?;
        let settled = self.settle_with_store(&mut held).await;
        self.release(held).await;
        settled
    }

    async fn settle_with_store(self: &Arc<Self>, held: &mut Held) -> Result<(), StoreError> {
        if let Some(session_id) = held.room.live_session_id().map(str::to_owned) {
            let meeting_id = held.meeting_id.clone();
            let row = self.store().db().await?.session(&meeting_id, &session_id).await?;
            match row {
                Some(row) if row.is_live() => return Ok(()),
                Some(row) => {
                    let end = self.store().db().await?.session_end(&session_id).await?.unwrap_or_default();
                    let record = EndRecord {
                        reason: row.end_reason.unwrap_or(EndReason::AllParticipantsLeft),
                        ended_by: end.ended_by,
                        message: end.message,
                        lock: false,
                    };
                    if let Some(mut ending) = held.room.ended_elsewhere(&session_id, record) {
                        tracing::warn!(meeting_id, session_id, "an end recorded in the store was never told: told now");
                        ending.event_id = end.event_id;
                        ending.kicked_count = row.kicked_count.unwrap_or(ending.kicked_count);
                        let remains = ending.deliver();
                        tokio::task::spawn_blocking(move || drop(remains));
                    }
                }
                None => {
                    // Not the store's (its meeting was deleted): nothing to tell, nothing to put back.
                    tracing::warn!(meeting_id, session_id, "a room in redis whose session the store does not know");
                    return Ok(());
                }
            }
        }
        self.adopt_live_session(held).await
    }
}

/// Runs [`pass`] every [`RECONCILE_EVERY`] until the hub is dropped or halted.
pub(super) async fn reconcile(inner: Weak<Inner>) {
    let mut ticker = Ticker::new(RECONCILE_EVERY, inner);
    while let Some(inner) = ticker.next().await {
        if let Err(e) = pass(&inner).await {
            tracing::warn!(error = %e, "could not compare the live sessions in redis with the store");
        }
    }
}

/// Finds the meetings whose room in Redis and live session in the store differ, and settles each under its lease.
async fn pass(inner: &Arc<Inner>) -> Result<(), StoreError> {
    let in_store: HashMap<String, String> =
        inner.store().db().await?.live_session_ids().await?.into_iter().rev().collect();
    let mut redis = inner.redis.clone();
    let rooms: Vec<String> = redis.smembers(inner.live_key()).await.map_err(live_error)?;
    let mut at_odds = BTreeSet::new();
    for meeting_id in &rooms {
        let text: Option<String> = redis.get(inner.room_key(meeting_id)).await.map_err(live_error)?;
        let in_redis = text.as_deref().and_then(RoomSnapshot::live_session_id_of);
        if in_redis.as_deref() != in_store.get(meeting_id).map(String::as_str) {
            at_odds.insert(meeting_id.clone());
        }
    }
    let rooms: BTreeSet<&String> = rooms.iter().collect();
    at_odds.extend(in_store.keys().filter(|m| !rooms.contains(m)).cloned());
    for meeting_id in at_odds {
        if inner.halted() {
            break;
        }
        if let Err(e) = inner.reconcile_meeting(&meeting_id).await {
            tracing::warn!(meeting_id, error = %e, "could not settle a live session with the store");
        }
    }
    Ok(())
}
