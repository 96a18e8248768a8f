//! Webhooks: where an app wants to hear about its meetings. Records only; delivery reads them when it enqueues.
//!
//! Each webhook has its own Standard Webhooks secret ([`WebhookSecret`]), made with it and shown once; rotating it
//! keeps the old one accepted (deliveries signed with both) until a deadline.

use super::{new_id, Db, Result};
use crate::clock;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

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

impl From<Vec<u8>> for WebhookSecret {
    /// The bytes as stored.
    fn from(bytes: Vec<u8>) -> Self {
        WebhookSecret(bytes)
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

    fn from_row(row: &AnyRow) -> Result<Self> {
        let events: String = row.try_get(4)?;
        Ok(WebhookRow {
            id: row.try_get(0)?,
            app_id: row.try_get(1)?,
            name: row.try_get(2)?,
            url: row.try_get(3)?,
            // Only this module writes the column, from the same enum; unknown names would be a newer server's.
            events: serde_json::from_str(&events).unwrap_or_default(),
            enabled: row.try_get::<i64, _>(5)? != 0,
            created_at: row.try_get(6)?,
            updated_at: row.try_get(7)?,
            secret: WebhookSecret(row.try_get(8)?),
            previous_secret: match (row.try_get::<Option<Vec<u8>>, _>(9)?, row.try_get::<Option<i64>, _>(10)?) {
                (Some(secret), Some(until_ms)) => Some((WebhookSecret(secret), until_ms)),
                _ => None,
            },
        })
    }
}

const COLUMNS: &str =
    "id, app_id, name, url, events, enabled, created_at, updated_at, secret, previous_secret, previous_secret_until_ms";

impl Db {
    pub async fn create_webhook(&mut self, webhook: &WebhookRow) -> Result<()> {
        sqlx::query(&format!("INSERT INTO webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
            .bind(&webhook.id)
            .bind(&webhook.app_id)
            .bind(&webhook.name)
            .bind(&webhook.url)
            .bind(serde_json::to_string(&webhook.events)?)
            .bind(i64::from(webhook.enabled))
            .bind(&webhook.created_at)
            .bind(&webhook.updated_at)
            .bind(webhook.secret.0.clone())
            .bind(webhook.previous_secret.as_ref().map(|(secret, _)| secret.0.clone()))
            .bind(webhook.previous_secret.as_ref().map(|(_, until_ms)| *until_ms))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The app's webhook with this id.
    pub async fn webhook(&mut self, app_id: &str, webhook_id: &str) -> Result<Option<WebhookRow>> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND app_id = $2");
        let row = sqlx::query(&sql).bind(webhook_id).bind(app_id).fetch_optional(self.conn()).await?;
        row.as_ref().map(WebhookRow::from_row).transpose()
    }

    /// All webhooks of the app, oldest first (an app has a handful; the API does not page them).
    pub async fn webhooks(&mut self, app_id: &str) -> Result<Vec<WebhookRow>> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE app_id = $1 ORDER BY created_at, rowid");
        let rows = sqlx::query(&sql).bind(app_id).fetch_all(self.conn()).await?;
        rows.iter().map(WebhookRow::from_row).collect()
    }

    /// Writes a changed webhook and stamps `updated_at`; the stored row, or None if the app has no such webhook.
    pub async fn save_webhook(&mut self, webhook: &WebhookRow) -> Result<Option<WebhookRow>> {
        sqlx::query(
            "UPDATE webhooks SET name = $1, url = $2, events = $3, enabled = $4, updated_at = $5
             WHERE id = $6 AND app_id = $7",
        )
        .bind(&webhook.name)
        .bind(&webhook.url)
        .bind(serde_json::to_string(&webhook.events)?)
        .bind(i64::from(webhook.enabled))
        .bind(clock::now())
        .bind(&webhook.id)
        .bind(&webhook.app_id)
        .execute(self.conn())
        .await?;
        self.webhook(&webhook.app_id, &webhook.id).await
    }

    /// Gives the webhook the secret `new`; the one it had stays accepted until `old_until_ms` (unix ms): deliveries
    /// until then carry a signature with each. An earlier old secret still in its window is dropped (one rotation
    /// at a time). The stored row, or None if the app has no such webhook.
    pub async fn rotate_webhook_secret(
        &mut self,
        app_id: &str,
        webhook_id: &str,
        new: &WebhookSecret,
        old_until_ms: i64,
    ) -> Result<Option<WebhookRow>> {
        // Every right-hand side reads the row as it was: `previous_secret = secret` keeps the old secret.
        sqlx::query(
            "UPDATE webhooks SET previous_secret = secret, previous_secret_until_ms = $1, secret = $2, updated_at = $3
             WHERE id = $4 AND app_id = $5",
        )
        .bind(old_until_ms)
        .bind(new.0.clone())
        .bind(clock::now())
        .bind(webhook_id)
        .bind(app_id)
        .execute(self.conn())
        .await?;
        self.webhook(app_id, webhook_id).await
    }

    /// Deletes the webhook; the deleted row, or None if the app has no such webhook.
    pub async fn delete_webhook(&mut self, app_id: &str, webhook_id: &str) -> Result<Option<WebhookRow>> {
        let Some(row) = self.webhook(app_id, webhook_id).await? else { return Ok(None) };
        sqlx::query("DELETE FROM webhooks WHERE id = $1 AND app_id = $2")
            .bind(webhook_id)
            .bind(app_id)
            .execute(self.conn())
            .await?;
        Ok(Some(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_db::stores;

    #[tokio::test]
    async fn webhooks_round_trip_per_app() {
        for store in stores().await {
            let mut db = store.db().await.unwrap();
            let app = db.create_app("acct", "a").await.unwrap();
            let events = vec![WebhookEvent::MeetingEnded, WebhookEvent::ParticipantJoined];
            let hook = WebhookRow::new(&app.id, "h".into(), "https://x.example/h".into(), events, true);
            db.create_webhook(&hook).await.unwrap();
            assert_eq!(db.webhook(&app.id, &hook.id).await.unwrap().as_ref(), Some(&hook));
            assert_eq!(db.webhook("other-app", &hook.id).await.unwrap(), None);

            let changed = WebhookRow { enabled: false, events: vec![WebhookEvent::Summary], ..hook.clone() };
            let saved = db.save_webhook(&changed).await.unwrap().unwrap();
            let seen = (saved.enabled, saved.events.clone(), &saved.created_at);
            assert_eq!(seen, (false, changed.events, &hook.created_at));
            assert_eq!(db.webhooks(&app.id).await.unwrap(), vec![saved.clone()]);
            assert_eq!(db.delete_webhook(&app.id, &hook.id).await.unwrap(), Some(saved));
            assert!(db.webhooks(&app.id).await.unwrap().is_empty());
            let json = serde_json::to_string(&WebhookEvent::LivestreamingStatusUpdate).unwrap();
            assert_eq!(json, r#""livestreaming.statusUpdate""#);
        }
    }

    #[tokio::test]
    async fn each_webhook_has_its_own_secret_and_a_rotation_keeps_the_old_one_until_its_deadline() {
        for store in stores().await {
            let mut db = store.db().await.unwrap();
            let app = db.create_app("acct", "a").await.unwrap();
            let new = |name: &str| WebhookRow::new(&app.id, name.into(), "https://x.example/h".into(), vec![], true);
            let (one, two) = (new("one"), new("two"));
            assert_ne!(one.secret, two.secret, "made per webhook");
            assert_eq!(one.secret.as_bytes().len(), WebhookSecret::BYTES);
            assert!(one.secret.whsec().starts_with("whsec_"));
            assert_eq!(format!("{:?}", one.secret), "WebhookSecret(..)", "never in logs");
            db.create_webhook(&one).await.unwrap();

            let rotated = WebhookSecret::generate();
            let row = db.rotate_webhook_secret(&app.id, &one.id, &rotated, 1234).await.unwrap().unwrap();
            assert_eq!(row.secret, rotated);
            assert_eq!(row.previous_secret, Some((one.secret.clone(), 1234)));
            let edited = db.save_webhook(&WebhookRow { name: "renamed".into(), ..row.clone() }).await;
            assert_eq!(edited.unwrap().unwrap().previous_secret, row.previous_secret, "an edit keeps the secrets");

            let again = WebhookSecret::generate();
            let row = db.rotate_webhook_secret(&app.id, &one.id, &again, 99).await.unwrap().unwrap();
            assert_eq!((row.secret, row.previous_secret), (again, Some((rotated, 99))), "one rotation at a time");
            let elsewhere = db.rotate_webhook_secret("other-app", &one.id, &WebhookSecret::generate(), 1).await;
            assert_eq!(elsewhere.unwrap(), None);
        }
    }
}
