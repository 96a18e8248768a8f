//! `/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/active-session[/kick-all]` — SDK
//! `realtime_kit.active_session.get_active_session` and `.kick_all_participants`.

use super::{find_meeting, ok, Ids, MeetingPath};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::MeetingRow;
use crate::{clock, store::SessionRow};
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};

/// The `action` of a kick-all answer.
pub const KICK_ALL_ACTION: &str = "kick_all";

/// `ActiveSessionGetActiveSessionResponse.data`, plus `reason`. `live` is (participants, peak) of a live session in the hub.
fn session_json(meeting: &MeetingRow, session: &SessionRow, live: Option<(usize, usize)>) -> Value {
    let (live_participants, peak) = live.unwrap_or((0, session.peak_participants as usize));
    json!({
        "id": session.id,
        "associated_id": meeting.id,
        "created_at": session.started_at,
        "updated_at": session.ended_at.as_deref().unwrap_or(&session.started_at),
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "status": if session.is_live() { "LIVE" } else { "ENDED" },
        "live_participants": live_participants,
        "max_concurrent_participants": peak,
        "meeting_display_name": meeting.title.clone().unwrap_or_default(),
        "minutes_consumed": clock::minutes_between(&session.started_at, session.ended_at.as_deref()),
        "organization_id": meeting.app_id,
        "type": "meeting",
        "breakout_rooms": [],
        // Not in the SDK model (it ignores unknown fields): why the session ended, as the `meeting.ended` webhook
        // says it. Null while live.
        "reason": session.end_reason.map(|r| r.as_str()),
    })
}

/// `GET .../active-session` → `{success, data: session}`: the live session, else the most recent one with
/// `status: "ENDED"` (so a backend can see that and why it ended); 404 if the meeting never had one.
pub async fn get(State(state): State<AppState>, Ids(path): Ids<MeetingPath>) -> Result<Response, ApiError> {
    let (_, meeting) = find_meeting(&state, &path).await?;
    if let Some(live) = state.hub.live_session(&meeting.id).await {
        let session = SessionRow {
            id: live.session_id,
            meeting_id: meeting.id.clone(),
            started_at: live.started_at,
            ended_at: None,
            end_reason: None,
            peak_participants: live.peak as u32,
            kicked_count: None,
        };
        return Ok(ok(session_json(&meeting, &session, Some((live.participants, live.peak)))));
    }
    let meeting_id = meeting.id.clone();
    let latest = state.store.run(move |db| db.latest_session(&meeting_id)).await?;
    let session = latest.ok_or_else(|| ApiError::not_found("active session"))?;
    Ok(ok(session_json(&meeting, &session, None)))
}

/// `POST .../active-session/kick-all` (no body) → `{success, data: {action: "kick_all", kicked_participants_count}}`.
/// Ends the live session exactly as a host's kickAll does (every participant gets `RoomLeft { Ended }`). Idempotent:
/// with no live session (never started, already ended, or ended by a concurrent call) the count is 0 and nothing
/// happens.
pub async fn kick_all(State(state): State<AppState>, Ids(path): Ids<MeetingPath>) -> Result<Response, ApiError> {
    let (_, meeting) = find_meeting(&state, &path).await?;
    let outcome = state.hub.end_session(&meeting.id).await?;
    let kicked = outcome.map_or(0, |o| o.kicked_count);
    Ok(ok(json!({ "action": KICK_ALL_ACTION, "kicked_participants_count": kicked })))
}
