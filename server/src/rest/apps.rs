//! `/accounts/{account_id}/realtime/kit/apps` — SDK `realtime_kit.apps.post` and `.get`.

use super::{created, AccountPath, Body, Ids, Params};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::AppRow;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// Apps per page when `per_page` is not given, and the most one page may hold.
const DEFAULT_PER_PAGE: u64 = 20;
const MAX_PER_PAGE: u64 = 100;

/// `AppPostParams`
#[derive(Debug, Deserialize)]
pub struct CreateApp {
    pub name: String,
}

/// `AppGetParams`
#[derive(Debug, Deserialize)]
pub struct ListApps {
    pub page_no: Option<u64>,
    pub per_page: Option<u64>,
    pub search: Option<String>,
    pub sort_order: Option<SortOrder>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// `AppPostResponse.data.app` / `AppGetResponse.data[]`
fn app_json(app: &AppRow) -> Value {
    json!({ "id": app.id, "name": app.name, "created_at": app.created_at })
}

/// `POST .../apps {name}` → `201 {success, data: {app: {id, name, created_at}}}`. The app gets the default presets
/// `group_call_host` (may end the session for all) and `group_call_participant`.
pub async fn create(
    State(state): State<AppState>,
    Ids(path): Ids<AccountPath>,
    Body(body): Body<CreateApp>,
) -> Result<Response, ApiError> {
    let name = body.name.trim().to_owned();
    if name.is_empty() {
        return Err(ApiError::invalid("`name` must not be empty"));
    }
    let app = state.store.run(move |db| db.create_app(&path.account_id, &name)).await?;
    Ok(created(json!({ "app": app_json(&app) })))
}

/// `GET .../apps?page_no&per_page&search&sort_order` → `{success, data: [app], paging: {total_count, start_offset,
/// end_offset}}`, oldest first unless `sort_order=DESC`.
pub async fn list(
    State(state): State<AppState>,
    Ids(path): Ids<AccountPath>,
    Params(query): Params<ListApps>,
) -> Result<Response, ApiError> {
    let page_no = query.page_no.unwrap_or(1).max(1);
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE).clamp(1, MAX_PER_PAGE);
    let newest_first = query.sort_order == Some(SortOrder::Desc);
    let search = query.search.filter(|s| !s.is_empty());
    let page = state
        .store
        .run(move |db| db.list_apps(&path.account_id, search.as_deref(), newest_first, page_no, per_page))
        .await?;
    Ok(Json(json!({
        "success": true,
        "data": page.apps.iter().map(app_json).collect::<Vec<_>>(),
        "paging": {
            "total_count": page.total_count,
            "start_offset": page.start_offset,
            "end_offset": page.end_offset,
        },
    }))
    .into_response())
}
