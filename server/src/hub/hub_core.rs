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
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// A hub's mechanism: its store, whether it was halted, and how a timer takes the meeting's lock. A timer sleeps on
/// a task of the hub, then takes the lock as any transition does and runs its step, which checks its generation.
pub(super) trait HubCore: Send + Sync + Sized + 'static {
    /// How the rules reach one connection of this hub: its [`super::Outbox`] in process, or a sink published at the
    /// release of the lock.
    type Conn: Deliver + Clone + Send + Sync + 'static;

    /// The store, grace and halt flag of this hub.
    fn base(&self) -> &HubBase;

    fn store(&self) -> &Store {
        &self.base().store
    }

    /// True once the hub was halted (see [`super::LocalHub::halt`]): it then writes nothing more to the store.
    fn halted(&self) -> bool {
        self.base().halted.load(Ordering::SeqCst)
    }

    /// A timer ran out: takes the meeting's lock (if the meeting still has a room), runs the timer's step on it
    /// ([`super::transitions::Transitions::timer_in_room`], which checks its generation), and releases.
    fn timer_ran_out(
        self: Arc<Self>,
        meeting_id: String,
        session_id: String,
        timer: Timer,
    ) -> impl Future<Output = ()> + Send;

    /// Runs [`HubCore::timer_ran_out`] after `delay`, on a task of this hub.
    fn spawn_timer(self: &Arc<Self>, meeting_id: &str, session_id: &str, delay: Duration, timer: Timer) {
        let (hub, meeting_id, session_id) = (self.clone(), meeting_id.to_owned(), session_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            hub.timer_ran_out(meeting_id, session_id, timer).await;
        });
    }

    /// After the reconnect grace, removes the participant if it is still absent from this same absence.
    fn spawn_expiry(self: &Arc<Self>, meeting_id: &str, session_id: &str, participant_id: &str, generation: u64) {
        let timer = Timer::Expiry { participant_id: participant_id.to_owned(), generation };
        self.spawn_timer(meeting_id, session_id, self.base().grace, timer);
    }

    /// After the keep-alive, ends the emptied session unless somebody joined it meanwhile.
    fn spawn_linger(self: &Arc<Self>, meeting_id: &str, session_id: &str, linger: Linger, emptied_at: String) {
        let timer = Timer::Linger { generation: linger.generation, emptied_at };
        self.spawn_timer(meeting_id, session_id, linger.keep_alive, timer);
    }

    /// After `delay`, ends the session if its countdown `generation` still runs.
    fn spawn_countdown(self: &Arc<Self>, meeting_id: &str, session_id: &str, generation: u64, delay: Duration) {
        self.spawn_timer(meeting_id, session_id, delay, Timer::Countdown { generation });
    }

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
        let ended_at = ending.ended_at.clone().unwrap_or_else(clock::now);
        if !self.halted() {
            // One transaction: the end, its `meeting.ended` webhook event (whose id every participant is told) and,
            // with `lock`, the meeting's INACTIVE status are recorded together.
            let recorded: crate::store::Result<Option<String>> = async {
                let mut tx = self.store().begin().await?;
                let event_id =
                    tx.end_session_recorded(meeting_id, &session_id, &ended_at, &record, peak, kicked).await?;
                tx.commit().await?;
                Ok(event_id)
            }
            .await;
            match recorded {
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
        let ends = ending.is_some();
        // One transaction: the departure, its `meeting.participantLeft` webhook event and the removal. An ending
        // records the departure itself (the end closes every stay).
        if !ends || kicked {
            let recorded: crate::store::Result<()> = async {
                let mut tx = self.store().begin().await?;
                if !ends {
                    tx.record_departure(meeting_id, session_id, participant_id, &at).await?;
                }
                if kicked {
                    tx.record_removal(session_id, participant_id, LeaveState::Kicked, &at).await?;
                }
                tx.commit().await
            }
            .await;
            if let Err(e) = recorded {
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

/// What every hub keeps alike: the store it records sessions in, how long a dropped participant is kept (the
/// reconnect grace), and whether it was halted.
pub(super) struct HubBase {
    pub(super) store: Store,
    pub(super) grace: Duration,
    halted: AtomicBool,
}

impl HubBase {
    pub(super) fn new(store: Store, grace: Duration) -> Self {
        HubBase { store, grace, halted: AtomicBool::new(false) }
    }

    /// Stops every store write and join of the hub, as a crash would (see [`super::LocalHub::halt`]).
    pub(super) fn halt(&self) {
        self.halted.store(true, Ordering::SeqCst);
    }
}

/// A timer of a live session: what to do when it runs out, unless its generation is stale (the participant came
/// back, somebody joined, the countdown was cancelled or replaced). Plain data: `RedisHub` keeps it in Redis too.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) enum Timer {
    /// The reconnect grace of an absent participant.
    Expiry { participant_id: String, generation: u64 },
    /// The keep-alive of an emptied session, which ended when the last participant left (`emptied_at`).
    Linger { generation: u64, emptied_at: String },
    /// The countdown to the session's end.
    Countdown { generation: u64 },
}

/// Ticks every `period` while its hub lives and is not halted (the background work of a hub: stamps, sweeps).
pub(super) struct Ticker<H> {
    tick: tokio::time::Interval,
    hub: Weak<H>,
}

impl<H: HubCore> Ticker<H> {
    pub(super) fn new(period: Duration, hub: Weak<H>) -> Self {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ticker { tick, hub }
    }

    /// Waits for the next tick; None once the hub was dropped or halted.
    pub(super) async fn next(&mut self) -> Option<Arc<H>> {
        self.tick.tick().await;
        self.hub.upgrade().filter(|hub| !hub.halted())
    }
}

/// The room a transition works on, whichever hub holds it.
pub(super) type RoomOf<H> = Room<<H as HubCore>::Conn>;
