//! `/accounts/{account_id}/realtime/kit/apps` — SDK `realtime_kit.apps.post` and `.get`.

use super::{created, non_empty, paged, AccountPath, Body, Ids, Params, SortOrder};
use crate::rest::ApiError;
use crate::state::AppState;
use crate::store::{AppRow, PageRequest};
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};

/// `AppPostParams`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// `AppPostResponse.data.app` / `AppGetResponse.data[]`
#[derive(Serialize)]
struct AppJson<'a> {
    id: &'a str,
    name: &'a str,
    created_at: &'a str,
}

fn app_json(app: &AppRow) -> AppJson<'_> {
    AppJson { id: &app.id, name: &app.name, created_at: &app.created_at }
}

/// `AppPostResponse.data`
#[derive(Serialize)]
struct AppCreated<'a> {
    app: AppJson<'a>,
}

/// `POST .../apps {name}` → `201 {success, data: {app: {id, name, created_at}}}`. The app gets the default presets
/// `group_call_host` (may end the session for all) and `group_call_participant`.
pub async fn create(
    State(state): State<AppState>,
    Ids(path): Ids<AccountPath>,
    Body(body): Body<CreateApp>,
) -> Result<Response, ApiError> {
    let name = non_empty("name", &body.name)?;
    let app = state.store.db().await?.create_app(&path.account_id, &name).await?;
    Ok(created(AppCreated { app: app_json(&app) }))
}

/// `GET .../apps?page_no&per_page&search&sort_order` → `{success, data: [app], paging: {total_count, start_offset,
/// end_offset}}`, oldest first unless `sort_order=DESC`.
pub async fn list(
    State(state): State<AppState>,
    Ids(path): Ids<AccountPath>,
    Params(query): Params<ListApps>,
) -> Result<Response, ApiError> {
    let page = PageRequest::new(query.page_no, query.per_page);
    let newest_first = query.sort_order == Some(SortOrder::Desc);
    let search = query.search.filter(|s| !s.is_empty());
    let page = state.store.db().await?.list_apps(&path.account_id, search.as_deref(), newest_first, page).await?;
    Ok(paged(&page, app_json))
}
