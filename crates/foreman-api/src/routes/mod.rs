//! Route modules. Each returns an `OpenApiRouter` whose handlers carry `#[utoipa::path]`, so a
//! route cannot be served without being documented (a test also checks the reverse).

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::openapi::{ApiDoc, OpenApiJson};
use crate::state::AppState;

pub(crate) mod audit;
pub(crate) mod channels;
pub(crate) mod checkpoints;
pub(crate) mod costs;
pub(crate) mod events;
pub(crate) mod history;
pub(crate) mod live;
pub(crate) mod mcp;
pub(crate) mod notifications;
pub(crate) mod rules;
pub(crate) mod runs;
pub(crate) mod search;
pub(crate) mod skills;
pub(crate) mod stats;
pub(crate) mod subscriptions;
pub(crate) mod system;
pub(crate) mod tasks;
pub(crate) mod tickets;
pub(crate) mod tokens;
pub(crate) mod usage_ingest;
pub(crate) mod webhooks;
pub(crate) mod workers;

/// Every route, and the OpenAPI document they make up: the one `split_for_parts()` returns,
/// completed and rendered once. The router serves exactly this document at
/// `/api/openapi.json` (the caller hands it to the handler as an extension).
pub(crate) fn build() -> (Router<AppState>, OpenApiJson) {
    let (router, api) = api_router().split_for_parts();
    (router, crate::openapi::render(api))
}

/// Every route, with the OpenAPI document they make up.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(system::router())
        .merge(tickets::router())
        .merge(tasks::router())
        .merge(checkpoints::router())
        .merge(events::router())
        .merge(live::router())
        .merge(runs::router())
        .merge(costs::router())
        .merge(notifications::router())
        .merge(stats::router())
        .merge(tokens::router())
        .merge(webhooks::router())
        .merge(subscriptions::router())
        .merge(search::router())
        .merge(history::router())
        .merge(workers::router())
        .merge(audit::router())
        .merge(channels::router())
        .merge(usage_ingest::router())
        .merge(mcp::router())
        .merge(rules::router())
        .merge(skills::router())
}
