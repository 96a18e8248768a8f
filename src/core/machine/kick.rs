//! `kickAll` on [`Machine`]: one end per session, and what each call resolves with.
//!
//! Calls share one request while it is in flight (or waits for a reconnect); the server's answer goes to the first
//! call, and every other call — sharing it, or made after it until and after the `roomLeft` that follows — resolves
//! with the same session and count and `alreadyEnded: true`.

use super::Machine;
use crate::core::{CallId, ClientError, Effect, KickAllResult, Leave, LeaveState, Outcome, RoomState};
use endsession_protocol::{ClientFrame, EndOptions};

/// One `kickAll` frame in flight and every call waiting for its answer.
#[derive(Debug)]
pub(super) struct PendingKick {
    pub(super) id: u64,
    pub(super) calls: Vec<CallId>,
    /// The first call's options: the calls sharing the request share its options too.
    pub(super) options: EndOptions,
}

impl PendingKick {
    /// The `kickAll` frame of this request (sent again as is after a reconnect).
    pub(super) fn frame(&self) -> ClientFrame {
        ClientFrame::kick_all_with(self.id, self.options.clone())
    }
}

impl Machine {
    /// `meeting.participants.kickAll()`: ends the session for everyone. Rejects with `1205` before joining (also
    /// while joining) and after leaving, being kicked or rejected; `1201` without the permission.
    ///
    /// One end per session, and every caller on this meeting gets its result: calls made while one is in flight
    /// share its request; when the server answers, the first call gets the server's result and every other call
    /// `alreadyEnded: true` with the same `sessionId` and `kickedCount` — as does every call made after that, before
    /// the `roomLeft` that follows or after it (`roomLeft` `ended`, whoever ended the session).
    ///
    /// While the socket is down (`Reconnecting`, `roomState` `disconnected`) the call waits for the reconnect and is
    /// sent then (a call already in flight is sent again); it rejects with `4901` if reconnecting gives up (after
    /// [`Reconnect::attempts`](crate::Reconnect::attempts), the same bound as the reconnect itself) and `4902` if the participant leaves first.
    pub fn kick_all(&mut self, call: CallId) {
        self.kick_all_with(call, EndOptions::default());
    }

    /// [`Machine::kick_all`] with [`EndOptions`]: `message` (shown to everyone with the end), `lock` (the meeting
    /// becomes INACTIVE with the end), `grace_seconds` (a countdown first: the call resolves with the server's
    /// `kickAllScheduled` as `{sessionId, kickedCount: 0, alreadyEnded: false, endsAt}`, and everyone gets
    /// `sessionEnding`). The server checks the bounds (`4220`). A call made while another is in flight shares that
    /// request and its options.
    pub fn kick_all_with(&mut self, call: CallId, options: EndOptions) {
        let ended = self.ended.as_ref().filter(|_| self.state == RoomState::Left(LeaveState::Ended));
        if !matches!(self.state, RoomState::Joined | RoomState::Reconnecting) && ended.is_none() {
            return self.push(Effect::Reject(call, ClientError::not_joined()));
        }
        if !self.permissions.kick_participant {
            return self.push(Effect::Reject(call, ClientError::permission_denied()));
        }
        if let Some(result) = ended.or(self.end_confirmed.as_ref()) {
            return self.push(Effect::Resolve(call, Outcome::KickAll(result.clone())));
        }
        if let Some(kick) = &mut self.kick {
            return kick.calls.push(call);
        }
        let id = self.next_request;
        self.next_request += 1;
        let kick = PendingKick { id, calls: vec![call], options };
        // Reconnecting: sent once the session is resumed (see the `Joined` frame).
        if self.state == RoomState::Joined {
            self.send(kick.frame());
        }
        self.kick = Some(kick);
    }

    /// The server's `kickAllResult` for request `id`: the first call gets `result`, the others `alreadyEnded`.
    pub(super) fn kick_answered(&mut self, id: u64, first: KickAllResult) {
        if self.kick.as_ref().is_none_or(|k| k.id != id) {
            return;
        }
        // Only the first call ended it; the others sharing the request, and later ones, did not.
        let others = KickAllResult { already_ended: true, ..first.clone() };
        // The session is over: the control stays `ending` until the `roomLeft` that follows.
        self.end_confirmed = (others.session_id == self.session_id).then(|| others.clone());
        let calls = self.kick.take().map(|k| k.calls).unwrap_or_default();
        for (i, call) in calls.into_iter().enumerate() {
            let result = if i == 0 { first.clone() } else { others.clone() };
            self.push(Effect::Resolve(call, Outcome::KickAll(result)));
        }
    }

    /// What every `kickAll` of a session that ended resolves with, but the one that ended it.
    pub(super) fn ended_result(leave: &Leave) -> KickAllResult {
        // 0 when the server did not say (an end learned on reconnect, from a server that does not count it there).
        KickAllResult {
            session_id: leave.session_id.clone(),
            kicked_count: leave.kicked_count.unwrap_or(0),
            already_ended: true,
            ends_at: None,
        }
    }

    pub(super) fn reject_kick(&mut self, error: ClientError) {
        for call in self.kick.take().map(|k| k.calls).unwrap_or_default() {
            self.push(Effect::Reject(call, error.clone()));
        }
    }
}
