//! The audit trail: listing entries and verifying the chain (admin).

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use foreman_domain::audit::{AuditCheckpoint, AuditEntry, AuditFilter, ChainCheck};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminAuth;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::validate::Int;

/// Entries read per store call while verifying.
const VERIFY_PAGE: u32 = 1000;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit))
        .routes(routes!(verify_audit))
}

/// One recorded call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct AuditEntryDto {
    /// Position in the chain, from 1.
    seq: u64,
    /// When the call was answered.
    at: DateTime<Utc>,
    /// The stored token's id; `null` for the dashboard token or an unknown caller.
    token_id: Option<String>,
    /// The token's name; `null` when the caller is unknown (401, tracker webhooks).
    actor: Option<String>,
    /// The client address.
    client_addr: Option<String>,
    /// Dotted action, e.g. `ticket.cancel`.
    #[schema(example = "ticket.cancel")]
    action: String,
    /// What was acted on, e.g. `ticket/42`.
    #[schema(example = "ticket/42")]
    resource: Option<String>,
    /// `api`, `mcp`, `channel` or `webhook`.
    via: String,
    /// `ok`, `denied` (401, 403) or `error`.
    #[schema(example = "ok")]
    outcome: String,
    /// The HTTP status of the answer.
    status: u16,
    /// The request's `X-Request-Id`.
    request_id: Option<String>,
    /// The previous entry's hash (hex SHA-256).
    prev_hash: String,
    /// This entry's hash (hex SHA-256 of its canonical form).
    hash: String,
}

impl From<AuditEntry> for AuditEntryDto {
    fn from(e: AuditEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            token_id: e.token_id.map(|t| t.to_string()),
            actor: e.actor,
            client_addr: e.client_addr,
            action: e.action,
            resource: e.resource,
            via: e.via,
            outcome: e.outcome.as_str().to_owned(),
            status: e.status,
            request_id: e.request_id,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

/// A page of entries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct AuditPage {
    /// Newest first.
    items: Vec<AuditEntryDto>,
    /// Pass as `cursor` for the next (older) page; `null` on the last.
    next_cursor: Option<String>,
}

/// Filters and paging of the audit list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// A token's name or id.
    actor: Option<String>,
    /// An action (`ticket.cancel`) or a family (`ticket.*`).
    action: Option<String>,
    /// Entries at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Page size: default 100, from 1 to 1000.
    #[param(inline)]
    limit: Option<Int<1, 1000>>,
}

/// Recorded mutating calls, newest first.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "a page of entries", body = AuditPage),
        (status = 400, description = "bad filter or cursor", body = ErrorBody),
        (status = 401, description = "no or bad token", body = ErrorBody),
        (status = 403, description = "not an admin token", body = ErrorBody)))]
pub(crate) async fn list_audit(
    _auth: AdminAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let limit = q.limit.map_or(100, Int::to::<u32>);
    let before_seq = q
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<u64>().map_err(|_| {
                ApiError::BadRequest(format!("cursor: not a cursor of this list: {c:?}"))
            })
        })
        .transpose()?;
    let filter = AuditFilter {
        actor: q.actor.filter(|a| !a.is_empty()),
        action: q.action.filter(|a| !a.is_empty()),
        from: q.from,
        to: q.to,
        before_seq,
        limit: limit + 1,
    };
    let mut items = state.store().list_audit(&filter).await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = more
        .then(|| items.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Json(AuditPage {
        items: items.into_iter().map(AuditEntryDto::from).collect(),
        next_cursor,
    }))
}

/// The first link of the chain that does not hold.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct BrokenLinkDto {
    /// The entry (or checkpoint) where the chain breaks.
    seq: u64,
    /// `hash_mismatch` (the entry was changed), `prev_hash_mismatch` (it does not link to the
    /// entry before), `missing` (entries before it were removed), `checkpoint_signature` (the
    /// checkpoint is not signed by this server's key) or `no_key`.
    #[schema(example = "hash_mismatch")]
    reason: String,
}

/// The checkpoint pruning left, which verification starts from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct AuditCheckpointDto {
    /// The last pruned entry; the chain goes on at `seq + 1`.
    seq: u64,
    /// Its hash.
    hash: String,
    /// Entries answered before this time were pruned.
    pruned_before: DateTime<Utc>,
    /// When it was written.
    created_at: DateTime<Utc>,
}

impl From<AuditCheckpoint> for AuditCheckpointDto {
    fn from(c: AuditCheckpoint) -> Self {
        Self {
            seq: c.seq,
            hash: c.hash,
            pruned_before: c.pruned_before,
            created_at: c.created_at,
        }
    }
}

/// What a walk along the chain found.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct AuditVerification {
    /// Whether every link holds.
    ok: bool,
    /// Entries checked before the first broken link (all of them when `ok`).
    checked: u64,
    /// The first broken link; `null` when `ok`.
    first_broken: Option<BrokenLinkDto>,
    /// The newest checkpoint, where the walk started; `null` when nothing was pruned.
    checkpoint: Option<AuditCheckpointDto>,
}

/// Walks the whole chain from the newest checkpoint (its signature checked) or from the
/// first entry, and names the first link that does not hold.
#[utoipa::path(get, path = "/api/audit/verify", tag = "audit",
    responses((status = 200, description = "the walk's result", body = AuditVerification),
        (status = 401, description = "no or bad token", body = ErrorBody),
        (status = 403, description = "not an admin token", body = ErrorBody)))]
pub(crate) async fn verify_audit(
    _auth: AdminAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<AuditVerification>> {
    let checkpoint = state.store().latest_audit_checkpoint().await?;
    let key = state.inner.audit.key();
    let verdict = |checked,
                   broken: Option<foreman_domain::audit::BrokenLink>,
                   cp: Option<AuditCheckpoint>| {
        Json(AuditVerification {
            ok: broken.is_none(),
            checked,
            first_broken: broken.map(|b| BrokenLinkDto {
                seq: b.seq,
                reason: b.reason.as_str().to_owned(),
            }),
            checkpoint: cp.map(AuditCheckpointDto::from),
        })
    };
    let mut walk = match ChainCheck::start(checkpoint.as_ref(), key) {
        Ok(w) => w,
        Err(broken) => return Ok(verdict(0, Some(broken), checkpoint)),
    };
    loop {
        let page = state
            .store()
            .audit_chain(walk.head().seq, VERIFY_PAGE)
            .await?;
        if page.is_empty() {
            return Ok(verdict(walk.checked(), None, checkpoint));
        }
        for entry in &page {
            if let Err(broken) = walk.check(entry) {
                return Ok(verdict(walk.checked(), Some(broken), checkpoint));
            }
        }
    }
}
