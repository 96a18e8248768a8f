//! A fresh PostgreSQL database per test, on the server `ENDSESSION_TEST_DATABASE_URL` names (scripts/test.sh starts a
//! private one and sets it). Without it the Postgres tests say so loudly and pass as skipped, unless
//! `ENDSESSION_REQUIRE_POSTGRES` is set (as scripts/test.sh and so CI do), where a missing server fails them.

use sqlx::{AnyConnection, Connection, Executor};

/// The test server's admin URL, or None (a loud skip) when there is none and none is required.
pub fn postgres_url() -> Option<String> {
    match std::env::var("ENDSESSION_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("ENDSESSION_REQUIRE_POSTGRES").is_some() => panic!(
            "ENDSESSION_REQUIRE_POSTGRES is set but ENDSESSION_TEST_DATABASE_URL is not: no Postgres to test against"
        ),
        _ => {
            // Written past the test harness's capture (which only takes `eprintln!`), so that it shows.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED: Postgres tests need ENDSESSION_TEST_DATABASE_URL=postgres://USER@127.0.0.1:PORT/postgres \
                 (scripts/test.sh starts a private Postgres and sets it)"
            );
            None
        }
    }
}

/// A database made for one test, dropped (with any connection still open to it) when this is dropped.
pub struct TestDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl TestDatabase {
    /// A new, empty database on the test server; None when there is no server (see [`postgres_url`]).
    pub async fn create() -> Option<TestDatabase> {
        let admin = postgres_url()?;
        sqlx::any::install_default_drivers();
        let name = format!("endsession_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = AnyConnection::connect(&admin).await.expect("connect to ENDSESSION_TEST_DATABASE_URL");
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
        conn.close().await.unwrap();
        Some(TestDatabase { url: database_url(&admin, &name), admin, name })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run inside a runtime, which cannot be blocked on: a thread of its own with its own runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = AnyConnection::connect(&admin).await {
                    let _ = conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                }
            });
        })
        .join();
    }
}

/// `admin`'s URL with its database name replaced by `name`.
fn database_url(admin: &str, name: &str) -> String {
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
