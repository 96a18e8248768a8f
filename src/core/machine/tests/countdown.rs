//! The countdown to a session's end and its cancel (issue 13): `kickAll` with options, `kickAllScheduled`,
//! `sessionEnding` (to every participant, to a joiner, across a reconnect), `sessionEndCancelled`, `cancelEnd`, and
//! the end record (`endedBy`, `message`, `eventId`) of `roomLeft`.

use super::*;
use crate::core::{CancelEndResult, EndState, SessionEnding};
use endsession_protocol::{EndOptions, EndedBy, RunningCountdown};

const ENDS_AT: &str = "2026-11-30T00:00:30.000Z";

fn ann() -> EndedBy {
    EndedBy::Participant { id: "a".into(), name: "Ann".into(), custom_participant_id: "c-a".into() }
}

fn ending_frame(session: &str, ends_at: &str) -> ServerFrame {
    ServerFrame::SessionEnding {
        session_id: session.into(),
        ends_at: ends_at.into(),
        remaining_ms: 30_000,
        reason: EndReason::HostEndedMeeting,
        ended_by: Some(ann()),
        message: Some("Wrapping up".into()),
    }
}

fn ending_event(ends_at: &str) -> SessionEnding {
    SessionEnding {
        session_id: "s-1".into(),
        ends_at: ends_at.into(),
        remaining_ms: 30_000,
        reason: EndReason::HostEndedMeeting,
        ended_by: Some(ann()),
        message: Some("Wrapping up".into()),
    }
}

fn cancelled(by: Option<EndedBy>) -> ServerFrame {
    ServerFrame::SessionEndCancelled { session_id: "s-1".into(), cancelled_by: by }
}

fn resolved(effects: &[Effect]) -> Vec<(u32, Outcome)> {
    effects
        .iter()
        .filter_map(|e| if let Effect::Resolve(CallId(c), o) = e { Some((*c, o.clone())) } else { None })
        .collect()
}

/// Drops the socket of a joined machine and resumes session `s-1` (no countdown running), effects drained.
fn reconnect(m: &mut Machine, kick: bool) {
    reconnect_during(m, kick, None);
}

/// `joined` carrying the countdown ending at `ends_at` (as [`ending_frame`] tells it), or none.
fn joined_during(session: &str, kick: bool, others: &[&str], ends_at: Option<&str>) -> ServerFrame {
    let mut frame = joined_frame(session, kick, others);
    if let ServerFrame::Joined { session_ending, .. } = &mut frame {
        *session_ending = ends_at.map(|ends_at| RunningCountdown {
            ends_at: ends_at.into(),
            remaining_ms: 30_000,
            reason: EndReason::HostEndedMeeting,
            ended_by: Some(ann()),
            message: Some("Wrapping up".into()),
        });
    }
    frame
}

/// [`reconnect`], the server's `joined` carrying the countdown ending at `ends_at` if any.
fn reconnect_during(m: &mut Machine, kick: bool, ends_at: Option<&str>) {
    m.socket_closed();
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    m.socket_frame(joined_during("s-1", kick, &["b", "c"], ends_at));
}

#[test]
fn kick_all_sends_its_options_and_a_scheduled_answer_resolves_with_ends_at() {
    let mut m = joined(true);
    let options = EndOptions { message: Some("Thanks, all".into()), lock: true, grace_seconds: Some(30) };
    m.kick_all_with(CallId(1), options.clone());
    m.kick_all(CallId(2));
    assert_eq!(sent(&m.take_effects()), [ClientFrame::kick_all_with(1, options)], "one request, the first options");
    m.socket_frame(ServerFrame::KickAllScheduled { id: 1, session_id: "s-1".into(), ends_at: ENDS_AT.into() });
    let result = KickAllResult {
        session_id: "s-1".into(),
        kicked_count: 0,
        already_ended: false,
        ends_at: Some(ENDS_AT.into()),
    };
    let effects = m.take_effects();
    assert_eq!(resolved(&effects), [(1, Outcome::KickAll(result.clone())), (2, Outcome::KickAll(result))]);
    assert_eq!(emits(&effects), [], "the countdown itself is told by sessionEnding");
    assert_eq!(m.end_state(), EndState::Ending, "before its sessionEnding arrives");
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    assert_eq!(emits(&m.take_effects()), [Event::SessionEnding(ending_event(ENDS_AT))]);
    assert_eq!(m.end_state(), EndState::Ending);
    assert_eq!(m.session_ending(), Some(&ending_event(ENDS_AT)));
}

#[test]
fn a_countdown_is_ending_for_every_participant_and_its_cancel_restores_the_state() {
    for (kick, before) in [(true, EndState::Allowed), (false, EndState::NoPermission)] {
        let mut m = joined(kick);
        assert_eq!(m.session_ending(), None);
        m.socket_frame(ending_frame("s-1", ENDS_AT));
        assert_eq!(emits(&m.take_effects()), [Event::SessionEnding(ending_event(ENDS_AT))]);
        assert_eq!(m.end_state(), EndState::Ending, "kick_participant: {kick}");
        m.socket_frame(cancelled(Some(ann())));
        let event = Event::SessionEndCancelled { session_id: "s-1".into(), cancelled_by: Some(ann()) };
        assert_eq!(emits(&m.take_effects()), [event]);
        assert_eq!(m.end_state(), before);
        assert_eq!(m.session_ending(), None);
        // A cancel of nothing (told twice, or of another session) is no event.
        m.socket_frame(cancelled(None));
        m.socket_frame(ending_frame("s-9", ENDS_AT));
        assert_eq!(m.take_effects(), []);
        assert_eq!(m.end_state(), before);
    }
}

#[test]
fn the_same_countdown_told_twice_is_emitted_once() {
    // The server tells a participant who joins as a countdown starts both ways (broadcast and after `joined`).
    let mut m = joined(false);
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    assert_eq!(emits(&m.take_effects()), [Event::SessionEnding(ending_event(ENDS_AT))]);
    // Cancelled, then started again with another end: news again.
    m.socket_frame(cancelled(None));
    m.socket_frame(ending_frame("s-1", "2026-11-30T00:05:00.000Z"));
    let events = emits(&m.take_effects());
    assert_eq!(events.len(), 2);
    assert_eq!(events[1], Event::SessionEnding(ending_event("2026-11-30T00:05:00.000Z")));
}

#[test]
fn a_joiner_during_a_countdown_is_told_after_joined() {
    let mut m = machine();
    m.join(CallId(1));
    m.socket_open();
    m.socket_frame(joined_frame("s-1", false, &["b"]));
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    let effects = m.take_effects();
    assert_eq!(
        emits(&effects),
        [Event::RoomJoined { reconnected: false }, Event::SessionEnding(ending_event(ENDS_AT))]
    );
    assert_eq!(m.end_state(), EndState::Ending);
}

#[test]
fn the_end_record_reaches_room_left_and_the_countdown_is_over() {
    let mut m = joined(false);
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    m.take_effects();
    m.socket_frame(ServerFrame::RoomLeft {
        state: LeaveState::Ended,
        session_id: "s-1".into(),
        reason: Some(EndReason::HostEndedMeeting),
        kicked_count: Some(3),
        message: Some("Wrapping up".into()),
        ended_by: Some(ann()),
        event_id: Some("e-1".into()),
    });
    let mut leave = Leave::new(LeaveState::Ended, "s-1");
    (leave.reason, leave.kicked_count, leave.message) =
        (Some(EndReason::HostEndedMeeting), Some(3), Some("Wrapping up".into()));
    (leave.ended_by, leave.event_id) = (Some(ann()), Some("e-1".into()));
    assert_eq!(emits(&m.take_effects()), [Event::RoomLeft(leave)], "no sessionEndCancelled: it ended");
    assert_eq!(m.end_state(), EndState::Left(LeaveState::Ended));
    assert_eq!(m.session_ending(), None);
    // The API's end names it as the API.
    let mut m = joined(true);
    m.socket_frame(ServerFrame::RoomLeft {
        state: LeaveState::Ended,
        session_id: "s-1".into(),
        reason: Some(EndReason::HostEndedMeeting),
        kicked_count: None,
        message: None,
        ended_by: Some(EndedBy::api()),
        event_id: Some("e-2".into()),
    });
    let left = emits(&m.take_effects());
    assert!(
        matches!(&left[..], [Event::RoomLeft(Leave { ended_by: Some(EndedBy::Api { api: true }), event_id: Some(e), .. })] if e == "e-2"),
        "{left:?}"
    );
}

#[test]
fn cancel_end_is_refused_as_kick_all_is_outside_the_room_and_without_permission() {
    let mut m = machine();
    m.cancel_end(CallId(1));
    assert_eq!(m.take_effects(), [Effect::Reject(CallId(1), ClientError::not_joined())]);
    m.join(CallId(2));
    m.take_effects();
    m.cancel_end(CallId(3));
    assert_eq!(m.take_effects(), [Effect::Reject(CallId(3), ClientError::not_joined())], "joining");

    let mut m = joined(false);
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    m.take_effects();
    m.cancel_end(CallId(1));
    assert_eq!(m.take_effects(), [Effect::Reject(CallId(1), ClientError::permission_denied())], "nothing sent");
    assert_eq!(m.end_state(), EndState::Ending);

    for end in [room_left(LeaveState::Left), room_left(LeaveState::Ended)] {
        let mut m = joined(true);
        m.socket_frame(end);
        m.take_effects();
        m.cancel_end(CallId(1));
        assert_eq!(m.take_effects(), [Effect::Reject(CallId(1), ClientError::not_joined())]);
    }
}

#[test]
fn cancel_end_calls_share_one_request_and_resolve_with_the_answer() {
    let mut m = joined(true);
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    m.take_effects();
    m.cancel_end(CallId(1));
    m.cancel_end(CallId(2));
    assert_eq!(sent(&m.take_effects()), [ClientFrame::CancelEnd { id: 1 }]);
    m.socket_frame(ServerFrame::CancelEndResult { id: 7, cancelled: true });
    assert_eq!(m.take_effects(), [], "another request's answer");
    m.socket_frame(cancelled(Some(EndedBy::participant(&person("me")))));
    m.socket_frame(ServerFrame::CancelEndResult { id: 1, cancelled: true });
    let effects = m.take_effects();
    let yes = Outcome::CancelEnd(CancelEndResult { cancelled: true });
    assert_eq!(resolved(&effects), [(1, yes.clone()), (2, yes)]);
    assert_eq!(m.end_state(), EndState::Allowed);
    // Nothing to cancel: `{cancelled: false}`.
    m.cancel_end(CallId(3));
    assert_eq!(sent(&m.take_effects()), [ClientFrame::CancelEnd { id: 2 }]);
    m.socket_frame(ServerFrame::CancelEndResult { id: 2, cancelled: false });
    assert_eq!(resolved(&m.take_effects()), [(3, Outcome::CancelEnd(CancelEndResult { cancelled: false }))]);
}

#[test]
fn a_server_refusal_of_cancel_end_rejects_with_its_code() {
    // The permission was revoked on the server before the update reached this participant.
    let mut m = joined(true);
    m.cancel_end(CallId(1));
    m.take_effects();
    m.socket_frame(error(Some(1), ErrorCode::PermissionDenied));
    assert_eq!(m.take_effects(), [Effect::Reject(CallId(1), ClientError::permission_denied())]);
    // A room left before the answer rejects it with 4902.
    m.cancel_end(CallId(2));
    m.take_effects();
    m.socket_frame(room_left(LeaveState::Kicked));
    assert_eq!(rejected(&m.take_effects(), 2).map(|e| e.code), Some(ROOM_LEFT.into()));
}

#[test]
fn a_countdown_held_across_a_reconnect_is_kept_if_told_again_and_dropped_if_not() {
    // Still running: `joined` carries it, and the server tells it again right after.
    let mut m = joined(true);
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    m.take_effects();
    reconnect_during(&mut m, true, Some(ENDS_AT));
    assert_eq!(m.end_state(), EndState::Ending);
    assert_eq!(emits(&m.take_effects()), [Event::RoomJoined { reconnected: true }], "the same countdown: no news");
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    assert_eq!(emits(&m.take_effects()), [], "the same countdown: no news");
    m.socket_frame(ServerFrame::Ping);
    assert_eq!(emits(&m.take_effects()), []);
    assert_eq!(m.end_state(), EndState::Ending);
    assert_eq!(m.session_ending(), Some(&ending_event(ENDS_AT)));
    // Replaced while the socket was down (cancelled, then another started): the new one is news.
    reconnect_during(&mut m, true, Some("2026-11-30T00:05:00.000Z"));
    let news = Event::SessionEnding(ending_event("2026-11-30T00:05:00.000Z"));
    assert_eq!(emits(&m.take_effects()), [Event::RoomJoined { reconnected: true }, news]);
    m.socket_frame(ending_frame("s-1", "2026-11-30T00:05:00.000Z"));
    assert_eq!(emits(&m.take_effects()), []);

    // Cancelled while the socket was down: `joined` without one says it is gone, no later frame needed.
    let mut m = joined(true);
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    reconnect(&mut m, true);
    let effects = emits(&m.take_effects());
    let gone = Event::SessionEndCancelled { session_id: "s-1".into(), cancelled_by: None };
    assert_eq!(effects, [Event::RoomJoined { reconnected: true }, gone]);
    assert_eq!(m.end_state(), EndState::Allowed);
    assert_eq!(m.session_ending(), None);
    m.socket_frame(ServerFrame::ParticipantLeft { participant_id: "b".into() });
    assert!(!emits(&m.take_effects()).iter().any(|e| matches!(e, Event::SessionEndCancelled { .. })));

    // Ended while the socket was down: the resume is answered `roomLeft` `ended`, no cancel.
    let mut m = joined(true);
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    m.socket_closed();
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    m.socket_frame(room_left(LeaveState::Ended));
    assert_eq!(emits(&m.take_effects()), [left_event(LeaveState::Ended)]);
    assert_eq!(m.session_ending(), None);
}

#[test]
fn calls_made_while_reconnecting_are_sent_with_their_options_once_resumed() {
    let mut m = joined(true);
    m.socket_closed();
    let options = EndOptions { message: Some("bye".into()), lock: false, grace_seconds: Some(5) };
    m.kick_all_with(CallId(1), options.clone());
    m.cancel_end(CallId(2));
    assert_eq!(sent(&m.take_effects()), []);
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    m.socket_frame(joined_frame("s-1", true, &[]));
    assert_eq!(sent(&m.take_effects()), [ClientFrame::kick_all_with(1, options), ClientFrame::CancelEnd { id: 2 }]);
    // A reconnect that gives up rejects the cancel with 4901.
    m.socket_closed();
    for _ in 0..Reconnect::default().attempts {
        m.reconnect_due();
        m.socket_closed();
    }
    let effects = m.take_effects();
    assert_eq!(rejected(&effects, 2).map(|e| e.code), Some(CONNECTION_LOST.into()));
}

#[test]
fn a_late_scheduled_answer_for_a_countdown_already_cancelled_is_not_taken_for_a_new_one() {
    let mut m = joined(true);
    m.kick_all_with(CallId(1), EndOptions { grace_seconds: Some(30), ..Default::default() });
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    m.socket_frame(cancelled(Some(ann())));
    m.socket_frame(ServerFrame::KickAllScheduled { id: 1, session_id: "s-1".into(), ends_at: ENDS_AT.into() });
    assert_eq!(resolved(&m.take_effects()).len(), 1);
    assert_eq!(m.end_state(), EndState::Allowed);
}

#[test]
fn a_joiner_during_a_countdown_knows_it_when_join_resolves() {
    let mut m = machine();
    m.join(CallId(0));
    m.socket_open();
    m.take_effects();
    m.socket_frame(joined_during("s-1", true, &["b"], Some(ENDS_AT)));
    let effects = m.take_effects();
    assert_eq!(resolved(&effects), [(0, Outcome::Joined)]);
    assert_eq!(
        emits(&effects),
        [Event::RoomJoined { reconnected: false }, Event::SessionEnding(ending_event(ENDS_AT))]
    );
    assert_eq!(m.end_state(), EndState::Ending);
    assert_eq!(m.session_ending(), Some(&ending_event(ENDS_AT)));
    // The separate `sessionEnding` that follows is the same countdown: no news.
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    assert_eq!(emits(&m.take_effects()), []);
}

#[test]
fn a_countdown_cancelled_while_away_is_dropped_on_resume_in_a_quiet_room() {
    let mut m = joined(false);
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    m.take_effects();
    reconnect(&mut m, false);
    let gone = Event::SessionEndCancelled { session_id: "s-1".into(), cancelled_by: None };
    assert_eq!(emits(&m.take_effects()), [Event::RoomJoined { reconnected: true }, gone]);
    assert_eq!(m.end_state(), EndState::NoPermission);
    assert_eq!(m.session_ending(), None);
}

#[test]
fn a_cancel_end_in_flight_when_the_session_ends_resolves_cancelled_false() {
    // Another host's end (or the REST API's, or the countdown's own expiry) arrives before the cancel's answer: the
    // countdown was not cancelled, as a `kickAll` in the same race resolves `alreadyEnded`.
    let mut m = joined(true);
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    m.cancel_end(CallId(1));
    m.cancel_end(CallId(2));
    m.take_effects();
    m.socket_frame(room_left(LeaveState::Ended));
    let effects = m.take_effects();
    let cancelled_false = Outcome::CancelEnd(CancelEndResult { cancelled: false });
    assert_eq!(resolved(&effects), [(1, cancelled_false.clone()), (2, cancelled_false)]);
    assert_eq!(rejected(&effects, 1), None);
}

#[test]
fn a_cancel_end_in_flight_when_the_participant_is_kicked_rejects_4902() {
    let mut m = joined(true);
    m.socket_frame(ending_frame("s-1", ENDS_AT));
    m.cancel_end(CallId(1));
    m.take_effects();
    m.socket_frame(room_left(LeaveState::Kicked));
    let effects = m.take_effects();
    assert_eq!(resolved(&effects), []);
    assert_eq!(rejected(&effects, 1).map(|e| e.code), Some(ROOM_LEFT.into()));
}
