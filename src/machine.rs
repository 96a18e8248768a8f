//! The meeting state machine: [`Machine`].
//!
//! Pure: it never touches a socket, a timer or JavaScript. Inputs are the user's calls ([`Machine::join`],
//! [`Machine::leave`], [`Machine::kick_all`]), socket events ([`Machine::socket_open`], [`Machine::socket_frame`],
//! [`Machine::socket_closed`]) and the reconnect timer ([`Machine::reconnect_due`]); each queues [`Effect`]s that the
//! driver takes with [`Machine::take_effects`] and carries out in order.

use crate::{
    CallId, ClientError, Effect, EndState, Event, KickAllResult, LeaveState, Outcome, Participants, Reconnect,
    RoomState,
};
use endsession_protocol::{ClientFrame, Participant, Permissions, ServerFrame, PROTOCOL_VERSION};

/// One `kickAll` frame in flight and every call waiting for its answer.
#[derive(Debug)]
struct PendingKick {
    id: u64,
    calls: Vec<CallId>,
}

/// One participant's meeting, as a state machine.
///
/// ```
/// use endsession::{CallId, Effect, Machine, Reconnect, RoomState};
/// use endsession_protocol::ClientFrame;
/// let mut m = Machine::new("token".into(), Reconnect::default());
/// m.join(CallId(1));
/// assert_eq!(m.take_effects(), [Effect::Open]);
/// m.socket_open();
/// assert!(matches!(&m.take_effects()[..], [Effect::Send(ClientFrame::Join { resume: None, .. })]));
/// assert_eq!(m.room_state(), RoomState::Joining);
/// ```
#[derive(Debug)]
pub struct Machine {
    token: String,
    reconnect: Reconnect,
    state: RoomState,
    /// Failed reconnect attempts since the socket dropped.
    failures: u32,
    session_id: String,
    meeting_id: String,
    me: Option<Participant>,
    permissions: Permissions,
    participants: Participants,
    join_calls: Vec<CallId>,
    kick: Option<PendingKick>,
    /// The server confirmed that this participant's `kickAll` ended the current session; its `roomLeft` is next.
    end_confirmed: bool,
    next_request: u64,
    effects: Vec<Effect>,
}

impl Machine {
    /// A meeting for the participant `token`, not joined yet.
    pub fn new(token: String, reconnect: Reconnect) -> Self {
        Machine {
            token,
            reconnect,
            state: RoomState::Init,
            failures: 0,
            session_id: String::new(),
            meeting_id: String::new(),
            me: None,
            permissions: Permissions::default(),
            participants: Participants::default(),
            join_calls: Vec::new(),
            kick: None,
            end_confirmed: false,
            next_request: 1,
            effects: Vec::new(),
        }
    }

    /// The effects queued since the last call, oldest first.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub fn room_state(&self) -> RoomState {
        self.state
    }

    pub fn permissions(&self) -> Permissions {
        self.permissions
    }

    /// What an "End meeting for all" control shows now: derived from the room state, the permission and the end
    /// in flight (see [`EndState`]). The driver reports each change as [`Event::EndStateChange`].
    pub fn end_state(&self) -> EndState {
        let ending = self.kick.is_some() || self.end_confirmed;
        EndState::derive(self.state, self.permissions.kick_participant, ending)
    }

    /// This participant, once joined (kept after leaving).
    pub fn me(&self) -> Option<&Participant> {
        self.me.as_ref()
    }

    /// The current (or last) session id; empty before the first join.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The meeting id; empty before the first join.
    pub fn meeting_id(&self) -> &str {
        &self.meeting_id
    }

    /// The others in the session; empty once the room is left.
    pub fn participants(&self) -> &Participants {
        &self.participants
    }

    // ----- user calls -----

    /// `meeting.join()`: resolves `call` once the server let the participant in. Calls while joining share the
    /// join; a call while joined resolves at once; a call after leaving joins again.
    pub fn join(&mut self, call: CallId) {
        match self.state {
            RoomState::Joined => self.push(Effect::Resolve(call, Outcome::Joined)),
            RoomState::Joining | RoomState::Reconnecting => self.join_calls.push(call),
            RoomState::Init | RoomState::Left(_) => {
                self.state = RoomState::Joining;
                self.join_calls.push(call);
                self.push(Effect::Open);
            }
        }
    }

    /// `meeting.leave()`: tells the server, closes the socket and emits `roomLeft` `left`. Nothing when not in
    /// the room.
    pub fn leave(&mut self) {
        match self.state {
            RoomState::Init | RoomState::Left(_) => {}
            RoomState::Joined => {
                self.send(ClientFrame::Leave);
                self.push(Effect::Close);
                self.left(LeaveState::Left);
            }
            RoomState::Joining | RoomState::Reconnecting => {
                self.push(Effect::Close);
                self.left(LeaveState::Left);
            }
        }
    }

    /// `meeting.participants.kickAll()`: ends the session for everyone. Rejects with `1205` outside the room and
    /// `1201` without `kick_participant` (sending nothing); otherwise resolves with the server's answer. Calls while
    /// one is in flight share it.
    pub fn kick_all(&mut self, call: CallId) {
        if self.state != RoomState::Joined {
            return self.push(Effect::Reject(call, ClientError::not_joined()));
        }
        if !self.permissions.kick_participant {
            return self.push(Effect::Reject(call, ClientError::permission_denied()));
        }
        if let Some(kick) = &mut self.kick {
            return kick.calls.push(call);
        }
        let id = self.next_request;
        self.next_request += 1;
        self.kick = Some(PendingKick { id, calls: vec![call] });
        self.send(ClientFrame::KickAll { id });
    }

    // ----- socket and timer -----

    /// The socket asked for by [`Effect::Open`] is open: send `join`, resuming the last session when reconnecting.
    pub fn socket_open(&mut self) {
        let resume = match self.state {
            RoomState::Joining => None,
            RoomState::Reconnecting => Some(self.session_id.clone()),
            _ => return,
        };
        self.send(ClientFrame::Join { token: self.token.clone(), resume, version: PROTOCOL_VERSION });
    }

    /// One frame from the server (the driver decodes it; frames that do not decode are dropped there).
    pub fn socket_frame(&mut self, frame: ServerFrame) {
        let state = self.state;
        let in_room = matches!(state, RoomState::Joining | RoomState::Joined | RoomState::Reconnecting);
        match frame {
            ServerFrame::Joined {
                session_id,
                meeting_id,
                self_participant,
                permissions,
                participants,
                participant_count,
                ..
            } => {
                if !matches!(state, RoomState::Joining | RoomState::Reconnecting) {
                    return;
                }
                let reconnected = state == RoomState::Reconnecting;
                self.state = RoomState::Joined;
                self.failures = 0;
                self.end_confirmed = false;
                self.session_id = session_id;
                self.meeting_id = meeting_id;
                let others: Vec<_> = participants.into_iter().filter(|p| p.id != self_participant.id).collect();
                // A large session lists only its first few (protocol crate, `LARGE_SESSION_LISTED`): that list is not
                // everyone, so on a reconnect the ones known before stay, and nobody is said to have left.
                let partial = participant_count.is_some_and(|n| n as usize > others.len());
                self.me = Some(self_participant);
                let before = std::mem::replace(&mut self.permissions, permissions);
                let old = self.participants.replace(others);
                if reconnected && partial {
                    for p in &old {
                        if self.participants.get(&p.id).is_none() {
                            self.participants.insert(p.clone());
                        }
                    }
                }
                for call in std::mem::take(&mut self.join_calls) {
                    self.push(Effect::Resolve(call, Outcome::Joined));
                }
                self.emit(Event::RoomJoined { reconnected });
                if reconnected {
                    // Tell the listeners what changed while the socket was down.
                    if before != permissions {
                        self.emit(Event::PermissionsUpdate { kick_participant: permissions.kick_participant });
                    }
                    let gone: Vec<_> = old.iter().filter(|p| self.participants.get(&p.id).is_none()).cloned().collect();
                    debug_assert!(!partial || gone.is_empty());
                    let came: Vec<_> =
                        self.participants.iter().filter(|p| !old.iter().any(|o| o.id == p.id)).cloned().collect();
                    for p in gone {
                        self.emit(Event::ParticipantLeft(p));
                    }
                    for p in came {
                        self.emit(Event::ParticipantJoined(p));
                    }
                }
            }
            ServerFrame::ParticipantJoined { participant } => {
                let is_me = self.me.as_ref().is_some_and(|me| me.id == participant.id);
                if state == RoomState::Joined && !is_me && self.participants.insert(participant.clone()) {
                    self.emit(Event::ParticipantJoined(participant));
                }
            }
            ServerFrame::ParticipantLeft { participant_id } => {
                if state == RoomState::Joined {
                    if let Some(p) = self.participants.remove(&participant_id) {
                        self.emit(Event::ParticipantLeft(p));
                    }
                }
            }
            ServerFrame::PermissionsUpdate { permissions, .. } => {
                if state == RoomState::Joined {
                    self.permissions = permissions;
                    self.emit(Event::PermissionsUpdate { kick_participant: permissions.kick_participant });
                }
            }
            ServerFrame::KickAllResult { id, session_id, kicked_count, already_ended } => {
                if self.kick.as_ref().is_some_and(|k| k.id == id) {
                    // The session is over: the control stays `ending` until the `roomLeft` that follows.
                    self.end_confirmed = session_id == self.session_id;
                    let result = KickAllResult { session_id, kicked_count, already_ended };
                    for call in self.kick.take().map(|k| k.calls).unwrap_or_default() {
                        self.push(Effect::Resolve(call, Outcome::KickAll(result.clone())));
                    }
                }
            }
            ServerFrame::RoomLeft { state: leave_state, .. } => {
                if in_room {
                    self.push(Effect::Close);
                    self.left(leave_state);
                }
            }
            // Heartbeats keep the connection counted as alive (the driver's silence timer); nothing else to do yet.
            ServerFrame::Ping => {}
            ServerFrame::Error { id, code, message } => {
                if id.is_some() && self.kick.as_ref().map(|k| k.id) == id {
                    self.reject_kick(ClientError::from_server(code, &message));
                } else if matches!(state, RoomState::Joining | RoomState::Reconnecting) {
                    // The server refused the join (bad token, meeting INACTIVE, unknown meeting, ...).
                    self.push(Effect::Close);
                    self.reject_join(ClientError::from_server(code, &message));
                    self.left(LeaveState::Rejected);
                }
            }
        }
    }

    /// The socket closed without [`Effect::Close`] asking for it (or could not be opened).
    pub fn socket_closed(&mut self) {
        match self.state {
            RoomState::Joining => self.fail(),
            RoomState::Joined => {
                self.state = RoomState::Reconnecting;
                self.failures = 0;
                self.reject_kick(ClientError::connection_lost());
                self.emit(Event::RoomLeft { state: LeaveState::Disconnected });
                self.retry();
            }
            RoomState::Reconnecting => {
                self.failures += 1;
                self.retry();
            }
            RoomState::Init | RoomState::Left(_) => {}
        }
    }

    /// The delay of [`Effect::ScheduleReconnect`] has passed.
    pub fn reconnect_due(&mut self) {
        if self.state == RoomState::Reconnecting {
            self.push(Effect::Open);
        }
    }

    // ----- internals -----

    /// Schedules the next reconnect attempt, or gives up.
    fn retry(&mut self) {
        if self.failures >= self.reconnect.attempts {
            self.fail();
        } else {
            self.push(Effect::ScheduleReconnect(self.reconnect.delay(self.failures)));
        }
    }

    /// Could not (re)connect: rejects the join calls and leaves with `failed`.
    fn fail(&mut self) {
        self.reject_join(ClientError::connection_failed());
        self.left(LeaveState::Failed);
    }

    /// Moves to `Left(state)`: the others are forgotten, waiting calls fail, `roomLeft` is emitted once.
    fn left(&mut self, state: LeaveState) {
        self.state = RoomState::Left(state);
        self.participants.clear();
        self.reject_join(ClientError::room_left());
        self.reject_kick(ClientError::room_left());
        self.emit(Event::RoomLeft { state });
    }

    fn reject_join(&mut self, error: ClientError) {
        for call in std::mem::take(&mut self.join_calls) {
            self.push(Effect::Reject(call, error.clone()));
        }
    }

    fn reject_kick(&mut self, error: ClientError) {
        for call in self.kick.take().map(|k| k.calls).unwrap_or_default() {
            self.push(Effect::Reject(call, error.clone()));
        }
    }

    fn send(&mut self, frame: ClientFrame) {
        self.push(Effect::Send(frame));
    }

    fn emit(&mut self, event: Event) {
        self.push(Effect::Emit(event));
    }

    fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }
}

#[cfg(test)]
mod tests;
