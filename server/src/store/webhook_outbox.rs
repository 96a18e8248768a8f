//! The webhook outbox: events waiting to be delivered, written in the same transaction as the change they report,
//! so that a change is never recorded without its event, nor an event without its change — whatever crashes when.
//!
//! One `webhook_events` row per event (its id is the `rtk-uuid` every attempt carries) and one `webhook_deliveries`
//! row per webhook that was enabled and subscribed when the event happened. The delivery worker
//! ([`crate::webhooks::delivery`]) claims due deliveries, POSTs them and records the outcome here.

use super::{fits, new_id, Db, Dialect, Result, WebhookEvent, WebhookSecret};
use sqlx::AnyConnection;
use sqlx::{Connection, Row};

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
/// When a pending delivery is due: a first attempt waits `$1` ms more (the `--webhook-delay-ms` test knob).
/// Applied at read time, not stored, so a restart with another delay applies the new one.
const DUE_AT: &str = "d.next_attempt_ms + CASE WHEN d.attempts = 0 THEN $1 ELSE 0 END";

impl Db {
    /// The enabled webhooks of the meeting's app subscribed to `event`, oldest first. Looked up before anything else
    /// an event needs, so that a change nobody listens to costs this one query.
    pub async fn webhook_subscribers(&mut self, meeting_id: &str, event: WebhookEvent) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT w.id, w.events FROM meetings m JOIN webhooks w ON w.app_id = m.app_id
             WHERE m.id = $1 AND w.enabled = 1
             ORDER BY w.created_at, w.rowid",
        )
        .bind(meeting_id)
        .fetch_all(self.conn())
        .await?;
        let mut hooks = Vec::new();
        for row in rows {
            // `events` is a JSON array this store wrote (see webhooks.rs); read here rather than with SQLite's
            // json_each or Postgres' jsonb operators, so the query is one for both.
            let events: Vec<WebhookEvent> = serde_json::from_str(&row.try_get::<String, _>(1)?).unwrap_or_default();
            if events.contains(&event) {
                hooks.push(row.try_get(0)?);
            }
        }
        Ok(hooks)
    }

    /// Adds an event (a new id, returned) with a delivery for each of `webhooks`, first due at `now_ms`. Call it
    /// inside the transaction that records the change. Rings the store's webhook bell once the event is committed.
    ///
    /// The deliveries are ordered within the session the body names (`meeting.sessionId`): read from the body
    /// rather than passed in, so the key is exactly what the receiver sees.
    pub async fn enqueue_webhook_event(
        &mut self,
        app_id: &str,
        event: WebhookEvent,
        body: &[u8],
        webhooks: &[String],
        at: &str,
        now_ms: i64,
    ) -> Result<String> {
        let id = new_id();
        self.enqueue_webhook_event_as(&id, app_id, event, body, webhooks, at, now_ms).await?;
        Ok(id)
    }

    /// [`Db::enqueue_webhook_event`] with an id fixed beforehand (a `meeting.ended` whose id the participants were
    /// told before it was written, see `lifecycle_left.rs`).
    #[allow(clippy::too_many_arguments)] // the event's columns, as `enqueue_webhook_event` takes them, plus its id
    pub(super) async fn enqueue_webhook_event_as(
        &mut self,
        id: &str,
        app_id: &str,
        event: WebhookEvent,
        body: &[u8],
        webhooks: &[String],
        at: &str,
        now_ms: i64,
    ) -> Result<()> {
        let name = serde_json::to_value(event)?;
        let session_id = serde_json::from_slice::<About>(body).ok().and_then(|about| about.meeting?.session_id);
        sqlx::query("INSERT INTO webhook_events (id, app_id, event, body, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(app_id)
            .bind(name.as_str().unwrap_or_default().to_owned())
            .bind(body.to_vec())
            .bind(at)
            .execute(self.conn())
            .await?;
        for hook in webhooks {
            sqlx::query(
                "INSERT INTO webhook_deliveries (event_id, webhook_id, next_attempt_ms, session_id)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(hook)
            .bind(now_ms)
            .bind(session_id.as_deref())
            .execute(self.conn())
            .await?;
        }
        self.ring_webhook_bell();
        Ok(())
    }

    /// [`Db::enqueue_webhook_event`] of several events of one kind at once (the `meeting.participantJoined` of a batch
    /// of joins, the `meeting.participantLeft` of an end's chunk), in the order given, which is their delivery order:
    /// a few multi-row `INSERT`s (`batched.rs`) instead of 1 + `webhooks` statements per event. Returns their ids.
    #[allow(clippy::too_many_arguments)] // `enqueue_webhook_event`'s columns, with many bodies
    pub(super) async fn enqueue_webhook_events(
        &mut self,
        app_id: &str,
        event: WebhookEvent,
        bodies: &[Vec<u8>],
        webhooks: &[String],
        at: &str,
        now_ms: i64,
    ) -> Result<Vec<String>> {
        use super::batched::{cached, pow2_chunks, row_placeholders};
        let name = serde_json::to_value(event)?;
        let name = name.as_str().unwrap_or_default().to_owned();
        let ids: Vec<String> = bodies.iter().map(|_| new_id()).collect();
        for chunk in pow2_chunks(bodies.len()) {
            let sql = format!(
                "INSERT INTO webhook_events (id, app_id, event, body, created_at) VALUES {}",
                row_placeholders(chunk.len(), 5)
            );
            let mut query = sqlx::query(&sql).persistent(cached(chunk.len()));
            for (id, body) in ids[chunk.clone()].iter().zip(&bodies[chunk]) {
                query = query.bind(id).bind(app_id).bind(&name).bind(body.clone()).bind(at);
            }
            query.execute(self.conn()).await?;
        }
        // Event by event, each webhook in turn: the order `claim_due` delivers them in (by rowid).
        let deliveries: Vec<(&String, &String, Option<String>)> = ids
            .iter()
            .zip(bodies)
            .flat_map(|(id, body)| {
                let session_id = serde_json::from_slice::<About>(body).ok().and_then(|about| about.meeting?.session_id);
                webhooks.iter().map(move |hook| (id, hook, session_id.clone()))
            })
            .collect();
        for chunk in pow2_chunks(deliveries.len()) {
            let sql = format!(
                "INSERT INTO webhook_deliveries (event_id, webhook_id, next_attempt_ms, session_id) VALUES {}",
                row_placeholders(chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql).persistent(cached(chunk.len()));
            for (id, hook, session_id) in &deliveries[chunk] {
                query = query.bind(*id).bind(*hook).bind(now_ms).bind(session_id.as_deref());
            }
            query.execute(self.conn()).await?;
        }
        if !ids.is_empty() {
            self.ring_webhook_bell();
        }
        Ok(ids)
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
    /// Several nodes may claim from one outbox, and each delivery is leased by one claim. On SQLite the read of what
    /// is due and the leases are one write transaction (the database's one writer). On Postgres the claim does not
    /// take the write lock: it locks the pending deliveries it reads `FOR UPDATE SKIP LOCKED`, so claims on other
    /// nodes skip what this one is leasing, and the "no earlier pending delivery" rule still sees those (they stay
    /// pending while leased), so a session's order holds across nodes too.
    pub async fn claim_webhook_deliveries(
        &mut self,
        now_ms: i64,
        first_delay_ms: i64,
        lease_until_ms: i64,
        take: &mut (dyn FnMut(&str, &str) -> bool + Send),
    ) -> Result<(Vec<DueDelivery>, Option<i64>)> {
        let dialect = self.dialect();
        let own = matches!(self.conn, super::Conn::Pooled(_));
        let mut tx = match (dialect, own) {
            (Dialect::Postgres, true) => self.conn().begin().await?,
            _ => self.begin_write().await?,
        };
        let claimed = claim_due(&mut tx, dialect, now_ms, first_delay_ms, lease_until_ms, take).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// The receiver answered 2xx.
    pub async fn webhook_delivered(&mut self, event_id: &str, webhook_id: &str, at: &str) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = $1, last_error = NULL
             WHERE event_id = $2 AND webhook_id = $3",
        )
        .bind(at)
        .bind(event_id)
        .bind(webhook_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// An attempt failed: try again at `retry_at_ms`, or (None) give up for good.
    pub async fn webhook_attempt_failed(
        &mut self,
        event_id: &str,
        webhook_id: &str,
        error: &str,
        retry_at_ms: Option<i64>,
        at: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = $1,
                    next_attempt_ms = COALESCE($2, next_attempt_ms),
                    abandoned_at = CASE WHEN $2 IS NULL THEN $3 END
             WHERE event_id = $4 AND webhook_id = $5",
        )
        .bind(error)
        .bind(retry_at_ms)
        .bind(at)
        .bind(event_id)
        .bind(webhook_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Gives up the pending deliveries of disabled webhooks: a disabled webhook is never called, and enabling it
    /// again must not replay what happened meanwhile. Returns how many were dropped.
    pub async fn abandon_disabled_webhook_deliveries(&mut self, at: &str) -> Result<usize> {
        let done = sqlx::query(&format!(
            "UPDATE webhook_deliveries AS d SET abandoned_at = $1, last_error = 'webhook disabled'
             WHERE {PENDING} AND d.webhook_id IN (SELECT id FROM webhooks WHERE enabled = 0)"
        ))
        .bind(at)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() as usize)
    }

    /// Gives up the pending deliveries of events that happened before `before` (a timestamp as `created_at`): what
    /// a webhook paused that long would get is stale, and the outbox stays bounded. Returns how many were dropped.
    pub async fn expire_webhook_deliveries(&mut self, before: &str, at: &str) -> Result<usize> {
        let done = sqlx::query(&format!(
            "UPDATE webhook_deliveries AS d SET abandoned_at = $1,
                    last_error = 'expired: not delivered before ' || $2 || (': ' || last_error)
             WHERE {PENDING} AND d.event_id IN (SELECT id FROM webhook_events WHERE created_at < $2)"
        ))
        .bind(at)
        .bind(before)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() as usize)
    }

    /// Forgets deliveries finished (delivered or abandoned) before `before`, and events with no delivery left.
    pub async fn prune_webhook_outbox(&mut self, before: &str) -> Result<usize> {
        let deliveries = sqlx::query("DELETE FROM webhook_deliveries WHERE delivered_at < $1 OR abandoned_at < $1")
            .bind(before)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "DELETE FROM webhook_events WHERE NOT EXISTS
             (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
        )
        .execute(self.conn())
        .await?;
        Ok(deliveries.rows_affected() as usize)
    }

    /// The deliveries of an event, by webhook.
    pub async fn webhook_deliveries(&mut self, event_id: &str) -> Result<Vec<DeliveryState>> {
        let rows = sqlx::query(
            "SELECT webhook_id, attempts, delivered_at, abandoned_at, last_error
             FROM webhook_deliveries WHERE event_id = $1 ORDER BY rowid",
        )
        .bind(event_id)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeliveryState {
                    webhook_id: row.try_get(0)?,
                    attempts: fits(row.try_get(1)?, "attempts")?,
                    delivered: row.try_get::<Option<String>, _>(2)?.is_some(),
                    abandoned: row.try_get::<Option<String>, _>(3)?.is_some(),
                    last_error: row.try_get(4)?,
                })
            })
            .collect()
    }

    /// The app's events, oldest first: `(id, event name, body)`.
    pub async fn webhook_events(&mut self, app_id: &str) -> Result<Vec<(String, String, Vec<u8>)>> {
        let rows = sqlx::query("SELECT id, event, body FROM webhook_events WHERE app_id = $1 ORDER BY rowid")
            .bind(app_id)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))).collect()
    }

    /// The meeting and its app, as event payloads describe them.
    pub async fn event_meeting(&mut self, meeting_id: &str) -> Result<Option<EventMeeting>> {
        let row = sqlx::query(
            "SELECT m.id, m.title, m.created_at, a.id, a.name FROM meetings m JOIN apps a ON a.id = m.app_id
             WHERE m.id = $1",
        )
        .bind(meeting_id)
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(EventMeeting {
            id: row.try_get(0)?,
            title: row.try_get(1)?,
            created_at: row.try_get(2)?,
            app_id: row.try_get(3)?,
            app_name: row.try_get(4)?,
        }))
    }

    /// The session's open stays (of one participant, or of all), oldest first.
    pub async fn open_stays(&mut self, session_id: &str, participant_id: Option<&str>) -> Result<Vec<OpenStay>> {
        let rows = sqlx::query(
            "SELECT id, participant_id, custom_participant_id, name, preset_name, joined_at FROM session_participants
             WHERE session_id = $1 AND left_at IS NULL AND ($2 IS NULL OR participant_id = $2)
             ORDER BY joined_at, rowid",
        )
        .bind(session_id)
        .bind(participant_id)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OpenStay {
                    id: row.try_get(0)?,
                    participant_id: row.try_get(1)?,
                    custom_participant_id: row.try_get(2)?,
                    name: row.try_get(3)?,
                    preset_name: row.try_get(4)?,
                    joined_at: row.try_get(5)?,
                })
            })
            .collect()
    }
}

/// The claim of [`Db::claim_webhook_deliveries`], inside its transaction.
async fn claim_due(
    conn: &mut AnyConnection,
    dialect: Dialect,
    now_ms: i64,
    first_delay_ms: i64,
    lease_until_ms: i64,
    take: &mut (dyn FnMut(&str, &str) -> bool + Send),
) -> Result<(Vec<DueDelivery>, Option<i64>)> {
    let lock = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => "FOR UPDATE OF d SKIP LOCKED",
    };
    let sql = format!(
        "SELECT d.event_id, d.webhook_id, {DUE_AT} AS due
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE {PENDING} AND w.enabled = 1 AND NOT EXISTS (
             SELECT 1 FROM webhook_deliveries p
             WHERE p.webhook_id = d.webhook_id AND p.session_id = d.session_id AND p.rowid < d.rowid
               AND p.delivered_at IS NULL AND p.abandoned_at IS NULL)
         ORDER BY due, d.rowid
         {lock}"
    );
    let rows = sqlx::query(&sql).bind(first_delay_ms).fetch_all(&mut *conn).await?;
    let heads = rows
        .iter()
        .map(|row| Ok((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?, row.try_get::<i64, _>(2)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut claimed = Vec::new();
    for (event_id, webhook_id, due) in heads {
        if due > now_ms {
            return Ok((claimed, Some(due))); // the earliest: heads come in due order
        }
        if take(&webhook_id, &event_id) {
            claimed.push(lease(&mut *conn, &event_id, &webhook_id, lease_until_ms).await?);
        }
    }
    Ok((claimed, None))
}

async fn lease(conn: &mut AnyConnection, event_id: &str, webhook_id: &str, lease_until_ms: i64) -> Result<DueDelivery> {
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_ms = $1 WHERE event_id = $2 AND webhook_id = $3")
        .bind(lease_until_ms)
        .bind(event_id)
        .bind(webhook_id)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query(
        "SELECT w.url, e.event, e.body, d.attempts, w.secret, w.previous_secret, w.previous_secret_until_ms
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
              JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.event_id = $1 AND d.webhook_id = $2",
    )
    .bind(event_id)
    .bind(webhook_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(DueDelivery {
        event_id: event_id.to_owned(),
        webhook_id: webhook_id.to_owned(),
        url: row.try_get(0)?,
        event: row.try_get(1)?,
        body: row.try_get(2)?,
        attempts: fits(row.try_get(3)?, "attempts")?,
        secret: WebhookSecret::from(row.try_get::<Vec<u8>, _>(4)?),
        previous_secret: match (row.try_get::<Option<Vec<u8>>, _>(5)?, row.try_get::<Option<i64>, _>(6)?) {
            (Some(secret), Some(until_ms)) => Some((WebhookSecret::from(secret), until_ms)),
            _ => None,
        },
    })
}

#[cfg(test)]
#[path = "webhook_outbox_tests.rs"]
mod tests;
