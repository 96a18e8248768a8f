//! The countdown to a session's end on [`super::RedisHub`]: `LocalHub`'s `countdown.rs`, step for step, on a room
//! held under its Redis lease. The timer runs on the node that started the countdown.

use super::{Held, Inner};
use crate::clock;
use crate::hub::room::HostWatch;
use crate::hub::KickAllOutcome;
use crate::store::{CountdownRow, EndRecord};
use endsession_protocol::{EndOptions, EndReason, EndedBy};
use std::sync::Arc;
use std::time::Duration;

impl Inner {
    /// Starts `NO_HOST`'s countdown when the last host is gone, cancels it when a host is back. Called under the
    /// lease after every change of who is connected or permitted.
    pub(super) async fn watch_hosts(self: &Arc<Self>, held: &mut Held) {
        match held.room.host_watch() {
            HostWatch::Nothing => {}
            HostWatch::NoHost(after) => {
                let row = CountdownRow {
                    ends_at: String::new(),
                    reason: EndReason::NoHost,
                    ended_by: None,
                    message: None,
                    lock: false,
                };
                self.start_countdown(held, row, after).await;
            }
            HostWatch::HostBack => {
                self.save_countdown(held, None).await;
                held.room.cancel_countdown(None);
            }
        }
    }

    /// Stores the countdown (or its absence) of the live session; the store is never behind what clients are told.
    pub(super) async fn save_countdown(&self, held: &Held, row: Option<CountdownRow>) {
        let Some(session_id) = held.room.live_session_id().map(str::to_owned) else { return };
        if self.halted() {
            return;
        }
        if let Err(e) = self.store.run(move |db| db.save_countdown(&session_id, row.as_ref())).await {
            tracing::error!(error = %e, "could not store the countdown of a session");
        }
    }

    /// Starts a countdown of `delay` on the live session: stored, told to everyone (`sessionEnding`), and timed.
    /// Returns when it ends.
    async fn start_countdown(self: &Arc<Self>, held: &mut Held, mut row: CountdownRow, delay: Duration) -> String {
        let now_ms = clock::unix_ms();
        let ends_at_ms = now_ms.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        row.ends_at = clock::format(time::OffsetDateTime::now_utc() + delay);
        self.save_countdown(held, Some(row.clone())).await;
        let ends_at = row.ends_at.clone();
        if let Some(generation) = held.room.start_countdown(row, ends_at_ms, now_ms) {
            let session_id = held.room.live_session_id().unwrap_or_default().to_owned();
            self.spawn_countdown(&held.meeting_id, &session_id, generation, delay);
        }
        ends_at
    }

    /// After `delay`, ends the session with its countdown's record if that countdown (`generation`) still runs.
    fn spawn_countdown(self: &Arc<Self>, meeting_id: &str, session_id: &str, generation: u64, delay: Duration) {
        let inner = self.clone();
        let (meeting_id, session_id) = (meeting_id.to_owned(), session_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(mut held) = inner.lock_existing(&meeting_id).await {
                if let Some(ending) = held.room.countdown_expired(&session_id, generation) {
                    inner.finish(&meeting_id, ending).await;
                }
                inner.release(held).await;
            }
        });
    }

    /// Ends the live session now (`graceSeconds` 0 or absent), or starts its countdown; `by` may end it (checked).
    /// The same rules as `LocalHub`'s `end_or_schedule`.
    pub(super) async fn end_or_schedule(
        self: &Arc<Self>,
        held: &mut Held,
        by: EndedBy,
        options: EndOptions,
    ) -> KickAllOutcome {
        let session_id = held.room.live_session_id().unwrap_or_default().to_owned();
        let EndOptions { message, lock, grace_seconds } = options;
        let grace = grace_seconds.unwrap_or(0);
        if grace == 0 {
            let record = EndRecord { reason: EndReason::HostEndedMeeting, ended_by: Some(by), message, lock };
            let ending = held.room.end_now(record).expect("the caller checked that a session is live");
            let meeting_id = held.meeting_id.clone();
            return self.finish(&meeting_id, ending).await;
        }
        let ends_at = match held.room.countdown().filter(|c| c.row.reason != EndReason::NoHost) {
            Some(running) => running.row.ends_at.clone(),
            None => {
                let row = CountdownRow {
                    ends_at: String::new(),
                    reason: EndReason::HostEndedMeeting,
                    ended_by: Some(by),
                    message,
                    lock,
                };
                self.start_countdown(held, row, Duration::from_secs(grace.into())).await
            }
        };
        KickAllOutcome { session_id, kicked_count: 0, already_ended: false, ends_at: Some(ends_at) }
    }
}
