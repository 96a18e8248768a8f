//! `--dev`'s one route: what the demo page needs to join the seeded meeting (seeded by [`crate::dev`]).

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// `GET /dev/config.json` → `{accountId, appId, meetingId, apiToken, baseURI}`. `baseURI` is the origin the page
/// was loaded from (its Host header), so the demo works behind whatever address the browser used.
pub async fn config(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(seed) = state.dev.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let base_uri = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(|host| format!("http://{host}"))
        .or_else(|| seed.base_uri.get().cloned())
        .unwrap_or_default();
    Json(DevConfig {
        account_id: &seed.account_id,
        app_id: &seed.app_id,
        meeting_id: &seed.meeting_id,
        api_token: &seed.api_token,
        base_uri,
    })
    .into_response()
}

/// The answer of `/dev/config.json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DevConfig<'a> {
    account_id: &'a str,
    app_id: &'a str,
    meeting_id: &'a str,
    api_token: &'a str,
    #[serde(rename = "baseURI")]
    base_uri: String,
}
