//! The frames and the small enums they carry, with their wire form as serde attributes: a frame is one JSON object
//! tagged by `"type"`, camelCase keys, optional fields left out when `None` (and read as `None` when absent or
//! `null`), unknown fields ignored (but in `kickAll`: see [`ClientFrame::decode`]).

use serde::{Deserialize, Serialize, Serializer};

/// The enums below are written as their wire names (`as_str`), the names their `parse` reads: one copy of each name
/// in a program that has both (the browser's wasm, whose size is budgeted), the same JSON as serde's unit variants.
/// Read with serde's derive, whose renames say the same names (held together by the `json` tests).
macro_rules! serialize_as_str {
    ($($name:ty),*) => {$(
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    )*};
}

serialize_as_str!(LeaveState, EndReason, ErrorCode);

/// Why a participant is no longer in the room. The same names as RealtimeKit's `LeaveRoomState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaveState {
    /// The session was ended for everyone (kickAll from a host or the REST API).
    Ended,
    /// This participant alone was removed.
    Kicked,
    /// This participant called `leave()`.
    Left,
    /// The join was refused (meeting INACTIVE, bad token, unknown meeting).
    Rejected,
    /// The socket was lost; the client is reconnecting.
    Disconnected,
    /// Reconnecting failed for good.
    Failed,
}

impl LeaveState {
    pub const ALL: [LeaveState; 6] = [
        LeaveState::Ended,
        LeaveState::Kicked,
        LeaveState::Left,
        LeaveState::Rejected,
        LeaveState::Disconnected,
        LeaveState::Failed,
    ];

    /// The wire and JavaScript name, e.g. `"ended"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveState::Ended => "ended",
            LeaveState::Kicked => "kicked",
            LeaveState::Left => "left",
            LeaveState::Rejected => "rejected",
            LeaveState::Disconnected => "disconnected",
            LeaveState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        LeaveState::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// Why a session ended; the `reason` of the `meeting.ended` webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndReason {
    /// A participant with `kick_participant`, or the REST API, ended it for all.
    HostEndedMeeting,
    /// The last participant left.
    AllParticipantsLeft,
    /// No participant with `kick_participant` was connected for the meeting's `end_when_no_host_after_secs`
    /// (an extension of ours; RealtimeKit has no such reason).
    NoHost,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::HostEndedMeeting => "HOST_ENDED_MEETING",
            EndReason::AllParticipantsLeft => "ALL_PARTICIPANTS_LEFT",
            EndReason::NoHost => "NO_HOST",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HOST_ENDED_MEETING" => Some(EndReason::HostEndedMeeting),
            "ALL_PARTICIPANTS_LEFT" => Some(EndReason::AllParticipantsLeft),
            "NO_HOST" => Some(EndReason::NoHost),
            _ => None,
        }
    }
}

/// Error codes of [`ServerFrame::Error`]. RealtimeKit's client codes where one exists (`1201`), else 4xxx codes of
/// our own. Codes travel as strings, as RealtimeKit's `ClientError.code` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum ErrorCode {
    /// The participant's preset lacks `kick_participant`. Nothing happened.
    #[serde(rename = "1201")]
    PermissionDenied,
    /// A frame that is not JSON, or not a frame this protocol knows, or misses a field. The socket is closed.
    #[serde(rename = "4000")]
    MalformedFrame,
    /// A frame over [`crate::MAX_FRAME_BYTES`]. The socket is closed.
    #[serde(rename = "4001")]
    FrameTooLarge,
    /// A frame that is valid but not allowed now (anything before `join`, a second `join`).
    #[serde(rename = "4002")]
    UnexpectedFrame,
    /// The participant token is missing, expired, or not signed by this server.
    #[serde(rename = "4010")]
    InvalidToken,
    /// The meeting is INACTIVE: nobody can join.
    #[serde(rename = "4030")]
    MeetingInactive,
    /// The meeting or participant in the token no longer exists.
    #[serde(rename = "4040")]
    NotFound,
    /// The client speaks a protocol version the server does not.
    #[serde(rename = "4050")]
    UnsupportedVersion,
    /// Too many sockets are open for this participant token. The socket is closed.
    #[serde(rename = "4290")]
    TooManyConnections,
    /// A request's options are out of bounds (e.g. `kickAll`'s `message` too long, `graceSeconds` too large).
    /// Nothing happened; the socket stays open.
    #[serde(rename = "4220")]
    InvalidOptions,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::PermissionDenied,
        ErrorCode::MalformedFrame,
        ErrorCode::FrameTooLarge,
        ErrorCode::UnexpectedFrame,
        ErrorCode::InvalidToken,
        ErrorCode::MeetingInactive,
        ErrorCode::NotFound,
        ErrorCode::UnsupportedVersion,
        ErrorCode::TooManyConnections,
        ErrorCode::InvalidOptions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::PermissionDenied => "1201",
            ErrorCode::MalformedFrame => "4000",
            ErrorCode::FrameTooLarge => "4001",
            ErrorCode::UnexpectedFrame => "4002",
            ErrorCode::InvalidToken => "4010",
            ErrorCode::MeetingInactive => "4030",
            ErrorCode::NotFound => "4040",
            ErrorCode::UnsupportedVersion => "4050",
            ErrorCode::TooManyConnections => "4290",
            ErrorCode::InvalidOptions => "4220",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ErrorCode::ALL.into_iter().find(|code| code.as_str() == s)
    }

    /// Whether the server closes the socket after sending this error.
    pub fn is_fatal(self) -> bool {
        !matches!(self, ErrorCode::PermissionDenied | ErrorCode::InvalidOptions)
    }
}

/// What a participant may do; decided by its preset on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permissions {
    /// RealtimeKit's `kick_participant`: may remove others and end the session for all.
    pub kick_participant: bool,
}

/// A participant as other participants see it: `{id, name, customParticipantId, presetName}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub id: String,
    pub name: String,
    pub custom_participant_id: String,
    pub preset_name: String,
}

/// Who ended (or started the countdown to end) a session: a participant `{id, name, customParticipantId}`, or
/// the REST API `{api: true}`. The same shape in `roomLeft`, `sessionEnding` and the `meeting.ended` webhook's
/// `endedBy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EndedBy {
    Participant {
        id: String,
        name: String,
        #[serde(rename = "customParticipantId")]
        custom_participant_id: String,
    },
    /// The REST API (a backend's `active-session/kick-all`). `api` is always true.
    Api { api: bool },
}

impl EndedBy {
    /// `{api: true}`.
    pub fn api() -> Self {
        EndedBy::Api { api: true }
    }

    /// The participant as `endedBy` names it.
    pub fn participant(participant: &Participant) -> Self {
        EndedBy::Participant {
            id: participant.id.clone(),
            name: participant.name.clone(),
            custom_participant_id: participant.custom_participant_id.clone(),
        }
    }
}

/// How `kickAll` ends the session; every field is optional and `{}` is the plain end of RealtimeKit's `kickAll`.
/// The same fields as the REST kick-all body's extension fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndOptions {
    /// Shown to every participant with the end (`roomLeft.message`) and in the `meeting.ended` webhook. At most
    /// [`crate::MAX_END_MESSAGE_CHARS`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The meeting becomes INACTIVE in the same store transaction as the end: no join is admitted after it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lock: bool,
    /// End after a countdown of this many seconds instead of now (0 or absent: now). At most
    /// [`crate::MAX_GRACE_SECONDS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_seconds: Option<u32>,
}

/// Frames the client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ClientFrame {
    /// First frame on every socket. `resume` is the session id the client was in before its socket dropped; if
    /// that session has ended meanwhile, the server answers `RoomLeft { state: Ended }` instead of joining.
    Join {
        token: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
        version: u32,
    },
    /// End the session for everyone. `id` pairs the answer (`KickAllResult`, `KickAllScheduled` or `Error`) with
    /// the call.
    /// `message`, `lock` and `graceSeconds` are [`EndOptions`] (see there); absent, it is RealtimeKit's plain
    /// `kickAll`.
    KickAll {
        id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        lock: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace_seconds: Option<u32>,
    },
    /// Cancels the countdown to the session's end (see [`ServerFrame::SessionEnding`]); needs `kick_participant`.
    /// Answered `CancelEndResult` (or `Error` 1201); everyone gets `SessionEndCancelled` if one was running.
    CancelEnd { id: u64 },
    /// Leave the session; the server answers `RoomLeft { state: Left }` and closes.
    Leave,
}

impl ClientFrame {
    /// A plain `kickAll` (no options): RealtimeKit's end for everyone, now.
    pub fn kick_all(id: u64) -> Self {
        ClientFrame::KickAll { id, message: None, lock: false, grace_seconds: None }
    }

    /// A `kickAll` with these options.
    pub fn kick_all_with(id: u64, options: EndOptions) -> Self {
        let EndOptions { message, lock, grace_seconds } = options;
        ClientFrame::KickAll { id, message, lock, grace_seconds }
    }
}

/// A running countdown to the session's end, as [`ServerFrame::Joined`] carries it: the fields of
/// [`ServerFrame::SessionEnding`] but the session id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunningCountdown {
    pub ends_at: String,
    pub remaining_ms: u64,
    pub reason: EndReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<EndedBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ServerFrame {
    /// The join succeeded. `participants` are the others already in the session: all of them while the session has
    /// at most [`crate::LISTED_PARTICIPANTS_MAX`] participants, else the [`crate::LARGE_SESSION_LISTED`] earliest to
    /// join; `participant_count` is how many others there are in all.
    Joined {
        session_id: String,
        meeting_id: String,
        #[serde(rename = "self")]
        self_participant: Participant,
        permissions: Permissions,
        participants: Vec<Participant>,
        /// How many others are in the session, listed or not. Optional on the wire (`participantCount`): None from a
        /// server that does not send it, in which case `participants` is all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant_count: Option<u32>,
        reconnected: bool,
        /// How often the server sends [`ServerFrame::Ping`], in milliseconds. A client that hears nothing for a few
        /// of these treats its socket as lost. Optional on the wire (`heartbeatMs`): None from a server without
        /// heartbeats.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heartbeat_ms: Option<u32>,
        /// The countdown to the session's end running when the participant joined or resumed, the same as the
        /// [`ServerFrame::SessionEnding`] that follows; absent when none runs (so a resume tells a countdown
        /// cancelled while away is gone). Optional on the wire (`sessionEnding`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_ending: Option<RunningCountdown>,
    },
    /// Sent only while the session, counting this participant, has at most [`crate::LISTED_PARTICIPANTS_MAX`].
    ParticipantJoined { participant: Participant },
    /// Sent only while the session, counting the participant who left, had at most
    /// [`crate::LISTED_PARTICIPANTS_MAX`].
    ParticipantLeft { participant_id: String },
    /// The participant's preset changed on the server.
    PermissionsUpdate { preset_name: String, permissions: Permissions },
    /// The answer to `KickAll`. Every caller of the same session gets the same `session_id` and `kicked_count`;
    /// `already_ended` is true for all but the call that ended it.
    KickAllResult { id: u64, session_id: String, kicked_count: u32, already_ended: bool },
    /// This participant is out of the room; the server closes the socket after it.
    RoomLeft {
        state: LeaveState,
        session_id: String,
        /// Why the session ended (with [`LeaveState::Ended`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<EndReason>,
        /// With [`LeaveState::Ended`]: how many participants the end removed, the `kickedCount` every `kickAll` of
        /// that session resolves with (so a call that crossed the end still gets the shared answer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kicked_count: Option<u32>,
        /// A human-readable why: with [`LeaveState::Ended`] the host's message (`kickAll`'s `message`, if given),
        /// for other states the server's (e.g. the token was refreshed or expired).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// With [`LeaveState::Ended`]: who ended it (None for `ALL_PARTICIPANTS_LEFT` and `NO_HOST`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended_by: Option<EndedBy>,
        /// With [`LeaveState::Ended`]: the id of the end's `meeting.ended` event, which is the `rtk-uuid` header of
        /// its webhook deliveries. The same for every participant, on resume, and across webhook retries.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_id: Option<String>,
    },
    /// The answer to a `KickAll` with `graceSeconds`: the session ends at `ends_at` unless cancelled. A countdown
    /// already running is kept (its `ends_at` is answered); see [`ServerFrame::SessionEnding`].
    KickAllScheduled { id: u64, session_id: String, ends_at: String },
    /// The session will end at `ends_at` (UTC, RFC 3339 with milliseconds, like the REST API's times), in
    /// `remaining_ms` from when the frame was sent, unless a participant with `kick_participant` (or the API)
    /// cancels it. Sent to everyone when the countdown starts, and to anyone who joins during it, after `Joined`.
    SessionEnding {
        session_id: String,
        ends_at: String,
        remaining_ms: u64,
        /// `HOST_ENDED_MEETING` (a host or the API asked for it) or `NO_HOST`.
        reason: EndReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended_by: Option<EndedBy>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The countdown was cancelled: the session goes on. `cancelled_by` is None when a host's return cancelled a
    /// `NO_HOST` countdown.
    SessionEndCancelled {
        session_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cancelled_by: Option<EndedBy>,
    },
    /// The answer to `CancelEnd`: `cancelled` is false if no countdown was running.
    CancelEndResult { id: u64, cancelled: bool },
    /// Sent every `heartbeat_ms` (see [`ServerFrame::Joined`]) so that the client can notice a silent connection.
    /// Needs no answer: the browser's own pong to the server's WebSocket ping keeps the server side alive.
    Ping,
    /// `id` is the request it answers, if any.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        code: ErrorCode,
        message: String,
    },
}
