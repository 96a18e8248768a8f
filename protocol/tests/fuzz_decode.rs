//! Fuzzing the frame decoders (issue 10, reliability suite) on stable Rust, with proptest: arbitrary text, arbitrary
//! JSON, frame-shaped JSON (known `type`s and field names with values of any type) and mutations of valid frames.
//! Properties: decoding never panics; a bad input is an error whose message is not empty; a frame that decodes
//! encodes back to text that decodes to the same frame.
//!
//! Bounded by default (a few seconds in `cargo test`); run longer by hand with more cases:
//! `ENDSESSION_FUZZ_CASES=200000 cargo test --release -p endsession-protocol --test fuzz_decode`.
//! A failure prints the smallest input proptest found, and its seed is kept under `proptest-regressions/`.

use endsession_protocol::fixtures::fuzz::{client_frame_text, frame_shaped, json_value, mutated};
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
    fuzz(600, frame_shaped(json_value()));
}

#[test]
fn mutated_valid_frames_are_decoded_or_refused_with_a_message() {
    let join = (".{0,40}", prop::option::of(".{0,40}"), any::<u32>())
        .prop_map(|(token, resume, version)| ClientFrame::Join { token, resume, version });
    fuzz(2000, mutated(client_frame_text(join)));
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
