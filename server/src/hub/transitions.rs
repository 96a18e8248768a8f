//! What happens under a meeting's lock, once for every hub: each transition of the [`super::Hub`] trait (and of its
//! timers) on the locked room, with the store writes around the rules of [`super::room::Room`] and the frames and
//! outcomes they build. The hub takes the lock, loads the room, calls one of these, and releases.

use super::countdown::Countdowns;
use super::hub_core::{HubCore, RoomOf, Timer};
use super::room::{Departure, KickRefusal};
use super::{ConnId, Deliver, HubError, JoinOutcome, JoinRequest, KickAllOutcome, Outbound, Outbox, Seat};
use crate::clock;
use crate::store::{new_id, JoinRefusal, Result as StoreResult, ResumeCheck};
use endsession_protocol::{EndOptions, ErrorCode, LeaveState, Permissions, RunningCountdown, ServerFrame};
use std::sync::Arc;
use std::time::Duration;

pub(super) trait Transitions: Countdowns {
    /// Admits `request` to the locked room, starting a session if none is live. `connect` is called once the store
    /// admitted the participant (not before: a refused join leaves no trace in the hub): it registers the outbox with
    /// the hub and returns the connection's id and how the rules reach it.
    async fn join_room(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        request: JoinRequest,
        connect: impl FnOnce(Outbox) -> (ConnId, Self::Conn) + Send,
    ) -> JoinOutcome {
        let JoinRequest { app_id, meeting_id, participant_id, resume, outbox } = request;
        let member = room.is_member(&participant_id);
        let live_id = room.live_session_id().map(str::to_owned);

        // A resume is checked against what the store remembers, unless the participant is simply still in the
        // session it names: an ended session is answered `ended`, a removal (kick) with its state, and a
        // participant that was in the live session may come back to it even after its grace ran out.
        let mut former_member = false;
        if let Some(resume) = resume.clone().filter(|id| !(member && live_id.as_deref() == Some(id))) {
            let checked: StoreResult<ResumeCheck> =
                async { self.store().db().await?.resume_check(&meeting_id, &resume, &participant_id).await }.await;
            match checked {
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
        let (app, meeting, participant) = (&app_id, &meeting_id, &participant_id);
        let admitted: StoreResult<Result<_, JoinRefusal>> = async {
            let mut db = self.store().begin().await?;
            let context = match db.admission_context(app, meeting, participant, member || former_member).await? {
                Ok(context) => context,
                Err(refusal) => return Ok(Err(refusal)),
            };
            // With their webhook events (`meeting.started`, `meeting.participantJoined`).
            let (mut keep_alive, mut no_host_after) = (Duration::ZERO, None);
            if let Some((id, at)) = &new_session {
                let row = db.meeting(app, meeting).await?;
                keep_alive = row.as_ref().map(|m| m.session_keep_alive()).unwrap_or_default();
                no_host_after = row.as_ref().and_then(|m| m.end_when_no_host_after());
                db.start_session(id, meeting, at).await?;
            }
            let now = clock::now();
            if !member {
                db.record_arrival(meeting, &session_id, &context.participant, &now).await?;
                db.clear_removal(&session_id, participant).await?;
            }
            db.touch_session(&session_id, &now, peak).await?;
            db.commit().await?;
            Ok(Ok((context, keep_alive, no_host_after)))
        }
        .await;
        let (context, keep_alive, no_host_after) = match admitted {
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

        let (conn_id, own) = connect(outbox);
        let admission =
            room.admit(context.participant.clone(), context.permissions, conn_id, own.clone(), resume.as_deref());
        // A host's arrival may cancel a `NO_HOST` countdown (everyone, this joiner too, is told); one still running
        // is told to this joiner, queued after admission so that it follows `Joined`.
        self.watch_hosts(room, &meeting_id).await;
        // `Joined` carries it too (`sessionEnding`), so the client knows it when its join resolves, and knows none
        // runs when it is absent; the separate frame stays for raw clients.
        let countdown = room.countdown_frame(clock::unix_ms());
        if let Some(frame) = &countdown {
            own.deliver(Outbound::Frame(Outbound::encode(frame)));
        }
        let session_ending = match countdown {
            Some(ServerFrame::SessionEnding { ends_at, remaining_ms, reason, ended_by, message, .. }) => {
                Some(RunningCountdown { ends_at, remaining_ms, reason, ended_by, message })
            }
            _ => None,
        };
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
            session_ending,
        });
        JoinOutcome::Joined { seat, frame }
    }

    /// [`super::Hub::leave`] on the locked room. True if the connection was in the live session.
    async fn leave_room(self: &Arc<Self>, room: &mut RoomOf<Self>, seat: &Seat) -> bool {
        if room.live_session_id() != Some(seat.session_id.as_str()) {
            return false;
        }
        let departure = room.leave(&seat.participant_id, seat.conn_id);
        let was_in = !matches!(departure, Departure::NotPresent);
        self.settle(seat, departure).await;
        self.watch_hosts(room, &seat.meeting_id).await;
        was_in
    }

    /// [`super::Hub::disconnect`] on the locked room (also a connection of a dead node, see `redis_watch.rs`).
    async fn disconnect_room(self: &Arc<Self>, room: &mut RoomOf<Self>, seat: &Seat) {
        if room.live_session_id() != Some(seat.session_id.as_str()) {
            return;
        }
        let departure = room.disconnect(&seat.participant_id, seat.conn_id);
        self.settle(seat, departure).await;
        self.watch_hosts(room, &seat.meeting_id).await;
    }

    /// [`super::Hub::kick_all`] on the locked room: the end (or its countdown) if the seat's preset allows it.
    async fn kick_all_room(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        seat: &Seat,
        options: EndOptions,
    ) -> Result<KickAllOutcome, KickRefusal> {
        let by = room.check_host(Some(&seat.session_id), Some(&seat.participant_id))?;
        Ok(self.end_or_schedule(room, &seat.meeting_id, by, options).await)
    }

    /// The answer to a refused `kickAll`, after the lock was released. A session ended already (by a concurrent
    /// call, the API, or the last leave) gets the answer the ending call got.
    async fn kick_all_refused(&self, seat: &Seat, refusal: KickRefusal) -> Result<KickAllOutcome, HubError> {
        match refusal {
            KickRefusal::PermissionDenied => Err(HubError::PermissionDenied),
            KickRefusal::NotLive => {
                let row = self.store().db().await?.session(&seat.meeting_id, &seat.session_id).await?;
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

    /// [`super::Hub::end_session`] on the locked room (taken even if idle with `lock`: the meeting is then made
    /// INACTIVE under the lock, so a join waiting for it finds the meeting INACTIVE).
    async fn end_session_room(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        meeting_id: &str,
        options: EndOptions,
    ) -> Result<Option<KickAllOutcome>, HubError> {
        match room.check_host(None, None) {
            Ok(by) => Ok(Some(self.end_or_schedule(room, meeting_id, by, options).await)),
            Err(_) => {
                if options.lock && !self.halted() {
                    self.store().db().await?.lock_meeting(meeting_id).await?;
                }
                Ok(None)
            }
        }
    }

    /// [`super::Hub::kick`] on the locked room: the ids that were in the live session.
    async fn kick_room(self: &Arc<Self>, room: &mut RoomOf<Self>, meeting_id: &str, ids: &[String]) -> Vec<String> {
        let mut kicked = Vec::new();
        for id in ids {
            let Some(session_id) = room.live_session_id().map(str::to_owned) else { break };
            if let Departure::Removed { ending, linger } = room.kick(id) {
                kicked.push(id.clone());
                self.removed(meeting_id, &session_id, id, clock::now(), true, ending, linger).await;
            }
        }
        self.watch_hosts(room, meeting_id).await;
        kicked
    }

    /// [`super::Hub::update_permissions`] on the locked room.
    async fn permissions_room(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        meeting_id: &str,
        participant_id: &str,
        preset_name: &str,
        permissions: Permissions,
    ) {
        room.set_permissions(participant_id, preset_name, permissions);
        self.watch_hosts(room, meeting_id).await;
    }

    /// [`super::Hub::update_preset`] on the locked room.
    async fn preset_room(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        meeting_id: &str,
        preset_name: &str,
        new_name: &str,
        permissions: Permissions,
    ) {
        room.set_preset(preset_name, new_name, permissions);
        self.watch_hosts(room, meeting_id).await;
    }

    /// A timer ran out (see [`Timer`]): its step on the locked room, which does nothing if the timer's generation
    /// is stale.
    async fn timer_in_room(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        meeting_id: &str,
        session_id: &str,
        timer: Timer,
    ) {
        match timer {
            // Removes the participant if it is still absent from this same absence. One restored after a restart
            // leaves when it was last known present.
            Timer::Expiry { participant_id, generation } => {
                let at = room.last_seen(&participant_id).unwrap_or_else(clock::now);
                if let Departure::Removed { ending, linger } = room.expire(session_id, &participant_id, generation) {
                    self.removed(meeting_id, session_id, &participant_id, at, false, ending, linger).await;
                }
                self.watch_hosts(room, meeting_id).await;
            }
            // Ends the emptied session unless somebody joined it meanwhile. It ended when the last participant left
            // (`emptied_at`): the time nobody was there is not meeting time.
            Timer::Linger { generation, emptied_at } => {
                if let Some(mut ending) = room.linger_expired(session_id, generation) {
                    ending.ended_at.get_or_insert(emptied_at);
                    self.finish(meeting_id, ending).await;
                }
            }
            Timer::Countdown { generation } => self.countdown_in_room(room, meeting_id, session_id, generation).await,
        }
    }
}

impl<H: HubCore> Transitions for H {}

fn unavailable(meeting_id: &str, error: impl std::fmt::Display) -> JoinOutcome {
    tracing::error!(meeting_id, %error, "join failed on the store");
    JoinOutcome::Unavailable
}
