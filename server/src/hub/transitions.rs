//! What happens under a meeting's lock, once for every hub: each transition of the [`super::Hub`] trait (and of its
//! timers) on the locked room, with the store writes around the rules of [`super::room::Room`] and the frames and
//! outcomes they build. The hub takes the lock, loads the room, calls one of these, and releases.

use super::countdown::Countdowns;
use super::hub_core::{HubCore, RoomOf, Timer};
use super::room::{Departure, KickRefusal, RestoredSession};
use super::{ConnId, Deliver, HubError, JoinOutcome, JoinRequest, KickAllOutcome, Outbound, Outbox, Seat};
use crate::clock;
use crate::store::{
    new_id, AdmissionAsk, AdmissionBatch, JoinContext, JoinRefusal, LiveSessionRow, Result as StoreResult, ResumeCheck,
    TokenStanding,
};
use crate::token;
use endsession_protocol::{
    EndOptions, EndReason, ErrorCode, LeaveState, Participant, Permissions, RunningCountdown, ServerFrame,
};
use std::sync::Arc;
use std::time::Duration;

pub(super) trait Transitions: Countdowns {
    /// Admits `request` to the locked room, starting a session if none is live: [`Transitions::join_batch`] of one.
    async fn join_room(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        request: JoinRequest,
        connect: impl FnOnce(Outbox) -> (ConnId, Self::Conn) + Send,
    ) -> JoinOutcome {
        let mut connect = Some(connect);
        let connect = move |outbox| connect.take().expect("one request, at most one connection")(outbox);
        self.join_batch(room, vec![request], connect).await.pop().unwrap_or(JoinOutcome::Unavailable)
    }

    /// Admits the joins of one meeting that waited together for its lock: one answer per request, in order. The
    /// store work of the whole batch is one write transaction (the token versions, the meeting, the participants
    /// and their presets read in a few statements, the session's start, every new stay with its
    /// `meeting.participantJoined`, in a few multi-row statements), committed before anyone is admitted to the room
    /// or answered: each `Joined` is durable when sent. A join that fails its own checks (token, participant,
    /// INACTIVE, a resume into an ended session) gets its own answer and leaves no trace; a store failure fails the
    /// batch (`Unavailable`: nothing was joined, the clients retry). Admitted in order, the outcome of each join is
    /// the one it would have had alone, the others of the batch admitted before it.
    ///
    /// `connect` is called once per admitted join, after the commit (a refused join leaves no trace in the hub): it
    /// registers the outbox with the hub and returns the connection's id and how the rules reach it.
    async fn join_batch(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        requests: Vec<JoinRequest>,
        mut connect: impl FnMut(Outbox) -> (ConnId, Self::Conn) + Send,
    ) -> Vec<JoinOutcome> {
        if self.halted() {
            return requests.iter().map(|_| JoinOutcome::Unavailable).collect();
        }
        let live_id = room.live_session_id().map(str::to_owned);
        let mut outcomes: Vec<Option<JoinOutcome>> = requests.iter().map(|_| None).collect();
        let mut admitting = Vec::with_capacity(requests.len());
        for (index, request) in requests.into_iter().enumerate() {
            let member = room.is_member(&request.participant_id);
            match self.resume_outcome(&request, member, live_id.as_deref()).await {
                Ok(former_member) => admitting.push(Admitting { index, request, member, former_member }),
                Err(outcome) => outcomes[index] = Some(outcome),
            }
        }
        if admitting.is_empty() {
            return outcomes.into_iter().map(|o| o.unwrap_or(JoinOutcome::Unavailable)).collect();
        }

        // Read under the room lock: a preset PATCH then either lands before this read or reaches the hub after this
        // admission, so the room never keeps a stale permission.
        let new_session = room.is_idle().then(|| (new_id(), clock::now()));
        let session_id = match &new_session {
            Some((id, _)) => id.clone(),
            None => live_id.clone().expect("a room that is not idle is live"),
        };
        let meeting_id = admitting[0].request.meeting_id.clone();
        let member_count = room.member_count();
        let admitted: StoreResult<Decided> = async {
            let mut tx = self.store().begin().await?;
            let asks: Vec<AdmissionAsk> = admitting
                .iter()
                .map(|a| AdmissionAsk {
                    app_id: &a.request.app_id,
                    participant_id: &a.request.participant_id,
                    token_version: Some(a.request.token_version),
                    member_of_live_session: a.member || a.former_member,
                })
                .collect();
            let AdmissionBatch { meeting, contexts } = tx.admission_batch(&meeting_id, &asks).await?;
            // The participants new to the session, each once (two tabs of one participant arrive once).
            let mut arriving: Vec<&Participant> = Vec::new();
            for (a, context) in admitting.iter().zip(&contexts) {
                if let (Ok(context), false) = (context, a.member) {
                    if !arriving.iter().any(|p| p.id == context.participant.id) {
                        arriving.push(&context.participant);
                    }
                }
            }
            let Some(meeting) = meeting else {
                // Nobody admitted: nothing to write (dropping `tx` rolls back its reads).
                return Ok(Decided { contexts, keep_alive: Duration::ZERO, no_host_after: None });
            };
            // With their webhook events (`meeting.started`, `meeting.participantJoined`).
            let (mut keep_alive, mut no_host_after) = (Duration::ZERO, None);
            if let Some((id, at)) = &new_session {
                keep_alive = meeting.session_keep_alive();
                no_host_after = meeting.end_when_no_host_after();
                tx.start_session(id, &meeting_id, at).await?;
            }
            let now = clock::now();
            let peak = (!arriving.is_empty()).then(|| u32::try_from(member_count + arriving.len()).unwrap_or(u32::MAX));
            if !arriving.is_empty() {
                tx.record_arrivals(&meeting_id, &session_id, &arriving, &now).await?;
                let ids: Vec<&str> = arriving.iter().map(|p| p.id.as_str()).collect();
                tx.clear_removals(&session_id, &ids).await?;
            }
            tx.touch_session(&session_id, &now, peak).await?;
            tx.commit().await?;
            Ok(Decided { contexts, keep_alive, no_host_after })
        }
        .await;
        let Decided { contexts, keep_alive, no_host_after } = match admitted {
            Ok(admitted) => admitted,
            Err(e) => {
                unavailable(&meeting_id, e);
                // Every join of the batch left unanswered above is `Unavailable`.
                return outcomes.into_iter().map(|o| o.unwrap_or(JoinOutcome::Unavailable)).collect();
            }
        };
        if let Some((session_id, started_at)) = new_session.filter(|_| contexts.iter().any(Result::is_ok)) {
            room.start(session_id, started_at, keep_alive);
            room.set_no_host_after(no_host_after);
        }
        for (a, context) in admitting.into_iter().zip(contexts) {
            let index = a.index;
            outcomes[index] = Some(match context {
                Ok(context) => self.admit_in_room(room, a, context, &mut connect).await,
                Err(refusal) => refused(refusal, a.request.token_version),
            });
        }
        outcomes.into_iter().map(|o| o.unwrap_or(JoinOutcome::Unavailable)).collect()
    }

    /// What the store says of a join's `resume` (checked against the store unless the participant is simply still
    /// in the session it names): an ended session is answered `ended`, a removal (kick) with its state, a token of
    /// an old version or a deleted participant `InvalidToken`. Ok(true) if the participant was in the live session
    /// it names, even if its grace ran out (it may come back); Ok(false) to join as if no resume was asked.
    async fn resume_outcome(
        &self,
        request: &JoinRequest,
        member: bool,
        live_id: Option<&str>,
    ) -> Result<bool, JoinOutcome> {
        let Some(resume) = request.resume.as_deref().filter(|id| !(member && live_id == Some(*id))) else {
            return Ok(false);
        };
        let (meeting_id, participant_id) = (&request.meeting_id, &request.participant_id);
        let checked: StoreResult<ResumeCheck> =
            async { self.store().db().await?.resume_check(meeting_id, resume, participant_id).await }.await;
        let check = match checked {
            Ok(check) => check,
            Err(e) => return Err(unavailable(meeting_id, e)),
        };
        let standing = check.token_version.map_or(TokenStanding::Deleted, TokenStanding::Current);
        if let Some(message) = token::refusal(request.token_version, standing) {
            return Err(JoinOutcome::Refused { code: ErrorCode::InvalidToken, message });
        }
        let Some(row) = check.session else {
            return Ok(false); // unknown to this meeting: join as if no resume was asked
        };
        if let Some(state) = check.removed {
            return Err(JoinOutcome::Ended {
                state,
                session_id: row.id,
                reason: None,
                kicked_count: None,
                ended_by: None,
                message: None,
                event_id: None,
            });
        }
        if !row.is_live() {
            let end = check.end.unwrap_or_default();
            return Err(JoinOutcome::Ended {
                state: LeaveState::Ended,
                session_id: row.id,
                reason: row.end_reason,
                kicked_count: row.kicked_count,
                ended_by: end.ended_by,
                message: end.message,
                event_id: end.event_id,
            });
        }
        Ok(check.was_in && live_id == Some(row.id.as_str()))
    }

    /// Puts an admitted join (its store work committed) into the live session and builds its `Joined`.
    async fn admit_in_room(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        admitting: Admitting,
        context: JoinContext,
        connect: &mut (impl FnMut(Outbox) -> (ConnId, Self::Conn) + Send),
    ) -> JoinOutcome {
        let Admitting { request, former_member, .. } = admitting;
        let JoinRequest { meeting_id, participant_id, resume, outbox, .. } = request;
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

    /// Puts a session the store has as live (`live`) back into the idle locked room, as [`RoomOf::restore`] does:
    /// its participants absent with their grace running, its `NO_HOST` setting, and its countdown where it was (one
    /// already due ends now). Generations start above `generation_floor` (see [`RoomOf::generations_above`]). A
    /// session with nobody in it is put back empty if its keep-alive (run from the last departure) has not run out,
    /// with the rest of it to run; otherwise it ended at that departure: it is ended in the store
    /// (`ALL_PARTICIPANTS_LEFT`) and the room stays idle. Returns true if the room now holds the session.
    async fn restore_in_room(
        self: &Arc<Self>,
        room: &mut RoomOf<Self>,
        live: LiveSessionRow,
        generation_floor: u64,
    ) -> StoreResult<bool> {
        let meeting_id = live.session.meeting_id.clone();
        let session_id = live.session.id.clone();
        room.generations_above(generation_floor);
        let session = RestoredSession {
            id: session_id.clone(),
            started_at: live.session.started_at.clone(),
            keep_alive: live.keep_alive,
            peak: live.session.peak_participants as usize,
            last_alive: live.last_alive.clone(),
        };
        if live.members.is_empty() {
            // Its keep-alive ran from the last departure: a session still within it is put back, empty, with the
            // rest of it to run; one past it ended then.
            let emptied_at = live.emptied_at.unwrap_or(live.last_alive);
            let emptied_ms = clock::to_unix_ms(&emptied_at).unwrap_or(0);
            let keep_alive_ms = i64::try_from(live.keep_alive.as_millis()).unwrap_or(i64::MAX);
            let left_ms = emptied_ms.saturating_add(keep_alive_ms).saturating_sub(clock::unix_ms());
            if left_ms > 0 {
                let linger = room.restore_emptied(session);
                room.set_no_host_after(live.no_host_after);
                let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
                self.spawn_timer(
                    &meeting_id,
                    &session_id,
                    left,
                    Timer::Linger { generation: linger.generation, emptied_at },
                );
                return Ok(true);
            }
            let peak = live.session.peak_participants;
            let mut tx = self.store().begin().await?;
            tx.end_session(&meeting_id, &session_id, &emptied_at, EndReason::AllParticipantsLeft, peak, 0).await?;
            tx.commit().await?;
            return Ok(false);
        }
        let generations = room.restore(session, live.members);
        room.set_no_host_after(live.no_host_after);
        if let Some(row) = live.countdown {
            let now_ms = clock::unix_ms();
            let ends_at_ms = clock::to_unix_ms(&row.ends_at).unwrap_or(now_ms);
            let delay = Duration::from_millis(u64::try_from(ends_at_ms.saturating_sub(now_ms)).unwrap_or(0));
            if let Some(generation) = room.start_countdown(row, ends_at_ms, now_ms) {
                self.spawn_countdown(&meeting_id, &session_id, generation, delay);
            }
        }
        for (participant_id, generation) in generations {
            self.spawn_expiry(&meeting_id, &session_id, &participant_id, generation);
        }
        Ok(true)
    }
}

impl<H: HubCore> Transitions for H {}

/// A join of a batch that passed its resume check, on its way through the admission.
pub(super) struct Admitting {
    /// Its place in the batch (and in the answers).
    index: usize,
    request: JoinRequest,
    /// In the live session before this batch (another tab, a reconnect).
    member: bool,
    /// Was in the live session its `resume` names, and may come back to it.
    former_member: bool,
}

/// What a batch's admission transaction decided: one answer per join, and for a session it started, its meeting's
/// keep-alive and `NO_HOST` setting.
struct Decided {
    contexts: Vec<Result<JoinContext, JoinRefusal>>,
    keep_alive: Duration,
    no_host_after: Option<Duration>,
}

/// The answer to a join (whose token has version `token_version`) the store refused.
fn refused(refusal: JoinRefusal, token_version: i64) -> JoinOutcome {
    match refusal {
        JoinRefusal::NotFound(message) => JoinOutcome::Refused { code: ErrorCode::NotFound, message },
        JoinRefusal::Inactive => {
            let message = "the meeting is INACTIVE: nobody can join it".to_string();
            JoinOutcome::Refused { code: ErrorCode::MeetingInactive, message }
        }
        JoinRefusal::Token(standing) => {
            // The store refuses only a standing that does not let this version join (see `Db::admission_batch`).
            let message = token::refusal(token_version, standing).unwrap_or_default();
            JoinOutcome::Refused { code: ErrorCode::InvalidToken, message }
        }
    }
}

fn unavailable(meeting_id: &str, error: impl std::fmt::Display) -> JoinOutcome {
    tracing::error!(meeting_id, %error, "join failed on the store");
    JoinOutcome::Unavailable
}
