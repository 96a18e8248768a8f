//! Tests of leaving, reconnecting, permissions and participants.

use super::*;

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
    assert_eq!(emits(&effects), [Event::RoomLeft(Leave::new(LeaveState::Left, ""))], "no session yet");
    m.socket_open();
    assert_eq!(m.take_effects(), []);
}

#[test]
fn join_after_leaving_starts_over() {
    let mut m = joined(true);
    m.socket_frame(room_left(LeaveState::Ended));
    m.take_effects();
    m.join(CallId(5));
    assert_eq!(m.take_effects(), OPEN);
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
    m.socket_closed();
    let effects = m.take_effects();
    assert_eq!(emits(&effects), [left_event(LeaveState::Disconnected)]);
    assert_eq!(effects.last(), Some(&Effect::ScheduleReconnect(250)));
    assert_eq!(m.room_state(), RoomState::Reconnecting);
    assert_eq!(ids(&m), ["b", "c"], "kept until the room is really left");

    m.reconnect_due();
    assert_eq!(m.take_effects(), OPEN);
    m.socket_open();
    assert_eq!(
        sent(&m.take_effects()),
        [ClientFrame::Join { token: TOKEN.into(), resume: Some("s-1".into()), version: PROTOCOL_VERSION }]
    );
    m.socket_frame(joined_frame("s-1", true, &["b", "c"]));
    assert_eq!(m.take_effects(), [Effect::WatchSilence(None), Effect::Emit(Event::RoomJoined { reconnected: true })]);
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
        assert_eq!(m.take_effects(), OPEN);
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
    assert_eq!(emits(&never.take_effects()), [left_event(LeaveState::Disconnected), left_event(LeaveState::Failed)]);
}

#[test]
fn a_session_that_ended_while_disconnected_is_reported_ended() {
    let mut m = joined(false);
    m.socket_closed();
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    m.socket_frame(room_left(LeaveState::Ended));
    assert_eq!(
        m.take_effects(),
        [Effect::Close, Effect::WatchSilence(None), Effect::Emit(left_event(LeaveState::Ended))]
    );
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
    let mut leave = Leave::new(LeaveState::Rejected, "s-1");
    (leave.code, leave.message) = (Some(ErrorCode::MeetingInactive), Some("from the server".into()));
    assert_eq!(emits(&m.take_effects()), [Event::RoomLeft(leave)], "the session it was refused back into");
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

#[test]
fn a_large_session_reconnect_keeps_whom_it_knew() {
    let mut m = joined(false);
    m.socket_closed();
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    // The server lists only the first few of a large session: `c` and `d` of 150 others.
    let mut frame = joined_frame("s-1", false, &["c", "d"]);
    if let ServerFrame::Joined { participant_count, .. } = &mut frame {
        *participant_count = Some(150);
    }
    m.socket_frame(frame);
    assert_eq!(
        emits(&m.take_effects()),
        [Event::RoomJoined { reconnected: true }, Event::ParticipantJoined(person("d"))],
        "b is not in the short list, but nothing says b left"
    );
    let mut known = ids(&m);
    known.sort();
    assert_eq!(known, ["b", "c", "d"]);
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
    assert_eq!(sent(&m.take_effects()), [ClientFrame::kick_all(1)]);
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
