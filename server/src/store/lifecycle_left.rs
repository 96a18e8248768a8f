//! The `meeting.participantLeft` events of an end, written after the participants were told.
//!
//! An end with a `meeting.participantLeft` subscriber and participants still in the session would cost one outbox
//! event per participant before anyone hears of the end. Instead the end's transaction writes one
//! `pending_left_events` row (migration 10): "everyone still in session S left at `ended_at`", with what the events
//! need that could change later (the `meeting` object as it was at the end, the subscribed webhooks, the
//! `meeting.ended` body and its id, which the participants are told as `eventId`). The webhook worker then turns the
//! row into the events ([`Store::write_pending_left_events`]), [`CHUNK`] stays per write transaction, and writes the
//! `meeting.ended` event last with its id fixed at the end: a webhook gets exactly the events, bodies and order
//! (`participantLeft` of each stay in the order they joined, then `meeting.ended`) it got when the end wrote them all.
//!
//! Exactly once, whatever crashes when and however many nodes share the store: the row is durable with the end, each
//! chunk's events commit together with the row's cursor (the last stay done), and the last chunk deletes the row in
//! the same transaction. Each chunk runs in a [`super::super::Tx`], which holds the store's one write lock (SQLite's,
//! or Postgres' advisory lock: see the store's module doc), so two nodes' workers take turns and the second finds the
//! cursor moved on or the row gone.
//!
//! The stays are the session's open ones (`left_at IS NULL`): after the end they stay open in the table (the REST
//! API reports an open stay of an ended session as left at the session's end) and nothing closes them, so the set the
//! cursor walks does not change.

use super::{OpenStay, ParticipantJson};
use crate::clock;
use crate::store::{Db, Result, Store, Tx, WebhookEvent};
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::Row;

/// Stays turned into events per write transaction: big enough that a chunk's fixed costs do not matter, small enough
/// that a join or an end of another meeting waiting for the write lock waits one chunk, not a whole session.
pub const CHUNK: usize = 500;

/// What the end's transaction records instead of the events (see the module doc).
pub(super) struct PendingLeft<'a> {
    pub session_id: &'a str,
    pub app_id: &'a str,
    /// The events' `meeting` object, as serialized at the end.
    pub meeting_json: String,
    pub left_at: &'a str,
    pub left_hooks: &'a [String],
    pub ended_event_id: &'a str,
    /// None when no webhook subscribes to `meeting.ended`.
    pub ended_body: Option<Vec<u8>>,
    pub ended_hooks: &'a [String],
}

/// A `meeting.participantLeft` body: the fields and order of `lifecycle.rs`'s `Payload` (whose `reason` and end
/// fields it leaves out), with the stored `meeting` object as it is.
#[derive(Serialize)]
struct LeftPayload<'a> {
    event: &'static str,
    meeting: &'a RawValue,
    participant: ParticipantJson<'a>,
}

impl Db {
    /// True if the session has a stay still open (a participant still in it).
    pub(super) async fn has_open_stays(&mut self, session_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM session_participants WHERE session_id = $1 AND left_at IS NULL LIMIT 1")
            .bind(session_id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.is_some())
    }

    /// Records the pending events of an end, in its transaction; the worker's bell rings at the commit.
    pub(super) async fn defer_left_events(&mut self, pending: &PendingLeft<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO pending_left_events (session_id, app_id, meeting, left_at, left_hooks, ended_event_id,
                                              ended_body, ended_hooks, created_at, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(pending.session_id)
        .bind(pending.app_id)
        .bind(&pending.meeting_json)
        .bind(pending.left_at)
        .bind(serde_json::to_string(pending.left_hooks)?)
        .bind(pending.ended_event_id)
        .bind(pending.ended_body.clone())
        .bind(serde_json::to_string(pending.ended_hooks)?)
        .bind(clock::now())
        .bind(clock::unix_ms())
        .execute(self.conn())
        .await?;
        self.ring_webhook_bell();
        Ok(())
    }
}

impl Store {
    /// Writes the next [`CHUNK`] of `meeting.participantLeft` events of the oldest pending end recorded at least
    /// `first_delay_ms` before `now_ms` (unix ms; the `--webhook-delay-ms` test knob holds these as it holds first
    /// attempts), and after the last chunk its `meeting.ended`, in one write transaction. Their deliveries are first
    /// due when the end happened, as if written by the end.
    ///
    /// Returns when to call again (unix ms): `now_ms` after a chunk was written (more may be due now), the time the
    /// next pending end falls due, or None when none is pending. One chunk per call, so that the worker's claims
    /// (and the hub's writers, waiting for the write lock) go on between chunks of a large end.
    ///
    /// Safe to call from every node at once: each chunk is written once (see the module doc).
    pub async fn write_pending_left_events(&self, now_ms: i64, first_delay_ms: i64) -> Result<Option<i64>> {
        // Looked at without the write lock first: the worker asks at every wake-up, and nothing is pending then but
        // after an end.
        let oldest = sqlx::query("SELECT MIN(created_ms) FROM pending_left_events")
            .fetch_one(self.db().await?.conn())
            .await?
            .try_get::<Option<i64>, _>(0)?;
        match oldest.map(|ms| ms.saturating_add(first_delay_ms)) {
            None => return Ok(None),
            Some(due) if due > now_ms => return Ok(Some(due)),
            Some(_) => {}
        }
        let mut tx = self.begin().await?;
        match write_chunk(&mut tx, now_ms, first_delay_ms).await? {
            Chunk::Written => {
                tx.commit().await?;
                Ok(Some(now_ms))
            }
            Chunk::NextDue(next) => Ok(next),
        }
    }
}

enum Chunk {
    /// A chunk was written: commit, and call again.
    Written,
    /// Nothing due; when the next is (unix ms).
    NextDue(Option<i64>),
}

/// One chunk of the oldest due pending end, inside the write transaction `tx`.
async fn write_chunk(tx: &mut Tx, now_ms: i64, first_delay_ms: i64) -> Result<Chunk> {
    let row = sqlx::query(
        "SELECT session_id, app_id, meeting, left_at, left_hooks, ended_event_id, ended_body, ended_hooks,
                created_at, created_ms, after_joined_at, after_rowid
         FROM pending_left_events ORDER BY created_ms, rowid LIMIT 1",
    )
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(Chunk::NextDue(None)) };
    let created_ms: i64 = row.try_get(9)?;
    if created_ms.saturating_add(first_delay_ms) > now_ms {
        return Ok(Chunk::NextDue(Some(created_ms.saturating_add(first_delay_ms))));
    }
    let session_id: String = row.try_get(0)?;
    let app_id: String = row.try_get(1)?;
    let meeting: String = row.try_get(2)?;
    let left_at: String = row.try_get(3)?;
    // A webhook deleted since the end (its deliveries went with it) gets none.
    let hooks = app_webhooks(tx, &app_id).await?;
    let subscribed = |column: usize| -> Result<Vec<String>> {
        let ids: Vec<String> = serde_json::from_str(&row.try_get::<String, _>(column)?)?;
        Ok(ids.into_iter().filter(|id| hooks.contains(id)).collect())
    };
    let left_hooks = subscribed(4)?;
    let created_at: String = row.try_get(8)?;
    let after: (Option<String>, Option<i64>) = (row.try_get(10)?, row.try_get(11)?);

    let stays = open_stays_after(tx, &session_id, after).await?;
    let meeting = RawValue::from_string(meeting)?;
    if !left_hooks.is_empty() {
        let mut bodies = Vec::with_capacity(stays.len());
        for (stay, _) in &stays {
            let payload = LeftPayload {
                event: "meeting.participantLeft",
                meeting: &meeting,
                participant: ParticipantJson::of(stay, Some(&left_at)),
            };
            bodies.push(serde_json::to_vec(&payload)?);
        }
        let event = WebhookEvent::ParticipantLeft;
        tx.enqueue_webhook_events(&app_id, event, &bodies, &left_hooks, &created_at, created_ms).await?;
    }
    match stays.last() {
        Some((stay, rowid)) if stays.len() == CHUNK => {
            sqlx::query("UPDATE pending_left_events SET after_joined_at = $1, after_rowid = $2 WHERE session_id = $3")
                .bind(&stay.joined_at)
                .bind(rowid)
                .bind(&session_id)
                .execute(tx.conn())
                .await?;
        }
        _ => {
            // The last chunk: `meeting.ended` comes after every participantLeft, and the row goes with it.
            let ended_event_id: String = row.try_get(5)?;
            let ended_hooks = subscribed(7)?;
            if let Some(body) = row.try_get::<Option<Vec<u8>>, _>(6)?.filter(|_| !ended_hooks.is_empty()) {
                tx.enqueue_webhook_event_as(
                    &ended_event_id,
                    &app_id,
                    WebhookEvent::MeetingEnded,
                    &body,
                    &ended_hooks,
                    &created_at,
                    created_ms,
                )
                .await?;
            }
            sqlx::query("DELETE FROM pending_left_events WHERE session_id = $1")
                .bind(&session_id)
                .execute(tx.conn())
                .await?;
        }
    }
    Ok(Chunk::Written)
}

/// The ids of the app's webhooks, enabled or not (a disabled one's deliveries are given up as the worker gives up
/// any of a disabled webhook).
async fn app_webhooks(db: &mut Db, app_id: &str) -> Result<std::collections::HashSet<String>> {
    let rows = sqlx::query("SELECT id FROM webhooks WHERE app_id = $1").bind(app_id).fetch_all(db.conn()).await?;
    rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
}

/// Up to [`CHUNK`] open stays of the session after the cursor `(joined_at, rowid)` (None: from the first), in the
/// order `Db::open_stays` lists them, each with its rowid (the next cursor).
async fn open_stays_after(
    db: &mut Db,
    session_id: &str,
    (after_joined_at, after_rowid): (Option<String>, Option<i64>),
) -> Result<Vec<(OpenStay, i64)>> {
    let rows = sqlx::query(
        "SELECT id, participant_id, custom_participant_id, name, preset_name, joined_at, rowid
         FROM session_participants
         WHERE session_id = $1 AND left_at IS NULL
           AND ($2 IS NULL OR joined_at > $2 OR (joined_at = $2 AND rowid > $3))
         ORDER BY joined_at, rowid
         LIMIT $4",
    )
    .bind(session_id)
    .bind(after_joined_at)
    .bind(after_rowid.unwrap_or(0))
    .bind(CHUNK as i64)
    .fetch_all(db.conn())
    .await?;
    rows.iter()
        .map(|row| {
            let stay = OpenStay {
                id: row.try_get(0)?,
                participant_id: row.try_get(1)?,
                custom_participant_id: row.try_get(2)?,
                name: row.try_get(3)?,
                preset_name: row.try_get(4)?,
                joined_at: row.try_get(5)?,
            };
            Ok((stay, row.try_get(6)?))
        })
        .collect()
}
