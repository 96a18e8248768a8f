//! The countdown to a session's end, on the hub's side: started by `kickAll` with `graceSeconds` (or by the
//! `NO_HOST` watch), stored before anyone is told, timed by a task of the hub that started it, cancelled by a host
//! or the API. The rules (who may, what everyone is told) are [`super::room::Room`]'s; this adds the store and the
//! timers, for every hub (see [`HubCore`]). Each step runs under the meeting's lock.

use super::hub_core::{HubCore, RoomOf};
use super::room::{HostWatch, KickRefusal};
use super::{HubError, KickAllOutcome, Seat};
use crate::clock;
use crate::store::{CountdownRow, EndRecord};
use endsession_protocol::{EndOptions, EndReason, EndedBy};
use std::sync::Arc;
use std::time::Duration;

pub(super) trait Countdowns: HubCore {
    /// Starts `NO_HOST`'s countdown when the last host is gone, cancels it when a host is back (see
    /// [`super::room::Room::host_watch`]). Called under the room lock after every change of who is connected or
    /// permitted.
    async fn watch_hosts(self: &Arc<Self>, room: &mut RoomOf<Self>, meeting_id: &str) {
        match room.host_watch() {
            HostWatch::Nothing => {}
            HostWatch::NoHost(after) => {
                let row = CountdownRow {
                    ends_at: String::new(),
                    reason: EndReason::NoHost,
                    ended_by: None,
                    message: None,
                    lock: false,
                };
                self.start_countdown(room, meeting_id, row, after).await;
            }
            HostWatch::HostBack => {
                self.save_countdown(room, None).await;
                room.cancel_countdown(None);
            }
        }
    }

    /// Stores the countdown (or its absence) of the live session; the store is never behind what clients are told.
    async fn save_countdown(&self, room: &RoomOf<Self>, row: Option<CountdownRow>) {
        let Some(session_id) = room.live_session_id() else { return };
        if self.halted() {
            return;
        }
        let saved: crate::store::Result<()> =
            async { self.store().db().await?.save_countdown(session_id, row.as_ref()).await }.await;
        if let Err(e) = saved {
            tracing::error!(error = %e, "could not store the countdown of a session");
        }
    }

    /// Starts a countdown of `delay` on the live session: stored, told to everyone (`sessionEnding`), and timed.
    /// Returns when it ends (`row.ends_at` is set here).
    async fn start_countdown(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        meeting_id: &str,
        mut row: CountdownRow,
        delay: Duration,
    ) -> String {
        let now_ms = clock::unix_ms();
        let ends_at_ms = now_ms.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        row.ends_at = clock::format(time::OffsetDateTime::now_utc() + delay);
        self.save_countdown(room, Some(row.clone())).await;
        let ends_at = row.ends_at.clone();
        if let Some(generation) = room.start_countdown(row, ends_at_ms, now_ms) {
            let session_id = room.live_session_id().unwrap_or_default().to_owned();
            self.spawn_countdown(meeting_id, &session_id, generation, delay);
        }
        ends_at
    }

    /// The countdown's timer ran out: ends the session with its countdown's record if that countdown
    /// (`generation`) still runs.
    async fn countdown_in_room(&self, room: &mut RoomOf<Self>, meeting_id: &str, session_id: &str, generation: u64) {
        if let Some(ending) = room.countdown_expired(session_id, generation) {
            self.finish(meeting_id, ending).await;
        }
    }

    /// Ends the live session now (`graceSeconds` 0 or absent), or starts its countdown; `by` may end it (checked).
    /// A countdown already running is kept (its `ends_at` is answered), unless it is `NO_HOST`'s, which a host's or
    /// the API's countdown replaces; an end now ends it whatever runs.
    async fn end_or_schedule(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        meeting_id: &str,
        by: EndedBy,
        options: EndOptions,
    ) -> KickAllOutcome {
        let session_id = room.live_session_id().unwrap_or_default().to_owned();
        let EndOptions { message, lock, grace_seconds } = options;
        let grace = grace_seconds.unwrap_or(0);
        if grace == 0 {
            let record = EndRecord { reason: EndReason::HostEndedMeeting, ended_by: Some(by), message, lock };
            let ending = room.end_now(record).expect("the caller checked that a session is live");
            return self.finish(meeting_id, ending).await;
        }
        let ends_at = match room.countdown().filter(|c| c.row.reason != EndReason::NoHost) {
            Some(running) => running.row.ends_at.clone(),
            None => {
                let row = CountdownRow {
                    ends_at: String::new(),
                    reason: EndReason::HostEndedMeeting,
                    ended_by: Some(by),
                    message,
                    lock,
                };
                self.start_countdown(room, meeting_id, row, Duration::from_secs(grace.into())).await
            }
        };
        KickAllOutcome { session_id, kicked_count: 0, already_ended: false, ends_at: Some(ends_at) }
    }

    /// [`super::Hub::cancel_end`] on the locked room: by a participant (`seat`, which needs `kick_participant`) or
    /// the API (None). True if a countdown was running.
    async fn cancel_in_room(&self, room: &mut RoomOf<Self>, seat: Option<&Seat>) -> Result<bool, HubError> {
        let by = match room.check_host(seat.map(|s| s.session_id.as_str()), seat.map(|s| s.participant_id.as_str())) {
            Ok(by) => by,
            Err(KickRefusal::PermissionDenied) => return Err(HubError::PermissionDenied),
            Err(KickRefusal::NotLive) => return Ok(false),
        };
        if room.countdown().is_none() {
            return Ok(false);
        }
        self.save_countdown(room, None).await;
        Ok(room.cancel_countdown(Some(by)))
    }
}

impl<H: HubCore> Countdowns for H {}
