//! The frames as JSON text, with `serde_json`: [`ClientFrame::encode`], [`ServerFrame::decode`] and the rest are thin
//! wrappers over the serde derives in `frames`, plus [`DecodeError`], whose message names the field at fault.

#[cfg(test)]
use crate::frames::ErrorCode;
use crate::frames::{ClientFrame, ServerFrame};
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use serde_json::Value;
use std::fmt;

/// Why a frame could not be decoded. The message names the field, so a client author can fix their frame:
/// `` `id` must be a non-negative integer ``, `` missing field `token` ``, `` unknown frame type `dance` ``,
/// `frame is not valid JSON: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl ClientFrame {
    /// The frame as one line of JSON.
    pub fn encode(&self) -> String {
        encode(self)
    }

    /// Parses one frame. Unknown fields are ignored so that newer clients can add optional ones — except in
    /// `kickAll`, whose options change what an irreversible end does: there an unknown field (a misspelt
    /// `grace_seconds`, an option this server does not have) is refused by name rather than dropped into an end now.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        let frame = decode(text)?;
        if let ClientFrame::KickAll { .. } = frame {
            refuse_unknown_fields(text, &["type", "id", "message", "lock", "graceSeconds"])?;
        }
        Ok(frame)
    }
}

/// [`DecodeError`] naming the first member of the object `text` that is not in `known`.
fn refuse_unknown_fields(text: &str, known: &[&str]) -> Result<(), DecodeError> {
    use serde::de::IgnoredAny;
    // The text already decoded as a frame, so it is an object; its values are skipped, not built.
    let members: std::collections::BTreeMap<String, IgnoredAny> =
        serde_json::from_str(text).map_err(|e| DecodeError(format!("frame is not valid JSON: {e}")))?;
    match members.keys().find(|name| !known.contains(&name.as_str())) {
        Some(name) => Err(DecodeError(format!(
            "`{name}` is not a kickAll option (the options are `message`, `lock` and `graceSeconds`)"
        ))),
        None => Ok(()),
    }
}

impl ServerFrame {
    /// The frame as one line of JSON.
    pub fn encode(&self) -> String {
        encode(self)
    }

    /// Parses one frame; unknown fields are ignored so that newer servers can add optional ones.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode(text)
    }
}

fn encode(frame: &impl serde::Serialize) -> String {
    // Cannot fail: every map key is a string and no value has a fallible `Serialize`.
    serde_json::to_string(frame).expect("a frame always serializes")
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    serde_json::from_str(text).map_err(|e| explain::<T>(text, &e))
}

/// How many trial decodes [`explain`] may spend looking for the field at fault: a bound on the work a bad frame can
/// cost (frames have under ten fields; a frame with hundreds gets serde's message without the field's name).
const SEARCH_BUDGET: u32 = 48;

/// Turns serde's error into one that names the field at fault.
///
/// Hand-written because serde cannot say it: an internally tagged enum (`"type"`) buffers the object before it
/// knows the variant, so its field errors carry no field name and `serde_path_to_error` sees no path either. Only
/// for a frame already refused, the field is found by trial: the member whose removal changes the error is the one
/// it is about (the `type` member, checked first by serde, is never a candidate).
fn explain<T: DeserializeOwned>(text: &str, error: &serde_json::Error) -> DecodeError {
    if error.classify() != Category::Data {
        return DecodeError(format!("frame is not valid JSON: {error}"));
    }
    let root = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => return DecodeError("frame must be a JSON object".into()),
        Err(e) => return DecodeError(format!("frame is not valid JSON: {e}")),
    };
    match root.get("type") {
        Some(Value::String(_)) => {}
        None => return DecodeError("missing field `type`".into()),
        Some(_) => return DecodeError("`type` must be a string".into()),
    }
    let root = Value::Object(root);
    // The same error without a position, from the parsed value (the trials below decode values too).
    let Some(message) = error_of::<T>(&root) else {
        // Only the text fails: a duplicate field, which the parsed value no longer has.
        return DecodeError(without_position(error));
    };
    let mut budget = SEARCH_BUDGET;
    let path = at_fault::<T>(&root, &message, &mut budget);
    if path.is_empty() {
        if let Some(variant) = message.strip_prefix("unknown variant `") {
            // Not about any member but `type`: the frame's kind.
            let kind = variant.split('`').next().unwrap_or_default();
            return DecodeError(format!("unknown frame type `{kind}`"));
        }
        return DecodeError(message);
    }
    DecodeError(name_field(&path, &message))
}

/// serde's message when `value` does not decode as `T`.
fn error_of<T: DeserializeOwned>(value: &Value) -> Option<String> {
    serde_json::from_value::<T>(value.clone()).err().map(|e| e.to_string())
}

fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix).map_or(text.clone(), str::to_string)
}

/// One step of a path into a frame: an object member or an array element.
enum Step {
    Key(String),
    Index(usize),
}

/// The path of the deepest member whose removal changes `message`; empty if none does (within `budget` trials).
fn at_fault<T: DeserializeOwned>(root: &Value, message: &str, budget: &mut u32) -> Vec<Step> {
    let mut path = Vec::new();
    loop {
        let Some(here) = follow(root, &path) else { return path };
        let steps: Vec<Step> = match here {
            Value::Object(fields) => fields
                .keys()
                .filter(|key| !(path.is_empty() && key.as_str() == "type"))
                .map(|key| Step::Key(key.clone()))
                .collect(),
            Value::Array(items) => (0..items.len()).map(Step::Index).collect(),
            _ => return path,
        };
        let mut deeper = None;
        for step in steps {
            if *budget == 0 {
                return path;
            }
            *budget -= 1;
            let mut trial = root.clone();
            remove(&mut trial, &path, &step);
            if error_of::<T>(&trial).as_deref() != Some(message) {
                deeper = Some(step);
                break;
            }
        }
        match deeper {
            Some(step) => path.push(step),
            None => return path,
        }
    }
}

fn follow<'a>(root: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.get(key.as_str()),
        Step::Index(i) => value.get(*i),
    })
}

fn remove(root: &mut Value, path: &[Step], step: &Step) {
    let parent = path.iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.get_mut(key.as_str()),
        Step::Index(i) => value.get_mut(*i),
    });
    match (parent, step) {
        (Some(Value::Object(fields)), Step::Key(key)) => drop(fields.remove(key)),
        (Some(Value::Array(items)), Step::Index(i)) => drop(items.remove(*i)),
        _ => {}
    }
}

/// `` `self.name` must be a string `` from serde's `invalid type: integer `5`, expected a string`.
fn name_field(path: &[Step], message: &str) -> String {
    let mut field = String::new();
    for step in path {
        match step {
            Step::Key(key) if field.is_empty() => field.push_str(key),
            Step::Key(key) => field.push_str(&format!(".{key}")),
            Step::Index(i) => field.push_str(&format!("[{i}]")),
        }
    }
    let expected = message.rsplit(", expected ").next().unwrap_or_default();
    let integer = matches!(expected, "u64" | "u32" | "u16" | "u8");
    let rule = if message.starts_with("invalid value: integer `-") || (integer && message.starts_with("invalid type")) {
        "must be a non-negative integer"
    } else if integer && message.starts_with("invalid value: integer") {
        "is too large"
    } else if message.starts_with("invalid type") {
        match expected {
            "a string" => "must be a string",
            "a boolean" => "must be a boolean",
            "a sequence" => "must be an array",
            e if e.starts_with("struct ") || e == "a map" => "must be an object",
            _ => "",
        }
    } else {
        ""
    };
    if rule.is_empty() {
        format!("`{field}`: {message}")
    } else {
        format!("`{field}` {rule}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn every_fixture_decodes_and_encodes_to_its_exact_text() {
        for (text, frame) in fixtures::client_frames() {
            assert_eq!(ClientFrame::decode(text).as_ref(), Ok(&frame), "{text}");
            assert_eq!(frame.encode(), text);
        }
        for (text, frame) in fixtures::server_frames() {
            assert_eq!(ServerFrame::decode(text).as_ref(), Ok(&frame), "{text}");
            assert_eq!(frame.encode(), text);
        }
        for (text, frame) in fixtures::server_frames_read_only() {
            assert_eq!(ServerFrame::decode(text), Ok(frame), "{text}");
        }
        for text in fixtures::not_server_frames() {
            let error = ServerFrame::decode(text).expect_err(text);
            assert!(!error.0.is_empty(), "{text}");
        }
        for (text, frame) in fixtures::end_client_frames() {
            assert_eq!(ClientFrame::decode(text).as_ref(), Ok(&frame), "{text}");
            assert_eq!(frame.encode(), text);
        }
        for (text, frame) in fixtures::end_server_frames() {
            assert_eq!(ServerFrame::decode(text).as_ref(), Ok(&frame), "{text}");
            assert_eq!(frame.encode(), text);
        }
    }

    #[test]
    fn bad_end_options_name_the_field() {
        let cases = [
            (r#"{"type":"kickAll","id":1,"message":5}"#, "`message` must be a string"),
            (r#"{"type":"kickAll","id":1,"lock":"yes"}"#, "`lock` must be a boolean"),
            (r#"{"type":"kickAll","id":1,"graceSeconds":-1}"#, "`graceSeconds` must be a non-negative integer"),
            (r#"{"type":"kickAll","id":1,"graceSeconds":4294967296}"#, "`graceSeconds` is too large"),
            (r#"{"type":"cancelEnd"}"#, "missing field `id`"),
        ];
        for (text, message) in cases {
            assert_eq!(ClientFrame::decode(text), Err(DecodeError(message.into())), "{text}");
        }
    }

    #[test]
    fn client_ids_round_trip_at_the_edge() {
        let frame = ClientFrame::kick_all(u64::MAX);
        assert_eq!(ClientFrame::decode(&frame.encode()), Ok(frame));
    }

    #[test]
    fn bad_frames_name_what_is_wrong() {
        let cases = [
            ("[1,2]", "frame must be a JSON object"),
            (r#"{"id":1}"#, "missing field `type`"),
            (r#"{"type":5}"#, "`type` must be a string"),
            (r#"{"type":"dance"}"#, "unknown frame type `dance`"),
            (r#"{"type":"kickAll"}"#, "missing field `id`"),
            (r#"{"type":"kickAll","id":"1"}"#, "`id` must be a non-negative integer"),
            (r#"{"type":"kickAll","id":-1}"#, "`id` must be a non-negative integer"),
            (r#"{"type":"kickAll","id":1.5}"#, "`id` must be a non-negative integer"),
            (r#"{"type":"join","token":5,"version":1}"#, "`token` must be a string"),
            (r#"{"type":"join","token":null,"version":1}"#, "`token` must be a string"),
            (r#"{"type":"join","token":"t","resume":[],"version":1}"#, "`resume` must be a string"),
            (r#"{"type":"join","token":"t","version":99999999999}"#, "`version` is too large"),
            (r#"{"type":"join","version":1}"#, "missing field `token`"),
        ];
        for (text, message) in cases {
            assert_eq!(ClientFrame::decode(text), Err(DecodeError(message.into())), "{text}");
        }
        let not_json = ClientFrame::decode("not json").unwrap_err().0;
        assert!(not_json.starts_with("frame is not valid JSON: "), "{not_json}");
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        let joined = |participants: &str| {
            format!(
                r#"{{"type":"joined","sessionId":"s","meetingId":"m","permissions":{{"kickParticipant":false}},
                "self":{{"id":"a","name":"A","customParticipantId":"c","presetName":"p"}},"participants":{participants},
                "reconnected":false}}"#
            )
        };
        let p = r#"{"id":"b","name":"B","customParticipantId":"c","presetName":"p"}"#;
        let cases = [
            (joined(&format!("[{p},5]")), "`participants[1]` must be an object"),
            (
                joined(&format!(r#"[{p},{{"id":"c","name":7,"customParticipantId":"c","presetName":"p"}}]"#)),
                "`participants[1].name` must be a string",
            ),
            (joined("{}"), "`participants` must be an array"),
            (
                joined("[]").replace(r#""kickParticipant":false"#, r#""kickParticipant":"yes""#),
                "`permissions.kickParticipant` must be a boolean",
            ),
            (
                joined("[]").replace(r#""participants":[]"#, r#""participants":[],"participantCount":4294967296"#),
                "`participantCount` is too large",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(ServerFrame::decode(&text), Err(DecodeError(message.into())), "{text}");
        }
        let state = ServerFrame::decode(r#"{"type":"roomLeft","state":"gone","sessionId":"s"}"#).unwrap_err().0;
        assert!(state.starts_with("`state`: unknown variant `gone`"), "{state}");
    }

    #[test]
    fn a_duplicate_field_is_refused_by_name() {
        let error = ClientFrame::decode(r#"{"type":"kickAll","id":1,"id":2}"#).unwrap_err().0;
        assert_eq!(error, "duplicate field `id`");
    }

    #[test]
    fn unknown_fields_are_ignored_but_in_kick_all() {
        assert_eq!(ClientFrame::decode(r#"{"type":"leave","why":{"a":[1]}}"#), Ok(ClientFrame::Leave));
        assert_eq!(ClientFrame::decode(r#"{"type":"cancelEnd","id":3,"why":1}"#), Ok(ClientFrame::CancelEnd { id: 3 }));
        assert!(ClientFrame::decode(r#"{"type":"join","token":"t","version":1,"later":true}"#).is_ok());
    }

    #[test]
    fn an_unknown_kick_all_option_is_refused_by_name() {
        for (frame, name) in [
            (r#"{"type":"kickAll","id":2,"reason":"bye"}"#, "reason"),
            (r#"{"type":"kickAll","id":2,"grace_seconds":30}"#, "grace_seconds"),
            (r#"{"type":"kickAll","id":2,"graceseconds":30,"lock":true}"#, "graceseconds"),
            (r#"{"type":"kickAll","id":2,"gr\u0061ce":30}"#, "grace"),
        ] {
            let error = ClientFrame::decode(frame).unwrap_err().0;
            assert!(error.starts_with(&format!("`{name}` is not a kickAll option")), "{frame}: {error}");
        }
        let known = r#"{"type":"kickAll","id":2,"message":"m","lock":false,"graceSeconds":0}"#;
        assert!(ClientFrame::decode(known).is_ok());
    }

    #[test]
    fn codes_are_strings_like_realtimekit() {
        let text = ServerFrame::Error { id: Some(1), code: ErrorCode::PermissionDenied, message: "x".into() }.encode();
        assert!(text.contains(r#""code":"1201""#), "{text}");
        assert!(!ErrorCode::PermissionDenied.is_fatal());
        assert!(ErrorCode::MalformedFrame.is_fatal());
    }

    #[test]
    fn the_wire_names_are_the_as_str_names() {
        for state in crate::LeaveState::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        for reason in
            [crate::EndReason::HostEndedMeeting, crate::EndReason::AllParticipantsLeft, crate::EndReason::NoHost]
        {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
    }
}
