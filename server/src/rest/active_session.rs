//! `/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/active-session[/kick-all|/kick]` — SDK
//! `realtime_kit.active_session.get_active_session`, `.kick_all_participants` and `.kick_participants`.

use super::participants::{participant_json, ParticipantJson};
use super::sessions::session_json;
use super::{find_meeting, ok, Body, Ids, MeetingPath};
use crate::hub::check_end_options;
use crate::rest::ApiError;
use crate::state::AppState;
use crate::store::SessionRow;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use endsession_protocol::EndOptions;
use serde::{Deserialize, Serialize};

/// The `action` of a kick-all answer.
pub const KICK_ALL_ACTION: &str = "kick_all";
/// The `action` of a kick answer.
pub const KICK_ACTION: &str = "kick";

/// `ActiveSessionKickParticipantsParams`: whom to remove, by participant id or custom participant id (or both).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KickParticipants {
    #[serde(default)]
    pub participant_ids: Vec<String>,
    #[serde(default)]
    pub custom_participant_ids: Vec<String>,
}

/// `GET .../active-session` → `{success, data: session}`: the live session, else the most recent one with
/// `status: "ENDED"` (so a backend can see that and why it ended); 404 if the meeting never had one.
pub async fn get(State(state): State<AppState>, Ids(path): Ids<MeetingPath>) -> Result<Response, ApiError> {
    let (app, meeting) = find_meeting(&state, &path).await?;
    let title = meeting.title.as_deref();
    if let Some(live) = state.hub.live_session(&meeting.id).await {
        let session = SessionRow {
            id: live.session_id.clone(),
            meeting_id: meeting.id.clone(),
            started_at: live.started_at.clone(),
            ended_at: None,
            end_reason: None,
            peak_participants: live.peak as u32,
            kicked_count: None,
        };
        return Ok(ok(session_json(&session, &app.id, title, Some(&live))));
    }
    let meeting_id = meeting.id.clone();
    let latest = state.store.db().await?.latest_session(&meeting_id).await?;
    let session = latest.ok_or_else(|| ApiError::not_found("active session"))?;
    Ok(ok(session_json(&session, &app.id, title, None)))
}

/// The extension fields of the kick-all body (the official SDK sends them with `extra_body`), all optional: see
/// [`EndOptions`]. Unknown fields are refused, so a misspelled option is an error rather than a plain end.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KickAllBody {
    pub message: Option<String>,
    pub lock: Option<bool>,
    #[serde(rename = "graceSeconds", alias = "grace_seconds")]
    pub grace_seconds: Option<u32>,
}

/// `POST .../active-session/kick-all {message?, lock?, graceSeconds?}` → `{success, data: {action: "kick_all",
/// kicked_participants_count}}`. Ends the live session exactly as a host's kickAll does (every participant gets
/// `RoomLeft { Ended }`, here with `endedBy: {api: true}`). Idempotent: with no live session (never started,
/// already ended, or ended by a concurrent call) the count is 0 and nothing happens, except that `lock` still makes
/// the meeting INACTIVE. No body is RealtimeKit's call.
///
/// Extensions: `message` (at most 500 characters) travels with the end; `lock: true` makes the meeting INACTIVE in
/// the end's transaction; `graceSeconds` (1 to 3600) starts a countdown instead (count 0, and `ends_at` in the
/// answer; a countdown already running is kept and its `ends_at` answered). 400 for an option out of bounds.
pub async fn kick_all(
    State(state): State<AppState>,
    Ids(path): Ids<MeetingPath>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // No body at all is RealtimeKit's plain call (the SDK sends none without `extra_body`).
    let body: KickAllBody =
        if body.iter().all(u8::is_ascii_whitespace) { KickAllBody::default() } else { super::body::parse(&body)? };
    let options =
        EndOptions { message: body.message, lock: body.lock.unwrap_or(false), grace_seconds: body.grace_seconds };
    check_end_options(&options).map_err(ApiError::invalid)?;
    let (_, meeting) = find_meeting(&state, &path).await?;
    let outcome = state.hub.end_session(&meeting.id, options).await?;
    let kicked = outcome.as_ref().map_or(0, |o| o.kicked_count);
    let ends_at = outcome.and_then(|o| o.ends_at);
    Ok(ok(KickedAll { action: KICK_ALL_ACTION, kicked_participants_count: kicked, ends_at }))
}

/// `ActiveSessionKickAllParticipantsResponse.data`, and `ends_at` (ours) when a countdown runs instead.
#[derive(Serialize)]
struct KickedAll {
    action: &'static str,
    kicked_participants_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
}

/// `POST .../active-session/cancel-end` (no body; an extension of ours) → `{success, data: {action: "cancel_end",
/// cancelled}}`: cancels the countdown to the live session's end (everyone gets `sessionEndCancelled` with
/// `cancelledBy: {api: true}`). `cancelled` is false, and nothing happens, if no countdown runs. A cancelled
/// `NO_HOST` countdown does not start again until a host has been connected.
pub async fn cancel_end(State(state): State<AppState>, Ids(path): Ids<MeetingPath>) -> Result<Response, ApiError> {
    let (_, meeting) = find_meeting(&state, &path).await?;
    let cancelled = state.hub.cancel_end(&meeting.id, None).await?;
    Ok(ok(CancelledEnd { action: CANCEL_END_ACTION, cancelled }))
}

/// The `action` of a cancel-end answer.
pub const CANCEL_END_ACTION: &str = "cancel_end";

#[derive(Serialize)]
struct CancelledEnd {
    action: &'static str,
    cancelled: bool,
}

/// `ActiveSessionKickParticipantsResponse.data`
#[derive(Serialize)]
struct Kicked<'a> {
    action: &'static str,
    participants: Vec<KickedParticipant<'a>>,
}

/// `ActiveSessionKickParticipantsResponse.data.participants[]`: the participant model, and `email` (always null:
/// this server keeps none).
#[derive(Serialize)]
struct KickedParticipant<'a> {
    #[serde(flatten)]
    participant: ParticipantJson<'a>,
    email: Option<&'a str>,
}

/// `POST .../active-session/kick {participant_ids?, custom_participant_ids?}` → `{success, data: {action: "kick",
/// participants: [participant]}}`: those of them who were in the live session, now removed from it (`RoomLeft
/// { kicked }`; the others stay, and a session this empties ends). They may join again: a kick is not a delete.
/// Nobody in the session (or no session) is an empty list, not an error, like kick-all's count of 0.
pub async fn kick(
    State(state): State<AppState>,
    Ids(path): Ids<MeetingPath>,
    Body(body): Body<KickParticipants>,
) -> Result<Response, ApiError> {
    if body.participant_ids.is_empty() && body.custom_participant_ids.is_empty() {
        return Err(ApiError::invalid("send `participant_ids` or `custom_participant_ids` (a non-empty list)"));
    }
    let (_, meeting) = find_meeting(&state, &path).await?;
    let meeting_id = meeting.id.clone();
    let rows = state
        .store
        .db()
        .await?
        .find_participants(&meeting_id, &body.participant_ids, &body.custom_participant_ids)
        .await?;
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let kicked = state.hub.kick(&meeting.id, &ids).await;
    let participants = rows
        .iter()
        .filter(|row| kicked.contains(&row.id))
        .map(|row| KickedParticipant { participant: participant_json(row), email: None })
        .collect();
    Ok(ok(Kicked { action: KICK_ACTION, participants }))
}
