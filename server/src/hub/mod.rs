//! The session hub: who is in which live session, and the fan-out of joins, leaves, permission changes and ends.
//!
//! Everything that touches live sessions goes through the [`Hub`] trait, so a hub shared by several server nodes
//! (Redis-backed) can replace the in-process [`LocalHub`] without changing the WebSocket or REST code. The rules
//! themselves live in [`room`], free of I/O; a hub adds locking, persistence and timers around them.
//!
//! Guarantees every implementation keeps:
//! - per meeting, operations are serialized, so a join during an end lands in a new session or is told `ended`;
//! - a join is durable before its `Joined`: its stay and `meeting.participantJoined` (and the session's start) are
//!   committed first. [`LocalHub`] admits the joins of a meeting that wait for its lock together, in one store
//!   transaction (one transition under the lock, see `admissions.rs`): each gets the outcome it would have had
//!   alone, those before it in the batch admitted first; one refused on its own checks (token version, deleted
//!   participant, INACTIVE, a resume into an ended session) is refused alone and leaves no trace;
//! - an end is recorded in the store before any participant is told, so the REST API never lags the clients;
//! - fan-out only queues frames ([`Outbox`]); no lock is held while a socket is written;
//! - whatever is decided about a participant while its connection is down applies when it comes back: a resume
//!   into a session it was kicked from is answered `RoomLeft { kicked }` (the removal is remembered in the store, so
//!   this holds after a restart and across nodes), into an ended session `RoomLeft { ended }` with the end's reason
//!   and `kicked_count`; its `Joined` carries its current permissions; a deleted participant is refused;
//! - a participant that was in the live session may resume it while it is live, even when the meeting is INACTIVE
//!   and even after its reconnect grace ran out (it comes back as a new stay, announced to the others);
//! - when a participant's connection joins with newer permissions than its other connections were told, those are
//!   sent `PermissionsUpdate` first: what the server enforces for a connection is what it was last told;
//! - every `kickAll` on a session that ends gets the same answer: `KickAllResult` (`alreadyEnded` for all but
//!   the call that ended it) or the `RoomLeft { ended, kicked_count }` that closes its socket;
//! - a session stays live for its meeting's `session_keep_alive_time_in_secs` after its last participant left; a
//!   join meanwhile is in the same session; it then ends `ALL_PARTICIPANTS_LEFT`, dated when the last one left;
//! - a restart does not end sessions (see [`LocalHub::restore`]): participants resume them within the grace.
//! - one end record: every participant's `RoomLeft { ended }` of a session carries the same `reason`, `endedBy`,
//!   `message` and `eventId` (the `meeting.ended` event id, fixed in the end's transaction), and so does the answer
//!   to a resume after the end;
//! - an end with `lock` makes the meeting INACTIVE in the end's transaction, under the room lock, so no join is
//!   admitted after the end;
//! - a countdown to the end (`graceSeconds`, or `NO_HOST`) is stored before anyone is told, its timer is the
//!   server's (it survives the host leaving and, through the store, a restart), and joiners during it get
//!   `sessionEnding` right after `Joined` (which also carries it, as `sessionEnding`);
//! - a transition runs to its end whatever becomes of its caller (the server wraps its hub in [`Detached`]): an end
//!   whose REST handler timed out is still recorded and told to everyone, and a join whose connection gave up is
//!   undone as a dropped connection.

mod countdown;
mod detached;
mod hub_core;
mod local;
mod outbox;
mod redis;
pub mod room;
mod transitions;

pub use detached::Detached;
pub use local::{LocalHub, ALIVE_STAMP};
pub use outbox::{Deliver, FanOut, Inbox, Outbound, Outbox, Queued};
pub use redis::{redis_client, RedisHub};
pub use room::{ConnId, LiveInfo, RestoredSession};

use crate::store::StoreError;
use async_trait::async_trait;
use endsession_protocol::{EndOptions, EndReason, EndedBy, ErrorCode, LeaveState, Permissions, ServerFrame};

/// The message of a refused `kickAll`, word for word RealtimeKit's.
pub const KICK_DENIED_MESSAGE: &str = "Unauthorized: User does not have permission to kick peers.";

/// One joined connection, as the hub knows it. The connection task keeps it and names itself with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub meeting_id: String,
    pub session_id: String,
    pub participant_id: String,
    pub conn_id: ConnId,
}

/// A `join` frame whose token checked out.
pub struct JoinRequest {
    pub app_id: String,
    pub meeting_id: String,
    pub participant_id: String,
    /// The session the client was in before its socket dropped.
    pub resume: Option<String>,
    /// Where the hub queues this connection's frames from now on.
    pub outbox: Outbox,
    /// The token's version (its `ver` claim): refused `InvalidToken` (see [`crate::token::refusal`]) unless it is
    /// the participant's current one, read with the admission.
    pub token_version: i64,
}

/// The answer to a join.
#[derive(Debug)]
pub enum JoinOutcome {
    /// In the session; send `frame` (a `Joined`) before anything queued in the outbox.
    Joined { seat: Seat, frame: Box<ServerFrame> },
    /// `resume` named a session this participant is out of: it ended (`state: Ended`, with the end's `reason` and
    /// `kicked_count`, the same count every `kickAll` of that session got), or the participant was removed from it
    /// while its connection was down (`state: Kicked`). The client must learn that, not join a new session silently:
    /// send `RoomLeft` with these fields and close.
    /// With `Ended`, also the end record: who ended it, the host's message, the `meeting.ended` event id.
    Ended {
        state: LeaveState,
        session_id: String,
        reason: Option<EndReason>,
        kicked_count: Option<u32>,
        ended_by: Option<EndedBy>,
        message: Option<String>,
        event_id: Option<String>,
    },
    /// Refused for a reason the client should see.
    Refused { code: ErrorCode, message: String },
    /// The store failed; nothing was joined. The client may retry.
    Unavailable,
}

/// The answer to a kickAll, the same for every caller on the same session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KickAllOutcome {
    pub session_id: String,
    pub kicked_count: u32,
    /// False only for the one call that ended the session (or started its countdown).
    pub already_ended: bool,
    /// Set when the session did not end but a countdown to its end runs (started by this call, or already running
    /// when it asked with `graceSeconds`): when it ends. `kicked_count` is then 0.
    pub ends_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The caller's current preset lacks `kick_participant`. Nothing happened.
    #[error("{KICK_DENIED_MESSAGE}")]
    PermissionDenied,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait Hub: Send + Sync {
    /// Admits a connection to the meeting's live session, starting one if there is none.
    async fn join(&self, request: JoinRequest) -> JoinOutcome;

    /// The connection leaves on purpose. True if it was in the session (the caller then sends `RoomLeft{Left}`);
    /// false if the session already ended, in which case its `RoomLeft{Ended}` is already queued.
    async fn leave(&self, seat: &Seat) -> bool;

    /// The connection dropped. The participant stays for the reconnect grace, then is removed.
    async fn disconnect(&self, seat: &Seat);

    /// `kickAll` from a participant: ends the session (now, or after `options.grace_seconds`) if its current
    /// preset allows it. The caller has checked `options` (see [`check_end_options`]).
    async fn kick_all(&self, seat: &Seat, options: EndOptions) -> Result<KickAllOutcome, HubError>;

    /// Ends the meeting's live session for all, for the REST API, with `endedBy: {api: true}`. None if no session
    /// is live (with `lock`, the meeting is made INACTIVE all the same, under the room lock).
    async fn end_session(&self, meeting_id: &str, options: EndOptions) -> Result<Option<KickAllOutcome>, HubError>;

    /// Cancels the countdown to the end of the live session: by a participant (`seat`, which needs
    /// `kick_participant`) or the API (None). True if one was running.
    async fn cancel_end(&self, meeting_id: &str, seat: Option<&Seat>) -> Result<bool, HubError>;

    /// Removes these participants from the meeting's live session (`RoomLeft { Kicked }` to each); returns the ids
    /// that were in it.
    async fn kick(&self, meeting_id: &str, participant_ids: &[String]) -> Vec<String>;

    /// A participant's preset changed: push `PermissionsUpdate` and enforce it from now on.
    async fn update_permissions(
        &self,
        meeting_id: &str,
        participant_id: &str,
        preset_name: &str,
        permissions: Permissions,
    );

    /// A preset of the meeting's app changed, was renamed (`new_name`) or deleted (no permissions): every participant
    /// of the live session that has `preset_name` gets `PermissionsUpdate`, enforced from now on.
    async fn update_preset(&self, meeting_id: &str, preset_name: &str, new_name: &str, permissions: Permissions);

    /// The meeting's live session, if any.
    async fn live_session(&self, meeting_id: &str) -> Option<LiveInfo>;
}

/// Checks `kickAll`'s options: the message at most [`endsession_protocol::MAX_END_MESSAGE_CHARS`] characters, the
/// grace at most [`endsession_protocol::MAX_GRACE_SECONDS`]. The error names the field.
pub fn check_end_options(options: &EndOptions) -> Result<(), String> {
    use endsession_protocol::{MAX_END_MESSAGE_CHARS, MAX_GRACE_SECONDS};
    if let Some(message) = &options.message {
        let chars = message.chars().count();
        if chars > MAX_END_MESSAGE_CHARS {
            return Err(format!("`message` is {chars} characters long; at most {MAX_END_MESSAGE_CHARS} are allowed"));
        }
    }
    if let Some(grace) = options.grace_seconds {
        if grace > MAX_GRACE_SECONDS {
            return Err(format!("`graceSeconds` must be from 0 to {MAX_GRACE_SECONDS}, got {grace}"));
        }
    }
    Ok(())
}
