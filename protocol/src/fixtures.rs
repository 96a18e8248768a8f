//! JSON texts paired with frames: the wire format as data, for the tests of every decoder (this crate's
//! `serde_json` one, which the server uses, and the browser's in the wasm crate). Feature `fixtures`; with feature
//! `fuzz`, also [`fuzz`]: proptest strategies of frame-shaped text.
//!
//! ```
//! use endsession_protocol::{fixtures, ServerFrame};
//! for (text, frame) in fixtures::server_frames() {
//!     assert_eq!(ServerFrame::decode(text).as_ref(), Ok(&frame));
//! }
//! ```

#[cfg(feature = "fuzz")]
pub mod fuzz;

use crate::{
    ClientFrame, EndOptions, EndReason, EndedBy, ErrorCode, LeaveState, Participant, Permissions, RunningCountdown,
    ServerFrame,
};

fn someone(id: &str) -> Participant {
    Participant {
        id: id.into(),
        name: "Ann \"A\" \u{e9}".into(),
        custom_participant_id: format!("c-{id}"),
        preset_name: "group_call_host".into(),
    }
}

/// Every kind of client frame and its exact text: what [`ClientFrame::encode`] prints and decoders must read.
pub fn client_frames() -> Vec<(&'static str, ClientFrame)> {
    vec![
        (
            r#"{"type":"join","token":"t\"x","version":1}"#,
            ClientFrame::Join { token: "t\"x".into(), resume: None, version: 1 },
        ),
        (
            r#"{"type":"join","token":"t","resume":"s-1","version":1}"#,
            ClientFrame::Join { token: "t".into(), resume: Some("s-1".into()), version: 1 },
        ),
        (r#"{"type":"kickAll","id":7}"#, ClientFrame::kick_all(7)),
        (r#"{"type":"leave"}"#, ClientFrame::Leave),
    ]
}

/// Every kind of server frame, every leave state and every error code, with its exact text: what
/// [`ServerFrame::encode`] prints (so what the server sends) and decoders must read.
pub fn server_frames() -> Vec<(&'static str, ServerFrame)> {
    vec![
        (
            concat!(
                r#"{"type":"joined","sessionId":"s","meetingId":"m","#,
                r#""self":{"id":"a","name":"Ann \"A\" é","customParticipantId":"c-a","presetName":"group_call_host"},"#,
                r#""permissions":{"kickParticipant":true},"participants":["#,
                r#"{"id":"b","name":"Ann \"A\" é","customParticipantId":"c-b","presetName":"group_call_host"},"#,
                r#"{"id":"c","name":"Ann \"A\" é","customParticipantId":"c-c","presetName":"group_call_host"}],"#,
                r#""participantCount":250,"reconnected":true,"heartbeatMs":10000}"#
            ),
            ServerFrame::Joined {
                session_id: "s".into(),
                meeting_id: "m".into(),
                self_participant: someone("a"),
                permissions: Permissions { kick_participant: true },
                participants: vec![someone("b"), someone("c")],
                participant_count: Some(250),
                reconnected: true,
                heartbeat_ms: Some(10_000),
                session_ending: None,
            },
        ),
        (
            concat!(
                r#"{"type":"joined","sessionId":"s","meetingId":"m","#,
                r#""self":{"id":"a","name":"Ann \"A\" é","customParticipantId":"c-a","presetName":"group_call_host"},"#,
                r#""permissions":{"kickParticipant":false},"participants":[],"reconnected":false}"#
            ),
            ServerFrame::Joined {
                session_id: "s".into(),
                meeting_id: "m".into(),
                self_participant: someone("a"),
                permissions: Permissions { kick_participant: false },
                participants: vec![],
                participant_count: None,
                reconnected: false,
                heartbeat_ms: None,
                session_ending: None,
            },
        ),
        (
            r#"{"type":"participantJoined","participant":{"id":"d","name":"Ann \"A\" é","customParticipantId":"c-d","presetName":"group_call_host"}}"#,
            ServerFrame::ParticipantJoined { participant: someone("d") },
        ),
        (
            r#"{"type":"participantLeft","participantId":"d"}"#,
            ServerFrame::ParticipantLeft { participant_id: "d".into() },
        ),
        (
            r#"{"type":"permissionsUpdate","presetName":"group_call_host","permissions":{"kickParticipant":false}}"#,
            ServerFrame::PermissionsUpdate {
                preset_name: "group_call_host".into(),
                permissions: Permissions { kick_participant: false },
            },
        ),
        (
            r#"{"type":"kickAllResult","id":3,"sessionId":"s","kickedCount":10,"alreadyEnded":true}"#,
            ServerFrame::KickAllResult { id: 3, session_id: "s".into(), kicked_count: 10, already_ended: true },
        ),
        (
            r#"{"type":"roomLeft","state":"ended","sessionId":"s","reason":"HOST_ENDED_MEETING","kickedCount":3}"#,
            ended(EndReason::HostEndedMeeting, Some(3)),
        ),
        (
            r#"{"type":"roomLeft","state":"ended","sessionId":"s","reason":"ALL_PARTICIPANTS_LEFT"}"#,
            ended(EndReason::AllParticipantsLeft, None),
        ),
        (r#"{"type":"roomLeft","state":"ended","sessionId":"s"}"#, left(LeaveState::Ended)),
        (r#"{"type":"roomLeft","state":"kicked","sessionId":"s"}"#, left(LeaveState::Kicked)),
        (r#"{"type":"roomLeft","state":"left","sessionId":"s"}"#, left(LeaveState::Left)),
        (r#"{"type":"roomLeft","state":"rejected","sessionId":"s"}"#, left(LeaveState::Rejected)),
        (r#"{"type":"roomLeft","state":"disconnected","sessionId":"s"}"#, left(LeaveState::Disconnected)),
        (r#"{"type":"roomLeft","state":"failed","sessionId":"s"}"#, left(LeaveState::Failed)),
        (
            r#"{"type":"roomLeft","state":"rejected","sessionId":"","message":"the token was refreshed"}"#,
            ServerFrame::RoomLeft {
                state: LeaveState::Rejected,
                session_id: String::new(),
                reason: None,
                kicked_count: None,
                message: Some("the token was refreshed".into()),
                ended_by: None,
                event_id: None,
            },
        ),
        (r#"{"type":"ping"}"#, ServerFrame::Ping),
        (
            r#"{"type":"error","code":"4000","message":"bad \"quote\""}"#,
            ServerFrame::Error { id: None, code: ErrorCode::MalformedFrame, message: "bad \"quote\"".into() },
        ),
        (r#"{"type":"error","id":9,"code":"1201","message":"m"}"#, error(ErrorCode::PermissionDenied)),
        (r#"{"type":"error","id":9,"code":"4000","message":"m"}"#, error(ErrorCode::MalformedFrame)),
        (r#"{"type":"error","id":9,"code":"4001","message":"m"}"#, error(ErrorCode::FrameTooLarge)),
        (r#"{"type":"error","id":9,"code":"4002","message":"m"}"#, error(ErrorCode::UnexpectedFrame)),
        (r#"{"type":"error","id":9,"code":"4010","message":"m"}"#, error(ErrorCode::InvalidToken)),
        (r#"{"type":"error","id":9,"code":"4030","message":"m"}"#, error(ErrorCode::MeetingInactive)),
        (r#"{"type":"error","id":9,"code":"4040","message":"m"}"#, error(ErrorCode::NotFound)),
        (r#"{"type":"error","id":9,"code":"4050","message":"m"}"#, error(ErrorCode::UnsupportedVersion)),
        (r#"{"type":"error","id":9,"code":"4290","message":"m"}"#, error(ErrorCode::TooManyConnections)),
    ]
}

/// Texts that decoders must read as these frames though the encoder would not print them so: keys in another order
/// (the order the protocol's earlier encoder used), `null` for an absent optional field, unknown fields.
pub fn server_frames_read_only() -> Vec<(&'static str, ServerFrame)> {
    vec![
        (
            r#"{"alreadyEnded":false,"id":1,"kickedCount":2,"sessionId":"s","type":"kickAllResult"}"#,
            ServerFrame::KickAllResult { id: 1, session_id: "s".into(), kicked_count: 2, already_ended: false },
        ),
        (
            r#"{"kickedCount":null,"message":null,"reason":null,"sessionId":"s","state":"left","type":"roomLeft","x":{"y":[1]}}"#,
            left(LeaveState::Left),
        ),
        (r#"{"type":"ping","at":1.5}"#, ServerFrame::Ping),
        (
            r#"{"code":"4010","id":null,"message":"m","type":"error","newField":true}"#,
            ServerFrame::Error { id: None, code: ErrorCode::InvalidToken, message: "m".into() },
        ),
    ]
}

/// Texts that are not server frames: not JSON, not an object, an unknown `type`, a missing field, a value of the
/// wrong type or out of range, an unknown leave state, reason or error code.
pub fn not_server_frames() -> Vec<&'static str> {
    vec![
        "",
        "nope",
        "5",
        "null",
        "[]",
        r#"{"id":1}"#,
        r#"{"type":"dance"}"#,
        r#"{"type":7}"#,
        r#"{"type":"kickAllResult","id":-1,"sessionId":"s","kickedCount":1,"alreadyEnded":false}"#,
        r#"{"type":"kickAllResult","id":1.5,"sessionId":"s","kickedCount":1,"alreadyEnded":false}"#,
        r#"{"type":"kickAllResult","id":1,"sessionId":"s","kickedCount":4294967296,"alreadyEnded":false}"#,
        r#"{"type":"kickAllResult","id":1,"sessionId":"s","kickedCount":1}"#,
        r#"{"type":"kickAllResult","id":1,"sessionId":"s","kickedCount":1,"alreadyEnded":"no"}"#,
        r#"{"type":"participantLeft"}"#,
        r#"{"type":"participantJoined","participant":{"id":"d"}}"#,
        r#"{"type":"roomLeft","state":"gone","sessionId":"s"}"#,
        r#"{"type":"roomLeft","state":"ended","sessionId":"s","reason":"BORED"}"#,
        r#"{"type":"error","code":"9999","message":"m"}"#,
        r#"{"type":"joined","sessionId":"s"}"#,
    ]
}

fn left(state: LeaveState) -> ServerFrame {
    ServerFrame::RoomLeft {
        state,
        session_id: "s".into(),
        reason: None,
        kicked_count: None,
        message: None,
        ended_by: None,
        event_id: None,
    }
}

fn ended(reason: EndReason, kicked_count: Option<u32>) -> ServerFrame {
    ServerFrame::RoomLeft {
        state: LeaveState::Ended,
        session_id: "s".into(),
        reason: Some(reason),
        kicked_count,
        message: None,
        ended_by: None,
        event_id: None,
    }
}

fn error(code: ErrorCode) -> ServerFrame {
    ServerFrame::Error { id: Some(9), code, message: "m".into() }
}

/// The frames of ending with options and a countdown (issue 13), with their exact texts: kept apart from
/// [`client_frames`] while the browser's decoder does not read them yet.
pub fn end_client_frames() -> Vec<(&'static str, ClientFrame)> {
    vec![
        (
            r#"{"type":"kickAll","id":8,"message":"Thanks, all","lock":true,"graceSeconds":30}"#,
            ClientFrame::kick_all_with(
                8,
                EndOptions { message: Some("Thanks, all".into()), lock: true, grace_seconds: Some(30) },
            ),
        ),
        (
            r#"{"type":"kickAll","id":9,"graceSeconds":0}"#,
            ClientFrame::kick_all_with(9, EndOptions { grace_seconds: Some(0), ..Default::default() }),
        ),
        (r#"{"type":"cancelEnd","id":4}"#, ClientFrame::CancelEnd { id: 4 }),
    ]
}

/// See [`end_client_frames`]: the server's frames of an end with a record, a countdown and its cancel.
pub fn end_server_frames() -> Vec<(&'static str, ServerFrame)> {
    let host = EndedBy::Participant { id: "a".into(), name: "Ann".into(), custom_participant_id: "c-a".into() };
    vec![
        (
            concat!(
                r#"{"type":"roomLeft","state":"ended","sessionId":"s","reason":"HOST_ENDED_MEETING","kickedCount":3,"#,
                r#""message":"Thanks, all","endedBy":{"id":"a","name":"Ann","customParticipantId":"c-a"},"#,
                r#""eventId":"e-1"}"#
            ),
            ServerFrame::RoomLeft {
                state: LeaveState::Ended,
                session_id: "s".into(),
                reason: Some(EndReason::HostEndedMeeting),
                kicked_count: Some(3),
                message: Some("Thanks, all".into()),
                ended_by: Some(host.clone()),
                event_id: Some("e-1".into()),
            },
        ),
        (
            r#"{"type":"roomLeft","state":"ended","sessionId":"s","reason":"NO_HOST","kickedCount":2,"endedBy":{"api":true},"eventId":"e-2"}"#,
            ServerFrame::RoomLeft {
                state: LeaveState::Ended,
                session_id: "s".into(),
                reason: Some(EndReason::NoHost),
                kicked_count: Some(2),
                message: None,
                ended_by: Some(EndedBy::api()),
                event_id: Some("e-2".into()),
            },
        ),
        (
            concat!(
                r#"{"type":"joined","sessionId":"s","meetingId":"m","#,
                r#""self":{"id":"b","name":"Ann \"A\" é","customParticipantId":"c-b","presetName":"group_call_host"},"#,
                r#""permissions":{"kickParticipant":true},"participants":[],"participantCount":0,"reconnected":true,"#,
                r#""sessionEnding":{"endsAt":"2026-11-30T00:00:30.000Z","remainingMs":30000,"#,
                r#""reason":"HOST_ENDED_MEETING","endedBy":{"id":"a","name":"Ann","customParticipantId":"c-a"},"#,
                r#""message":"Wrapping up"}}"#
            ),
            ServerFrame::Joined {
                session_id: "s".into(),
                meeting_id: "m".into(),
                self_participant: someone("b"),
                permissions: Permissions { kick_participant: true },
                participants: vec![],
                participant_count: Some(0),
                reconnected: true,
                heartbeat_ms: None,
                session_ending: Some(RunningCountdown {
                    ends_at: "2026-11-30T00:00:30.000Z".into(),
                    remaining_ms: 30_000,
                    reason: EndReason::HostEndedMeeting,
                    ended_by: Some(host.clone()),
                    message: Some("Wrapping up".into()),
                }),
            },
        ),
        (
            concat!(
                r#"{"type":"joined","sessionId":"s","meetingId":"m","#,
                r#""self":{"id":"b","name":"Ann \"A\" é","customParticipantId":"c-b","presetName":"group_call_host"},"#,
                r#""permissions":{"kickParticipant":false},"participants":[],"reconnected":false,"#,
                r#""sessionEnding":{"endsAt":"2026-11-30T00:01:00.000Z","remainingMs":1,"reason":"NO_HOST"}}"#
            ),
            ServerFrame::Joined {
                session_id: "s".into(),
                meeting_id: "m".into(),
                self_participant: someone("b"),
                permissions: Permissions { kick_participant: false },
                participants: vec![],
                participant_count: None,
                reconnected: false,
                heartbeat_ms: None,
                session_ending: Some(RunningCountdown {
                    ends_at: "2026-11-30T00:01:00.000Z".into(),
                    remaining_ms: 1,
                    reason: EndReason::NoHost,
                    ended_by: None,
                    message: None,
                }),
            },
        ),
        (
            r#"{"type":"kickAllScheduled","id":8,"sessionId":"s","endsAt":"2026-11-30T00:00:30.000Z"}"#,
            ServerFrame::KickAllScheduled { id: 8, session_id: "s".into(), ends_at: "2026-11-30T00:00:30.000Z".into() },
        ),
        (
            concat!(
                r#"{"type":"sessionEnding","sessionId":"s","endsAt":"2026-11-30T00:00:30.000Z","remainingMs":30000,"#,
                r#""reason":"HOST_ENDED_MEETING","endedBy":{"id":"a","name":"Ann","customParticipantId":"c-a"},"#,
                r#""message":"Wrapping up"}"#
            ),
            ServerFrame::SessionEnding {
                session_id: "s".into(),
                ends_at: "2026-11-30T00:00:30.000Z".into(),
                remaining_ms: 30_000,
                reason: EndReason::HostEndedMeeting,
                ended_by: Some(host.clone()),
                message: Some("Wrapping up".into()),
            },
        ),
        (
            r#"{"type":"sessionEnding","sessionId":"s","endsAt":"2026-11-30T00:01:00.000Z","remainingMs":1,"reason":"NO_HOST"}"#,
            ServerFrame::SessionEnding {
                session_id: "s".into(),
                ends_at: "2026-11-30T00:01:00.000Z".into(),
                remaining_ms: 1,
                reason: EndReason::NoHost,
                ended_by: None,
                message: None,
            },
        ),
        (
            r#"{"type":"sessionEndCancelled","sessionId":"s","cancelledBy":{"api":true}}"#,
            ServerFrame::SessionEndCancelled { session_id: "s".into(), cancelled_by: Some(EndedBy::api()) },
        ),
        (
            r#"{"type":"sessionEndCancelled","sessionId":"s"}"#,
            ServerFrame::SessionEndCancelled { session_id: "s".into(), cancelled_by: None },
        ),
        (
            r#"{"type":"cancelEndResult","id":4,"cancelled":true}"#,
            ServerFrame::CancelEndResult { id: 4, cancelled: true },
        ),
    ]
}
