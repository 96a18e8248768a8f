//! Fuzzing the frame decoders (issue 10, reliability suite) on stable Rust, with proptest: arbitrary text, arbitrary
//! JSON, frame-shaped JSON (known `type`s and field names with values of any type) and mutations of valid frames.
//! Properties: decoding never panics; a bad input is an error whose message is not empty; a frame that decodes
//! encodes back to text that decodes to the same frame.
//!
//! Bounded by default (a few seconds in `cargo test`); run longer by hand with more cases:
//! `ENDSESSION_FUZZ_CASES=200000 cargo test --release -p endsession-protocol --test fuzz_decode`.
//! A failure prints the smallest input proptest found, and its seed is kept under `proptest-regressions/`.

use endsession_protocol::{ClientFrame, ServerFrame};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per property: `ENDSESSION_FUZZ_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("ENDSESSION_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn runner(default: u32) -> TestRunner {
    TestRunner::new(Config { cases: cases(default), failure_persistence: None, ..Config::default() })
}

/// JSON text of any shape: scalars (numbers at the edges of u32/u64/i64/f64 included), strings with escapes and
/// non-ASCII, and nested arrays and objects.
fn json_value() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:?}")),
        prop_oneof![
            Just("4294967295"),
            Just("4294967296"),
            Just("18446744073709551615"),
            Just("18446744073709551616"),
            Just("-0"),
            Just("1e400"),
            Just("1.0"),
            Just("-1")
        ]
        .prop_map(str::to_string),
        any::<String>().prop_map(|s| json_string(&s)),
        "[a-z\\\\\"/]{0,12}".prop_map(|s| json_string(&s)),
    ];
    scalar.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((field_name(), inner), 0..6).prop_map(|fields| object(&fields)),
        ]
    })
}

/// Field names the decoders look for, and others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type",
            "token",
            "resume",
            "version",
            "id",
            "sessionId",
            "meetingId",
            "self",
            "permissions",
            "participants",
            "participantCount",
            "reconnected",
            "heartbeatMs",
            "participant",
            "participantId",
            "presetName",
            "kickParticipant",
            "kickedCount",
            "alreadyEnded",
            "state",
            "reason",
            "message",
            "code",
            "name",
            "customParticipantId",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

fn frame_type() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "join",
            "kickAll",
            "leave",
            "ping",
            "joined",
            "participantJoined",
            "participantLeft",
            "permissionsUpdate",
            "kickAllResult",
            "roomLeft",
            "error",
            "Join",
            "",
        ])
        .prop_map(json_string),
        json_value(),
    ]
}

/// An object with a `type` (usually a known one) and fields named as the frames name theirs, of any value.
fn frame_shaped() -> impl Strategy<Value = String> {
    (frame_type(), prop::collection::vec((field_name(), json_value()), 0..8)).prop_map(|(kind, mut fields)| {
        fields.insert(0, ("type".to_string(), kind));
        object(&fields)
    })
}

/// A valid client frame with one edit: a byte range cut out, a character inserted, or the text truncated.
fn mutated_frame() -> impl Strategy<Value = String> {
    let valid =
        prop_oneof![
            (".{0,40}", prop::option::of(".{0,40}"), any::<u32>())
                .prop_map(|(token, resume, version)| ClientFrame::Join { token, resume, version }.encode()),
            any::<u64>().prop_map(|id| ClientFrame::kick_all(id).encode()),
            Just(ClientFrame::Leave.encode()),
        ];
    (valid, any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<char>(), 0..3u8).prop_map(
        |(text, at, to, c, edit)| {
            let chars: Vec<char> = text.chars().collect();
            let (a, b) = (at.index(chars.len() + 1), to.index(chars.len() + 1));
            let (a, b) = (a.min(b), a.max(b));
            match edit {
                0 => chars[..a].iter().chain(&chars[b..]).collect(),
                1 => chars[..a].iter().chain(std::iter::once(&c)).chain(&chars[a..]).collect(),
                _ => chars[..a].iter().collect(),
            }
        },
    )
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn object(fields: &[(String, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}:{v}", json_string(k))).collect();
    format!("{{{}}}", body.join(","))
}

/// The properties, for any text.
fn check(text: &str) -> Result<(), TestCaseError> {
    match ClientFrame::decode(text) {
        Ok(frame) => {
            let again = ClientFrame::decode(&frame.encode());
            prop_assert_eq!(again.as_ref(), Ok(&frame), "client frame round trip of {:?}", text);
        }
        Err(e) => prop_assert!(!e.to_string().is_empty(), "an empty error message for {:?}", text),
    }
    match ServerFrame::decode(text) {
        Ok(frame) => {
            let again = ServerFrame::decode(&frame.encode());
            prop_assert_eq!(again.as_ref(), Ok(&frame), "server frame round trip of {:?}", text);
        }
        Err(e) => prop_assert!(!e.to_string().is_empty(), "an empty error message for {:?}", text),
    }
    Ok(())
}

fn fuzz(default_cases: u32, strategy: impl Strategy<Value = String>) {
    runner(default_cases).run(&strategy, |text| check(&text)).unwrap();
}

#[test]
fn arbitrary_text_never_panics_the_decoders() {
    fuzz(2000, any::<String>());
}

#[test]
fn arbitrary_json_never_panics_the_decoders() {
    fuzz(1000, json_value());
}

#[test]
fn frame_shaped_json_is_decoded_or_refused_with_a_message() {
    fuzz(600, frame_shaped());
}

#[test]
fn mutated_valid_frames_are_decoded_or_refused_with_a_message() {
    fuzz(2000, mutated_frame());
}

#[test]
fn deep_nesting_and_long_inputs_are_refused_without_overflow() {
    for depth in [1_000, 100_000] {
        for text in [
            "[".repeat(depth),
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
            format!("{{\"type\":\"join\",\"token\":{}{}}}", "[".repeat(depth), "]".repeat(depth)),
            format!("{}{}", "{\"a\":".repeat(depth), "1"),
        ] {
            check(&text).unwrap();
            assert!(ClientFrame::decode(&text).is_err());
        }
    }
}
