//! The migrations against databases that older servers left: existing SQLite files open and upgrade.

use super::*;
use crate::config::Config;
use sqlx::{AnyConnection, Connection};
use std::time::Duration;

/// A SQLite database file in `dir` (owner-only, as the server requires) with the first `version` migrations
/// applied, as a server of that schema version left it; and a connection to it.
async fn sqlite_at(dir: &std::path::Path, version: usize) -> AnyConnection {
    use std::os::unix::fs::PermissionsExt;
    sqlx::any::install_default_drivers();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = dir.join(super::super::DB_FILE);
    super::super::data_dir::create_private_file(&path).unwrap();
    let mut conn = AnyConnection::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
    for (index, sql) in SQLITE.iter().enumerate().take(version) {
        conn.execute(*sql).await.unwrap();
        conn.execute(format!("PRAGMA user_version = {}", index + 1).as_str()).await.unwrap();
    }
    conn
}

/// Webhooks made before Standard Webhooks secrets (migration 8) each get their own 32 random bytes at the upgrade,
/// so every delivery after it carries a `webhook-signature` the app can learn to verify by rotating.
#[tokio::test]
async fn webhooks_from_before_secrets_each_get_their_own_at_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = sqlite_at(dir.path(), 7).await;
    conn.execute(
        "INSERT INTO accounts VALUES ('acct', '2026-01-05T09:00:00.000Z');
         INSERT INTO apps VALUES ('app', 'acct', 'app', '2026-01-05T09:00:00.000Z');
         INSERT INTO webhooks VALUES ('w1', 'app', 'one', 'https://example.com/a', '[\"meeting.ended\"]', 1,
             '2026-01-05T09:00:00.000Z', '2026-01-05T09:00:00.000Z');
         INSERT INTO webhooks VALUES ('w2', 'app', 'two', 'https://example.com/b', '[\"meeting.ended\"]', 1,
             '2026-01-05T09:00:00.000Z', '2026-01-05T09:00:00.000Z');",
    )
    .await
    .unwrap();
    conn.close().await.unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let mut db = store.db().await.unwrap();
    let mut secrets = Vec::new();
    for id in ["w1", "w2"] {
        let row = sqlx::query("SELECT secret, previous_secret FROM webhooks WHERE id = $1")
            .bind(id)
            .fetch_one(db.conn())
            .await
            .unwrap();
        secrets.push((row.get::<Vec<u8>, _>(0), row.get::<Option<Vec<u8>>, _>(1)));
    }
    let (one, two) = (secrets[0].clone(), secrets[1].clone());
    assert_eq!((one.0.len(), two.0.len()), (32, 32));
    assert_ne!(one.0, two.0, "each webhook has its own secret");
    assert_eq!((one.1, two.1), (None, None), "no rotation is running");
}

/// A session live at an upgrade from before `last_alive_at` (migration 4) has no such stamp; after the restart
/// that does the upgrade, nobody comes back, and it must end then (when it was last known live), not at its start.
#[tokio::test]
async fn a_session_live_at_an_upgrade_from_before_last_alive_at_does_not_end_at_its_start() {
    const STARTED: &str = "2026-01-05T09:00:00.000Z";
    let dir = tempfile::tempdir().unwrap();
    {
        let mut conn = sqlite_at(dir.path(), 3).await;
        // Two sessions of schema 3 left live: one with a participant in it, one with nobody (its keep-alive was
        // running). `meetings.settings` default: no keep-alive.
        conn.execute(format!(
            "INSERT INTO accounts VALUES ('acct', '{STARTED}');
             INSERT INTO apps VALUES ('app', 'acct', 'app', '{STARTED}');
             INSERT INTO meetings (id, app_id, created_at, updated_at) VALUES ('m1', 'app', '{STARTED}', '{STARTED}');
             INSERT INTO meetings (id, app_id, created_at, updated_at) VALUES ('m2', 'app', '{STARTED}', '{STARTED}');
             INSERT INTO participants VALUES ('p1', 'm1', 'c1', 'group_call_host', 'Ada', NULL, '{STARTED}', '{STARTED}');
             INSERT INTO sessions (id, meeting_id, started_at, peak_participants) VALUES ('s1', 'm1', '{STARTED}', 1);
             INSERT INTO sessions (id, meeting_id, started_at, peak_participants) VALUES ('s2', 'm2', '{STARTED}', 1);
             INSERT INTO session_participants VALUES ('sp1', 's1', 'p1', 'c1', 'Ada', 'group_call_host', '{STARTED}', NULL);"
        ).as_str())
        .await
        .unwrap();
        conn.close().await.unwrap();
    }

    let before_upgrade = crate::clock::now();
    let mut config = Config::local(dir.path());
    config.reconnect_grace = Duration::from_millis(100);
    let server = crate::start(config).await.unwrap();
    let store = server.store().clone();
    let ended = |id: &'static str| {
        let store = store.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let session = store.db().await.unwrap().session_of_app("app", id).await.unwrap().unwrap().0;
                if session.ended_at.is_some() {
                    return session;
                }
                assert!(tokio::time::Instant::now() < deadline, "{id} did not end after the restart");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    for id in ["s1", "s2"] {
        let session = ended(id).await;
        let at = session.ended_at.unwrap();
        assert_ne!(at, STARTED, "{id} ended at its start time");
        assert!(at >= before_upgrade, "{id} ended at {at}, before the upgrade ({before_upgrade})");
        assert_eq!(crate::clock::normalize(&at).as_deref(), Some(at.as_str()), "stored in the API's shape");
    }
}
