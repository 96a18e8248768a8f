//! `/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/active-session[/kick-all|/kick]` — SDK
//! `realtime_kit.active_session.get_active_session`, `.kick_all_participants` and `.kick_participants`.

use super::participants::{participant_json, ParticipantJson};
use super::sessions::session_json;
use super::{find_meeting, ok, Body, Ids, MeetingPath};
use crate::rest::ApiError;
use crate::state::AppState;
use crate::store::SessionRow;
use axum::extract::State;
use axum::response::Response;
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
    let latest = state.store.run(move |db| db.latest_session(&meeting_id)).await?;
    let session = latest.ok_or_else(|| ApiError::not_found("active session"))?;
    Ok(ok(session_json(&session, &app.id, title, None)))
}

/// `POST .../active-session/kick-all` (no body) → `{success, data: {action: "kick_all", kicked_participants_count}}`.
/// Ends the live session exactly as a host's kickAll does (every participant gets `RoomLeft { Ended }`). Idempotent:
/// with no live session (never started, already ended, or ended by a concurrent call) the count is 0 and nothing
/// happens.
pub async fn kick_all(State(state): State<AppState>, Ids(path): Ids<MeetingPath>) -> Result<Response, ApiError> {
    let (_, meeting) = find_meeting(&state, &path).await?;
    let outcome = state.hub.end_session(&meeting.id).await?;
    let kicked = outcome.map_or(0, |o| o.kicked_count);
    Ok(ok(KickedAll { action: KICK_ALL_ACTION, kicked_participants_count: kicked }))
}

/// `ActiveSessionKickAllParticipantsResponse.data`
#[derive(Serialize)]
struct KickedAll {
    action: &'static str,
    kicked_participants_count: u32,
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
        .run(move |db| db.find_participants(&meeting_id, &body.participant_ids, &body.custom_participant_ids))
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
