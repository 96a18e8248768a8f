//! The per-meeting lease of [`super::RedisHub`]: take it (`SET NX PX`), load the room, and release it with the
//! room saved and the transition's frames published in one script (see the module doc of `redis.rs`).

use super::{bus, live_error, Held, HubCore, Inner, Remote, Sink, LEASE, LOCK_WAIT};
use crate::hub::room::{Room, RoomSnapshot};
use crate::store::{new_id, StoreError};
use redis::AsyncCommands;
use std::sync::Arc;
use std::time::Duration;

/// KEYS: lock, room, the set of live meetings, the sorted set of timers. ARGV: lease token, room JSON ('' to delete
/// the room), meeting id, the number n of timers started, then n (due unix ms, timer) pairs, then channel and message
/// pairs.
/// Returns 1 if the lease was still ours (saved, timers recorded, published, released), 0 if not (nothing done).
// Hand-written: the compare-and-delete of a lease is the Redis documentation's own pattern, extended with the save,
// the timers and the publishes so that they happen only under the lease, together.
pub(super) const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[3])
else
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[3])
end
local timers_end = 4 + 2 * tonumber(ARGV[4])
for i = 5, timers_end, 2 do redis.call('ZADD', KEYS[4], ARGV[i], ARGV[i + 1]) end
for i = timers_end + 1, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end
redis.call('DEL', KEYS[1])
return 1
";

/// KEYS: lock. ARGV: lease token. Deletes the lease if it is still ours.
pub(super) const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// How many times (one second apart) a lease that may have been taken by a failed command is given back.
const GIVE_BACK_TRIES: usize = 10;

impl Inner {
    /// Takes the meeting's lease (waiting at most [`LOCK_WAIT`]) and loads its room.
    /// A halted hub takes no lease: it changes nothing any more.
    pub(super) async fn lock(&self, meeting_id: &str) -> Result<Held, StoreError> {
        if self.halted() {
            return Err(live_error("this node is halted"));
        }
        let token = new_id();
        let key = self.lock_key(meeting_id);
        let lease = u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX);
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        let mut redis = self.redis.clone();
        let mut pause = 1u64;
        loop {
            let taken: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(lease)
                .query_async(&mut redis)
                .await
                .map_err(|e| {
                    // Timed out, it may still run once Redis answers again (a stalled Redis, `CLIENT PAUSE`).
                    self.give_back_later(&key, &token);
                    live_error(e)
                })?;
            if taken.is_some() {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(live_error(format!("meeting {meeting_id} stayed locked for {LOCK_WAIT:?}")));
            }
            // Backs off to at most 16 ms, jittered so that waiting nodes do not retry in step.
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 4);
            tokio::time::sleep(Duration::from_millis(pause + jitter)).await;
            pause = (pause * 2).min(12);
        }
        let sink = Sink::default();
        let text: Option<String> = match redis.get(self.room_key(meeting_id)).await {
            Ok(text) => text,
            Err(e) => {
                self.give_back_later(&key, &token);
                return Err(live_error(e));
            }
        };
        let room = match text.map(|t| serde_json::from_str::<RoomSnapshot>(&t)) {
            None => Room::default(),
            Some(Ok(snapshot)) => {
                let deliverer = |conn| Remote { conn, sink: sink.clone() };
                Room::from_snapshot(snapshot, deliverer)
            }
            Some(Err(e)) => {
                self.give_back_later(&key, &token);
                return Err(e.into());
            }
        };
        Ok(Held { meeting_id: meeting_id.to_owned(), token, room, sink })
    }

    /// Locks the meeting's room only if a session is live; None (logged) if none is, or on an error.
    pub(super) async fn lock_existing(self: &Arc<Self>, meeting_id: &str) -> Option<Held> {
        self.try_lock_existing(meeting_id).await.unwrap_or_else(|e| {
            tracing::error!(meeting_id, error = %e, "could not lock a live session");
            None
        })
    }

    /// Locks the meeting's room only if Redis has one; None if it has none, or on an error (logged). For a socket's
    /// disconnect, which must not read the store: after an end (the room deleted) each of the session's N sockets
    /// closes, and each would find no room and ask the store. A session whose room Redis lost has nobody in it to
    /// disconnect: the reconcile pass puts it back with everyone absent (`redis_reconcile.rs`).
    pub(super) async fn lock_if_room(self: &Arc<Self>, meeting_id: &str) -> Option<Held> {
        let mut redis = self.redis.clone();
        let held = match redis.exists::<_, bool>(self.room_key(meeting_id)).await.map_err(live_error) {
            Ok(false) => return None,
            Ok(true) => self.lock(meeting_id).await,
            Err(e) => Err(e),
        };
        match held {
            Ok(held) if held.room.is_idle() => {
                self.release(held).await;
                None
            }
            Ok(held) => Some(held),
            Err(e) => {
                tracing::error!(meeting_id, error = %e, "could not lock a live session");
                None
            }
        }
    }

    /// Locks the meeting's room only if a session is live: Ok(None) if none is. A session the store has live and
    /// Redis has no room for is put back first (see `redis_reconcile.rs`), so that acting on it (a kick-all, a
    /// cancel) does not find it gone.
    pub(super) async fn try_lock_existing(self: &Arc<Self>, meeting_id: &str) -> Result<Option<Held>, StoreError> {
        let mut redis = self.redis.clone();
        if !redis.exists::<_, bool>(self.room_key(meeting_id)).await.map_err(live_error)? {
            let latest = self.store().db().await?.latest_session(meeting_id).await?;
            if !latest.is_some_and(|session| session.is_live()) {
                return Ok(None);
            }
        }
        let mut held = self.lock(meeting_id).await?;
        if let Err(e) = self.adopt_live_session(&mut held).await {
            self.release(held).await;
            return Err(e);
        }
        if held.room.is_idle() {
            self.release(held).await;
            return Ok(None);
        }
        Ok(Some(held))
    }

    /// Gives the lease `token` back without saving anything (a load that failed, or a `SET NX` that failed and may
    /// still run), retrying for a few seconds while Redis does not answer. Without it, a lease taken by a command
    /// that timed out and ran later held the meeting for [`LEASE`] (30 s) with nobody in it: nobody could join.
    /// A compare-and-delete on our own token: harmless if the lease was never taken, or is someone else's by then.
    fn give_back_later(&self, key: &str, token: &str) {
        let (mut redis, unlock) = (self.redis.clone(), self.unlock.clone());
        let (key, token) = (key.to_owned(), token.to_owned());
        tokio::spawn(async move {
            for _ in 0..GIVE_BACK_TRIES {
                let result: redis::RedisResult<i64> = unlock.key(&key).arg(&token).invoke_async(&mut redis).await;
                match result {
                    Ok(_) => return,
                    Err(e) => tracing::warn!(error = %e, "redis: could not give a lease back yet"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Saves the room, publishes the frames its transitions decided, and gives the lease back: one script.
    /// False if nothing was saved or published (the lease ran out, or Redis failed): the transition did not happen
    /// as far as the other nodes know.
    pub(super) async fn release(&self, held: Held) -> bool {
        let Held { meeting_id, token, room, sink } = held;
        let state = if room.is_idle() {
            String::new()
        } else {
            serde_json::to_string(&room.snapshot(|id, _| id)).expect("a snapshot is plain data")
        };
        let frames = std::mem::take(&mut *sink.lock().unwrap_or_else(|p| p.into_inner()));
        // Freed off the async workers: an ended session may hold thousands of members.
        tokio::task::spawn_blocking(move || drop(room));
        let timers = self.take_unsaved_timers(&meeting_id);
        let mut invocation = self.release.key(self.lock_key(&meeting_id));
        invocation.key(self.room_key(&meeting_id)).key(self.live_key()).key(self.timers_key());
        invocation.arg(&token).arg(state).arg(&meeting_id).arg(timers.len());
        for (at, entry) in timers {
            invocation.arg(at).arg(entry);
        }
        for (node, message) in bus::messages(frames) {
            invocation.arg(bus::channel(node)).arg(message);
        }
        let mut redis = self.redis.clone();
        match invocation.invoke_async::<i64>(&mut redis).await {
            Ok(1) => return true,
            Ok(_) => tracing::error!(meeting_id, "a transition outlived its lease: its room and frames were dropped"),
            Err(e) => tracing::error!(meeting_id, error = %e, "redis: could not save a live session"),
        }
        false
    }
}
