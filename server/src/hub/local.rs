//! The in-process [`Hub`]: one [`Room`] per meeting behind its own async lock.
//!
//! The lock is tokio's, held across the few store calls a transition needs (start a session, record an end), which is
//! what serializes joins and ends per meeting. It is never held across a socket write: fan-out only queues.
//! Meetings without a live session keep no memory: their room is retired and dropped.
//!
//! Joins do not take the lock one at a time: each queues itself with the meeting ([`Admissions`]), and whoever gets
//! the lock admits every join queued so far in one store transaction (see `admissions.rs`).

use super::countdown::Countdowns;
use super::hub_core::{HubBase, HubCore, Timer};
use super::room::{KickRefusal, LiveInfo, Room};
use super::transitions::Transitions;
use super::{Hub, HubError, JoinOutcome, JoinRequest, KickAllOutcome, Outbox, Seat};
use crate::store::Store;
use async_trait::async_trait;
use endsession_protocol::{EndOptions, Permissions};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[path = "admissions.rs"]
mod admissions;
#[path = "restore.rs"]
mod restore;
use admissions::Admissions;
use restore::stamp_alive;
pub use restore::ALIVE_STAMP;

pub struct LocalHub {
    inner: Arc<Inner>,
}

struct Inner {
    base: HubBase,
    rooms: Mutex<HashMap<String, Arc<Entry>>>,
    next_conn: AtomicU64,
}

/// A meeting's place in the hub: its room behind the room lock, and the joins waiting for that lock.
#[derive(Default)]
struct Entry {
    slot: Arc<AsyncMutex<Slot>>,
    admissions: Mutex<Admissions>,
}

#[derive(Default)]
struct Slot {
    room: Room<Outbox>,
    /// Removed from the map: whoever locks it next must look the meeting up again.
    retired: bool,
}

/// A locked room. Dropping it retires the room if it holds no live session.
struct RoomGuard<'a> {
    inner: &'a Inner,
    meeting_id: String,
    entry: Arc<Entry>,
    guard: OwnedMutexGuard<Slot>,
}

impl Deref for RoomGuard<'_> {
    type Target = Room<Outbox>;
    fn deref(&self) -> &Self::Target {
        &self.guard.room
    }
}

impl DerefMut for RoomGuard<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.guard.room
    }
}

impl Drop for RoomGuard<'_> {
    fn drop(&mut self) {
        if self.guard.room.is_idle() {
            let mut admissions = self.entry.admissions.lock().unwrap_or_else(|p| p.into_inner());
            // Joins still queued take the lock next and admit themselves: the room stays for them.
            if !admissions.is_empty() {
                return;
            }
            admissions.close();
            self.guard.retired = true;
            let mut rooms = self.inner.rooms.lock().unwrap_or_else(|p| p.into_inner());
            if rooms.get(&self.meeting_id).is_some_and(|entry| Arc::ptr_eq(entry, &self.entry)) {
                rooms.remove(&self.meeting_id);
            }
        }
    }
}

impl LocalHub {
    /// A hub recording sessions in `store`, keeping dropped participants for `grace`. Must be called inside a tokio
    /// runtime: it starts the task that stamps live sessions as alive (see [`ALIVE_STAMP`]), which ends with the hub.
    pub fn new(store: Store, grace: Duration) -> Self {
        let inner =
            Arc::new(Inner { base: HubBase::new(store, grace), rooms: Mutex::default(), next_conn: AtomicU64::new(1) });
        tokio::spawn(stamp_alive(Arc::downgrade(&inner)));
        LocalHub { inner }
    }

    /// Stops every store write and join of this hub, as a crash would: for tests that start a second server on the
    /// same data while this one's connections are still open in the same process.
    pub fn halt(&self) {
        self.inner.base.halt();
    }
}

impl Inner {
    /// The meeting's entry, created if needed (for joins).
    fn entry(&self, meeting_id: &str) -> Arc<Entry> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner()).entry(meeting_id.into()).or_default().clone()
    }

    /// Locks the meeting's room, creating it if needed (for joins).
    async fn lock(&self, meeting_id: &str) -> RoomGuard<'_> {
        loop {
            if let Some(guard) = self.acquire(meeting_id, self.entry(meeting_id)).await {
                return guard;
            }
        }
    }

    /// Locks the meeting's room only if it exists, i.e. a session is live or a join is under way.
    async fn lock_existing(&self, meeting_id: &str) -> Option<RoomGuard<'_>> {
        loop {
            let entry = self.rooms.lock().unwrap_or_else(|p| p.into_inner()).get(meeting_id)?.clone();
            if let Some(guard) = self.acquire(meeting_id, entry).await {
                return Some(guard);
            }
        }
    }

    async fn acquire(&self, meeting_id: &str, entry: Arc<Entry>) -> Option<RoomGuard<'_>> {
        let guard = entry.slot.clone().lock_owned().await;
        (!guard.retired).then(|| RoomGuard { inner: self, meeting_id: meeting_id.into(), entry, guard })
    }

    /// A new connection of this hub: its id, and its outbox as the rules reach it.
    fn connect(&self, outbox: Outbox) -> (super::ConnId, Outbox) {
        (self.next_conn.fetch_add(1, Ordering::Relaxed), outbox)
    }
}

/// The room lock is the room's own async mutex (see [`Inner::lock`]); a timer's room is looked up again after its
/// sleep, and a retired one is left alone.
impl HubCore for Inner {
    type Conn = Outbox;

    fn base(&self) -> &HubBase {
        &self.base
    }

    async fn timer_ran_out(self: Arc<Self>, meeting_id: String, session_id: String, timer: Timer) {
        if let Some(mut room) = self.lock_existing(&meeting_id).await {
            self.timer_in_room(&mut room, &meeting_id, &session_id, timer).await;
        }
    }
}

#[async_trait]
impl Hub for LocalHub {
    async fn join(&self, request: JoinRequest) -> JoinOutcome {
        self.inner.join(request).await
    }

    async fn leave(&self, seat: &Seat) -> bool {
        let Some(mut room) = self.inner.lock_existing(&seat.meeting_id).await else {
            return false;
        };
        self.inner.leave_room(&mut room, seat).await
    }

    async fn disconnect(&self, seat: &Seat) {
        if let Some(mut room) = self.inner.lock_existing(&seat.meeting_id).await {
            self.inner.disconnect_room(&mut room, seat).await;
        }
    }

    async fn kick_all(&self, seat: &Seat, options: EndOptions) -> Result<KickAllOutcome, HubError> {
        let refusal = match self.inner.lock_existing(&seat.meeting_id).await {
            Some(mut room) => match self.inner.kick_all_room(&mut room, seat, options).await {
                Ok(outcome) => return Ok(outcome),
                Err(refusal) => refusal,
            },
            None => KickRefusal::NotLive,
        };
        self.inner.kick_all_refused(seat, refusal).await
    }

    async fn end_session(&self, meeting_id: &str, options: EndOptions) -> Result<Option<KickAllOutcome>, HubError> {
        // With `lock`, the room is taken even if idle: a join waits for it, then finds the meeting INACTIVE.
        let room = match options.lock {
            true => Some(self.inner.lock(meeting_id).await),
            false => self.inner.lock_existing(meeting_id).await,
        };
        let Some(mut room) = room else {
            return Ok(None);
        };
        self.inner.end_session_room(&mut room, meeting_id, options).await
    }

    async fn cancel_end(&self, meeting_id: &str, seat: Option<&Seat>) -> Result<bool, HubError> {
        let Some(mut room) = self.inner.lock_existing(meeting_id).await else {
            return Ok(false);
        };
        self.inner.cancel_in_room(&mut room, seat).await
    }

    async fn kick(&self, meeting_id: &str, participant_ids: &[String]) -> Vec<String> {
        let Some(mut room) = self.inner.lock_existing(meeting_id).await else {
            return Vec::new();
        };
        self.inner.kick_room(&mut room, meeting_id, participant_ids).await
    }

    async fn update_permissions(
        &self,
        meeting_id: &str,
        participant_id: &str,
        preset_name: &str,
        permissions: Permissions,
    ) {
        if let Some(mut room) = self.inner.lock_existing(meeting_id).await {
            self.inner.permissions_room(&mut room, meeting_id, participant_id, preset_name, permissions).await;
        }
    }

    async fn update_preset(&self, meeting_id: &str, preset_name: &str, new_name: &str, permissions: Permissions) {
        if let Some(mut room) = self.inner.lock_existing(meeting_id).await {
            self.inner.preset_room(&mut room, meeting_id, preset_name, new_name, permissions).await;
        }
    }

    async fn live_session(&self, meeting_id: &str) -> Option<LiveInfo> {
        self.inner.lock_existing(meeting_id).await?.info()
    }
}
