//! Extractors whose rejections are JSON errors naming what to fix:
//!
//! - [`ApiJson`]: a JSON body (`Content-Type: application/json`, else 415;
//!   over the body limit 413; malformed 400 `malformed_json`; a field of the
//!   wrong type, an unknown or missing field, an invalid name: 400
//!   `invalid_request` naming the field);
//! - [`OptionalJson`]: the same, an empty body standing for the default;
//! - [`ApiQuery`]: the query string (unknown parameters refused);
//! - [`PathName`]: a `{name}` path parameter, validated as a [`Name`];
//! - [`PathId`]: an `{id}` path parameter.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use mercador_core::model::Name;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// A JSON body.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// A JSON body that may be empty or `null` (then `T::default()`).
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        require_json(request.headers())?;
        let body = body_bytes(request, state).await?;
        parse_json(&body).map(Self)
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let has_json_type = require_json(request.headers());
        let body = body_bytes(request, state).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        has_json_type?;
        if body.trim_ascii() == b"null" {
            return Ok(Self(T::default()));
        }
        parse_json(&body).map(Self)
    }
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Unsupported media type",
        format!(
            "the body must be JSON: send Content-Type: application/json (got {})",
            if content_type.is_empty() { "none".to_owned() } else { format!("{:?}", truncate(content_type, 80)) }
        ),
    ))
}

async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(None)
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "Unreadable body",
                "the request body could not be read; send it again",
            )
        }
    })
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                // Name's own errors start with "name: ", the field is named already.
                let text = strip_position(&inner.to_string());
                let message = text.strip_prefix("name: ").unwrap_or(&text).to_owned();
                ApiError::invalid(format!("invalid request: {field}: {message}"), vec![FieldError { field, message }])
            }
            _ => malformed(&inner),
        }
    })?;
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        "Malformed JSON",
        format!("the body is not valid JSON: {e}; send one JSON object"),
    )
}

/// serde_json appends " at line L column C", meaningless for a field error.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The query string.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri).map(|Query(q)| Self(q)).map_err(|rejection| {
            let text = rejection.body_text();
            let message = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text).to_owned();
            ApiError::invalid(
                format!("invalid query string: {message}"),
                vec![FieldError { field: "query".into(), message }],
            )
        })
    }
}

/// The `{name}` path parameter, a valid [`Name`] (else 400 with the rule).
#[derive(Debug, Clone)]
pub struct PathName(pub Name);

impl<S: Send + Sync> FromRequestParts<S> for PathName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid_field("name", "the path parameter is not valid UTF-8"))?;
        Name::parse("name", &raw).map(Self).map_err(|e| {
            let message = e.message.replace(&format!("{raw:?}"), &format!("{:?}", truncate(&raw, 70)));
            ApiError::invalid_field("name", message)
        })
    }
}

/// The `{id}` path parameter (ids are at most 64 letters, digits and `-`;
/// anything else cannot exist: 404).
#[derive(Debug, Clone)]
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = Path::<String>::from_request_parts(parts, state).await.map(|Path(s)| s).unwrap_or_default();
        let plausible =
            !raw.is_empty() && raw.len() <= 64 && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if plausible {
            Ok(Self(raw))
        } else {
            Err(ApiError::not_found(format!(
                "subscription {:?} does not exist (ids are 1 to 64 letters, digits and '-')",
                truncate(&raw, 70)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use mercador_core::publisher::NewPartner;

    use super::*;

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<NewPartner>(br#"{"name": "ok", "colour": 1}"#).unwrap_err();
        let body = e.body(None).error;
        assert_eq!(body.code, "invalid_request");
        assert!(body.message.contains("unknown field `colour`"), "{}", body.message);
        let e = parse_json::<NewPartner>(br#"{"name": "Not Ok"}"#).unwrap_err().body(None).error;
        assert_eq!(e.errors[0].field, "name");
        assert!(e.errors[0].message.contains("lowercase letters, digits and '-'"), "{:?}", e.errors);
        assert!(!e.errors[0].message.contains("at line"));
        let e = parse_json::<NewPartner>(br#"{"name": "#).unwrap_err();
        assert_eq!(e.code(), "malformed_json");
        let e = parse_json::<NewPartner>(br#"{"name": "a"} trailing"#).unwrap_err();
        assert_eq!(e.code(), "malformed_json");
        let e = parse_json::<NewPartner>(br#"{}"#).unwrap_err().body(None).error;
        assert!(e.message.contains("missing field `name`"), "{}", e.message);
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert_eq!(require_json(&h).unwrap_err().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        h.insert(CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        assert!(require_json(&h).is_ok());
        h.insert(CONTENT_TYPE, "application/merge-patch+json".parse().unwrap());
        assert!(require_json(&h).is_ok());
        h.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(require_json(&h).unwrap_err().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
