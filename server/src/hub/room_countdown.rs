//! The rules of ending on request and counting down to an end: who may ([`Room::check_host`]), an end now, the
//! countdown and its cancel (each told to everyone), and the watch for a session left without a host.

use super::{broadcast, Countdown, Ending, HostWatch, KickRefusal, Room};
use crate::hub::outbox::Deliver;
use crate::store::{CountdownRow, EndRecord};
use endsession_protocol::{EndReason, EndedBy, ServerFrame};
use std::time::Duration;

impl<O: Deliver> Room<O> {
    /// Whether `by` (None: the API, always permitted) may end or cancel the end of the live session, which the
    /// caller believes is `session_id` (None: whatever is live); who it is, as `endedBy` names it.
    pub fn check_host(&self, session_id: Option<&str>, by: Option<&str>) -> Result<EndedBy, KickRefusal> {
        let session = self.live.as_ref().ok_or(KickRefusal::NotLive)?;
        if session_id.is_some_and(|id| id != session.id) {
            return Err(KickRefusal::NotLive);
        }
        let Some(by) = by else { return Ok(EndedBy::api()) };
        let member = session.members.get(by).ok_or(KickRefusal::NotLive)?;
        if !member.permissions.kick_participant {
            return Err(KickRefusal::PermissionDenied);
        }
        Ok(EndedBy::participant(&member.participant))
    }

    /// Ends the live session now with this record (the caller checked who asked, see [`Room::check_host`]).
    pub fn end_now(&mut self, record: EndRecord) -> Option<Ending<O>> {
        self.live.is_some().then(|| self.end(record))
    }

    /// The countdown running on the live session, if any.
    pub fn countdown(&self) -> Option<&Countdown> {
        self.live.as_ref()?.countdown.as_ref()
    }

    /// The `sessionEnding` frame of the running countdown, as of `now_ms`.
    pub fn countdown_frame(&self, now_ms: i64) -> Option<ServerFrame> {
        let session = self.live.as_ref()?;
        let countdown = session.countdown.as_ref()?;
        Some(ServerFrame::SessionEnding {
            session_id: session.id.clone(),
            ends_at: countdown.row.ends_at.clone(),
            remaining_ms: u64::try_from(countdown.ends_at_ms.saturating_sub(now_ms)).unwrap_or(0),
            reason: countdown.row.reason,
            ended_by: countdown.row.ended_by.clone(),
            message: countdown.row.message.clone(),
        })
    }

    /// Starts a countdown on the live session (the caller has stored it) and tells everyone `sessionEnding`.
    /// Returns its timer's generation, for [`Room::countdown_expired`]; None if no session is live.
    pub fn start_countdown(&mut self, row: CountdownRow, ends_at_ms: i64, now_ms: i64) -> Option<u64> {
        self.next_generation += 1;
        let generation = self.next_generation;
        let session = self.live.as_mut()?;
        session.countdown = Some(Countdown { row, ends_at_ms, generation });
        let frame = self.countdown_frame(now_ms)?;
        broadcast(&self.live.as_ref()?.members, &frame);
        Some(generation)
    }

    /// Cancels the running countdown (the caller has cleared it in the store) and tells everyone
    /// `sessionEndCancelled`. False if none was running. A `NO_HOST` countdown cancelled by someone (not by a
    /// host's return, `cancelled_by` None) does not start again until a host has been connected.
    pub fn cancel_countdown(&mut self, cancelled_by: Option<EndedBy>) -> bool {
        let Some(session) = self.live.as_mut() else { return false };
        let Some(countdown) = session.countdown.take() else { return false };
        if countdown.row.reason == EndReason::NoHost && cancelled_by.is_some() {
            session.no_host_waived = true;
        }
        let frame = ServerFrame::SessionEndCancelled { session_id: session.id.clone(), cancelled_by };
        broadcast(&session.members, &frame);
        true
    }

    /// The countdown of this `generation` ran out: ends the session with its record, if it is still the one
    /// running.
    pub fn countdown_expired(&mut self, session_id: &str, generation: u64) -> Option<Ending<O>> {
        let session = self.live.as_ref()?;
        let countdown =
            session.countdown.as_ref().filter(|c| session.id == session_id && c.generation == generation)?;
        let row = countdown.row.clone();
        Some(self.end(EndRecord { reason: row.reason, ended_by: row.ended_by, message: row.message, lock: row.lock }))
    }

    /// Sets the meeting's `end_when_no_host_after_secs` for the live session.
    pub fn set_no_host_after(&mut self, after: Option<Duration>) {
        if let Some(session) = self.live.as_mut() {
            session.no_host_after = after;
        }
    }

    /// What the host watch should do now (see [`HostWatch`]), given who is connected.
    pub fn host_watch(&mut self) -> HostWatch {
        let Some(session) = self.live.as_mut() else { return HostWatch::Nothing };
        let Some(after) = session.no_host_after else { return HostWatch::Nothing };
        let host_connected = session.members.values().any(|m| m.permissions.kick_participant && !m.conns.is_empty());
        let no_host_countdown = session.countdown.as_ref().is_some_and(|c| c.row.reason == EndReason::NoHost);
        if host_connected {
            session.no_host_waived = false;
            if no_host_countdown {
                return HostWatch::HostBack;
            }
        } else if session.countdown.is_none() && !session.no_host_waived {
            return HostWatch::NoHost(after);
        }
        HostWatch::Nothing
    }
}
