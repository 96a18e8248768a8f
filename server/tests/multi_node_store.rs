//! Several nodes starting at once on one data directory (the SQLite store shared across processes): each opens the
//! store, reads the participant-token secret and loads the webhook signing key at the same moment. All must start,
//! and all must end up with the same secret and the same key, or tokens made by one node fail on another and
//! webhooks signed by one fail against the key another publishes. Threads with their own connections and files
//! lock exactly as processes do.

use endsession_server::store::Store;
use endsession_server::webhooks::Signer;
use std::sync::{Arc, Barrier};

const NODES: usize = 6;

/// Runs `start` on NODES threads released at the same instant; returns what each got.
fn at_once<T: Send + 'static>(start: impl Fn() -> T + Send + Sync + 'static) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(NODES));
    let start = Arc::new(start);
    let threads: Vec<_> = (0..NODES)
        .map(|_| {
            let (barrier, start) = (barrier.clone(), start.clone());
            std::thread::spawn(move || {
                barrier.wait();
                start()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("a node panicked")).collect()
}

#[test]
fn nodes_opening_one_new_store_at_once_all_start_and_share_one_secret() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let secrets = at_once(move || {
            let store = Store::open(&path).map_err(|e| e.to_string())?;
            store.with(|db| db.server_secret()).map_err(|e| e.to_string())
        });
        let secrets: Vec<Vec<u8>> =
            secrets.into_iter().collect::<Result<_, _>>().unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(secrets.iter().all(|s| *s == secrets[0]), "round {round}: one secret for every node");
    }
}

#[test]
fn nodes_starting_at_once_on_one_data_directory_sign_with_one_key() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let keys =
            at_once(move || Signer::load_or_create(&path).map(|s| s.public_key_pem()).map_err(|e| e.to_string()));
        let keys: Vec<String> =
            keys.into_iter().collect::<Result<_, _>>().unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(keys.iter().all(|k| *k == keys[0]), "round {round}: every node publishes and signs with one key");
        // And it is the key a node starting later reads.
        assert_eq!(Signer::load_or_create(dir.path()).unwrap().public_key_pem(), keys[0]);
    }
}

/// Every node runs a delivery worker on the one outbox: each claim must take a delivery no other node took, or a
/// webhook gets the same event twice. Nodes claiming at once, everything due, each claim taking all it may.
#[test]
fn nodes_claiming_the_webhook_outbox_at_once_never_claim_the_same_delivery() {
    use endsession_server::store::{WebhookEvent, WebhookRow};
    const EVENTS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let app = store.with(|db| db.create_app("acct", "a")).unwrap().id;
    let meeting = store.with(|db| db.create_meeting(&app, None, Default::default())).unwrap().id;
    let event = WebhookEvent::MeetingEnded;
    let row = WebhookRow::new(&app, "h".into(), "http://127.0.0.1:9/h".into(), vec![event], true);
    store.with(|db| db.create_webhook(&row)).unwrap();
    let hooks = store.with(|db| db.webhook_subscribers(&meeting, event)).unwrap();
    for i in 0..EVENTS {
        // One session per event: no event waits for an earlier one of its session.
        let body = serde_json::to_vec(&serde_json::json!({ "meeting": { "sessionId": format!("s{i}") } })).unwrap();
        store.with(|db| db.enqueue_webhook_event(&app, event, &body, &hooks, "t", 0)).unwrap();
    }
    let path = dir.path().to_owned();
    let claims = at_once(move || {
        let store = Store::open(&path).unwrap();
        let mut claimed = Vec::new();
        // A few claims each, as a worker's loop makes them: a small room each time, so that the nodes interleave.
        for _ in 0..EVENTS {
            let mut room = 3;
            let mut take = |_: &str, _: &str| {
                room -= 1;
                room >= 0
            };
            let (due, _) = store.with(|db| db.claim_webhook_deliveries(1, 0, i64::MAX / 2, &mut take)).unwrap();
            if due.is_empty() {
                break;
            }
            claimed.extend(due.into_iter().map(|d| d.event_id));
        }
        claimed
    });
    let mut all: Vec<String> = claims.into_iter().flatten().collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), EVENTS, "every delivery claimed");
    assert_eq!(total, EVENTS, "no delivery claimed by two nodes");
}
