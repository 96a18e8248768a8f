//! The opening handshake of RFC 6455 §4.2: which requests are upgraded, and the 101 that answers them.
//!
//! Hand-written checks, the accept key from tungstenite: tungstenite's own check (`create_response`) splits the
//! `Connection` list on spaces and commas only, so `Connection: keep-alive,<TAB>Upgrade`, valid HTTP (RFC 9110
//! §5.6.1: elements are separated by `OWS "," OWS`, and OWS includes tabs), got 400.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};

/// The only version of the protocol there is (RFC 6455 §4.1).
const WEBSOCKET_VERSION: &str = "13";

/// The 101 for an upgrade request, or why the request is not one.
pub fn accept(request: &Request) -> Result<Response, Refusal> {
    if request.method() != Method::GET {
        return Err(Refusal::NotGet);
    }
    if request.version() < Version::HTTP_11 {
        return Err(Refusal::BadRequest("HTTP/1.1 or later is needed"));
    }
    let headers = request.headers();
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(Refusal::BadRequest("no `Connection: upgrade`"));
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(Refusal::BadRequest("no `Upgrade: websocket`"));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(WEBSOCKET_VERSION.as_bytes()) {
        return Err(Refusal::OtherVersion);
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or(Refusal::BadRequest("no `Sec-WebSocket-Key`"))?;
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .expect("valid header values");
    Ok(response)
}

/// Why a request was not upgraded; each is answered with its status and the rule in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 405 with `Allow: GET`: a method other than GET (a HEAD: the router sends only GET and HEAD here).
    NotGet,
    /// 426 with `Sec-WebSocket-Version: 13`: another version of the protocol (§4.2.2, point 4).
    OtherVersion,
    /// 400: HTTP before 1.1, or a missing `Connection: upgrade`, `Upgrade: websocket` or key; the rule broken.
    BadRequest(&'static str),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotGet => {
                (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET")], "a WebSocket upgrade is a GET")
                    .into_response()
            }
            Refusal::OtherVersion => (
                StatusCode::UPGRADE_REQUIRED,
                [(header::SEC_WEBSOCKET_VERSION, WEBSOCKET_VERSION)],
                "not a WebSocket upgrade: `Sec-WebSocket-Version` must be 13",
            )
                .into_response(),
            Refusal::BadRequest(rule) => {
                (StatusCode::BAD_REQUEST, format!("not a WebSocket upgrade: {rule}")).into_response()
            }
        }
    }
}

/// Whether a list header (every line of it) has `token`, compared without case, its elements separated by commas
/// with spaces or tabs around them (RFC 9110 §5.6.1).
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|element| element.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}
