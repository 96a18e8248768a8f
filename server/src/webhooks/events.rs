//! The four meeting events and their payloads, and the store calls that record a change together with its event.
//!
//! Each function here wraps one store write (`start_session`, `record_arrival`, `record_departure`, `end_session`)
//! and enqueues the event in the same call. The caller runs it inside one transaction ([`Db::transaction`]), so the
//! change and its event commit together or not at all: an event cannot be lost by a crash after the change, nor sent
//! for a change that rolled back. A session ends once ([`Db::end_session`] says whether this call ended it), so it
//! has exactly one `meeting.ended` event however many callers race to end it.
//!
//! Payloads follow RealtimeKit's (inherited from Dyte), e.g.
//! `{"event":"meeting.ended","meeting":{"id","sessionId","title","status","createdAt","startedAt","endedAt",
//! "organizedBy":{"id","name"}},"reason":"HOST_ENDED_MEETING"}`. `organizedBy` is the app.

use crate::clock;
use crate::store::{Db, EventMeeting, OpenStay, Result, WebhookEvent};
use endsession_protocol::{EndReason, Participant};
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

#[derive(Serialize)]
struct Payload<'a> {
    event: &'static str,
    meeting: MeetingJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    participant: Option<ParticipantJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
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

    fn enqueue(&self, db: &Db, event: WebhookEvent, payload: &Payload<'_>, hooks: &[String]) -> Result<()> {
        let body = serde_json::to_vec(payload)?;
        db.enqueue_webhook_event(&self.meeting.app_id, event, &body, hooks, &clock::now(), unix_ms())?;
        super::wake();
        Ok(())
    }

    fn participant_event(&self, db: &Db, stay: &OpenStay, left_at: Option<&str>, hooks: &[String]) -> Result<()> {
        let (event, name) = match left_at {
            None => (WebhookEvent::ParticipantJoined, "meeting.participantJoined"),
            Some(_) => (WebhookEvent::ParticipantLeft, "meeting.participantLeft"),
        };
        let participant = ParticipantJson {
            id: &stay.participant_id,
            peer_id: &stay.id,
            custom_participant_id: &stay.custom_participant_id,
            user_display_name: stay.name.as_deref(),
            preset_name: &stay.preset_name,
            joined_at: &stay.joined_at,
            left_at,
        };
        let payload =
            Payload { event: name, meeting: self.meeting_json(), participant: Some(participant), reason: None };
        self.enqueue(db, event, &payload, hooks)
    }
}

/// The meeting and its session's start, for a payload; None if either is gone (nothing to report then).
fn context(db: &Db, meeting_id: &str, session_id: &str) -> Result<Option<(EventMeeting, String)>> {
    let Some(meeting) = db.event_meeting(meeting_id)? else { return Ok(None) };
    Ok(db.session(meeting_id, session_id)?.map(|session| (meeting, session.started_at)))
}

/// [`Db::start_session`], and `meeting.started`.
pub fn start_session(db: &Db, session_id: &str, meeting_id: &str, started_at: &str) -> Result<()> {
    db.start_session(session_id, meeting_id, started_at)?;
    let hooks = db.webhook_subscribers(meeting_id, WebhookEvent::MeetingStarted)?;
    if hooks.is_empty() {
        return Ok(());
    }
    let Some(meeting) = db.event_meeting(meeting_id)? else { return Ok(()) };
    let subject = Subject { meeting: &meeting, session_id, started_at, ended_at: None };
    let payload =
        Payload { event: "meeting.started", meeting: subject.meeting_json(), participant: None, reason: None };
    subject.enqueue(db, WebhookEvent::MeetingStarted, &payload, &hooks)
}

/// [`Db::record_arrival`], and `meeting.participantJoined`.
pub fn record_arrival(db: &Db, meeting_id: &str, session_id: &str, participant: &Participant, at: &str) -> Result<()> {
    db.record_arrival(session_id, participant, at)?;
    let hooks = db.webhook_subscribers(meeting_id, WebhookEvent::ParticipantJoined)?;
    if hooks.is_empty() {
        return Ok(());
    }
    let Some((meeting, started_at)) = context(db, meeting_id, session_id)? else { return Ok(()) };
    let subject = Subject { meeting: &meeting, session_id, started_at: &started_at, ended_at: None };
    for stay in db.open_stays(session_id, Some(&participant.id))?.iter().filter(|s| s.joined_at == at) {
        subject.participant_event(db, stay, None, &hooks)?;
    }
    Ok(())
}

/// [`Db::record_departure`], and `meeting.participantLeft` if the participant was in the session.
pub fn record_departure(db: &Db, meeting_id: &str, session_id: &str, participant_id: &str, at: &str) -> Result<()> {
    let hooks = db.webhook_subscribers(meeting_id, WebhookEvent::ParticipantLeft)?;
    let stays = if hooks.is_empty() { Vec::new() } else { db.open_stays(session_id, Some(participant_id))? };
    db.record_departure(session_id, participant_id, at)?;
    // Someone was there until now: a restart that follows ends the session no earlier than this.
    db.touch_session(session_id, at, None)?;
    if stays.is_empty() {
        return Ok(());
    }
    let Some((meeting, started_at)) = context(db, meeting_id, session_id)? else { return Ok(()) };
    let subject = Subject { meeting: &meeting, session_id, started_at: &started_at, ended_at: None };
    for stay in &stays {
        subject.participant_event(db, stay, Some(at), &hooks)?;
    }
    Ok(())
}

/// [`Db::end_session`]; if this call ended the session, `meeting.participantLeft` for everyone still in it, then
/// `meeting.ended`. True if this call ended it.
///
/// This runs on the way from `kickAll` to the participants' `roomLeft`, so what nobody subscribed to is not even
/// read: without webhooks it adds two small queries. A `meeting.participantLeft` subscriber costs one event per
/// participant still in the session.
pub fn end_session(
    db: &Db,
    meeting_id: &str,
    session_id: &str,
    ended_at: &str,
    reason: EndReason,
    peak_participants: u32,
    kicked_count: u32,
) -> Result<bool> {
    let left_hooks = db.webhook_subscribers(meeting_id, WebhookEvent::ParticipantLeft)?;
    let stays = if left_hooks.is_empty() { Vec::new() } else { db.open_stays(session_id, None)? };
    if !db.end_session(session_id, ended_at, reason, peak_participants, kicked_count)? {
        return Ok(false);
    }
    let ended_hooks = db.webhook_subscribers(meeting_id, WebhookEvent::MeetingEnded)?;
    if stays.is_empty() && ended_hooks.is_empty() {
        return Ok(true);
    }
    let Some((meeting, started_at)) = context(db, meeting_id, session_id)? else { return Ok(true) };
    let subject = Subject { meeting: &meeting, session_id, started_at: &started_at, ended_at: Some(ended_at) };
    for stay in &stays {
        subject.participant_event(db, stay, Some(ended_at), &left_hooks)?;
    }
    if !ended_hooks.is_empty() {
        let payload = Payload {
            event: "meeting.ended",
            meeting: subject.meeting_json(),
            participant: None,
            reason: Some(reason.as_str()),
        };
        subject.enqueue(db, WebhookEvent::MeetingEnded, &payload, &ended_hooks)?;
    }
    Ok(true)
}

/// Milliseconds since the Unix epoch: the outbox's clock for scheduling attempts.
pub fn unix_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
