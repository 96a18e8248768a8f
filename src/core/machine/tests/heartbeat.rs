//! Silence: a joined socket that carries no frame for the timeout counts as lost (issue 10, fault 1).

use super::*;

/// `joined` from a server that pings every `heartbeat_ms`.
fn joined_with_heartbeat(session: &str, heartbeat_ms: Option<u32>) -> ServerFrame {
    let ServerFrame::Joined {
        session_id,
        meeting_id,
        self_participant,
        permissions,
        participants,
        participant_count,
        reconnected,
        ..
    } = joined_frame(session, true, &["b"])
    else {
        unreachable!()
    };
    ServerFrame::Joined {
        session_id,
        meeting_id,
        self_participant,
        permissions,
        participants,
        participant_count,
        reconnected,
        heartbeat_ms,
        session_ending: None,
    }
}

fn joined_machine(m: &mut Machine, heartbeat_ms: Option<u32>) -> Vec<Effect> {
    m.join(CallId(0));
    m.socket_open();
    m.take_effects();
    m.socket_frame(joined_with_heartbeat("s-1", heartbeat_ms));
    m.take_effects()
}

fn watches(effects: &[Effect]) -> Vec<Option<u32>> {
    effects.iter().filter_map(|e| if let Effect::WatchSilence(ms) = e { Some(*ms) } else { None }).collect()
}

#[test]
fn the_timeout_is_two_and_a_half_heartbeats() {
    for (heartbeat, timeout) in [(1, 2), (1000, 2500), (10_000, 25_000), (12_000, 30_000), (u32::MAX, i32::MAX as u32)]
    {
        let mut m = machine();
        assert_eq!(watches(&joined_machine(&mut m, Some(heartbeat))), [Some(timeout)], "heartbeat {heartbeat}");
    }
}

#[test]
fn the_users_timeout_wins_and_zero_turns_it_off() {
    for (user, heartbeat, watched) in [
        (Some(3000), Some(10_000), vec![Some(3000)]),
        (Some(60_000), Some(10_000), vec![Some(60_000)]),
        // `None`: the connect deadline stops and nothing is watched.
        (Some(0), Some(10_000), vec![None]),
        (Some(3000), None, vec![None]), // a server without pings would time out every connection
        (None, None, vec![None]),
        (None, Some(0), vec![None]),
        (Some(u32::MAX), Some(10_000), vec![Some(i32::MAX as u32)]),
    ] {
        let mut m = machine().with_heartbeat_timeout(user);
        assert_eq!(watches(&joined_machine(&mut m, heartbeat)), watched, "user {user:?}, server {heartbeat:?}");
    }
}

#[test]
fn every_frame_restarts_the_timer() {
    let mut m = machine();
    joined_machine(&mut m, Some(1000));
    let frames = [
        ServerFrame::Ping,
        ServerFrame::ParticipantJoined { participant: person("d") },
        ServerFrame::ParticipantLeft { participant_id: "d".into() },
        ServerFrame::PermissionsUpdate { preset_name: "p".into(), permissions: Permissions { kick_participant: true } },
        // Even a frame that means nothing here is a sign of life.
        ServerFrame::KickAllResult { id: 99, session_id: "s-0".into(), kicked_count: 1, already_ended: true },
    ];
    for frame in frames {
        m.socket_frame(frame.clone());
        let effects = m.take_effects();
        assert_eq!(effects.first(), Some(&Effect::WatchSilence(Some(2500))), "{frame:?}");
        assert_eq!(watches(&effects).len(), 1);
    }
    assert_eq!(m.room_state(), RoomState::Joined);
}

#[test]
fn silence_closes_the_socket_emits_disconnected_and_reconnects_into_the_session() {
    let mut m = machine();
    joined_machine(&mut m, Some(1000));
    m.socket_frame(ServerFrame::Ping);
    m.take_effects();
    m.silence_due();
    assert_eq!(
        m.take_effects(),
        [
            Effect::Close,
            Effect::WatchSilence(None),
            Effect::Emit(left_event(LeaveState::Disconnected)),
            Effect::ScheduleReconnect(250)
        ],
        "the close comes first: it would cancel the reconnect after it"
    );
    assert_eq!(m.room_state(), RoomState::Reconnecting);
    // A timer that fires late changes nothing more.
    m.silence_due();
    assert_eq!(m.take_effects(), []);

    m.reconnect_due();
    m.socket_open();
    assert!(matches!(&sent(&m.take_effects())[..], [ClientFrame::Join { resume: Some(s), .. }] if s == "s-1"));
    m.socket_frame(joined_with_heartbeat("s-1", Some(1000)));
    let effects = m.take_effects();
    assert_eq!(watches(&effects), [Some(2500)], "watched again on the new socket");
    assert!(effects.contains(&Effect::Emit(Event::RoomJoined { reconnected: true })));
}

#[test]
fn a_reconnect_attempt_that_hangs_counts_as_a_failed_attempt() {
    let mut m = machine();
    joined_machine(&mut m, Some(1000));
    m.socket_closed();
    assert_eq!(watches(&m.take_effects()), [None], "the lost socket's timer stops");
    m.reconnect_due();
    assert_eq!(m.take_effects(), OPEN, "the attempt has its deadline");
    m.socket_open();
    m.take_effects();
    // Frames before `joined` do not extend it.
    m.socket_frame(ServerFrame::Ping);
    assert_eq!(m.take_effects(), []);
    m.silence_due();
    assert_eq!(m.take_effects(), [Effect::Close, Effect::WatchSilence(None), Effect::ScheduleReconnect(500)]);
    assert_eq!(m.room_state(), RoomState::Reconnecting);
    m.reconnect_due();
    m.socket_open();
    m.socket_frame(joined_with_heartbeat("s-1", Some(1000)));
    assert_eq!(m.room_state(), RoomState::Joined, "the next attempt gets in");
}

#[test]
fn a_join_that_hangs_fails_at_its_deadline() {
    let mut m = machine();
    m.join(CallId(1));
    assert_eq!(m.take_effects(), OPEN);
    m.socket_open();
    m.take_effects();
    m.silence_due();
    let effects = m.take_effects();
    assert_eq!(effects[0], Effect::Close);
    assert_eq!(rejected(&effects, 1).map(|e| e.code), Some(CONNECTION_FAILED.into()));
    assert_eq!(emits(&effects), [Event::RoomLeft(Leave::new(LeaveState::Failed, ""))]);
    assert_eq!(m.room_state(), RoomState::Left(LeaveState::Failed));
}

#[test]
fn every_way_out_of_the_room_stops_the_timer() {
    type Out = fn(&mut Machine);
    let outs: [(&str, Out); 4] = [
        ("leave", |m| m.leave()),
        ("ended", |m| m.socket_frame(room_left(LeaveState::Ended))),
        ("kicked", |m| m.socket_frame(room_left(LeaveState::Kicked))),
        ("closed", |m| m.socket_closed()),
    ];
    for (name, out) in outs {
        let mut m = machine();
        joined_machine(&mut m, Some(1000));
        out(&mut m);
        assert_eq!(watches(&m.take_effects()).last(), Some(&None), "{name}");
        m.silence_due();
        assert!(!m.take_effects().contains(&Effect::Close), "{name}: a stale timer does nothing");
    }
}

#[test]
fn a_server_that_stops_sending_heartbeats_stops_the_timer() {
    let mut m = machine();
    joined_machine(&mut m, Some(1000));
    m.socket_closed();
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    m.socket_frame(joined_with_heartbeat("s-1", None));
    assert_eq!(watches(&m.take_effects()), [None], "the connect deadline stops, nothing else starts");
    m.silence_due();
    assert_eq!(m.take_effects(), []);
    assert_eq!(m.room_state(), RoomState::Joined);
}

#[test]
fn a_kick_all_sent_before_the_silence_is_asked_again_after_the_reconnect() {
    let mut m = machine();
    joined_machine(&mut m, Some(1000));
    m.kick_all(CallId(1));
    m.take_effects();
    m.silence_due();
    assert_eq!(rejected(&m.take_effects(), 1), None, "waits for the reconnect");
    m.reconnect_due();
    m.socket_open();
    m.take_effects();
    m.socket_frame(joined_with_heartbeat("s-1", Some(1000)));
    assert_eq!(sent(&m.take_effects()), [ClientFrame::kick_all(1)]);
    m.socket_frame(ServerFrame::KickAllResult {
        id: 1,
        session_id: "s-1".into(),
        kicked_count: 2,
        already_ended: false,
    });
    let result = KickAllResult { session_id: "s-1".into(), kicked_count: 2, already_ended: false, ends_at: None };
    assert!(m.take_effects().contains(&Effect::Resolve(CallId(1), Outcome::KickAll(result))));
}
