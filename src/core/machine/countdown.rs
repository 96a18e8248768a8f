//! The countdown to a session's end on [`Machine`] (issue 13): `kickAllScheduled` (the answer to a `kickAll` with
//! `graceSeconds`), `sessionEnding` and `sessionEndCancelled` (told to everyone), and `cancelEnd` with its answer.
//!
//! While a countdown runs the end state is `ending` for every participant, whatever its permission: the session is
//! on its way out, and a control offers Cancel (with `kick_participant`) rather than End.

use super::Machine;
use crate::core::{
    CallId, CancelEndResult, ClientError, Effect, Event, KickAllResult, Outcome, RoomState, SessionEnding,
};
use endsession_protocol::{ClientFrame, EndedBy, RunningCountdown};

/// One `cancelEnd` frame in flight and every call waiting for its answer (calls while one is in flight share it).
#[derive(Debug)]
pub(super) struct PendingCancel {
    pub(super) id: u64,
    pub(super) calls: Vec<CallId>,
}

impl Machine {
    /// `cancelEnd(meeting)`: cancels the countdown to the session's end; resolves with `{cancelled}` (false when
    /// none was running). Rejects as `kickAll` does: `1205` when not in the room (before joining, while joining,
    /// after leaving), `1201` without `kick_participant` (nothing is sent), `1201` also when the server refuses it.
    /// While reconnecting the call waits and is sent once the session is resumed; it rejects with `4901` if the
    /// session cannot be resumed and `4902` if the room is left first.
    pub fn cancel_end(&mut self, call: CallId) {
        if !matches!(self.state, RoomState::Joined | RoomState::Reconnecting) {
            return self.push(Effect::Reject(call, ClientError::not_joined()));
        }
        if !self.permissions.kick_participant {
            return self.push(Effect::Reject(call, ClientError::permission_denied()));
        }
        if let Some(cancel) = &mut self.cancel {
            return cancel.calls.push(call);
        }
        let id = self.next_request;
        self.next_request += 1;
        self.cancel = Some(PendingCancel { id, calls: vec![call] });
        if self.state == RoomState::Joined {
            self.send(ClientFrame::CancelEnd { id });
        }
    }

    /// `kickAllScheduled`: the `kickAll` in flight started a countdown (or found one running): every call sharing
    /// it resolves with `{sessionId, kickedCount: 0, alreadyEnded: false, endsAt}`.
    pub(super) fn on_kick_all_scheduled(&mut self, id: u64, session_id: String, ends_at: String) {
        if self.kick.as_ref().is_none_or(|k| k.id != id) {
            return;
        }
        // The `sessionEnding` of this countdown may not be here yet: `ending` meanwhile, unless it already came.
        let heard = self.last_ends_at.as_deref() == Some(ends_at.as_str());
        if !heard && session_id == self.session_id {
            self.scheduled = Some(ends_at.clone());
        }
        let result = KickAllResult { session_id, kicked_count: 0, already_ended: false, ends_at: Some(ends_at) };
        for call in self.kick.take().map(|k| k.calls).unwrap_or_default() {
            self.push(Effect::Resolve(call, Outcome::KickAll(result.clone())));
        }
    }

    /// A countdown told by the server (a `sessionEnding` frame, or `joined`'s) for session `session_id`.
    pub(super) fn countdown_told(&mut self, session_id: String, running: RunningCountdown) {
        let RunningCountdown { ends_at, remaining_ms, reason, ended_by, message } = running;
        // A u32 of ms is 49 days, far past the server's bound on a countdown.
        let remaining_ms = u32::try_from(remaining_ms).unwrap_or(u32::MAX);
        self.on_session_ending(SessionEnding { session_id, ends_at, remaining_ms, reason, ended_by, message })
    }

    /// `sessionEnding`: a countdown started, or runs (told again after joining or coming back). Held until
    /// cancelled or the room is left; emitted when it is news: the countdown held already (same `endsAt`), told
    /// again, is not (the server tells a joiner during a countdown, and may tell one that joined as it started
    /// twice), and keeps its first `remainingMs`, which the TypeScript layer counts down from its arrival.
    pub(super) fn on_session_ending(&mut self, ending: SessionEnding) {
        if self.state != RoomState::Joined || ending.session_id != self.session_id {
            return;
        }
        if self.countdown.as_ref().is_some_and(|held| held.ends_at == ending.ends_at) {
            return;
        }
        self.scheduled = None;
        self.last_ends_at = Some(ending.ends_at.clone());
        self.countdown = Some(ending.clone());
        self.emit(Event::SessionEnding(ending));
    }

    /// `sessionEndCancelled`: the session goes on; the end state is what it was before the countdown.
    pub(super) fn on_session_end_cancelled(&mut self, session_id: String, cancelled_by: Option<EndedBy>) {
        if self.state != RoomState::Joined || session_id != self.session_id {
            return;
        }
        self.scheduled = None;
        if self.countdown.take().is_some() {
            self.emit(Event::SessionEndCancelled { session_id, cancelled_by });
        }
    }

    /// `cancelEndResult`: resolves every call sharing the request.
    pub(super) fn on_cancel_end_result(&mut self, id: u64, cancelled: bool) {
        if self.cancel.as_ref().is_none_or(|c| c.id != id) {
            return;
        }
        for call in self.cancel.take().map(|c| c.calls).unwrap_or_default() {
            self.push(Effect::Resolve(call, Outcome::CancelEnd(CancelEndResult { cancelled })));
        }
    }

    /// Back in the room after `joined`. Resuming the same session: a `cancelEnd` that waited is sent (again), and a
    /// countdown held is kept, and `joined` then says whether it still runs (see [`Machine::joined_countdown`]).
    /// A new session: neither applies.
    pub(super) fn rejoined_countdown(&mut self, same_session: bool) {
        self.scheduled = None;
        if same_session {
            if let Some(id) = self.cancel.as_ref().map(|c| c.id) {
                self.send(ClientFrame::CancelEnd { id });
            }
        } else {
            self.countdown = None;
            self.last_ends_at = None;
            self.reject_cancel(ClientError::connection_lost());
        }
    }

    /// `joined`'s `sessionEnding`: the countdown running as the participant joined or resumed, held from now (so
    /// `join()` resolves knowing it; the `sessionEnding` frame that follows is then not news). Absent, none runs: one
    /// held from before a reconnect was cancelled while the socket was down (`sessionEndCancelled`, by nobody known).
    pub(super) fn joined_countdown(&mut self, running: Option<RunningCountdown>) {
        match running {
            Some(running) => self.countdown_told(self.session_id.clone(), running),
            None => {
                if let Some(gone) = self.countdown.take() {
                    self.emit(Event::SessionEndCancelled { session_id: gone.session_id, cancelled_by: None });
                }
            }
        }
    }

    /// Out of the room: no countdown any more (a `roomLeft` says how it ended).
    pub(super) fn clear_countdown(&mut self) {
        self.countdown = None;
        self.scheduled = None;
        self.last_ends_at = None;
    }

    pub(super) fn reject_cancel(&mut self, error: ClientError) {
        for call in self.cancel.take().map(|c| c.calls).unwrap_or_default() {
            self.push(Effect::Reject(call, error.clone()));
        }
    }
}
