//! Fuzzing the server's frame handling (issue 10, reliability suite) over real WebSockets, with proptest: text frames
//! that are arbitrary, frame-shaped (known `type`s, the real token or not, fields of any type) or valid frames with
//! one edit, sent as the first frame of a socket and as a frame of a joined one. The oracle is the protocol's own
//! decoder: what it refuses the server answers with `Error { MalformedFrame }` and a close; a `join` with the real
//! token and version joins; every other first frame gets an `Error` and a close; nothing hangs, and the server keeps
//! serving.
//!
//! Bounded by default (a few seconds in `cargo test`); run longer by hand:
//! `ENDSESSION_FUZZ_CASES=5000 cargo test --release -p endsession-server --test fuzz_frames`.

mod common;

use common::{TestServer, Ws};
use endsession_protocol::{ClientFrame, ErrorCode, LeaveState, ServerFrame, PROTOCOL_VERSION};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tokio_tungstenite::tungstenite::Message;

fn cases() -> u32 {
    std::env::var("ENDSESSION_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn value(token: String) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap()),
        Just(PROTOCOL_VERSION.to_string()),
        Just(quoted(&token)),
        any::<String>().prop_map(|s| quoted(&s)),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[\"a\",{\"b\":[1]}]".to_string()),
    ]
}

/// Frame-shaped text: a `type` (usually a client one) and the frames' field names with any values.
fn frame_shaped(token: String) -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        4 => prop::sample::select(vec!["join", "kickAll", "leave", "joined", "roomLeft", "JOIN", ""]).prop_map(quoted),
        1 => value(token.clone()),
    ];
    let name = prop::sample::select(vec!["token", "resume", "version", "id", "type", "x"]);
    (kind, prop::collection::vec((name, value(token)), 0..5)).prop_map(|(kind, fields)| {
        let fields: Vec<String> = fields.into_iter().map(|(k, v)| format!("{}:{v}", quoted(k))).collect();
        let comma = if fields.is_empty() { "" } else { "," };
        format!("{{\"type\":{kind}{comma}{}}}", fields.join(","))
    })
}

/// A valid client frame with one edit (a cut, an inserted character, a truncation).
fn mutated(token: String) -> impl Strategy<Value = String> {
    let valid = prop_oneof![
        Just(ClientFrame::Join { token: token.clone(), resume: None, version: PROTOCOL_VERSION }.encode()),
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

fn text(token: String) -> impl Strategy<Value = String> {
    prop_oneof![1 => any::<String>(), 3 => frame_shaped(token.clone()), 3 => mutated(token)]
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

/// The answer must be an `Error` (with `code` if given) and then the close.
async fn expect_error_and_close(ws: &mut Ws, code: Option<ErrorCode>, what: &str) -> Result<(), TestCaseError> {
    match ws.next().await {
        Some(ServerFrame::Error { code: got, message, .. }) => {
            prop_assert!(code.is_none_or(|code| code == got), "{what}: {got:?} {message}");
            prop_assert!(!message.is_empty(), "{}: an empty error message", what);
        }
        other => return Err(fail(format!("{what}: expected an error, got {other:?}"))),
    }
    prop_assert_eq!(ws.until_closed().await, vec![], "{}: the close after the error", what);
    Ok(())
}

/// As the first frame of a socket.
async fn first_frame(server: &TestServer, token: &str, text: String) -> Result<(), TestCaseError> {
    let what = format!("first frame {text:?}");
    let mut ws = server.connect().await;
    ws.send_message(Message::text(text.clone())).await;
    match ClientFrame::decode(&text) {
        Err(_) => expect_error_and_close(&mut ws, Some(ErrorCode::MalformedFrame), &what).await,
        Ok(ClientFrame::Join { token: sent, version, .. }) if sent == token && version == PROTOCOL_VERSION => {
            match ws.next().await {
                Some(ServerFrame::Joined { .. }) => Ok(()),
                other => Err(fail(format!("{what}: expected joined, got {other:?}"))),
            }
        }
        Ok(_) => expect_error_and_close(&mut ws, None, &what).await,
    }
}

/// As a frame of a joined guest (who may not end the session).
async fn joined_frame(server: &TestServer, token: &str, text: String) -> Result<(), TestCaseError> {
    let what = format!("frame {text:?} after joining");
    let (mut ws, _) = server.join(token).await;
    ws.send_message(Message::text(text.clone())).await;
    match ClientFrame::decode(&text) {
        Err(_) => expect_error_and_close(&mut ws, Some(ErrorCode::MalformedFrame), &what).await,
        Ok(ClientFrame::Join { .. }) => expect_error_and_close(&mut ws, Some(ErrorCode::UnexpectedFrame), &what).await,
        Ok(ClientFrame::KickAll { id, .. }) => match ws.next().await {
            Some(ServerFrame::Error { id: Some(got), code: ErrorCode::PermissionDenied, .. }) if got == id => Ok(()),
            other => Err(fail(format!("{what}: expected PermissionDenied for {id}, got {other:?}"))),
        },
        Ok(ClientFrame::Leave) => match ws.next().await {
            Some(ServerFrame::RoomLeft { state: LeaveState::Left, .. }) => Ok(()),
            other => Err(fail(format!("{what}: expected roomLeft left, got {other:?}"))),
        },
        // A frame the protocol may add later (e.g. a heartbeat): answered in its own way, not checked here.
        #[allow(unreachable_patterns)]
        Ok(_) => Ok(()),
    }
}

#[test]
fn fuzzed_frames_are_answered_and_the_server_keeps_serving() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = runtime.block_on(TestServer::start());
    let meeting = runtime.block_on(server.meeting());
    let (_, token) = runtime.block_on(server.guest(&meeting));
    for first in [true, false] {
        let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
        let result = runner.run(&text(token.clone()), |text| {
            runtime.block_on(async {
                if first {
                    first_frame(&server, &token, text).await
                } else {
                    joined_frame(&server, &token, text).await
                }
            })
        });
        if let Err(e) = result {
            panic!("{}: {e}", if first { "first frame" } else { "frame after joining" });
        }
    }
    // Binary frames and oversized text are refused the same way.
    runtime.block_on(async {
        let mut ws = server.connect().await;
        ws.send_message(Message::binary(vec![0u8, 159, 146, 150])).await;
        expect_error_and_close(&mut ws, Some(ErrorCode::MalformedFrame), "binary").await.unwrap();
        let mut ws = server.connect().await;
        ws.send_message(Message::text("x".repeat(endsession_protocol::MAX_FRAME_BYTES + 1))).await;
        expect_error_and_close(&mut ws, Some(ErrorCode::FrameTooLarge), "oversized").await.unwrap();
        server.join(&token).await;
    });
}
