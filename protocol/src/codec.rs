//! JSON encoding of the frames: `{"type": "...", ...camelCase fields}`.

use crate::frames::*;
use miniserde::json::{self, Array, Number, Object, Value};
use std::fmt;

/// Why a frame could not be decoded. The message names the field, so a client author can fix their frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(DecodeError(message.into()))
}

/// Reads typed fields out of one JSON object, naming the field in every error.
struct Fields(Object);

impl Fields {
    fn parse(text: &str) -> Result<Self> {
        match json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => Ok(Fields(object)),
            Ok(_) => err("frame must be a JSON object"),
            Err(_) => err("frame is not valid JSON"),
        }
    }

    fn from_value(value: Value, what: &str) -> Result<Self> {
        match value {
            Value::Object(object) => Ok(Fields(object)),
            _ => err(format!("`{what}` must be an object")),
        }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        match self.0.remove(key) {
            None | Some(Value::Null) => None,
            some => some,
        }
    }

    fn string(&mut self, key: &str) -> Result<String> {
        self.opt_string(key)?.map_or_else(|| err(format!("missing field `{key}`")), Ok)
    }

    fn opt_string(&mut self, key: &str) -> Result<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => err(format!("`{key}` must be a string")),
        }
    }

    fn u64(&mut self, key: &str) -> Result<u64> {
        self.opt_u64(key)?.map_or_else(|| err(format!("missing field `{key}`")), Ok)
    }

    fn opt_u64(&mut self, key: &str) -> Result<Option<u64>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(Number::U64(n))) => Ok(Some(n)),
            Some(_) => err(format!("`{key}` must be a non-negative integer")),
        }
    }

    fn u32(&mut self, key: &str) -> Result<u32> {
        self.opt_u32(key)?.map_or_else(|| err(format!("missing field `{key}`")), Ok)
    }

    fn opt_u32(&mut self, key: &str) -> Result<Option<u32>> {
        match self.opt_u64(key)? {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).or_else(|_| err(format!("`{key}` is too large"))),
        }
    }

    fn bool(&mut self, key: &str) -> Result<bool> {
        match self.take(key) {
            Some(Value::Bool(b)) => Ok(b),
            None => err(format!("missing field `{key}`")),
            Some(_) => err(format!("`{key}` must be a boolean")),
        }
    }

    fn object(&mut self, key: &str) -> Result<Fields> {
        match self.take(key) {
            Some(value) => Fields::from_value(value, key),
            None => err(format!("missing field `{key}`")),
        }
    }

    fn array(&mut self, key: &str) -> Result<Array> {
        match self.take(key) {
            Some(Value::Array(items)) => Ok(items),
            None => err(format!("missing field `{key}`")),
            Some(_) => err(format!("`{key}` must be an array")),
        }
    }
}

/// Builds one JSON object.
struct Out(Object);

impl Out {
    fn new(kind: &str) -> Self {
        let mut object = Object::new();
        object.insert("type".into(), Value::String(kind.into()));
        Out(object)
    }

    fn plain() -> Self {
        Out(Object::new())
    }

    fn set(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.into(), value);
        self
    }

    fn str(self, key: &str, value: &str) -> Self {
        self.set(key, Value::String(value.into()))
    }

    fn opt_str(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.str(key, v),
            None => self,
        }
    }

    fn num(self, key: &str, value: u64) -> Self {
        self.set(key, Value::Number(Number::U64(value)))
    }

    fn opt_num(self, key: &str, value: Option<u64>) -> Self {
        match value {
            Some(v) => self.num(key, v),
            None => self,
        }
    }

    fn bool(self, key: &str, value: bool) -> Self {
        self.set(key, Value::Bool(value))
    }

    fn value(self) -> Value {
        Value::Object(self.0)
    }

    fn encode(self) -> String {
        json::to_string(&self.value())
    }
}

impl Permissions {
    fn to_value(self) -> Value {
        Out::plain().bool("kickParticipant", self.kick_participant).value()
    }

    fn from_fields(mut f: Fields) -> Result<Self> {
        Ok(Permissions { kick_participant: f.bool("kickParticipant")? })
    }
}

impl Participant {
    fn to_value(&self) -> Value {
        Out::plain()
            .str("id", &self.id)
            .str("name", &self.name)
            .str("customParticipantId", &self.custom_participant_id)
            .str("presetName", &self.preset_name)
            .value()
    }

    fn from_fields(mut f: Fields) -> Result<Self> {
        Ok(Participant {
            id: f.string("id")?,
            name: f.string("name")?,
            custom_participant_id: f.string("customParticipantId")?,
            preset_name: f.string("presetName")?,
        })
    }
}

impl ClientFrame {
    /// The frame as one line of JSON.
    pub fn encode(&self) -> String {
        match self {
            ClientFrame::Join { token, resume, version } => Out::new("join")
                .str("token", token)
                .opt_str("resume", resume.as_deref())
                .num("version", u64::from(*version))
                .encode(),
            ClientFrame::KickAll { id } => Out::new("kickAll").num("id", *id).encode(),
            ClientFrame::Leave => Out::new("leave").encode(),
        }
    }

    /// Parses one frame; unknown fields are ignored so that newer clients can add optional ones.
    pub fn decode(text: &str) -> std::result::Result<Self, DecodeError> {
        let mut f = Fields::parse(text)?;
        match f.string("type")?.as_str() {
            "join" => Ok(ClientFrame::Join {
                token: f.string("token")?,
                resume: f.opt_string("resume")?,
                version: f.u32("version")?,
            }),
            "kickAll" => Ok(ClientFrame::KickAll { id: f.u64("id")? }),
            "leave" => Ok(ClientFrame::Leave),
            other => err(format!("unknown frame type `{other}`")),
        }
    }
}

impl ServerFrame {
    /// The frame as one line of JSON.
    pub fn encode(&self) -> String {
        match self {
            ServerFrame::Joined {
                session_id,
                meeting_id,
                self_participant,
                permissions,
                participants,
                participant_count,
                reconnected,
                heartbeat_ms,
            } => Out::new("joined")
                .str("sessionId", session_id)
                .str("meetingId", meeting_id)
                .set("self", self_participant.to_value())
                .set("permissions", permissions.to_value())
                .set("participants", Value::Array(participants.iter().map(Participant::to_value).collect()))
                .opt_num("participantCount", participant_count.map(u64::from))
                .bool("reconnected", *reconnected)
                .opt_num("heartbeatMs", heartbeat_ms.map(u64::from))
                .encode(),
            ServerFrame::ParticipantJoined { participant } => {
                Out::new("participantJoined").set("participant", participant.to_value()).encode()
            }
            ServerFrame::ParticipantLeft { participant_id } => {
                Out::new("participantLeft").str("participantId", participant_id).encode()
            }
            ServerFrame::PermissionsUpdate { preset_name, permissions } => Out::new("permissionsUpdate")
                .str("presetName", preset_name)
                .set("permissions", permissions.to_value())
                .encode(),
            ServerFrame::KickAllResult { id, session_id, kicked_count, already_ended } => Out::new("kickAllResult")
                .num("id", *id)
                .str("sessionId", session_id)
                .num("kickedCount", u64::from(*kicked_count))
                .bool("alreadyEnded", *already_ended)
                .encode(),
            ServerFrame::RoomLeft { state, session_id, reason, kicked_count, message } => Out::new("roomLeft")
                .str("state", state.as_str())
                .str("sessionId", session_id)
                .opt_str("reason", reason.map(EndReason::as_str))
                .opt_num("kickedCount", kicked_count.map(u64::from))
                .opt_str("message", message.as_deref())
                .encode(),
            ServerFrame::Ping => Out::new("ping").encode(),
            ServerFrame::Error { id, code, message } => {
                let out = Out::new("error").str("code", code.as_str()).str("message", message);
                match id {
                    Some(id) => out.num("id", *id),
                    None => out,
                }
                .encode()
            }
        }
    }

    /// Parses one frame; unknown fields are ignored so that newer servers can add optional ones.
    pub fn decode(text: &str) -> std::result::Result<Self, DecodeError> {
        let mut f = Fields::parse(text)?;
        match f.string("type")?.as_str() {
            "joined" => Ok(ServerFrame::Joined {
                session_id: f.string("sessionId")?,
                meeting_id: f.string("meetingId")?,
                self_participant: Participant::from_fields(f.object("self")?)?,
                permissions: Permissions::from_fields(f.object("permissions")?)?,
                participants: f
                    .array("participants")?
                    .into_iter()
                    .map(|v| Participant::from_fields(Fields::from_value(v, "participants[]")?))
                    .collect::<Result<_>>()?,
                participant_count: f.opt_u32("participantCount")?,
                reconnected: f.bool("reconnected")?,
                heartbeat_ms: f.opt_u32("heartbeatMs")?,
            }),
            "participantJoined" => {
                Ok(ServerFrame::ParticipantJoined { participant: Participant::from_fields(f.object("participant")?)? })
            }
            "participantLeft" => Ok(ServerFrame::ParticipantLeft { participant_id: f.string("participantId")? }),
            "permissionsUpdate" => Ok(ServerFrame::PermissionsUpdate {
                preset_name: f.string("presetName")?,
                permissions: Permissions::from_fields(f.object("permissions")?)?,
            }),
            "kickAllResult" => Ok(ServerFrame::KickAllResult {
                id: f.u64("id")?,
                session_id: f.string("sessionId")?,
                kicked_count: f.u32("kickedCount")?,
                already_ended: f.bool("alreadyEnded")?,
            }),
            "roomLeft" => {
                let state = f.string("state")?;
                let reason = f.opt_string("reason")?;
                Ok(ServerFrame::RoomLeft {
                    state: LeaveState::parse(&state)
                        .map_or_else(|| err(format!("unknown leave state `{state}`")), Ok)?,
                    session_id: f.string("sessionId")?,
                    reason: match reason {
                        None => None,
                        Some(r) => Some(EndReason::parse(&r).map_or_else(|| err(format!("unknown reason `{r}`")), Ok)?),
                    },
                    kicked_count: f.opt_u32("kickedCount")?,
                    message: f.opt_string("message")?,
                })
            }
            "ping" => Ok(ServerFrame::Ping),
            "error" => {
                let code = f.string("code")?;
                Ok(ServerFrame::Error {
                    id: f.opt_u64("id")?,
                    code: ErrorCode::parse(&code).map_or_else(|| err(format!("unknown error code `{code}`")), Ok)?,
                    message: f.string("message")?,
                })
            }
            other => err(format!("unknown frame type `{other}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn someone(id: &str) -> Participant {
        Participant {
            id: id.into(),
            name: format!("Name {id}"),
            custom_participant_id: format!("c-{id}"),
            preset_name: "group_call_participant".into(),
        }
    }

    #[test]
    fn every_client_frame_round_trips() {
        let frames = [
            ClientFrame::Join { token: "t".into(), resume: None, version: 1 },
            ClientFrame::Join { token: "t".into(), resume: Some("s-1".into()), version: 1 },
            ClientFrame::KickAll { id: u64::MAX },
            ClientFrame::Leave,
        ];
        for frame in frames {
            assert_eq!(ClientFrame::decode(&frame.encode()), Ok(frame));
        }
    }

    #[test]
    fn every_server_frame_round_trips() {
        let mut frames = vec![
            ServerFrame::Joined {
                session_id: "s".into(),
                meeting_id: "m".into(),
                self_participant: someone("a"),
                permissions: Permissions { kick_participant: true },
                participants: vec![someone("b"), someone("c")],
                participant_count: Some(250),
                reconnected: true,
                heartbeat_ms: Some(10_000),
            },
            ServerFrame::Joined {
                session_id: "s".into(),
                meeting_id: "m".into(),
                self_participant: someone("a"),
                permissions: Permissions { kick_participant: false },
                participants: vec![],
                participant_count: None,
                reconnected: false,
                heartbeat_ms: None,
            },
            ServerFrame::ParticipantJoined { participant: someone("d") },
            ServerFrame::ParticipantLeft { participant_id: "d".into() },
            ServerFrame::PermissionsUpdate {
                preset_name: "group_call_host".into(),
                permissions: Permissions { kick_participant: false },
            },
            ServerFrame::KickAllResult { id: 3, session_id: "s".into(), kicked_count: 10, already_ended: true },
            ServerFrame::Ping,
            ServerFrame::RoomLeft {
                state: LeaveState::Rejected,
                session_id: String::new(),
                reason: None,
                kicked_count: None,
                message: Some("the token was refreshed".into()),
            },
            ServerFrame::Error { id: None, code: ErrorCode::MalformedFrame, message: "bad \"quote\"".into() },
        ];
        for state in LeaveState::ALL {
            frames.push(ServerFrame::RoomLeft {
                state,
                session_id: "s".into(),
                reason: None,
                kicked_count: None,
                message: None,
            });
        }
        for code in ErrorCode::ALL {
            frames.push(ServerFrame::Error { id: Some(9), code, message: "m".into() });
        }
        frames.push(ServerFrame::RoomLeft {
            state: LeaveState::Ended,
            session_id: "s".into(),
            reason: Some(EndReason::AllParticipantsLeft),
            kicked_count: Some(4),
            message: None,
        });
        for frame in frames {
            assert_eq!(ServerFrame::decode(&frame.encode()), Ok(frame));
        }
    }

    #[test]
    fn bad_frames_name_what_is_wrong() {
        let cases = [
            ("not json", "frame is not valid JSON"),
            ("[1,2]", "frame must be a JSON object"),
            (r#"{"id":1}"#, "missing field `type`"),
            (r#"{"type":"dance"}"#, "unknown frame type `dance`"),
            (r#"{"type":"kickAll"}"#, "missing field `id`"),
            (r#"{"type":"kickAll","id":"1"}"#, "`id` must be a non-negative integer"),
            (r#"{"type":"kickAll","id":-1}"#, "`id` must be a non-negative integer"),
            (r#"{"type":"join","token":5,"version":1}"#, "`token` must be a string"),
            (r#"{"type":"join","token":"t","version":99999999999}"#, "`version` is too large"),
        ];
        for (text, message) in cases {
            assert_eq!(ClientFrame::decode(text), Err(DecodeError(message.into())), "{text}");
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert_eq!(
            ClientFrame::decode(r#"{"type":"kickAll","id":2,"reason":"bye"}"#),
            Ok(ClientFrame::KickAll { id: 2 })
        );
    }

    #[test]
    fn participant_count_is_optional_on_the_wire() {
        let old = r#"{"type":"joined","sessionId":"s","meetingId":"m","permissions":{"kickParticipant":false},
            "self":{"id":"a","name":"A","customParticipantId":"c","presetName":"p"},"participants":[],"reconnected":false}"#;
        match ServerFrame::decode(old) {
            Ok(ServerFrame::Joined { participant_count: None, .. }) => {}
            other => panic!("{other:?}"),
        }
        let big = old.replace(r#""participants":[]"#, r#""participants":[],"participantCount":4294967296"#);
        assert_eq!(ServerFrame::decode(&big), Err(DecodeError("`participantCount` is too large".into())));
        let text =
            ServerFrame::decode(&old.replace(r#""participants":[]"#, r#""participants":[],"participantCount":7"#))
                .unwrap()
                .encode();
        assert!(text.contains(r#""participantCount":7"#), "{text}");
    }

    #[test]
    fn codes_are_strings_like_realtimekit() {
        let text = ServerFrame::Error { id: Some(1), code: ErrorCode::PermissionDenied, message: "x".into() }.encode();
        assert!(text.contains(r#""code":"1201""#), "{text}");
        assert!(!ErrorCode::PermissionDenied.is_fatal());
        assert!(ErrorCode::MalformedFrame.is_fatal());
    }
}
