//! [`Machine::socket_frame`]: one method per server frame.

use super::Machine;
use crate::core::{ClientError, Effect, Event, KickAllResult, Leave, LeaveState, Outcome, RoomState};
use endsession_protocol::{ErrorCode, Participant, Permissions, RunningCountdown, ServerFrame};

impl Machine {
    /// One frame from the server (the driver decodes it; frames that do not decode are dropped there).
    pub fn socket_frame(&mut self, frame: ServerFrame) {
        // Any frame in the room is a sign of life: restart the silence timer. (Before `joined` the timer is the
        // connect deadline, which frames do not extend.)
        if let Some(ms) = self.silence_ms.filter(|_| self.state == RoomState::Joined) {
            self.push(Effect::WatchSilence(Some(ms)));
        }
        match frame {
            ServerFrame::Joined {
                session_id,
                meeting_id,
                self_participant,
                permissions,
                participants,
                participant_count,
                heartbeat_ms,
                session_ending,
                ..
            } => self.on_joined(
                session_id,
                meeting_id,
                self_participant,
                permissions,
                participants,
                participant_count,
                heartbeat_ms,
                session_ending,
            ),
            ServerFrame::ParticipantJoined { participant } => self.on_participant_joined(participant),
            ServerFrame::ParticipantLeft { participant_id } => self.on_participant_left(&participant_id),
            ServerFrame::PermissionsUpdate { permissions, .. } => self.on_permissions_update(permissions),
            ServerFrame::KickAllResult { id, session_id, kicked_count, already_ended } => {
                self.kick_answered(id, KickAllResult { session_id, kicked_count, already_ended, ends_at: None });
            }
            ServerFrame::RoomLeft { state, session_id, reason, kicked_count, message, ended_by, event_id } => {
                let mut leave = Leave::new(state, "");
                (leave.session_id, leave.reason, leave.kicked_count) = (session_id, reason, kicked_count);
                (leave.message, leave.ended_by, leave.event_id) = (message, ended_by, event_id);
                self.on_room_left(leave)
            }
            // A heartbeat: it restarted the silence timer above; nothing else to do.
            ServerFrame::Ping => {}
            ServerFrame::KickAllScheduled { id, session_id, ends_at } => {
                self.on_kick_all_scheduled(id, session_id, ends_at)
            }
            ServerFrame::SessionEnding { session_id, ends_at, remaining_ms, reason, ended_by, message } => {
                self.countdown_told(session_id, RunningCountdown { ends_at, remaining_ms, reason, ended_by, message })
            }
            ServerFrame::SessionEndCancelled { session_id, cancelled_by } => {
                self.on_session_end_cancelled(session_id, cancelled_by)
            }
            ServerFrame::CancelEndResult { id, cancelled } => self.on_cancel_end_result(id, cancelled),
            ServerFrame::Error { id, code, message } => self.on_error(id, code, message),
        }
    }

    /// `joined`: in the room (first join or resumed session). Ignored unless joining or reconnecting.
    #[allow(clippy::too_many_arguments)] // the frame's fields, one each
    fn on_joined(
        &mut self,
        session_id: String,
        meeting_id: String,
        self_participant: Participant,
        permissions: Permissions,
        participants: Vec<Participant>,
        participant_count: Option<u32>,
        heartbeat_ms: Option<u32>,
        session_ending: Option<RunningCountdown>,
    ) {
        let state = self.state;
        if !matches!(state, RoomState::Joining | RoomState::Reconnecting) {
            return;
        }
        let reconnected = state == RoomState::Reconnecting;
        self.state = RoomState::Joined;
        self.failures = 0;
        self.end_confirmed = None;
        let same_session = session_id == self.session_id;
        self.session_id = session_id;
        self.watch_silence(heartbeat_ms);
        self.meeting_id = meeting_id;
        let others: Vec<_> = participants.into_iter().filter(|p| p.id != self_participant.id).collect();
        // A large session lists only its first few (protocol crate, `LARGE_SESSION_LISTED`): that list is not
        // everyone, so on a reconnect the ones known before stay, and nobody is said to have left.
        let partial = participant_count.is_some_and(|n| n as usize > others.len());
        self.me = Some(self_participant);
        let before = std::mem::replace(&mut self.permissions, permissions);
        let old = self.participants.replace(others);
        if reconnected && partial {
            for p in &old {
                if self.participants.get(&p.id).is_none() {
                    self.participants.insert(p.clone());
                }
            }
        }
        for call in std::mem::take(&mut self.join_calls) {
            self.push(Effect::Resolve(call, Outcome::Joined));
        }
        // A kickAll sent on the socket that dropped: the session is still live, so it was not done (a session
        // that ended meanwhile answers `roomLeft` `ended` instead, which resolves it). Ask again.
        if let Some(frame) = self.kick.as_ref().map(|k| k.frame()) {
            if reconnected && same_session {
                self.send(frame);
            } else {
                self.reject_kick(ClientError::connection_lost());
            }
        }
        self.rejoined_countdown(reconnected && same_session);
        self.emit(Event::RoomJoined { reconnected });
        self.joined_countdown(session_ending);
        if reconnected {
            // Tell the listeners what changed while the socket was down.
            if before != permissions {
                self.emit(Event::PermissionsUpdate { kick_participant: permissions.kick_participant });
            }
            let gone: Vec<_> = old.iter().filter(|p| self.participants.get(&p.id).is_none()).cloned().collect();
            debug_assert!(!partial || gone.is_empty());
            let came: Vec<_> =
                self.participants.iter().filter(|p| !old.iter().any(|o| o.id == p.id)).cloned().collect();
            for p in gone {
                self.emit(Event::ParticipantLeft(p));
            }
            for p in came {
                self.emit(Event::ParticipantJoined(p));
            }
        }
    }

    /// `participantJoined`: someone else came in (not this participant on another socket).
    fn on_participant_joined(&mut self, participant: Participant) {
        let is_me = self.me.as_ref().is_some_and(|me| me.id == participant.id);
        if self.state == RoomState::Joined && !is_me && self.participants.insert(participant.clone()) {
            self.emit(Event::ParticipantJoined(participant));
        }
    }

    /// `participantLeft`: someone else went.
    fn on_participant_left(&mut self, participant_id: &str) {
        if self.state == RoomState::Joined {
            if let Some(p) = self.participants.remove(participant_id) {
                self.emit(Event::ParticipantLeft(p));
            }
        }
    }

    /// `permissionsUpdate`: the preset changed on the server.
    fn on_permissions_update(&mut self, permissions: Permissions) {
        if self.state == RoomState::Joined {
            self.permissions = permissions;
            self.emit(Event::PermissionsUpdate { kick_participant: permissions.kick_participant });
        }
    }

    /// `roomLeft`: the server took this participant out of the room (ended, kicked, left, refused a resume).
    /// The end record (`endedBy`, `message`, `eventId`) reaches the payload as the server sent it.
    fn on_room_left(&mut self, mut leave: Leave) {
        if !matches!(self.state, RoomState::Joining | RoomState::Joined | RoomState::Reconnecting) {
            return;
        }
        self.push(Effect::Close);
        // An end this participant confirmed has its count even if the frame lacks it.
        let confirmed = self.end_confirmed.as_ref().filter(|r| r.session_id == leave.session_id);
        leave.kicked_count = leave.kicked_count.or(confirmed.map(|r| r.kicked_count));
        self.left(leave);
    }

    /// `error`: the answer to a request (`id`), or the server refusing the join.
    fn on_error(&mut self, id: Option<u64>, code: ErrorCode, message: String) {
        let state = self.state;
        if id.is_some() && self.kick.as_ref().map(|k| k.id) == id {
            self.reject_kick(ClientError::from_server(code, &message));
        } else if id.is_some() && self.cancel.as_ref().map(|c| c.id) == id {
            self.reject_cancel(ClientError::from_server(code, &message));
        } else if matches!(state, RoomState::Joining | RoomState::Reconnecting) {
            // The server refused the join (bad token, meeting INACTIVE, unknown meeting, ...).
            self.push(Effect::Close);
            self.reject_join(ClientError::from_server(code, &message));
            // A fresh join was refused a session it never had; a resume was refused the one it had.
            let session = if state == RoomState::Reconnecting { self.session_id.as_str() } else { "" };
            let mut leave = Leave::new(LeaveState::Rejected, session);
            (leave.code, leave.message) = (Some(code), Some(message));
            self.left(leave);
        }
    }
}
