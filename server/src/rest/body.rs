//! Reading a JSON request body, with errors a client can act on: not JSON, not an object, or which field is wrong
//! (by its path, e.g. ``permissions.kick_participant``), never the name of a Rust type.

use crate::rest::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A JSON object body deserialized into `T`; every rejection is an [`ApiError`] in the API's envelope (400, or 413
/// over [`super::BODY_LIMIT`]).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json =
            request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(|value| {
                let mime = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::bad_body("expected `Content-Type: application/json`"));
        }
        let bytes = Bytes::from_request(request, state).await?;
        Ok(Body(parse(&bytes)?))
    }
}

/// The body as `T`: a JSON object whose fields have the types `T` wants.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::bad_body(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_body("the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "." => ApiError::bad_body(e.into_inner().to_string()),
            _ => ApiError::bad_body(format!("`{path}`: {}", e.into_inner())),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        tags: Option<Vec<String>>,
    }

    fn message(body: &str) -> String {
        parse::<Sample>(body.as_bytes()).unwrap_err().message
    }

    #[test]
    fn errors_name_the_field_and_never_the_type() {
        assert!(message("{\"name\": ").starts_with("the body is not valid JSON: EOF"), "{}", message("{\"name\": "));
        assert_eq!(message("[]"), "the body must be a JSON object");
        assert_eq!(message("{}"), "missing field `name`");
        assert_eq!(message(r#"{"name": 1}"#), "`name`: invalid type: integer `1`, expected a string");
        assert_eq!(message(r#"{"name": "a", "tags": [1]}"#), "`tags[0]`: invalid type: integer `1`, expected a string");
        assert!(message(r#"{"name": "a", "nmae": 1}"#).starts_with("`nmae`: unknown field `nmae`"));
        assert!(parse::<Sample>(br#"{"name": "a"}"#).is_ok());
    }
}
