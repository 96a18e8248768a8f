//! `/accounts/{account_id}/realtime/kit/{app_id}/meetings[/{meeting_id}]` — SDK `realtime_kit.meetings.create` and
//! `.get_meeting_by_id`.

use super::{created, find_app, find_meeting, ok, AppPath, Body, Ids, MeetingPath};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::MeetingRow;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// `MeetingCreateParams`. The optional settings are stored as given (title aside) and echoed back; this server
/// does not record or transcribe, so they change nothing else. One flat struct, not `#[serde(flatten)]`, so that a
/// wrong type is reported with the field's name.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CreateMeeting {
    #[serde(skip_serializing)]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_on_start: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_stream_on_start: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persist_chat: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summarize_on_end: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcribe_on_end: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_keep_alive_time_in_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_config: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_config: Option<Map<String, Value>>,
}

/// The meeting model (`MeetingCreateResponse.data`, `MeetingGetMeetingByIDResponse.data`): the stored settings over
/// RealtimeKit's defaults.
pub fn meeting_json(meeting: &MeetingRow) -> Value {
    let mut data = json!({
        "id": meeting.id,
        "title": meeting.title,
        "status": meeting.status.as_str(),
        "created_at": meeting.created_at,
        "updated_at": meeting.updated_at,
        "record_on_start": false,
        "live_stream_on_start": false,
        "persist_chat": false,
        "summarize_on_end": false,
        "transcribe_on_end": false,
        "session_keep_alive_time_in_secs": 60,
    });
    let object = data.as_object_mut().expect("a JSON object");
    object.extend(meeting.settings.iter().map(|(key, value)| (key.clone(), value.clone())));
    data
}

/// `POST .../{app_id}/meetings` → `201 {success, data: meeting}` with `status: "ACTIVE"`.
pub async fn create(
    State(state): State<AppState>,
    Ids(path): Ids<AppPath>,
    Body(body): Body<CreateMeeting>,
) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let settings = match serde_json::to_value(&body).map_err(ApiError::internal)? {
        Value::Object(settings) => settings,
        _ => Map::new(),
    };
    let title = body.title;
    let meeting = state.store.run(move |db| db.create_meeting(&app.id, title.as_deref(), settings)).await?;
    Ok(created(meeting_json(&meeting)))
}

/// `GET .../{app_id}/meetings/{meeting_id}` → `{success, data: meeting}`.
pub async fn get(State(state): State<AppState>, Ids(path): Ids<MeetingPath>) -> Result<Response, ApiError> {
    let (_, meeting) = find_meeting(&state, &path).await?;
    Ok(ok(meeting_json(&meeting)))
}
