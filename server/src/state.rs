//! The state every handler shares, in one struct (axum-examples style).

use crate::api_token::ApiTokens;
use crate::dev::DevSeed;
use crate::hub::Hub;
use crate::store::Store;
use crate::token::TokenKeys;
use crate::webhooks::Signer;
use axum::extract::FromRef;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Live sessions. A trait object so a multi-node hub can replace the local one.
    pub hub: Arc<dyn Hub>,
    /// Signs and checks participant tokens.
    pub tokens: Arc<TokenKeys>,
    /// The API tokens given on the command line (stored ones are looked up in `store`).
    pub api_tokens: Arc<ApiTokens>,
    /// What `--dev` seeded, for `/dev/config.json`; None without `--dev`.
    pub dev: Option<Arc<DevSeed>>,
    /// Signs webhook deliveries; its public key is served at `/.well-known/webhooks.json`.
    pub webhook_signer: Arc<Signer>,
    /// The WebSocket deadlines and caps, and the open sockets per participant.
    pub sockets: Arc<crate::ws::Sockets>,
    /// Where webhook URLs may point (`--webhook-targets`), checked when a webhook is created, edited or replaced.
    pub webhook_targets: crate::webhooks::TargetPolicy,
}

impl FromRef<AppState> for crate::ws::Endpoint {
    fn from_ref(state: &AppState) -> Self {
        crate::ws::Endpoint {
            store: state.store.clone(),
            hub: state.hub.clone(),
            tokens: state.tokens.clone(),
            sockets: state.sockets.clone(),
        }
    }
}
