//! The in-process [`Hub`]: one [`Room`] per meeting behind its own async lock.
//!
//! The lock is tokio's, held across the few store calls a transition needs (start a session, record an end), which is
//! what serializes joins and ends per meeting. It is never held across a socket write: fan-out only queues.
//! Meetings without a live session keep no memory: their room is retired and dropped.

use super::room::{Departure, Ending, KickRefusal, LiveInfo, Room};
use super::{Hub, HubError, JoinOutcome, JoinRequest, KickAllOutcome, Outbox, Seat};
use crate::store::{new_id, JoinRefusal, Store};
use crate::{clock, webhooks};
use async_trait::async_trait;
use endsession_protocol::{ErrorCode, Permissions, ServerFrame};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

pub struct LocalHub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    grace: Duration,
    rooms: Mutex<HashMap<String, Arc<AsyncMutex<Slot>>>>,
    next_conn: AtomicU64,
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
    /// A hub recording sessions in `store`, keeping dropped participants for `grace`.
    pub fn new(store: Store, grace: Duration) -> Self {
        LocalHub { inner: Arc::new(Inner { store, grace, rooms: Mutex::default(), next_conn: AtomicU64::new(1) }) }
    }
}

impl Inner {
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
    async fn finish(&self, meeting_id: &str, ending: Ending<Outbox>) -> KickAllOutcome {
        let outcome = KickAllOutcome {
            session_id: ending.session_id.clone(),
            kicked_count: ending.kicked_count,
            already_ended: false,
        };
        let (session_id, reason, peak, kicked) =
            (ending.session_id.clone(), ending.reason, ending.peak, ending.kicked_count);
        let (meeting, ended_at) = (meeting_id.to_owned(), clock::now());
        // One transaction: the end and its `meeting.ended` webhook event are recorded together.
        let recorded = self.store.run(move |db| {
            db.transaction(|db| {
                webhooks::events::end_session(db, &meeting, &session_id, &ended_at, reason, peak, kicked)
            })
        });
        if let Err(e) = recorded.await {
            tracing::error!(meeting_id, error = %e, "could not record the end of a session");
        }
        let remains = ending.deliver();
        // Freed off the async workers, which have the deliveries to write.
        tokio::task::spawn_blocking(move || drop(remains));
        outcome
    }

    async fn join(&self, request: JoinRequest) -> JoinOutcome {
        let JoinRequest { app_id, meeting_id, participant_id, resume, outbox } = request;
        let mut room = self.lock(&meeting_id).await;

        if let Some(resume) = resume.clone().filter(|id| room.live_session_id() != Some(id)) {
            let meeting = meeting_id.clone();
            match self.store.run(move |db| db.session(&meeting, &resume)).await {
                Ok(Some(row)) if !row.is_live() => {
                    return JoinOutcome::Ended { session_id: row.id, reason: row.end_reason };
                }
                Ok(_) => {} // unknown to this meeting: join as if no resume was asked
                Err(e) => return unavailable(&meeting_id, e),
            }
        }

        // Read under the room lock: a preset PATCH then either lands before this read or reaches the hub after this
        // admission, so the room never keeps a stale permission. One store call, one transaction: the check, the
        // session's start if this join starts one, and the participant's arrival if it is new to the session.
        let member = room.is_member(&participant_id);
        let new_session = room.is_idle().then(|| (new_id(), clock::now()));
        let session_id = match &new_session {
            Some((id, _)) => id.clone(),
            None => room.live_session_id().expect("a room that is not idle is live").to_owned(),
        };
        let (app, meeting, participant, starting) =
            (app_id, meeting_id.clone(), participant_id.clone(), new_session.clone());
        let admitted = self.store.run(move |db| {
            db.transaction(|db| {
                let context = match db.admission_context(&app, &meeting, &participant, member)? {
                    Ok(context) => context,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                // With their webhook events (`meeting.started`, `meeting.participantJoined`).
                if let Some((id, at)) = &starting {
                    webhooks::events::start_session(db, id, &meeting, at)?;
                }
                if !member {
                    webhooks::events::record_arrival(db, &meeting, &session_id, &context.participant, &clock::now())?;
                }
                Ok(Ok(context))
            })
        });
        let context = match admitted.await {
            Ok(Ok(context)) => context,
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
            room.start(session_id, started_at);
        }

        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let admission =
            room.admit(context.participant.clone(), context.permissions, conn_id, outbox, resume.as_deref());
        let seat =
            Seat { meeting_id: meeting_id.clone(), session_id: admission.session_id.clone(), participant_id, conn_id };
        let frame = Box::new(ServerFrame::Joined {
            session_id: admission.session_id,
            meeting_id,
            self_participant: context.participant,
            permissions: context.permissions,
            participants: admission.others,
            participant_count: Some(u32::try_from(admission.others_count).unwrap_or(u32::MAX)),
            reconnected: admission.reconnected,
            heartbeat_ms: None,
        });
        JoinOutcome::Joined { seat, frame }
    }

    /// A participant is out of the session: its stay ends, and so does the session if that emptied it (the end
    /// closes every stay).
    async fn removed(&self, meeting_id: &str, session_id: &str, participant_id: &str, ending: Option<Ending<Outbox>>) {
        if let Some(ending) = ending {
            self.finish(meeting_id, ending).await;
            return;
        }
        let (meeting, session, participant, at) =
            (meeting_id.to_owned(), session_id.to_owned(), participant_id.to_owned(), clock::now());
        // One transaction: the departure and its `meeting.participantLeft` webhook event.
        let recorded = self.store.run(move |db| {
            db.transaction(|db| webhooks::events::record_departure(db, &meeting, &session, &participant, &at))
        });
        if let Err(e) = recorded.await {
            tracing::error!(meeting_id, error = %e, "could not record a participant leaving");
        }
    }

    /// Applies what a departure did; `Absent` starts the grace timer.
    async fn settle(self: &Arc<Self>, seat: &Seat, departure: Departure<Outbox>) {
        match departure {
            Departure::Removed { ending } => {
                self.removed(&seat.meeting_id, &seat.session_id, &seat.participant_id, ending).await;
            }
            Departure::Absent { generation } => {
                let (inner, seat) = (self.clone(), seat.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(inner.grace).await;
                    if let Some(mut room) = inner.lock_existing(&seat.meeting_id).await {
                        if let Departure::Removed { ending } =
                            room.expire(&seat.session_id, &seat.participant_id, generation)
                        {
                            inner.removed(&seat.meeting_id, &seat.session_id, &seat.participant_id, ending).await;
                        }
                    }
                });
            }
            Departure::StillConnected | Departure::NotPresent => {}
        }
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
        if let Departure::Removed { ending } = departure {
            self.inner.removed(&seat.meeting_id, &seat.session_id, &seat.participant_id, ending).await;
        }
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
    }

    async fn kick_all(&self, seat: &Seat) -> Result<KickAllOutcome, HubError> {
        let room = self.inner.lock_existing(&seat.meeting_id).await;
        let refusal = match room {
            Some(mut room) => match room.kick_all(Some(&seat.session_id), Some(&seat.participant_id)) {
                Ok(ending) => return Ok(self.inner.finish(&seat.meeting_id, ending).await),
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
                Ok(KickAllOutcome { session_id: seat.session_id.clone(), kicked_count, already_ended: true })
            }
        }
    }

    async fn end_session(&self, meeting_id: &str) -> Result<Option<KickAllOutcome>, HubError> {
        let Some(mut room) = self.inner.lock_existing(meeting_id).await else {
            return Ok(None);
        };
        match room.kick_all(None, None) {
            Ok(ending) => Ok(Some(self.inner.finish(meeting_id, ending).await)),
            Err(_) => Ok(None),
        }
    }

    async fn kick(&self, meeting_id: &str, participant_ids: &[String]) -> Vec<String> {
        let Some(mut room) = self.inner.lock_existing(meeting_id).await else {
            return Vec::new();
        };
        let mut kicked = Vec::new();
        for id in participant_ids {
            let Some(session_id) = room.live_session_id().map(str::to_owned) else { break };
            if let Departure::Removed { ending } = room.kick(id) {
                kicked.push(id.clone());
                self.inner.removed(meeting_id, &session_id, id, ending).await;
            }
        }
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
        }
    }

    async fn update_preset(&self, meeting_id: &str, preset_name: &str, new_name: &str, permissions: Permissions) {
        if let Some(mut room) = self.inner.lock_existing(meeting_id).await {
            room.set_preset(preset_name, new_name, permissions);
        }
    }

    async fn live_session(&self, meeting_id: &str) -> Option<LiveInfo> {
        self.inner.lock_existing(meeting_id).await?.info()
    }
}
