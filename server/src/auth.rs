//! API token checks for the REST API, as one middleware on every `/client/v4/accounts/{account_id}/...` route.
//!
//! Order matters and is fixed: no or unknown token → 401; a token of another account → 404 (as if the path did not
//! exist, so tokens cannot probe other accounts); a read-only token on a write → 403.

use crate::config::{ApiToken, Scope};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::secret_digest;
use axum::extract::{Path, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;

/// Who is calling: the account and scope of the token presented. Handlers find it in the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub scope: Scope,
}

/// The tokens given on the command line, by digest of their secret.
#[derive(Debug, Default)]
pub struct ApiTokens {
    by_digest: HashMap<String, Caller>,
}

impl ApiTokens {
    pub fn new(tokens: &[ApiToken]) -> Self {
        let by_digest = tokens
            .iter()
            .map(|t| (secret_digest(&t.secret), Caller { account_id: t.account_id.clone(), scope: t.scope }))
            .collect();
        ApiTokens { by_digest }
    }

    fn find(&self, secret: &str) -> Option<Caller> {
        self.by_digest.get(&secret_digest(secret)).cloned()
    }
}

/// The middleware. Needs the `{account_id}` path parameter.
pub async fn require_api_token(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let secret = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| ApiError::unauthorized("Authentication error: send `Authorization: Bearer <API token>`"))?
        .to_owned();
    let caller = match state.api_tokens.find(&secret) {
        Some(caller) => caller,
        None => state
            .store
            .run(move |db| db.api_token(&secret))
            .await?
            .map(|t| Caller { account_id: t.account_id, scope: t.scope })
            .ok_or_else(|| ApiError::unauthorized("Authentication error: unknown API token"))?,
    };
    if params.get("account_id") != Some(&caller.account_id) {
        return Err(ApiError::not_found("account"));
    }
    let reads = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !reads && !caller.scope.can_write() {
        return Err(ApiError::forbidden(format!(
            "Authentication error: a `{}` token cannot make changes; use a `Realtime` or `Realtime Admin` token",
            caller.scope
        )));
    }
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}
