//! The shared stores over TLS, as managed Postgres and Redis services require: two nodes on a Postgres database
//! reached with `sslmode=verify-full` and a Redis that only speaks TLS (`rediss://`, `--redis-ca-file`) end a session
//! for everyone, every store connection of theirs is encrypted, and a server whose certificate the node cannot
//! verify is refused at start.
//!
//! Needs the private Postgres of scripts/test.sh, started with TLS on and its throwaway CA and certificate in
//! `ENDSESSION_TEST_TLS_DIR` (`ca.crt`, `server.crt`, `server.key`); the Redis is started here, on those
//! certificates. Without them these tests say so loudly and pass as skipped, unless `ENDSESSION_REQUIRE_POSTGRES`
//! is set (as scripts/test.sh and so CI do).

mod common;

use common::postgres::TestDatabase;
use common::TestServer;
use endsession_protocol::{ClientFrame, LeaveState, ServerFrame};
use endsession_server::config::Config;
use sqlx::{AnyConnection, Connection, Row};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The directory of the test CA and certificate, or None (a loud skip) when there is none and none is required.
fn tls_dir() -> Option<PathBuf> {
    match std::env::var("ENDSESSION_TEST_TLS_DIR") {
        Ok(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ if std::env::var_os("ENDSESSION_REQUIRE_POSTGRES").is_some() => {
            panic!("ENDSESSION_REQUIRE_POSTGRES is set but ENDSESSION_TEST_TLS_DIR is not: scripts/test.sh sets both")
        }
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED: TLS store tests need ENDSESSION_TEST_TLS_DIR (scripts/test.sh makes the certificates)"
            );
            None
        }
    }
}

/// A redis-server with no plain port, only TLS on `port`, with the test certificate; stopped on drop.
struct TlsRedis {
    child: Child,
    port: u16,
}

impl TlsRedis {
    async fn start(tls: &Path) -> TlsRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| tls.join(name).to_str().unwrap().to_owned();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", "0", "--tls-port", &port.to_string()])
            .args(["--tls-cert-file", &file("server.crt"), "--tls-key-file", &file("server.key")])
            .args(["--tls-ca-cert-file", &file("ca.crt"), "--tls-auth-clients", "no"])
            .args(["--save", "", "--appendonly", "no", "--dir", dir.path().to_str().unwrap()])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/setup.sh installs it)");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "redis-server with TLS did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        TlsRedis { child, port }
    }

    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A certificate authority that signed nothing the tests' servers present.
fn another_ca(dir: &Path) -> PathBuf {
    let (key, cert) = (dir.join("other.key"), dir.join("other.crt"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=not-the-test-ca"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/setup.sh installs it)");
    assert!(made.success());
    cert
}

/// `url` (no query yet) with TLS required and the server's certificate checked against `ca` and 127.0.0.1.
fn verify_full(url: &str, ca: &Path) -> String {
    format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_postgres_and_redis_over_tls_end_a_session_for_everyone() {
    let Some(tls) = tls_dir() else { return };
    let Some(database) = TestDatabase::create().await else { return };
    let redis = TlsRedis::start(&tls).await;
    let ca = tls.join("ca.crt");
    let url = verify_full(&database.url, &ca);
    let a = TestServer::start_with(|config| {
        config.database = Some(url.clone());
        config.redis = Some(redis.url());
        config.redis_ca_file = Some(ca.clone());
    })
    .await;
    let b = a.another_node(|_| {}).await;

    let meeting = a.meeting().await;
    let (_, host_token) = a.host(&meeting).await;
    let (_, guest_token) = b.guest(&meeting).await;
    let (mut host, session) = a.join(&host_token).await;
    let (mut guest, _) = b.join(&guest_token).await;
    host.send(&ClientFrame::kick_all(1)).await;
    for ws in [&mut guest, &mut host] {
        let frames = ws.until_closed().await;
        let ended = frames.iter().any(
            |f| matches!(f, ServerFrame::RoomLeft { state: LeaveState::Ended, session_id, .. } if *session_id == session),
        );
        assert!(ended, "{frames:?}");
    }

    // Every connection the two nodes hold to their database is encrypted.
    let name = database.url.rsplit('/').next().unwrap().to_owned();
    let admin = std::env::var("ENDSESSION_TEST_DATABASE_URL").unwrap();
    let mut conn = AnyConnection::connect(&admin).await.unwrap();
    let row = sqlx::query(
        "SELECT count(*)::bigint AS all_, count(*) FILTER (WHERE s.ssl)::bigint AS tls FROM pg_stat_ssl s \
         JOIN pg_stat_activity a ON a.pid = s.pid WHERE a.datname = $1",
    )
    .bind(&name)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let (all, encrypted): (i64, i64) = (row.get("all_"), row.get("tls"));
    assert!(all > 0, "the nodes hold no connection to {name}");
    assert_eq!(encrypted, all, "{} of the nodes' {all} connections to Postgres are in the clear", all - encrypted);
}

/// Starts a server with `configure`d config; the error it refuses to start with (within a deadline).
async fn refused(configure: impl FnOnce(&mut Config)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::local(dir.path());
    configure(&mut config);
    let started = tokio::time::timeout(Duration::from_secs(60), endsession_server::start(config)).await;
    match started.expect("a server whose store cannot be verified neither started nor failed within 60 s") {
        Ok(_) => panic!("started on a store whose certificate it cannot verify"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_certificate_the_node_cannot_verify_is_refused_at_start() {
    let Some(tls) = tls_dir() else { return };
    let Some(database) = TestDatabase::create().await else { return };
    let redis = TlsRedis::start(&tls).await;
    let scratch = tempfile::tempdir().unwrap();
    let other = another_ca(scratch.path());

    // Postgres presenting a certificate of a CA the node was not told to trust.
    let url = verify_full(&database.url, &other);
    let error = refused(|config| config.database = Some(url)).await;
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    // Redis: the wrong CA, and no CA (the system's roots do not hold the test CA).
    let error = refused(|config| {
        config.redis = Some(redis.url());
        config.redis_ca_file = Some(other.clone());
    })
    .await;
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    let error = refused(|config| config.redis = Some(redis.url())).await;
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    // A CA file with a plain redis:// URL is a mistake, said at start.
    let error = refused(|config| {
        config.redis = Some(format!("redis://127.0.0.1:{}", redis.port));
        config.redis_ca_file = Some(tls.join("ca.crt"));
    })
    .await;
    assert!(error.contains("rediss://"), "{error}");
}
