//! Participant token lifecycle (issue 11, fault 5): tokens expire (`--participant-token-ttl-secs`), at the first
//! join and at every reconnect; each refresh gives a new token and retires the earlier ones; a deleted participant's
//! tokens stop. Every refusal is `Error { code: InvalidToken (4010) }` saying which, then a close.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::TestServer;
use endsession_protocol::{ClientFrame, ErrorCode, ServerFrame};
use reqwest::Method;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Joins and expects the `InvalidToken` answer and the close; returns its message.
async fn refused(server: &TestServer, token: &str, resume: Option<&str>) -> String {
    let (mut ws, answer) = server.join_with(token, resume).await;
    let message = match answer {
        ServerFrame::Error { code: ErrorCode::InvalidToken, message, id: None } => message,
        other => panic!("expected an InvalidToken error, got {other:?}"),
    };
    ws.expect_closed().await;
    message
}

async fn refresh(server: &TestServer, meeting: &common::Meeting, participant_id: &str) -> String {
    let path = TestServer::meeting_path(meeting, &format!("/participants/{participant_id}/token"));
    server.admin(Method::POST, &path, None).await["token"].as_str().unwrap().to_owned()
}

/// The `exp` claim of a token, seconds since the epoch (read as a client could: the payload is not encrypted).
fn expiry(token: &str) -> u64 {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["exp"].as_u64().expect("the token carries `exp`")
}

/// Sleeps until the token's last valid second (`exp`, included) is over.
async fn wait_past_expiry(token: &str) {
    let over = Duration::from_secs(expiry(token) + 1);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let wait = over.saturating_sub(now) + Duration::from_millis(50);
    assert!(wait < Duration::from_secs(30), "the test server's token lifetime is short");
    tokio::time::sleep(wait).await;
}

#[tokio::test]
async fn every_refresh_gives_a_new_token_and_retires_the_earlier_ones() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (id, added) = server.guest(&meeting).await;
    // Twice within the same second: still two different tokens.
    let first = refresh(&server, &meeting, &id).await;
    let second = refresh(&server, &meeting, &id).await;
    assert_ne!(first, added);
    assert_ne!(second, first, "two refreshes must not return the same token");

    for old in [&added, &first] {
        let message = refused(&server, old, None).await;
        assert!(message.contains("replaced by a refresh"), "{message}");
    }
    let (mut ws, _) = server.join(&second).await;
    // A refresh does not disconnect who is in with an earlier token (it only stops new joins with it).
    let third = refresh(&server, &meeting, &id).await;
    let message = refused(&server, &second, None).await;
    assert!(message.contains("replaced by a refresh"), "{message}");
    ws.send(&ClientFrame::Leave).await;
    assert!(matches!(ws.recv().await, ServerFrame::RoomLeft { .. }));
    server.join(&third).await;
}

#[tokio::test]
async fn an_edit_keeps_the_current_token_working() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (id, added) = server.guest(&meeting).await;
    let path = TestServer::meeting_path(&meeting, &format!("/participants/{id}"));
    let edited = server.admin(Method::PATCH, &path, Some(serde_json::json!({ "name": "Ann" }))).await;
    // The edit answers with a token too (the SDK requires one); neither retires the other.
    server.join(&added).await;
    server.join(edited["token"].as_str().unwrap()).await;
}

#[tokio::test]
async fn a_deleted_participants_tokens_are_refused_with_the_reason() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (id, added) = server.guest(&meeting).await;
    let refreshed = refresh(&server, &meeting, &id).await;
    server.admin(Method::DELETE, &TestServer::meeting_path(&meeting, &format!("/participants/{id}")), None).await;
    for token in [&added, &refreshed] {
        let message = refused(&server, token, None).await;
        assert!(message.contains("participant was deleted"), "{message}");
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_at_join_and_at_reconnect_and_a_refresh_lets_it_back() {
    let server = TestServer::start_with(|config| {
        config.participant_token_ttl = Duration::from_secs(4);
        config.reconnect_grace = Duration::from_secs(60);
    })
    .await;
    let meeting = server.meeting().await;
    let (_, host_token) = server.host(&meeting).await;
    let (guest_id, guest_token) = server.guest(&meeting).await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let lifetime = expiry(&guest_token) - now;
    assert!((3..=4).contains(&lifetime), "the token lives the configured 4 s: exp - now = {lifetime}");

    let (_host, session) = server.join(&host_token).await;
    let (guest, _) = server.join(&guest_token).await;
    guest.drop_abruptly();
    wait_past_expiry(&guest_token).await;

    // A reconnect presents the same token: refused, within the reconnect grace all the same.
    let message = refused(&server, &guest_token, Some(&session)).await;
    assert!(message.contains("expired"), "{message}");
    let message = refused(&server, &guest_token, None).await;
    assert!(message.contains("expired"), "{message}");

    // A refreshed token has a whole new lifetime, and resumes the same session.
    let fresh = refresh(&server, &meeting, &guest_id).await;
    let (_ws, answer) = server.join_with(&fresh, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, .. } => {
            assert_eq!((session_id.as_str(), reconnected), (session.as_str(), true))
        }
        other => panic!("expected joined, got {other:?}"),
    }
}
