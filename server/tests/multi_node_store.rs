//! Several nodes starting at once on one store: one data directory (the SQLite store shared across processes), or
//! one PostgreSQL database (`--database`; skipped without a test server, see `common/postgres.rs`). Each opens the
//! store, reads the participant-token secret and loads the webhook signing key at the same moment. All must start,
//! and all must end up with the same secret and the same key, or tokens made by one node fail on another and
//! webhooks signed by one fail against the key another publishes. Threads with their own runtimes, connections and
//! files lock exactly as processes do. And the nodes' delivery workers claim from one outbox: never one delivery
//! twice.

mod common;

use common::postgres::TestDatabase;
use endsession_server::store::Store;
use endsession_server::webhooks::Signer;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};

const NODES: usize = 6;

/// Runs `start` on NODES threads, each with a runtime of its own, released at the same instant; returns what each
/// got.
fn at_once<T, F, Fut>(start: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T>,
{
    let barrier = Arc::new(Barrier::new(NODES));
    let start = Arc::new(start);
    let threads: Vec<_> = (0..NODES)
        .map(|_| {
            let (barrier, start) = (barrier.clone(), start.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                barrier.wait();
                runtime.block_on(start())
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("a node panicked")).collect()
}

/// Where the nodes' store is.
#[derive(Clone)]
enum Shared {
    Dir(PathBuf),
    Postgres(String),
}

impl Shared {
    async fn open(&self) -> Result<Store, String> {
        match self {
            Shared::Dir(dir) => Store::open(dir).await,
            Shared::Postgres(url) => Store::connect(url).await,
        }
        .map_err(|e| e.to_string())
    }
}

async fn secrets_agree(shared: Shared, round: usize) {
    let secrets = at_once(move || {
        let shared = shared.clone();
        async move {
            shared.open().await?.db().await.map_err(|e| e.to_string())?.server_secret().await.map_err(|e| e.to_string())
        }
    });
    let secrets: Vec<Vec<u8>> =
        secrets.into_iter().collect::<Result<_, _>>().unwrap_or_else(|e| panic!("round {round}: {e}"));
    assert!(secrets.iter().all(|s| *s == secrets[0]), "round {round}: one secret for every node");
}

#[test]
fn nodes_opening_one_new_store_at_once_all_start_and_share_one_secret() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        run(secrets_agree(Shared::Dir(dir.path().to_owned()), round));
    }
}

#[test]
fn nodes_opening_one_new_postgres_database_at_once_all_start_and_share_one_secret() {
    for round in 0..3 {
        let Some(database) = run(TestDatabase::create()) else { return };
        run(secrets_agree(Shared::Postgres(database.url.clone()), round));
    }
}

/// Runs a future on a runtime of its own (the tests here are plain `#[test]`s: their nodes are threads).
fn run<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

#[test]
fn nodes_starting_at_once_on_one_data_directory_sign_with_one_key() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let keys = at_once(move || {
            let path = path.clone();
            async move { Signer::load_or_create(&path).map(|s| s.public_key_pem()).map_err(|e| e.to_string()) }
        });
        let keys: Vec<String> =
            keys.into_iter().collect::<Result<_, _>>().unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(keys.iter().all(|k| *k == keys[0]), "round {round}: every node publishes and signs with one key");
        // And it is the key a node starting later reads.
        assert_eq!(Signer::load_or_create(dir.path()).unwrap().public_key_pem(), keys[0]);
    }
}

/// Every node runs a delivery worker on the one outbox: each claim must take a delivery no other node took, or a
/// webhook gets the same event twice. Nodes claiming at once, everything due, each claim taking all it may.
async fn claims_never_overlap(shared: Shared) {
    use endsession_server::store::{WebhookEvent, WebhookRow};
    const EVENTS: usize = 200;
    let store = shared.open().await.unwrap();
    let mut db = store.db().await.unwrap();
    let app = db.create_app("acct", "a").await.unwrap().id;
    let meeting = db.create_meeting(&app, None, Default::default()).await.unwrap().id;
    let event = WebhookEvent::MeetingEnded;
    let row = WebhookRow::new(&app, "h".into(), "http://127.0.0.1:9/h".into(), vec![event], true);
    db.create_webhook(&row).await.unwrap();
    let hooks = db.webhook_subscribers(&meeting, event).await.unwrap();
    for i in 0..EVENTS {
        // One session per event: no event waits for an earlier one of its session.
        let body = serde_json::to_vec(&serde_json::json!({ "meeting": { "sessionId": format!("s{i}") } })).unwrap();
        db.enqueue_webhook_event(&app, event, &body, &hooks, "t", 0).await.unwrap();
    }
    drop(db);
    store.close().await;
    let claims = tokio::task::spawn_blocking(move || {
        at_once(move || {
            let shared = shared.clone();
            async move {
                let store = shared.open().await.unwrap();
                let mut claimed = Vec::new();
                // A few claims each, as a worker's loop makes them: a small room each time, so that the nodes
                // interleave.
                let mut empty_in_a_row = 0;
                for _ in 0..EVENTS * 4 {
                    let mut room = 3;
                    let mut take = |_: &str, _: &str| {
                        room -= 1;
                        room >= 0
                    };
                    let mut db = store.db().await.unwrap();
                    let (due, _) = db.claim_webhook_deliveries(1, 0, i64::MAX / 2, &mut take).await.unwrap();
                    // On Postgres a claim skips the rows another node's claim holds at that moment (`SKIP LOCKED`),
                    // which it may then leave unclaimed (beyond its room): one empty claim does not mean an empty
                    // outbox. A worker polls again; so does this loop, a few times, before it stops.
                    if due.is_empty() {
                        empty_in_a_row += 1;
                        if empty_in_a_row == 3 {
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                    empty_in_a_row = 0;
                    claimed.extend(due.into_iter().map(|d| d.event_id));
                }
                claimed
            }
        })
    })
    .await
    .unwrap();
    let mut all: Vec<String> = claims.into_iter().flatten().collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), EVENTS, "every delivery claimed");
    assert_eq!(total, EVENTS, "no delivery claimed by two nodes");
}

#[tokio::test]
async fn nodes_claiming_the_webhook_outbox_at_once_never_claim_the_same_delivery() {
    let dir = tempfile::tempdir().unwrap();
    claims_never_overlap(Shared::Dir(dir.path().to_owned())).await;
}

/// On Postgres the claim takes no write lock: `FOR UPDATE SKIP LOCKED` must keep the claims apart by itself.
#[tokio::test]
async fn nodes_claiming_a_postgres_outbox_at_once_never_claim_the_same_delivery() {
    let Some(database) = TestDatabase::create().await else { return };
    claims_never_overlap(Shared::Postgres(database.url.clone())).await;
}

/// The webhook signing key of nodes on one Postgres database is the database's: a rotation stored by the operator's
/// command (`--rotate-webhook-signing-key --database`) is announced by every node, and every node signs with the new
/// key from its switch time, as `/.well-known/webhooks.json` of each says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signing_key_rotation_on_postgres_reaches_every_node() {
    use common::TestServer;
    use reqwest::Method;
    use std::time::Duration;
    let Some(nodes) = TestServer::nodes_on_postgres(2, |_| {}).await else { return };
    async fn keys(node: &TestServer) -> (String, Vec<String>) {
        let url = format!("{}/.well-known/webhooks.json", node.base);
        let (_, body) = node.call(Method::GET, &url, None, None).await;
        let all: Vec<String> = serde_json::from_value(body["data"]["publicKeys"].clone()).unwrap();
        (body["data"]["publicKey"].as_str().unwrap().to_owned(), all)
    }
    let (old, _) = keys(&nodes[0]).await;
    assert_eq!(keys(&nodes[1]).await.0, old, "one key for every node");

    let window = Duration::from_secs(4);
    let rotation = endsession_server::webhooks::shared_key::rotate(nodes[0].server.store(), window).await.unwrap();
    let again = endsession_server::webhooks::shared_key::rotate(nodes[1].server.store(), window).await;
    assert!(again.unwrap_err().to_string().contains("already under way"), "one rotation at a time");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for node in &nodes {
        loop {
            let (signing, all) = keys(node).await;
            if all.len() == 2 {
                assert_eq!((signing.as_str(), all), (old.as_str(), vec![old.clone(), rotation.public_key_pem.clone()]));
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the rotation was not announced by {}", node.base);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for node in &nodes {
        loop {
            let (signing, all) = keys(node).await;
            if signing == rotation.public_key_pem {
                assert_eq!(all, vec![rotation.public_key_pem.clone()]);
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{} still signs with the old key", node.base);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
