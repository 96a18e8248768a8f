//! `/accounts/{account_id}/realtime/kit/{app_id}/meetings[/{meeting_id}]` — SDK `realtime_kit.meetings.create`,
//! `.get`, `.get_meeting_by_id`, `.update_meeting_by_id` and `.replace_meeting_by_id`.
//!
//! `status: INACTIVE` is only a flag here: the join refuses new participants (see the hub); a live session goes on.

use super::{created, find_app, find_meeting, ok, paged, query_time, AppPath, Body, Ids, MeetingPath, Params};
use crate::rest::ApiError;
use crate::state::AppState;
use crate::store::{
    MeetingFilter, MeetingRow, MeetingStatus, PageRequest, KEEP_ALIVE_SETTING, MAX_KEEP_ALIVE_SECS, MAX_NO_HOST_SECS,
    NO_HOST_SETTING,
};
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `MeetingCreateParams`, `MeetingReplaceMeetingByIDParams` and `MeetingUpdateMeetingByIDParams` (which alone may
/// carry `status`). The optional settings are stored as given (title and status aside) and echoed back; this
/// server does not record or transcribe, so they change nothing else. One flat struct, not `#[serde(flatten)]`, so
/// that a wrong type is reported with the field's name; unknown fields are refused, so a misspelled field in a
/// PATCH is an error rather than a silent no-op.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingBody {
    #[serde(skip_serializing)]
    pub title: Option<String>,
    #[serde(skip_serializing)]
    pub status: Option<MeetingStatus>,
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
    /// An extension of ours: see [`NO_HOST_SETTING`]. Whole seconds from 0 (never) to a day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_when_no_host_after_secs: Option<u64>,
}

/// The meeting model (`MeetingCreateResponse.data`, `MeetingGetMeetingByIDResponse.data`): the settings the meeting
/// was given (stored as [`MeetingBody`] sent them, so these are all there can be) over RealtimeKit's defaults.
#[derive(Serialize)]
pub struct MeetingJson<'a> {
    pub id: &'a str,
    pub title: Option<&'a str>,
    pub status: &'static str,
    pub created_at: &'a str,
    pub updated_at: &'a str,
    pub record_on_start: &'a Value,
    pub live_stream_on_start: &'a Value,
    pub persist_chat: &'a Value,
    pub summarize_on_end: &'a Value,
    pub transcribe_on_end: &'a Value,
    /// Unset means 0 here: the session ends when its last participant leaves (RealtimeKit's default is 60; set it
    /// for that). See `MeetingRow::session_keep_alive`.
    #[serde(serialize_with = "zero_if_unset")]
    pub session_keep_alive_time_in_secs: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_config: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_config: Option<&'a Value>,
    /// Ours: 0 (never) unless set; see `MeetingRow::end_when_no_host_after`.
    #[serde(serialize_with = "zero_if_unset")]
    pub end_when_no_host_after_secs: Option<&'a Value>,
}

/// The default of the on/off settings.
static OFF: Value = Value::Bool(false);

fn zero_if_unset<S: serde::Serializer>(value: &Option<&Value>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => value.serialize(serializer),
        None => serializer.serialize_u8(0),
    }
}

pub fn meeting_json(meeting: &MeetingRow) -> MeetingJson<'_> {
    let setting = |name: &str| meeting.settings.get(name);
    let switch = |name: &str| setting(name).unwrap_or(&OFF);
    MeetingJson {
        id: &meeting.id,
        title: meeting.title.as_deref(),
        status: meeting.status.as_str(),
        created_at: &meeting.created_at,
        updated_at: &meeting.updated_at,
        record_on_start: switch("record_on_start"),
        live_stream_on_start: switch("live_stream_on_start"),
        persist_chat: switch("persist_chat"),
        summarize_on_end: switch("summarize_on_end"),
        transcribe_on_end: switch("transcribe_on_end"),
        session_keep_alive_time_in_secs: setting(KEEP_ALIVE_SETTING),
        ai_config: setting("ai_config"),
        recording_config: setting("recording_config"),
        end_when_no_host_after_secs: setting(NO_HOST_SETTING),
    }
}

impl MeetingBody {
    /// The settings this body sends (the fields that are neither title nor status). A keep-alive must be a number
    /// of seconds from 0 to a day; `end_when_no_host_after_secs` whole seconds from 0 to a day.
    fn settings(&self) -> Result<Map<String, Value>, ApiError> {
        if let Some(secs) = self.session_keep_alive_time_in_secs {
            if !(0.0..=MAX_KEEP_ALIVE_SECS).contains(&secs) {
                return Err(ApiError::bad_body(format!(
                    "`{KEEP_ALIVE_SETTING}` must be a number of seconds from 0 to {MAX_KEEP_ALIVE_SECS}, got {secs}"
                )));
            }
        }
        if let Some(secs) = self.end_when_no_host_after_secs {
            if secs > MAX_NO_HOST_SECS {
                return Err(ApiError::bad_body(format!(
                    "`{NO_HOST_SETTING}` must be a whole number of seconds from 0 (never) to {MAX_NO_HOST_SECS}, got {secs}"
                )));
            }
        }
        match serde_json::to_value(self).map_err(ApiError::internal)? {
            Value::Object(settings) => Ok(settings),
            _ => Ok(Map::new()),
        }
    }

    /// Create and replace take no `status` (the SDK's params have none): it changes only by PATCH.
    fn refuse_status(&self, what: &str) -> Result<(), ApiError> {
        match self.status {
            Some(_) => Err(ApiError::bad_body(format!(
                "unknown field `status` when {what} a meeting: new meetings are ACTIVE; PATCH the meeting to change it"
            ))),
            None => Ok(()),
        }
    }
}

/// `MeetingGetParams`
#[derive(Debug, Deserialize)]
pub struct ListMeetings {
    pub page_no: Option<u64>,
    pub per_page: Option<u64>,
    pub search: Option<String>,
    pub status: Option<MeetingStatus>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
}

/// `POST .../{app_id}/meetings` → `201 {success, data: meeting}` with `status: "ACTIVE"`.
pub async fn create(
    State(state): State<AppState>,
    Ids(path): Ids<AppPath>,
    Body(body): Body<MeetingBody>,
) -> Result<Response, ApiError> {
    body.refuse_status("creating")?;
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let settings = body.settings()?;
    let title = body.title;
    let meeting = state.store.db().await?.create_meeting(&app.id, title.as_deref(), settings).await?;
    Ok(created(meeting_json(&meeting)))
}

/// `GET .../{app_id}/meetings?page_no&per_page&search&status&start_time&end_time` → `{success, data: [meeting],
/// paging}`, oldest first. `search` matches part of the title or the whole id; the times bound `created_at`.
pub async fn list(
    State(state): State<AppState>,
    Ids(path): Ids<AppPath>,
    Params(query): Params<ListMeetings>,
) -> Result<Response, ApiError> {
    let filter = MeetingFilter {
        search: query.search.filter(|s| !s.is_empty()),
        status: query.status,
        created_from: query_time("start_time", query.start_time)?,
        created_until: query_time("end_time", query.end_time)?,
    };
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let page = PageRequest::new(query.page_no, query.per_page);
    let page = state.store.db().await?.list_meetings(&app.id, &filter, page).await?;
    Ok(paged(&page, meeting_json))
}

/// `GET .../{app_id}/meetings/{meeting_id}` → `{success, data: meeting}`.
pub async fn get(State(state): State<AppState>, Ids(path): Ids<MeetingPath>) -> Result<Response, ApiError> {
    let (_, meeting) = find_meeting(&state, &path).await?;
    Ok(ok(meeting_json(&meeting)))
}

/// Reads the meeting, changes it with `edit` and writes it back, in one write transaction so that concurrent
/// changes do not lose each other's fields.
async fn change(
    state: &AppState,
    path: &MeetingPath,
    edit: impl FnOnce(&mut MeetingRow) + Send + 'static,
) -> Result<Response, ApiError> {
    let (app, meeting) = find_meeting(state, path).await?;
    let mut tx = state.store.begin().await?;
    let mut current = tx.meeting(&app.id, &meeting.id).await?.ok_or_else(|| ApiError::not_found("meeting"))?;
    edit(&mut current);
    let saved = tx.save_meeting(&current).await?;
    tx.commit().await?;
    Ok(ok(meeting_json(&saved.ok_or_else(|| ApiError::not_found("meeting"))?)))
}

/// `PATCH .../{app_id}/meetings/{meeting_id} {title?, status?, settings...}` → `{success, data: meeting}`. Only
/// the fields sent change (a null is as if not sent). `INACTIVE` refuses later joins and ends nothing; `ACTIVE`
/// again lets participants start a new session.
pub async fn update(
    State(state): State<AppState>,
    Ids(path): Ids<MeetingPath>,
    Body(body): Body<MeetingBody>,
) -> Result<Response, ApiError> {
    let settings = body.settings()?;
    change(&state, &path, move |meeting| {
        if let Some(title) = body.title {
            meeting.title = Some(title);
        }
        if let Some(status) = body.status {
            meeting.status = status;
        }
        meeting.settings.extend(settings);
    })
    .await
}

/// `PUT .../{app_id}/meetings/{meeting_id} {title?, settings...}` → `{success, data: meeting}`: title and settings
/// become exactly what is sent (the rest back to RealtimeKit's defaults); id, status and `created_at` stay.
pub async fn replace(
    State(state): State<AppState>,
    Ids(path): Ids<MeetingPath>,
    Body(body): Body<MeetingBody>,
) -> Result<Response, ApiError> {
    body.refuse_status("replacing")?;
    let settings = body.settings()?;
    change(&state, &path, move |meeting| {
        meeting.title = body.title;
        meeting.settings = settings;
    })
    .await
}
