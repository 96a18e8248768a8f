//! The router, built in one function: every route of the server is listed here.

use crate::config::Config;
use crate::rest::{self, active_session, apps, auth, dev, meetings, participants, presets, sessions, webhooks};
use crate::state::AppState;
use crate::ws;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use axum::{middleware, Router};
use endsession_protocol::WS_PATH;
use tower_http::cors::CorsLayer;
use tower_http::services::ServeDir;

/// Base of the RealtimeKit API, as the `cloudflare` SDK builds it under `base_url=http://HOST/client/v4`.
pub const KIT: &str = "/client/v4/accounts/{account_id}/realtime/kit";

pub fn router(state: AppState, config: &Config) -> Router {
    let kit = |path: &str| format!("{KIT}{path}");
    let api = Router::new()
        .route(&kit("/apps"), get(apps::list).post(apps::create))
        .route(&kit("/{app_id}/presets"), get(presets::list).post(presets::create))
        .route(
            &kit("/{app_id}/presets/{preset_id}"),
            get(presets::get).patch(presets::update).put(presets::replace).delete(presets::delete),
        )
        .route(&kit("/{app_id}/meetings"), get(meetings::list).post(meetings::create))
        .route(
            &kit("/{app_id}/meetings/{meeting_id}"),
            get(meetings::get).patch(meetings::update).put(meetings::replace),
        )
        .route(&kit("/{app_id}/meetings/{meeting_id}/participants"), get(participants::list).post(participants::add))
        .route(
            &kit("/{app_id}/meetings/{meeting_id}/participants/{participant_id}"),
            get(participants::get).patch(participants::edit).delete(participants::delete),
        )
        .route(
            &kit("/{app_id}/meetings/{meeting_id}/participants/{participant_id}/token"),
            post(participants::refresh_token),
        )
        .route(&kit("/{app_id}/meetings/{meeting_id}/active-session"), get(active_session::get))
        .route(&kit("/{app_id}/meetings/{meeting_id}/active-session/kick-all"), post(active_session::kick_all))
        .route(&kit("/{app_id}/meetings/{meeting_id}/active-session/cancel-end"), post(active_session::cancel_end))
        .route(&kit("/{app_id}/meetings/{meeting_id}/active-session/kick"), post(active_session::kick))
        .route(&kit("/{app_id}/sessions"), get(sessions::list))
        .route(&kit("/{app_id}/sessions/{session_id}"), get(sessions::get))
        .route(&kit("/{app_id}/sessions/{session_id}/participants"), get(sessions::participants))
        .route(&kit("/{app_id}/webhooks"), get(webhooks::list).post(webhooks::create))
        .route(
            &kit("/{app_id}/webhooks/{webhook_id}"),
            get(webhooks::get).patch(webhooks::edit).put(webhooks::replace).delete(webhooks::delete),
        )
        .route(&kit("/{app_id}/webhooks/{webhook_id}/rotate-secret"), post(webhooks::rotate_secret))
        // Before the route layer: layered routes can no longer take a fallback.
        .method_not_allowed_fallback(rest::method_not_allowed)
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_api_token))
        .layer(DefaultBodyLimit::max(rest::BODY_LIMIT));

    let mut app =
        Router::new().merge(api).route("/client/v4/{*rest}", any(rest::no_route)).route(WS_PATH, get(ws::upgrade));
    app = app.route(crate::webhooks::WELL_KNOWN_PATH, get(webhooks::well_known));
    if config.dev {
        app = app.route("/dev/config.json", get(dev::config));
        app = app.route(crate::dev::SINK_PATH, post(rest::dev_sink::receive));
        app = app.route("/dev/webhook-deliveries", get(rest::dev_sink::list));
    }
    if let Some(pkg) = &config.pkg {
        app = app.nest_service("/pkg", ServeDir::new(pkg));
    }
    if let Some(www) = &config.www {
        app = app.fallback_service(ServeDir::new(www));
    }
    let app = app.with_state(state);
    // The browser tests load the demo from other origins; without --dev no cross-origin request is allowed.
    if config.dev {
        app.layer(CorsLayer::permissive())
    } else {
        app
    }
}
