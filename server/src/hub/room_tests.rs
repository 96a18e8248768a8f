//! The session rules, exercised without sockets: each connection is a probe that records what it was sent.

use super::*;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Clone, Default)]
struct Probe(Rc<RefCell<Vec<Outbound>>>);

impl Deliver for Probe {
    fn deliver(&self, message: Outbound) {
        self.0.borrow_mut().push(message);
    }
}

impl Probe {
    /// The frames received since the last call, decoded, with whether each was final.
    fn take(&self) -> Vec<(ServerFrame, bool)> {
        self.0
            .borrow_mut()
            .drain(..)
            .map(|m| match m {
                Outbound::Frame(text) => (ServerFrame::decode(&text).unwrap(), false),
                Outbound::Final(text, _) => (ServerFrame::decode(&text).unwrap(), true),
            })
            .collect()
    }
}

fn person(id: &str) -> Participant {
    Participant {
        id: id.into(),
        name: id.to_uppercase(),
        custom_participant_id: format!("c-{id}"),
        preset_name: "p".into(),
    }
}

const HOST: Permissions = Permissions { kick_participant: true };
const GUEST: Permissions = Permissions { kick_participant: false };

/// A room with a live session "s1" and the given participants admitted (one connection each, ids 1, 2, ...).
fn room_with(people: &[(&str, Permissions)]) -> (Room<Probe>, Vec<Probe>) {
    let mut room = Room::default();
    room.start("s1".into(), "t0".into(), Duration::ZERO);
    let probes = people
        .iter()
        .enumerate()
        .map(|(i, (id, permissions))| {
            let probe = Probe::default();
            room.admit(person(id), *permissions, i as u64 + 1, probe.clone(), None);
            probe
        })
        .collect::<Vec<_>>();
    probes.iter().for_each(|p| drop(p.take()));
    (room, probes)
}

fn ended(session: &str, reason: EndReason, kicked: u32) -> (ServerFrame, bool) {
    (
        ServerFrame::RoomLeft {
            state: LeaveState::Ended,
            session_id: session.into(),
            reason: Some(reason),
            kicked_count: Some(kicked),
            message: None,
            ended_by: None,
            event_id: None,
        },
        true,
    )
}

/// A host's or the API's end: `endedBy` names who.
fn ended_by(session: &str, kicked: u32, by: EndedBy) -> (ServerFrame, bool) {
    let (mut frame, last) = ended(session, EndReason::HostEndedMeeting, kicked);
    if let ServerFrame::RoomLeft { ended_by, .. } = &mut frame {
        *ended_by = Some(by);
    }
    (frame, last)
}

#[test]
fn joining_lists_the_others_and_announces_the_newcomer() {
    let mut room = Room::default();
    room.start("s1".into(), "t0".into(), Duration::ZERO);
    let a = Probe::default();
    let first = room.admit(person("a"), HOST, 1, a.clone(), None);
    assert_eq!(first, Admission { session_id: "s1".into(), others: vec![], others_count: 0, reconnected: false });
    let second = room.admit(person("b"), GUEST, 2, Probe::default(), None);
    assert_eq!(second.others, vec![person("a")]);
    assert_eq!(a.take(), vec![(ServerFrame::ParticipantJoined { participant: person("b") }, false)]);
    assert_eq!(room.info().unwrap().participants, 2);
}

#[test]
fn kick_all_needs_the_permission_and_changes_nothing_without_it() {
    let (mut room, probes) = room_with(&[("host", HOST), ("guest", GUEST), ("other", GUEST)]);
    assert_eq!(room.kick_all(Some("s1"), Some("guest")).err(), Some(KickRefusal::PermissionDenied));
    assert!(probes.iter().all(|p| p.take().is_empty()));
    assert_eq!(room.live_session_id(), Some("s1"));

    let ending = room.kick_all(Some("s1"), Some("host")).ok().unwrap();
    assert_eq!((ending.kicked_count, ending.peak, ending.reason), (3, 3, EndReason::HostEndedMeeting));
    let _ = ending.deliver();
    let by = EndedBy::Participant { id: "host".into(), name: "HOST".into(), custom_participant_id: "c-host".into() };
    for probe in &probes {
        assert_eq!(probe.take(), vec![ended_by("s1", 3, by.clone())]);
    }
    assert!(room.is_idle());
    assert_eq!(room.kick_all(Some("s1"), Some("host")).err(), Some(KickRefusal::NotLive), "a session ends once");
    assert_eq!(room.kick_all(None, None).err(), Some(KickRefusal::NotLive));
}

#[test]
fn the_api_may_always_end_and_a_stale_session_id_may_not() {
    let (mut room, probes) = room_with(&[("guest", GUEST)]);
    assert_eq!(room.kick_all(Some("old"), None).err(), Some(KickRefusal::NotLive));
    let _ = room.kick_all(None, None).ok().unwrap().deliver();
    assert_eq!(probes[0].take(), vec![ended_by("s1", 1, EndedBy::api())]);
}

#[test]
fn leaving_tells_the_others_and_the_last_one_out_ends_the_session() {
    let (mut room, probes) = room_with(&[("a", GUEST), ("b", GUEST)]);
    assert!(matches!(room.leave("a", 1), Departure::Removed { ending: None, .. }));
    assert_eq!(probes[1].take(), vec![(ServerFrame::ParticipantLeft { participant_id: "a".into() }, false)]);
    assert!(matches!(room.leave("a", 1), Departure::NotPresent));
    let Departure::Removed { ending: Some(ending), .. } = room.leave("b", 2) else { panic!("the last leave ends") };
    assert_eq!((ending.reason, ending.kicked_count, ending.peak), (EndReason::AllParticipantsLeft, 0, 2));
    assert!(room.is_idle());
}

#[test]
fn a_dropped_participant_stays_for_the_grace_and_can_resume() {
    let (mut room, probes) = room_with(&[("a", GUEST), ("b", GUEST)]);
    let Departure::Absent { generation } = room.disconnect("a", 1) else { panic!("absent") };
    assert!(probes[1].take().is_empty(), "the others see nothing during the grace");
    let back = Probe::default();
    let admission = room.admit(person("a"), GUEST, 7, back, Some("s1"));
    assert!(admission.reconnected);
    assert_eq!(admission.others, vec![person("b")]);
    assert!(probes[1].take().is_empty(), "a resume is not a new participant");
    assert!(matches!(room.expire("s1", "a", generation), Departure::NotPresent), "a stale timer does nothing");

    let Departure::Absent { generation } = room.disconnect("a", 7) else { panic!("absent") };
    assert!(matches!(room.expire("s1", "a", generation), Departure::Removed { ending: None, .. }));
    assert_eq!(probes[1].take(), vec![(ServerFrame::ParticipantLeft { participant_id: "a".into() }, false)]);
    let Departure::Absent { generation } = room.disconnect("b", 2) else { panic!("absent") };
    let Departure::Removed { ending: Some(ending), .. } = room.expire("s1", "b", generation) else { panic!("ends") };
    assert_eq!(ending.reason, EndReason::AllParticipantsLeft);
}

#[test]
fn absent_participants_are_counted_when_the_session_is_ended() {
    let (mut room, probes) = room_with(&[("host", HOST), ("away", GUEST)]);
    room.disconnect("away", 2);
    let ending = room.kick_all(Some("s1"), Some("host")).ok().unwrap();
    assert_eq!(ending.kicked_count, 2);
    let _ = ending.deliver();
    assert_eq!(probes[0].take().len(), 1);
    assert!(probes[1].take().is_empty(), "nothing to deliver to an absent participant");
}

#[test]
fn a_second_connection_keeps_the_participant_in() {
    let (mut room, probes) = room_with(&[("a", GUEST), ("b", GUEST)]);
    let tab = Probe::default();
    let admission = room.admit(person("a"), GUEST, 9, tab.clone(), None);
    assert!(!admission.reconnected);
    assert!(probes[1].take().is_empty());
    assert!(matches!(room.leave("a", 1), Departure::StillConnected));
    assert!(matches!(room.disconnect("a", 9), Departure::Absent { .. }));
}

#[test]
fn a_preset_change_is_pushed_and_enforced_at_once() {
    let (mut room, probes) = room_with(&[("a", GUEST), ("b", GUEST)]);
    assert_eq!(room.kick_all(None, Some("a")).err(), Some(KickRefusal::PermissionDenied));
    assert!(room.set_permissions("a", "group_call_host", HOST));
    let update = ServerFrame::PermissionsUpdate { preset_name: "group_call_host".into(), permissions: HOST };
    assert_eq!(probes[0].take(), vec![(update, false)]);
    assert!(probes[1].take().is_empty());
    assert!(room.set_permissions("a", "group_call_host", HOST));
    assert!(probes[0].take().is_empty(), "no change, no frame");
    assert!(!room.set_permissions("nobody", "group_call_host", HOST));
    room.kick_all(Some("s1"), Some("a")).ok().unwrap();
}

#[test]
fn after_an_end_the_next_session_is_new() {
    let (mut room, _) = room_with(&[("a", HOST)]);
    room.kick_all(None, Some("a")).ok().unwrap();
    assert!(matches!(room.disconnect("a", 1), Departure::NotPresent));
    room.start("s2".into(), "t1".into(), Duration::ZERO);
    let admission = room.admit(person("a"), HOST, 3, Probe::default(), Some("s1"));
    assert_eq!((admission.session_id.as_str(), admission.reconnected), ("s2", false));
}

#[test]
fn a_kicked_participant_alone_is_told_kicked() {
    let (mut room, probes) = room_with(&[("a", GUEST), ("b", GUEST)]);
    assert!(matches!(room.kick("a"), Departure::Removed { ending: None, .. }));
    let kicked = ServerFrame::RoomLeft {
        state: LeaveState::Kicked,
        session_id: "s1".into(),
        reason: None,
        kicked_count: None,
        message: None,
        ended_by: None,
        event_id: None,
    };
    assert_eq!(probes[0].take(), vec![(kicked, true)]);
    assert_eq!(probes[1].take(), vec![(ServerFrame::ParticipantLeft { participant_id: "a".into() }, false)]);
    assert!(matches!(room.kick("a"), Departure::NotPresent));
    let Departure::Removed { ending: Some(ending), .. } = room.kick("b") else { panic!("kicking the last one ends") };
    assert_eq!(ending.reason, EndReason::AllParticipantsLeft);
}

#[test]
fn a_changed_preset_reaches_everyone_who_has_it() {
    let (mut room, probes) = room_with(&[("a", GUEST), ("b", GUEST), ("c", HOST)]);
    assert!(room.is_member("a") && !room.is_member("z"));
    // Everybody in `room_with` has preset "p".
    assert_eq!(room.set_preset("p", "moderator", HOST), 3);
    let update = ServerFrame::PermissionsUpdate { preset_name: "moderator".into(), permissions: HOST };
    assert_eq!(probes[0].take(), vec![(update.clone(), false)]);
    assert_eq!(probes[2].take(), vec![(update, false)], "the name changed even if the permissions did not");
    assert_eq!(room.set_preset("p", "p", GUEST), 0, "nobody has the old name any more");
    assert!(room.kick_all(None, Some("b")).is_ok(), "b may end it now");
}

#[test]
fn a_large_session_lists_the_earliest_and_stops_announcing() {
    const K: usize = LISTED_PARTICIPANTS_MAX;
    const L: usize = LARGE_SESSION_LISTED;
    let ids: Vec<String> = (0..K + 2).map(|i| format!("p{i:03}")).collect();
    let people: Vec<(&str, Permissions)> = ids[..K].iter().map(|id| (id.as_str(), GUEST)).collect();
    let (mut room, probes) = room_with(&people);

    // The K+1-th participant is not announced, and is told about the L earliest only.
    let late = Probe::default();
    let admission = room.admit(person(&ids[K]), GUEST, 1000, late.clone(), None);
    assert_eq!(admission.others_count, K);
    assert_eq!(admission.others, ids[..L].iter().map(|id| person(id)).collect::<Vec<_>>());
    assert!(probes.iter().all(|p| p.take().is_empty()), "nobody hears of a join beyond the limit");

    // The K+2-th sees K+1 others but is listed the L earliest.
    let later = Probe::default();
    let admission = room.admit(person(&ids[K + 1]), GUEST, 1001, later.clone(), None);
    assert_eq!((admission.others.len(), admission.others_count), (L, K + 1));
    assert_eq!(admission.others[0], person(&ids[0]));
    assert!(late.take().is_empty());

    // Leaving a session of K+2, then K+1: not announced. At K it is.
    room.leave(&ids[0], 1);
    room.leave(&ids[1], 2);
    assert!(probes[2].take().is_empty() && late.take().is_empty());
    room.leave(&ids[2], 3);
    assert_eq!(late.take(), vec![(ServerFrame::ParticipantLeft { participant_id: ids[2].clone() }, false)]);

    // Back to K: a newcomer is listed everyone again, in arrival order after departures: p003.. then the late ones.
    let newcomer = room.admit(person("z"), GUEST, 1002, Probe::default(), None);
    assert_eq!(newcomer.others_count, K - 1);
    assert_eq!(newcomer.others.first(), Some(&person(&ids[3])));
    assert_eq!(newcomer.others.last(), Some(&person(&ids[K + 1])));
    assert_eq!(late.take(), vec![(ServerFrame::ParticipantJoined { participant: person("z") }, false)]);
}

#[test]
fn an_emptied_session_with_a_keep_alive_lingers_and_a_join_keeps_it() {
    let mut room = Room::default();
    room.start("s1".into(), "t0".into(), Duration::from_secs(60));
    room.admit(person("a"), GUEST, 1, Probe::default(), None);
    let Departure::Removed { ending: None, linger: Some(linger) } = room.leave("a", 1) else { panic!("lingers") };
    assert_eq!(linger.keep_alive, Duration::from_secs(60));
    assert_eq!(room.live_session_id(), Some("s1"), "still live, with nobody in it");
    assert_eq!(room.member_count(), 0);

    // A join meanwhile is in the same session and makes the timer stale.
    let admission = room.admit(person("a"), GUEST, 2, Probe::default(), None);
    assert_eq!(admission.session_id, "s1");
    assert!(room.linger_expired("s1", linger.generation).is_none(), "a stale keep-alive does nothing");
    let Departure::Removed { linger: Some(linger), .. } = room.leave("a", 2) else { panic!("lingers again") };
    let ending = room.linger_expired("s1", linger.generation).expect("ends when the keep-alive runs out");
    assert_eq!((ending.reason, ending.kicked_count, ending.peak), (EndReason::AllParticipantsLeft, 0, 1));
    assert!(room.is_idle());
}

#[test]
fn a_restored_session_waits_for_its_members_and_ends_when_they_were_last_seen() {
    let mut room: Room<Probe> = Room::default();
    let session = RestoredSession {
        id: "s1".into(),
        started_at: "t0".into(),
        keep_alive: Duration::ZERO,
        peak: 3,
        last_alive: "t5".into(),
    };
    let generations = room.restore(session, vec![(person("a"), HOST), (person("b"), GUEST)]);
    assert_eq!(room.member_count(), 2);
    assert!(!room.anyone_connected());
    assert_eq!(room.last_seen("a").as_deref(), Some("t5"));

    // a comes back: the same session, as a reconnect, announced to nobody.
    let admission = room.admit(person("a"), HOST, 9, Probe::default(), Some("s1"));
    assert!(admission.reconnected);
    assert_eq!(admission.others, vec![person("b")]);
    assert_eq!(room.last_seen("a"), None);
    let (b, generation) = generations[1].clone();
    assert!(matches!(room.expire("s1", &b, generation), Departure::Removed { ending: None, .. }));
    let ending = room.kick_all(None, None).ok().unwrap();
    assert_eq!((ending.peak, ending.ended_at.clone()), (3, None), "someone came back: it ends when it ends");
    let _ = ending.deliver();

    // Nobody comes back: it ends when anyone was last there, with its peak.
    let session = RestoredSession {
        id: "s2".into(),
        started_at: "t0".into(),
        keep_alive: Duration::ZERO,
        peak: 4,
        last_alive: "t7".into(),
    };
    let generations = room.restore(session, vec![(person("c"), GUEST)]);
    let (c, generation) = generations[0].clone();
    let Departure::Removed { ending: Some(ending), .. } = room.expire("s2", &c, generation) else { panic!("ends") };
    assert_eq!(
        (ending.reason, ending.peak, ending.ended_at.as_deref()),
        (EndReason::AllParticipantsLeft, 4, Some("t7"))
    );
}

fn countdown(reason: EndReason, by: Option<EndedBy>) -> CountdownRow {
    CountdownRow { ends_at: "t9".into(), reason, ended_by: by, message: Some("bye".into()), lock: true }
}

#[test]
fn a_countdown_is_told_to_everyone_a_cancel_stales_its_timer_and_the_next_one_ends_with_its_record() {
    let (mut room, probes) = room_with(&[("host", HOST), ("guest", GUEST)]);
    let by = room.check_host(Some("s1"), Some("host")).unwrap();
    assert_eq!(room.check_host(Some("s1"), Some("guest")).err(), Some(KickRefusal::PermissionDenied));
    let first = room.start_countdown(countdown(EndReason::HostEndedMeeting, Some(by.clone())), 10_000, 4_000).unwrap();
    let told = ServerFrame::SessionEnding {
        session_id: "s1".into(),
        ends_at: "t9".into(),
        remaining_ms: 6_000,
        reason: EndReason::HostEndedMeeting,
        ended_by: Some(by.clone()),
        message: Some("bye".into()),
    };
    for probe in &probes {
        assert_eq!(probe.take(), vec![(told.clone(), false)]);
    }
    assert!(room.cancel_countdown(Some(EndedBy::api())));
    assert!(!room.cancel_countdown(Some(EndedBy::api())), "nothing left to cancel");
    let cancelled = ServerFrame::SessionEndCancelled { session_id: "s1".into(), cancelled_by: Some(EndedBy::api()) };
    for probe in &probes {
        assert_eq!(probe.take(), vec![(cancelled.clone(), false)]);
    }
    assert!(room.countdown_expired("s1", first).is_none(), "a cancelled countdown's timer does nothing");

    let second = room.start_countdown(countdown(EndReason::HostEndedMeeting, Some(by.clone())), 10_000, 0).unwrap();
    assert!(room.countdown_expired("s1", first).is_none(), "nor does an older one's");
    let ending = room.countdown_expired("s1", second).expect("the running countdown ends the session");
    let record = ending.record();
    assert_eq!(
        record,
        EndRecord { reason: EndReason::HostEndedMeeting, ended_by: Some(by), message: Some("bye".into()), lock: true }
    );
    let _ = ending.deliver();
    assert!(room.is_idle());
    for probe in &probes {
        let frames = probe.take();
        assert!(
            matches!(frames.last(), Some((ServerFrame::RoomLeft { message: Some(m), .. }, true)) if m == "bye"),
            "{frames:?}"
        );
    }
}

#[test]
fn the_host_watch_counts_down_without_a_connected_host_and_stops_when_one_is_back() {
    let (mut room, _probes) = room_with(&[("host", HOST), ("guest", GUEST)]);
    assert_eq!(room.host_watch(), HostWatch::Nothing, "no setting, no watch");
    room.set_no_host_after(Some(Duration::from_secs(60)));
    assert_eq!(room.host_watch(), HostWatch::Nothing, "a host is connected");
    assert!(matches!(room.disconnect("host", 1), Departure::Absent { .. }));
    assert_eq!(room.host_watch(), HostWatch::NoHost(Duration::from_secs(60)), "an absent host is not there");
    room.start_countdown(countdown(EndReason::NoHost, None), 60_000, 0);
    assert_eq!(room.host_watch(), HostWatch::Nothing, "one countdown at a time");
    room.admit(person("host"), HOST, 9, Probe::default(), Some("s1"));
    assert_eq!(room.host_watch(), HostWatch::HostBack);
    assert!(room.cancel_countdown(None));
    // A NO_HOST countdown cancelled by hand does not start again until a host has been connected.
    room.set_permissions("host", "p", GUEST);
    assert_eq!(room.host_watch(), HostWatch::NoHost(Duration::from_secs(60)), "demoted: no host any more");
    room.start_countdown(countdown(EndReason::NoHost, None), 60_000, 0);
    assert!(room.cancel_countdown(Some(EndedBy::api())));
    assert_eq!(room.host_watch(), HostWatch::Nothing, "waived by the cancel");
    room.set_permissions("host", "p", HOST);
    assert_eq!(room.host_watch(), HostWatch::Nothing);
    room.set_permissions("host", "p", GUEST);
    assert_eq!(
        room.host_watch(),
        HostWatch::NoHost(Duration::from_secs(60)),
        "a host came back: the watch is on again"
    );
}
