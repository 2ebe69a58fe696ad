//! The one error type handlers return, and its JSON body.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use foreman_domain::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people (lowercase, no internal details).
    #[schema(example = "ticket 0190f1c2-0000-7000-8000-000000000000 not found")]
    pub error: String,
    /// The HTTP status code.
    #[schema(example = 404)]
    pub code: u16,
}

/// Why a request failed. Each variant maps to one HTTP status; server-side failures are logged
/// with their cause and answered with a generic message.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input (400).
    #[error("{0}")]
    BadRequest(String),
    /// Missing, unknown, expired or revoked token (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The token lacks the scope (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such resource or route (404).
    #[error("{0}")]
    NotFound(String),
    /// The method is not allowed on this path (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The resource is not in a state that allows the request (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is not JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many requests from this client (429) — retry after the given seconds.
    #[error("rate limit exceeded; retry in {0} s")]
    RateLimited(u64),
    /// The request took longer than the configured timeout (503).
    #[error("request timed out")]
    Timeout,
    /// Something failed on the server (500); the source is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A transport-neutral code for logs and branching.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited(_) => "rate_limited",
            Self::Timeout => "timeout",
            Self::Internal(_) => "internal",
        }
    }

    /// Wraps a server-side failure.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    /// A 404 for an entity.
    #[must_use]
    pub fn not_found(entity: &str, id: &str) -> Self {
        Self::NotFound(format!("{entity} {id} not found"))
    }

    /// The JSON body this error renders as.
    #[must_use]
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.to_string(),
            code: self.status().as_u16(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => Self::NotFound(e.to_string()),
            StoreError::Conflict { .. }
            | StoreError::InvalidTransition { .. }
            | StoreError::StaleFence { .. }
            | StoreError::LeaseNotHeld { .. }
            | StoreError::Duplicate { .. }
            | StoreError::BudgetExceeded(_) => Self::Conflict(e.to_string()),
            StoreError::Invalid(msg) => Self::BadRequest(msg),
            other => Self::internal(other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                // `invalid request body: <field>: <what is wrong> at line L column C`
                let text = e.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                    .unwrap_or(&text);
                Self::BadRequest(format!("invalid request body: {}", lower(detail)))
            }
            JsonRejection::JsonSyntaxError(e) => {
                Self::BadRequest(format!("malformed json: {}", lower(&e.body_text())))
            }
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType(
                "expected request with `content-type: application/json`".to_owned(),
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::PayloadTooLarge("request body is larger than the limit".to_owned())
            }
            other => Self::BadRequest(lower(&other.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    /// `invalid query: <parameter>: <what is wrong>` (axum reports serde's path, so the message
    /// names the parameter).
    fn from(r: QueryRejection) -> Self {
        let text = r.body_text();
        let detail = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        Self::BadRequest(format!("invalid query: {}", lower(detail)))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::BadRequest(format!("invalid path: {}", lower(&r.body_text())))
    }
}

/// Axum's rejection texts start with a capital; Foreman's messages are lowercase.
fn lower(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(source) = &self {
            tracing::error!(error = %source, source = ?source, "request failed");
        }
        let retry_after = match &self {
            Self::RateLimited(secs) => Some(*secs),
            _ => None,
        };
        let mut response = (status, Json(self.body())).into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"foreman\""),
            );
        }
        response
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// The answer to a request whose handling panicked (the handler of tower-http's
/// `CatchPanicLayer`): the JSON 500 of every internal error, with the panic's message logged
/// and never sent.
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let cause = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    tracing::error!(panic = %cause, "request handler panicked");
    let body = ApiError::Internal(cause.into()).body();
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}
