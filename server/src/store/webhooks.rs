//! Webhooks: where an app wants to hear about its meetings. Records only; delivery reads them when it enqueues.

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
        })
    }
}

const COLUMNS: &str = "id, app_id, name, url, events, enabled, created_at, updated_at";

impl Db {
    pub fn create_webhook(&self, webhook: &WebhookRow) -> Result<()> {
        self.conn.execute(
            &format!("INSERT INTO webhooks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                webhook.id,
                webhook.app_id,
                webhook.name,
                webhook.url,
                serde_json::to_string(&webhook.events)?,
                webhook.enabled,
                webhook.created_at,
                webhook.updated_at
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
}
