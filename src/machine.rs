//! The meeting state machine: [`Machine`].
//!
//! Pure: it never touches a socket, a timer or JavaScript. Inputs are the user's calls ([`Machine::join`],
//! [`Machine::leave`], [`Machine::kick_all`]), socket events ([`Machine::socket_open`], [`Machine::socket_frame`],
//! [`Machine::socket_closed`]) and the reconnect timer ([`Machine::reconnect_due`]); each queues [`Effect`]s that the
//! driver takes with [`Machine::take_effects`] and carries out in order.

use crate::{
    CallId, ClientError, Effect, Event, KickAllResult, LeaveState, Outcome, Participants, Reconnect, RoomState,
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
            ServerFrame::Joined { session_id, meeting_id, self_participant, permissions, participants, .. } => {
                if !matches!(state, RoomState::Joining | RoomState::Reconnecting) {
                    return;
                }
                let reconnected = state == RoomState::Reconnecting;
                self.state = RoomState::Joined;
                self.failures = 0;
                self.session_id = session_id;
                self.meeting_id = meeting_id;
                let others = participants.into_iter().filter(|p| p.id != self_participant.id).collect();
                self.me = Some(self_participant);
                let before = std::mem::replace(&mut self.permissions, permissions);
                let old = self.participants.replace(others);
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
mod tests {
    use super::*;
    use crate::errors::{CONNECTION_FAILED, CONNECTION_LOST, NOT_JOINED, PERMISSION_DENIED, ROOM_LEFT};
    use endsession_protocol::{EndReason, ErrorCode};

    const TOKEN: &str = "tok";

    fn person(id: &str) -> Participant {
        Participant {
            id: id.into(),
            name: format!("Name {id}"),
            custom_participant_id: format!("c-{id}"),
            preset_name: "group_call_participant".into(),
        }
    }

    fn joined_frame(session: &str, kick: bool, others: &[&str]) -> ServerFrame {
        ServerFrame::Joined {
            session_id: session.into(),
            meeting_id: "m-1".into(),
            self_participant: person("me"),
            permissions: Permissions { kick_participant: kick },
            participants: others.iter().map(|id| person(id)).collect(),
            reconnected: false,
        }
    }

    fn machine() -> Machine {
        Machine::new(TOKEN.into(), Reconnect::default())
    }

    /// A machine in the room of session `s-1` with `b` and `c`, effects drained.
    fn joined(kick: bool) -> Machine {
        let mut m = machine();
        m.join(CallId(0));
        m.socket_open();
        m.socket_frame(joined_frame("s-1", kick, &["b", "c"]));
        m.take_effects();
        m
    }

    fn room_left(state: LeaveState) -> ServerFrame {
        ServerFrame::RoomLeft { state, session_id: "s-1".into(), reason: None }
    }

    fn error(id: Option<u64>, code: ErrorCode) -> ServerFrame {
        ServerFrame::Error { id, code, message: "from the server".into() }
    }

    fn emits(effects: &[Effect]) -> Vec<Event> {
        effects.iter().filter_map(|e| if let Effect::Emit(ev) = e { Some(ev.clone()) } else { None }).collect()
    }

    fn sent(effects: &[Effect]) -> Vec<ClientFrame> {
        effects.iter().filter_map(|e| if let Effect::Send(f) = e { Some(f.clone()) } else { None }).collect()
    }

    fn rejected(effects: &[Effect], call: u32) -> Option<ClientError> {
        effects.iter().find_map(|e| match e {
            Effect::Reject(CallId(c), err) if *c == call => Some(err.clone()),
            _ => None,
        })
    }

    fn ids(m: &Machine) -> Vec<String> {
        m.participants().iter().map(|p| p.id.clone()).collect()
    }

    fn left_event(state: LeaveState) -> Event {
        Event::RoomLeft { state }
    }

    // ----- joining -----

    #[test]
    fn join_opens_a_socket_then_sends_join_with_the_token() {
        let mut m = machine();
        assert_eq!(m.room_state(), RoomState::Init);
        m.join(CallId(1));
        assert_eq!(m.take_effects(), [Effect::Open]);
        assert_eq!(m.room_state(), RoomState::Joining);
        m.socket_open();
        let join = ClientFrame::Join { token: TOKEN.into(), resume: None, version: PROTOCOL_VERSION };
        assert_eq!(m.take_effects(), [Effect::Send(join.clone())]);
        // What goes on the wire is the protocol's frame.
        assert_eq!(ClientFrame::decode(&join.encode()), Ok(join));
    }

    #[test]
    fn joined_resolves_the_join_and_fills_the_meeting() {
        let mut m = machine();
        m.join(CallId(1));
        m.socket_open();
        m.take_effects();
        let text = joined_frame("s-1", true, &["b", "me", "c"]).encode();
        m.socket_frame(ServerFrame::decode(&text).unwrap());
        assert_eq!(
            m.take_effects(),
            [Effect::Resolve(CallId(1), Outcome::Joined), Effect::Emit(Event::RoomJoined { reconnected: false })]
        );
        assert_eq!(m.room_state(), RoomState::Joined);
        assert_eq!((m.session_id(), m.meeting_id()), ("s-1", "m-1"));
        assert_eq!(m.me().map(|p| p.id.as_str()), Some("me"));
        assert!(m.permissions().kick_participant);
        assert_eq!(ids(&m), ["b", "c"], "self is not among the others");
    }

    #[test]
    fn joins_while_joining_share_the_socket_and_a_join_while_joined_resolves_at_once() {
        let mut m = machine();
        m.join(CallId(1));
        m.join(CallId(2));
        assert_eq!(m.take_effects(), [Effect::Open]);
        m.socket_open();
        m.socket_frame(joined_frame("s-1", false, &[]));
        let effects = m.take_effects();
        assert!(effects.contains(&Effect::Resolve(CallId(1), Outcome::Joined)));
        assert!(effects.contains(&Effect::Resolve(CallId(2), Outcome::Joined)));
        m.join(CallId(3));
        assert_eq!(m.take_effects(), [Effect::Resolve(CallId(3), Outcome::Joined)]);
    }

    #[test]
    fn a_refused_join_rejects_with_the_server_code_and_leaves_rejected() {
        for (code, text) in
            [(ErrorCode::InvalidToken, "4010"), (ErrorCode::MeetingInactive, "4030"), (ErrorCode::NotFound, "4040")]
        {
            let mut m = machine();
            m.join(CallId(1));
            m.socket_open();
            m.take_effects();
            m.socket_frame(error(None, code));
            let effects = m.take_effects();
            let err = rejected(&effects, 1).expect("join rejected");
            assert_eq!(err.code, text);
            assert_eq!(err.message, format!("[ERR{text}]: from the server"));
            assert_eq!(emits(&effects), [left_event(LeaveState::Rejected)]);
            assert_eq!(effects[0], Effect::Close);
            assert_eq!(m.room_state(), RoomState::Left(LeaveState::Rejected));
            // The server's close that follows changes nothing.
            m.socket_closed();
            assert_eq!(m.take_effects(), []);
        }
    }

    #[test]
    fn a_socket_that_never_opens_fails_the_join() {
        let mut m = machine();
        m.join(CallId(1));
        m.take_effects();
        m.socket_closed();
        let effects = m.take_effects();
        assert_eq!(rejected(&effects, 1).map(|e| e.code), Some(CONNECTION_FAILED.into()));
        assert_eq!(emits(&effects), [left_event(LeaveState::Failed)]);
        assert_eq!(m.room_state(), RoomState::Left(LeaveState::Failed));
    }

    #[test]
    fn frames_out_of_place_are_ignored() {
        let mut m = joined(false);
        m.socket_frame(joined_frame("s-2", true, &["x"]));
        m.socket_frame(ServerFrame::KickAllResult {
            id: 99,
            session_id: "s-1".into(),
            kicked_count: 1,
            already_ended: false,
        });
        m.socket_frame(error(Some(99), ErrorCode::PermissionDenied));
        assert_eq!(m.take_effects(), []);
        assert_eq!((m.session_id(), m.permissions().kick_participant), ("s-1", false));

        let mut fresh = machine();
        fresh.socket_open();
        fresh.socket_frame(ServerFrame::ParticipantJoined { participant: person("z") });
        fresh.socket_frame(room_left(LeaveState::Ended));
        fresh.socket_closed();
        fresh.reconnect_due();
        assert_eq!(fresh.take_effects(), []);
        assert_eq!(fresh.room_state(), RoomState::Init);
    }

    // ----- kickAll -----

    #[test]
    fn kick_all_before_joining_rejects_1205_with_realtimekits_message() {
        let mut m = machine();
        m.kick_all(CallId(1));
        let err = ClientError {
            code: NOT_JOINED.into(),
            message:
                "[ERR1205]: {Participant} Action not permitted without joining room\nCan`t kick all without joining room"
                    .into(),
        };
        assert_eq!(m.take_effects(), [Effect::Reject(CallId(1), err.clone())]);
        m.join(CallId(2));
        m.take_effects();
        m.kick_all(CallId(3));
        assert_eq!(m.take_effects(), [Effect::Reject(CallId(3), err)], "joining is not joined");
    }

    #[test]
    fn kick_all_without_permission_rejects_1201_and_sends_nothing() {
        let mut m = joined(false);
        m.kick_all(CallId(1));
        let err = ClientError {
            code: PERMISSION_DENIED.into(),
            message:
                "[ERR1201]: {Participant} Permission denied\nUnauthorized: User does not have permission to kick peers."
                    .into(),
        };
        assert_eq!(m.take_effects(), [Effect::Reject(CallId(1), err)]);
        assert_eq!(m.room_state(), RoomState::Joined);
    }

    #[test]
    fn kick_all_resolves_only_on_the_servers_result() {
        let mut m = joined(true);
        m.kick_all(CallId(1));
        assert_eq!(m.take_effects(), [Effect::Send(ClientFrame::KickAll { id: 1 })]);
        // Not answered yet; an answer to another request changes nothing.
        m.socket_frame(ServerFrame::KickAllResult {
            id: 7,
            session_id: "s-1".into(),
            kicked_count: 3,
            already_ended: true,
        });
        assert_eq!(m.take_effects(), []);
        m.socket_frame(ServerFrame::KickAllResult {
            id: 1,
            session_id: "s-1".into(),
            kicked_count: 3,
            already_ended: false,
        });
        let result = KickAllResult { session_id: "s-1".into(), kicked_count: 3, already_ended: false };
        assert_eq!(m.take_effects(), [Effect::Resolve(CallId(1), Outcome::KickAll(result))]);
        // Then the server ends the room for this participant too.
        m.socket_frame(ServerFrame::RoomLeft {
            state: LeaveState::Ended,
            session_id: "s-1".into(),
            reason: Some(EndReason::HostEndedMeeting),
        });
        let effects = m.take_effects();
        assert_eq!(effects, [Effect::Close, Effect::Emit(left_event(LeaveState::Ended))]);
        assert_eq!(m.room_state(), RoomState::Left(LeaveState::Ended));
    }

    #[test]
    fn concurrent_kick_alls_share_one_request() {
        let mut m = joined(true);
        m.kick_all(CallId(1));
        m.kick_all(CallId(2));
        m.kick_all(CallId(3));
        assert_eq!(sent(&m.take_effects()), [ClientFrame::KickAll { id: 1 }]);
        m.socket_frame(ServerFrame::KickAllResult {
            id: 1,
            session_id: "s-1".into(),
            kicked_count: 2,
            already_ended: false,
        });
        let resolved: Vec<u32> = m
            .take_effects()
            .iter()
            .filter_map(|e| if let Effect::Resolve(CallId(c), Outcome::KickAll(_)) = e { Some(*c) } else { None })
            .collect();
        assert_eq!(resolved, [1, 2, 3]);
        // A later call is a new request.
        m.kick_all(CallId(4));
        assert_eq!(sent(&m.take_effects()), [ClientFrame::KickAll { id: 2 }]);
    }

    #[test]
    fn a_server_error_rejects_every_waiting_kick_all_with_its_code() {
        let mut m = joined(true);
        m.kick_all(CallId(1));
        m.kick_all(CallId(2));
        m.take_effects();
        m.socket_frame(error(Some(1), ErrorCode::PermissionDenied));
        let effects = m.take_effects();
        assert_eq!(effects.len(), 2);
        assert_eq!(rejected(&effects, 1), Some(ClientError::permission_denied()));
        assert_eq!(rejected(&effects, 2), Some(ClientError::permission_denied()));
        m.kick_all(CallId(3));
        m.take_effects();
        m.socket_frame(error(Some(2), ErrorCode::UnexpectedFrame));
        let err = rejected(&m.take_effects(), 3).unwrap();
        assert_eq!((err.code.as_str(), err.message.as_str()), ("4002", "[ERR4002]: from the server"));
        assert_eq!(m.room_state(), RoomState::Joined);
    }

    #[test]
    fn kick_all_after_leaving_rejects_1205_unlike_realtimekit() {
        for end in [room_left(LeaveState::Ended), room_left(LeaveState::Kicked)] {
            let mut m = joined(true);
            m.socket_frame(end);
            m.take_effects();
            m.kick_all(CallId(1));
            assert_eq!(rejected(&m.take_effects(), 1).map(|e| e.code), Some(NOT_JOINED.into()));
        }
        let mut m = joined(true);
        m.leave();
        m.take_effects();
        m.kick_all(CallId(1));
        assert_eq!(rejected(&m.take_effects(), 1).map(|e| e.code), Some(NOT_JOINED.into()));
    }

    #[test]
    fn a_kick_all_still_waiting_when_the_room_ends_is_rejected() {
        let mut m = joined(true);
        m.kick_all(CallId(1));
        m.take_effects();
        m.socket_frame(room_left(LeaveState::Ended));
        let effects = m.take_effects();
        assert_eq!(rejected(&effects, 1).map(|e| e.code), Some(ROOM_LEFT.into()));
        assert_eq!(emits(&effects), [left_event(LeaveState::Ended)]);
    }

    // ----- leaving -----

    #[test]
    fn room_left_from_the_server_sets_the_state_clears_participants_and_emits_once() {
        for state in [LeaveState::Ended, LeaveState::Kicked] {
            let mut m = joined(false);
            m.socket_frame(room_left(state));
            assert_eq!(m.take_effects(), [Effect::Close, Effect::Emit(left_event(state))]);
            assert_eq!(m.room_state(), RoomState::Left(state));
            assert!(m.participants().is_empty());
            m.socket_frame(room_left(state));
            m.socket_closed();
            m.leave();
            assert_eq!(m.take_effects(), [], "roomLeft is emitted once");
        }
    }

    #[test]
    fn leave_tells_the_server_closes_and_emits_left() {
        let mut m = joined(false);
        m.leave();
        assert_eq!(
            m.take_effects(),
            [Effect::Send(ClientFrame::Leave), Effect::Close, Effect::Emit(left_event(LeaveState::Left))]
        );
        assert_eq!(m.room_state(), RoomState::Left(LeaveState::Left));
        assert!(m.participants().is_empty());
        m.leave();
        m.socket_frame(room_left(LeaveState::Left));
        assert_eq!(m.take_effects(), []);
        let mut fresh = machine();
        fresh.leave();
        assert_eq!((fresh.take_effects(), fresh.room_state()), (vec![], RoomState::Init));
    }

    #[test]
    fn leave_while_joining_cancels_the_join() {
        let mut m = machine();
        m.join(CallId(1));
        m.take_effects();
        m.leave();
        let effects = m.take_effects();
        assert_eq!(effects[0], Effect::Close);
        assert_eq!(rejected(&effects, 1).map(|e| e.code), Some(ROOM_LEFT.into()));
        assert_eq!(emits(&effects), [left_event(LeaveState::Left)]);
        m.socket_open();
        assert_eq!(m.take_effects(), []);
    }

    #[test]
    fn join_after_leaving_starts_over() {
        let mut m = joined(true);
        m.socket_frame(room_left(LeaveState::Ended));
        m.take_effects();
        m.join(CallId(5));
        assert_eq!(m.take_effects(), [Effect::Open]);
        m.socket_open();
        assert!(matches!(&sent(&m.take_effects())[..], [ClientFrame::Join { resume: None, .. }]));
        m.socket_frame(joined_frame("s-2", true, &[]));
        assert!(m.take_effects().contains(&Effect::Emit(Event::RoomJoined { reconnected: false })));
        assert_eq!((m.room_state(), m.session_id()), (RoomState::Joined, "s-2"));
    }

    // ----- reconnecting -----

    #[test]
    fn a_lost_socket_emits_disconnected_and_reconnects_with_resume() {
        let mut m = joined(true);
        m.kick_all(CallId(1));
        m.take_effects();
        m.socket_closed();
        let effects = m.take_effects();
        assert_eq!(rejected(&effects, 1).map(|e| e.code), Some(CONNECTION_LOST.into()));
        assert_eq!(emits(&effects), [left_event(LeaveState::Disconnected)]);
        assert_eq!(effects.last(), Some(&Effect::ScheduleReconnect(250)));
        assert_eq!(m.room_state(), RoomState::Reconnecting);
        assert_eq!(ids(&m), ["b", "c"], "kept until the room is really left");
        m.kick_all(CallId(2));
        assert_eq!(rejected(&m.take_effects(), 2).map(|e| e.code), Some(NOT_JOINED.into()));

        m.reconnect_due();
        assert_eq!(m.take_effects(), [Effect::Open]);
        m.socket_open();
        assert_eq!(
            sent(&m.take_effects()),
            [ClientFrame::Join { token: TOKEN.into(), resume: Some("s-1".into()), version: PROTOCOL_VERSION }]
        );
        m.socket_frame(joined_frame("s-1", true, &["b", "c"]));
        assert_eq!(m.take_effects(), [Effect::Emit(Event::RoomJoined { reconnected: true })]);
        assert_eq!(m.room_state(), RoomState::Joined);
    }

    #[test]
    fn reconnecting_backs_off_exponentially_then_fails() {
        let mut m = joined(false);
        m.socket_closed();
        let mut delays = vec![];
        loop {
            let effects = m.take_effects();
            match effects.last() {
                Some(Effect::ScheduleReconnect(ms)) => delays.push(*ms),
                _ => {
                    assert_eq!(emits(&effects), [left_event(LeaveState::Failed)]);
                    break;
                }
            }
            m.reconnect_due();
            assert_eq!(m.take_effects(), [Effect::Open]);
            m.socket_closed();
        }
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 5000]);
        assert_eq!(m.room_state(), RoomState::Left(LeaveState::Failed));
        assert!(m.participants().is_empty());
    }

    #[test]
    fn reconnect_options_are_honoured() {
        let mut m = Machine::new(TOKEN.into(), Reconnect { base_ms: 10, max_ms: 15, attempts: 2 });
        m.join(CallId(0));
        m.socket_open();
        m.socket_frame(joined_frame("s-1", false, &[]));
        m.take_effects();
        m.socket_closed();
        assert_eq!(m.take_effects().last(), Some(&Effect::ScheduleReconnect(10)));
        m.socket_closed();
        assert_eq!(m.take_effects().last(), Some(&Effect::ScheduleReconnect(15)));
        m.socket_closed();
        assert_eq!(m.room_state(), RoomState::Left(LeaveState::Failed));

        let mut never = Machine::new(TOKEN.into(), Reconnect { attempts: 0, ..Reconnect::default() });
        never.join(CallId(0));
        never.socket_open();
        never.socket_frame(joined_frame("s-1", false, &[]));
        never.take_effects();
        never.socket_closed();
        assert_eq!(
            emits(&never.take_effects()),
            [left_event(LeaveState::Disconnected), left_event(LeaveState::Failed)]
        );
    }

    #[test]
    fn a_session_that_ended_while_disconnected_is_reported_ended() {
        let mut m = joined(false);
        m.socket_closed();
        m.reconnect_due();
        m.socket_open();
        m.take_effects();
        m.socket_frame(room_left(LeaveState::Ended));
        assert_eq!(m.take_effects(), [Effect::Close, Effect::Emit(left_event(LeaveState::Ended))]);
        assert_eq!(m.room_state(), RoomState::Left(LeaveState::Ended));
        assert!(m.participants().is_empty());
    }

    #[test]
    fn a_refused_rejoin_leaves_rejected() {
        let mut m = joined(false);
        m.socket_closed();
        m.reconnect_due();
        m.socket_open();
        m.take_effects();
        m.socket_frame(error(None, ErrorCode::MeetingInactive));
        assert_eq!(emits(&m.take_effects()), [left_event(LeaveState::Rejected)]);
    }

    #[test]
    fn a_join_call_while_reconnecting_waits_for_the_outcome() {
        let mut m = joined(false);
        m.socket_closed();
        m.take_effects();
        m.join(CallId(7));
        assert_eq!(m.take_effects(), []);
        m.reconnect_due();
        m.socket_open();
        m.socket_frame(joined_frame("s-1", false, &[]));
        assert!(m.take_effects().contains(&Effect::Resolve(CallId(7), Outcome::Joined)));
    }

    #[test]
    fn leave_while_reconnecting_cancels_the_timer() {
        let mut m = joined(false);
        m.socket_closed();
        m.take_effects();
        m.leave();
        assert_eq!(m.take_effects(), [Effect::Close, Effect::Emit(left_event(LeaveState::Left))]);
        m.reconnect_due();
        assert_eq!(m.take_effects(), []);
    }

    #[test]
    fn what_changed_while_disconnected_is_told_on_reconnect() {
        let mut m = joined(false);
        m.socket_closed();
        m.reconnect_due();
        m.socket_open();
        m.take_effects();
        m.socket_frame(joined_frame("s-1", true, &["c", "d"]));
        assert_eq!(
            emits(&m.take_effects()),
            [
                Event::RoomJoined { reconnected: true },
                Event::PermissionsUpdate { kick_participant: true },
                Event::ParticipantLeft(person("b")),
                Event::ParticipantJoined(person("d")),
            ]
        );
        assert_eq!(ids(&m), ["c", "d"]);
    }

    // ----- permissions and participants -----

    #[test]
    fn a_permissions_update_changes_the_gate_and_is_emitted() {
        let mut m = joined(false);
        m.socket_frame(ServerFrame::PermissionsUpdate {
            preset_name: "group_call_host".into(),
            permissions: Permissions { kick_participant: true },
        });
        assert_eq!(m.take_effects(), [Effect::Emit(Event::PermissionsUpdate { kick_participant: true })]);
        assert!(m.permissions().kick_participant);
        m.kick_all(CallId(1));
        assert_eq!(sent(&m.take_effects()), [ClientFrame::KickAll { id: 1 }]);
        m.socket_frame(ServerFrame::PermissionsUpdate {
            preset_name: "group_call_participant".into(),
            permissions: Permissions { kick_participant: false },
        });
        assert_eq!(m.take_effects(), [Effect::Emit(Event::PermissionsUpdate { kick_participant: false })]);
        m.kick_all(CallId(2));
        assert_eq!(rejected(&m.take_effects(), 2).map(|e| e.code), Some(PERMISSION_DENIED.into()));
    }

    #[test]
    fn participants_follow_joins_and_leaves() {
        let mut m = joined(false);
        m.socket_frame(ServerFrame::ParticipantJoined { participant: person("d") });
        assert_eq!(m.take_effects(), [Effect::Emit(Event::ParticipantJoined(person("d")))]);
        m.socket_frame(ServerFrame::ParticipantJoined { participant: person("d") });
        m.socket_frame(ServerFrame::ParticipantJoined { participant: person("me") });
        assert_eq!(m.take_effects(), [], "no duplicates, never self");
        m.socket_frame(ServerFrame::ParticipantLeft { participant_id: "b".into() });
        assert_eq!(m.take_effects(), [Effect::Emit(Event::ParticipantLeft(person("b")))]);
        m.socket_frame(ServerFrame::ParticipantLeft { participant_id: "nobody".into() });
        assert_eq!(m.take_effects(), []);
        assert_eq!(ids(&m), ["c", "d"]);
        assert_eq!(m.participants().len(), 2);
    }
}
