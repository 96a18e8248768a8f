//! The durable state: one SQLite file (`<data>/endsession.sqlite3`, WAL) behind one connection.
//!
//! Every query is a method of [`Db`], grouped by table in the submodules, so the REST API can grow a table at a time
//! without SQL leaking into handlers. [`Store`] owns the connection; async code reaches it through [`Store::run`],
//! which moves the work to tokio's blocking pool so a slow disk never stalls a socket.

mod accounts;
mod apps;
mod attendance;
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
pub use participants::{JoinContext, JoinRefusal, ParticipantRow, TokenStanding};
pub use presets::{PresetConflict, PresetRow};
pub use sessions::{LiveSessionRow, ResumeCheck, SessionFilter, SessionRow, SessionSort};
pub use webhook_outbox::{DeliveryState, DueDelivery, EventMeeting, OpenStay};
pub use webhooks::{WebhookEvent, WebhookRow, WebhookSecret};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// File name of the database inside `--data`.
pub const DB_FILE: &str = "endsession.sqlite3";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("store task: {0}")]
    Task(String),
    #[error(transparent)]
    Exposed(#[from] ExposedData),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The open database. Methods live next to their tables in the submodules.
pub struct Db {
    conn: Connection,
    /// Rung when a webhook event is enqueued ([`Store::webhook_bell`]).
    webhook_bell: Arc<Notify>,
}

/// A cheap, cloneable handle on the database.
#[derive(Clone)]
pub struct Store {
    db: Arc<Mutex<Db>>,
    webhook_bell: Arc<Notify>,
}

impl Store {
    /// Opens (creating if needed) `<dir>/endsession.sqlite3` and brings its schema up to date. The directory and the
    /// database files are created owner-only (700, 600) whatever the umask; [`StoreError::Exposed`] if the directory
    /// or anything in it is open to group or others (it holds secrets).
    pub fn open(dir: &Path) -> Result<Store> {
        data_dir::prepare(dir)?;
        let path = dir.join(DB_FILE);
        data_dir::create_private_file(&path)?;
        let conn = Connection::open(path)?;
        // Before the first statement: another node opening the same file at once holds it briefly.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        retry_busy(|| Ok(conn.pragma_update(None, "journal_mode", "WAL")?))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Store::init(conn)
    }

    /// A private in-memory database, for unit tests.
    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let webhook_bell = Arc::new(Notify::new());
        let mut db = Db { conn, webhook_bell: webhook_bell.clone() };
        retry_busy(|| schema::migrate(&mut db.conn))?;
        Ok(Store { db: Arc::new(Mutex::new(db)), webhook_bell })
    }

    /// Rings (`notify_waiters`) each time a webhook event is enqueued in this store, so the delivery worker need not
    /// wait for its next poll. One per store, not per process: a worker is woken only by its own store's events.
    pub fn webhook_bell(&self) -> Arc<Notify> {
        self.webhook_bell.clone()
    }

    /// Runs `f` on the calling thread. For startup code and tests; async code uses [`Store::run`].
    pub fn with<T>(&self, f: impl FnOnce(&mut Db) -> Result<T>) -> Result<T> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll back), so a poisoned
        // lock is safe to reuse.
        let mut db = self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut db)
    }

    /// Runs `f` on tokio's blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.with(f)).await.map_err(|e| StoreError::Task(e.to_string()))?
    }
}

impl Db {
    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: all of its writes, or none. The transaction is a
    /// [`rusqlite::Transaction`] guard, so it rolls back whenever it is not committed: `f` failed (an early `?`) or
    /// panicked (the guard drops while the panic unwinds). Not nestable (SQLite has one transaction per connection):
    /// `f` gets a shared [`Tx`], and this needs `&mut Db`, so a nested call does not compile.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let value = f(&Tx { db: self })?;
        tx.commit()?;
        Ok(value)
    }
}

/// The database inside [`Db::transaction`]: every [`Db`] method (through `Deref`), and the writes that must commit
/// together with their webhook events, a session's start, arrivals, departures and end (`lifecycle.rs`), which exist
/// only here.
pub struct Tx<'a> {
    db: &'a Db,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;

    fn deref(&self) -> &Db {
        self.db
    }
}

/// Runs `f` again while SQLite answers `SQLITE_BUSY`, for up to 10 s (then the last error). For opening a store that
/// other nodes are opening at the same moment: SQLite does not call the busy handler everywhere there (switching a
/// new file to WAL, or a transaction meeting another connection's WAL recovery, can answer BUSY at once), and
/// `multi_node_store.rs` saw "database is locked" from three nodes opening one new file together.
fn retry_busy<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        match f() {
            Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// A new random id, in the UUID form RealtimeKit uses for apps, meetings, participants and sessions.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of most store tests: an in-memory store with an app (of account `acct`) and a meeting in it.
    pub(super) fn store_with_meeting() -> (Store, AppRow, MeetingRow) {
        let store = Store::open_in_memory().unwrap();
        let (app, meeting) = store
            .with(|db| {
                let app = db.create_app("acct", "a")?;
                let meeting = db.create_meeting(&app.id, None, Default::default())?;
                Ok((app, meeting))
            })
            .unwrap();
        (store, app, meeting)
    }

    #[test]
    fn reopening_keeps_data_and_the_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let app = {
            let store = Store::open(dir.path()).unwrap();
            store.with(|db| db.create_app("acct", "first")).unwrap()
        };
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.with(|db| db.app("acct", &app.id)).unwrap().unwrap().name, "first");
        let mode: String = store.with(|db| Ok(db.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?)).unwrap();
        assert_eq!(mode, "wal");
    }

    /// A bug that panics mid-transaction (a lock poisoned, a handler's task torn down) must not leave its first
    /// writes behind, nor the connection stuck inside a transaction that the next caller's `BEGIN` trips over.
    #[test]
    fn a_transaction_that_panics_writes_nothing_and_the_next_one_commits() {
        let store = Store::open_in_memory().unwrap();
        let app = store.with(|db| db.create_app("acct", "a")).unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.with(|db| {
                db.transaction(|db| -> Result<()> {
                    db.create_meeting(&app.id, Some("lost"), Default::default())?;
                    panic!("a bug after the first write");
                })
            })
        }));
        assert!(panicked.is_err());
        assert!(store.with(|db| db.meeting_by_title(&app.id, "lost")).unwrap().is_none());
        store.with(|db| db.transaction(|db| db.create_meeting(&app.id, Some("kept"), Default::default()))).unwrap();
        assert!(store.with(|db| db.meeting_by_title(&app.id, "kept")).unwrap().is_some());
    }

    #[tokio::test]
    async fn run_moves_work_off_the_async_threads() {
        let store = Store::open_in_memory().unwrap();
        let app = store.run(|db| db.create_app("acct", "async")).await.unwrap();
        assert_eq!(app.name, "async");
    }
}
