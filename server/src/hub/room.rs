//! The session rules of one meeting, with no sockets, clock, store or runtime: plain state transitions that deliver
//! frames to [`Deliver`]ers and report what the caller must persist.
//!
//! A meeting has at most one live session. The first admission needs a session ([`Room::start`]); the session ends
//! when a permitted participant or the API ends it for all ([`Room::kick_all`]) or when its last participant is gone.
//! Ending is one transition under the caller's lock: after it the room is idle, and the next admission starts a new
//! session with a new id — there is no half-ended state to join.
//!
//! Large sessions: see [`LISTED_PARTICIPANTS_MAX`]. Up to that size a newcomer's `Joined` lists everyone and joins
//! and leaves are announced; beyond it `Joined` lists the [`LARGE_SESSION_LISTED`] earliest and nothing is
//! announced, so a join costs O(1) frames and O(1) bytes per connection whatever the session's size.

use super::outbox::{Deliver, FanOut, Outbound};
use crate::store::{CountdownRow, EndRecord};
use endsession_protocol::{
    EndReason, EndedBy, LeaveState, Participant, Permissions, ServerFrame, LARGE_SESSION_LISTED,
    LISTED_PARTICIPANTS_MAX,
};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Identifies one socket; a participant may have several (tabs, or a resume racing a half-open old socket).
pub type ConnId = u64;

/// The rules state of one meeting.
pub struct Room<O> {
    live: Option<Session<O>>,
    next_generation: u64,
}

struct Session<O> {
    id: String,
    started_at: String,
    members: HashMap<String, Member<O>>,
    /// Member ids by order of arrival (the key is [`Member::arrival`]): `Joined` lists the earliest.
    arrivals: BTreeMap<u64, String>,
    next_arrival: u64,
    peak: usize,
    /// RealtimeKit's `session_keep_alive_time_in_secs`: how long the session stays live once nobody is in it.
    keep_alive: Duration,
    /// Set while the session is live with nobody in it: the generation of its keep-alive timer.
    empty: Option<u64>,
    /// Restored after a restart and nobody has come back since: the last moment anyone was known present, which is
    /// when the session ended if nobody comes back (downtime is not meeting time).
    dormant_since: Option<String>,
    /// The countdown to the session's end, if one is running (see [`Room::start_countdown`]).
    countdown: Option<Countdown>,
    /// The meeting's `end_when_no_host_after_secs`, read when the session started.
    no_host_after: Option<Duration>,
    /// A `NO_HOST` countdown was cancelled by hand: none starts again until a host has been connected.
    no_host_waived: bool,
}

/// A countdown to the end of the live session: the stored row, when it ends in unix ms, and the generation of its
/// timer (a timer whose generation is no longer the current one does nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Countdown {
    pub row: CountdownRow,
    pub ends_at_ms: i64,
    pub generation: u64,
}

struct Member<O> {
    participant: Participant,
    permissions: Permissions,
    arrival: u64,
    conns: Vec<(ConnId, O)>,
    /// Set while the participant has no open connection: the generation of the grace timer that will remove it.
    absent: Option<u64>,
    /// Restored after a restart and not back yet: when it was last known present, its departure time if it never
    /// comes back.
    last_seen: Option<String>,
}

/// The result of [`Room::admit`], for the `Joined` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub session_id: String,
    /// The other participants of the session, the earliest to join first: all of them while the session has at most
    /// [`LISTED_PARTICIPANTS_MAX`] participants, else the [`LARGE_SESSION_LISTED`] earliest.
    pub others: Vec<Participant>,
    /// How many other participants the session has, listed or not.
    pub others_count: usize,
    /// The participant was already in this session and asked to resume it.
    pub reconnected: bool,
}

/// What a connection going away did to the session.
// Returned once per departure and matched at once: boxing the ending would add an allocation to every end.
#[allow(clippy::large_enum_variant)]
pub enum Departure<O> {
    /// The connection is not in the live session (the session ended, or it was removed): nothing changed.
    NotPresent,
    /// The participant still has another connection open; the others see no change.
    StillConnected,
    /// The participant is out and the others were told. `ending` is set if that emptied the session and the
    /// meeting has no keep-alive; `linger` if it emptied the session and the session waits for its keep-alive.
    Removed { ending: Option<Ending<O>>, linger: Option<Linger> },
    /// The participant's last connection dropped; it stays in the session until the grace timer of this
    /// `generation` expires it (see [`Room::expire`]).
    Absent { generation: u64 },
}

/// An emptied session that stays live for its keep-alive: end it with [`Room::linger_expired`] once `keep_alive`
/// has passed, unless somebody joined meanwhile (which makes `generation` stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linger {
    pub generation: u64,
    pub keep_alive: Duration,
}

/// What [`Room::host_watch`] asks of the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostWatch {
    Nothing,
    /// No host is connected and no countdown runs: start a `NO_HOST` countdown of this length.
    NoHost(Duration),
    /// A host is connected again during a `NO_HOST` countdown: cancel it.
    HostBack,
}

/// Why [`Room::kick_all`] did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickRefusal {
    /// There is no live session, or not the one named, or the caller is no longer in it: it already ended.
    NotLive,
    /// The caller's current preset lacks `kick_participant`.
    PermissionDenied,
}

/// A session that has just ended. Persist it, then [`Ending::deliver`] the `RoomLeft` frames.
pub struct Ending<O> {
    pub session_id: String,
    pub started_at: String,
    pub reason: EndReason,
    /// Who ended it, the host's message, and whether the end locks the meeting.
    pub ended_by: Option<EndedBy>,
    pub message: Option<String>,
    pub lock: bool,
    /// The id of the end's `meeting.ended` event, set by the caller once the end is recorded.
    pub event_id: Option<String>,
    /// Participants removed by the end, including absent ones and the caller.
    pub kicked_count: u32,
    pub peak: u32,
    /// When it ended, if not now: the last moment anyone was known present in a session restored after a restart
    /// that nobody came back to. The caller may also set it (a keep-alive ends at the last departure).
    pub ended_at: Option<String>,
    /// The whole session, so that freeing it (thousands of members) comes after the deliveries, not before.
    session: Session<O>,
}

/// What is left of an ended session once told: drop it where freeing it holds up nobody (see [`Ending::deliver`]).
#[must_use = "dropping the remains here frees the whole session where this runs (possibly under the room lock)"]
pub struct Remains<O>(#[allow(dead_code)] Session<O>);

impl<O> Ending<O> {
    /// The end record to persist.
    pub fn record(&self) -> EndRecord {
        EndRecord {
            reason: self.reason,
            ended_by: self.ended_by.clone(),
            message: self.message.clone(),
            lock: self.lock,
        }
    }
}

impl<O: Deliver> Ending<O> {
    /// Sends `RoomLeft { state: Ended }` to every connection that was in the session, encoded once. Returns the
    /// session's remains: at 10,000 members, freeing them took as long as the deliveries themselves (~8 ms).
    pub fn deliver(self) -> Remains<O> {
        let frame = Outbound::encode(&ServerFrame::RoomLeft {
            state: LeaveState::Ended,
            session_id: self.session_id,
            reason: Some(self.reason),
            kicked_count: Some(self.kicked_count),
            message: self.message,
            ended_by: self.ended_by,
            event_id: self.event_id,
        });
        let (fan_out, queuing) = FanOut::start();
        for (_, outbox) in self.session.members.values().flat_map(|m| &m.conns) {
            outbox.deliver(Outbound::Final(frame.clone(), Some(fan_out.clone())));
        }
        drop(queuing);
        Remains(self.session)
    }
}

/// A session that was live when the server stopped, as the store remembers it (see [`Room::restore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredSession {
    pub id: String,
    pub started_at: String,
    pub keep_alive: Duration,
    pub peak: usize,
    /// The last moment anyone was known present.
    pub last_alive: String,
}

/// A snapshot of the live session, for the REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveInfo {
    pub session_id: String,
    pub started_at: String,
    pub participants: usize,
    pub peak: usize,
}

impl<O> Default for Room<O> {
    fn default() -> Self {
        Room { live: None, next_generation: 0 }
    }
}

impl<O: Deliver> Room<O> {
    pub fn live_session_id(&self) -> Option<&str> {
        self.live.as_ref().map(|s| s.id.as_str())
    }

    /// Whether the participant is in the live session (connected, or absent within the grace).
    pub fn is_member(&self, participant_id: &str) -> bool {
        self.live.as_ref().is_some_and(|s| s.members.contains_key(participant_id))
    }

    /// No live session: nothing in memory is worth keeping.
    pub fn is_idle(&self) -> bool {
        self.live.is_none()
    }

    pub fn info(&self) -> Option<LiveInfo> {
        self.live.as_ref().map(|s| LiveInfo {
            session_id: s.id.clone(),
            started_at: s.started_at.clone(),
            participants: s.members.len(),
            peak: s.peak,
        })
    }

    /// How many participants the live session has (connected or absent); 0 if none is live.
    pub fn member_count(&self) -> usize {
        self.live.as_ref().map_or(0, |s| s.members.len())
    }

    /// Whether anyone has a connection open in the live session: the session is alive, not only remembered.
    pub fn anyone_connected(&self) -> bool {
        self.live.as_ref().is_some_and(|s| s.members.values().any(|m| !m.conns.is_empty()))
    }

    /// When a participant restored after a restart was last known present (None if it is not such a one).
    pub fn last_seen(&self, participant_id: &str) -> Option<String> {
        self.live.as_ref()?.members.get(participant_id)?.last_seen.clone()
    }

    /// Starts a session that stays live `keep_alive` after its last participant leaves. The caller has recorded
    /// it; the room must be idle.
    pub fn start(&mut self, session_id: String, started_at: String, keep_alive: Duration) {
        assert!(self.live.is_none(), "a meeting has at most one live session");
        self.live = Some(Session {
            id: session_id,
            started_at,
            members: HashMap::new(),
            arrivals: BTreeMap::new(),
            next_arrival: 0,
            peak: 0,
            keep_alive,
            empty: None,
            dormant_since: None,
            countdown: None,
            no_host_after: None,
            no_host_waived: false,
        });
    }

    /// Puts back a session that was live when the server stopped: its participants are absent, as if their
    /// sockets had just dropped, so they may resume it. Returns each participant's grace generation, for
    /// [`Room::expire`]. `last_alive` is when anyone was last known present; `peak` the session's peak so far.
    pub fn restore(
        &mut self,
        session: RestoredSession,
        members: Vec<(Participant, Permissions)>,
    ) -> Vec<(String, u64)> {
        let RestoredSession { id, started_at, keep_alive, peak, last_alive } = session;
        self.start(id, started_at, keep_alive);
        let mut generations = Vec::with_capacity(members.len());
        let live = self.live.as_mut().expect("just started");
        for (participant, permissions) in members {
            self.next_generation += 1;
            let arrival = live.next_arrival;
            live.next_arrival += 1;
            let id = participant.id.clone();
            live.arrivals.insert(arrival, id.clone());
            let member = Member {
                participant,
                permissions,
                arrival,
                conns: Vec::new(),
                absent: Some(self.next_generation),
                last_seen: Some(last_alive.clone()),
            };
            live.members.insert(id.clone(), member);
            generations.push((id, self.next_generation));
        }
        live.peak = peak.max(live.members.len());
        live.dormant_since = Some(last_alive);
        generations
    }

    /// Puts back a session that was live with nobody in it, its keep-alive running (see [`Room::restore`]): returns
    /// its [`Linger`], whose timer the caller starts for what is left of the keep-alive. A join before it runs out
    /// lands in this session, as before the restart.
    pub fn restore_emptied(&mut self, session: RestoredSession) -> Linger {
        let RestoredSession { id, started_at, keep_alive, peak, .. } = session;
        self.start(id, started_at, keep_alive);
        self.next_generation += 1;
        let live = self.live.as_mut().expect("just started");
        live.peak = peak;
        live.empty = Some(self.next_generation);
        Linger { generation: self.next_generation, keep_alive }
    }

    /// Makes every generation from now on greater than `floor`, so that no timer of an earlier copy of this room
    /// (one lost with Redis's data, see `redis_reconcile.rs`) matches an absence or countdown of this copy.
    pub fn generations_above(&mut self, floor: u64) {
        self.next_generation = self.next_generation.max(floor);
    }

    /// Ends the live session `session_id` the way the store already recorded its end (a node recorded it, then
    /// died before anyone was told): the [`Ending`] to deliver, recording nothing; the caller sets its `event_id`
    /// and `kicked_count` from the record. None if `session_id` is not the live one.
    pub fn ended_elsewhere(&mut self, session_id: &str, record: EndRecord) -> Option<Ending<O>> {
        (self.live_session_id() == Some(session_id)).then(|| self.end(record))
    }

    /// Adds a connection to the live session (which must exist, see [`Room::start`]). A participant new to the
    /// session is announced to the others if the session, with it, has at most [`LISTED_PARTICIPANTS_MAX`]
    /// participants; one coming back (resume, or another tab) is not. `permissions` are the
    /// current ones and replace what the room knew.
    pub fn admit(
        &mut self,
        participant: Participant,
        permissions: Permissions,
        conn: ConnId,
        outbox: O,
        resume: Option<&str>,
    ) -> Admission {
        let session = self.live.as_mut().expect("admit needs a live session");
        session.empty = None;
        session.dormant_since = None;
        let id = participant.id.clone();
        let reconnected = match session.members.get_mut(&id) {
            Some(member) => {
                // The participant's other connections are told of newer permissions before this one joins with
                // them: what the server enforces for a connection is what that connection was last told.
                let preset_name = participant.preset_name.clone();
                member.apply_preset(&preset_name, permissions);
                member.participant = participant;
                member.conns.push((conn, outbox));
                member.absent = None;
                member.last_seen = None;
                resume == Some(session.id.as_str())
            }
            None => {
                if session.members.len() < LISTED_PARTICIPANTS_MAX {
                    broadcast(&session.members, &ServerFrame::ParticipantJoined { participant: participant.clone() });
                }
                let arrival = session.next_arrival;
                session.next_arrival += 1;
                session.arrivals.insert(arrival, id.clone());
                let member = Member {
                    participant,
                    permissions,
                    arrival,
                    conns: vec![(conn, outbox)],
                    absent: None,
                    last_seen: None,
                };
                session.members.insert(id.clone(), member);
                session.peak = session.peak.max(session.members.len());
                false
            }
        };
        let listed = if session.members.len() <= LISTED_PARTICIPANTS_MAX {
            LISTED_PARTICIPANTS_MAX
        } else {
            LARGE_SESSION_LISTED
        };
        let others = session
            .arrivals
            .values()
            .filter(|key| **key != id)
            .take(listed)
            .map(|key| session.members[key].participant.clone())
            .collect();
        let others_count = session.members.len() - 1;
        Admission { session_id: session.id.clone(), others, others_count, reconnected }
    }

    /// The connection left on purpose (`Leave`). The participant leaves the session unless another of its
    /// connections is still open.
    pub fn leave(&mut self, participant_id: &str, conn: ConnId) -> Departure<O> {
        match self.drop_conn(participant_id, conn) {
            Some(true) => self.remove(participant_id),
            Some(false) => Departure::StillConnected,
            None => Departure::NotPresent,
        }
    }

    /// The connection was lost. If it was the participant's last, the participant becomes absent: still counted,
    /// still in others' lists, until it resumes or [`Room::expire`] removes it.
    pub fn disconnect(&mut self, participant_id: &str, conn: ConnId) -> Departure<O> {
        match self.drop_conn(participant_id, conn) {
            Some(true) => {
                self.next_generation += 1;
                let generation = self.next_generation;
                if let Some(member) = self.live.as_mut().and_then(|s| s.members.get_mut(participant_id)) {
                    member.absent = Some(generation);
                }
                Departure::Absent { generation }
            }
            Some(false) => Departure::StillConnected,
            None => Departure::NotPresent,
        }
    }

    /// The grace period of an absence ended. Removes the participant if it is still absent from that same absence
    /// (it did not resume, or resumed and dropped again with a newer generation).
    pub fn expire(&mut self, session_id: &str, participant_id: &str, generation: u64) -> Departure<O> {
        let still_absent = self.live.as_ref().is_some_and(|s| {
            s.id == session_id && s.members.get(participant_id).is_some_and(|m| m.absent == Some(generation))
        });
        if still_absent {
            self.remove(participant_id)
        } else {
            Departure::NotPresent
        }
    }

    /// The keep-alive of an emptied session ran out: ends it if nobody joined since (`generation` is still the
    /// current one), with `ALL_PARTICIPANTS_LEFT`.
    pub fn linger_expired(&mut self, session_id: &str, generation: u64) -> Option<Ending<O>> {
        let still_empty = self.live.as_ref().is_some_and(|s| s.id == session_id && s.empty == Some(generation));
        still_empty.then(|| self.end(EndRecord::plain(EndReason::AllParticipantsLeft)))
    }

    /// Ends the session for all. `session_id` is the session the caller believes is live (None: whatever is live,
    /// as the REST API asks); `by` is the calling participant (None: the API, always permitted).
    pub fn kick_all(&mut self, session_id: Option<&str>, by: Option<&str>) -> Result<Ending<O>, KickRefusal> {
        let ended_by = self.check_host(session_id, by)?;
        Ok(self.end(EndRecord {
            reason: EndReason::HostEndedMeeting,
            ended_by: Some(ended_by),
            message: None,
            lock: false,
        }))
    }

    /// Removes one participant from the live session (RealtimeKit's kick): its connections get
    /// `RoomLeft { Kicked }` and close, the others see it leave, and an emptied session ends. `NotPresent` if the
    /// participant is not in the live session.
    pub fn kick(&mut self, participant_id: &str) -> Departure<O> {
        let Some(session) = self.live.as_mut() else {
            return Departure::NotPresent;
        };
        let Some(member) = session.members.get(participant_id) else {
            return Departure::NotPresent;
        };
        let frame = Outbound::encode(&ServerFrame::RoomLeft {
            state: LeaveState::Kicked,
            session_id: session.id.clone(),
            reason: None,
            kicked_count: None,
            message: None,
            ended_by: None,
            event_id: None,
        });
        for (_, outbox) in &member.conns {
            outbox.deliver(Outbound::Final(frame.clone(), None));
        }
        self.remove(participant_id)
    }

    /// Applies a preset change to a participant in the session and tells its connections, if anything changed.
    /// True if the participant is in the session.
    pub fn set_permissions(&mut self, participant_id: &str, preset_name: &str, permissions: Permissions) -> bool {
        let Some(member) = self.live.as_mut().and_then(|s| s.members.get_mut(participant_id)) else {
            return false;
        };
        member.apply_preset(preset_name, permissions);
        true
    }

    /// Applies a changed preset to every participant in the session that has it: `preset_name` is its name until
    /// now, `new_name` its name from now on (the same unless it was renamed). Returns how many participants have it.
    pub fn set_preset(&mut self, preset_name: &str, new_name: &str, permissions: Permissions) -> usize {
        let Some(session) = self.live.as_mut() else {
            return 0;
        };
        let mut count = 0;
        for member in session.members.values_mut().filter(|m| m.participant.preset_name == preset_name) {
            member.apply_preset(new_name, permissions);
            count += 1;
        }
        count
    }

    /// Removes one connection; Some(true) if it was the participant's last, None if it was not in the session.
    fn drop_conn(&mut self, participant_id: &str, conn: ConnId) -> Option<bool> {
        let member = self.live.as_mut()?.members.get_mut(participant_id)?;
        let index = member.conns.iter().position(|(id, _)| *id == conn)?;
        member.conns.swap_remove(index);
        Some(member.conns.is_empty())
    }

    /// Takes the participant out, tells the others if the session had at most [`LISTED_PARTICIPANTS_MAX`]
    /// participants with it, and ends the session if nobody is left.
    fn remove(&mut self, participant_id: &str) -> Departure<O> {
        let Some(session) = self.live.as_mut() else {
            return Departure::NotPresent;
        };
        let Some(member) = session.members.remove(participant_id) else {
            return Departure::NotPresent;
        };
        session.arrivals.remove(&member.arrival);
        if session.members.len() < LISTED_PARTICIPANTS_MAX {
            broadcast(&session.members, &ServerFrame::ParticipantLeft { participant_id: participant_id.into() });
        }
        if !session.members.is_empty() {
            return Departure::Removed { ending: None, linger: None };
        }
        if session.keep_alive.is_zero() {
            let ending = self.end(EndRecord::plain(EndReason::AllParticipantsLeft));
            return Departure::Removed { ending: Some(ending), linger: None };
        }
        self.next_generation += 1;
        session.empty = Some(self.next_generation);
        let linger = Linger { generation: self.next_generation, keep_alive: session.keep_alive };
        Departure::Removed { ending: None, linger: Some(linger) }
    }

    fn end(&mut self, record: EndRecord) -> Ending<O> {
        let session = self.live.take().expect("end needs a live session");
        let EndRecord { reason, ended_by, message, lock } = record;
        Ending {
            session_id: session.id.clone(),
            started_at: session.started_at.clone(),
            reason,
            ended_by,
            message,
            lock,
            event_id: None,
            kicked_count: u32::try_from(session.members.len()).unwrap_or(u32::MAX),
            peak: u32::try_from(session.peak).unwrap_or(u32::MAX),
            ended_at: session.dormant_since.clone(),
            session,
        }
    }
}

impl<O: Deliver> Member<O> {
    /// Takes the preset and tells the participant's connections, if anything changed.
    fn apply_preset(&mut self, preset_name: &str, permissions: Permissions) {
        if self.permissions == permissions && self.participant.preset_name == preset_name {
            return;
        }
        self.permissions = permissions;
        self.participant.preset_name = preset_name.into();
        let frame = Outbound::encode(&ServerFrame::PermissionsUpdate { preset_name: preset_name.into(), permissions });
        for (_, outbox) in &self.conns {
            outbox.deliver(Outbound::Frame(frame.clone()));
        }
    }
}

/// Sends one frame, encoded once, to every connection of these members.
fn broadcast<O: Deliver>(members: &HashMap<String, Member<O>>, frame: &ServerFrame) {
    if members.is_empty() {
        return;
    }
    let text = Outbound::encode(frame);
    for (_, outbox) in members.values().flat_map(|m| &m.conns) {
        outbox.deliver(Outbound::Frame(text.clone()));
    }
}

#[path = "room_countdown.rs"]
mod countdown;

#[path = "redis_room.rs"]
mod snapshot;
pub use snapshot::RoomSnapshot;

#[cfg(test)]
#[path = "room_tests.rs"]
mod tests;
