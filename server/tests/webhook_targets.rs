//! `--webhook-targets public`: webhook URLs that point at the server's own network are refused when a webhook is
//! created, edited or replaced (400 naming `url`, nothing changed), and at delivery after DNS resolution, so neither
//! a name that resolves to loopback nor an address spelled another way gets through.

mod common;
mod webhook_support;

use common::TestServer;
use endsession_server::store::{WebhookEvent, WebhookRow};
use endsession_server::webhooks::TargetPolicy;
use reqwest::{Method, StatusCode};
use serde_json::json;
use webhook_support::{eventually, summary, Answer, Receiver, PATIENCE};

/// Non-public targets in the spellings a URL parser accepts.
const REFUSED: &[&str] = &[
    "http://localhost/hooks",
    "http://LOCALHOST.:8080/hooks",
    "http://api.localhost/hooks",
    "http://127.0.0.1/hooks",
    "http://2130706433/hooks",
    "http://0x7f.1/hooks",
    "http://0177.0.0.01/hooks",
    "http://127.1:9000/hooks",
    "http://[::1]/hooks",
    "http://[::ffff:127.0.0.1]/hooks",
    "http://[::ffff:7f00:1]/hooks",
    "https://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://10.0.0.5/hooks",
    "http://172.16.0.1/hooks",
    "http://172.31.255.254/hooks",
    "http://192.168.1.1/hooks",
    "http://100.64.0.1/hooks",
    "http://0.0.0.0:8787/hooks",
    "http://0/hooks",
    "http://[::]/hooks",
    "http://[fc00::1]/hooks",
    "http://[fd12:3456::1]/hooks",
    "http://[fe80::1]/hooks",
    "http://[64:ff9b::a00:1]/hooks",
    "http://224.0.0.1/hooks",
    "http://255.255.255.255/hooks",
];

fn public_only() -> impl FnOnce(&mut endsession_server::config::Config) {
    |config| config.webhooks.targets = TargetPolicy::Public
}

fn assert_refused(status: StatusCode, body: &serde_json::Value, url: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("`url` points at") && message.contains("public addresses only"), "{url}: {message}");
}

#[tokio::test]
async fn non_public_urls_are_refused_on_create_edit_and_replace() {
    let server = TestServer::start_with(public_only()).await;
    let meeting = server.meeting().await;
    let hooks = format!("/{}/webhooks", meeting.app_id);
    for url in REFUSED {
        let body = json!({ "name": "h", "url": url, "events": ["meeting.ended"] });
        let (status, answer) = server.api(Method::POST, &hooks, Some(body)).await;
        assert_refused(status, &answer, url);
    }
    assert_eq!(server.admin(Method::GET, &hooks, None).await, json!([]), "nothing was created");

    let good = json!({ "name": "h", "url": "https://hooks.example.com/rtk", "events": ["meeting.ended"] });
    let created = server.admin(Method::POST, &hooks, Some(good)).await;
    let one = format!("{hooks}/{}", created["id"].as_str().unwrap());
    for url in REFUSED {
        let (status, answer) = server.api(Method::PATCH, &one, Some(json!({ "url": url }))).await;
        assert_refused(status, &answer, url);
        let body = json!({ "name": "h2", "url": url, "events": ["meeting.started"] });
        let (status, answer) = server.api(Method::PUT, &one, Some(body)).await;
        assert_refused(status, &answer, url);
    }
    let mut unchanged = created.clone();
    unchanged.as_object_mut().unwrap().remove("secret"); // shown by the create answer only
    assert_eq!(server.admin(Method::GET, &one, None).await, unchanged, "edits refused: the webhook is unchanged");
    let public_ip = json!({ "url": "http://1.1.1.1:8080/hooks" });
    assert_eq!(server.admin(Method::PATCH, &one, Some(public_ip)).await["url"], "http://1.1.1.1:8080/hooks");
}

#[tokio::test]
async fn without_the_policy_a_receiver_on_this_machine_may_be_registered() {
    let server = TestServer::start().await; // Config::local: what tests and --dev use
    let meeting = server.meeting().await;
    let body = json!({ "name": "h", "url": "http://localhost:9/hooks", "events": ["meeting.ended"] });
    server.admin(Method::POST, &format!("/{}/webhooks", meeting.app_id), Some(body)).await;
}

#[tokio::test]
async fn deliveries_to_non_public_addresses_are_refused_after_resolution() {
    let server = TestServer::start_with(|config| {
        config.webhooks.targets = TargetPolicy::Public;
        config.webhooks.max_attempts = 1;
    })
    .await;
    let receiver = Receiver::start(&server, |_, _| Answer::Status(200)).await;
    let port = receiver.url.trim_start_matches("http://127.0.0.1:").trim_end_matches("/hooks").to_owned();
    let meeting = server.meeting().await;
    // Webhooks saved before the policy was turned on (the API would refuse them now): written to the store as the
    // API would have. `localhost` is a name the resolver answers with loopback addresses; the others are literals
    // the client would connect to without resolving.
    let urls = [
        format!("http://localhost:{port}/hooks"),
        format!("http://127.0.0.1:{port}/hooks"),
        format!("http://[::ffff:127.0.0.1]:{port}/hooks"),
        format!("http://2130706433:{port}/hooks"),
    ];
    for url in &urls {
        let row = WebhookRow::new(&meeting.app_id, "old".into(), url.clone(), vec![WebhookEvent::MeetingStarted], true);
        server.server.store().db().await.unwrap().create_webhook(&row).await.unwrap();
    }
    let (_, token) = server.host(&meeting).await;
    let (_ws, _) = server.join(&token).await;

    let states = eventually(PATIENCE, "every delivery given up", || async {
        let events = server.server.store().db().await.unwrap().webhook_events(&meeting.app_id).await.unwrap();
        let event = events.first()?.0.clone();
        let states = server.server.store().db().await.unwrap().webhook_deliveries(&event).await.unwrap();
        (states.len() == urls.len() && states.iter().all(|s| s.abandoned)).then_some(states)
    })
    .await;
    for state in &states {
        let error = state.last_error.as_deref().unwrap_or_default();
        assert!(error.contains("refused") && error.contains("public addresses only"), "{state:?}");
    }
    assert!(
        states.iter().any(|s| s
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("`localhost` resolves to no public")),
        "the name was refused after resolution: {states:?}"
    );
    assert!(receiver.got().is_empty(), "nothing reached the receiver: {:#?}", summary(&receiver.got()));
}
