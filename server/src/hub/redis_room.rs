//! A [`Room`] as plain data, for hubs that keep it outside the process ([`super::super::RedisHub`] keeps it in
//! Redis between transitions). A child module of `room` so that the rules' state stays private to the rules: this
//! is the only other code that sees it, field by field.
//!
//! A connection is kept as its [`ConnId`]; whoever loads the snapshot gives each id back its deliverer.

use super::{Countdown, Member, Room, Session};
use crate::hub::ConnId;
use crate::store::CountdownRow;
use endsession_protocol::{EndReason, EndedBy, Participant, Permissions};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The whole rules state of one meeting. Durations are in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomSnapshot {
    live: Option<SessionSnapshot>,
    next_generation: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionSnapshot {
    id: String,
    started_at: String,
    members: Vec<MemberSnapshot>,
    next_arrival: u64,
    peak: usize,
    keep_alive_ms: u64,
    empty: Option<u64>,
    dormant_since: Option<String>,
    countdown: Option<CountdownSnapshot>,
    no_host_after_ms: Option<u64>,
    no_host_waived: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MemberSnapshot {
    participant: Participant,
    permissions: Permissions,
    arrival: u64,
    conns: Vec<ConnId>,
    absent: Option<u64>,
    last_seen: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CountdownSnapshot {
    ends_at: String,
    reason: EndReason,
    ended_by: Option<EndedBy>,
    message: Option<String>,
    lock: bool,
    ends_at_ms: i64,
    generation: u64,
}

impl RoomSnapshot {
    /// The live session's id in a room saved as JSON `text`, reading nothing else into memory (None if the room is
    /// idle or the text unreadable).
    pub fn live_session_id_of(text: &str) -> Option<String> {
        #[derive(Deserialize)]
        struct Head {
            live: Option<HeadSession>,
        }
        #[derive(Deserialize)]
        struct HeadSession {
            id: String,
        }
        serde_json::from_str::<Head>(text).ok()?.live.map(|s| s.id)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl<O> Room<O> {
    /// The room as data; `conn` names each connection's deliverer by its id.
    pub fn snapshot(&self, conn: impl Fn(ConnId, &O) -> ConnId) -> RoomSnapshot {
        let live = self.live.as_ref().map(|s| SessionSnapshot {
            id: s.id.clone(),
            started_at: s.started_at.clone(),
            members: s
                .members
                .values()
                .map(|m| MemberSnapshot {
                    participant: m.participant.clone(),
                    permissions: m.permissions,
                    arrival: m.arrival,
                    conns: m.conns.iter().map(|(id, o)| conn(*id, o)).collect(),
                    absent: m.absent,
                    last_seen: m.last_seen.clone(),
                })
                .collect(),
            next_arrival: s.next_arrival,
            peak: s.peak,
            keep_alive_ms: millis(s.keep_alive),
            empty: s.empty,
            dormant_since: s.dormant_since.clone(),
            countdown: s.countdown.as_ref().map(|c| CountdownSnapshot {
                ends_at: c.row.ends_at.clone(),
                reason: c.row.reason,
                ended_by: c.row.ended_by.clone(),
                message: c.row.message.clone(),
                lock: c.row.lock,
                ends_at_ms: c.ends_at_ms,
                generation: c.generation,
            }),
            no_host_after_ms: s.no_host_after.map(millis),
            no_host_waived: s.no_host_waived,
        });
        RoomSnapshot { live, next_generation: self.next_generation }
    }

    /// Every open connection of the live session, with its participant.
    pub fn connections(&self) -> Vec<(String, ConnId)> {
        let Some(session) = &self.live else { return Vec::new() };
        session.members.iter().flat_map(|(id, m)| m.conns.iter().map(move |(conn, _)| (id.clone(), *conn))).collect()
    }

    /// The room back from data; `deliverer` gives each connection id its deliverer.
    pub fn from_snapshot(snapshot: RoomSnapshot, deliverer: impl Fn(ConnId) -> O) -> Room<O> {
        let live = snapshot.live.map(|s| {
            let mut members = HashMap::with_capacity(s.members.len());
            let mut arrivals = BTreeMap::new();
            for m in s.members {
                let id = m.participant.id.clone();
                arrivals.insert(m.arrival, id.clone());
                let member = Member {
                    participant: m.participant,
                    permissions: m.permissions,
                    arrival: m.arrival,
                    conns: m.conns.into_iter().map(|c| (c, deliverer(c))).collect(),
                    absent: m.absent,
                    last_seen: m.last_seen,
                };
                members.insert(id, member);
            }
            Session {
                id: s.id,
                started_at: s.started_at,
                members,
                arrivals,
                next_arrival: s.next_arrival,
                peak: s.peak,
                keep_alive: Duration::from_millis(s.keep_alive_ms),
                empty: s.empty,
                dormant_since: s.dormant_since,
                countdown: s.countdown.map(|c| Countdown {
                    row: CountdownRow {
                        ends_at: c.ends_at,
                        reason: c.reason,
                        ended_by: c.ended_by,
                        message: c.message,
                        lock: c.lock,
                    },
                    ends_at_ms: c.ends_at_ms,
                    generation: c.generation,
                }),
                no_host_after: s.no_host_after_ms.map(Duration::from_millis),
                no_host_waived: s.no_host_waived,
            }
        });
        Room { live, next_generation: snapshot.next_generation }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::outbox::{Deliver, Outbound};
    use std::cell::RefCell;
    use std::rc::Rc;

    #[derive(Clone, Default)]
    struct Log(Rc<RefCell<Vec<Outbound>>>);
    impl Deliver for Log {
        fn deliver(&self, message: Outbound) {
            self.0.borrow_mut().push(message);
        }
    }

    fn participant(id: &str) -> Participant {
        Participant { id: id.into(), name: id.into(), custom_participant_id: id.into(), preset_name: "host".into() }
    }

    #[test]
    fn a_room_survives_its_snapshot_members_absences_and_countdown_included() {
        let mut room: Room<Log> = Room::default();
        room.start("s1".into(), "2026-11-30T00:00:00Z".into(), Duration::from_secs(7));
        let host = Permissions { kick_participant: true };
        room.admit(participant("a"), host, 1, Log::default(), None);
        room.admit(participant("b"), Permissions::default(), 2, Log::default(), None);
        room.admit(participant("c"), Permissions::default(), 3, Log::default(), None);
        let absent = room.disconnect("b", 2);
        let row = CountdownRow {
            ends_at: "2026-11-30T00:01:00Z".into(),
            reason: EndReason::HostEndedMeeting,
            ended_by: None,
            message: Some("bye".into()),
            lock: true,
        };
        room.start_countdown(row.clone(), 60_000, 0);

        let text = serde_json::to_string(&room.snapshot(|id, _| id)).unwrap();
        let logs: Rc<RefCell<Vec<ConnId>>> = Rc::default();
        let seen = logs.clone();
        let mut back: Room<Log> = Room::from_snapshot(serde_json::from_str(&text).unwrap(), move |id| {
            seen.borrow_mut().push(id);
            Log::default()
        });
        assert_eq!(back.info(), room.info());
        assert_eq!(back.countdown(), room.countdown());
        assert_eq!(back.countdown().unwrap().row, row);
        logs.borrow_mut().sort();
        assert_eq!(*logs.borrow(), vec![1, 3]);
        // The absence is the same one: its grace timer still removes b.
        let super::super::Departure::Absent { generation } = absent else { panic!("b is absent") };
        assert!(matches!(back.expire("s1", "b", generation), super::super::Departure::Removed { .. }));
        // Arrival order is kept: a newcomer's list starts with the earliest.
        let admission = back.admit(participant("d"), Permissions::default(), 4, Log::default(), None);
        let order: Vec<_> = admission.others.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(order, ["a", "c"]);
    }
}
