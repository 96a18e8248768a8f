//! Fuzzing the REST body decoders (issue 10, reliability suite) on stable Rust, with proptest, through the real
//! router over a real socket: every route that takes a body gets arbitrary bytes, arbitrary JSON, and valid bodies
//! with one part changed (a value replaced by any JSON, a field removed, a field added). Properties: never a 5xx or
//! a dropped connection; a refusal is a 4xx with the API's error envelope (`success: false`, `errors: [{code:
//! integer, message: non-empty}]`); an acceptance is a 2xx with `success: true`; the server keeps serving.
//!
//! Bounded by default (a few seconds per resource in `cargo test`); run longer by hand with more cases per route:
//! `ENDSESSION_FUZZ_CASES=5000 cargo test --release -p endsession-server --test fuzz_rest`.

mod common;

use common::{Meeting, TestServer, ADMIN};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Map, Number, Value};

/// Cases per route: `ENDSESSION_FUZZ_CASES`, or 48.
fn cases() -> u32 {
    std::env::var("ENDSESSION_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
}

/// Field names the bodies have (so that objects often reach the field checks), and others.
const FIELDS: &[&str] = &[
    "name",
    "title",
    "status",
    "preset_name",
    "custom_participant_id",
    "picture",
    "participant_ids",
    "custom_participant_ids",
    "url",
    "events",
    "enabled",
    "config",
    "permissions",
    "ui",
    "kick_participant",
    "record_on_start",
    "session_keep_alive_time_in_secs",
    "ai_config",
    "recording_config",
    "media",
    "view_type",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![3 => prop::sample::select(FIELDS).prop_map(str::to_string), 1 => any::<String>()]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        prop::sample::select(vec![
            "ACTIVE",
            "INACTIVE",
            "meeting.ended",
            "group_call_host",
            "http://127.0.0.1:9/hook",
            "",
            "not a url",
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|fields| Value::Object(Map::from_iter(fields))),
        ]
    })
}

/// JSON pointers of every node of `value`, the root included.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One edit of a JSON value: replace a node, remove a field, or add one.
#[derive(Debug, Clone)]
struct Edit {
    kind: u8,
    node: prop::sample::Index,
    key: String,
    value: Value,
}

fn edit() -> impl Strategy<Value = Edit> {
    (0..3u8, any::<prop::sample::Index>(), key(), json()).prop_map(|(kind, node, key, value)| Edit {
        kind,
        node,
        key,
        value,
    })
}

fn apply(mut body: Value, edits: &[Edit]) -> Value {
    for edit in edits {
        let mut all = Vec::new();
        pointers(&body, String::new(), &mut all);
        let pointer = edit.node.get(&all).clone();
        let Some(node) = body.pointer_mut(&pointer) else { continue };
        match (edit.kind, node) {
            (1, Value::Object(map)) if !map.is_empty() => {
                let k = map.keys().nth(edit.node.index(map.len())).unwrap().clone();
                map.remove(&k);
            }
            (2, Value::Object(map)) => {
                map.insert(edit.key.clone(), edit.value.clone());
            }
            (_, node) => *node = edit.value.clone(),
        }
    }
    body
}

/// What is sent: raw bytes, any JSON, or a valid body with a few edits.
#[derive(Debug, Clone)]
enum Fuzzed {
    Bytes(Vec<u8>),
    Json(Value),
    Edited(Vec<Edit>),
}

fn fuzzed() -> impl Strategy<Value = Fuzzed> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Fuzzed::Bytes),
        2 => json().prop_map(Fuzzed::Json),
        4 => prop::collection::vec(edit(), 1..4).prop_map(Fuzzed::Edited),
    ]
}

/// A route that takes a body, and a body it accepts.
struct Route {
    method: Method,
    path: String,
    valid: Value,
}

/// Sends `body` and checks the answer; Err if a property does not hold.
async fn check(server: &TestServer, route: &Route, body: Vec<u8>) -> Result<(), TestCaseError> {
    let shown = String::from_utf8_lossy(&body).chars().take(300).collect::<String>();
    let request = server
        .http
        .request(route.method.clone(), server.kit(&route.path))
        .bearer_auth(ADMIN)
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    let response = tokio::time::timeout(common::GUARD, request.send())
        .await
        .map_err(|_| TestCaseError::fail(format!("{} {}: no answer in time to {shown}", route.method, route.path)))?
        .map_err(|e| {
            TestCaseError::fail(format!("{} {}: connection failed ({e}) on {shown}", route.method, route.path))
        })?;
    let status = response.status();
    let text = response.text().await.map_err(|e| TestCaseError::fail(e.to_string()))?;
    let what = format!("{} {} with {shown} -> {status} {text}", route.method, route.path);
    prop_assert!(!status.is_server_error(), "a server error: {}", what);
    let answer: Value = serde_json::from_str(&text).map_err(|_| TestCaseError::fail(format!("not JSON: {what}")))?;
    if status.is_success() {
        prop_assert_eq!(&answer["success"], &json!(true), "{}", what);
    } else {
        prop_assert!(status.is_client_error(), "{}", what);
        prop_assert_eq!(&answer["success"], &json!(false), "{}", what);
        let errors = answer["errors"].as_array().filter(|e| !e.is_empty());
        let errors = errors.ok_or_else(|| TestCaseError::fail(format!("no errors: {what}")))?;
        for error in errors {
            prop_assert!(error["code"].is_i64() || error["code"].is_u64(), "error code: {}", what);
            prop_assert!(error["message"].as_str().is_some_and(|m| !m.trim().is_empty()), "message: {}", what);
        }
    }
    Ok(())
}

/// Runs the fuzz for each route on one server, then checks it still serves.
fn fuzz_routes(setup: impl AsyncFnOnce(&TestServer) -> Vec<Route>) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = runtime.block_on(TestServer::start());
    let routes = runtime.block_on(setup(&server));
    for route in &routes {
        let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
        let result = runner.run(&fuzzed(), |case| {
            let body = match case {
                Fuzzed::Bytes(bytes) => bytes,
                Fuzzed::Json(value) => serde_json::to_vec(&value).unwrap(),
                Fuzzed::Edited(edits) => serde_json::to_vec(&apply(route.valid.clone(), &edits)).unwrap(),
            };
            runtime.block_on(check(&server, route, body))
        });
        if let Err(e) = result {
            panic!("{} {}: {e}", route.method, route.path);
        }
        // The valid body still works after all that.
        runtime.block_on(check(&server, route, serde_json::to_vec(&route.valid).unwrap())).unwrap();
    }
    runtime.block_on(server.meeting());
}

async fn preset_body(server: &TestServer, app_id: &str) -> (String, Value) {
    let presets = server.admin(Method::GET, &format!("/{app_id}/presets"), None).await;
    let guest = presets.as_array().unwrap().iter().find(|p| p["name"] == "group_call_participant").unwrap();
    let id = guest["id"].as_str().unwrap().to_owned();
    let mut body = server.admin(Method::GET, &format!("/{app_id}/presets/{id}"), None).await;
    for key in ["id", "created_at", "updated_at"] {
        body.as_object_mut().unwrap().remove(key);
    }
    (id, body)
}

#[test]
fn apps_and_meetings_bodies() {
    fuzz_routes(async |server| {
        let Meeting { app_id, id } = server.meeting().await;
        let meeting = json!({ "title": "T", "status": "ACTIVE", "record_on_start": false,
                              "session_keep_alive_time_in_secs": 60, "ai_config": {} });
        vec![
            Route { method: Method::POST, path: "/apps".into(), valid: json!({ "name": "fuzzed" }) },
            Route { method: Method::POST, path: format!("/{app_id}/meetings"), valid: meeting.clone() },
            Route { method: Method::PATCH, path: format!("/{app_id}/meetings/{id}"), valid: json!({ "title": "U" }) },
            Route { method: Method::PUT, path: format!("/{app_id}/meetings/{id}"), valid: meeting },
        ]
    });
}

#[test]
fn preset_bodies() {
    fuzz_routes(async |server| {
        let Meeting { app_id, .. } = server.meeting().await;
        let (id, mut body) = preset_body(server, &app_id).await;
        let patch = json!({ "permissions": { "kick_participant": true } });
        let put = body.clone();
        body["name"] = json!("fuzzed");
        vec![
            Route { method: Method::POST, path: format!("/{app_id}/presets"), valid: body },
            Route { method: Method::PATCH, path: format!("/{app_id}/presets/{id}"), valid: patch },
            Route { method: Method::PUT, path: format!("/{app_id}/presets/{id}"), valid: put },
        ]
    });
}

#[test]
fn participant_and_kick_bodies() {
    fuzz_routes(async |server| {
        let meeting = server.meeting().await;
        let (id, _) = server.guest(&meeting).await;
        let participants = TestServer::meeting_path(&meeting, "/participants");
        let add = json!({ "custom_participant_id": "c", "preset_name": "group_call_participant", "name": "N" });
        vec![
            Route { method: Method::POST, path: participants.clone(), valid: add },
            Route { method: Method::PATCH, path: format!("{participants}/{id}"), valid: json!({ "name": "M" }) },
            Route {
                method: Method::POST,
                path: TestServer::meeting_path(&meeting, "/active-session/kick"),
                valid: json!({ "participant_ids": [id], "custom_participant_ids": ["c"] }),
            },
        ]
    });
}

#[test]
fn webhook_bodies() {
    fuzz_routes(async |server| {
        let Meeting { app_id, .. } = server.meeting().await;
        // Loopback, port 9 (discard): nothing is ever delivered there, as no session happens on this server.
        let body =
            json!({ "name": "w", "url": "http://127.0.0.1:9/hook", "events": ["meeting.ended"], "enabled": true });
        let made = server.admin(Method::POST, &format!("/{app_id}/webhooks"), Some(body.clone())).await;
        let id = made["id"].as_str().unwrap();
        vec![
            Route { method: Method::POST, path: format!("/{app_id}/webhooks"), valid: body.clone() },
            Route {
                method: Method::PATCH,
                path: format!("/{app_id}/webhooks/{id}"),
                valid: json!({ "enabled": false }),
            },
            Route { method: Method::PUT, path: format!("/{app_id}/webhooks/{id}"), valid: body },
        ]
    });
}
