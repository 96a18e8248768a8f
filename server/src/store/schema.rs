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
    // 10: the `meeting.participantLeft` events of an end, written after the participants were told (see
    // store/lifecycle_left.rs).
    r#"
    -- One row per ended session whose participants still in it have not had their `meeting.participantLeft` events
    -- written yet: written in the end's transaction instead of one event per participant, and turned into those
    -- events (then its `meeting.ended`, last, with the id fixed here) by the webhook worker, a chunk of stays per
    -- transaction, the cursor (after_joined_at, after_rowid) marking the last stay done; deleted with the last chunk.
    CREATE TABLE pending_left_events (
        session_id      TEXT PRIMARY KEY,
        app_id          TEXT NOT NULL,
        meeting         TEXT NOT NULL,
        left_at         TEXT NOT NULL,
        left_hooks      TEXT NOT NULL,
        ended_event_id  TEXT NOT NULL,
        ended_body      BLOB,
        ended_hooks     TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        created_ms      INTEGER NOT NULL,
        after_joined_at TEXT,
        after_rowid     INTEGER
    );
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
    // 2: SQLite's 10.
    r#"
    CREATE TABLE pending_left_events (
        session_id      TEXT PRIMARY KEY,
        rowid           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        app_id          TEXT NOT NULL,
        meeting         TEXT NOT NULL,
        left_at         TEXT NOT NULL,
        left_hooks      TEXT NOT NULL,
        ended_event_id  TEXT NOT NULL,
        ended_body      BYTEA,
        ended_hooks     TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        created_ms      BIGINT NOT NULL,
        after_joined_at TEXT,
        after_rowid     BIGINT
    );
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
#[path = "schema_tests.rs"]
mod tests;
