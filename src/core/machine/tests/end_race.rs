//! `kickAll` calls that cross the session's end: every call on a session that ends resolves with that session's
//! id and `alreadyEnded: true`, but the one call that ended it (issue 10, fault 3) — from other meetings, and from
//! the same meeting object (N at once, one while another is in flight, across a reconnect, right after the end);
//! calls made while disconnected wait for the reconnect.

use super::*;

fn ended(kicked_count: Option<u32>) -> ServerFrame {
    ServerFrame::RoomLeft {
        state: LeaveState::Ended,
        session_id: "s-1".into(),
        reason: Some(EndReason::HostEndedMeeting),
        kicked_count,
        message: None,
        ended_by: None,
        event_id: None,
    }
}

fn already_ended(kicked_count: u32) -> Outcome {
    Outcome::KickAll(KickAllResult { session_id: "s-1".into(), kicked_count, already_ended: true, ends_at: None })
}

fn resolved(effects: &[Effect]) -> Vec<(u32, Outcome)> {
    effects
        .iter()
        .filter_map(|e| if let Effect::Resolve(CallId(c), o) = e { Some((*c, o.clone())) } else { None })
        .collect()
}

#[test]
fn kick_alls_waiting_when_someone_else_ends_the_session_resolve_already_ended() {
    for count in [0, 1, 3, 10_000] {
        let mut m = joined(true);
        m.kick_all(CallId(1));
        m.kick_all(CallId(2));
        m.take_effects();
        m.socket_frame(ended(Some(count)));
        let effects = m.take_effects();
        assert_eq!(resolved(&effects), [(1, already_ended(count)), (2, already_ended(count))]);
        assert_eq!(rejected(&effects, 1), None);
        assert_eq!(m.room_state(), RoomState::Left(LeaveState::Ended));
    }
}

#[test]
fn kick_all_after_the_end_resolves_with_the_ended_session_at_once() {
    let mut m = joined(true);
    m.socket_frame(ended(Some(4)));
    m.take_effects();
    for call in 1..=3 {
        m.kick_all(CallId(call));
        assert_eq!(m.take_effects(), [Effect::Resolve(CallId(call), already_ended(4))], "nothing sent");
    }
    // An end learned on reconnect from a server that does not count it there: the count is unknown, 0.
    let mut m = joined(true);
    m.socket_closed();
    m.reconnect_due();
    m.socket_open();
    m.socket_frame(ended(None));
    m.take_effects();
    m.kick_all(CallId(1));
    assert_eq!(m.take_effects(), [Effect::Resolve(CallId(1), already_ended(0))]);
}

#[test]
fn the_call_that_ended_it_alone_is_not_already_ended() {
    let mut m = joined(true);
    m.kick_all(CallId(1));
    m.take_effects();
    m.socket_frame(ServerFrame::KickAllResult {
        id: 1,
        session_id: "s-1".into(),
        kicked_count: 3,
        already_ended: false,
    });
    m.kick_all(CallId(2)); // still in the room until its roomLeft, but the end is confirmed: no new request
    m.socket_frame(ended(None));
    m.kick_all(CallId(3));
    let effects = m.take_effects();
    let first = Outcome::KickAll(KickAllResult {
        session_id: "s-1".into(),
        kicked_count: 3,
        already_ended: false,
        ends_at: None,
    });
    assert_eq!(resolved(&effects), [(1, first), (2, already_ended(3)), (3, already_ended(3))], "the confirmed count");
}

#[test]
fn a_kick_all_waiting_across_a_reconnect_resolves_with_the_end_it_finds() {
    let mut m = joined(true);
    m.kick_all(CallId(1));
    m.take_effects();
    m.socket_closed();
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    m.socket_frame(ended(Some(2)));
    assert_eq!(resolved(&m.take_effects()), [(1, already_ended(2))]);
}

#[test]
fn a_kick_all_waiting_for_a_reconnect_that_never_comes_fails_4901() {
    let mut m = machine();
    m.join(CallId(0));
    m.socket_open();
    m.socket_frame(joined_frame("s-1", true, &[]));
    let mut m = Machine { reconnect: Reconnect { attempts: 1, ..Reconnect::default() }, ..m };
    m.kick_all(CallId(1));
    m.socket_closed();
    m.reconnect_due();
    m.socket_closed();
    let effects = m.take_effects();
    assert_eq!(rejected(&effects, 1).map(|e| e.code), Some(CONNECTION_LOST.into()));
    assert_eq!(m.room_state(), RoomState::Left(LeaveState::Failed));
}

#[test]
fn still_1205_before_joining_and_after_leaving_or_a_kick_and_1201_without_permission() {
    let mut fresh = machine();
    fresh.kick_all(CallId(1));
    assert_eq!(rejected(&fresh.take_effects(), 1).map(|e| e.code), Some(NOT_JOINED.into()));
    for out in [room_left(LeaveState::Left), room_left(LeaveState::Kicked), room_left(LeaveState::Rejected)] {
        let mut m = joined(true);
        m.socket_frame(out);
        m.take_effects();
        m.kick_all(CallId(1));
        assert_eq!(rejected(&m.take_effects(), 1).map(|e| e.code), Some(NOT_JOINED.into()));
    }
    // Ended, then joining a new session: not joined yet.
    let mut m = joined(true);
    m.socket_frame(ended(Some(1)));
    m.join(CallId(5));
    m.take_effects();
    m.kick_all(CallId(1));
    assert_eq!(rejected(&m.take_effects(), 1).map(|e| e.code), Some(NOT_JOINED.into()));
    // A participant who could never end it is not told it did.
    let mut m = joined(false);
    m.socket_frame(ended(Some(1)));
    m.take_effects();
    m.kick_all(CallId(1));
    assert_eq!(rejected(&m.take_effects(), 1).map(|e| e.code), Some(PERMISSION_DENIED.into()));
}

#[test]
fn the_roomleft_payload_says_why() {
    for reason in [Some(EndReason::HostEndedMeeting), Some(EndReason::AllParticipantsLeft), None] {
        let mut m = joined(false);
        m.socket_frame(ServerFrame::RoomLeft {
            state: LeaveState::Ended,
            session_id: "s-1".into(),
            reason,
            kicked_count: Some(5),
            message: None,
            ended_by: None,
            event_id: None,
        });
        let leave = Leave { reason, kicked_count: Some(5), ..Leave::new(LeaveState::Ended, "s-1") };
        assert_eq!(emits(&m.take_effects()), [Event::RoomLeft(leave)]);
    }
    let mut m = joined(false);
    m.socket_frame(ServerFrame::RoomLeft {
        state: LeaveState::Rejected,
        session_id: "s-1".into(),
        reason: None,
        kicked_count: None,
        message: Some("the token was refreshed".into()),
        ended_by: None,
        event_id: None,
    });
    let leave = Leave { message: Some("the token was refreshed".into()), ..Leave::new(LeaveState::Rejected, "s-1") };
    assert_eq!(emits(&m.take_effects()), [Event::RoomLeft(leave)]);
}

// ----- many calls on the same meeting object (a double-click, a script and a button) -----

fn kick_result(kicked_count: u32, already_ended: bool) -> ServerFrame {
    ServerFrame::KickAllResult { id: 1, session_id: "s-1".into(), kicked_count, already_ended }
}

fn ended_it(kicked_count: u32) -> Outcome {
    Outcome::KickAll(KickAllResult { session_id: "s-1".into(), kicked_count, already_ended: false, ends_at: None })
}

/// Exactly one `alreadyEnded: false`, the first call's; every other call `alreadyEnded: true`, same session, count.
fn one_ended_it(effects: &[Effect], calls: impl IntoIterator<Item = u32>, kicked_count: u32) {
    let want: Vec<_> = calls
        .into_iter()
        .enumerate()
        .map(|(i, c)| (c, if i == 0 { ended_it(kicked_count) } else { already_ended(kicked_count) }))
        .collect();
    assert_eq!(resolved(effects), want);
}

#[test]
fn of_n_concurrent_calls_on_one_meeting_only_the_first_ended_it() {
    for n in [2, 3, 5] {
        let mut m = joined(true);
        for call in 1..=n {
            m.kick_all(CallId(call));
        }
        assert_eq!(sent(&m.take_effects()), [ClientFrame::kick_all(1)], "one request for {n} calls");
        m.socket_frame(kick_result(3, false));
        one_ended_it(&m.take_effects(), 1..=n, 3);
        // Later calls, before and after the roomLeft that follows: already ended, nothing sent.
        m.kick_all(CallId(n + 1));
        m.socket_frame(ended(None));
        m.kick_all(CallId(n + 2));
        let effects = m.take_effects();
        assert_eq!(sent(&effects), []);
        assert_eq!(resolved(&effects), [(n + 1, already_ended(3)), (n + 2, already_ended(3))]);
    }
}

#[test]
fn when_someone_else_ended_it_every_concurrent_call_is_already_ended() {
    for n in [2, 3, 5] {
        let mut m = joined(true);
        for call in 1..=n {
            m.kick_all(CallId(call));
        }
        m.take_effects();
        m.socket_frame(kick_result(4, true));
        let all: Vec<_> = (1..=n).map(|c| (c, already_ended(4))).collect();
        assert_eq!(resolved(&m.take_effects()), all);
    }
}

#[test]
fn a_call_made_while_the_first_is_in_flight_shares_it_and_is_already_ended() {
    let mut m = joined(true);
    m.kick_all(CallId(1));
    assert_eq!(sent(&m.take_effects()), [ClientFrame::kick_all(1)]);
    m.socket_frame(ServerFrame::Ping);
    m.kick_all(CallId(2));
    assert_eq!(sent(&m.take_effects()), [], "shares the request in flight");
    m.socket_frame(kick_result(2, false));
    one_ended_it(&m.take_effects(), [1, 2], 2);
}

#[test]
fn calls_across_a_reconnect_share_the_resent_request_and_one_ended_it() {
    let mut m = joined(true);
    m.kick_all(CallId(1));
    m.take_effects();
    m.socket_closed();
    assert_eq!(m.room_state(), RoomState::Reconnecting);
    m.kick_all(CallId(2));
    m.kick_all(CallId(3));
    let effects = m.take_effects();
    assert_eq!((rejected(&effects, 2), rejected(&effects, 3)), (None, None), "they wait for the reconnect");
    assert_eq!(sent(&effects), []);
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    m.socket_frame(joined_frame("s-1", true, &["b", "c"]));
    assert_eq!(sent(&m.take_effects()), [ClientFrame::kick_all(1)], "sent again, once");
    m.socket_frame(kick_result(3, false));
    one_ended_it(&m.take_effects(), [1, 2, 3], 3);
}

#[test]
fn a_call_made_while_disconnected_is_sent_after_the_reconnect() {
    let mut m = joined(true);
    m.socket_closed();
    m.take_effects();
    m.kick_all(CallId(1));
    m.kick_all(CallId(2));
    assert_eq!(m.take_effects(), [], "nothing sent, nothing rejected: there is no socket");
    assert_eq!(m.end_state(), EndState::NotJoined, "the control is not offered meanwhile");
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    m.socket_frame(joined_frame("s-1", true, &["b", "c"]));
    assert_eq!(sent(&m.take_effects()), [ClientFrame::kick_all(1)]);
    assert_eq!(m.end_state(), EndState::Ending);
    m.socket_frame(kick_result(3, false));
    one_ended_it(&m.take_effects(), [1, 2], 3);
    // The session ended while the socket was down: the resume is told so, and the calls are already ended.
    let mut m = joined(true);
    m.socket_closed();
    m.kick_all(CallId(1));
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    m.socket_frame(ended(Some(2)));
    assert_eq!(resolved(&m.take_effects()), [(1, already_ended(2))]);
}

#[test]
fn a_call_made_while_disconnected_fails_4901_when_reconnecting_gives_up_and_4902_on_leave() {
    let mut m = joined(true);
    m.reconnect = Reconnect { attempts: 2, ..Reconnect::default() };
    m.socket_closed();
    m.kick_all(CallId(1));
    for _ in 0..2 {
        m.reconnect_due();
        m.socket_closed();
    }
    assert_eq!(rejected(&m.take_effects(), 1).map(|e| e.code), Some(CONNECTION_LOST.into()));
    assert_eq!(m.room_state(), RoomState::Left(LeaveState::Failed));

    let mut m = joined(true);
    m.socket_closed();
    m.kick_all(CallId(1));
    m.leave();
    assert_eq!(rejected(&m.take_effects(), 1).map(|e| e.code), Some(ROOM_LEFT.into()));
    // Without the permission it is refused at once, as in the room.
    let mut m = joined(false);
    m.socket_closed();
    m.kick_all(CallId(1));
    assert_eq!(rejected(&m.take_effects(), 1).map(|e| e.code), Some(PERMISSION_DENIED.into()));
}
