//! What a hub supplies around the rules of [`Room`] ([`HubCore`]), and the store writes every hub makes the same
//! way once a rule decided something: an end recorded before anyone is told ([`HubCore::finish`]), a stay ended
//! ([`HubCore::removed`]), a departure applied ([`HubCore::settle`]).
//!
//! Layering: this module knows the store and the rules; `countdown.rs` adds the countdown on top of it, and
//! `transitions.rs` every transition of the [`super::Hub`] trait on top of both. A hub ([`super::LocalHub`],
//! [`super::RedisHub`]) only takes its lock, loads its room, calls these, and releases (saving and fanning out).

use super::room::{Departure, Ending, Linger, Room};
use super::{Deliver, KickAllOutcome, Seat};
use crate::clock;
use crate::store::Store;
use endsession_protocol::LeaveState;
use std::sync::Arc;
use std::time::Duration;

/// A hub's mechanism: its store, whether it was halted, and its timers. A timer sleeps, then takes the meeting's
/// lock as any transition does and calls the matching step of [`super::transitions::Transitions`] (which checks its
/// generation), then releases.
pub(super) trait HubCore: Send + Sync + Sized + 'static {
    /// How the rules reach one connection of this hub: its [`super::Outbox`] in process, or a sink published at the
    /// release of the lock.
    type Conn: Deliver + Clone + Send + Sync + 'static;

    fn store(&self) -> &Store;

    /// True once the hub was halted (see [`super::LocalHub::halt`]): it then writes nothing more to the store.
    fn halted(&self) -> bool;

    /// After the reconnect grace, expires the participant's absence `generation`
    /// ([`super::transitions::Transitions::expire_in_room`]).
    fn spawn_expiry(self: &Arc<Self>, meeting_id: &str, session_id: &str, participant_id: &str, generation: u64);

    /// After the keep-alive, ends the emptied session ([`super::transitions::Transitions::linger_in_room`]).
    fn spawn_linger(self: &Arc<Self>, meeting_id: &str, session_id: &str, linger: Linger, emptied_at: String);

    /// After `delay`, ends the session if its countdown `generation` still runs
    /// ([`super::countdown::Countdowns::countdown_in_room`]).
    fn spawn_countdown(self: &Arc<Self>, meeting_id: &str, session_id: &str, generation: u64, delay: Duration);

    /// Records an end, then has everybody told: the store is never behind what clients were told.
    async fn finish(&self, meeting_id: &str, mut ending: Ending<Self::Conn>) -> KickAllOutcome {
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
            // One transaction: the end, its `meeting.ended` webhook event (whose id every participant is told) and,
            // with `lock`, the meeting's INACTIVE status are recorded together.
            let recorded = self.store().run(move |db| {
                db.transaction(|db| db.end_session_recorded(&meeting, &session_id, &ended_at, &record, peak, kicked))
            });
            match recorded.await {
                Ok(event_id) => ending.event_id = event_id,
                Err(e) => tracing::error!(meeting_id, error = %e, "could not record the end of a session"),
            }
        }
        let remains = ending.deliver();
        // Freed off the async workers, which have the deliveries to write.
        tokio::task::spawn_blocking(move || drop(remains));
        outcome
    }

    /// A participant is out of the session since `at`: its stay ends (with a removal remembered if `kicked`), and
    /// so does the session if that emptied it (the end closes every stay), now or after its keep-alive (`linger`).
    #[allow(clippy::too_many_arguments)] // one call site per kind of departure; a struct would only rename them
    async fn removed(
        self: &Arc<Self>,
        meeting_id: &str,
        session_id: &str,
        participant_id: &str,
        at: String,
        kicked: bool,
        ending: Option<Ending<Self::Conn>>,
        linger: Option<Linger>,
    ) {
        if self.halted() {
            return;
        }
        let (meeting, session, participant, left_at) =
            (meeting_id.to_owned(), session_id.to_owned(), participant_id.to_owned(), at.clone());
        let ends = ending.is_some();
        // One transaction: the departure, its `meeting.participantLeft` webhook event and the removal. An ending
        // records the departure itself (the end closes every stay).
        let recorded = self.store().run(move |db| {
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

    /// Applies what a departure did; `Absent` starts the grace timer.
    async fn settle(self: &Arc<Self>, seat: &Seat, departure: Departure<Self::Conn>) {
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
}

/// The room a transition works on, whichever hub holds it.
pub(super) type RoomOf<H> = Room<<H as HubCore>::Conn>;
