//! Loculus error responses: Spring `ProblemDetail` JSON (`application/problem+json`).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An application error of the backend. Rendered by [`render`] once the request path is known
/// (the `instance` field), see `api.rs`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// Spring's `ForbiddenException` handler also sends `WWW-Authenticate: Bearer`.
    pub www_authenticate: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            www_authenticate: false,
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self {
            www_authenticate: true,
            ..Self::new(StatusCode::FORBIDDEN, detail)
        }
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

/// Marker left in the response extensions; the API wrapper turns it into the JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Problem(pub ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = self.status;
        resp.extensions_mut().insert(Problem(self));
        resp
    }
}

/// The full ProblemDetail response for `err` at request path `instance`.
pub(crate) fn render(err: &ApiError, instance: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": err.status.canonical_reason().unwrap_or("Error"),
        "status": err.status.as_u16(),
        "detail": err.detail,
        "instance": instance,
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = err.status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if err.www_authenticate {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}
