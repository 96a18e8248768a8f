//! Every conversion between Rust values and JavaScript values, and the few global functions the driver imports.
//!
//! To JavaScript, values cross with `serde-wasm-bindgen` from the typed structs of the core and the protocol
//! ([`Event`] payloads, [`crate::Leave`], [`Participants`], [`crate::KickAllResult`], [`ClientError`], client frames):
//! plain objects with camelCase keys, `None` as `null` unless the struct leaves the field out. Errors are plain
//! `{code, message}` objects; the TypeScript layer turns them into `ClientError`s.
//!
//! From JavaScript, server frames are read by hand from the runtime's `JSON.parse` output ([`server_frame`], called
//! on the `message` event's `data` as it is: the text is never copied into Rust), as the protocol's fixtures say they
//! look. Hand-written because any serde `Deserialize` costs the payload its budget:
//! serde's type errors format `Unexpected::Float` (core's float printing, ~14 KB of wasm) and the `"type"`-tagged
//! frames buffer through serde's `Content`. `bench/size`, core payload gzip -9 (budget 32,768), measured with
//! serde-wasm-bindgen outbound but before the default allocator and wasm-bindgen-futures: this decoder 30,466;
//! `serde_wasm_bindgen::from_value(JSON.parse(text))` 66,635; `serde_json::from_str` 71,261.

use crate::core::{ClientError, Event, Outcome, Participants, SessionEnding};
use endsession_protocol::{
    ClientFrame, EndReason, EndedBy, ErrorCode, LeaveState, Participant, Permissions, RunningCountdown, ServerFrame,
};
use js_sys::{Array, JSON};
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

/// A client frame as JSON text.
pub fn client_frame(frame: &ClientFrame) -> String {
    JSON::stringify(&to_js(frame)).map(String::from).unwrap_or_default()
}

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse(data)`: a `message` event's `data` as it is. A text frame is a string; anything else (a binary
    /// frame's `ArrayBuffer` or `Blob`) is coerced to a string such as `"[object Blob]"`, which is no JSON.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn parse(data: &JsValue) -> Result<JsValue, JsValue>;

    /// An object of `JSON.parse`'s output, read by key (plain data: no getter that could throw).
    type Fields;

    #[wasm_bindgen(method, indexing_getter)]
    fn at(this: &Fields, key: &str) -> JsValue;
}

/// `object[key]`; `undefined` when `object` is no object (`JSON.parse` made it, so reading it runs no code).
#[inline(never)]
fn get(object: &JsValue, key: &str) -> JsValue {
    if object.is_object() {
        object.unchecked_ref::<Fields>().at(key)
    } else {
        JsValue::UNDEFINED
    }
}

fn text_field(object: &JsValue, key: &str) -> Option<String> {
    get(object, key).as_string()
}

fn bool_field(object: &JsValue, key: &str) -> Option<bool> {
    get(object, key).as_bool()
}

/// A non-negative integer that JSON numbers carry exactly.
#[inline(never)]
fn u64_field(object: &JsValue, key: &str) -> Option<u64> {
    let n = get(object, key).as_f64()?;
    let exact = (0.0..=9_007_199_254_740_991.0).contains(&n) && n == (n as u64) as f64;
    exact.then_some(n as u64)
}

fn u32_field(object: &JsValue, key: &str) -> Option<u32> {
    u64_field(object, key).and_then(|n| u32::try_from(n).ok())
}

/// Reads the fields of one frame. A field the frame needs that is missing or of the wrong type marks the frame bad
/// rather than returning at once: the frame is built whole and dropped in one place if bad, instead of one drop of
/// the fields read so far at every field (the payload's budget: `bench/size`).
struct Reader {
    ok: bool,
}

impl Reader {
    /// `value`, or `fallback` with the frame marked bad.
    fn need<T>(&mut self, value: Option<T>, fallback: T) -> T {
        self.ok &= value.is_some();
        value.unwrap_or(fallback)
    }

    #[inline(never)]
    fn text(&mut self, object: &JsValue, key: &str) -> String {
        let text = text_field(object, key);
        self.need(text, String::new())
    }

    fn flag(&mut self, object: &JsValue, key: &str) -> bool {
        let flag = bool_field(object, key);
        self.need(flag, false)
    }

    fn id(&mut self, object: &JsValue) -> u64 {
        let id = u64_field(object, "id");
        self.need(id, 0)
    }

    #[inline(never)]
    fn participant(&mut self, value: &JsValue) -> Participant {
        Participant {
            id: self.text(value, "id"),
            name: self.text(value, "name"),
            custom_participant_id: self.text(value, "customParticipantId"),
            preset_name: self.text(value, "presetName"),
        }
    }

    fn permissions(&mut self, object: &JsValue) -> Permissions {
        Permissions { kick_participant: self.flag(&get(object, "permissions"), "kickParticipant") }
    }

    /// A countdown's fields: a `sessionEnding` frame's, or `joined`'s `sessionEnding` (absent there is `None`; one
    /// that is there must read as a whole).
    #[inline(never)]
    fn running_countdown(&mut self, value: &JsValue) -> RunningCountdown {
        RunningCountdown {
            ends_at: self.text(value, "endsAt"),
            remaining_ms: {
                let ms = u64_field(value, "remainingMs");
                self.need(ms, 0)
            },
            reason: {
                let reason = self.reason(value);
                self.need(reason, EndReason::NoHost)
            },
            ended_by: ended_by_from(&get(value, "endedBy")),
            message: text_field(value, "message"),
        }
    }

    /// `reason`: absent (or not a string) is `None`; a string that names no [`EndReason`] marks the frame bad.
    fn reason(&mut self, object: &JsValue) -> Option<EndReason> {
        let reason = EndReason::parse(&text_field(object, "reason")?);
        self.ok &= reason.is_some();
        reason
    }
}

/// `{api: true}` or `{id, name, customParticipantId}`; `None` when absent or neither (a who that does not read is
/// left out rather than losing the frame that carries it).
#[inline(never)]
fn ended_by_from(value: &JsValue) -> Option<EndedBy> {
    if bool_field(value, "api") == Some(true) {
        return Some(EndedBy::api());
    }
    Some(EndedBy::Participant {
        id: text_field(value, "id")?,
        name: text_field(value, "name")?,
        custom_participant_id: text_field(value, "customParticipantId")?,
    })
}

/// Reads a server frame from a `message` event's `data`; `None` for anything that is not one (it is then ignored).
pub fn server_frame(data: &JsValue) -> Option<ServerFrame> {
    let v = parse(data).ok()?;
    let mut r = Reader { ok: true };
    let frame = match text_field(&v, "type")?.as_str() {
        "joined" => {
            let list = get(&v, "participants");
            let list = if Array::is_array(&list) { list.unchecked_into() } else { r.need(None, Array::new()) };
            ServerFrame::Joined {
                session_id: r.text(&v, "sessionId"),
                meeting_id: r.text(&v, "meetingId"),
                self_participant: r.participant(&get(&v, "self")),
                permissions: r.permissions(&v),
                participants: list.iter().map(|p| r.participant(&p)).collect(),
                // Tells the machine whether `participants` is everyone or a large session's first few.
                participant_count: u32_field(&v, "participantCount"),
                reconnected: r.flag(&v, "reconnected"),
                heartbeat_ms: u32_field(&v, "heartbeatMs"),
                session_ending: {
                    let running = get(&v, "sessionEnding");
                    running.is_object().then(|| r.running_countdown(&running))
                },
            }
        }
        "participantJoined" => ServerFrame::ParticipantJoined { participant: r.participant(&get(&v, "participant")) },
        "participantLeft" => ServerFrame::ParticipantLeft { participant_id: r.text(&v, "participantId") },
        "permissionsUpdate" => {
            ServerFrame::PermissionsUpdate { preset_name: r.text(&v, "presetName"), permissions: r.permissions(&v) }
        }
        "kickAllResult" => ServerFrame::KickAllResult {
            id: r.id(&v),
            session_id: r.text(&v, "sessionId"),
            kicked_count: {
                let count = u32_field(&v, "kickedCount");
                r.need(count, 0)
            },
            already_ended: r.flag(&v, "alreadyEnded"),
        },
        "roomLeft" => ServerFrame::RoomLeft {
            state: {
                let state = text_field(&v, "state").and_then(|s| LeaveState::parse(&s));
                r.need(state, LeaveState::Left)
            },
            session_id: r.text(&v, "sessionId"),
            reason: r.reason(&v),
            kicked_count: u32_field(&v, "kickedCount"),
            message: text_field(&v, "message"),
            ended_by: ended_by_from(&get(&v, "endedBy")),
            event_id: text_field(&v, "eventId"),
        },
        "kickAllScheduled" => ServerFrame::KickAllScheduled {
            id: r.id(&v),
            session_id: r.text(&v, "sessionId"),
            ends_at: r.text(&v, "endsAt"),
        },
        "sessionEnding" => {
            let session_id = r.text(&v, "sessionId");
            let RunningCountdown { ends_at, remaining_ms, reason, ended_by, message } = r.running_countdown(&v);
            ServerFrame::SessionEnding { session_id, ends_at, remaining_ms, reason, ended_by, message }
        }
        "sessionEndCancelled" => ServerFrame::SessionEndCancelled {
            session_id: r.text(&v, "sessionId"),
            cancelled_by: ended_by_from(&get(&v, "cancelledBy")),
        },
        "cancelEndResult" => ServerFrame::CancelEndResult { id: r.id(&v), cancelled: r.flag(&v, "cancelled") },
        "ping" => ServerFrame::Ping,
        "error" => ServerFrame::Error {
            id: u64_field(&v, "id"),
            code: {
                let code = text_field(&v, "code").and_then(|c| ErrorCode::parse(&c));
                r.need(code, ErrorCode::MalformedFrame)
            },
            message: r.text(&v, "message"),
        },
        _ => return None,
    };
    r.ok.then_some(frame)
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
            assert_eq!(server_frame(&text.into()), Some(frame), "{text}");
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
            assert_eq!(server_frame(&text.into()), None, "{text}");
        }
        // A needed object or array of another type, read without throwing.
        let joined = r#"{"type":"joined","sessionId":"s","meetingId":"m","permissions":{"kickParticipant":true},"reconnected":false"#;
        let ann = r#"{"id":"a","name":"A","customParticipantId":"c","presetName":"p"}"#;
        for rest in [
            format!(r#","self":{ann},"participants":{{}}}}"#),
            format!(r#","self":{ann},"participants":[{ann},null]}}"#),
            r#","self":"a","participants":[]}"#.to_string(),
            format!(r#","self":{ann},"participants":[],"permissions":5}}"#),
        ] {
            let text = format!("{joined}{rest}");
            assert_eq!(server_frame(&text.as_str().into()), None, "{text}");
        }
        assert!(server_frame(&format!("{joined},\"self\":{ann},\"participants\":[{ann}]}}").as_str().into()).is_some());
        // Binary frames and non-JSON data.
        for data in [js_sys::ArrayBuffer::new(4).into(), JsValue::from(5), JsValue::NULL, "[]".into(), "nope".into()] {
            assert_eq!(server_frame(&data), None);
        }
    }
}
