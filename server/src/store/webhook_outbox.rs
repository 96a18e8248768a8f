//! The webhook outbox: events waiting to be delivered, written in the same transaction as the change they report,
//! so that a change is never recorded without its event, nor an event without its change — whatever crashes when.
//!
//! One `webhook_events` row per event (its id is the `rtk-uuid` every attempt carries) and one `webhook_deliveries`
//! row per webhook that was enabled and subscribed when the event happened. The delivery worker
//! ([`crate::webhooks::delivery`]) claims due deliveries, POSTs them and records the outcome here.

use super::{new_id, Db, Result, WebhookEvent};
use rusqlite::{params, OptionalExtension};

/// A delivery the worker should attempt now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub event_id: String,
    pub webhook_id: String,
    /// Read at claim time, so a PATCHed URL applies to retries too.
    pub url: String,
    pub event: String,
    pub body: Vec<u8>,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// What a payload says about the meeting, read inside the event's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeeting {
    pub id: String,
    pub title: Option<String>,
    pub created_at: String,
    pub app_id: String,
    pub app_name: String,
}

/// A participant's stay in a session that has not ended yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenStay {
    /// The stay's id: RealtimeKit's per-session peer id.
    pub id: String,
    pub participant_id: String,
    pub custom_participant_id: String,
    pub name: Option<String>,
    pub preset_name: String,
    pub joined_at: String,
}

/// Where a pending delivery stands, for tests and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    pub webhook_id: String,
    pub attempts: u32,
    pub delivered: bool,
    pub abandoned: bool,
    pub last_error: Option<String>,
}

/// `WHERE` of the deliveries still to be made.
const PENDING: &str = "d.delivered_at IS NULL AND d.abandoned_at IS NULL";
/// When a pending delivery is due: a first attempt waits `?first_delay` ms more (the `--webhook-delay-ms` test knob).
/// Applied at read time, not stored, so a restart with another delay applies the new one.
const DUE_AT: &str = "d.next_attempt_ms + CASE WHEN d.attempts = 0 THEN :first_delay ELSE 0 END";

impl Db {
    /// The enabled webhooks of the meeting's app subscribed to `event`, oldest first. Looked up before anything else
    /// an event needs, so that a change nobody listens to costs this one query.
    pub fn webhook_subscribers(&mut self, meeting_id: &str, event: WebhookEvent) -> Result<Vec<String>> {
        let name = serde_json::to_value(event)?;
        let mut statement = self.conn.prepare_cached(
            "SELECT w.id FROM meetings m JOIN webhooks w ON w.app_id = m.app_id
             WHERE m.id = ?1 AND w.enabled = 1 AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?2)
             ORDER BY w.created_at, w.rowid",
        )?;
        let hooks = statement.query_map(params![meeting_id, name.as_str()], |row| row.get(0))?;
        Ok(hooks.collect::<rusqlite::Result<Vec<String>>>()?)
    }

    /// Adds an event (a new id, returned) with a delivery for each of `webhooks`, first due at `now_ms`. Call it
    /// inside the transaction that records the change.
    pub fn enqueue_webhook_event(
        &mut self,
        app_id: &str,
        event: WebhookEvent,
        body: &[u8],
        webhooks: &[String],
        at: &str,
        now_ms: i64,
    ) -> Result<String> {
        let name = serde_json::to_value(event)?;
        let id = new_id();
        self.conn
            .prepare_cached(
                "INSERT INTO webhook_events (id, app_id, event, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, app_id, name.as_str(), body, at])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO webhook_deliveries (event_id, webhook_id, next_attempt_ms) VALUES (?1, ?2, ?3)",
        )?;
        for hook in webhooks {
            insert.execute(params![id, hook, now_ms])?;
        }
        Ok(id)
    }

    /// Takes up to `limit` due deliveries of enabled webhooks, oldest first, and leases them until `lease_until_ms`:
    /// until then they are not due again, and if the process dies mid-attempt the lease running out retries them.
    pub fn claim_webhook_deliveries(
        &mut self,
        now_ms: i64,
        first_delay_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<DueDelivery>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT d.event_id, d.webhook_id, w.url, e.event, e.body, d.attempts
             FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id
             WHERE {PENDING} AND w.enabled = 1 AND {DUE_AT} <= :now
             ORDER BY d.next_attempt_ms, d.rowid LIMIT :limit"
        ))?;
        let rows = statement.query_map(
            rusqlite::named_params! { ":first_delay": first_delay_ms, ":now": now_ms, ":limit": limit },
            |row| {
                Ok(DueDelivery {
                    event_id: row.get(0)?,
                    webhook_id: row.get(1)?,
                    url: row.get(2)?,
                    event: row.get(3)?,
                    body: row.get(4)?,
                    attempts: row.get(5)?,
                })
            },
        )?;
        let due = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        drop(statement);
        for delivery in &due {
            self.conn.execute(
                "UPDATE webhook_deliveries SET next_attempt_ms = ?1 WHERE event_id = ?2 AND webhook_id = ?3",
                params![lease_until_ms, delivery.event_id, delivery.webhook_id],
            )?;
        }
        Ok(due)
    }

    /// When the next pending delivery of an enabled webhook falls due (unix ms), if any.
    pub fn next_webhook_due_ms(&mut self, first_delay_ms: i64) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            &format!(
                "SELECT MIN({DUE_AT}) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                 WHERE {PENDING} AND w.enabled = 1"
            ),
            rusqlite::named_params! { ":first_delay": first_delay_ms },
            |row| row.get(0),
        )?)
    }

    /// The receiver answered 2xx.
    pub fn webhook_delivered(&mut self, event_id: &str, webhook_id: &str, at: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = ?1, last_error = NULL
             WHERE event_id = ?2 AND webhook_id = ?3",
            params![at, event_id, webhook_id],
        )?;
        Ok(())
    }

    /// An attempt failed: try again at `retry_at_ms`, or (None) give up for good.
    pub fn webhook_attempt_failed(
        &mut self,
        event_id: &str,
        webhook_id: &str,
        error: &str,
        retry_at_ms: Option<i64>,
        at: &str,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = ?1,
                    next_attempt_ms = COALESCE(?2, next_attempt_ms),
                    abandoned_at = CASE WHEN ?2 IS NULL THEN ?3 END
             WHERE event_id = ?4 AND webhook_id = ?5",
            params![error, retry_at_ms, at, event_id, webhook_id],
        )?;
        Ok(())
    }

    /// Gives up the pending deliveries of disabled webhooks: a disabled webhook is never called, and enabling it
    /// again must not replay what happened meanwhile. Returns how many were dropped.
    pub fn abandon_disabled_webhook_deliveries(&mut self, at: &str) -> Result<usize> {
        Ok(self.conn.execute(
            &format!(
                "UPDATE webhook_deliveries AS d SET abandoned_at = ?1, last_error = 'webhook disabled'
                 WHERE {PENDING} AND d.webhook_id IN (SELECT id FROM webhooks WHERE enabled = 0)"
            ),
            [at],
        )?)
    }

    /// Forgets deliveries finished (delivered or abandoned) before `before`, and events with no delivery left.
    pub fn prune_webhook_outbox(&mut self, before: &str) -> Result<usize> {
        let deliveries = self
            .conn
            .execute("DELETE FROM webhook_deliveries WHERE delivered_at < ?1 OR abandoned_at < ?1", [before])?;
        self.conn.execute(
            "DELETE FROM webhook_events WHERE NOT EXISTS
             (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
            [],
        )?;
        Ok(deliveries)
    }

    /// The deliveries of an event, by webhook.
    pub fn webhook_deliveries(&mut self, event_id: &str) -> Result<Vec<DeliveryState>> {
        let mut statement = self.conn.prepare(
            "SELECT webhook_id, attempts, delivered_at IS NOT NULL, abandoned_at IS NOT NULL, last_error
             FROM webhook_deliveries WHERE event_id = ?1 ORDER BY rowid",
        )?;
        let rows = statement.query_map([event_id], |row| {
            Ok(DeliveryState {
                webhook_id: row.get(0)?,
                attempts: row.get(1)?,
                delivered: row.get(2)?,
                abandoned: row.get(3)?,
                last_error: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The app's events, oldest first: `(id, event name, body)`.
    pub fn webhook_events(&mut self, app_id: &str) -> Result<Vec<(String, String, Vec<u8>)>> {
        let mut statement =
            self.conn.prepare("SELECT id, event, body FROM webhook_events WHERE app_id = ?1 ORDER BY rowid")?;
        let rows = statement.query_map([app_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The meeting and its app, as event payloads describe them.
    pub fn event_meeting(&mut self, meeting_id: &str) -> Result<Option<EventMeeting>> {
        Ok(self
            .conn
            .query_row(
                "SELECT m.id, m.title, m.created_at, a.id, a.name FROM meetings m JOIN apps a ON a.id = m.app_id
                 WHERE m.id = ?1",
                [meeting_id],
                |row| {
                    Ok(EventMeeting {
                        id: row.get(0)?,
                        title: row.get(1)?,
                        created_at: row.get(2)?,
                        app_id: row.get(3)?,
                        app_name: row.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// The session's open stays (of one participant, or of all), oldest first.
    pub fn open_stays(&mut self, session_id: &str, participant_id: Option<&str>) -> Result<Vec<OpenStay>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, participant_id, custom_participant_id, name, preset_name, joined_at FROM session_participants
             WHERE session_id = ?1 AND left_at IS NULL AND (?2 IS NULL OR participant_id = ?2)
             ORDER BY joined_at, rowid",
        )?;
        let rows = statement.query_map(params![session_id, participant_id], |row| {
            Ok(OpenStay {
                id: row.get(0)?,
                participant_id: row.get(1)?,
                custom_participant_id: row.get(2)?,
                name: row.get(3)?,
                preset_name: row.get(4)?,
                joined_at: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// `(session id, meeting id)` of every session not ended, for closing those a crash left live.
    pub fn live_sessions(&mut self) -> Result<Vec<(String, String)>> {
        let mut statement = self.conn.prepare("SELECT id, meeting_id FROM sessions WHERE ended_at IS NULL")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

#[cfg(test)]
#[path = "webhook_outbox_tests.rs"]
mod tests;
