//! A real webhook receiver on 127.0.0.1 for the webhook tests: it verifies every delivery's `rtk-signature` against
//! the key the server publishes at `/.well-known/webhooks.json`, answers as the test's script says (a status, or
//! never), and records what came when.

#![allow(dead_code)]

use crate::common::{Meeting, TestServer};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use reqwest::Method;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Accepts the request and never answers.
    Hang,
}

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub at: Instant,
    pub uuid: String,
    pub webhook_id: String,
    pub body: Bytes,
    pub verified: bool,
    pub answer: Answer,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn event(&self) -> String {
        self.json()["event"].as_str().unwrap_or_default().to_owned()
    }

    pub fn session_id(&self) -> String {
        self.json()["meeting"]["sessionId"].as_str().unwrap_or_default().to_owned()
    }

    pub fn accepted(&self) -> bool {
        matches!(self.answer, Answer::Status(200..=299))
    }
}

/// Decides the answer to a delivery, given those that came before it.
pub type Script = dyn Fn(&Delivery, &[Delivery]) -> Answer + Send + Sync;

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
    script: Arc<Mutex<Arc<Script>>>,
    key: VerifyingKey<Sha256>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let signature = base64::engine::general_purpose::STANDARD.decode(header("rtk-signature")).unwrap_or_default();
    let verified = Signature::try_from(signature.as_slice()).is_ok_and(|s| receiver.key.verify(&body, &s).is_ok());
    let mut delivery = Delivery {
        at: Instant::now(),
        uuid: header("rtk-uuid"),
        webhook_id: header("rtk-webhook-id"),
        body,
        verified,
        answer: Answer::Hang,
    };
    let answer = {
        let script = receiver.script.lock().unwrap().clone();
        let mut got = receiver.got.lock().unwrap();
        delivery.answer = script(&delivery, &got);
        got.push(delivery.clone());
        delivery.answer
    };
    match answer {
        Answer::Status(code) => StatusCode::from_u16(code).unwrap(),
        Answer::Hang => std::future::pending().await,
    }
}

impl Receiver {
    /// Listens on 127.0.0.1:0 and verifies against `server`'s published key; answers as `script` says.
    pub async fn start(
        server: &TestServer,
        script: impl Fn(&Delivery, &[Delivery]) -> Answer + Send + Sync + 'static,
    ) -> Receiver {
        let url = format!("{}/.well-known/webhooks.json", server.base);
        let (_, well_known) = server.call(Method::GET, &url, None, None).await;
        let pem = well_known["data"]["publicKey"].as_str().expect("the public key");
        let key = VerifyingKey::<Sha256>::new(rsa::RsaPublicKey::from_public_key_pem(pem).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let receiver = Receiver {
            url: format!("http://127.0.0.1:{port}/hooks"),
            got: Arc::default(),
            script: Arc::new(Mutex::new(Arc::new(script))),
            key,
        };
        let app = Router::new().route("/hooks", post(receive)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    /// From now on, answer as `script` says.
    pub fn script(&self, script: impl Fn(&Delivery, &[Delivery]) -> Answer + Send + Sync + 'static) {
        *self.script.lock().unwrap() = Arc::new(script);
    }

    pub fn got(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (at most `within`) until `until` holds for what came; returns what came.
    pub async fn wait_until(&self, within: Duration, what: &str, until: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.got();
            if until(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "no {what} within {within:?}; got {:#?}", summary(&got));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// `(event, session, answer)` of each delivery, for failure messages.
pub fn summary(got: &[Delivery]) -> Vec<(String, String, Answer)> {
    got.iter().map(|d| (d.event(), d.session_id(), d.answer)).collect()
}

/// A webhook of the meeting's app (account `ACCOUNT`) to `url`; returns its id.
pub async fn subscribe(server: &TestServer, meeting: &Meeting, url: &str, events: &[&str]) -> String {
    let body = json!({ "name": "test", "url": url, "events": events });
    let hook = server.admin(Method::POST, &format!("/{}/webhooks", meeting.app_id), Some(body)).await;
    hook["id"].as_str().unwrap().to_owned()
}

/// Waits (at most `within`) until `check` returns Some.
pub async fn eventually<T, Fut>(within: Duration, what: &str, mut check: impl FnMut() -> Fut) -> T
where
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub const ALL_EVENTS: [&str; 4] =
    ["meeting.started", "meeting.participantJoined", "meeting.participantLeft", "meeting.ended"];

/// Long enough for anything these tests wait for on a loaded 2-core machine; they fail only on a wrong outcome.
pub const PATIENCE: Duration = Duration::from_secs(20);
