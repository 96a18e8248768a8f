//! `/accounts/{account_id}/realtime/kit/{app_id}/sessions[/{session_id}[/participants]]` — SDK
//! `realtime_kit.sessions.get_sessions`, `.get_session_details` and `.get_session_participants`: the history of the
//! app's sessions, live ones included, kept in the store across restarts.

use super::{find_app, ok, ok_paged, query_time, AppPath, Ids, Paging, Params, SessionPath, SortOrder};
use crate::clock;
use crate::hub::LiveInfo;
use crate::rest::ApiError;
use crate::state::AppState;
use crate::store::{AttendanceRow, PageRequest, SessionFilter, SessionRow, SessionSort};
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};

/// `SessionGetSessionsParams` (`participants` is not supported and ignored).
#[derive(Debug, Deserialize)]
pub struct ListSessions {
    pub associated_id: Option<String>,
    pub page_no: Option<u64>,
    pub per_page: Option<u64>,
    pub search: Option<String>,
    pub status: Option<SessionStatus>,
    pub sort_by: Option<SessionSortBy>,
    pub sort_order: Option<SortOrder>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum SessionStatus {
    Live,
    Ended,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
pub enum SessionSortBy {
    #[serde(rename = "createdAt")]
    CreatedAt,
    #[serde(rename = "minutesConsumed")]
    MinutesConsumed,
}

/// `SessionGetSessionParticipantsParams`; only the arrival order is supported (`sort_by=joinedAt`).
#[derive(Debug, Deserialize)]
pub struct ListAttendance {
    pub page_no: Option<u64>,
    pub per_page: Option<u64>,
    pub sort_by: Option<AttendanceSortBy>,
    pub sort_order: Option<SortOrder>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
pub enum AttendanceSortBy {
    #[serde(rename = "joinedAt")]
    JoinedAt,
}

/// The session model shared by the active-session and history endpoints (`SessionGetSessionsResponse.data
/// .sessions[]`, `ActiveSessionGetActiveSessionResponse.data`), plus `reason`. `live` is the hub's view of a
/// session that is live now; the store's row says the rest.
#[derive(Serialize)]
pub struct SessionJson<'a> {
    pub id: &'a str,
    pub associated_id: &'a str,
    pub created_at: &'a str,
    pub updated_at: &'a str,
    pub started_at: &'a str,
    pub ended_at: Option<&'a str>,
    /// `LIVE` or `ENDED`.
    pub status: &'static str,
    pub live_participants: usize,
    pub max_concurrent_participants: usize,
    pub meeting_display_name: &'a str,
    pub minutes_consumed: f64,
    pub organization_id: &'a str,
    /// Always `meeting`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Always empty: this server has no breakout rooms.
    pub breakout_rooms: [(); 0],
    /// Not in the SDK model (it keeps unknown fields): why the session ended, as the `meeting.ended` webhook says
    /// it. Null while live.
    pub reason: Option<&'static str>,
}

pub fn session_json<'a>(
    session: &'a SessionRow,
    app_id: &'a str,
    title: Option<&'a str>,
    live: Option<&LiveInfo>,
) -> SessionJson<'a> {
    let (live_participants, peak) =
        live.map_or((0, session.peak_participants as usize), |info| (info.participants, info.peak));
    SessionJson {
        id: &session.id,
        associated_id: &session.meeting_id,
        created_at: &session.started_at,
        updated_at: session.ended_at.as_deref().unwrap_or(&session.started_at),
        started_at: &session.started_at,
        ended_at: session.ended_at.as_deref(),
        status: if session.is_live() { "LIVE" } else { "ENDED" },
        live_participants,
        max_concurrent_participants: peak,
        meeting_display_name: title.unwrap_or_default(),
        minutes_consumed: clock::minutes_between(&session.started_at, session.ended_at.as_deref()),
        organization_id: app_id,
        kind: "meeting",
        breakout_rooms: [],
        reason: session.end_reason.map(|r| r.as_str()),
    }
}

/// `SessionGetSessionParticipantsResponse.data.participants[]`: one stay of a participant in the session. `id` is
/// the stay (RealtimeKit's per-session peer id), `user_id` the participant; `duration` is in minutes.
#[derive(Serialize)]
struct AttendanceJson<'a> {
    id: &'a str,
    user_id: &'a str,
    custom_participant_id: &'a str,
    display_name: Option<&'a str>,
    preset_name: &'a str,
    joined_at: &'a str,
    left_at: Option<&'a str>,
    duration: f64,
    created_at: &'a str,
    updated_at: &'a str,
}

fn attendance_json(row: &AttendanceRow) -> AttendanceJson<'_> {
    AttendanceJson {
        id: &row.id,
        user_id: &row.participant_id,
        custom_participant_id: &row.custom_participant_id,
        display_name: row.name.as_deref(),
        preset_name: &row.preset_name,
        joined_at: &row.joined_at,
        left_at: row.left_at.as_deref(),
        duration: clock::minutes_between(&row.joined_at, row.left_at.as_deref()),
        created_at: &row.joined_at,
        updated_at: row.left_at.as_deref().unwrap_or(&row.joined_at),
    }
}

/// `SessionGetSessionsResponse.data`
#[derive(Serialize)]
struct Sessions<'a> {
    sessions: Vec<SessionJson<'a>>,
}

/// `SessionGetSessionParticipantsResponse.data`
#[derive(Serialize)]
struct Stays<'a> {
    participants: Vec<AttendanceJson<'a>>,
}

/// The row as the API shows it, with the hub's live counts if it is live.
async fn with_live<'a>(
    state: &AppState,
    app_id: &'a str,
    session: &'a SessionRow,
    title: Option<&'a str>,
) -> SessionJson<'a> {
    let live = match session.is_live() {
        true => state.hub.live_session(&session.meeting_id).await.filter(|info| info.session_id == session.id),
        false => None,
    };
    session_json(session, app_id, title, live.as_ref())
}

/// `GET .../sessions?associated_id&status&search&start_time&end_time&sort_by&sort_order&page_no&per_page` →
/// `{success, data: {sessions: [session]}, paging}`. Newest first unless `sort_order=ASC`; `associated_id` keeps one
/// meeting's sessions; the times bound `started_at`.
pub async fn list(
    State(state): State<AppState>,
    Ids(path): Ids<AppPath>,
    Params(query): Params<ListSessions>,
) -> Result<Response, ApiError> {
    let filter = SessionFilter {
        meeting_id: query.associated_id.filter(|id| !id.is_empty()),
        live: query.status.map(|status| status == SessionStatus::Live),
        search: query.search.filter(|s| !s.is_empty()),
        started_from: query_time("start_time", query.start_time)?,
        started_until: query_time("end_time", query.end_time)?,
    };
    let sort = SessionSort {
        by_minutes: query.sort_by == Some(SessionSortBy::MinutesConsumed),
        descending: query.sort_order != Some(SortOrder::Asc),
    };
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let page = PageRequest::new(query.page_no, query.per_page);
    let app_id = app.id.clone();
    let page = state.store.db().await?.list_sessions(&app_id, &filter, sort, page).await?;
    let mut sessions = Vec::with_capacity(page.items.len());
    for (session, title) in &page.items {
        sessions.push(with_live(&state, &app.id, session, title.as_deref()).await);
    }
    Ok(ok_paged(Sessions { sessions }, Paging::of(&page)))
}

/// `GET .../sessions/{session_id}` → `{success, data: session}`; 404 unless it is a session of the app's meetings.
pub async fn get(State(state): State<AppState>, Ids(path): Ids<SessionPath>) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let app_id = app.id.clone();
    let found = state.store.db().await?.session_of_app(&app_id, &path.session_id).await?;
    let (session, title) = found.ok_or_else(|| ApiError::not_found("session"))?;
    Ok(ok(with_live(&state, &app.id, &session, title.as_deref()).await))
}

/// `GET .../sessions/{session_id}/participants?page_no&per_page&sort_order` → `{success, data: {participants:
/// [stay]}, paging}`, by arrival (oldest first unless `sort_order=DESC`).
pub async fn participants(
    State(state): State<AppState>,
    Ids(path): Ids<SessionPath>,
    Params(query): Params<ListAttendance>,
) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let newest_first = query.sort_order == Some(SortOrder::Desc);
    let page = PageRequest::new(query.page_no, query.per_page);
    let mut db = state.store.db().await?;
    if db.session_of_app(&app.id, &path.session_id).await?.is_none() {
        return Err(ApiError::not_found("session"));
    }
    let page = db.list_attendance(&path.session_id, newest_first, page).await?;
    drop(db);
    let participants = page.items.iter().map(attendance_json).collect();
    Ok(ok_paged(Stays { participants }, Paging::of(&page)))
}
