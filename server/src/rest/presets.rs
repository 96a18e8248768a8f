//! `/accounts/{account_id}/realtime/kit/{app_id}/presets[/{preset_id}]` — SDK `realtime_kit.presets.create`, `.get`,
//! `.get_preset_by_id`, `.update`, `.replace_preset_by_id` and `.delete`.
//!
//! Bodies are checked against [`schema`] (the SDK's preset model) before anything is stored. A change that reaches
//! `permissions` is pushed to the participants connected with the preset, in every live session of the app.

use super::{created, find_app, non_empty, ok, paged, AppPath, Body, Ids, Params, PresetPath};
use crate::presets::schema::{self, Mode};
use crate::rest::ApiError;
use crate::state::AppState;
use crate::store::{PageRequest, PresetConflict, PresetRow};
use axum::extract::State;
use axum::response::Response;
use endsession_protocol::Permissions;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `PresetGetParams`
#[derive(Debug, Deserialize)]
pub struct ListPresets {
    pub page_no: Option<u64>,
    pub per_page: Option<u64>,
    pub search: Option<String>,
}

/// The whole preset (`PresetGetPresetByIDResponse.data` and the answers of every write).
/// Its `config`, `permissions` and `ui` are the stored document's (checked against the schema when written, so it
/// holds none of the summary's names).
#[derive(Serialize)]
struct PresetJson<'a> {
    #[serde(flatten)]
    summary: Summary<'a>,
    #[serde(flatten)]
    document: Option<&'a Map<String, Value>>,
}

fn preset_json(preset: &PresetRow) -> PresetJson<'_> {
    PresetJson { summary: summary_json(preset), document: preset.document.as_object() }
}

/// A list item (`PresetGetResponse.data[]`): the preset without its document.
#[derive(Serialize)]
struct Summary<'a> {
    id: &'a str,
    name: &'a str,
    created_at: &'a str,
    updated_at: &'a str,
}

fn summary_json(preset: &PresetRow) -> Summary<'_> {
    Summary { id: &preset.id, name: &preset.name, created_at: &preset.created_at, updated_at: &preset.updated_at }
}

/// A checked body split into the name (if sent, non-empty) and the document parts it sends.
fn split_body(body: Value, mode: Mode) -> Result<(Option<String>, Map<String, Value>), ApiError> {
    schema::check(&body, mode).map_err(ApiError::bad_body)?;
    let Value::Object(mut parts) = body else { unreachable!("checked to be an object") };
    let name = match parts.remove("name") {
        Some(Value::String(name)) => Some(non_empty("name", &name)?),
        _ => None,
    };
    Ok((name, parts))
}

fn conflict(PresetConflict::NameTaken(name): PresetConflict) -> ApiError {
    ApiError::conflict(format!("a preset named `{name}` already exists in this app: preset names are unique"))
}

/// Pushes a preset's permissions, under its (new) name, to its participants in the app's live sessions.
async fn push(state: &AppState, meetings: Vec<String>, old_name: &str, new_name: &str, permissions: Permissions) {
    for meeting_id in meetings {
        state.hub.update_preset(&meeting_id, old_name, new_name, permissions).await;
    }
}

/// `POST .../presets {name, config, permissions, ui}` → `201 {success, data: preset}`; 409 if the name is taken.
pub async fn create(
    State(state): State<AppState>,
    Ids(path): Ids<AppPath>,
    Body(body): Body<Value>,
) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let (name, document) = split_body(body, Mode::Complete)?;
    let name = name.expect("a complete body has a name");
    let mut db = state.store.db().await?;
    let made = db.create_preset(&app.id, &name, Value::Object(document)).await?;
    let live = db.live_meetings_of_app(&app.id).await?;
    drop(db);
    let made = made.map_err(conflict)?;
    // Participants may still carry this name (its preset was deleted, or renamed away): it applies to them again.
    push(&state, live, &made.name, &made.name, made.permissions()).await;
    Ok(created(preset_json(&made)))
}

/// `GET .../presets?page_no&per_page&search` → `{success, data: [{id, name, created_at, updated_at}], paging}`,
/// oldest first.
pub async fn list(
    State(state): State<AppState>,
    Ids(path): Ids<AppPath>,
    Params(query): Params<ListPresets>,
) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let page = PageRequest::new(query.page_no, query.per_page);
    let search = query.search.filter(|s| !s.is_empty());
    let page = state.store.db().await?.list_presets(&app.id, search.as_deref(), page).await?;
    Ok(paged(&page, summary_json))
}

/// `GET .../presets/{preset_id}` → `{success, data: preset}`.
pub async fn get(State(state): State<AppState>, Ids(path): Ids<PresetPath>) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let preset = state.store.db().await?.preset_by_id(&app.id, &path.preset_id).await?;
    Ok(ok(preset_json(&preset.ok_or_else(|| ApiError::not_found("preset"))?)))
}

/// Applies a checked body to the stored preset: merged into it (PATCH) or replacing it (PUT). Renames carry over
/// to the participants; the new permissions reach the connected ones.
async fn change(state: &AppState, path: PresetPath, body: Value, mode: Mode) -> Result<Response, ApiError> {
    let app = find_app(state, &path.account_id, &path.app_id).await?;
    let (name, parts) = split_body(body, mode)?;
    let app_id = app.id.clone();
    let mut db = state.store.db().await?;
    let Some(old) = db.preset_by_id(&app_id, &path.preset_id).await? else {
        return Err(ApiError::not_found("preset"));
    };
    let mut document = if mode == Mode::Complete { Value::Object(Map::new()) } else { old.document.clone() };
    schema::merge(&mut document, &Value::Object(parts));
    let new = PresetRow { name: name.unwrap_or_else(|| old.name.clone()), document, ..old.clone() };
    let saved = db.save_preset(&new).await?.map_err(conflict)?;
    let live = db.live_meetings_of_app(&app_id).await?;
    drop(db);
    if old.permissions() != saved.permissions() || old.name != saved.name {
        push(state, live.clone(), &old.name, &saved.name, saved.permissions()).await;
    }
    if old.name != saved.name {
        // Renamed onto a name participants may still carry (its preset was deleted): it applies to them too.
        push(state, live, &saved.name, &saved.name, saved.permissions()).await;
    }
    Ok(ok(preset_json(&saved)))
}

/// `PATCH .../presets/{preset_id} {name?, config?, permissions?, ui?}` → `{success, data: preset}`. Partial: nested
/// objects merge field by field, so `{"permissions": {"kick_participant": true}}` changes that one permission.
pub async fn update(
    State(state): State<AppState>,
    Ids(path): Ids<PresetPath>,
    Body(body): Body<Value>,
) -> Result<Response, ApiError> {
    change(&state, path, body, Mode::Partial).await
}

/// `PUT .../presets/{preset_id} {name, config, permissions, ui}` → `{success, data: preset}`: the whole preset is
/// replaced; id and `created_at` stay.
pub async fn replace(
    State(state): State<AppState>,
    Ids(path): Ids<PresetPath>,
    Body(body): Body<Value>,
) -> Result<Response, ApiError> {
    change(&state, path, body, Mode::Complete).await
}

/// `DELETE .../presets/{preset_id}` → `{success, data: the deleted preset}`. Participants that had it keep its name
/// and lose its permissions (connected ones are told at once); a preset created later with that name applies to
/// them again.
pub async fn delete(State(state): State<AppState>, Ids(path): Ids<PresetPath>) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let mut db = state.store.db().await?;
    let preset = db.delete_preset(&app.id, &path.preset_id).await?.ok_or_else(|| ApiError::not_found("preset"))?;
    let live = db.live_meetings_of_app(&app.id).await?;
    drop(db);
    push(&state, live, &preset.name, &preset.name, Permissions::default()).await;
    Ok(ok(preset_json(&preset)))
}
