//! Timers that outlive their node, for [`super::RedisHub`]. A timer (reconnect grace, keep-alive, countdown) sleeps
//! on the node whose transition started it, as in `LocalHub`; it is also written, with the moment it is due, to the
//! sorted set `endsession:{cluster}:timers` (score: due time in unix ms), in the same script that saves the
//! transition's room (see `redis_lock.rs`), so a saved absence or emptied session always has its timer on record.
//! The node that runs a timer removes its entry; the sweep of any node (`redis_watch.rs`) runs the entries
//! [`TIMER_SLACK`] overdue, which are those whose node died (SIGKILL, crash) or whose run failed (Redis or the store
//! unreachable). Running a timer twice is harmless: each checks its generation under the meeting's lease
//! ([`super::Timer`]), so the second does nothing.
//!
//! Without this, a participant whose socket dropped on a node that then died stayed absent forever, and a session
//! emptied on such a node stayed LIVE forever.

use super::{live_error, HubCore, Inner, Timer, Transitions};
use crate::clock;
use crate::store::StoreError;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// How far past its due time a timer's entry may be before any node's sweep runs it (its own node runs it first if
/// alive; this also covers clock skew between nodes).
pub const TIMER_SLACK: Duration = Duration::from_secs(2);

/// At most this many overdue timers are run per sweep (a sweep runs every second).
const SWEEP_BATCH: isize = 256;

/// One timer as written to Redis: the member of the sorted set (its JSON text is its identity).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Due {
    pub meeting_id: String,
    pub session_id: String,
    pub timer: Timer,
}

impl Due {
    /// Its member text in the sorted set: the same for the same timer (serde_json writes fields in order).
    pub fn entry(&self) -> String {
        serde_json::to_string(self).expect("a timer is plain data")
    }
}

impl Inner {
    pub(super) fn timers_key(&self) -> String {
        format!("{}:timers", self.prefix)
    }

    /// Starts a timer: it sleeps here, and is kept for the release of the meeting's lease to write to Redis.
    pub(super) fn start_timer(self: &Arc<Self>, meeting_id: &str, session_id: &str, delay: Duration, timer: Timer) {
        let due = Due { meeting_id: meeting_id.to_owned(), session_id: session_id.to_owned(), timer };
        let at = clock::unix_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        self.unsaved_timers.lock().unwrap_or_else(|p| p.into_inner()).push((meeting_id.to_owned(), at, due.entry()));
        let hub = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            hub.timer_ran_out(due.meeting_id, due.session_id, due.timer).await;
        });
    }

    /// The timers started for `meeting_id` and not yet written, as (due unix ms, entry), for the release script.
    pub(super) fn take_unsaved_timers(&self, meeting_id: &str) -> Vec<(i64, String)> {
        let mut unsaved = self.unsaved_timers.lock().unwrap_or_else(|p| p.into_inner());
        let (mine, others) = std::mem::take(&mut *unsaved).into_iter().partition(|(m, _, _)| m == meeting_id);
        *unsaved = others;
        mine.into_iter().map(|(_, at, entry)| (at, entry)).collect()
    }

    /// Runs a due timer under the meeting's lease and removes its entry; on failure the entry stays for a sweep to
    /// run again. A halted node does neither: to the others it is dead, and its timers are theirs to run.
    /// `entry` is the text it has in the sorted set.
    pub(super) async fn run_due(self: &Arc<Self>, due: Due, entry: String) {
        if self.halted() {
            return;
        }
        let Due { meeting_id, session_id, timer } = due;
        match self.try_lock_existing(&meeting_id).await {
            Ok(Some(mut held)) => {
                self.timer_in_room(&mut held.room, &meeting_id, &session_id, timer).await;
                if !self.release(held).await {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(meeting_id, error = %e, "a timer could not run; a sweep runs it again");
                return;
            }
        }
        let mut redis = self.redis.clone();
        if let Err(e) = redis.zrem::<_, _, i64>(self.timers_key(), &entry).await {
            tracing::warn!(error = %live_error(e), "redis: could not remove a timer that ran (it runs again, harmlessly)");
        }
    }

    /// Runs the timers at least [`TIMER_SLACK`] overdue: those of dead nodes, and those whose run failed.
    pub(super) async fn run_overdue_timers(self: &Arc<Self>) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let before = clock::unix_ms().saturating_sub(i64::try_from(TIMER_SLACK.as_millis()).unwrap_or(i64::MAX));
        let overdue: Vec<String> =
            redis.zrangebyscore_limit(self.timers_key(), "-inf", before, 0, SWEEP_BATCH).await.map_err(live_error)?;
        for entry in overdue {
            match serde_json::from_str::<Due>(&entry) {
                Ok(due) => self.run_due(due, entry).await,
                Err(e) => {
                    tracing::error!(error = %e, entry, "redis: a timer entry that does not parse; dropped");
                    redis.zrem::<_, _, i64>(self.timers_key(), &entry).await.map_err(live_error)?;
                }
            }
        }
        Ok(())
    }
}
