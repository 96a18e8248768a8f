//! Webhooks: where an app wants to hear about its meetings. Records only; delivery reads them when it enqueues.
//!
//! Each webhook has its own Standard Webhooks secret ([`WebhookSecret`]), made with it and shown once; rotating it
//! keeps the old one accepted (deliveries signed with both) until a deadline.

use super::{new_id, Db, Result};
use crate::clock;
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

/// The events a webhook may ask for, named as RealtimeKit names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    #[serde(rename = "meeting.started")]
    MeetingStarted,
    #[serde(rename = "meeting.ended")]
    MeetingEnded,
    #[serde(rename = "meeting.participantJoined")]
    ParticipantJoined,
    #[serde(rename = "meeting.participantLeft")]
    ParticipantLeft,
    #[serde(rename = "meeting.chatSynced")]
    ChatSynced,
    #[serde(rename = "recording.statusUpdate")]
    RecordingStatusUpdate,
    #[serde(rename = "livestreaming.statusUpdate")]
    LivestreamingStatusUpdate,
    #[serde(rename = "meeting.transcript")]
    Transcript,
    #[serde(rename = "meeting.summary")]
    Summary,
}

/// A webhook's Standard Webhooks signing secret: [`WebhookSecret::BYTES`] random bytes, shown to the app as
/// `whsec_` + base64 (the spec's serialization, which the `standardwebhooks` libraries take as it is). Kept in the
/// store as raw bytes: HMAC needs the secret itself, so it cannot be hashed like API tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// 256 bits: the spec asks for 24 to 64 bytes.
    pub const BYTES: usize = 32;

    /// A new random secret. Panics only if the OS has no randomness to give, as `new_id` does.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; Self::BYTES];
        getrandom::fill(&mut bytes).expect("the OS gives randomness");
        WebhookSecret(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// `whsec_<base64>`, as the create and rotate answers show it.
    pub fn whsec(&self) -> String {
        use base64::Engine;
        format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl std::fmt::Debug for WebhookSecret {
    /// Never the secret itself: rows are logged and shown in test failures.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl rusqlite::types::FromSql for WebhookSecret {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        Vec::<u8>::column_result(value).map(WebhookSecret)
    }
}

impl rusqlite::ToSql for WebhookSecret {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: String,
    pub app_id: String,
    pub name: String,
    pub url: String,
    /// In the order given, without repeats.
    pub events: Vec<WebhookEvent>,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Signs every delivery (`webhook-signature`).
    pub secret: WebhookSecret,
    /// The secret before the last rotation and until when (unix ms) deliveries are signed with it too.
    pub previous_secret: Option<(WebhookSecret, i64)>,
}

impl WebhookRow {
    /// A new webhook of the app, not stored yet.
    pub fn new(app_id: &str, name: String, url: String, events: Vec<WebhookEvent>, enabled: bool) -> Self {
        let now = clock::now();
        WebhookRow {
            id: new_id(),
            app_id: app_id.into(),
            name,
            url,
            events,
            enabled,
            created_at: now.clone(),
            updated_at: now,
            secret: WebhookSecret::generate(),
            previous_secret: None,
        }
    }

    fn from_row(row: &Row) -> rusqlite::Result<Self> {
        let events: String = row.get(4)?;
        Ok(WebhookRow {
            id: row.get(0)?,
            app_id: row.get(1)?,
            name: row.get(2)?,
            url: row.get(3)?,
            // Only this module writes the column, from the same enum; unknown names would be a newer server's.
            events: serde_json::from_str(&events).unwrap_or_default(),
            enabled: row.get(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
            secret: row.get(8)?,
            previous_secret: match (row.get(9)?, row.get(10)?) {
                (Some(secret), Some(until_ms)) => Some((secret, until_ms)),
                _ => None,
            },
        })
    }
}

const COLUMNS: &str =
    "id, app_id, name, url, events, enabled, created_at, updated_at, secret, previous_secret, previous_secret_until_ms";

impl Db {
    pub fn create_webhook(&self, webhook: &WebhookRow) -> Result<()> {
        self.conn.execute(
            &format!("INSERT INTO webhooks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
            params![
                webhook.id,
                webhook.app_id,
                webhook.name,
                webhook.url,
                serde_json::to_string(&webhook.events)?,
                webhook.enabled,
                webhook.created_at,
                webhook.updated_at,
                webhook.secret,
                webhook.previous_secret.as_ref().map(|(secret, _)| secret),
                webhook.previous_secret.as_ref().map(|(_, until_ms)| until_ms)
            ],
        )?;
        Ok(())
    }

    /// The app's webhook with this id.
    pub fn webhook(&self, app_id: &str, webhook_id: &str) -> Result<Option<WebhookRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM webhooks WHERE id = ?1 AND app_id = ?2"),
                [webhook_id, app_id],
                WebhookRow::from_row,
            )
            .optional()?)
    }

    /// All webhooks of the app, oldest first (an app has a handful; the API does not page them).
    pub fn webhooks(&self, app_id: &str) -> Result<Vec<WebhookRow>> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM webhooks WHERE app_id = ?1 ORDER BY created_at, rowid"))?;
        let rows = statement.query_map([app_id], WebhookRow::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Writes a changed webhook and stamps `updated_at`; the stored row, or None if the app has no such webhook.
    pub fn save_webhook(&self, webhook: &WebhookRow) -> Result<Option<WebhookRow>> {
        self.conn.execute(
            "UPDATE webhooks SET name = ?1, url = ?2, events = ?3, enabled = ?4, updated_at = ?5
             WHERE id = ?6 AND app_id = ?7",
            params![
                webhook.name,
                webhook.url,
                serde_json::to_string(&webhook.events)?,
                webhook.enabled,
                clock::now(),
                webhook.id,
                webhook.app_id
            ],
        )?;
        self.webhook(&webhook.app_id, &webhook.id)
    }

    /// Gives the webhook the secret `new`; the one it had stays accepted until `old_until_ms` (unix ms): deliveries
    /// until then carry a signature with each. An earlier old secret still in its window is dropped (one rotation
    /// at a time). The stored row, or None if the app has no such webhook.
    pub fn rotate_webhook_secret(
        &self,
        app_id: &str,
        webhook_id: &str,
        new: &WebhookSecret,
        old_until_ms: i64,
    ) -> Result<Option<WebhookRow>> {
        // Every right-hand side reads the row as it was: `previous_secret = secret` keeps the old secret.
        self.conn.execute(
            "UPDATE webhooks SET previous_secret = secret, previous_secret_until_ms = ?1, secret = ?2, updated_at = ?3
             WHERE id = ?4 AND app_id = ?5",
            params![old_until_ms, new, clock::now(), webhook_id, app_id],
        )?;
        self.webhook(app_id, webhook_id)
    }

    /// Deletes the webhook; the deleted row, or None if the app has no such webhook.
    pub fn delete_webhook(&self, app_id: &str, webhook_id: &str) -> Result<Option<WebhookRow>> {
        let Some(row) = self.webhook(app_id, webhook_id)? else { return Ok(None) };
        self.conn.execute("DELETE FROM webhooks WHERE id = ?1 AND app_id = ?2", [webhook_id, app_id])?;
        Ok(Some(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn webhooks_round_trip_per_app() {
        let store = Store::open_in_memory().unwrap();
        let app = store.with(|db| db.create_app("acct", "a")).unwrap();
        let events = vec![WebhookEvent::MeetingEnded, WebhookEvent::ParticipantJoined];
        let hook = WebhookRow::new(&app.id, "h".into(), "https://x.example/h".into(), events, true);
        store.with(|db| db.create_webhook(&hook)).unwrap();
        assert_eq!(store.with(|db| db.webhook(&app.id, &hook.id)).unwrap().as_ref(), Some(&hook));
        assert_eq!(store.with(|db| db.webhook("other-app", &hook.id)).unwrap(), None);

        let changed = WebhookRow { enabled: false, events: vec![WebhookEvent::Summary], ..hook.clone() };
        let saved = store.with(|db| db.save_webhook(&changed)).unwrap().unwrap();
        assert_eq!((saved.enabled, saved.events.clone(), &saved.created_at), (false, changed.events, &hook.created_at));
        assert_eq!(store.with(|db| db.webhooks(&app.id)).unwrap(), vec![saved.clone()]);
        assert_eq!(store.with(|db| db.delete_webhook(&app.id, &hook.id)).unwrap(), Some(saved));
        assert!(store.with(|db| db.webhooks(&app.id)).unwrap().is_empty());
        let json = serde_json::to_string(&WebhookEvent::LivestreamingStatusUpdate).unwrap();
        assert_eq!(json, r#""livestreaming.statusUpdate""#);
    }

    #[test]
    fn each_webhook_has_its_own_secret_and_a_rotation_keeps_the_old_one_until_its_deadline() {
        let store = Store::open_in_memory().unwrap();
        let app = store.with(|db| db.create_app("acct", "a")).unwrap();
        let new = |name: &str| WebhookRow::new(&app.id, name.into(), "https://x.example/h".into(), vec![], true);
        let (one, two) = (new("one"), new("two"));
        assert_ne!(one.secret, two.secret, "made per webhook");
        assert_eq!(one.secret.as_bytes().len(), WebhookSecret::BYTES);
        assert!(one.secret.whsec().starts_with("whsec_"));
        assert_eq!(format!("{:?}", one.secret), "WebhookSecret(..)", "never in logs");
        store.with(|db| db.create_webhook(&one)).unwrap();

        let rotated = WebhookSecret::generate();
        let row = store.with(|db| db.rotate_webhook_secret(&app.id, &one.id, &rotated, 1234)).unwrap().unwrap();
        assert_eq!(row.secret, rotated);
        assert_eq!(row.previous_secret, Some((one.secret.clone(), 1234)));
        let edited = store.with(|db| db.save_webhook(&WebhookRow { name: "renamed".into(), ..row.clone() }));
        assert_eq!(edited.unwrap().unwrap().previous_secret, row.previous_secret, "an edit keeps the secrets");

        let again = WebhookSecret::generate();
        let row = store.with(|db| db.rotate_webhook_secret(&app.id, &one.id, &again, 99)).unwrap().unwrap();
        assert_eq!((row.secret, row.previous_secret), (again, Some((rotated, 99))), "one rotation at a time");
        let elsewhere = store.with(|db| db.rotate_webhook_secret("other-app", &one.id, &WebhookSecret::generate(), 1));
        assert_eq!(elsewhere.unwrap(), None);
    }
}
