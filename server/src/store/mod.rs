//! The durable state: a SQLite file (`<data>/endsession.sqlite3`, WAL; the default) or a PostgreSQL database
//! (`--database postgres://…`, shared by every node), behind one store layer.
//!
//! Every query is a method of [`Db`], grouped by table in the submodules, so the REST API can grow a table at a time
//! without SQL leaking into handlers. [`Store`] owns a pool of connections; [`Store::db`] lends one, [`Store::begin`]
//! one inside a write transaction ([`Tx`]).
//!
//! ## Why sqlx's `Any` driver
//! Both backends go through [sqlx]'s `Any` driver (`AnyPool`, `AnyConnection`): each query is written once, in the
//! SQL both understand (`$1` placeholders, which SQLite takes as numbered parameters; `ON CONFLICT … DO NOTHING`;
//! no `rowid`-only or `json_each`-only tricks — the Postgres schema names its insertion-order column `rowid`, so
//! `ORDER BY …, rowid` reads the same on both). The few spots where the dialects truly differ are in [`Dialect`].
//! Making every method generic over `sqlx::Database` instead was the other choice: it needs a `where` clause of
//! `Encode`/`Decode`/`Executor` bounds on every method and still two instantiations of everything, for no gain in
//! what can be said, since only the types `Any` carries are stored (text, 64-bit integers, blobs, NULL).
//! `Any`'s limits shape the queries: booleans are stored and read as integers (`Any` decodes a `bool` only from a
//! real boolean, which SQLite has not), and a `SELECT` returns columns, not comparisons (SQLite types those as
//! booleans, which `Any` refuses).
//!
//! ## Writers
//! A write that reads before it writes (a join checking the live session, an end, a claim of the webhook outbox)
//! runs in a [`Tx`], which holds the database's one write lock until it commits: `BEGIN IMMEDIATE` on SQLite (so
//! several nodes on one file take turns, the busy timeout waiting), and on Postgres a transaction-scoped advisory
//! lock taken first ([`WRITE_LOCK`]), the same one-writer-at-a-time rule, so both backends keep the invariants the
//! hub relies on. The webhook outbox is claimed without that lock on Postgres: `FOR UPDATE SKIP LOCKED` leases let
//! the nodes' workers claim side by side, each delivery by exactly one (see `webhook_outbox.rs`).
//!
//! ## Schema
//! `schema.rs` keeps two append-only migration lists, one per backend: SQLite's is numbered by `user_version` as it
//! always was (existing files keep opening and upgrading), Postgres' by a `schema_version` table. sqlx's own
//! migrator is not used: it would have to adopt the `user_version` of every existing SQLite file.

mod accounts;
mod apps;
mod attendance;
mod batched;
mod data_dir;
mod lifecycle;
mod lifecycle_end;
mod meetings;
mod paging;
mod participants;
mod presets;
mod schema;
mod sessions;
mod webhook_outbox;
mod webhooks;

pub use accounts::StoredToken;
pub use apps::{AppPage, AppRow};
pub use attendance::AttendanceRow;
pub use data_dir::ExposedData;
pub use lifecycle::EndRecord;
pub use lifecycle_end::{CountdownRow, SessionEnd};
pub use meetings::{
    MeetingFilter, MeetingRow, MeetingStatus, KEEP_ALIVE_SETTING, MAX_KEEP_ALIVE_SECS, MAX_NO_HOST_SECS,
    NO_HOST_SETTING,
};
pub use paging::{Page, PageRequest, DEFAULT_PER_PAGE, MAX_PER_PAGE};
pub use participants::{AdmissionAsk, AdmissionBatch, JoinContext, JoinRefusal, ParticipantRow, TokenStanding};
pub use presets::{PresetConflict, PresetRow};
pub use sessions::{LiveSessionRow, ResumeCheck, SessionFilter, SessionRow, SessionSort};
pub use webhook_outbox::{DeliveryState, DueDelivery, EventMeeting, OpenStay};
pub use webhooks::{WebhookEvent, WebhookRow, WebhookSecret};

use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// File name of the database inside `--data`.
pub const DB_FILE: &str = "endsession.sqlite3";

/// The Postgres advisory lock (`pg_advisory_xact_lock`) every [`Tx`] takes first: the one write lock, like SQLite's.
/// Any fixed number works; this one spells "endsesn" in ASCII, so that it hardly meets another program's.
pub const WRITE_LOCK: i64 = 0x0065_6e64_7365_736e;

/// How long a connection may wait for SQLite's write lock (another node's transaction) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a Postgres transaction may wait for the write lock: longer than SQLite's busy timeout, as every node's
/// writers queue for it over the network.
const WRITE_LOCK_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("store task: {0}")]
    Task(String),
    #[error(transparent)]
    Exposed(#[from] ExposedData),
    /// The database holds what this server cannot read (a newer schema, a value out of range).
    #[error("database: {0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Which database the store is on, and the few SQL fragments that differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The statement that opens a write transaction (see the module doc, "Writers").
    fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// Seconds from the API timestamp in `start` to the one in `end` (or now, when `end` is NULL), as a number.
    pub fn seconds_between(self, start: &str, end: &str) -> String {
        match self {
            Dialect::Sqlite => {
                format!(
                    "(julianday(COALESCE({end}, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) - julianday({start})) * 86400"
                )
            }
            Dialect::Postgres => {
                format!(
                    "EXTRACT(EPOCH FROM (COALESCE(CAST({end} AS timestamptz), now()) - CAST({start} AS timestamptz)))"
                )
            }
        }
    }
}

/// A connection on loan from the store: every query is a method (see the submodules).
pub struct Db {
    conn: Conn,
    dialect: Dialect,
    /// Rung when a webhook event is enqueued ([`Store::webhook_bell`]).
    webhook_bell: Arc<Notify>,
    /// An event was enqueued in this connection's transaction: the bell rings at its commit.
    ring_at_commit: bool,
}

enum Conn {
    Pooled(PoolConnection<Any>),
    Tx(Transaction<'static, Any>),
}

impl Db {
    /// The connection, for a query.
    fn conn(&mut self) -> &mut AnyConnection {
        match &mut self.conn {
            Conn::Pooled(conn) => conn,
            Conn::Tx(tx) => tx,
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Rings the webhook bell once the event just enqueued is visible to other connections: now outside a
    /// transaction, at the commit of a [`Tx`] inside one.
    fn ring_webhook_bell(&mut self) {
        match self.conn {
            Conn::Tx(_) => self.ring_at_commit = true,
            Conn::Pooled(_) => self.webhook_bell.notify_waiters(),
        }
    }

    /// A write transaction for one method's several statements: a savepoint inside a [`Tx`], else a transaction
    /// of its own holding the write lock (as [`Store::begin`] takes it). Rolled back unless committed.
    async fn begin_write(&mut self) -> Result<Transaction<'_, Any>> {
        let (dialect, nested) = (self.dialect, matches!(self.conn, Conn::Tx(_)));
        let conn = self.conn();
        if nested {
            return Ok(conn.begin().await?);
        }
        let mut tx = conn.begin_with(dialect.begin()).await?;
        if dialect == Dialect::Postgres {
            write_lock(&mut tx).await?;
        }
        Ok(tx)
    }
}

/// A cheap, cloneable handle on the database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    webhook_bell: Arc<Notify>,
}

impl Store {
    /// Opens (creating if needed) `<dir>/endsession.sqlite3` and brings its schema up to date. The directory and the
    /// database files are created owner-only (700, 600) whatever the umask; [`StoreError::Exposed`] if the directory
    /// or anything in it is open to group or others (it holds secrets).
    pub async fn open(dir: &Path) -> Result<Store> {
        data_dir::prepare(dir)?;
        let path = dir.join(DB_FILE);
        data_dir::create_private_file(&path)?;
        let url = format!("sqlite://{}", path.display());
        // WAL lets readers go on while a writer writes; it is a property of the file, so set once, here (another
        // node opening the same file at once may hold it: retried).
        let pool = sqlite_pool(&url, 4).await?;
        retry_busy(|| async { pool.execute("PRAGMA journal_mode = WAL").await.map(drop) }).await?;
        Store::init(pool, Dialect::Sqlite).await
    }

    /// A private in-memory SQLite database, for unit tests. One connection: each in-memory connection would be a
    /// database of its own.
    pub async fn open_in_memory() -> Result<Store> {
        Store::init(sqlite_pool("sqlite::memory:", 1).await?, Dialect::Sqlite).await
    }

    /// Connects to a PostgreSQL database (`postgres://user@host:port/name`) and brings its schema up to date. Several
    /// nodes may connect to one database at once: migrations take turns (see `schema.rs`).
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let pool =
            AnyPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
        Store::init(pool, Dialect::Postgres).await
    }

    /// [`Store::connect`] for a `postgres://` or `postgresql://` URL, else [`Store::open`] of `data`.
    pub async fn open_configured(database: Option<&str>, data: &Path) -> Result<Store> {
        match database {
            Some(url) => Store::connect(url).await,
            None => Store::open(data).await,
        }
    }

    async fn init(pool: AnyPool, dialect: Dialect) -> Result<Store> {
        let store = Store { pool, dialect, webhook_bell: Arc::new(Notify::new()) };
        schema::migrate(&store).await?;
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Rings (`notify_waiters`) each time a webhook event is enqueued in this store, so the delivery worker need not
    /// wait for its next poll. One per store, not per process: a worker is woken only by its own store's events.
    pub fn webhook_bell(&self) -> Arc<Notify> {
        self.webhook_bell.clone()
    }

    /// A connection, outside any transaction (each statement commits by itself).
    pub async fn db(&self) -> Result<Db> {
        let conn = self.pool.acquire().await?;
        Ok(Db {
            conn: Conn::Pooled(conn),
            dialect: self.dialect,
            webhook_bell: self.webhook_bell.clone(),
            ring_at_commit: false,
        })
    }

    /// A connection inside a write transaction holding the database's write lock (see the module doc, "Writers"):
    /// all of its writes, or none. [`Tx::commit`] ends it; dropping it uncommitted (an early `?`, a panic, a
    /// cancelled task) rolls it back.
    pub async fn begin(&self) -> Result<Tx> {
        let tx = retry_busy(|| self.pool.begin_with(self.dialect.begin())).await?;
        let mut db = Db {
            conn: Conn::Tx(tx),
            dialect: self.dialect,
            webhook_bell: self.webhook_bell.clone(),
            ring_at_commit: false,
        };
        if self.dialect == Dialect::Postgres {
            write_lock(db.conn()).await?;
        }
        Ok(Tx { db })
    }

    /// Closes every connection (waiting for those on loan to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Takes Postgres' write lock ([`WRITE_LOCK`]) for the rest of the transaction, waiting at most
/// [`WRITE_LOCK_TIMEOUT`] (then an error, as SQLite's `SQLITE_BUSY`): a wait never hangs.
async fn write_lock(conn: &mut AnyConnection) -> Result<()> {
    let timeout = format!("SET LOCAL lock_timeout = {}", WRITE_LOCK_TIMEOUT.as_millis());
    conn.execute(timeout.as_str()).await?;
    // `SELECT 1 FROM`: the function returns `void`, a type the Any driver cannot carry.
    sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(conn).await?;
    Ok(())
}

/// A pool of SQLite connections to `url`, each with foreign keys on, the busy timeout, and `synchronous = NORMAL`
/// (safe with WAL: a power cut may lose the last commits, never corrupt).
async fn sqlite_pool(url: &str, connections: u32) -> Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let url = format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" });
    let options = AnyPoolOptions::new()
        .max_connections(connections)
        .min_connections(connections.min(1))
        // An in-memory database lives as long as its connection: never let the pool close it.
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    format!(
                        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL;",
                        BUSY_TIMEOUT.as_millis()
                    )
                    .as_str(),
                )
                .await?;
                Ok(())
            })
        });
    Ok(retry_busy(|| options.clone().connect(&url)).await?)
}

/// A [`Db`] inside a write transaction (see [`Store::begin`]): every [`Db`] method (through `Deref`), and the
/// writes that must commit together with their webhook events, a session's start, arrivals, departures and end
/// (`lifecycle.rs`), which exist only here.
pub struct Tx {
    db: Db,
}

impl Tx {
    /// Commits every write of the transaction.
    /// Commits every write of the transaction; then rings the webhook bell if it enqueued an event, so that a
    /// worker woken by it finds the event (a claim that does not wait for the write lock, as on Postgres, would not
    /// see it before).
    pub async fn commit(self) -> Result<()> {
        let Db { conn, webhook_bell, ring_at_commit, .. } = self.db;
        match conn {
            Conn::Tx(tx) => tx.commit().await?,
            Conn::Pooled(_) => unreachable!("a Tx is made inside a transaction"),
        }
        if ring_at_commit {
            webhook_bell.notify_waiters();
        }
        Ok(())
    }
}

impl std::ops::Deref for Tx {
    type Target = Db;

    fn deref(&self) -> &Db {
        &self.db
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Db {
        &mut self.db
    }
}

/// Whether the error is SQLite's `SQLITE_BUSY` (another connection holds the lock, past the busy timeout or where
/// SQLite does not wait).
fn is_busy(error: &sqlx::Error) -> bool {
    // Primary result code 5; the extended codes (e.g. 261, SQLITE_BUSY_RECOVERY) keep it in their low byte.
    matches!(error, sqlx::Error::Database(e) if e.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| c & 0xff == 5))
}

/// Runs `f` again while SQLite answers `SQLITE_BUSY`, for up to 10 s (then the last error). For opening a store that
/// other nodes are opening at the same moment: SQLite does not call the busy handler everywhere there (switching a
/// new file to WAL, or a transaction meeting another connection's WAL recovery, can answer BUSY at once), and
/// `multi_node_store.rs` saw "database is locked" from three nodes opening one new file together.
async fn retry_busy<T, E, F, Fut>(mut f: F) -> std::result::Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
    E: AsBusy,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut pause = Duration::from_millis(5);
    loop {
        match f().await {
            Err(e) if e.is_busy() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// Errors [`retry_busy`] can tell `SQLITE_BUSY` in.
trait AsBusy {
    fn is_busy(&self) -> bool;
}

impl AsBusy for sqlx::Error {
    fn is_busy(&self) -> bool {
        is_busy(self)
    }
}

impl AsBusy for StoreError {
    fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sql(e) if is_busy(e))
    }
}

/// Reads an integer column that must fit `T` (counts, attempts): [`StoreError::Invalid`] if it does not.
fn fits<T: TryFrom<i64>>(value: i64, what: &str) -> Result<T> {
    T::try_from(value).map_err(|_| StoreError::Invalid(format!("{what} out of range: {value}")))
}

/// A new random id, in the UUID form RealtimeKit uses for apps, meetings, participants and sessions.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
pub(crate) mod test_db;

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    /// The start of most store tests: each test store ([`test_db::stores`]) with an app (of account `acct`) and a
    /// meeting in it.
    pub(super) async fn with_meeting() -> Vec<(test_db::TestStore, AppRow, MeetingRow)> {
        let mut out = Vec::new();
        for store in test_db::stores().await {
            let mut db = store.db().await.unwrap();
            let app = db.create_app("acct", "a").await.unwrap();
            let meeting = db.create_meeting(&app.id, None, Default::default()).await.unwrap();
            drop(db);
            out.push((store, app, meeting));
        }
        out
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_the_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let app = {
            let store = Store::open(dir.path()).await.unwrap();
            let app = store.db().await.unwrap().create_app("acct", "first").await.unwrap();
            store.close().await;
            app
        };
        let store = Store::open(dir.path()).await.unwrap();
        let mut db = store.db().await.unwrap();
        assert_eq!(db.app("acct", &app.id).await.unwrap().unwrap().name, "first");
        let mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(db.conn()).await.unwrap().get(0);
        assert_eq!(mode, "wal");
    }

    /// A bug that panics mid-transaction (a handler's task torn down) must not leave its first writes behind, nor
    /// the connection stuck inside a transaction that the next caller's `BEGIN` trips over.
    #[tokio::test]
    async fn a_transaction_that_panics_writes_nothing_and_the_next_one_commits() {
        let store = Store::open_in_memory().await.unwrap();
        let app = store.db().await.unwrap().create_app("acct", "a").await.unwrap();
        let (panicking, app_id) = (store.clone(), app.id.clone());
        let panicked = tokio::spawn(async move {
            let mut tx = panicking.begin().await.unwrap();
            tx.create_meeting(&app_id, Some("lost"), Default::default()).await.unwrap();
            panic!("a bug after the first write");
        })
        .await;
        assert!(panicked.is_err());
        assert!(store.db().await.unwrap().meeting_by_title(&app.id, "lost").await.unwrap().is_none());
        let mut tx = store.begin().await.unwrap();
        tx.create_meeting(&app.id, Some("kept"), Default::default()).await.unwrap();
        tx.commit().await.unwrap();
        assert!(store.db().await.unwrap().meeting_by_title(&app.id, "kept").await.unwrap().is_some());
    }
}
