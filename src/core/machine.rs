//! The meeting state machine: [`Machine`].
//!
//! Pure: it never touches a socket, a timer or JavaScript. Inputs are the user's calls ([`Machine::join`],
//! [`Machine::leave`], [`Machine::kick_all`], [`Machine::cancel_end`]), socket events ([`Machine::socket_open`], [`Machine::socket_frame`],
//! [`Machine::socket_closed`]) and the timers ([`Machine::reconnect_due`], [`Machine::silence_due`]); each queues
//! [`Effect`]s that the driver takes with [`Machine::take_effects`] and carries out in order.
//!
//! Silence: a server that sends heartbeats says how often in `joined` (`heartbeatMs`). While joined, every frame
//! restarts a timer of [`HEARTBEAT_TIMEOUT_FACTOR`] × that (or the user's `heartbeat_timeout_ms`); when it runs
//! out, the socket is treated as lost exactly as a closed one: closed, `roomLeft` `disconnected`, reconnect. The
//! stage before, from opening a socket to the server's `joined`, has its own deadline ([`CONNECT_TIMEOUT_MS`]) on
//! the same timer: a join that hangs fails, a reconnect attempt that hangs counts as a failed attempt.

use crate::core::{
    CallId, CancelEndResult, ClientError, Effect, EndState, Event, KickAllResult, Leave, LeaveState, Outcome,
    Participants, Reconnect, RoomState, SessionEnding,
};
use countdown::PendingCancel;
use endsession_protocol::{ClientFrame, Participant, Permissions, PROTOCOL_VERSION};
use kick::PendingKick;

/// How many heartbeat periods of silence make a connection lost, when the user sets no timeout: 2.5 (two pings
/// missed, plus half a period for a ping delayed by a busy server or network).
pub const HEARTBEAT_TIMEOUT_FACTOR: (u32, u32) = (5, 2);

/// How long one attempt may take from opening the socket to the server's `joined` (or its refusal), in ms: a TCP
/// connection that opens but carries nothing (a frozen network) would otherwise hang the join or the reconnect.
pub const CONNECT_TIMEOUT_MS: u32 = 10_000;

/// One participant's meeting, as a state machine.
///
/// ```
/// use endsession::{CallId, Effect, Machine, Reconnect, RoomState, CONNECT_TIMEOUT_MS};
/// use endsession_protocol::ClientFrame;
/// let mut m = Machine::new("token".into(), Reconnect::default());
/// m.join(CallId(1));
/// assert_eq!(m.take_effects(), [Effect::Open, Effect::WatchSilence(Some(CONNECT_TIMEOUT_MS))]);
/// m.socket_open();
/// assert!(matches!(&m.take_effects()[..], [Effect::Send(ClientFrame::Join { resume: None, .. })]));
/// assert_eq!(m.room_state(), RoomState::Joining);
/// ```
#[derive(Debug)]
pub struct Machine {
    token: String,
    reconnect: Reconnect,
    state: RoomState,
    /// Failed reconnect attempts since the socket dropped.
    failures: u32,
    session_id: String,
    meeting_id: String,
    me: Option<Participant>,
    permissions: Permissions,
    participants: Participants,
    join_calls: Vec<CallId>,
    kick: Option<PendingKick>,
    /// The server confirmed that a `kickAll` of this participant ended the current session: what every later call
    /// resolves with (`alreadyEnded: true`, the confirmed `kickedCount`) until the `roomLeft` that is next.
    end_confirmed: Option<KickAllResult>,
    /// The user's silence timeout in ms: `None` derives it from the server's heartbeat, `Some(0)` never times out.
    heartbeat_timeout: Option<u32>,
    /// The silence timeout watched on the current socket (the connect deadline until `joined`), while the timer
    /// runs.
    silence_ms: Option<u32>,
    /// After `roomLeft` `ended`: what every later `kickAll` resolves with.
    ended: Option<KickAllResult>,
    /// The countdown to the session's end running now (the last `sessionEnding`), until it is cancelled or the
    /// room is left.
    countdown: Option<SessionEnding>,
    /// This participant's `kickAll` was answered `kickAllScheduled` with this `endsAt` before its `sessionEnding`
    /// arrived (the answer and the broadcast come in either order): the control shows `ending` meanwhile.
    scheduled: Option<String>,
    /// The `endsAt` of the last `sessionEnding` heard in this session (so that a late `kickAllScheduled` for a
    /// countdown already heard, and perhaps already cancelled, is not taken for a new one).
    last_ends_at: Option<String>,
    cancel: Option<PendingCancel>,
    next_request: u64,
    effects: Vec<Effect>,
}

impl Machine {
    /// A meeting for the participant `token`, not joined yet.
    pub fn new(token: String, reconnect: Reconnect) -> Self {
        Machine {
            token,
            reconnect,
            state: RoomState::Init,
            failures: 0,
            session_id: String::new(),
            meeting_id: String::new(),
            me: None,
            permissions: Permissions::default(),
            participants: Participants::default(),
            join_calls: Vec::new(),
            kick: None,
            end_confirmed: None,
            heartbeat_timeout: None,
            silence_ms: None,
            ended: None,
            countdown: None,
            scheduled: None,
            last_ends_at: None,
            cancel: None,
            next_request: 1,
            effects: Vec::new(),
        }
    }

    /// Sets how long a joined socket may stay silent before it counts as lost, in ms: `None` (the default) is
    /// [`HEARTBEAT_TIMEOUT_FACTOR`] × the server's `heartbeatMs`, `Some(0)` never. Either way, a server that sends
    /// no `heartbeatMs` is never timed out (it sends no pings to hear).
    ///
    /// ```
    /// use endsession::{Machine, Reconnect};
    /// let m = Machine::new("token".into(), Reconnect::default()).with_heartbeat_timeout(Some(60_000));
    /// ```
    pub fn with_heartbeat_timeout(mut self, timeout_ms: Option<u32>) -> Self {
        self.heartbeat_timeout = timeout_ms;
        self
    }

    /// The effects queued since the last call, oldest first.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub fn room_state(&self) -> RoomState {
        self.state
    }

    pub fn permissions(&self) -> Permissions {
        self.permissions
    }

    /// What an "End meeting for all" control shows now: derived from the room state, the permission and the end
    /// in flight (see [`EndState`]). The driver reports each change as [`Event::EndStateChange`].
    pub fn end_state(&self) -> EndState {
        let ending =
            self.kick.is_some() || self.end_confirmed.is_some() || self.countdown.is_some() || self.scheduled.is_some();
        EndState::derive(self.state, self.permissions.kick_participant, ending)
    }

    /// The countdown to the session's end running now, as the server last told it (`remaining_ms` as of then);
    /// `None` when none runs, after it is cancelled, and once the room is left.
    pub fn session_ending(&self) -> Option<&SessionEnding> {
        self.countdown.as_ref()
    }

    /// This participant, once joined (kept after leaving).
    pub fn me(&self) -> Option<&Participant> {
        self.me.as_ref()
    }

    /// The current (or last) session id; empty before the first join.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The meeting id; empty before the first join.
    pub fn meeting_id(&self) -> &str {
        &self.meeting_id
    }

    /// The others in the session; empty once the room is left.
    pub fn participants(&self) -> &Participants {
        &self.participants
    }

    // ----- user calls -----

    /// `meeting.join()`: resolves `call` once the server let the participant in. Calls while joining share the
    /// join; a call while joined resolves at once; a call after leaving joins again.
    pub fn join(&mut self, call: CallId) {
        match self.state {
            RoomState::Joined => self.push(Effect::Resolve(call, Outcome::Joined)),
            RoomState::Joining | RoomState::Reconnecting => self.join_calls.push(call),
            RoomState::Init | RoomState::Left(_) => {
                self.state = RoomState::Joining;
                self.join_calls.push(call);
                self.open();
            }
        }
    }

    /// `meeting.leave()`: tells the server, closes the socket and emits `roomLeft` `left`. Nothing when not in
    /// the room.
    pub fn leave(&mut self) {
        match self.state {
            RoomState::Init | RoomState::Left(_) => {}
            RoomState::Joined => {
                self.send(ClientFrame::Leave);
                self.push(Effect::Close);
                self.left(Leave::new(LeaveState::Left, &self.session_id));
            }
            RoomState::Joining | RoomState::Reconnecting => {
                self.push(Effect::Close);
                self.left(Leave::new(LeaveState::Left, &self.session_id));
            }
        }
    }

    // ----- socket and timer -----

    /// The socket asked for by [`Effect::Open`] is open: send `join`, resuming the last session when reconnecting.
    pub fn socket_open(&mut self) {
        let resume = match self.state {
            RoomState::Joining => None,
            RoomState::Reconnecting => Some(self.session_id.clone()),
            _ => return,
        };
        self.send(ClientFrame::Join { token: self.token.clone(), resume, version: PROTOCOL_VERSION });
    }

    /// The socket closed without [`Effect::Close`] asking for it (or could not be opened).
    pub fn socket_closed(&mut self) {
        match self.state {
            RoomState::Joining => self.fail(),
            RoomState::Joined => self.lost(),
            RoomState::Reconnecting => self.attempt_failed(),
            RoomState::Init | RoomState::Left(_) => {}
        }
    }

    /// The delay of [`Effect::ScheduleReconnect`] has passed.
    pub fn reconnect_due(&mut self) {
        if self.state == RoomState::Reconnecting {
            self.open();
        }
    }

    /// The timer of [`Effect::WatchSilence`] ran out: no frame for that long, or no `joined` within
    /// [`CONNECT_TIMEOUT_MS`]. The socket is closed and treated as one that closed by itself: joined, it is lost
    /// (`roomLeft` `disconnected`, then reconnecting); joining, the join fails; reconnecting, the attempt failed.
    pub fn silence_due(&mut self) {
        if self.silence_ms.is_none() {
            return;
        }
        match self.state {
            RoomState::Joined => {
                self.push(Effect::Close);
                self.lost();
            }
            RoomState::Joining => {
                self.push(Effect::Close);
                self.fail();
            }
            RoomState::Reconnecting => {
                self.push(Effect::Close);
                self.attempt_failed();
            }
            RoomState::Init | RoomState::Left(_) => {}
        }
    }

    // ----- internals -----

    /// Opens a socket, with the deadline for getting into the room on it.
    fn open(&mut self) {
        self.push(Effect::Open);
        self.silence_ms = Some(CONNECT_TIMEOUT_MS);
        self.push(Effect::WatchSilence(Some(CONNECT_TIMEOUT_MS)));
    }

    /// A reconnect attempt failed (closed, or past its deadline): the next one, or give up.
    fn attempt_failed(&mut self) {
        self.failures += 1;
        self.stop_silence();
        self.retry();
    }

    /// The joined socket is gone (closed, or silent too long): reconnect, resuming the session. A `kickAll` in
    /// flight waits for the outcome (see the `Joined` frame).
    fn lost(&mut self) {
        self.state = RoomState::Reconnecting;
        self.failures = 0;
        self.stop_silence();
        self.emit(Event::RoomLeft(Leave::new(LeaveState::Disconnected, &self.session_id)));
        self.retry();
    }

    /// Starts the silence timer for a socket whose server sends heartbeats every `heartbeat_ms` (see
    /// [`Machine::with_heartbeat_timeout`]); stops it otherwise.
    fn watch_silence(&mut self, heartbeat_ms: Option<u32>) {
        let (times, per) = HEARTBEAT_TIMEOUT_FACTOR;
        let derived = heartbeat_ms.filter(|&ms| ms > 0).map(|ms| ms.saturating_mul(times) / per);
        // At most `setTimeout`'s largest delay (2^31 - 1 ms): a larger one fires at once.
        let timeout = derived.map(|d| self.heartbeat_timeout.unwrap_or(d).min(i32::MAX as u32)).filter(|&ms| ms > 0);
        match timeout {
            Some(ms) => {
                self.silence_ms = Some(ms);
                self.push(Effect::WatchSilence(Some(ms)));
            }
            None => self.stop_silence(),
        }
    }

    fn stop_silence(&mut self) {
        if self.silence_ms.take().is_some() {
            self.push(Effect::WatchSilence(None));
        }
    }

    /// Schedules the next reconnect attempt, or gives up.
    fn retry(&mut self) {
        if self.failures >= self.reconnect.attempts {
            self.fail();
        } else {
            self.push(Effect::ScheduleReconnect(self.reconnect.delay(self.failures)));
        }
    }

    /// Could not (re)connect: rejects the join calls and a `kickAll` that waited for a reconnect, and leaves with
    /// `failed`.
    fn fail(&mut self) {
        self.reject_join(ClientError::connection_failed());
        self.reject_kick(ClientError::connection_lost());
        self.reject_cancel(ClientError::connection_lost());
        self.left(Leave::new(LeaveState::Failed, &self.session_id));
    }

    /// Moves to `Left(state)`: the others are forgotten, waiting joins fail, `roomLeft` is emitted once. A
    /// `kickAll` still waiting when the session ends resolves with the end (`alreadyEnded`: this call did not end
    /// it, or the server would have said so first); any other leave rejects it.
    fn left(&mut self, leave: Leave) {
        self.state = RoomState::Left(leave.state);
        self.participants.clear();
        self.clear_countdown();
        self.stop_silence();
        self.reject_join(ClientError::room_left());
        if leave.state == LeaveState::Ended {
            // The end won the race with a `cancelEnd` in flight (another host's end, the REST API's, the countdown's
            // own expiry): nothing was cancelled, as a `kickAll` in the same race resolves `alreadyEnded`.
            for call in self.cancel.take().map(|c| c.calls).unwrap_or_default() {
                self.push(Effect::Resolve(call, Outcome::CancelEnd(CancelEndResult { cancelled: false })));
            }
            let result = Self::ended_result(&leave);
            for call in self.kick.take().map(|k| k.calls).unwrap_or_default() {
                self.push(Effect::Resolve(call, Outcome::KickAll(result.clone())));
            }
            self.ended = Some(result);
        } else {
            self.reject_kick(ClientError::room_left());
            self.reject_cancel(ClientError::room_left());
        }
        self.emit(Event::RoomLeft(leave));
    }

    fn reject_join(&mut self, error: ClientError) {
        for call in std::mem::take(&mut self.join_calls) {
            self.push(Effect::Reject(call, error.clone()));
        }
    }

    fn send(&mut self, frame: ClientFrame) {
        self.push(Effect::Send(frame));
    }

    fn emit(&mut self, event: Event) {
        self.push(Effect::Emit(event));
    }

    fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }
}

mod countdown;
mod frames;
mod kick;
#[cfg(test)]
mod tests;
