//! A webhook receiver on 127.0.0.1:0 that checks every delivery's `rtk-signature` against the server's published
//! key and keeps the verified events, for tests that count them.

#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One verified event: its `rtk-uuid` and its JSON body.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub body: Value,
}

impl Event {
    pub fn name(&self) -> &str {
        self.body["event"].as_str().unwrap_or_default()
    }

    pub fn session_id(&self) -> &str {
        self.body["meeting"]["sessionId"].as_str().unwrap_or_default()
    }
}

#[derive(Clone)]
pub struct Receiver {
    key: Arc<Mutex<Option<VerifyingKey<Sha256>>>>,
    events: Arc<Mutex<Vec<Event>>>,
    /// Deliveries whose signature did not verify (must stay empty).
    pub forged: Arc<Mutex<u32>>,
    seen: Arc<Mutex<HashSet<String>>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let signature = base64::engine::general_purpose::STANDARD.decode(header("rtk-signature")).unwrap_or_default();
    let verified = {
        let key = receiver.key.lock().unwrap();
        match (key.as_ref(), Signature::try_from(signature.as_slice())) {
            (Some(key), Ok(signature)) => key.verify(&body, &signature).is_ok(),
            _ => false,
        }
    };
    if !verified {
        *receiver.forged.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    }
    // A retry of an event already received (the answer was lost) is acknowledged, not counted twice.
    let id = header("rtk-uuid");
    if receiver.seen.lock().unwrap().insert(id.clone()) {
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        receiver.events.lock().unwrap().push(Event { id, body });
    }
    StatusCode::OK
}

impl Receiver {
    /// Listens on 127.0.0.1:0; returns the receiver and its URL. Call [`Receiver::trust`] before events arrive.
    pub async fn start() -> (Receiver, String) {
        let receiver =
            Receiver { key: Arc::default(), events: Arc::default(), forged: Arc::default(), seen: Arc::default() };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let app = Router::new().route("/hooks", post(receive)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    /// Trusts the public key the server publishes at `/.well-known/webhooks.json` (`base` is the server's URL).
    pub async fn trust(&self, base: &str) {
        let url = format!("{base}/.well-known/webhooks.json");
        let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        let pem = body["data"]["publicKey"].as_str().expect("the public key");
        *self.key.lock().unwrap() = Some(VerifyingKey::new(rsa::RsaPublicKey::from_public_key_pem(pem).unwrap()));
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// The events named `name`.
    pub fn named(&self, name: &str) -> Vec<Event> {
        self.events().into_iter().filter(|e| e.name() == name).collect()
    }

    /// Waits until `until` holds for the events, up to `within`; returns them.
    pub async fn wait(&self, within: Duration, what: &str, until: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let events = self.events();
            if until(&events) {
                return events;
            }
            assert!(tokio::time::Instant::now() < deadline, "{what} within {within:?}; got {events:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
