//! The owner of a session's life: its start, each arrival and departure, and its end, each written together with
//! its webhook events (`meeting.started`, `meeting.participantJoined`, `meeting.participantLeft`, `meeting.ended`).
//!
//! The row writes are private to this module, so there is no way to record a change without its event. These are
//! methods of [`Tx`], so they run inside a write transaction ([`super::Store::begin`]; the hub's join, leave and end
//! make one): the change and its event commit together or not at all, so an event cannot be lost by a crash after
//! the change, nor sent for a change that rolled back. One exception to "written together", so that an end is not
//! held up by one row per participant: the `meeting.participantLeft` events of the participants an end removes are
//! recorded as one durable pending row and written right after (`lifecycle_left.rs`). A session ends once ([`Tx::end_session`] says whether this call ended it), so it has
//! exactly one `meeting.ended` event however many callers race to end it.
//!
//! Payloads follow RealtimeKit's (inherited from Dyte), e.g.
//! `{"event":"meeting.ended","meeting":{"id","sessionId","title","status","createdAt","startedAt","endedAt",
//! "organizedBy":{"id","name"}},"reason":"HOST_ENDED_MEETING"}`. `organizedBy` is the app. `meeting.ended` also
//! carries, as additive fields of ours, `endedBy` (`{id, name, customParticipantId}`, `{"api": true}` or null) and
//! `message` (the host's, or null): the same end record the participants' `roomLeft` carries.

use super::{new_id, Db, EventMeeting, OpenStay, Result, Tx, WebhookEvent};
use crate::clock;
use endsession_protocol::{EndReason, EndedBy, Participant};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeetingJson<'a> {
    id: &'a str,
    session_id: &'a str,
    title: Option<&'a str>,
    /// The session's: `LIVE`, or `ENDED` in `meeting.ended` (and the `participantLeft` events the end causes).
    status: &'static str,
    created_at: &'a str,
    started_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<&'a str>,
    organized_by: Organizer<'a>,
}

#[derive(Serialize)]
struct Organizer<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParticipantJson<'a> {
    /// The participant (as the REST API names it).
    id: &'a str,
    /// This stay in the session: a participant that leaves and joins again has a new one.
    peer_id: &'a str,
    custom_participant_id: &'a str,
    user_display_name: Option<&'a str>,
    preset_name: &'a str,
    joined_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    left_at: Option<&'a str>,
}

impl<'a> ParticipantJson<'a> {
    /// The stay, and when it ended (None: it is going on).
    fn of(stay: &'a OpenStay, left_at: Option<&'a str>) -> Self {
        ParticipantJson {
            id: &stay.participant_id,
            peer_id: &stay.id,
            custom_participant_id: &stay.custom_participant_id,
            user_display_name: stay.name.as_deref(),
            preset_name: &stay.preset_name,
            joined_at: &stay.joined_at,
            left_at,
        }
    }
}

#[derive(Serialize)]
struct Payload<'a> {
    event: &'static str,
    meeting: MeetingJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    participant: Option<ParticipantJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// Only in `meeting.ended`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    end: Option<EndJson<'a>>,
}

/// The additive fields of `meeting.ended`: always both, null when there is none.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EndJson<'a> {
    ended_by: Option<&'a EndedBy>,
    message: Option<&'a str>,
}

/// How a session ends: its `reason`, who ended it (None: nobody did, e.g. `ALL_PARTICIPANTS_LEFT`), the host's
/// message, and whether the meeting becomes INACTIVE with the end (`lock`, same transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndRecord {
    pub reason: EndReason,
    pub ended_by: Option<EndedBy>,
    pub message: Option<String>,
    pub lock: bool,
}

impl EndRecord {
    /// An end nobody asked for (the last participant left).
    pub fn plain(reason: EndReason) -> Self {
        EndRecord { reason, ended_by: None, message: None, lock: false }
    }
}

/// The session an event is about.
struct Subject<'a> {
    meeting: &'a EventMeeting,
    session_id: &'a str,
    started_at: &'a str,
    ended_at: Option<&'a str>,
}

impl Subject<'_> {
    fn meeting_json(&self) -> MeetingJson<'_> {
        MeetingJson {
            id: &self.meeting.id,
            session_id: self.session_id,
            title: self.meeting.title.as_deref(),
            status: if self.ended_at.is_some() { "ENDED" } else { "LIVE" },
            created_at: &self.meeting.created_at,
            started_at: self.started_at,
            ended_at: self.ended_at,
            organized_by: Organizer { id: &self.meeting.app_id, name: &self.meeting.app_name },
        }
    }

    /// Returns the event's id (its deliveries' `rtk-uuid`).
    async fn enqueue(
        &self,
        db: &mut Db,
        event: WebhookEvent,
        payload: &Payload<'_>,
        hooks: &[String],
    ) -> Result<String> {
        let body = serde_json::to_vec(payload)?;
        let (at, now_ms) = (clock::now(), clock::unix_ms());
        // The bell rings when the transaction commits (see `enqueue_webhook_event`).
        db.enqueue_webhook_event(&self.meeting.app_id, event, &body, hooks, &at, now_ms).await
    }

    /// [`Subject::participant_event`] `meeting.participantJoined` of many stays, in the order given, in one batched
    /// write ([`Db::enqueue_webhook_events`]).
    async fn joined_events(&self, db: &mut Db, stays: &[OpenStay], hooks: &[String]) -> Result<()> {
        let mut bodies = Vec::with_capacity(stays.len());
        for stay in stays {
            let payload = Payload {
                event: "meeting.participantJoined",
                meeting: self.meeting_json(),
                participant: Some(ParticipantJson::of(stay, None)),
                reason: None,
                end: None,
            };
            bodies.push(serde_json::to_vec(&payload)?);
        }
        let (at, now_ms) = (clock::now(), clock::unix_ms());
        let event = WebhookEvent::ParticipantJoined;
        db.enqueue_webhook_events(&self.meeting.app_id, event, &bodies, hooks, &at, now_ms).await.map(drop)
    }

    async fn participant_event(
        &self,
        db: &mut Db,
        stay: &OpenStay,
        left_at: Option<&str>,
        hooks: &[String],
    ) -> Result<()> {
        let (event, name) = match left_at {
            None => (WebhookEvent::ParticipantJoined, "meeting.participantJoined"),
            Some(_) => (WebhookEvent::ParticipantLeft, "meeting.participantLeft"),
        };
        let payload = Payload {
            event: name,
            meeting: self.meeting_json(),
            participant: Some(ParticipantJson::of(stay, left_at)),
            reason: None,
            end: None,
        };
        self.enqueue(db, event, &payload, hooks).await.map(drop)
    }
}

/// The meeting and its session's start, for a payload; None if either is gone (nothing to report then).
async fn context(db: &mut Db, meeting_id: &str, session_id: &str) -> Result<Option<(EventMeeting, String)>> {
    let Some(meeting) = db.event_meeting(meeting_id).await? else { return Ok(None) };
    Ok(db.session(meeting_id, session_id).await?.map(|session| (meeting, session.started_at)))
}

impl Tx {
    /// Starts a session of the meeting, and `meeting.started`.
    pub async fn start_session(&mut self, session_id: &str, meeting_id: &str, started_at: &str) -> Result<()> {
        insert_session(self, session_id, meeting_id, started_at).await?;
        let hooks = self.webhook_subscribers(meeting_id, WebhookEvent::MeetingStarted).await?;
        if hooks.is_empty() {
            return Ok(());
        }
        let Some(meeting) = self.event_meeting(meeting_id).await? else { return Ok(()) };
        let subject = Subject { meeting: &meeting, session_id, started_at, ended_at: None };
        let payload = Payload {
            event: "meeting.started",
            meeting: subject.meeting_json(),
            participant: None,
            reason: None,
            end: None,
        };
        subject.enqueue(self, WebhookEvent::MeetingStarted, &payload, &hooks).await.map(drop)
    }

    /// The participant joined the session (not a reconnect: a new stay), and `meeting.participantJoined`.
    pub async fn record_arrival(
        &mut self,
        meeting_id: &str,
        session_id: &str,
        participant: &Participant,
        at: &str,
    ) -> Result<()> {
        insert_stay(self, session_id, participant, at).await?;
        let hooks = self.webhook_subscribers(meeting_id, WebhookEvent::ParticipantJoined).await?;
        if hooks.is_empty() {
            return Ok(());
        }
        let Some((meeting, started_at)) = context(self, meeting_id, session_id).await? else { return Ok(()) };
        let subject = Subject { meeting: &meeting, session_id, started_at: &started_at, ended_at: None };
        let stays = self.open_stays(session_id, Some(&participant.id)).await?;
        for stay in stays.iter().filter(|s| s.joined_at == at) {
            subject.participant_event(self, stay, None, &hooks).await?;
        }
        Ok(())
    }

    /// The participant's stay in the live session is over (it left, was kicked, or did not come back in time), and
    /// `meeting.participantLeft` if it was in the session. Not for the end of the session: [`Tx::end_session`]
    /// closes the open stays.
    pub async fn record_departure(
        &mut self,
        meeting_id: &str,
        session_id: &str,
        participant_id: &str,
        at: &str,
    ) -> Result<()> {
        let hooks = self.webhook_subscribers(meeting_id, WebhookEvent::ParticipantLeft).await?;
        let stays =
            if hooks.is_empty() { Vec::new() } else { self.open_stays(session_id, Some(participant_id)).await? };
        close_stay(self, session_id, participant_id, at).await?;
        // Someone was there until now: a restart that follows ends the session no earlier than this.
        self.touch_session(session_id, at, None).await?;
        if stays.is_empty() {
            return Ok(());
        }
        let Some((meeting, started_at)) = context(self, meeting_id, session_id).await? else { return Ok(()) };
        let subject = Subject { meeting: &meeting, session_id, started_at: &started_at, ended_at: None };
        for stay in &stays {
            subject.participant_event(self, stay, Some(at), &hooks).await?;
        }
        Ok(())
    }

    /// [`Tx::end_session_recorded`] of an end nobody asked for: true if this call ended the session.
    pub async fn end_session(
        &mut self,
        meeting_id: &str,
        session_id: &str,
        ended_at: &str,
        reason: EndReason,
        peak_participants: u32,
        kicked_count: u32,
    ) -> Result<bool> {
        let record = EndRecord::plain(reason);
        Ok(self
            .end_session_recorded(meeting_id, session_id, ended_at, &record, peak_participants, kicked_count)
            .await?
            .is_some())
    }

    /// Ends the session with its end record; if this call ended it, with `record.lock` the meeting becomes INACTIVE,
    /// and the end's events are recorded, `meeting.participantLeft` for everyone still in it, then `meeting.ended`,
    /// all in this transaction (the per-participant ones as one pending row: see below).
    /// Returns the id of the end's `meeting.ended` event if this call ended the session (a session ends once: later
    /// calls change nothing and get None). The id is fixed here, kept on the session (see [`Db::session_end`]), and
    /// is the event's `rtk-uuid` when a webhook is subscribed (with none, no event is stored and the id names the
    /// end alone).
    ///
    /// This runs on the way from `kickAll` to the participants' `roomLeft`, so what nobody subscribed to is not even
    /// read, and nothing here is written per participant: without webhooks it adds two small queries. When a
    /// `meeting.participantLeft` subscriber and participants still in the session mean one event per participant,
    /// the end records one pending row instead (with the `meeting.ended` body and its id), which the webhook worker
    /// turns into those events and then `meeting.ended`, in that order, exactly once (`lifecycle_left.rs`).
    pub async fn end_session_recorded(
        &mut self,
        meeting_id: &str,
        session_id: &str,
        ended_at: &str,
        record: &EndRecord,
        peak_participants: u32,
        kicked_count: u32,
    ) -> Result<Option<String>> {
        let left_hooks = self.webhook_subscribers(meeting_id, WebhookEvent::ParticipantLeft).await?;
        let anyone_in = !left_hooks.is_empty() && self.has_open_stays(session_id).await?;
        if !close_session(self, session_id, ended_at, record, peak_participants, kicked_count).await? {
            return Ok(None);
        }
        if record.lock {
            self.lock_meeting(meeting_id).await?;
        }
        let ended_hooks = self.webhook_subscribers(meeting_id, WebhookEvent::MeetingEnded).await?;
        let mut event_id = None;
        if anyone_in || !ended_hooks.is_empty() {
            if let Some((meeting, started_at)) = context(self, meeting_id, session_id).await? {
                let subject =
                    Subject { meeting: &meeting, session_id, started_at: &started_at, ended_at: Some(ended_at) };
                let ended = (!ended_hooks.is_empty()).then(|| Payload {
                    event: "meeting.ended",
                    meeting: subject.meeting_json(),
                    participant: None,
                    reason: Some(record.reason.as_str()),
                    end: Some(EndJson { ended_by: record.ended_by.as_ref(), message: record.message.as_deref() }),
                });
                if anyone_in {
                    let id = new_id();
                    let pending = left::PendingLeft {
                        session_id,
                        app_id: &meeting.app_id,
                        meeting_json: serde_json::to_string(&subject.meeting_json())?,
                        left_at: ended_at,
                        left_hooks: &left_hooks,
                        ended_event_id: &id,
                        ended_body: ended.as_ref().map(serde_json::to_vec).transpose()?,
                        ended_hooks: &ended_hooks,
                    };
                    self.defer_left_events(&pending).await?;
                    event_id = Some(id);
                } else if let Some(payload) = &ended {
                    let id = subject.enqueue(self, WebhookEvent::MeetingEnded, payload, &ended_hooks).await?;
                    event_id = Some(id);
                }
            }
        }
        let event_id = event_id.unwrap_or_else(new_id);
        sqlx::query("UPDATE sessions SET end_event_id = $1 WHERE id = $2")
            .bind(&event_id)
            .bind(session_id)
            .execute(self.conn())
            .await?;
        Ok(Some(event_id))
    }
}

async fn insert_session(db: &mut Db, session_id: &str, meeting_id: &str, started_at: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, meeting_id, started_at, peak_participants, last_alive_at)
         VALUES ($1, $2, $3, 0, $3)",
    )
    .bind(session_id)
    .bind(meeting_id)
    .bind(started_at)
    .execute(db.conn())
    .await?;
    Ok(())
}

/// True if this call ended the session. The stays still open end with it without a write (see
/// [`Db::list_attendance`]): this runs before the participants are told, so it stays one row whatever the size of
/// the session.
async fn close_session(
    db: &mut Db,
    session_id: &str,
    ended_at: &str,
    record: &EndRecord,
    peak_participants: u32,
    kicked_count: u32,
) -> Result<bool> {
    let ended_by = record.ended_by.as_ref().map(serde_json::to_string).transpose()?;
    // CASE, not SQLite's two-argument MAX (Postgres' is GREATEST): the larger of the two.
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2,
                             peak_participants = CASE WHEN peak_participants > $3 THEN peak_participants ELSE $3 END,
                             kicked_count = $4, ended_by = $5, end_message = $6, ending_at = NULL
         WHERE id = $7 AND ended_at IS NULL",
    )
    .bind(ended_at)
    .bind(record.reason.as_str())
    .bind(i64::from(peak_participants))
    .bind(i64::from(kicked_count))
    .bind(ended_by)
    .bind(record.message.as_deref())
    .bind(session_id)
    .execute(db.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn insert_stay(db: &mut Db, session_id: &str, participant: &Participant, at: &str) -> Result<()> {
    let name = Some(participant.name.as_str()).filter(|name| !name.is_empty());
    sqlx::query(
        "INSERT INTO session_participants
           (id, session_id, participant_id, custom_participant_id, name, preset_name, joined_at, left_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
    )
    .bind(new_id())
    .bind(session_id)
    .bind(&participant.id)
    .bind(&participant.custom_participant_id)
    .bind(name)
    .bind(&participant.preset_name)
    .bind(at)
    .execute(db.conn())
    .await?;
    Ok(())
}

async fn close_stay(db: &mut Db, session_id: &str, participant_id: &str, at: &str) -> Result<()> {
    sqlx::query(
        "UPDATE session_participants SET left_at = $1
         WHERE session_id = $2 AND participant_id = $3 AND left_at IS NULL",
    )
    .bind(at)
    .bind(session_id)
    .bind(participant_id)
    .execute(db.conn())
    .await?;
    Ok(())
}

#[path = "lifecycle_arrivals.rs"]
mod arrivals;
#[path = "lifecycle_left.rs"]
mod left;

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
