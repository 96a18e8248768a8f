//! API token checks for the REST API, as one middleware on every `/client/v4/accounts/{account_id}/...` route.
//!
//! Order matters and is fixed: no or unknown token → 401; a token of another account → 404 (as if the path did not
//! exist, so tokens cannot probe other accounts); a read-only token on a write → 403.

use super::ApiError;
use crate::api_token::Caller;
use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;

/// The token of an `Authorization: Bearer <token>` value. The scheme is matched case-insensitively (RFC 9110
/// §11.1: "bearer" and "BEARER" are the same scheme) and separated from the token by spaces or tabs; None for
/// another scheme or an empty token.
pub fn bearer_credentials(value: &str) -> Option<&str> {
    let value = value.trim_start_matches([' ', '\t']);
    let (scheme, rest) = value.split_once([' ', '\t'])?;
    let token = rest.trim_matches([' ', '\t']);
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
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
        .and_then(bearer_credentials)
        .ok_or_else(|| ApiError::unauthorized("Authentication error: send `Authorization: Bearer <API token>`"))?
        .to_owned();
    let caller = match state.api_tokens.find(&secret) {
        Some(caller) => caller,
        None => state
            .store
            .db()
            .await?
            .api_token(&secret)
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

#[cfg(test)]
mod tests {
    use super::bearer_credentials;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer s3cret", "bearer s3cret", "BEARER s3cret", "bEaReR  s3cret", "Bearer\ts3cret "] {
            assert_eq!(bearer_credentials(value), Some("s3cret"), "{value:?}");
        }
        for value in ["Basic s3cret", "Bearers3cret", "Bearer", "Bearer ", "s3cret", "", "Bearerx s3cret"] {
            assert_eq!(bearer_credentials(value), None, "{value:?}");
        }
    }
}
