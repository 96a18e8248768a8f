//! The in-process [`Hub`]: one [`Room`] per meeting behind its own async lock.
//!
//! The lock is tokio's, held across the few store calls a transition needs (start a session, record an end), which is
//! what serializes joins and ends per meeting. It is never held across a socket write: fan-out only queues.
//! Meetings without a live session keep no memory: their room is retired and dropped.

use super::room::{Departure, Ending, KickRefusal, Linger, LiveInfo, Room};
use super::{Deliver, Hub, HubError, JoinOutcome, JoinRequest, KickAllOutcome, Outbound, Outbox, Seat};
use crate::clock;
use crate::store::{new_id, JoinRefusal, ResumeCheck, Store};
use async_trait::async_trait;
use endsession_protocol::{EndOptions, ErrorCode, LeaveState, Permissions, ServerFrame};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[path = "countdown.rs"]
mod countdown;
#[path = "restore.rs"]
mod restore;
use restore::stamp_alive;
pub use restore::ALIVE_STAMP;

pub struct LocalHub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    grace: Duration,
    rooms: Mutex<HashMap<String, Arc<AsyncMutex<Slot>>>>,
    next_conn: AtomicU64,
    /// See [`LocalHub::halt`].
    halted: AtomicBool,
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
    slot: Arc<AsyncMutex<Slot>>,
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
            self.guard.retired = true;
            let mut rooms = self.inner.rooms.lock().unwrap_or_else(|p| p.into_inner());
            if rooms.get(&self.meeting_id).is_some_and(|slot| Arc::ptr_eq(slot, &self.slot)) {
                rooms.remove(&self.meeting_id);
            }
        }
    }
}

impl LocalHub {
    /// A hub recording sessions in `store`, keeping dropped participants for `grace`. Must be called inside a tokio
    /// runtime: it starts the task that stamps live sessions as alive (see [`ALIVE_STAMP`]), which ends with the hub.
    pub fn new(store: Store, grace: Duration) -> Self {
        let inner = Arc::new(Inner {
            store,
            grace,
            rooms: Mutex::default(),
            next_conn: AtomicU64::new(1),
            halted: AtomicBool::new(false),
        });
        tokio::spawn(stamp_alive(Arc::downgrade(&inner)));
        LocalHub { inner }
    }

    /// Stops every store write and join of this hub, as a crash would: for tests that start a second server on the
    /// same data while this one's connections are still open in the same process.
    pub fn halt(&self) {
        self.inner.halted.store(true, Ordering::SeqCst);
    }
}

impl Inner {
    fn halted(&self) -> bool {
        self.halted.load(Ordering::SeqCst)
    }

    /// Locks the meeting's room, creating it if needed (for joins).
    async fn lock(&self, meeting_id: &str) -> RoomGuard<'_> {
        loop {
            let slot =
                self.rooms.lock().unwrap_or_else(|p| p.into_inner()).entry(meeting_id.into()).or_default().clone();
            if let Some(guard) = self.acquire(meeting_id, slot).await {
                return guard;
            }
        }
    }

    /// Locks the meeting's room only if it exists, i.e. a session is live or a join is under way.
    async fn lock_existing(&self, meeting_id: &str) -> Option<RoomGuard<'_>> {
        loop {
            let slot = self.rooms.lock().unwrap_or_else(|p| p.into_inner()).get(meeting_id)?.clone();
            if let Some(guard) = self.acquire(meeting_id, slot).await {
                return Some(guard);
            }
        }
    }

    async fn acquire(&self, meeting_id: &str, slot: Arc<AsyncMutex<Slot>>) -> Option<RoomGuard<'_>> {
        let guard = slot.clone().lock_owned().await;
        (!guard.retired).then(|| RoomGuard { inner: self, meeting_id: meeting_id.into(), slot, guard })
    }

    /// Records an end, then tells everybody: the store is never behind what clients were told.
    async fn finish(&self, meeting_id: &str, mut ending: Ending<Outbox>) -> KickAllOutcome {
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
            let recorded = self.store.run(move |db| {
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

    async fn join(self: &Arc<Self>, request: JoinRequest) -> JoinOutcome {
        let JoinRequest { app_id, meeting_id, participant_id, resume, outbox } = request;
        if self.halted() {
            return JoinOutcome::Unavailable;
        }
        let mut room = self.lock(&meeting_id).await;
        let member = room.is_member(&participant_id);
        let live_id = room.live_session_id().map(str::to_owned);

        // A resume is checked against what the store remembers, unless the participant is simply still in the
        // session it names: an ended session is answered `ended`, a removal (kick) with its state, and a
        // participant that was in the live session may come back to it even after its grace ran out.
        let mut former_member = false;
        if let Some(resume) = resume.clone().filter(|id| !(member && live_id.as_deref() == Some(id))) {
            let (meeting, participant) = (meeting_id.clone(), participant_id.clone());
            match self.store.run(move |db| db.resume_check(&meeting, &resume, &participant)).await {
                Ok(ResumeCheck { participant_gone: true, .. }) => {
                    let message = "the participant no longer exists".to_string();
                    return JoinOutcome::Refused { code: ErrorCode::NotFound, message };
                }
                Ok(ResumeCheck { session: Some(row), removed, was_in, end, .. }) => {
                    if let Some(state) = removed {
                        return JoinOutcome::Ended {
                            state,
                            session_id: row.id,
                            reason: None,
                            kicked_count: None,
                            ended_by: None,
                            message: None,
                            event_id: None,
                        };
                    }
                    if !row.is_live() {
                        let end = end.unwrap_or_default();
                        return JoinOutcome::Ended {
                            state: LeaveState::Ended,
                            session_id: row.id,
                            reason: row.end_reason,
                            kicked_count: row.kicked_count,
                            ended_by: end.ended_by,
                            message: end.message,
                            event_id: end.event_id,
                        };
                    }
                    former_member = was_in && live_id.as_deref() == Some(row.id.as_str());
                }
                Ok(_) => {} // unknown to this meeting: join as if no resume was asked
                Err(e) => return unavailable(&meeting_id, e),
            }
        }

        // Read under the room lock: a preset PATCH then either lands before this read or reaches the hub after this
        // admission, so the room never keeps a stale permission. One store call, one transaction: the check, the
        // session's start if this join starts one, and the participant's arrival if it is new to the session.
        let new_session = room.is_idle().then(|| (new_id(), clock::now()));
        let session_id = match &new_session {
            Some((id, _)) => id.clone(),
            None => live_id.clone().expect("a room that is not idle is live"),
        };
        let peak = (!member).then(|| u32::try_from(room.member_count() + 1).unwrap_or(u32::MAX));
        let (app, meeting, participant, starting) =
            (app_id, meeting_id.clone(), participant_id.clone(), new_session.clone());
        let admitted = self.store.run(move |db| {
            db.transaction(|db| {
                let context = match db.admission_context(&app, &meeting, &participant, member || former_member)? {
                    Ok(context) => context,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                // With their webhook events (`meeting.started`, `meeting.participantJoined`).
                let (mut keep_alive, mut no_host_after) = (Duration::ZERO, None);
                if let Some((id, at)) = &starting {
                    let row = db.meeting(&app, &meeting)?;
                    keep_alive = row.as_ref().map(|m| m.session_keep_alive()).unwrap_or_default();
                    no_host_after = row.as_ref().and_then(|m| m.end_when_no_host_after());
                    db.start_session(id, &meeting, at)?;
                }
                let now = clock::now();
                if !member {
                    db.record_arrival(&meeting, &session_id, &context.participant, &now)?;
                    db.clear_removal(&session_id, &participant)?;
                }
                db.touch_session(&session_id, &now, peak)?;
                Ok(Ok((context, keep_alive, no_host_after)))
            })
        });
        let (context, keep_alive, no_host_after) = match admitted.await {
            Ok(Ok(admitted)) => admitted,
            Ok(Err(JoinRefusal::NotFound(message))) => {
                return JoinOutcome::Refused { code: ErrorCode::NotFound, message }
            }
            Ok(Err(JoinRefusal::Inactive)) => {
                let message = "the meeting is INACTIVE: nobody can join it".to_string();
                return JoinOutcome::Refused { code: ErrorCode::MeetingInactive, message };
            }
            Err(e) => return unavailable(&meeting_id, e),
        };
        if let Some((session_id, started_at)) = new_session {
            room.start(session_id, started_at, keep_alive);
            room.set_no_host_after(no_host_after);
        }

        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let own = outbox.clone();
        let admission =
            room.admit(context.participant.clone(), context.permissions, conn_id, outbox, resume.as_deref());
        // A host's arrival may cancel a `NO_HOST` countdown (everyone, this joiner too, is told); one still running
        // is told to this joiner, queued after admission so that it follows `Joined`.
        self.watch_hosts(&mut room, &meeting_id).await;
        if let Some(frame) = room.countdown_frame(clock::unix_ms()) {
            own.deliver(Outbound::Frame(Outbound::encode(&frame)));
        }
        let seat =
            Seat { meeting_id: meeting_id.clone(), session_id: admission.session_id.clone(), participant_id, conn_id };
        let frame = Box::new(ServerFrame::Joined {
            session_id: admission.session_id,
            meeting_id,
            self_participant: context.participant,
            permissions: context.permissions,
            participants: admission.others,
            participant_count: Some(u32::try_from(admission.others_count).unwrap_or(u32::MAX)),
            reconnected: admission.reconnected || former_member,
            heartbeat_ms: None,
        });
        JoinOutcome::Joined { seat, frame }
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
        ending: Option<Ending<Outbox>>,
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
        let recorded = self.store.run(move |db| {
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
    async fn settle(self: &Arc<Self>, seat: &Seat, departure: Departure<Outbox>) {
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

    /// After the grace, removes the participant if it is still absent from this same absence (`generation`). One
    /// restored after a restart leaves when it was last known present.
    fn spawn_expiry(self: &Arc<Self>, meeting_id: &str, session_id: &str, participant_id: &str, generation: u64) {
        let inner = self.clone();
        let (meeting_id, session_id, participant_id) =
            (meeting_id.to_owned(), session_id.to_owned(), participant_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(inner.grace).await;
            if let Some(mut room) = inner.lock_existing(&meeting_id).await {
                let at = room.last_seen(&participant_id).unwrap_or_else(clock::now);
                if let Departure::Removed { ending, linger } = room.expire(&session_id, &participant_id, generation) {
                    inner.removed(&meeting_id, &session_id, &participant_id, at, false, ending, linger).await;
                }
                inner.watch_hosts(&mut room, &meeting_id).await;
            }
        });
    }

    /// After the keep-alive, ends the emptied session unless somebody joined it meanwhile. It ended when the last
    /// participant left (`emptied_at`): the time nobody was there is not meeting time.
    fn spawn_linger(self: &Arc<Self>, meeting_id: &str, session_id: &str, linger: Linger, emptied_at: String) {
        let inner = self.clone();
        let (meeting_id, session_id) = (meeting_id.to_owned(), session_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(linger.keep_alive).await;
            if let Some(mut room) = inner.lock_existing(&meeting_id).await {
                if let Some(mut ending) = room.linger_expired(&session_id, linger.generation) {
                    ending.ended_at.get_or_insert(emptied_at);
                    inner.finish(&meeting_id, ending).await;
                }
            }
        });
    }
}

fn unavailable(meeting_id: &str, error: impl std::fmt::Display) -> JoinOutcome {
    tracing::error!(meeting_id, %error, "join failed on the store");
    JoinOutcome::Unavailable
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
        if room.live_session_id() != Some(seat.session_id.as_str()) {
            return false;
        }
        let departure = room.leave(&seat.participant_id, seat.conn_id);
        let was_in = !matches!(departure, Departure::NotPresent);
        self.inner.settle(seat, departure).await;
        self.inner.watch_hosts(&mut room, &seat.meeting_id).await;
        was_in
    }

    async fn disconnect(&self, seat: &Seat) {
        let Some(mut room) = self.inner.lock_existing(&seat.meeting_id).await else {
            return;
        };
        if room.live_session_id() != Some(seat.session_id.as_str()) {
            return;
        }
        let departure = room.disconnect(&seat.participant_id, seat.conn_id);
        self.inner.settle(seat, departure).await;
        self.inner.watch_hosts(&mut room, &seat.meeting_id).await;
    }

    async fn kick_all(&self, seat: &Seat, options: EndOptions) -> Result<KickAllOutcome, HubError> {
        let room = self.inner.lock_existing(&seat.meeting_id).await;
        let refusal = match room {
            Some(mut room) => match room.check_host(Some(&seat.session_id), Some(&seat.participant_id)) {
                Ok(by) => return Ok(self.inner.end_or_schedule(&mut room, &seat.meeting_id, by, options).await),
                Err(refusal) => refusal,
            },
            None => KickRefusal::NotLive,
        };
        match refusal {
            KickRefusal::PermissionDenied => Err(HubError::PermissionDenied),
            // Ended already (by a concurrent call, the API, or the last leave): the answer the ending call got.
            KickRefusal::NotLive => {
                let (meeting, session) = (seat.meeting_id.clone(), seat.session_id.clone());
                let row = self.inner.store.run(move |db| db.session(&meeting, &session)).await?;
                let kicked_count = row.and_then(|r| r.kicked_count).unwrap_or(0);
                Ok(KickAllOutcome {
                    session_id: seat.session_id.clone(),
                    kicked_count,
                    already_ended: true,
                    ends_at: None,
                })
            }
        }
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
        match room.check_host(None, None) {
            Ok(by) => Ok(Some(self.inner.end_or_schedule(&mut room, meeting_id, by, options).await)),
            Err(_) => {
                if options.lock && !self.inner.halted() {
                    let meeting = meeting_id.to_owned();
                    self.inner.store.run(move |db| db.lock_meeting(&meeting)).await?;
                }
                Ok(None)
            }
        }
    }

    async fn cancel_end(&self, meeting_id: &str, seat: Option<&Seat>) -> Result<bool, HubError> {
        let Some(mut room) = self.inner.lock_existing(meeting_id).await else {
            return Ok(false);
        };
        let by = match room.check_host(seat.map(|s| s.session_id.as_str()), seat.map(|s| s.participant_id.as_str())) {
            Ok(by) => by,
            Err(KickRefusal::PermissionDenied) => return Err(HubError::PermissionDenied),
            Err(KickRefusal::NotLive) => return Ok(false),
        };
        if room.countdown().is_none() {
            return Ok(false);
        }
        self.inner.save_countdown(&room, None).await;
        Ok(room.cancel_countdown(Some(by)))
    }

    async fn kick(&self, meeting_id: &str, participant_ids: &[String]) -> Vec<String> {
        let Some(mut room) = self.inner.lock_existing(meeting_id).await else {
            return Vec::new();
        };
        let mut kicked = Vec::new();
        for id in participant_ids {
            let Some(session_id) = room.live_session_id().map(str::to_owned) else { break };
            if let Departure::Removed { ending, linger } = room.kick(id) {
                kicked.push(id.clone());
                self.inner.removed(meeting_id, &session_id, id, clock::now(), true, ending, linger).await;
            }
        }
        self.inner.watch_hosts(&mut room, meeting_id).await;
        kicked
    }

    async fn update_permissions(
        &self,
        meeting_id: &str,
        participant_id: &str,
        preset_name: &str,
        permissions: Permissions,
    ) {
        if let Some(mut room) = self.inner.lock_existing(meeting_id).await {
            room.set_permissions(participant_id, preset_name, permissions);
            self.inner.watch_hosts(&mut room, meeting_id).await;
        }
    }

    async fn update_preset(&self, meeting_id: &str, preset_name: &str, new_name: &str, permissions: Permissions) {
        if let Some(mut room) = self.inner.lock_existing(meeting_id).await {
            room.set_preset(preset_name, new_name, permissions);
            self.inner.watch_hosts(&mut room, meeting_id).await;
        }
    }

    async fn live_session(&self, meeting_id: &str) -> Option<LiveInfo> {
        self.inner.lock_existing(meeting_id).await?.info()
    }
}
