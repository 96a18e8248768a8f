//! Every conversion between Rust values and JavaScript values, and the few global functions the driver imports.
//!
//! Payloads are plain objects with camelCase keys, built with `Reflect.set`. Frames are parsed and printed by the
//! runtime's `JSON`, not by the protocol crate's codec: that keeps a JSON library, `BTreeMap` and float formatting
//! out of the browser payload (it has a size budget). The field names here must match `endsession_protocol`'s
//! codec; the wasm tests at the end of this file check every frame against it. Errors are plain `{code, message}`
//! objects; the TypeScript layer turns them into `ClientError`s.

use crate::{ClientError, Event, KickAllResult, Leave, Outcome};
use endsession_protocol::{ClientFrame, EndReason, ErrorCode, LeaveState, Participant, Permissions, ServerFrame};
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The global `setTimeout`: in windows, workers and Node alike (no `window` needed).
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &JsValue, ms: u32) -> JsValue;

    /// The global `clearTimeout`.
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);
}

/// A plain object with these properties.
fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object: JsValue = Object::new().into();
    for (key, value) in entries {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object
}

fn string(s: &str) -> JsValue {
    JsValue::from_str(s)
}

/// `{id, name, customParticipantId, presetName}`.
pub fn participant(p: &Participant) -> JsValue {
    object(&[
        ("id", string(&p.id)),
        ("name", string(&p.name)),
        ("customParticipantId", string(&p.custom_participant_id)),
        ("presetName", string(&p.preset_name)),
    ])
}

/// An array of [`participant`] objects.
pub fn participants<'a>(list: impl Iterator<Item = &'a Participant>) -> Array {
    let array = Array::new();
    for p in list {
        array.push(&participant(p));
    }
    array
}

/// The event name and its payload object.
pub fn event(event: &Event) -> (JsValue, JsValue) {
    let payload = match event {
        Event::RoomJoined { reconnected } => object(&[("reconnected", JsValue::from_bool(*reconnected))]),
        Event::RoomLeft(left) => leave(left),
        Event::PermissionsUpdate { kick_participant } => {
            object(&[("kickParticipant", JsValue::from_bool(*kick_participant))])
        }
        Event::ParticipantJoined(p) | Event::ParticipantLeft(p) => participant(p),
        Event::EndStateChange { state } => object(&[("state", string(state.as_str()))]),
    };
    (string(event.name()), payload)
}

/// The `roomLeft` payload: `{state, sessionId, reason}` (`reason`: the end's `HOST_ENDED_MEETING` or
/// `ALL_PARTICIPANTS_LEFT`, else `null`), plus `kickedCount` when the server counted an end, and `code`, `message`
/// when it gave them (a refused join).
pub fn leave(left: &Leave) -> JsValue {
    let reason = left.reason.map_or(JsValue::NULL, |r| string(r.as_str()));
    let payload =
        object(&[("state", string(left.state.as_str())), ("sessionId", string(&left.session_id)), ("reason", reason)]);
    let set = |key: &str, value: JsValue| Reflect::set(&payload, &string(key), &value);
    if let Some(n) = left.kicked_count {
        let _ = set("kickedCount", n.into());
    }
    if let Some(code) = left.code {
        let _ = set("code", string(code.as_str()));
    }
    if let Some(message) = &left.message {
        let _ = set("message", string(message));
    }
    payload
}

/// What a promise resolves with: `undefined` for `join()`, `{sessionId, kickedCount, alreadyEnded}` for `kickAll()`.
pub fn outcome(outcome: &Outcome) -> JsValue {
    match outcome {
        Outcome::Joined => JsValue::UNDEFINED,
        Outcome::KickAll(KickAllResult { session_id, kicked_count, already_ended }) => object(&[
            ("sessionId", string(session_id)),
            ("kickedCount", JsValue::from(*kicked_count)),
            ("alreadyEnded", JsValue::from_bool(*already_ended)),
        ]),
    }
}

/// `{code, message}`.
pub fn error(error: &ClientError) -> JsValue {
    object(&[("code", string(&error.code)), ("message", string(&error.message))])
}

/// The text of a `message` event, if it is a text frame.
pub fn text(data: &JsValue) -> Option<String> {
    data.as_string()
}

/// A client frame as JSON text.
pub fn client_frame(frame: &ClientFrame) -> String {
    let object = match frame {
        ClientFrame::Join { token, resume, version } => {
            let object =
                object(&[("type", string("join")), ("token", string(token)), ("version", JsValue::from(*version))]);
            if let Some(resume) = resume {
                let _ = Reflect::set(&object, &string("resume"), &string(resume));
            }
            object
        }
        ClientFrame::KickAll { id, .. } => object(&[("type", string("kickAll")), ("id", JsValue::from(*id as f64))]),
        ClientFrame::CancelEnd { id } => object(&[("type", string("cancelEnd")), ("id", JsValue::from(*id as f64))]),
        ClientFrame::Leave => object(&[("type", string("leave"))]),
    };
    JSON::stringify(&object).map(String::from).unwrap_or_default()
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &string(key)).unwrap_or(JsValue::UNDEFINED)
}

fn text_field(object: &JsValue, key: &str) -> Option<String> {
    get(object, key).as_string()
}

fn bool_field(object: &JsValue, key: &str) -> Option<bool> {
    get(object, key).as_bool()
}

/// A non-negative integer that JSON numbers carry exactly.
fn u64_field(object: &JsValue, key: &str) -> Option<u64> {
    let n = get(object, key).as_f64()?;
    let exact = (0.0..=9_007_199_254_740_991.0).contains(&n) && n == (n as u64) as f64;
    exact.then_some(n as u64)
}

fn participant_from(value: &JsValue) -> Option<Participant> {
    Some(Participant {
        id: text_field(value, "id")?,
        name: text_field(value, "name")?,
        custom_participant_id: text_field(value, "customParticipantId")?,
        preset_name: text_field(value, "presetName")?,
    })
}

fn permissions_from(value: &JsValue) -> Option<Permissions> {
    Some(Permissions { kick_participant: bool_field(value, "kickParticipant")? })
}

/// Parses a server frame from JSON text; `None` for anything that is not one (it is then ignored).
pub fn server_frame(text: &str) -> Option<ServerFrame> {
    let v = JSON::parse(text).ok()?;
    if !v.is_object() {
        return None;
    }
    Some(match text_field(&v, "type")?.as_str() {
        "joined" => {
            let list = get(&v, "participants");
            if !Array::is_array(&list) {
                return None;
            }
            ServerFrame::Joined {
                session_id: text_field(&v, "sessionId")?,
                meeting_id: text_field(&v, "meetingId")?,
                self_participant: participant_from(&get(&v, "self"))?,
                permissions: permissions_from(&get(&v, "permissions"))?,
                participants: list
                    .unchecked_into::<Array>()
                    .iter()
                    .map(|p| participant_from(&p))
                    .collect::<Option<_>>()?,
                // Tells the machine whether `participants` is everyone or a large session's first few.
                participant_count: u64_field(&v, "participantCount").and_then(|n| u32::try_from(n).ok()),
                reconnected: bool_field(&v, "reconnected")?,
                heartbeat_ms: u64_field(&v, "heartbeatMs").and_then(|n| u32::try_from(n).ok()),
            }
        }
        "participantJoined" => {
            ServerFrame::ParticipantJoined { participant: participant_from(&get(&v, "participant"))? }
        }
        "participantLeft" => ServerFrame::ParticipantLeft { participant_id: text_field(&v, "participantId")? },
        "permissionsUpdate" => ServerFrame::PermissionsUpdate {
            preset_name: text_field(&v, "presetName")?,
            permissions: permissions_from(&get(&v, "permissions"))?,
        },
        "kickAllResult" => ServerFrame::KickAllResult {
            id: u64_field(&v, "id")?,
            session_id: text_field(&v, "sessionId")?,
            kicked_count: u32::try_from(u64_field(&v, "kickedCount")?).ok()?,
            already_ended: bool_field(&v, "alreadyEnded")?,
        },
        "roomLeft" => ServerFrame::RoomLeft {
            state: LeaveState::parse(&text_field(&v, "state")?)?,
            session_id: text_field(&v, "sessionId")?,
            reason: match text_field(&v, "reason") {
                Some(reason) => Some(EndReason::parse(&reason)?),
                None => None,
            },
            kicked_count: u64_field(&v, "kickedCount").and_then(|n| u32::try_from(n).ok()),
            message: text_field(&v, "message"),
            // endedBy is not read yet (the client half of issue 13 comes later); eventId is a plain string.
            ended_by: None,
            event_id: text_field(&v, "eventId"),
        },
        "ping" => ServerFrame::Ping,
        "error" => ServerFrame::Error {
            id: u64_field(&v, "id"),
            code: ErrorCode::parse(&text_field(&v, "code")?)?,
            message: text_field(&v, "message")?,
        },
        _ => return None,
    })
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use endsession_protocol::fixtures;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn client_frames_decode_as_the_protocol_fixtures_say() {
        for (text, frame) in fixtures::client_frames() {
            let sent = client_frame(&frame);
            assert_eq!(ClientFrame::decode(&sent).as_ref(), Ok(&frame), "{sent}");
            assert_eq!(ClientFrame::decode(text), ClientFrame::decode(&sent), "{text}");
        }
    }

    #[wasm_bindgen_test]
    fn server_frames_decode_as_the_protocol_fixtures_say() {
        for (text, frame) in fixtures::server_frames().into_iter().chain(fixtures::server_frames_read_only()) {
            assert_eq!(server_frame(text), Some(frame), "{text}");
        }
    }

    #[wasm_bindgen_test]
    fn the_roomleft_payload_has_the_why_that_applies() {
        let json = |left: &Leave| String::from(JSON::stringify(&leave(left)).unwrap());
        let mut ended = Leave::new(LeaveState::Ended, "s-1");
        (ended.reason, ended.kicked_count) = (Some(EndReason::HostEndedMeeting), Some(3));
        assert_eq!(
            json(&ended),
            r#"{"state":"ended","sessionId":"s-1","reason":"HOST_ENDED_MEETING","kickedCount":3}"#
        );
        let mut rejected = Leave::new(LeaveState::Rejected, "");
        (rejected.code, rejected.message) = (Some(ErrorCode::MeetingInactive), Some("closed".into()));
        assert_eq!(
            json(&rejected),
            r#"{"state":"rejected","sessionId":"","reason":null,"code":"4030","message":"closed"}"#
        );
        assert_eq!(
            json(&Leave::new(LeaveState::Disconnected, "s-1")),
            r#"{"state":"disconnected","sessionId":"s-1","reason":null}"#
        );
    }

    #[wasm_bindgen_test]
    fn junk_is_not_a_frame() {
        for text in fixtures::not_server_frames() {
            assert_eq!(server_frame(text), None, "{text}");
        }
    }
}
