//! Stores for the unit tests: each test runs on a private SQLite file in a temporary directory (as a server's: WAL,
//! several connections) and, when the environment names
//! a Postgres server (`ENDSESSION_TEST_DATABASE_URL`, set by scripts/test.sh), on a fresh Postgres database of its
//! own, created for the test and dropped after it. With `ENDSESSION_REQUIRE_POSTGRES` set and no server named, the
//! tests fail instead of running on SQLite alone.

use super::{Dialect, Store};
use sqlx::{Connection, Executor};

/// A store for one test; a Postgres one drops its database when dropped.
pub struct TestStore {
    store: Store,
    /// The admin URL and the database to drop.
    postgres: Option<(String, String)>,
    /// The SQLite store's directory, removed when dropped.
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else { return };
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own with its own runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await {
                    let _ = conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                }
            });
        })
        .join();
    }
}

/// The Postgres server to test on, or None when there is none and none is required.
pub fn postgres_url() -> Option<String> {
    match std::env::var("ENDSESSION_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("ENDSESSION_REQUIRE_POSTGRES").is_some() => panic!(
            "ENDSESSION_REQUIRE_POSTGRES is set but ENDSESSION_TEST_DATABASE_URL is not: no Postgres to test against"
        ),
        _ => None,
    }
}

/// A fresh Postgres database on the test server: its URL, and the store on it.
pub async fn fresh_postgres(admin: &str) -> TestStore {
    sqlx::any::install_default_drivers();
    let name = format!("endsession_unit_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::AnyConnection::connect(admin).await.expect("connect to ENDSESSION_TEST_DATABASE_URL");
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    conn.close().await.unwrap();
    let url = database_url(admin, &name);
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.dialect(), Dialect::Postgres);
    TestStore { store, postgres: Some((admin.to_owned(), name)), _dir: None }
}

/// `admin`'s URL with its database name replaced by `name`.
pub fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = admin.split_once('?').map_or((admin, None), |(base, query)| (base, Some(query)));
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// A store on a SQLite file in a fresh temporary directory.
pub async fn fresh_sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    TestStore { store, postgres: None, _dir: Some(dir) }
}

/// The stores a test runs on: SQLite, then a fresh Postgres database when there is a server.
pub async fn stores() -> Vec<TestStore> {
    let mut stores = vec![fresh_sqlite().await];
    if let Some(admin) = postgres_url() {
        stores.push(fresh_postgres(&admin).await);
    }
    stores
}
