//! The RealtimeKit-shaped REST API under `/client/v4/accounts/{account_id}/realtime/kit`.
//!
//! Paths, bodies and response models follow the official `cloudflare` SDK (PyPI 5.9.0,
//! `cloudflare/resources/realtime_kit`, `cloudflare/types/realtime_kit`). Success is `{"success": true, "data": ...}`;
//! errors are [`ApiError`]. One module per resource, one handler per route.

pub mod active_session;
pub mod apps;
pub mod auth;
pub mod dev;
pub mod dev_sink;
pub mod error;
pub mod meetings;
pub mod participants;
pub mod presets;
pub mod sessions;
pub mod webhooks;

mod body;

pub use body::Body;
pub use error::ApiError;

use crate::state::AppState;
use crate::store::{AppRow, MeetingRow, Page};
use axum::extract::FromRequestParts;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// Largest request body accepted; bigger ones get 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Query parameters, rejected as [`ApiError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Params<T>(pub T);

/// Path parameters, rejected as [`ApiError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Ids<T>(pub T);

#[derive(Debug, Deserialize)]
pub struct AccountPath {
    pub account_id: String,
}

#[derive(Debug, Deserialize)]
pub struct AppPath {
    pub account_id: String,
    pub app_id: String,
}

#[derive(Debug, Deserialize)]
pub struct MeetingPath {
    pub account_id: String,
    pub app_id: String,
    pub meeting_id: String,
}

#[derive(Debug, Deserialize)]
pub struct ParticipantPath {
    pub account_id: String,
    pub app_id: String,
    pub meeting_id: String,
    pub participant_id: String,
}

#[derive(Debug, Deserialize)]
pub struct PresetPath {
    pub account_id: String,
    pub app_id: String,
    pub preset_id: String,
}

#[derive(Debug, Deserialize)]
pub struct SessionPath {
    pub account_id: String,
    pub app_id: String,
    pub session_id: String,
}

#[derive(Debug, Deserialize)]
pub struct WebhookPath {
    pub account_id: String,
    pub app_id: String,
    pub webhook_id: String,
}

impl ParticipantPath {
    /// The meeting part of the path.
    pub fn meeting(&self) -> MeetingPath {
        MeetingPath {
            account_id: self.account_id.clone(),
            app_id: self.app_id.clone(),
            meeting_id: self.meeting_id.clone(),
        }
    }
}

/// Cloudflare's v4 success envelope: `{"success": true, "data": data}`, and `paging` on a list answer.
#[derive(Serialize)]
struct Envelope<T> {
    success: bool,
    data: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    paging: Option<Paging>,
}

/// RealtimeKit's `paging` object of a list answer.
#[derive(Serialize)]
pub struct Paging {
    pub total_count: u64,
    pub start_offset: u64,
    pub end_offset: u64,
}

impl Paging {
    pub fn of<T>(page: &Page<T>) -> Paging {
        Paging { total_count: page.total_count, start_offset: page.start_offset, end_offset: page.end_offset }
    }
}

/// `200 {"success": true, "data": data}`
pub fn ok(data: impl Serialize) -> Response {
    Json(Envelope { success: true, data, paging: None }).into_response()
}

/// `201 {"success": true, "data": data}`
pub fn created(data: impl Serialize) -> Response {
    (StatusCode::CREATED, ok(data)).into_response()
}

/// `sort_order` of the list endpoints.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// An ISO 8601 time from a query (`start_time`, `end_time`) as a stored timestamp; 400 naming it if it is not one.
pub fn query_time(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let parse = |text: String| {
        crate::clock::normalize(&text)
            .ok_or_else(|| ApiError::invalid(format!("`{name}` must be an ISO 8601 time such as 2026-11-22T10:00:00Z")))
    };
    value.map(parse).transpose()
}

/// `200 {"success": true, "data": data, "paging": paging}`: a list answer whose `data` is an object holding the list
/// (`{sessions: [...]}`).
pub fn ok_paged(data: impl Serialize, paging: Paging) -> Response {
    Json(Envelope { success: true, data, paging: Some(paging) }).into_response()
}

/// `200 {"success": true, "data": [items], "paging": {total_count, start_offset, end_offset}}`
pub fn paged<'a, T, J: Serialize>(page: &'a Page<T>, item: impl FnMut(&'a T) -> J) -> Response {
    ok_paged(page.items.iter().map(item).collect::<Vec<_>>(), Paging::of(page))
}

/// A text field that must hold something: trimmed, or 400 naming the field.
pub fn non_empty(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(format!("`{field}` must not be empty")));
    }
    Ok(value.to_owned())
}

/// The app and meeting named by the path, both belonging to the account; 404 otherwise.
pub async fn find_meeting(state: &AppState, path: &MeetingPath) -> Result<(AppRow, MeetingRow), ApiError> {
    let (account, app_id, meeting_id) = (path.account_id.clone(), path.app_id.clone(), path.meeting_id.clone());
    let mut db = state.store.db().await?;
    let app = db.app(&account, &app_id).await?.ok_or_else(|| ApiError::not_found("app"))?;
    let meeting = db.meeting(&app.id, &meeting_id).await?.ok_or_else(|| ApiError::not_found("meeting"))?;
    Ok((app, meeting))
}

/// The app named by the path, belonging to the account; 404 otherwise.
pub async fn find_app(state: &AppState, account_id: &str, app_id: &str) -> Result<AppRow, ApiError> {
    let (account, app) = (account_id.to_owned(), app_id.to_owned());
    state.store.db().await?.app(&account, &app).await?.ok_or_else(|| ApiError::not_found("app"))
}

/// A known path with a method it does not serve.
pub async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(method.as_str(), uri.path())
}

/// Any other path under `/client/v4`.
pub async fn no_route(uri: Uri) -> ApiError {
    ApiError::no_route(uri.path())
}
