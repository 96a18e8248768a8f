//! Presets over REST: a change reaches the connected participants that have the preset, in every live meeting of
//! the app, and is enforced at once; bodies are checked field by field.

mod common;

use common::{Meeting, TestServer, Ws};
use endsession_protocol::{ClientFrame, ErrorCode, Permissions, ServerFrame};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn update(preset_name: &str, kick_participant: bool) -> ServerFrame {
    ServerFrame::PermissionsUpdate { preset_name: preset_name.into(), permissions: Permissions { kick_participant } }
}

/// A `moderator` preset made from `group_call_participant` (so it may not end the session); returns its id.
async fn moderator_preset(server: &TestServer, app_id: &str) -> String {
    let presets = server.admin(Method::GET, &format!("/{app_id}/presets"), None).await;
    let guest = presets.as_array().unwrap().iter().find(|p| p["name"] == "group_call_participant").unwrap();
    let mut body =
        server.admin(Method::GET, &format!("/{app_id}/presets/{}", guest["id"].as_str().unwrap()), None).await;
    let body = body.as_object_mut().unwrap();
    for key in ["id", "created_at", "updated_at"] {
        body.remove(key);
    }
    body.insert("name".into(), json!("moderator"));
    let made = server.admin(Method::POST, &format!("/{app_id}/presets"), Some(Value::Object(body.clone()))).await;
    assert_eq!(made["permissions"]["kick_participant"], false);
    made["id"].as_str().unwrap().to_owned()
}

/// A moderator and a guest joined to the meeting; the moderator has heard the guest join.
async fn pair(server: &TestServer, meeting: &Meeting) -> (String, Ws, Ws) {
    let (moderator_id, token) = server.participant(meeting, "moderator").await;
    let (mut moderator, _) = server.join(&token).await;
    let (_, token) = server.guest(meeting).await;
    let (guest, _) = server.join(&token).await;
    assert!(matches!(moderator.recv().await, ServerFrame::ParticipantJoined { .. }));
    (moderator_id, moderator, guest)
}

#[tokio::test]
async fn a_preset_change_reaches_its_holders_in_every_live_meeting() {
    let server = TestServer::start().await;
    let first = server.meeting().await;
    let second = server.meeting_in(&first.app_id).await;
    let preset = format!("/{}/presets/{}", first.app_id, moderator_preset(&server, &first.app_id).await);
    let (mod_1_id, mut mod_1, guest_1) = pair(&server, &first).await;
    let (_, mut mod_2, guest_2) = pair(&server, &second).await;

    server.admin(Method::PATCH, &preset, Some(json!({ "permissions": { "kick_participant": true } }))).await;
    for ws in [&mut mod_1, &mut mod_2] {
        assert_eq!(ws.recv().await, update("moderator", true));
    }

    // A rename reaches them too, and their participant records follow it.
    let renamed = server.admin(Method::PATCH, &preset, Some(json!({ "name": "chair" }))).await;
    assert_eq!((&renamed["name"], &renamed["permissions"]["kick_participant"]), (&json!("chair"), &json!(true)));
    for ws in [&mut mod_1, &mut mod_2] {
        assert_eq!(ws.recv().await, update("chair", true));
    }
    let path = TestServer::meeting_path(&first, &format!("/participants/{mod_1_id}"));
    assert_eq!(server.admin(Method::GET, &path, None).await["preset_name"], "chair");

    // Deleting the preset takes the permission away at once: the end is refused.
    server.admin(Method::DELETE, &preset, None).await;
    assert_eq!(mod_1.recv().await, update("chair", false));
    mod_1.send(&ClientFrame::kick_all(1)).await;
    assert!(matches!(mod_1.recv().await, ServerFrame::Error { id: Some(1), code: ErrorCode::PermissionDenied, .. }));

    // The guests heard none of it: their next frames are the end.
    for (meeting, mut guest) in [(&first, guest_1), (&second, guest_2)] {
        server.rest_kick_all(meeting).await;
        let frames = guest.until_closed().await;
        assert!(matches!(frames.as_slice(), [ServerFrame::RoomLeft { .. }]), "{frames:?}");
    }
}

#[tokio::test]
async fn preset_bodies_are_checked_field_by_field() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let presets = format!("/{}/presets", meeting.app_id);
    let id = moderator_preset(&server, &meeting.app_id).await;
    let one = format!("{presets}/{id}");

    let cases = [
        (Method::POST, &presets, json!({ "name": "x" }), StatusCode::BAD_REQUEST, "missing field `config`"),
        (
            Method::PATCH,
            &one,
            json!({ "permissions": { "kick_participant": 1 } }),
            StatusCode::BAD_REQUEST,
            "`permissions.kick_participant` must be a boolean",
        ),
        (
            Method::PATCH,
            &one,
            json!({ "config": { "view_type": "PARTY" } }),
            StatusCode::BAD_REQUEST,
            "`config.view_type` must be one of",
        ),
        (
            Method::PATCH,
            &one,
            json!({ "permissions": { "kick_participants": true } }),
            StatusCode::BAD_REQUEST,
            "unknown field `permissions.kick_participants`",
        ),
        (Method::PATCH, &one, json!({ "name": " " }), StatusCode::BAD_REQUEST, "`name` must not be empty"),
        (
            Method::PATCH,
            &one,
            json!({ "name": "group_call_host" }),
            StatusCode::CONFLICT,
            "`group_call_host` already exists",
        ),
        (
            Method::PUT,
            &one,
            json!({ "name": "y", "permissions": {} }),
            StatusCode::BAD_REQUEST,
            "missing field `permissions.accept_waiting_requests`",
        ),
    ];
    for (method, path, body, status, message) in cases {
        let (got, answer) = server.api(method.clone(), path, Some(body.clone())).await;
        assert_eq!(got, status, "{method} {body}: {answer}");
        let text = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{method} {body}: {text:?} should contain {message:?}");
    }
    // None of them changed anything.
    let stored = server.admin(Method::GET, &one, None).await;
    assert_eq!((&stored["name"], &stored["permissions"]["kick_participant"]), (&json!("moderator"), &json!(false)));
}
