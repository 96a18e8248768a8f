//! What lets a restart keep sessions: [`LocalHub::restore`] puts back the sessions a previous run left live, and
//! [`stamp_alive`] keeps `sessions.last_alive_at` fresh while someone is connected, so that a session nobody comes
//! back to ends at the last moment anyone was there.

use super::{Inner, LocalHub};
use crate::clock;
use crate::hub::hub_core::{HubCore, Ticker};
use crate::hub::transitions::Transitions;
use crate::store::StoreError;
use std::sync::Weak;
use std::time::Duration;

impl LocalHub {
    /// Puts back every session a previous run of the server left live (see [`Room::restore`]): their participants
    /// are absent with their grace running, so clients that reconnect within it resume the same session with
    /// `Joined { reconnected: true }` and no webhook; those that do not come back leave (`participantLeft`, dated
    /// when they were last known present), and a session nobody comes back to ends with `ALL_PARTICIPANTS_LEFT`,
    /// its true peak, and the last moment anyone was present as its end. Call once, before serving. Returns how
    /// many sessions were restored.
    pub async fn restore(&self) -> Result<usize, StoreError> {
        let sessions = self.inner.store().db().await?.live_sessions_to_restore().await?;
        let mut restored = 0;
        for live in sessions {
            let mut room = self.inner.lock(&live.session.meeting_id).await;
            if !room.is_idle() {
                continue;
            }
            // A fresh process: no timer of an earlier copy of these rooms exists.
            if self.inner.restore_in_room(&mut room, live, 0).await? {
                restored += 1;
            }
        }
        Ok(restored)
    }
}

/// How often the sessions with someone connected are stamped alive (`sessions.last_alive_at`): after a crash, a
/// session nobody comes back to ends at most this long before its true last moment.
pub const ALIVE_STAMP: Duration = Duration::from_secs(5);

/// Stamps, every [`ALIVE_STAMP`], the live sessions that have someone connected. Ends when the hub is dropped or
/// halted.
pub(super) async fn stamp_alive(inner: Weak<Inner>) {
    let mut ticker = Ticker::new(ALIVE_STAMP, inner);
    while let Some(inner) = ticker.next().await {
        let entries: Vec<_> = inner.rooms.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        // A room busy right now is skipped: it is stamped at the next tick.
        let alive: Vec<String> = entries
            .iter()
            .filter_map(|entry| {
                let slot = entry.slot.try_lock().ok()?;
                (!slot.retired && slot.room.anyone_connected())
                    .then(|| slot.room.live_session_id().map(str::to_owned))?
            })
            .collect();
        if alive.is_empty() {
            continue;
        }
        let stamped: Result<(), StoreError> =
            async { inner.store().db().await?.stamp_alive(&alive, &clock::now()).await }.await;
        if let Err(e) = stamped {
            tracing::warn!(error = %e, "could not stamp live sessions as alive");
        }
    }
}
