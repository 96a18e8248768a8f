//! `/accounts/{account_id}/realtime/kit/{app_id}/webhooks[/{webhook_id}]` — SDK `realtime_kit.webhooks
//! .create_webhook`, `.get_webhooks`, `.get_webhook_by_id`, `.edit_webhook`, `.replace_webhook` and
//! `.delete_webhook`. Delivery (which reads these records when an event happens) is in `crate::webhooks`.

use super::{created, find_app, non_empty, ok, AppPath, Body, Ids, WebhookPath};
use crate::rest::ApiError;
use crate::state::AppState;
use crate::store::{WebhookEvent, WebhookRow};
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};

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

/// `POST .../webhooks {name, url, events, enabled?}` → `201 {success, data: webhook}`.
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
    state.store.run(move |db| db.create_webhook(&row)).await?;
    Ok(created(webhook_json(&webhook)))
}

/// `GET .../webhooks` → `{success, data: [webhook]}`, oldest first (the SDK model has no paging).
pub async fn list(State(state): State<AppState>, Ids(path): Ids<AppPath>) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let webhooks = state.store.run(move |db| db.webhooks(&app.id)).await?;
    Ok(ok(webhooks.iter().map(webhook_json).collect::<Vec<_>>()))
}

/// `GET .../webhooks/{webhook_id}` → `{success, data: webhook}`.
pub async fn get(State(state): State<AppState>, Ids(path): Ids<WebhookPath>) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let webhook = state.store.run(move |db| db.webhook(&app.id, &path.webhook_id)).await?;
    Ok(ok(webhook_json(&webhook.ok_or_else(|| ApiError::not_found("webhook"))?)))
}

/// Reads the webhook, changes it with `edit` and writes it back, in one store call.
async fn change(
    state: &AppState,
    path: WebhookPath,
    edit: impl FnOnce(&mut WebhookRow) + Send + 'static,
) -> Result<Response, ApiError> {
    let app = find_app(state, &path.account_id, &path.app_id).await?;
    let saved = state
        .store
        .run(move |db| {
            let Some(mut webhook) = db.webhook(&app.id, &path.webhook_id)? else { return Ok(None) };
            edit(&mut webhook);
            db.save_webhook(&webhook)
        })
        .await?;
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

/// `DELETE .../webhooks/{webhook_id}` → `{success, data: the deleted webhook}`.
pub async fn delete(State(state): State<AppState>, Ids(path): Ids<WebhookPath>) -> Result<Response, ApiError> {
    let app = find_app(&state, &path.account_id, &path.app_id).await?;
    let deleted = state.store.run(move |db| db.delete_webhook(&app.id, &path.webhook_id)).await?;
    Ok(ok(webhook_json(&deleted.ok_or_else(|| ApiError::not_found("webhook"))?)))
}

/// `GET /.well-known/webhooks.json`: the key that verifies `rtk-signature`. Public, like RealtimeKit's.
pub async fn well_known(State(state): State<AppState>) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct PublicKey<'a> {
        public_key: &'a str,
    }
    ok(PublicKey { public_key: state.webhook_signer.public_key_pem() })
}
