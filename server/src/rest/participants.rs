//! `/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/participants[/{participant_id}]` — SDK
//! `realtime_kit.meetings.add_participant` and `.edit_participant`.

use super::{created, find_meeting, ok, Body, Ids, MeetingPath, ParticipantPath};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::ParticipantRow;
use crate::token::{now_seconds, ParticipantClaims};
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

/// `MeetingAddParticipantParams`
#[derive(Debug, Deserialize)]
pub struct AddParticipant {
    pub custom_participant_id: String,
    pub preset_name: String,
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// `MeetingEditParticipantParams`: every field optional.
#[derive(Debug, Deserialize)]
pub struct EditParticipant {
    pub preset_name: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// The participant model with a fresh token (`MeetingAddParticipantResponse.data`,
/// `MeetingEditParticipantResponse.data`).
fn participant_json(state: &AppState, account_id: &str, app_id: &str, row: &ParticipantRow) -> Value {
    let token = state.tokens.issue(&ParticipantClaims {
        sub: row.id.clone(),
        account_id: account_id.into(),
        app_id: app_id.into(),
        meeting_id: row.meeting_id.clone(),
        preset_name: row.preset_name.clone(),
        iat: now_seconds(),
    });
    json!({
        "id": row.id,
        "token": token,
        "custom_participant_id": row.custom_participant_id,
        "preset_name": row.preset_name,
        "name": row.name,
        "picture": row.picture,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    })
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
    if body.custom_participant_id.trim().is_empty() {
        return Err(ApiError::invalid("`custom_participant_id` must not be empty"));
    }
    let app_id = app.id.clone();
    let added = state
        .store
        .run(move |db| {
            if db.preset(&app_id, &body.preset_name)?.is_none() {
                return Ok(Err(unknown_preset(&body.preset_name)));
            }
            let row = db.add_participant(
                &meeting.id,
                &body.custom_participant_id,
                &body.preset_name,
                body.name.as_deref(),
                body.picture.as_deref(),
            )?;
            Ok(Ok(row))
        })
        .await??;
    Ok(created(participant_json(&state, &path.account_id, &app.id, &added)))
}

/// `PATCH .../participants/{participant_id} {preset_name?, name?, picture?}` → `{success, data: participant with a
/// new token}`. A new preset is pushed to the participant's live connections (`PermissionsUpdate`) and enforced at
/// once.
pub async fn edit(
    State(state): State<AppState>,
    Ids(path): Ids<ParticipantPath>,
    Body(body): Body<EditParticipant>,
) -> Result<Response, ApiError> {
    let meeting_path =
        MeetingPath { account_id: path.account_id.clone(), app_id: path.app_id.clone(), meeting_id: path.meeting_id };
    let (app, meeting) = find_meeting(&state, &meeting_path).await?;
    let (app_id, meeting_id, participant_id) = (app.id.clone(), meeting.id.clone(), path.participant_id);
    let updated = state
        .store
        .run(move |db| {
            let preset = match &body.preset_name {
                Some(name) => match db.preset(&app_id, name)? {
                    Some(preset) => Some(preset),
                    None => return Ok(Err(unknown_preset(name))),
                },
                None => None,
            };
            let row = db.update_participant(
                &meeting_id,
                &participant_id,
                body.preset_name.as_deref(),
                body.name.as_deref(),
                body.picture.as_deref(),
            )?;
            Ok(row.map(|row| (row, preset)).ok_or_else(|| ApiError::not_found("participant")))
        })
        .await??;
    let (row, preset) = updated;
    if let Some(preset) = preset {
        // After the store write: a join running now either read the new preset or is admitted before this update.
        state.hub.update_permissions(&meeting.id, &row.id, &preset.name, preset.permissions()).await;
    }
    Ok(ok(participant_json(&state, &path.account_id, &app.id, &row)))
}
