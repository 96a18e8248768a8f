//! `/accounts/{account_id}/realtime/kit/{app_id}/webhooks[/{webhook_id}]` — SDK `realtime_kit.webhooks
//! .create_webhook`, `.get_webhooks`, `.get_webhook_by_id`, `.edit_webhook`, `.replace_webhook` and
//! `.delete_webhook`. Delivery (which reads these records when an event happens) is in `crate::webhooks`.
//!
//! Beyond RealtimeKit: each webhook's Standard Webhooks secret (`whsec_…`) is in the create answer as an extra
//! `secret` field and nowhere else; `POST .../webhooks/{webhook_id}/rotate-secret` makes a new one and shows it once.

use super::body::parse;
use super::{created, find_app, non_empty, ok, AppPath, Body, Ids, WebhookPath};
use crate::clock;
use crate::rest::ApiError;
use crate::state::AppState;
use crate::store::{WebhookEvent, WebhookRow, WebhookSecret};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `WebhookCreateWebhookParams` and `WebhookReplaceWebhookParams`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    pub name: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    /// A new (or replaced) webhook is enabled unless this says otherwise.
    pub enabled: Option<bool>,
}

/// `WebhookEditWebhookParams`: every field optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditWebhook {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<WebhookEvent>>,
    pub enabled: Option<bool>,
}

/// The webhook model (`WebhookGetWebhookByIDResponse.data` and the answers of every write).
#[derive(Serialize)]
struct WebhookJson<'a> {
    id: &'a str,
    name: &'a str,
    url: &'a str,
    events: &'a [WebhookEvent],
    enabled: bool,
    created_at: &'a str,
    updated_at: &'a str,
}

/// The webhook model and, once, its secret: the answers of create and rotate-secret.
#[derive(Serialize)]
struct WithSecret<'a> {
    #[serde(flatten)]
    webhook: WebhookJson<'a>,
    /// `whsec_` + base64 of the secret's bytes, as the `standardwebhooks` libraries take it.
    secret: String,
    /// rotate-secret only: until when (ISO 8601) deliveries are signed with the old secret too.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_expires_at: Option<String>,
}

fn webhook_json(webhook: &WebhookRow) -> WebhookJson<'_> {
    WebhookJson {
        id: &webhook.id,
        name: &webhook.name,
        url: &webhook.url,
        events: &webhook.events,
        enabled: webhook.enabled,
        created_at: &webhook.created_at,
        updated_at: &webhook.updated_at,
    }
}

/// An absolute `http(s)` URL: delivery will POST to it, so anything else could never be delivered. Under
/// `--webhook-targets public` it must not point at a loopback, private or link-local address (see
/// [`crate::webhooks::targets`]): 400 naming `url`.
fn checked_url(url: &str, state: &AppState) -> Result<String, ApiError> {
    let url = non_empty("url", url)?;
    crate::webhooks::targets::check_url(&url, state.webhook_targets).map_err(ApiError::invalid)?;
    Ok(url)
}

/// At least one event, each once, in the order given.
fn checked_events(events: Vec<WebhookEvent>) -> Result<Vec<WebhookEvent>, ApiError> {
    let mut unique = Vec::with_capacity(events.len());
    for event in events {
        if !unique.contains(&event) {
            unique.push(event);
        }
    }
    if unique.is_empty() {
        return Err(ApiError::invalid("`events` must name at least one event, e.g. [\"meeting.ended\"]"));
    }
    Ok(unique)
}

/// `POST .../webhooks {name, url, events, enabled?}` → `201 {success, data: webhook + secret}`: the webhook's
/// Standard Webhooks secret (`whsec_…`) is shown here once; no other answer carries it.
pub async fn create(
    State(state): State<AppState>,
    Ids(path): Ids<AppPath>,
    Body(body): Body<WebhookBody>,
) -> Result<Response, ApiError> {
    let (name, url, events) =
        (non_empty("name", &body.name)?, checked_url(&body.url, &state)?, checked_events(body.events)?);
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let webhook = WebhookRow::new(&app.id, name, url, events, body.enabled.unwrap_or(true));
    let row = webhook.clone();
    state.store.db().await?.create_webhook(&row).await?;
    Ok(created(WithSecret {
        webhook: webhook_json(&webhook),
        secret: webhook.secret.whsec(),
        previous_secret_expires_at: None,
    }))
}

/// `GET .../webhooks` → `{success, data: [webhook]}`, oldest first (the SDK model has no paging).
pub async fn list(State(state): State<AppState>, Ids(path): Ids<AppPath>) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let webhooks = state.store.db().await?.webhooks(&app.id).await?;
    Ok(ok(webhooks.iter().map(webhook_json).collect::<Vec<_>>()))
}

/// `GET .../webhooks/{webhook_id}` → `{success, data: webhook}`.
pub async fn get(State(state): State<AppState>, Ids(path): Ids<WebhookPath>) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let webhook = state.store.db().await?.webhook(&app.id, &path.webhook_id).await?;
    Ok(ok(webhook_json(&webhook.ok_or_else(|| ApiError::not_found("webhook"))?)))
}

/// Reads the webhook, changes it with `edit` and writes it back, in one store call.
async fn change(
    state: &AppState,
    path: WebhookPath,
    edit: impl FnOnce(&mut WebhookRow) + Send + 'static,
) -> Result<Response, ApiError> {
    let app = find_app(state, &path.account_id, &path.app_id).await?;
    // One write transaction: concurrent edits do not lose each other's fields.
    let mut tx = state.store.begin().await?;
    let mut webhook = tx.webhook(&app.id, &path.webhook_id).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    edit(&mut webhook);
    let saved = tx.save_webhook(&webhook).await?;
    tx.commit().await?;
    Ok(ok(webhook_json(&saved.ok_or_else(|| ApiError::not_found("webhook"))?)))
}

/// `PATCH .../webhooks/{webhook_id} {name?, url?, events?, enabled?}` → `{success, data: webhook}`; only the fields
/// sent change.
pub async fn edit(
    State(state): State<AppState>,
    Ids(path): Ids<WebhookPath>,
    Body(body): Body<EditWebhook>,
) -> Result<Response, ApiError> {
    let name = body.name.as_deref().map(|name| non_empty("name", name)).transpose()?;
    let url = body.url.as_deref().map(|url| checked_url(url, &state)).transpose()?;
    let events = body.events.map(checked_events).transpose()?;
    change(&state, path, move |webhook| {
        webhook.name = name.unwrap_or(std::mem::take(&mut webhook.name));
        webhook.url = url.unwrap_or(std::mem::take(&mut webhook.url));
        webhook.events = events.unwrap_or(std::mem::take(&mut webhook.events));
        webhook.enabled = body.enabled.unwrap_or(webhook.enabled);
    })
    .await
}

/// `PUT .../webhooks/{webhook_id} {name, url, events, enabled?}` → `{success, data: webhook}`: as if created anew
/// (enabled unless told otherwise), keeping its id and `created_at`.
pub async fn replace(
    State(state): State<AppState>,
    Ids(path): Ids<WebhookPath>,
    Body(body): Body<WebhookBody>,
) -> Result<Response, ApiError> {
    let (name, url, events) =
        (non_empty("name", &body.name)?, checked_url(&body.url, &state)?, checked_events(body.events)?);
    change(&state, path, move |webhook| {
        (webhook.name, webhook.url, webhook.events) = (name, url, events);
        webhook.enabled = body.enabled.unwrap_or(true);
    })
    .await
}

/// The optional body of rotate-secret.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps signing, in seconds; default `--webhook-rotation-window-ms`. 0 retires it at
    /// once (a leaked secret). At most [`MAX_ROTATION_WINDOW_SECS`].
    pub old_secret_valid_secs: Option<u64>,
}

/// A week: ample time to move receivers to the new secret; an old secret accepted for longer is a risk kept open.
pub const MAX_ROTATION_WINDOW_SECS: u64 = 7 * 24 * 3600;

/// `POST .../webhooks/{webhook_id}/rotate-secret [{old_secret_valid_secs?}]` → `{success, data: webhook + secret +
/// previous_secret_expires_at}`. The new secret is shown here once. Until `previous_secret_expires_at` every
/// attempt (retries of earlier events too) carries two signatures, `v1,<new> v1,<old>`, so receivers holding either
/// secret verify; after it only the new one. A second rotation within the window drops the first one's old secret.
/// No body (or `{}`) takes the server's window; 400 for an unknown field or a window over a week.
pub async fn rotate_secret(
    State(state): State<AppState>,
    Ids(path): Ids<WebhookPath>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let options: RotateSecret =
        if body.iter().all(u8::is_ascii_whitespace) { Default::default() } else { parse(&body)? };
    let window = match options.old_secret_valid_secs {
        Some(secs) if secs > MAX_ROTATION_WINDOW_SECS => {
            return Err(ApiError::invalid(format!(
                "`old_secret_valid_secs` must be at most {MAX_ROTATION_WINDOW_SECS} (a week), got {secs}"
            )))
        }
        Some(secs) => Duration::from_secs(secs),
        None => state.webhook_signer.rotation_window(),
    };
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let secret = WebhookSecret::generate();
    let now_ms = clock::unix_ms();
    let until_ms = now_ms.saturating_add(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
    let new = secret.clone();
    let rotated = state.store.db().await?.rotate_webhook_secret(&app.id, &path.webhook_id, &new, until_ms).await?;
    let webhook = rotated.ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(ok(WithSecret {
        webhook: webhook_json(&webhook),
        secret: secret.whsec(),
        previous_secret_expires_at: Some(crate::webhooks::signing::format_ms(until_ms)),
    }))
}

/// `DELETE .../webhooks/{webhook_id}` → `{success, data: the deleted webhook}`.
pub async fn delete(State(state): State<AppState>, Ids(path): Ids<WebhookPath>) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let deleted = state.store.db().await?.delete_webhook(&app.id, &path.webhook_id).await?;
    Ok(ok(webhook_json(&deleted.ok_or_else(|| ApiError::not_found("webhook"))?)))
}

/// `GET /.well-known/webhooks.json` → `{success, data: {publicKey, publicKeys, nextKeySignsFrom?}}`: `publicKey` checks
/// `rtk-signature` now (RealtimeKit's field); `publicKeys` lists every key to accept, the signing one first and, while
/// a rotation is announced, the new one, which signs from `nextKeySignsFrom` on. Public, like RealtimeKit's.
pub async fn well_known(State(state): State<AppState>) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct PublicKeys {
        public_key: String,
        public_keys: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_key_signs_from: Option<String>,
    }
    let (public_keys, switch_at_ms) = state.webhook_signer.public_keys();
    ok(PublicKeys {
        public_key: public_keys[0].clone(),
        next_key_signs_from: switch_at_ms.map(crate::webhooks::signing::format_ms),
        public_keys,
    })
}
