//! Every conversion between Rust values and JavaScript values, and the few global functions the driver imports.
//!
//! To JavaScript, values cross with `serde-wasm-bindgen` from the typed structs of the core and the protocol
//! ([`Event`] payloads, [`crate::Leave`], [`Participants`], [`crate::KickAllResult`], [`ClientError`], client frames):
//! plain objects with camelCase keys, `None` as `null` unless the struct leaves the field out. Errors are plain
//! `{code, message}` objects; the TypeScript layer turns them into `ClientError`s.
//!
//! From JavaScript, server frames are read by hand from the runtime's `JSON.parse` output ([`server_frame`]), as the
//! protocol's fixtures say they look. Hand-written because any serde `Deserialize` costs the payload its budget:
//! serde's type errors format `Unexpected::Float` (core's float printing, ~14 KB of wasm) and the `"type"`-tagged
//! frames buffer through serde's `Content`. `bench/size`, core payload gzip -9 (budget 32,768), measured with
//! serde-wasm-bindgen outbound but before the default allocator and wasm-bindgen-futures: this decoder 30,466;
//! `serde_wasm_bindgen::from_value(JSON.parse(text))` 66,635; `serde_json::from_str` 71,261.

use crate::core::{ClientError, Event, Outcome, Participants, SessionEnding};
use endsession_protocol::{
    ClientFrame, EndReason, EndedBy, ErrorCode, LeaveState, Participant, Permissions, ServerFrame,
};
use js_sys::{Array, Reflect, JSON};
use serde::Serialize;
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

/// `value` as a JavaScript value: structs as plain objects, sequences as arrays, `None` as `null`.
fn to_js(value: &impl Serialize) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true);
    // Cannot fail for the values here: string keys, and numbers within JavaScript's safe integers (u32s).
    value.serialize(&serializer).unwrap_or(JsValue::UNDEFINED)
}

/// The others in the session: `[{id, name, customParticipantId, presetName}]`.
pub fn participants(list: &Participants) -> Array {
    to_js(list).unchecked_into()
}

/// The event name and its payload object (see [`Event`]).
pub fn event(event: &Event) -> (JsValue, JsValue) {
    (JsValue::from_str(event.name()), to_js(event))
}

/// What a promise resolves with: `undefined` for `join()`, `{sessionId, kickedCount, alreadyEnded}` (+ `endsAt` for a
/// countdown) for `kickAll()`, `{cancelled}` for `cancelEnd()`.
pub fn outcome(outcome: &Outcome) -> JsValue {
    match outcome {
        Outcome::Joined => JsValue::UNDEFINED,
        Outcome::KickAll(result) => to_js(result),
        Outcome::CancelEnd(result) => to_js(result),
    }
}

/// The countdown running now, as its `sessionEnding` payload said; `null` when none runs.
pub fn session_ending(ending: Option<&SessionEnding>) -> JsValue {
    ending.map_or(JsValue::NULL, to_js)
}

/// `{code, message}`.
pub fn error(error: &ClientError) -> JsValue {
    to_js(error)
}

/// The text of a `message` event, if it is a text frame.
pub fn text(data: &JsValue) -> Option<String> {
    data.as_string()
}

/// A client frame as JSON text.
pub fn client_frame(frame: &ClientFrame) -> String {
    JSON::stringify(&to_js(frame)).map(String::from).unwrap_or_default()
}

fn string(s: &str) -> JsValue {
    JsValue::from_str(s)
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

/// `{api: true}` or `{id, name, customParticipantId}`; `None` when absent or neither (a who that does not read is
/// left out rather than losing the frame that carries it).
fn ended_by_from(value: &JsValue) -> Option<EndedBy> {
    if !value.is_object() {
        return None;
    }
    if bool_field(value, "api") == Some(true) {
        return Some(EndedBy::api());
    }
    Some(EndedBy::Participant {
        id: text_field(value, "id")?,
        name: text_field(value, "name")?,
        custom_participant_id: text_field(value, "customParticipantId")?,
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
            ended_by: ended_by_from(&get(&v, "endedBy")),
            event_id: text_field(&v, "eventId"),
        },
        "kickAllScheduled" => ServerFrame::KickAllScheduled {
            id: u64_field(&v, "id")?,
            session_id: text_field(&v, "sessionId")?,
            ends_at: text_field(&v, "endsAt")?,
        },
        "sessionEnding" => ServerFrame::SessionEnding {
            session_id: text_field(&v, "sessionId")?,
            ends_at: text_field(&v, "endsAt")?,
            remaining_ms: u64_field(&v, "remainingMs")?,
            reason: EndReason::parse(&text_field(&v, "reason")?)?,
            ended_by: ended_by_from(&get(&v, "endedBy")),
            message: text_field(&v, "message"),
        },
        "sessionEndCancelled" => ServerFrame::SessionEndCancelled {
            session_id: text_field(&v, "sessionId")?,
            cancelled_by: ended_by_from(&get(&v, "cancelledBy")),
        },
        "cancelEndResult" => {
            ServerFrame::CancelEndResult { id: u64_field(&v, "id")?, cancelled: bool_field(&v, "cancelled")? }
        }
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
    use crate::{CancelEndResult, EndState, KickAllResult, Leave, LeaveState};
    use endsession_protocol::{fixtures, EndReason, EndedBy, ErrorCode, Participant};
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn client_frames_decode_as_the_protocol_fixtures_say() {
        for (text, frame) in fixtures::client_frames().into_iter().chain(fixtures::end_client_frames()) {
            assert_eq!(client_frame(&frame), text);
        }
    }

    #[wasm_bindgen_test]
    fn server_frames_decode_as_the_protocol_fixtures_say() {
        let all = fixtures::server_frames().into_iter().chain(fixtures::server_frames_read_only());
        for (text, frame) in all.chain(fixtures::end_server_frames()) {
            assert_eq!(server_frame(text), Some(frame), "{text}");
        }
    }

    #[wasm_bindgen_test]
    fn the_roomleft_payload_has_the_why_that_applies() {
        let json = |left: &Leave| String::from(JSON::stringify(&event(&Event::RoomLeft(left.clone())).1).unwrap());
        let mut ended = Leave::new(LeaveState::Ended, "s-1");
        (ended.reason, ended.kicked_count) = (Some(EndReason::HostEndedMeeting), Some(3));
        assert_eq!(
            json(&ended),
            r#"{"state":"ended","sessionId":"s-1","reason":"HOST_ENDED_MEETING","kickedCount":3}"#
        );
        let mut record = ended.clone();
        record.message = Some("Thanks, all".into());
        record.ended_by =
            Some(EndedBy::Participant { id: "a".into(), name: "Ann".into(), custom_participant_id: "c".into() });
        record.event_id = Some("e-1".into());
        assert_eq!(
            json(&record),
            concat!(
                r#"{"state":"ended","sessionId":"s-1","reason":"HOST_ENDED_MEETING","kickedCount":3,"#,
                r#""message":"Thanks, all","endedBy":{"id":"a","name":"Ann","customParticipantId":"c"},"eventId":"e-1"}"#
            )
        );
        record.ended_by = Some(EndedBy::api());
        assert!(json(&record).contains(r#""endedBy":{"api":true}"#));
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

    fn json(value: &JsValue) -> String {
        JSON::stringify(value).unwrap().into()
    }

    #[wasm_bindgen_test]
    fn every_payload_has_its_javascript_shape() {
        let ann = Participant {
            id: "a".into(),
            name: "Ann".into(),
            custom_participant_id: "c".into(),
            preset_name: "group_call_host".into(),
        };
        let payload = |e: Event| json(&event(&e).1);
        assert_eq!(payload(Event::RoomJoined { reconnected: true }), r#"{"reconnected":true}"#);
        assert_eq!(payload(Event::PermissionsUpdate { kick_participant: false }), r#"{"kickParticipant":false}"#);
        let ann_json = r#"{"id":"a","name":"Ann","customParticipantId":"c","presetName":"group_call_host"}"#;
        assert_eq!(payload(Event::ParticipantJoined(ann.clone())), ann_json);
        assert_eq!(payload(Event::ParticipantLeft(ann.clone())), ann_json);
        assert_eq!(payload(Event::EndStateChange { state: EndState::NoPermission }), r#"{"state":"no-permission"}"#);
        let ended = EndState::Left(LeaveState::Ended);
        assert_eq!(payload(Event::EndStateChange { state: ended }), r#"{"state":"ended"}"#);
        assert_eq!(event(&Event::RoomJoined { reconnected: true }).0, "roomJoined");
        let ending = SessionEnding {
            session_id: "s-1".into(),
            ends_at: "2026-11-30T00:00:30.000Z".into(),
            remaining_ms: 2000,
            reason: EndReason::HostEndedMeeting,
            ended_by: Some(EndedBy::api()),
            message: Some("bye".into()),
        };
        let ending_json = concat!(
            r#"{"sessionId":"s-1","endsAt":"2026-11-30T00:00:30.000Z","remainingMs":2000,"#,
            r#""reason":"HOST_ENDED_MEETING","endedBy":{"api":true},"message":"bye"}"#
        );
        assert_eq!(payload(Event::SessionEnding(ending.clone())), ending_json);
        assert_eq!(json(&session_ending(Some(&ending))), ending_json);
        assert!(session_ending(None).is_null());
        assert_eq!(
            payload(Event::SessionEndCancelled { session_id: "s-1".into(), cancelled_by: None }),
            r#"{"sessionId":"s-1"}"#
        );
        let by = Some(EndedBy::api());
        assert_eq!(
            payload(Event::SessionEndCancelled { session_id: "s-1".into(), cancelled_by: by }),
            r#"{"sessionId":"s-1","cancelledBy":{"api":true}}"#
        );

        let mut joined = Participants::default();
        assert_eq!(json(&participants(&joined)), "[]");
        joined.insert(ann);
        assert!(Array::is_array(&participants(&joined)));
        assert_eq!(json(&participants(&joined)), format!("[{ann_json}]"));

        let result = KickAllResult { session_id: "s-1".into(), kicked_count: 4, already_ended: false, ends_at: None };
        assert_eq!(
            json(&outcome(&Outcome::KickAll(result))),
            r#"{"sessionId":"s-1","kickedCount":4,"alreadyEnded":false}"#
        );
        let scheduled = KickAllResult {
            session_id: "s-1".into(),
            kicked_count: 0,
            already_ended: false,
            ends_at: Some("2026-11-30T00:00:30.000Z".into()),
        };
        assert_eq!(
            json(&outcome(&Outcome::KickAll(scheduled))),
            r#"{"sessionId":"s-1","kickedCount":0,"alreadyEnded":false,"endsAt":"2026-11-30T00:00:30.000Z"}"#
        );
        assert_eq!(json(&outcome(&Outcome::CancelEnd(CancelEndResult { cancelled: true }))), r#"{"cancelled":true}"#);
        assert!(outcome(&Outcome::Joined).is_undefined());
        assert_eq!(
            json(&error(&ClientError::room_left())),
            format!(r#"{{"code":"4902","message":"{}"}}"#, ClientError::room_left().message)
        );
    }

    #[wasm_bindgen_test]
    fn junk_is_not_a_frame() {
        for text in fixtures::not_server_frames() {
            assert_eq!(server_frame(text), None, "{text}");
        }
    }
}
