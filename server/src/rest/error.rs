//! Every REST error, shaped as Cloudflare's v4 API shapes them:
//! `{"success": false, "errors": [{"code": N, "message": "..."}], "messages": [], "data": null}` with the HTTP status.
//!
//! | status | code  | when                                                                     |
//! |--------|-------|--------------------------------------------------------------------------|
//! | 400    | 6007  | the body is not JSON, or not the JSON the endpoint expects               |
//! | 400    | 6003  | a well-formed request naming something invalid (e.g. an unknown preset)  |
//! | 401    | 10000 | no `Authorization: Bearer` header, or an unknown token                   |
//! | 403    | 10000 | the token's scope does not allow the request (`Realtime Read` writing)   |
//! | 404    | 7003  | no such object for this account (another account's objects included)     |
//! | 404    | 7000  | no such route                                                            |
//! | 405    | 7001  | the route exists, the method does not                                    |
//! | 409    | 6009  | a name already taken (preset names are unique within an app)             |
//! | 413    | 6007  | the body is over the limit                                               |
//! | 500    | 1000  | the store failed (logged)                                                |

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 10000, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, 10000, message)
    }

    /// `what` is the kind of object, e.g. "meeting": the message never says whether it exists elsewhere.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, 7003, format!("{what} not found"))
    }

    pub fn no_route(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, 7000, format!("no route for {path}"))
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, 7001, format!("method {method} is not allowed on {path}"))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 6003, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, 6009, message)
    }

    pub fn bad_body(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 6007, message)
    }

    /// Logs the cause; the client only learns that the server failed.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 1000, "internal error, see the server log")
    }
}

/// The error envelope (see the module's table); `data` is `null`.
#[derive(Serialize)]
struct ErrorBody<'a> {
    success: bool,
    errors: [ErrorItem<'a>; 1],
    messages: [&'static str; 0],
    data: (),
}

#[derive(Serialize)]
struct ErrorItem<'a> {
    code: u32,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            success: false,
            errors: [ErrorItem { code: self.code, message: &self.message }],
            messages: [],
            data: (),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::hub::HubError> for ApiError {
    fn from(e: crate::hub::HubError) -> Self {
        match e {
            crate::hub::HubError::PermissionDenied => ApiError::forbidden(e.to_string()),
            crate::hub::HubError::Store(e) => e.into(),
        }
    }
}

impl From<BytesRejection> for ApiError {
    /// Reading the body failed: 413 when it is over the limit, else 400 with axum's reason.
    fn from(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(status, 6007, "request body is too large");
        }
        Self::bad_body(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::invalid(rejection.body_text())
    }
}
