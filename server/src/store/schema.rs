//! The schema, as two append-only lists of migrations: SQLite's numbered by its `user_version`, Postgres' by the one
//! row of a `schema_version` table. Both describe the same tables; Postgres' started at the schema SQLite had reached
//! (its first migration is SQLite's first nine), with a `rowid` identity column wherever queries order by insertion.
//!
//! Never edit a shipped migration: add the next one, to both lists. A database written by a newer server is refused
//! rather than misread.

use super::{Dialect, Result, Store, StoreError};
use sqlx::{Executor, Row};

const SQLITE: &[&str] = &[
    // 1: the vertical slice.
    r#"
    CREATE TABLE server_meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE accounts (
        id         TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
    );
    -- Tokens created inside the server (the --dev one today). Tokens given on the command line are never stored,
    -- so removing one from the command line revokes it. Only a SHA-256 of the secret is kept.
    CREATE TABLE api_tokens (
        secret_sha256 TEXT PRIMARY KEY,
        account_id    TEXT NOT NULL REFERENCES accounts(id),
        scope         TEXT NOT NULL,
        created_at    TEXT NOT NULL
    );
    CREATE TABLE apps (
        id         TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX apps_by_account ON apps(account_id, created_at);
    -- `document` is the preset as the API shows it, minus id, name and timestamps: {config, permissions, ui}.
    CREATE TABLE presets (
        id         TEXT PRIMARY KEY,
        app_id     TEXT NOT NULL REFERENCES apps(id),
        name       TEXT NOT NULL,
        document   TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (app_id, name)
    );
    -- `settings` holds the optional meeting fields (record_on_start, ai_config, ...) as given.
    CREATE TABLE meetings (
        id         TEXT PRIMARY KEY,
        app_id     TEXT NOT NULL REFERENCES apps(id),
        title      TEXT,
        status     TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
        settings   TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX meetings_by_app ON meetings(app_id, created_at);
    CREATE TABLE participants (
        id                    TEXT PRIMARY KEY,
        meeting_id            TEXT NOT NULL REFERENCES meetings(id),
        custom_participant_id TEXT NOT NULL,
        preset_name           TEXT NOT NULL,
        name                  TEXT,
        picture               TEXT,
        created_at            TEXT NOT NULL,
        updated_at            TEXT NOT NULL
    );
    CREATE INDEX participants_by_meeting ON participants(meeting_id, created_at);
    -- One row per session; ended_at IS NULL while it is live.
    CREATE TABLE sessions (
        id                TEXT PRIMARY KEY,
        meeting_id        TEXT NOT NULL REFERENCES meetings(id),
        started_at        TEXT NOT NULL,
        ended_at          TEXT,
        end_reason        TEXT,
        peak_participants INTEGER NOT NULL DEFAULT 0,
        kicked_count      INTEGER
    );
    CREATE INDEX sessions_by_meeting ON sessions(meeting_id, started_at);
    "#,
    // 2: webhooks, and who was in each session.
    r#"
    -- The records behind the webhooks API. Delivery will add an outbox table of (event id, webhook id, attempt
    -- state) referencing `id`; `events` is read when an event is enqueued, so a PATCH applies to later events only.
    CREATE TABLE webhooks (
        id         TEXT PRIMARY KEY,
        app_id     TEXT NOT NULL REFERENCES apps(id),
        name       TEXT NOT NULL,
        url        TEXT NOT NULL,
        events     TEXT NOT NULL,   -- JSON array of event names, e.g. ["meeting.ended"]
        enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX webhooks_by_app ON webhooks(app_id, created_at);
    -- One row per stay of a participant in a session, from admission to removal. left_at stays NULL while in, and
    -- for those still in at the end: they left when the session ended (sessions.ended_at), read, not written.
    -- No foreign key to participants: the history outlives a deleted participant, so its details are copied.
    CREATE TABLE session_participants (
        id                    TEXT PRIMARY KEY,
        session_id            TEXT NOT NULL REFERENCES sessions(id),
        participant_id        TEXT NOT NULL,
        custom_participant_id TEXT NOT NULL,
        name                  TEXT,
        preset_name           TEXT NOT NULL,
        joined_at             TEXT NOT NULL,
        left_at               TEXT
    );
    CREATE INDEX session_participants_by_session ON session_participants(session_id, participant_id);
    "#,
    // 3: the webhook outbox (see store/webhook_outbox.rs).
    r#"
    -- One row per event, written in the transaction that records the change it reports. `id` is the `rtk-uuid`
    -- header; `body` the exact bytes that are signed and sent, on every attempt.
    CREATE TABLE webhook_events (
        id         TEXT PRIMARY KEY,
        app_id     TEXT NOT NULL,
        event      TEXT NOT NULL,
        body       BLOB NOT NULL,
        created_at TEXT NOT NULL
    );
    -- One row per event and webhook that was enabled and subscribed to it when it happened. Pending while both
    -- delivered_at and abandoned_at are NULL. Deleting a webhook deletes its deliveries.
    CREATE TABLE webhook_deliveries (
        event_id        TEXT NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
        webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        delivered_at    TEXT,
        abandoned_at    TEXT,
        last_error      TEXT,
        PRIMARY KEY (event_id, webhook_id)
    );
    CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(next_attempt_ms)
        WHERE delivered_at IS NULL AND abandoned_at IS NULL;
    CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id);
    "#,
    // 4: live sessions survive a restart (see hub/local.rs `restore`), and removals are remembered.
    r#"
    -- The last moment anyone was known present in a live session: a session nobody comes back to after a restart
    -- ends then, not at the restart (downtime is not meeting time). Stamped at arrivals, departures and
    -- periodically while someone is connected. peak_participants is kept up to date as it grows.
    ALTER TABLE sessions ADD COLUMN last_alive_at TEXT;
    -- Who was removed from a session and how (`kicked`), so that a resume into that session is answered with
    -- that state even after a restart or on another node. Joining the session again (without resume) clears it.
    CREATE TABLE session_removals (
        session_id     TEXT NOT NULL REFERENCES sessions(id),
        participant_id TEXT NOT NULL,
        state          TEXT NOT NULL,
        at             TEXT NOT NULL,
        PRIMARY KEY (session_id, participant_id)
    );
    "#,
    // 5: webhook deliveries in session order (see store/webhook_outbox.rs).
    r#"
    -- The session the event is about (its body's meeting.sessionId; NULL for an event about none). Of the pending
    -- deliveries of one webhook and session, only the first (lowest rowid: rowids grow in the order events
    -- happened) may be attempted. Rows written before this migration get it from their body.
    ALTER TABLE webhook_deliveries ADD COLUMN session_id TEXT;
    UPDATE webhook_deliveries SET session_id = (
        SELECT CASE WHEN json_valid(CAST(e.body AS TEXT)) THEN json_extract(CAST(e.body AS TEXT), '$.meeting.sessionId') END
        FROM webhook_events e WHERE e.id = webhook_deliveries.event_id);
    CREATE INDEX webhook_deliveries_in_session_order ON webhook_deliveries(webhook_id, session_id)
        WHERE delivered_at IS NULL AND abandoned_at IS NULL;
    "#,
    // 6: participant token versions (see token.rs): a refresh raises it, and older tokens stop joining.
    r#"
    ALTER TABLE participants ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
    "#,
    // 7: sessions live at an upgrade from before migration 4 have no `last_alive_at`, so a restart would end them at
    // their start. They were live when the old server stopped, and the upgrade runs at the next start: its time is
    // the best bound known (clock::format's shape, which string comparisons with stored times rely on).
    r#"
    UPDATE sessions SET last_alive_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        WHERE ended_at IS NULL AND last_alive_at IS NULL;
    "#,
    // 8: Standard Webhooks secrets (see store/webhooks.rs `WebhookSecret`).
    r#"
    -- Each webhook's HMAC secret (32 random bytes; shown to the app once, as whsec_ + base64). Webhooks made before
    -- this migration get one here, which their app learns by rotating it. While a rotation's window is open the old
    -- secret signs too, until previous_secret_until_ms (unix ms).
    ALTER TABLE webhooks ADD COLUMN secret BLOB NOT NULL DEFAULT x'';
    UPDATE webhooks SET secret = randomblob(32) WHERE length(secret) = 0;
    ALTER TABLE webhooks ADD COLUMN previous_secret BLOB;
    ALTER TABLE webhooks ADD COLUMN previous_secret_until_ms INTEGER;
    "#,
    // 9: one end record per session, and the countdown to an end (see store/lifecycle_end.rs).
    r#"
    -- Who ended the session (JSON `{id, name, customParticipantId}` or `{"api": true}`; NULL when nobody did, e.g.
    -- ALL_PARTICIPANTS_LEFT), the host's message, and the id of its `meeting.ended` event (the `rtk-uuid` of its
    -- deliveries), fixed in the end's transaction so that every participant, a late resume and every retry agree.
    ALTER TABLE sessions ADD COLUMN ended_by TEXT;
    ALTER TABLE sessions ADD COLUMN end_message TEXT;
    ALTER TABLE sessions ADD COLUMN end_event_id TEXT;
    -- A countdown to the end of a live session (kickAll with graceSeconds, or NO_HOST): when it ends the session,
    -- why, who asked, the message and whether the end locks the meeting. NULL ending_at: none is running. Kept here
    -- so that the timer survives the host leaving and a restart.
    ALTER TABLE sessions ADD COLUMN ending_at TEXT;
    ALTER TABLE sessions ADD COLUMN ending_reason TEXT;
    ALTER TABLE sessions ADD COLUMN ending_by TEXT;
    ALTER TABLE sessions ADD COLUMN ending_message TEXT;
    ALTER TABLE sessions ADD COLUMN ending_lock INTEGER NOT NULL DEFAULT 0;
    "#,
];

/// Postgres' migrations. Integers are BIGINT (what the store binds), blobs BYTEA, booleans integers (see the store's
/// module doc), times text in the API's shape (`clock::format`), as on SQLite.
const POSTGRES: &[&str] = &[
    // 1: SQLite's 1 to 9.
    r#"
    CREATE TABLE server_meta (
        key   TEXT PRIMARY KEY,
        value BYTEA NOT NULL
    );
    CREATE TABLE accounts (
        id         TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
    );
    CREATE TABLE api_tokens (
        secret_sha256 TEXT PRIMARY KEY,
        account_id    TEXT NOT NULL REFERENCES accounts(id),
        scope         TEXT NOT NULL,
        created_at    TEXT NOT NULL
    );
    CREATE TABLE apps (
        id         TEXT PRIMARY KEY,
        rowid      BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        account_id TEXT NOT NULL,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX apps_by_account ON apps(account_id, created_at);
    CREATE TABLE presets (
        id         TEXT PRIMARY KEY,
        rowid      BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        app_id     TEXT NOT NULL REFERENCES apps(id),
        name       TEXT NOT NULL,
        document   TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (app_id, name)
    );
    CREATE TABLE meetings (
        id         TEXT PRIMARY KEY,
        rowid      BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        app_id     TEXT NOT NULL REFERENCES apps(id),
        title      TEXT,
        status     TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
        settings   TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX meetings_by_app ON meetings(app_id, created_at);
    CREATE TABLE participants (
        id                    TEXT PRIMARY KEY,
        rowid                 BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        meeting_id            TEXT NOT NULL REFERENCES meetings(id),
        custom_participant_id TEXT NOT NULL,
        preset_name           TEXT NOT NULL,
        name                  TEXT,
        picture               TEXT,
        created_at            TEXT NOT NULL,
        updated_at            TEXT NOT NULL,
        token_version         BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX participants_by_meeting ON participants(meeting_id, created_at);
    CREATE TABLE sessions (
        id                TEXT PRIMARY KEY,
        rowid             BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        meeting_id        TEXT NOT NULL REFERENCES meetings(id),
        started_at        TEXT NOT NULL,
        ended_at          TEXT,
        end_reason        TEXT,
        peak_participants BIGINT NOT NULL DEFAULT 0,
        kicked_count      BIGINT,
        last_alive_at     TEXT,
        ended_by          TEXT,
        end_message       TEXT,
        end_event_id      TEXT,
        ending_at         TEXT,
        ending_reason     TEXT,
        ending_by         TEXT,
        ending_message    TEXT,
        ending_lock       BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_by_meeting ON sessions(meeting_id, started_at);
    CREATE INDEX sessions_live ON sessions(started_at) WHERE ended_at IS NULL;
    CREATE TABLE webhooks (
        id                       TEXT PRIMARY KEY,
        rowid                    BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        app_id                   TEXT NOT NULL REFERENCES apps(id),
        name                     TEXT NOT NULL,
        url                      TEXT NOT NULL,
        events                   TEXT NOT NULL,
        enabled                  BIGINT NOT NULL CHECK (enabled IN (0, 1)),
        created_at               TEXT NOT NULL,
        updated_at               TEXT NOT NULL,
        secret                   BYTEA NOT NULL,
        previous_secret          BYTEA,
        previous_secret_until_ms BIGINT
    );
    CREATE INDEX webhooks_by_app ON webhooks(app_id, created_at);
    CREATE TABLE session_participants (
        id                    TEXT PRIMARY KEY,
        rowid                 BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        session_id            TEXT NOT NULL REFERENCES sessions(id),
        participant_id        TEXT NOT NULL,
        custom_participant_id TEXT NOT NULL,
        name                  TEXT,
        preset_name           TEXT NOT NULL,
        joined_at             TEXT NOT NULL,
        left_at               TEXT
    );
    CREATE INDEX session_participants_by_session ON session_participants(session_id, participant_id);
    CREATE TABLE session_removals (
        session_id     TEXT NOT NULL REFERENCES sessions(id),
        participant_id TEXT NOT NULL,
        state          TEXT NOT NULL,
        at             TEXT NOT NULL,
        PRIMARY KEY (session_id, participant_id)
    );
    CREATE TABLE webhook_events (
        id         TEXT PRIMARY KEY,
        rowid      BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        app_id     TEXT NOT NULL,
        event      TEXT NOT NULL,
        body       BYTEA NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        rowid           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        event_id        TEXT NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
        webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        attempts        BIGINT NOT NULL DEFAULT 0,
        next_attempt_ms BIGINT NOT NULL,
        delivered_at    TEXT,
        abandoned_at    TEXT,
        last_error      TEXT,
        session_id      TEXT,
        PRIMARY KEY (event_id, webhook_id)
    );
    CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(next_attempt_ms)
        WHERE delivered_at IS NULL AND abandoned_at IS NULL;
    CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id);
    CREATE INDEX webhook_deliveries_in_session_order ON webhook_deliveries(webhook_id, session_id)
        WHERE delivered_at IS NULL AND abandoned_at IS NULL;
    "#,
];

/// Applies the migrations the database has not seen yet, each in its own write transaction: several nodes starting
/// at once on one database take turns (SQLite's busy timeout, Postgres' write lock), and none applies a step twice.
pub async fn migrate(store: &Store) -> Result<()> {
    let migrations = match store.dialect() {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    };
    loop {
        let mut tx = store.begin().await?;
        let version = usize::try_from(read_version(&mut tx).await?).unwrap_or(0);
        if version > migrations.len() {
            return Err(StoreError::Invalid(format!(
                "database schema version {version} is newer than this server ({})",
                migrations.len()
            )));
        }
        let Some(sql) = migrations.get(version) else { return Ok(()) };
        tx.conn().execute(*sql).await?;
        write_version(&mut tx, version as i64 + 1).await?;
        tx.commit().await?;
    }
}

async fn read_version(db: &mut super::Db) -> Result<i64> {
    Ok(match db.dialect() {
        Dialect::Sqlite => sqlx::query("PRAGMA user_version").fetch_one(db.conn()).await?.try_get(0)?,
        Dialect::Postgres => {
            // Looked up rather than `CREATE TABLE IF NOT EXISTS`, which logs a notice at every start.
            let exists = sqlx::query(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind("schema_version")
            .fetch_optional(db.conn())
            .await?;
            if exists.is_none() {
                db.conn().execute("CREATE TABLE schema_version (version BIGINT NOT NULL)").await?;
            }
            let row = sqlx::query("SELECT version FROM schema_version").fetch_optional(db.conn()).await?;
            match row {
                Some(row) => row.try_get(0)?,
                None => 0,
            }
        }
    })
}

async fn write_version(db: &mut super::Db, version: i64) -> Result<()> {
    match db.dialect() {
        // PRAGMA takes no parameters; `version` is a number this code made.
        Dialect::Sqlite => db.conn().execute(format!("PRAGMA user_version = {version}").as_str()).await.map(drop)?,
        Dialect::Postgres => {
            sqlx::query("DELETE FROM schema_version").execute(db.conn()).await?;
            sqlx::query("INSERT INTO schema_version (version) VALUES ($1)").bind(version).execute(db.conn()).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
