//! Bearer-token authentication as an extractor.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use foreman_domain::{Scope, TokenId};

use crate::error::ApiError;
use crate::state::AppState;

/// How often a token's `last_used_at` is written at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name (`dashboard` for the configured static token).
    pub name: String,
    /// The stored token's id; `None` for the configured static token.
    pub token_id: Option<TokenId>,
    /// What the token may do.
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// Whether the caller holds `required` (scopes nest: admin ⊃ write ⊃ read).
    #[must_use]
    pub fn grants(&self, required: Scope) -> bool {
        self.scopes.iter().any(|s| s.grants(required))
    }
}

/// Why authentication failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token was presented.
    #[error("missing bearer token")]
    Missing,
    /// The `Authorization` header is not `Bearer <token>`.
    #[error("malformed authorization header; expected `Bearer <token>`")]
    Malformed,
    /// No token has this secret.
    #[error("invalid bearer token")]
    Unknown,
    /// The token was revoked.
    #[error("token has been revoked")]
    Revoked,
    /// The token expired.
    #[error("token has expired")]
    Expired,
    /// The token lacks the scope the route needs.
    #[error("token lacks the {0} scope")]
    Insufficient(Scope),
    /// The token store failed.
    #[error("token lookup failed")]
    Lookup,
}

impl AuthError {
    /// A transport-neutral code (also the `reason` label of the failure metric).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Unknown => "unknown",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Insufficient(_) => "insufficient_scope",
            Self::Lookup => "lookup_failed",
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Insufficient(_) => Self::Forbidden(e.to_string()),
            AuthError::Lookup => Self::Internal(Box::new(e)),
            _ => Self::Unauthorized(e.to_string()),
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

/// The token in an `Authorization: Bearer <token>` header, if the header is present.
///
/// # Errors
/// [`AuthError::Malformed`] when the header is present but not a bearer token.
pub fn bearer_from_header(headers: &HeaderMap) -> Result<Option<String>, AuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(Some(token.to_owned()))
}

/// Checks a presented token and the scope it needs.
///
/// The token's SHA-256 is looked up in the token store and compared in constant time; revoked
/// and expired tokens are refused at once. The configured static token (if any) is accepted
/// with every scope. Successful use is recorded at most once a minute per token, off the
/// request path.
///
/// # Errors
/// The [`AuthError`] saying why the caller is refused.
pub async fn authenticate(
    state: &AppState,
    token: Option<&str>,
    required: Scope,
) -> Result<Caller, AuthError> {
    let result = check(state, token, required).await;
    if let Err(e) = &result {
        metrics::counter!("foreman_api_auth_failures_total", "reason" => e.code()).increment(1);
    }
    result
}

async fn check(
    state: &AppState,
    token: Option<&str>,
    required: Scope,
) -> Result<Caller, AuthError> {
    let token = token.filter(|t| !t.is_empty()).ok_or(AuthError::Missing)?;
    let hash = foreman_domain::hash_token(token);
    if let Some(expected) = &state.inner.static_token_hash
        && foreman_domain::hashes_match(&hash, expected)
    {
        return Ok(Caller {
            name: "dashboard".to_owned(),
            token_id: None,
            scopes: vec![Scope::Admin],
        });
    }
    let stored = state
        .store()
        .find_token_by_hash(&hash)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "token lookup failed");
            AuthError::Lookup
        })?
        .filter(|t| foreman_domain::hashes_match(&t.token_hash, &hash))
        .ok_or(AuthError::Unknown)?;
    let now = foreman_domain::now();
    if stored.revoked_at.is_some() {
        return Err(AuthError::Revoked);
    }
    if stored.expires_at.is_some_and(|e| e <= now) {
        return Err(AuthError::Expired);
    }
    if !stored.grants(required) {
        return Err(AuthError::Insufficient(required));
    }
    touch(state, &stored.id, now);
    Ok(Caller {
        name: stored.name,
        token_id: Some(stored.id),
        scopes: stored.scopes,
    })
}

fn touch(state: &AppState, id: &TokenId, at: chrono::DateTime<chrono::Utc>) {
    let due = {
        let mut touches = state
            .inner
            .token_touches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let due = touches
            .get(id)
            .is_none_or(|last| now.duration_since(*last) >= TOUCH_EVERY);
        if due {
            if touches.len() > 10_000 {
                touches.clear();
            }
            touches.insert(id.clone(), now);
        }
        due
    };
    if due {
        let store = state.store().clone();
        let id = id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(&id, at).await {
                tracing::warn!(token_id = %id, error = %e, "could not record token use");
            }
        });
    }
}

/// A scope a route requires, as a type.
pub trait RequiredScope: Send + Sync + 'static {
    /// The scope.
    const SCOPE: Scope;
}

/// Marker: any valid token (`read`).
#[derive(Debug, Clone, Copy)]
pub struct ReadScope;
/// Marker: `write` or `admin`.
#[derive(Debug, Clone, Copy)]
pub struct WriteScope;
/// Marker: `admin`.
#[derive(Debug, Clone, Copy)]
pub struct AdminScope;

impl RequiredScope for ReadScope {
    const SCOPE: Scope = Scope::Read;
}
impl RequiredScope for WriteScope {
    const SCOPE: Scope = Scope::Write;
}
impl RequiredScope for AdminScope {
    const SCOPE: Scope = Scope::Admin;
}

/// An authenticated caller holding scope `S`. Declare it as a handler argument; the request is
/// refused with 401 (no or bad token) or 403 (missing scope) before the handler runs.
#[derive(Debug, Clone)]
pub struct Authed<S> {
    /// The caller.
    pub caller: Caller,
    _scope: PhantomData<S>,
}

/// Requires a `read` token.
pub type ReadAuth = Authed<ReadScope>;
/// Requires a `write` token.
pub type WriteAuth = Authed<WriteScope>;
/// Requires an `admin` token.
pub type AdminAuth = Authed<AdminScope>;

impl<S: RequiredScope> Authed<S> {
    /// An already authenticated caller as holding `S` (the MCP endpoint authenticates once per
    /// request and checks each tool's scope here, with the same refusal as the routes).
    ///
    /// # Errors
    /// [`AuthError::Insufficient`] when the caller lacks `S`.
    pub(crate) fn granted(caller: Caller) -> Result<Self, AuthError> {
        if !caller.grants(S::SCOPE) {
            return Err(AuthError::Insufficient(S::SCOPE));
        }
        Ok(Self {
            caller,
            _scope: PhantomData,
        })
    }
}

impl<S: RequiredScope> FromRequestParts<AppState> for Authed<S> {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthError> {
        let token = match bearer_from_header(&parts.headers) {
            Ok(t) => t,
            Err(e) => {
                metrics::counter!("foreman_api_auth_failures_total", "reason" => e.code())
                    .increment(1);
                return Err(e);
            }
        };
        let caller = authenticate(state, token.as_deref(), S::SCOPE).await?;
        Ok(Self {
            caller,
            _scope: PhantomData,
        })
    }
}
