//! The REST API: response shapes, authentication and scopes, and bad requests.

mod common;

use common::{TestServer, ACCOUNT, ADMIN, OTHER_ACCOUNT, OTHER_ADMIN, READER, WRITER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn error_code(body: &Value) -> (bool, i64) {
    assert_eq!(body["success"], false, "{body}");
    (body["errors"].is_array(), body["errors"][0]["code"].as_i64().unwrap_or(-1))
}

#[tokio::test]
async fn responses_have_the_sdk_shapes() {
    let server = TestServer::start().await;
    let (status, body) = server.call(Method::POST, &server.kit("/apps"), Some(ADMIN), Some(json!({"name": "A"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let app = &body["data"]["app"];
    assert!(app["id"].is_string() && app["created_at"].is_string(), "{body}");
    assert_eq!(app["name"], "A");
    let app_id = app["id"].as_str().unwrap();

    let list = server.call(Method::GET, &server.kit("/apps?per_page=10&sort_order=DESC"), Some(READER), None).await.1;
    assert_eq!(list["data"][0]["id"], app_id);
    assert_eq!(list["paging"], json!({ "total_count": 1, "start_offset": 1, "end_offset": 1 }));

    let body =
        json!({ "title": "Weekly", "record_on_start": true, "ai_config": { "summarization": { "word_limit": 100 } } });
    let meeting = server.admin(Method::POST, &format!("/{app_id}/meetings"), Some(body)).await;
    assert_eq!(meeting["status"], "ACTIVE");
    assert_eq!((meeting["title"].as_str(), meeting["record_on_start"].as_bool()), (Some("Weekly"), Some(true)));
    assert_eq!(meeting["persist_chat"], false);
    assert_eq!(meeting["ai_config"]["summarization"]["word_limit"], 100);
    let meeting_id = meeting["id"].as_str().unwrap();
    let read = server.admin(Method::GET, &format!("/{app_id}/meetings/{meeting_id}"), None).await;
    assert_eq!(read, meeting);

    let path = format!("/{app_id}/meetings/{meeting_id}/participants");
    let body = json!({ "custom_participant_id": "u-1", "preset_name": "group_call_host", "name": "Ann" });
    let participant = server.admin(Method::POST, &path, Some(body)).await;
    for field in ["id", "token", "created_at", "updated_at"] {
        assert!(participant[field].is_string(), "{field}: {participant}");
    }
    assert_eq!(
        (&participant["custom_participant_id"], &participant["preset_name"], &participant["name"]),
        (&json!("u-1"), &json!("group_call_host"), &json!("Ann"))
    );

    let (status, body) = server.active_session(&common::Meeting { app_id: app_id.into(), id: meeting_id.into() }).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, (true, 7003)), "no session yet: {body}");
}

#[tokio::test]
async fn authentication_scopes_and_accounts() {
    let server = TestServer::start().await;
    let apps = server.kit("/apps");
    let create = || Some(json!({ "name": "x" }));

    let (status, body) = server.call(Method::GET, &apps, None, None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, (true, 10000)));
    let (status, _) = server.call(Method::GET, &apps, Some("nope"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = server.call(Method::POST, &apps, Some(READER), create()).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, (true, 10000)));
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("Realtime Read"), "{body}");
    let (status, _) = server.call(Method::GET, &apps, Some(READER), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server.call(Method::POST, &apps, Some(WRITER), create()).await;
    assert_eq!(status, StatusCode::CREATED);

    // Another account's paths and objects do not exist for this token, whatever its scope.
    let theirs = server.kit_of(OTHER_ACCOUNT, "/apps");
    for token in [ADMIN, READER] {
        let (status, body) = server.call(Method::GET, &theirs, Some(token), None).await;
        assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, (true, 7003)));
    }
    let (status, body) = server.call(Method::POST, &theirs, Some(OTHER_ADMIN), create()).await;
    assert_eq!(status, StatusCode::CREATED);
    let their_app = body["data"]["app"]["id"].as_str().unwrap().to_owned();
    let (status, body) =
        server.call(Method::POST, &server.kit(&format!("/{their_app}/meetings")), Some(ADMIN), Some(json!({}))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, (true, 7003)));
    assert_eq!(body["errors"][0]["message"], "app not found");
    let list = server.call(Method::GET, &apps, Some(ADMIN), None).await.1;
    assert_eq!(list["paging"]["total_count"], 1, "only this account's apps: {list}");
    assert_eq!(ACCOUNT, "acct-1");
}

#[tokio::test]
async fn bad_bodies_are_named() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let participants = server.kit(&format!("/{}/meetings/{}/participants", meeting.app_id, meeting.id));

    let response = server
        .http
        .post(&participants)
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{\"custom_participant_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), (true, 6007));
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("EOF"), "{body}");

    let (status, body) =
        server.call(Method::POST, &participants, Some(ADMIN), Some(json!({ "custom_participant_id": "u" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("missing field `preset_name`"), "{body}");

    let body = json!({ "custom_participant_id": "u", "preset_name": "webinar_viewer" });
    let (status, body) = server.call(Method::POST, &participants, Some(ADMIN), Some(body)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, (true, 6003)));
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("webinar_viewer"), "{body}");

    let huge = json!({ "custom_participant_id": "u".repeat(100 * 1024), "preset_name": "group_call_host" });
    let (status, body) = server.call(Method::POST, &participants, Some(ADMIN), Some(huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["success"], false);

    let (status, body) = server.call(Method::GET, &format!("{}/client/v4/nothing/here", server.base), None, None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, (true, 7000)));
    let (status, body) = server.call(Method::DELETE, &server.kit("/apps"), Some(ADMIN), None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::METHOD_NOT_ALLOWED, (true, 7001)));

    let edit = server.kit(&format!("/{}/meetings/{}/participants/nobody", meeting.app_id, meeting.id));
    let (status, body) = server.call(Method::PATCH, &edit, Some(ADMIN), Some(json!({ "name": "x" }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, (true, 7003)));
}

#[tokio::test]
async fn unknown_fields_and_bad_values_are_named_and_change_nothing() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let one = common::TestServer::meeting_path(&meeting, "");
    let webhooks = format!("/{}/webhooks", meeting.app_id);
    let hook = json!({ "name": "h", "url": "https://backend.example/h", "events": ["meeting.ended"] });
    let cases = [
        (Method::PATCH, one.clone(), json!({ "stauts": "INACTIVE" }), "`stauts`: unknown field `stauts`"),
        (Method::PATCH, one.clone(), json!({ "title": "t", "status": "PAUSED" }), "`status`: unknown variant `PAUSED`"),
        (Method::PATCH, one.clone(), json!([]), "the body must be a JSON object"),
        (Method::PUT, one.clone(), json!({ "status": "ACTIVE" }), "unknown field `status`"),
        (
            Method::POST,
            webhooks.clone(),
            json!({ "name": "h", "url": "ftp://x", "events": ["meeting.ended"] }),
            "`url`",
        ),
        (Method::POST, webhooks.clone(), json!({ "name": "h", "url": "https://x", "events": [] }), "`events`"),
        (
            Method::POST,
            webhooks.clone(),
            json!({ "name": "h", "url": "https://x", "events": ["meeting.over"] }),
            "`events[0]`",
        ),
    ];
    for (method, path, body, message) in cases {
        let (status, answer) = server.api(method.clone(), &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {body}: {answer}");
        assert!(answer["errors"][0]["message"].as_str().unwrap().contains(message), "{method} {body}: {answer}");
    }
    let stored = server.admin(Method::GET, &one, None).await;
    assert_eq!((&stored["title"], &stored["status"]), (&json!("T"), &json!("ACTIVE")));
    assert_eq!(server.admin(Method::GET, &webhooks, None).await, json!([]));

    // The good ones go through: new webhooks are enabled, repeats in `events` are dropped.
    let mut body = hook.clone();
    body["events"] = json!(["meeting.ended", "meeting.started", "meeting.ended"]);
    let made = server.admin(Method::POST, &webhooks, Some(body)).await;
    assert_eq!((&made["enabled"], &made["events"]), (&json!(true), &json!(["meeting.ended", "meeting.started"])));
}
