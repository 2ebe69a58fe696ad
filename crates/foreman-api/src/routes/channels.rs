//! Chat channels: pairing codes for new senders (admin scope).
//!
//! The API does not see the channel adapters: a code is issued into the settings store
//! ([`foreman_domain::channel::issue_pairing`], under the SHA-256 of the code, with its expiry)
//! and the channel's conversation loop redeems it when a sender writes `/pair <code>`. Which
//! channels exist is what the connectivity probe reports (the channels `/api/status` lists).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminAuth;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiPath;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_pairing))
}

/// A pairing code, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PairingCodeDto {
    /// The channel (`telegram`).
    pub channel: String,
    /// The one-time code; the new sender writes `/pair <code>` to the bot.
    pub code: String,
    /// When it stops working (10 minutes after it was issued).
    pub expires_at: DateTime<Utc>,
}

/// Issue a one-time pairing code for a chat channel. A sender the allow-list does not name
/// writes `/pair <code>` to the bot within 10 minutes to be added; the code then works no more.
#[utoipa::path(post, path = "/api/channels/{name}/pairings", tag = "channels",
    params(("name" = String, Path, description = "channel name (`telegram`)")),
    responses((status = 201, description = "issued; `code` is shown once", body = PairingCodeDto),
        (status = 404, description = "no such channel runs in this server", body = ErrorBody)))]
pub(crate) async fn create_pairing(
    auth: AdminAuth,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let probe = state
        .inner
        .connectivity
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let known = match probe {
        Some(p) => p.channels().await.contains_key(&name),
        None => false,
    };
    if !known {
        return Err(ApiError::not_found("channel", &name));
    }
    let issued = foreman_domain::channel::issue_pairing(
        state.store().as_ref(),
        &name,
        &auth.caller.name,
        foreman_domain::now(),
    )
    .await?;
    tracing::info!(channel = %name, by = %auth.caller.name, expires_at = %issued.expires_at, "pairing code issued");
    Ok((
        StatusCode::CREATED,
        Json(PairingCodeDto {
            channel: name,
            code: issued.code,
            expires_at: issued.expires_at,
        }),
    ))
}
