//! Tests of [`Machine`](super::Machine): joining and `kickAll` here; leaving, reconnecting, permissions and
//! participants in `connection.rs`; the end state in `end_state.rs`; silence in `heartbeat.rs`; `kickAll` calls that
//! cross the session's end in `end_race.rs`.

mod connection;
mod countdown;
mod end_race;
mod end_state;
mod heartbeat;

use super::*;
use crate::core::errors::{CONNECTION_FAILED, CONNECTION_LOST, NOT_JOINED, PERMISSION_DENIED, ROOM_LEFT};
use endsession_protocol::{EndReason, ErrorCode, ServerFrame};

const TOKEN: &str = "tok";

/// What opening a socket asks for: the socket, and the deadline for getting into the room on it.
const OPEN: [Effect; 2] = [Effect::Open, Effect::WatchSilence(Some(crate::core::CONNECT_TIMEOUT_MS))];

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
        participant_count: Some(others.len() as u32),
        reconnected: false,
        heartbeat_ms: None,
        session_ending: None,
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
    ServerFrame::RoomLeft {
        state,
        session_id: "s-1".into(),
        reason: None,
        kicked_count: None,
        message: None,
        ended_by: None,
        event_id: None,
    }
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

/// `roomLeft` from session `s-1`, with no why beyond the state.
fn left_event(state: LeaveState) -> Event {
    Event::RoomLeft(Leave::new(state, "s-1"))
}

// ----- joining -----

#[test]
fn join_opens_a_socket_then_sends_join_with_the_token() {
    let mut m = machine();
    assert_eq!(m.room_state(), RoomState::Init);
    m.join(CallId(1));
    assert_eq!(m.take_effects(), OPEN);
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
        [
            Effect::WatchSilence(None), // in the room: the connect deadline is over; no heartbeats to watch
            Effect::Resolve(CallId(1), Outcome::Joined),
            Effect::Emit(Event::RoomJoined { reconnected: false })
        ]
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
    assert_eq!(m.take_effects(), OPEN);
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
        let mut leave = Leave::new(LeaveState::Rejected, "");
        (leave.code, leave.message) = (Some(code), Some("from the server".into()));
        assert_eq!(emits(&effects), [Event::RoomLeft(leave)], "the server's code and why, no session");
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
    assert_eq!(emits(&effects), [Event::RoomLeft(Leave::new(LeaveState::Failed, ""))]);
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
    assert_eq!(m.take_effects(), [Effect::Send(ClientFrame::kick_all(1))]);
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
    let result = KickAllResult { session_id: "s-1".into(), kicked_count: 3, already_ended: false, ends_at: None };
    assert_eq!(m.take_effects(), [Effect::Resolve(CallId(1), Outcome::KickAll(result))]);
    // Then the server ends the room for this participant too.
    m.socket_frame(ServerFrame::RoomLeft {
        state: LeaveState::Ended,
        session_id: "s-1".into(),
        reason: Some(EndReason::HostEndedMeeting),
        kicked_count: None,
        message: None,
        ended_by: None,
        event_id: None,
    });
    let effects = m.take_effects();
    let mut leave = Leave::new(LeaveState::Ended, "s-1");
    (leave.reason, leave.kicked_count) = (Some(EndReason::HostEndedMeeting), Some(3));
    assert_eq!(effects, [Effect::Close, Effect::Emit(Event::RoomLeft(leave))], "the confirmed count, the reason");
    assert_eq!(m.room_state(), RoomState::Left(LeaveState::Ended));
}

#[test]
fn concurrent_kick_alls_share_one_request() {
    let mut m = joined(true);
    m.kick_all(CallId(1));
    m.kick_all(CallId(2));
    m.kick_all(CallId(3));
    assert_eq!(sent(&m.take_effects()), [ClientFrame::kick_all(1)]);
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
    // A later call is no new request: the session is over (end_race.rs has what each call resolves with).
    m.kick_all(CallId(4));
    assert_eq!(sent(&m.take_effects()), []);
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
    for end in [room_left(LeaveState::Left), room_left(LeaveState::Kicked)] {
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
fn a_kick_all_still_waiting_when_the_room_is_left_otherwise_is_rejected() {
    for state in [LeaveState::Kicked, LeaveState::Left, LeaveState::Rejected] {
        let mut m = joined(true);
        m.kick_all(CallId(1));
        m.take_effects();
        m.socket_frame(room_left(state));
        let effects = m.take_effects();
        assert_eq!(rejected(&effects, 1).map(|e| e.code), Some(ROOM_LEFT.into()), "{state:?}");
        assert_eq!(emits(&effects), [left_event(state)]);
    }
}
