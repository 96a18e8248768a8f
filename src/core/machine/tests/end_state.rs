//! Tests of [`Machine::end_state`]: every transition, driven by the machine's real inputs.

use super::*;
use crate::core::EndState;

fn kick_result(id: u64, session: &str) -> ServerFrame {
    ServerFrame::KickAllResult { id, session_id: session.into(), kicked_count: 3, already_ended: false }
}

fn permissions(kick: bool) -> ServerFrame {
    ServerFrame::PermissionsUpdate {
        preset_name: if kick { "group_call_host" } else { "group_call_participant" }.into(),
        permissions: Permissions { kick_participant: kick },
    }
}

#[test]
fn not_joined_until_the_server_lets_the_participant_in() {
    let mut m = machine();
    assert_eq!(m.end_state(), EndState::NotJoined);
    m.join(CallId(1));
    assert_eq!(m.end_state(), EndState::NotJoined, "joining");
    m.socket_open();
    assert_eq!(m.end_state(), EndState::NotJoined, "join sent");
    m.socket_frame(joined_frame("s-1", true, &[]));
    assert_eq!(m.end_state(), EndState::Allowed);
    assert_eq!(joined(false).end_state(), EndState::NoPermission);
}

#[test]
fn a_permissions_update_flips_allowed_and_no_permission_both_ways() {
    let mut m = joined(false);
    m.socket_frame(permissions(true));
    assert_eq!(m.end_state(), EndState::Allowed);
    m.socket_frame(permissions(false));
    assert_eq!(m.end_state(), EndState::NoPermission);
}

#[test]
fn kick_all_is_ending_from_the_send_until_room_left_ended() {
    let mut m = joined(true);
    m.kick_all(CallId(1));
    assert_eq!(m.end_state(), EndState::Ending);
    m.kick_all(CallId(2));
    assert_eq!(m.end_state(), EndState::Ending, "a second call shares the end");
    // The server answers before the roomLeft that follows: no flash of `allowed` in between.
    m.socket_frame(kick_result(1, "s-1"));
    assert_eq!(m.end_state(), EndState::Ending);
    m.socket_frame(room_left(LeaveState::Ended));
    assert_eq!(m.end_state(), EndState::Left(LeaveState::Ended));
    assert_eq!(m.end_state().as_str(), "ended");
}

#[test]
fn a_refused_kick_all_goes_back_to_what_the_permission_says() {
    let mut m = joined(true);
    m.kick_all(CallId(1));
    // Revoked while in flight: the server refuses with 1201 and the gate closes.
    m.socket_frame(permissions(false));
    assert_eq!(m.end_state(), EndState::Ending);
    m.socket_frame(error(Some(1), ErrorCode::PermissionDenied));
    assert_eq!(m.end_state(), EndState::NoPermission);
}

#[test]
fn a_kick_all_without_permission_or_room_never_shows_ending() {
    let mut m = joined(false);
    m.kick_all(CallId(1));
    assert_eq!(m.end_state(), EndState::NoPermission);
    let mut fresh = machine();
    fresh.kick_all(CallId(1));
    assert_eq!(fresh.end_state(), EndState::NotJoined);
}

#[test]
fn an_end_of_another_session_does_not_hold_ending() {
    let mut m = joined(true);
    m.kick_all(CallId(1));
    m.socket_frame(kick_result(1, "s-0"));
    assert_eq!(m.end_state(), EndState::Allowed);
}

#[test]
fn a_dropped_socket_is_not_joined_and_a_resume_restores_the_gate() {
    let mut m = joined(true);
    m.kick_all(CallId(1));
    m.socket_closed();
    assert_eq!(m.end_state(), EndState::NotJoined, "the end in flight waits for the reconnect");
    m.reconnect_due();
    m.socket_open();
    m.socket_frame(joined_frame("s-1", true, &[]));
    assert_eq!(m.end_state(), EndState::Ending, "asked again on the new socket");
    m.socket_frame(kick_result(1, "s-1"));
    m.socket_frame(room_left(LeaveState::Ended));
    m.join(CallId(2));
    m.socket_open();
    m.socket_frame(joined_frame("s-2", true, &[]));
    assert_eq!(m.end_state(), EndState::Allowed, "a new session restores the gate");
}

#[test]
fn every_way_out_of_the_room_is_its_leave_state() {
    for state in [LeaveState::Ended, LeaveState::Kicked, LeaveState::Rejected] {
        let mut m = joined(true);
        m.socket_frame(room_left(state));
        assert_eq!(m.end_state(), EndState::Left(state));
    }
    let mut m = joined(true);
    m.leave();
    assert_eq!(m.end_state(), EndState::Left(LeaveState::Left));

    let mut m = joined(true);
    m.socket_closed();
    while m.room_state() == RoomState::Reconnecting {
        m.reconnect_due();
        m.socket_closed();
    }
    assert_eq!(m.end_state(), EndState::Left(LeaveState::Failed));

    let mut m = machine();
    m.join(CallId(1));
    m.socket_open();
    m.socket_frame(error(None, ErrorCode::MeetingInactive));
    assert_eq!(m.end_state(), EndState::Left(LeaveState::Rejected));
}

#[test]
fn joining_again_after_the_end_starts_over() {
    let mut m = joined(true);
    m.kick_all(CallId(1));
    m.socket_frame(kick_result(1, "s-1"));
    m.socket_frame(room_left(LeaveState::Ended));
    m.join(CallId(2));
    assert_eq!(m.end_state(), EndState::NotJoined);
    m.socket_open();
    m.socket_frame(joined_frame("s-2", true, &[]));
    assert_eq!(m.end_state(), EndState::Allowed, "the confirmed end belonged to the old session");
}
