//! JSON errors: every failure the service reports is `{"error": code, "message": text}` with a fitting status.
//!
//! The `error` field is a stable machine-readable code, except on the GBIF-compatible endpoints, where it keeps
//! the exact text blast-ws sends (`No marker given`, `Unsupported marker`, `No sequence given`, `Server busy,
//! please try again later`) so existing clients that compare it keep working.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// blast-ws's text for a full queue, reused for every 503 caused by load.
pub const BUSY: &str = "Server busy, please try again later";

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The `error` field.
    pub error: Cow<'static, str>,
    /// The `message` field: what went wrong and what to do, for a person.
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, error: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: malformed request or bad parameter.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 408: the client took longer than the body timeout to send its request body.
    pub fn request_timeout(secs: u64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request body did not arrive within {secs} s"),
        )
    }

    /// 413: body or batch too large.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 415: wrong content type.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
    }

    /// 422: well-formed but semantically invalid; `error` is kept verbatim (blast-ws texts).
    pub fn unprocessable(error: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, error, message)
    }

    /// 503 because every search slot is taken; clients should retry.
    pub fn busy(message: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, BUSY, message)
        }
    }

    /// 503 because the search ran past the request timeout.
    pub fn timeout(secs: u64) -> Self {
        ApiError {
            retry_after: Some(5),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("the search took longer than the {secs} s limit; send fewer sequences per request"),
            )
        }
    }

    /// 500 without internals: details go to the log, not to the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the request id in the x-request-id header identifies it in the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: &self.error,
            message: &self.message,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.error, self.message)
    }
}

impl std::error::Error for ApiError {}
