//! Webhook delivery against a real HTTP receiver in this process: signatures, retries with the same `rtk-uuid`,
//! and a receiver that never answers does not slow the session hub down.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use common::{Meeting, TestServer, GUARD};
use endsession_protocol::{ClientFrame, LeaveState, ServerFrame};
use reqwest::Method;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    headers: HeaderMap,
    body: Bytes,
}

impl Delivery {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Delivery>>>,
    /// Answers 500 to this many requests first.
    failures: Arc<Mutex<u32>>,
    /// Never answers.
    hang: bool,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    receiver.got.lock().unwrap().push(Delivery { headers, body });
    if receiver.hang {
        std::future::pending::<()>().await;
    }
    let mut failures = receiver.failures.lock().unwrap();
    if *failures > 0 {
        *failures -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

impl Receiver {
    /// Listens on 127.0.0.1:0; returns the receiver and its URL.
    async fn start(failures: u32, hang: bool) -> (Receiver, String) {
        let receiver = Receiver { got: Arc::default(), failures: Arc::new(Mutex::new(failures)), hang };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let app = Router::new().route("/hooks", post(receive)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    /// Waits until `n` deliveries arrived; returns them all.
    async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(tokio::time::Instant::now() < deadline, "{} of {n} deliveries within {GUARD:?}", got.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn subscribe(server: &TestServer, meeting: &Meeting, url: &str, events: &[&str]) -> String {
    let body = json!({ "name": "test", "url": url, "events": events });
    let hook = server.admin(Method::POST, &format!("/{}/webhooks", meeting.app_id), Some(body)).await;
    hook["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn deliveries_are_signed_and_retries_carry_the_same_event_id() {
    let server = TestServer::start_with(|config| config.webhooks.retry_base = Duration::from_millis(20)).await;
    let (receiver, url) = Receiver::start(2, false).await;
    let meeting = server.meeting().await;
    let hook = subscribe(&server, &meeting, &url, &["meeting.ended"]).await;

    let (_, token) = server.host(&meeting).await;
    let (mut ws, session_id) = server.join(&token).await;
    server.rest_kick_all(&meeting).await;
    assert!(matches!(ws.recv().await, ServerFrame::RoomLeft { state: LeaveState::Ended, .. }));

    let got = receiver.wait_for(3).await;
    let (_, well_known) =
        server.call(Method::GET, &format!("{}/.well-known/webhooks.json", server.base), None, None).await;
    let pem = well_known["data"]["publicKey"].as_str().expect("the public key");
    let key = VerifyingKey::<Sha256>::new(rsa::RsaPublicKey::from_public_key_pem(pem).unwrap());
    for delivery in &got {
        assert_eq!(delivery.header("content-type"), "application/json");
        assert_eq!(delivery.header("rtk-webhook-id"), hook);
        assert_eq!(delivery.header("rtk-uuid"), got[0].header("rtk-uuid"), "one event id on every attempt");
        assert_eq!(delivery.body, got[0].body, "the same bytes on every attempt");
        let signature = base64::engine::general_purpose::STANDARD.decode(delivery.header("rtk-signature")).unwrap();
        let signature = Signature::try_from(signature.as_slice()).unwrap();
        assert!(key.verify(&delivery.body, &signature).is_ok(), "the signature verifies");
        let mut tampered = delivery.body.to_vec();
        tampered.push(b' ');
        assert!(key.verify(&tampered, &signature).is_err(), "a changed body does not");
    }
    let event = got[0].json();
    assert_eq!(
        (event["event"].as_str(), event["reason"].as_str()),
        (Some("meeting.ended"), Some("HOST_ENDED_MEETING"))
    );
    assert_eq!(
        (event["meeting"]["id"].as_str(), event["meeting"]["sessionId"].as_str()),
        (Some(&*meeting.id), Some(&*session_id))
    );

    // Delivered on the third attempt (recorded right after the answer), and nothing more comes.
    let event_id = got[0].header("rtk-uuid").to_owned();
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let states = server.server.store().db().await.unwrap().webhook_deliveries(&event_id).await.unwrap();
        if states[0].delivered {
            assert_eq!((states.len(), states[0].attempts), (1, 3), "{states:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not recorded as delivered: {states:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(receiver.got.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_receiver_that_never_answers_does_not_hold_up_joins_or_ends() {
    let server = TestServer::start_with(|config| config.webhooks.timeout = Duration::from_secs(60)).await;
    let (receiver, url) = Receiver::start(0, true).await;
    let meeting = server.meeting().await;
    subscribe(&server, &meeting, &url, &["meeting.started", "meeting.participantJoined", "meeting.ended"]).await;

    for round in 0..3 {
        let (_, token) = server.host(&meeting).await;
        let (mut ws, _) = server.join(&token).await;
        ws.send(&ClientFrame::kick_all(1)).await;
        let frames = ws.until_closed().await;
        assert!(
            frames.iter().any(|f| matches!(f, ServerFrame::RoomLeft { state: LeaveState::Ended, .. })),
            "round {round}: {frames:?}"
        );
    }
    // The first event of each of the three sessions is with the receiver, unanswered, while the hub went on (the
    // rest of each session waits behind its first: deliveries of a session go in order).
    let got = receiver.wait_for(3).await;
    let firsts: Vec<_> = got.iter().map(|d| d.json()["event"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(firsts, ["meeting.started"; 3], "{got:?}");
}
