//! The webhook outbox: events waiting to be delivered, written in the same transaction as the change they report,
//! so that a change is never recorded without its event, nor an event without its change — whatever crashes when.
//!
//! One `webhook_events` row per event (its id is the `rtk-uuid` every attempt carries) and one `webhook_deliveries`
//! row per webhook that was enabled and subscribed when the event happened. The delivery worker
//! ([`crate::webhooks::delivery`]) claims due deliveries, POSTs them and records the outcome here.

use super::{new_id, Db, Result, WebhookEvent, WebhookSecret};
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
    /// The webhook's secret, read at claim time like the URL: an attempt after a rotation is signed with the new one.
    pub secret: WebhookSecret,
    /// The secret before the last rotation and until when (unix ms) it signs too.
    pub previous_secret: Option<(WebhookSecret, i64)>,
}

impl DueDelivery {
    /// The secrets to sign an attempt made at `now_ms` with: the current one, and the previous one while its window
    /// is open (`webhook-signature` carries one signature for each, so receivers holding either verify).
    pub fn signing_secrets(&self, now_ms: i64) -> Vec<&[u8]> {
        let previous = self.previous_secret.iter().filter(|(_, until_ms)| now_ms < *until_ms);
        std::iter::once(self.secret.as_bytes()).chain(previous.map(|(secret, _)| secret.as_bytes())).collect()
    }
}

/// The part of an event body that names its session.
#[derive(serde::Deserialize)]
struct About {
    meeting: Option<AboutMeeting>,
}

#[derive(serde::Deserialize)]
struct AboutMeeting {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
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
    pub fn webhook_subscribers(&self, meeting_id: &str, event: WebhookEvent) -> Result<Vec<String>> {
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
    ///
    /// The deliveries are ordered within the session the body names (`meeting.sessionId`): read from the body
    /// rather than passed in, so the key is exactly what the receiver sees.
    pub fn enqueue_webhook_event(
        &self,
        app_id: &str,
        event: WebhookEvent,
        body: &[u8],
        webhooks: &[String],
        at: &str,
        now_ms: i64,
    ) -> Result<String> {
        let name = serde_json::to_value(event)?;
        let session_id = serde_json::from_slice::<About>(body).ok().and_then(|about| about.meeting?.session_id);
        let id = new_id();
        self.conn
            .prepare_cached(
                "INSERT INTO webhook_events (id, app_id, event, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, app_id, name.as_str(), body, at])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO webhook_deliveries (event_id, webhook_id, next_attempt_ms, session_id)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for hook in webhooks {
            insert.execute(params![id, hook, now_ms, session_id])?;
        }
        Ok(id)
    }

    /// Takes the deliveries that may be attempted now and leases them until `lease_until_ms`: until then they are
    /// not due again, and if the process dies mid-attempt the lease running out retries them.
    ///
    /// A delivery may be attempted when it is due, its webhook is enabled, no earlier delivery of the same webhook
    /// and session is pending (so a session's events reach each webhook in the order they happened, a retry
    /// holding back what came after it; an abandoned one no longer does), and `take(webhook_id, event_id)` agrees:
    /// the worker's per-webhook and overall room, asked once per candidate, oldest due first.
    ///
    /// Returns the leased deliveries and when the next one that may be attempted falls due (unix ms), if one is
    /// not due yet. Deliveries due now but not taken (their webhook had no room) are not counted: a finished
    /// attempt makes the room.
    ///
    /// Several nodes may claim from one outbox (one store, several processes): the read of what is due and the
    /// leases are one IMMEDIATE transaction (unless the caller's transaction already holds the database), so no two
    /// claims take the same delivery.
    pub fn claim_webhook_deliveries(
        &self,
        now_ms: i64,
        first_delay_ms: i64,
        lease_until_ms: i64,
        take: &mut dyn FnMut(&str, &str) -> bool,
    ) -> Result<(Vec<DueDelivery>, Option<i64>)> {
        let own = match self.conn.is_autocommit() {
            true => Some(rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?),
            false => None,
        };
        let claimed = self.claim_due(now_ms, first_delay_ms, lease_until_ms, take)?;
        if let Some(tx) = own {
            tx.commit()?;
        }
        Ok(claimed)
    }

    fn claim_due(
        &self,
        now_ms: i64,
        first_delay_ms: i64,
        lease_until_ms: i64,
        take: &mut dyn FnMut(&str, &str) -> bool,
    ) -> Result<(Vec<DueDelivery>, Option<i64>)> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT d.event_id, d.webhook_id, {DUE_AT} AS due
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE {PENDING} AND w.enabled = 1 AND NOT EXISTS (
                 SELECT 1 FROM webhook_deliveries p
                 WHERE p.webhook_id = d.webhook_id AND p.session_id = d.session_id AND p.rowid < d.rowid
                   AND p.delivered_at IS NULL AND p.abandoned_at IS NULL)
             ORDER BY due, d.rowid"
        ))?;
        let heads = statement
            .query_map(rusqlite::named_params! { ":first_delay": first_delay_ms }, |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        drop(statement);
        let mut claimed = Vec::new();
        for (event_id, webhook_id, due) in heads {
            if due > now_ms {
                return Ok((claimed, Some(due))); // the earliest: heads come in due order
            }
            if take(&webhook_id, &event_id) {
                claimed.push(self.lease_webhook_delivery(&event_id, &webhook_id, lease_until_ms)?);
            }
        }
        Ok((claimed, None))
    }

    fn lease_webhook_delivery(&self, event_id: &str, webhook_id: &str, lease_until_ms: i64) -> Result<DueDelivery> {
        self.conn
            .prepare_cached(
                "UPDATE webhook_deliveries SET next_attempt_ms = ?1 WHERE event_id = ?2 AND webhook_id = ?3",
            )?
            .execute(params![lease_until_ms, event_id, webhook_id])?;
        Ok(self
            .conn
            .prepare_cached(
                "SELECT w.url, e.event, e.body, d.attempts, w.secret, w.previous_secret, w.previous_secret_until_ms
                 FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
                      JOIN webhooks w ON w.id = d.webhook_id
                 WHERE d.event_id = ?1 AND d.webhook_id = ?2",
            )?
            .query_row(params![event_id, webhook_id], |row| {
                Ok(DueDelivery {
                    event_id: event_id.to_owned(),
                    webhook_id: webhook_id.to_owned(),
                    url: row.get(0)?,
                    event: row.get(1)?,
                    body: row.get(2)?,
                    attempts: row.get(3)?,
                    secret: row.get(4)?,
                    previous_secret: match (row.get(5)?, row.get(6)?) {
                        (Some(secret), Some(until_ms)) => Some((secret, until_ms)),
                        _ => None,
                    },
                })
            })?)
    }

    /// The receiver answered 2xx.
    pub fn webhook_delivered(&self, event_id: &str, webhook_id: &str, at: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = ?1, last_error = NULL
             WHERE event_id = ?2 AND webhook_id = ?3",
            params![at, event_id, webhook_id],
        )?;
        Ok(())
    }

    /// An attempt failed: try again at `retry_at_ms`, or (None) give up for good.
    pub fn webhook_attempt_failed(
        &self,
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
    pub fn abandon_disabled_webhook_deliveries(&self, at: &str) -> Result<usize> {
        Ok(self.conn.execute(
            &format!(
                "UPDATE webhook_deliveries AS d SET abandoned_at = ?1, last_error = 'webhook disabled'
                 WHERE {PENDING} AND d.webhook_id IN (SELECT id FROM webhooks WHERE enabled = 0)"
            ),
            [at],
        )?)
    }

    /// Gives up the pending deliveries of events that happened before `before` (a timestamp as `created_at`): what
    /// a webhook paused that long would get is stale, and the outbox stays bounded. Returns how many were dropped.
    pub fn expire_webhook_deliveries(&self, before: &str, at: &str) -> Result<usize> {
        Ok(self.conn.execute(
            &format!(
                "UPDATE webhook_deliveries AS d SET abandoned_at = ?1,
                        last_error = 'expired: not delivered before ' || ?2 || (': ' || last_error)
                 WHERE {PENDING} AND d.event_id IN (SELECT id FROM webhook_events WHERE created_at < ?2)"
            ),
            params![at, before],
        )?)
    }

    /// Forgets deliveries finished (delivered or abandoned) before `before`, and events with no delivery left.
    pub fn prune_webhook_outbox(&self, before: &str) -> Result<usize> {
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
    pub fn webhook_deliveries(&self, event_id: &str) -> Result<Vec<DeliveryState>> {
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
    pub fn webhook_events(&self, app_id: &str) -> Result<Vec<(String, String, Vec<u8>)>> {
        let mut statement =
            self.conn.prepare("SELECT id, event, body FROM webhook_events WHERE app_id = ?1 ORDER BY rowid")?;
        let rows = statement.query_map([app_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The meeting and its app, as event payloads describe them.
    pub fn event_meeting(&self, meeting_id: &str) -> Result<Option<EventMeeting>> {
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
    pub fn open_stays(&self, session_id: &str, participant_id: Option<&str>) -> Result<Vec<OpenStay>> {
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
}

#[cfg(test)]
#[path = "webhook_outbox_tests.rs"]
mod tests;
