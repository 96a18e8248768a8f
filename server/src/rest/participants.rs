//! `/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/participants[/{participant_id}[/token]]` —
//! SDK `realtime_kit.meetings.add_participant`, `.get_meeting_participants`, `.get_meeting_participant`,
//! `.edit_participant`, `.delete_meeting_participant` and `.refresh_participant_token`.

use super::{created, find_meeting, non_empty, ok, paged, Body, Ids, MeetingPath, Params, ParticipantPath};
use crate::rest::ApiError;
use crate::state::AppState;
use crate::store::{PageRequest, ParticipantRow};
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};

/// `MeetingAddParticipantParams`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddParticipant {
    pub custom_participant_id: String,
    pub preset_name: String,
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// `MeetingEditParticipantParams`: every field optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditParticipant {
    pub preset_name: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// `MeetingGetMeetingParticipantsParams`
#[derive(Debug, Deserialize)]
pub struct ListParticipants {
    pub page_no: Option<u64>,
    pub per_page: Option<u64>,
}

/// The participant model (`MeetingGetMeetingParticipantResponse.data`).
#[derive(Serialize)]
pub struct ParticipantJson<'a> {
    pub id: &'a str,
    pub custom_participant_id: &'a str,
    pub preset_name: &'a str,
    pub name: Option<&'a str>,
    pub picture: Option<&'a str>,
    pub created_at: &'a str,
    pub updated_at: &'a str,
}

pub fn participant_json(row: &ParticipantRow) -> ParticipantJson<'_> {
    ParticipantJson {
        id: &row.id,
        custom_participant_id: &row.custom_participant_id,
        preset_name: &row.preset_name,
        name: row.name.as_deref(),
        picture: row.picture.as_deref(),
        created_at: &row.created_at,
        updated_at: &row.updated_at,
    }
}

/// The participant model with a fresh token (`MeetingAddParticipantResponse.data`,
/// `MeetingEditParticipantResponse.data`).
#[derive(Serialize)]
struct WithToken<'a> {
    #[serde(flatten)]
    participant: ParticipantJson<'a>,
    token: String,
}

/// `MeetingDeleteMeetingParticipantResponse.data`: the participant as it was, and its preset's id (null if that
/// preset is gone too).
#[derive(Serialize)]
struct Deleted<'a> {
    #[serde(flatten)]
    participant: ParticipantJson<'a>,
    preset_id: Option<String>,
}

/// `MeetingRefreshParticipantTokenResponse.data`
#[derive(Serialize)]
struct Token {
    token: String,
}

/// A new participant token at the participant's current token version: what the browser sends in its `join` frame.
/// It expires after `--participant-token-ttl-secs` (see [`crate::token`]).
fn token(state: &AppState, account_id: &str, app_id: &str, row: &ParticipantRow) -> String {
    let claims = state.tokens.claims(account_id, app_id, &row.meeting_id, &row.id, &row.preset_name, row.token_version);
    state.tokens.issue(&claims)
}

/// [`WithToken`]
fn with_token<'a>(state: &AppState, account_id: &str, app_id: &str, row: &'a ParticipantRow) -> WithToken<'a> {
    WithToken { participant: participant_json(row), token: token(state, account_id, app_id, row) }
}

fn unknown_preset(name: &str) -> ApiError {
    ApiError::invalid(format!("preset `{name}` does not exist in this app"))
}

/// `POST .../participants {custom_participant_id, preset_name, name?, picture?}` → `201 {success, data: participant
/// with token}`. The token is what the browser sends in its `join` frame.
pub async fn add(
    State(state): State<AppState>,
    Ids(path): Ids<MeetingPath>,
    Body(body): Body<AddParticipant>,
) -> Result<Response, ApiError> {
    let (app, meeting) = find_meeting(&state, &path).await?;
    non_empty("custom_participant_id", &body.custom_participant_id)?;
    let app_id = app.id.clone();
    let mut db = state.store.db().await?;
    if db.preset(&app_id, &body.preset_name).await?.is_none() {
        return Err(unknown_preset(&body.preset_name));
    }
    let added = db
        .add_participant(
            &meeting.id,
            &body.custom_participant_id,
            &body.preset_name,
            body.name.as_deref(),
            body.picture.as_deref(),
        )
        .await?;
    drop(db);
    Ok(created(with_token(&state, &path.account_id, &app.id, &added)))
}

/// `GET .../participants?page_no&per_page` → `{success, data: [participant], paging}`, in the order they were added.
pub async fn list(
    State(state): State<AppState>,
    Ids(path): Ids<MeetingPath>,
    Params(query): Params<ListParticipants>,
) -> Result<Response, ApiError> {
    let (_, meeting) = find_meeting(&state, &path).await?;
    let page = PageRequest::new(query.page_no, query.per_page);
    let page = state.store.db().await?.list_participants(&meeting.id, page).await?;
    Ok(paged(&page, participant_json))
}

/// `GET .../participants/{participant_id}` → `{success, data: participant}` (no token: see refresh).
pub async fn get(State(state): State<AppState>, Ids(path): Ids<ParticipantPath>) -> Result<Response, ApiError> {
    let (_, meeting) = find_meeting(&state, &path.meeting()).await?;
    let row = state.store.db().await?.participant(&meeting.id, &path.participant_id).await?;
    Ok(ok(participant_json(&row.ok_or_else(|| ApiError::not_found("participant"))?)))
}

/// `PATCH .../participants/{participant_id} {preset_name?, name?, picture?}` → `{success, data: participant with a
/// new token}`. A new preset is pushed to the participant's live connections (`PermissionsUpdate`) and enforced at
/// once.
pub async fn edit(
    State(state): State<AppState>,
    Ids(path): Ids<ParticipantPath>,
    Body(body): Body<EditParticipant>,
) -> Result<Response, ApiError> {
    let (app, meeting) = find_meeting(&state, &path.meeting()).await?;
    let (app_id, meeting_id, participant_id) = (app.id.clone(), meeting.id.clone(), path.participant_id);
    let mut db = state.store.db().await?;
    let preset = match &body.preset_name {
        Some(name) => Some(db.preset(&app_id, name).await?.ok_or_else(|| unknown_preset(name))?),
        None => None,
    };
    let row = db
        .update_participant(
            &meeting_id,
            &participant_id,
            body.preset_name.as_deref(),
            body.name.as_deref(),
            body.picture.as_deref(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("participant"))?;
    drop(db);
    if let Some(preset) = preset {
        // After the store write: a join running now either read the new preset or is admitted before this update.
        state.hub.update_permissions(&meeting.id, &row.id, &preset.name, preset.permissions()).await;
    }
    Ok(ok(with_token(&state, &path.account_id, &app.id, &row)))
}

/// `DELETE .../participants/{participant_id}` → `{success, data: {id, custom_participant_id, preset_id, preset_name,
/// name, picture, created_at, updated_at}}`. A connected participant is removed from the live session at once
/// (`RoomLeft { kicked }`, an emptied session ends) and its tokens stop working.
pub async fn delete(State(state): State<AppState>, Ids(path): Ids<ParticipantPath>) -> Result<Response, ApiError> {
    let (app, meeting) = find_meeting(&state, &path.meeting()).await?;
    let meeting_id = meeting.id.clone();
    let mut db = state.store.db().await?;
    let row = db
        .delete_participant(&meeting_id, &path.participant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("participant"))?;
    // A preset deleted meanwhile has no id to give: null, as the participant has no preset any more.
    let preset_id = db.preset(&app.id, &row.preset_name).await?.map(|preset| preset.id);
    drop(db);
    // After the delete: a join racing it either read the participant and is kicked now, or finds it gone.
    state.hub.kick(&meeting.id, std::slice::from_ref(&row.id)).await;
    Ok(ok(Deleted { participant: participant_json(&row), preset_id }))
}

/// `POST .../participants/{participant_id}/token` (no body) → `{success, data: {token}}`: a new token for the
/// participant, different from every earlier one (it carries a newly raised token version), with a full lifetime.
/// Earlier tokens stop joining; connections already in the session stay.
pub async fn refresh_token(
    State(state): State<AppState>,
    Ids(path): Ids<ParticipantPath>,
) -> Result<Response, ApiError> {
    let (app, meeting) = find_meeting(&state, &path.meeting()).await?;
    let row = state.store.db().await?.bump_token_version(&meeting.id, &path.participant_id).await?;
    let row = row.ok_or_else(|| ApiError::not_found("participant"))?;
    Ok(ok(Token { token: token(&state, &path.account_id, &app.id, &row) }))
}
