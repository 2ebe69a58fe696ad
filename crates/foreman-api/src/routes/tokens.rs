//! API token management (admin scope).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Duration;
use foreman_domain::{NewApiToken, Scope, TokenId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminAuth;
use crate::dto::{CreateToken, CreatedToken, TokenDto, TokenRevoked};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate::NonEmpty;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
}

/// Create a token. The secret is in this response only; it is stored as a SHA-256 hash.
#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, description = "created; `token` is the secret", body = CreatedToken),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn create_token(
    auth: AdminAuth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<impl IntoResponse> {
    // name, scopes and expires_in_days were checked against their schemas while the body was
    // read (`crate::validate`)
    let name = body.name.trimmed().to_owned();
    let mut scopes = body
        .scopes
        .map_or_else(|| vec![Scope::Read], NonEmpty::into_vec);
    scopes.sort_unstable();
    scopes.dedup();
    let expires_at = body
        .expires_in_days
        .map(|d| foreman_domain::now() + Duration::days(d.get()));
    let (new, secret) = NewApiToken::generate(name, scopes, expires_at);
    let stored = state.store().create_token(new).await?;
    metrics::counter!("foreman_api_tokens_created_total").increment(1);
    tracing::info!(token_id = %stored.id, name = %stored.name, by = %auth.caller.name, "api token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            stored: TokenDto::from_token(&stored, foreman_domain::now()),
            token: secret.expose().to_owned(),
        }),
    ))
}

/// Every token, newest first, revoked ones included (never the secrets).
#[utoipa::path(get, path = "/api/tokens", tag = "tokens",
    responses((status = 200, description = "tokens", body = [TokenDto])))]
pub(crate) async fn list_tokens(
    _auth: AdminAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<TokenDto>>> {
    let now = foreman_domain::now();
    let tokens = state.store().list_tokens().await?;
    Ok(Json(
        tokens
            .iter()
            .map(|t| TokenDto::from_token(t, now))
            .collect(),
    ))
}

/// Revoke a token; it is refused from the next request on.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "token id")),
    responses((status = 200, description = "revoked", body = TokenRevoked)))]
pub(crate) async fn revoke_token(
    auth: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TokenRevoked>> {
    if !state
        .store()
        .revoke_token(&TokenId::from(id.as_str()))
        .await?
    {
        return Err(ApiError::not_found("token", &id));
    }
    metrics::counter!("foreman_api_tokens_revoked_total").increment(1);
    tracing::info!(token_id = %id, by = %auth.caller.name, "api token revoked");
    Ok(Json(TokenRevoked {
        status: "revoked".to_owned(),
        token_id: id,
    }))
}
