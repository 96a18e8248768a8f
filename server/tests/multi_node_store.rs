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
