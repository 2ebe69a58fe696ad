//! The audit trail of mutating calls.
//!
//! [`record`] is a layer around every route: for each POST, PUT, PATCH or DELETE that matched
//! a route it appends one `foreman_domain::audit::AuditEntry` — time, the caller's token id and
//! name (none when the request was refused with 401), the client address (trusted proxies
//! believed as for the rate limits), the action and resource ([`ACTIONS`], or the handler's
//! [`AuditNote`]), the outcome with the status code, and the request id (`X-Request-Id`: the
//! client's when it is a sane token, else a fresh one; echoed in the response).
//!
//! The entry is committed before the response leaves: the request waits for the group commit
//! of the audit writer ([`AuditLog`]), which appends everything waiting in one transaction. An
//! acknowledged call therefore has its entry in the database, whatever happens to the process
//! afterwards; concurrent calls share one commit.
//!
//! Not recorded: requests that matched no route (nothing ran), 429s (refused before any work;
//! recording them would let a flood grow the trail) and tracker webhooks refused for a bad
//! signature (401), which are not rate limited either. Accepted tracker webhooks are recorded
//! with `via = "webhook"` and no actor.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use foreman_domain::audit::{AuditOutcome, NewAuditEntry};
use foreman_domain::{StoreResult, TokenId};
use tokio::sync::{mpsc, oneshot};

use crate::audit_log::Pending;
use crate::state::{AppState, Inner};

/// What a handler tells the audit layer about the call it served, placed in the response's
/// extensions (`response.extensions_mut().insert(AuditNote { .. })`). When present it replaces
/// the action and resource the audit layer would derive from the method and route, so calls
/// that share one route (the MCP endpoint's tools, say) are recorded as what they did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuditNote {
    /// Dotted action name, e.g. `ticket.create`, `ticket.cancel`, `daemon.pause`.
    pub action: String,
    /// The resource acted on, e.g. `ticket/42`; `None`: none or unknown.
    pub resource: Option<String>,
    /// The channel the call came through (`api`, `mcp`, `channel`); `None`: `api`.
    pub via: Option<&'static str>,
}

/// The request id header.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// Longest client-chosen request id kept; longer or odd ones are replaced.
const MAX_REQUEST_ID: usize = 128;

/// Most entries one commit of the writer takes.
const GROUP: usize = 512;

/// Where a route's resource comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    /// None.
    None,
    /// A fixed name.
    Fixed(&'static str),
    /// `<kind>/<the {id} path parameter>`.
    Param(&'static str),
    /// `<kind>/<the "id" of the JSON response>`, for creations (when successful).
    Created(&'static str),
}

/// Every mutating route's action and resource, in one place: `(method, route, action,
/// resource)`. A route missing here still gets an entry, with an action derived from its path
/// ([`derived_action`]).
pub(crate) const ACTIONS: &[(Method, &str, &str, Resource)] = &[
    (
        Method::POST,
        "/api/tickets",
        "ticket.create",
        Resource::Created("ticket"),
    ),
    (
        Method::POST,
        "/api/tickets/batch",
        "ticket.create_batch",
        Resource::None,
    ),
    (
        Method::DELETE,
        "/api/tickets/{id}",
        "ticket.delete",
        Resource::Param("ticket"),
    ),
    (
        Method::POST,
        "/api/tickets/{id}/retry",
        "ticket.retry",
        Resource::Param("ticket"),
    ),
    (
        Method::POST,
        "/api/tickets/{id}/cancel",
        "ticket.cancel",
        Resource::Param("ticket"),
    ),
    (
        Method::POST,
        "/api/tickets/{id}/rollback",
        "ticket.rollback",
        Resource::Param("ticket"),
    ),
    (
        Method::POST,
        "/api/tasks/{id}/retry",
        "task.retry",
        Resource::Param("task"),
    ),
    (
        Method::POST,
        "/api/tokens",
        "token.create",
        Resource::Created("token"),
    ),
    (
        Method::DELETE,
        "/api/tokens/{id}",
        "token.revoke",
        Resource::Param("token"),
    ),
    (
        Method::POST,
        "/api/daemon/pause",
        "daemon.pause",
        Resource::Fixed("daemon"),
    ),
    (
        Method::POST,
        "/api/daemon/resume",
        "daemon.resume",
        Resource::Fixed("daemon"),
    ),
    (
        Method::POST,
        "/api/daemon/drain",
        "daemon.drain",
        Resource::Fixed("daemon"),
    ),
    (
        Method::POST,
        "/api/daemon/stop",
        "daemon.stop",
        Resource::Fixed("daemon"),
    ),
    (
        Method::PUT,
        "/api/notifications/triggers",
        "notification.triggers_update",
        Resource::Fixed("notification_triggers"),
    ),
    (
        Method::POST,
        "/api/notifications/{id}/acknowledge",
        "notification.acknowledge",
        Resource::Param("notification"),
    ),
    (
        Method::POST,
        "/api/notifications/acknowledge-all",
        "notification.acknowledge_all",
        Resource::None,
    ),
    (
        Method::POST,
        "/api/webhooks/github",
        "tracker_webhook.receive",
        Resource::Fixed("tracker/github"),
    ),
    (
        Method::POST,
        "/api/webhooks/gitlab",
        "tracker_webhook.receive",
        Resource::Fixed("tracker/gitlab"),
    ),
    (
        Method::POST,
        "/api/webhooks/jira",
        "tracker_webhook.receive",
        Resource::Fixed("tracker/jira"),
    ),
    (
        Method::POST,
        "/api/webhooks/linear",
        "tracker_webhook.receive",
        Resource::Fixed("tracker/linear"),
    ),
    (
        Method::POST,
        "/api/webhooks/subscriptions",
        "webhook.create",
        Resource::Created("webhook"),
    ),
    (
        Method::PATCH,
        "/api/webhooks/subscriptions/{id}",
        "webhook.update",
        Resource::Param("webhook"),
    ),
    (
        Method::PUT,
        "/api/webhooks/subscriptions/{id}",
        "webhook.update",
        Resource::Param("webhook"),
    ),
    (
        Method::DELETE,
        "/api/webhooks/subscriptions/{id}",
        "webhook.delete",
        Resource::Param("webhook"),
    ),
    (
        Method::POST,
        "/api/webhooks/subscriptions/{id}/test",
        "webhook.test",
        Resource::Param("webhook"),
    ),
    (
        Method::POST,
        "/api/llm/usage",
        "llm_usage.record",
        Resource::None,
    ),
    (Method::POST, "/mcp", "mcp.request", Resource::None),
    (
        Method::PUT,
        "/api/rules/{project}",
        "rules.replace",
        Resource::None,
    ),
    (
        Method::POST,
        "/api/rules/{project}/validate",
        "rules.validate",
        Resource::None,
    ),
    (
        Method::POST,
        "/api/rules/{project}/{rule_id}/accept",
        "rule.accept",
        Resource::None,
    ),
    (
        Method::POST,
        "/api/rules/{project}/{rule_id}/reject",
        "rule.reject",
        Resource::None,
    ),
    (
        Method::POST,
        "/api/rules/{project}/import",
        "rules.import",
        Resource::None,
    ),
];

/// The tracker webhook receivers: signature-authenticated, recorded only when accepted.
fn is_tracker_webhook(route: &str) -> bool {
    matches!(
        route,
        "/api/webhooks/github"
            | "/api/webhooks/gitlab"
            | "/api/webhooks/jira"
            | "/api/webhooks/linear"
    )
}

/// The action and resource kind of `method` on `route`.
pub(crate) fn action_of(method: &Method, route: &str) -> (String, Resource) {
    ACTIONS
        .iter()
        .find(|(m, r, _, _)| m == method && *r == route)
        .map_or_else(
            || (derived_action(method, route), Resource::None),
            |(_, _, action, resource)| ((*action).to_owned(), *resource),
        )
}

/// An action for a route the table does not name: the path's literal segments after `/api`
/// joined with dots (the first made singular), then the method's verb when the path ends in a
/// parameter or has one segment (`POST /api/widgets` → `widget.create`,
/// `PATCH /api/widgets/{id}` → `widget.update`, `POST /api/widgets/{id}/spin` → `widget.spin`).
pub(crate) fn derived_action(method: &Method, route: &str) -> String {
    let segments: Vec<&str> = route
        .trim_start_matches('/')
        .trim_start_matches("api/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut words: Vec<String> = segments
        .iter()
        .filter(|s| !s.starts_with('{'))
        .map(|s| s.replace('-', "_"))
        .collect();
    if let Some(first) = words.first_mut()
        && first.len() > 1
        && let Some(singular) = first.strip_suffix('s')
    {
        *first = singular.to_owned();
    }
    let ends_in_param = segments.last().is_some_and(|s| s.starts_with('{'));
    if ends_in_param || words.len() <= 1 {
        words.push(
            match *method {
                Method::POST => "create",
                Method::PUT | Method::PATCH => "update",
                Method::DELETE => "delete",
                _ => "call",
            }
            .to_owned(),
        );
    }
    words.join(".")
}

/// The value of the route's `{id}` parameter in `path`.
fn path_param(route: &str, path: &str) -> Option<String> {
    let at = route.split('/').position(|s| s == "{id}")?;
    path.split('/')
        .nth(at)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Appends `entry` through the writer and waits for its commit.
pub(crate) async fn append(state: &AppState, entry: NewAuditEntry) -> StoreResult<()> {
    let queue = state.inner.audit.queue.get_or_init(|| {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(Arc::downgrade(&state.inner), rx));
        tx
    });
    let (reply, done) = oneshot::channel();
    if queue.send(Pending { entry, reply }).is_err() {
        return Err(foreman_domain::StoreError::Invalid(
            "audit writer stopped".into(),
        ));
    }
    done.await.unwrap_or_else(|_| {
        Err(foreman_domain::StoreError::Invalid(
            "audit writer stopped".into(),
        ))
    })
}

/// The writer: takes every entry waiting (up to [`GROUP`]) and commits them as one append.
async fn write_groups(state: Weak<Inner>, mut waiting: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = waiting.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP {
            let Ok(next) = waiting.try_recv() else { break };
            group.push(next);
        }
        let Some(inner) = state.upgrade() else { break };
        let entries = group.iter().map(|p| p.entry.clone()).collect();
        let result = inner.store.append_audit(entries).await;
        drop(inner);
        match result {
            Ok(_) => {
                metrics::counter!("foreman_audit_entries_total").increment(group.len() as u64);
                for p in group {
                    let _ = p.reply.send(Ok(()));
                }
            }
            Err(e) => {
                let code = e.code();
                tracing::error!(error = %e, entries = group.len(), "could not append to the audit trail");
                for p in group {
                    let _ = p
                        .reply
                        .send(Err(foreman_domain::StoreError::Invalid(code.to_owned())));
                }
            }
        }
    }
}

/// The caller a bearer token names, as the audit trail records it: `(token id, name)`.
async fn actor(state: &AppState, headers: &HeaderMap) -> (Option<TokenId>, Option<String>) {
    let Ok(Some(token)) = crate::auth::bearer_from_header(headers) else {
        return (None, None);
    };
    let hash = foreman_domain::hash_token(&token);
    if state
        .inner
        .static_token_hash
        .as_ref()
        .is_some_and(|expected| foreman_domain::hashes_match(&hash, expected))
    {
        return (None, Some("dashboard".to_owned()));
    }
    match state.store().find_token_by_hash(&hash).await {
        Ok(Some(t)) if foreman_domain::hashes_match(&t.token_hash, &hash) => {
            (Some(t.id), Some(t.name))
        }
        _ => (None, None),
    }
}

/// The client's request id when it is a sane token, else a fresh random one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_REQUEST_ID
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(|| hex::encode(rand::random::<[u8; 16]>()), str::to_owned)
}

fn is_mutating(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The layer: see the module documentation.
pub(crate) async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !is_mutating(req.method())
        || state
            .inner
            .audit
            .off
            .load(std::sync::atomic::Ordering::Relaxed)
    {
        return next.run(req).await;
    }
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let client = state.inner.rate.client_addr(peer, req.headers());
    let request_id = request_id(req.headers());
    // who it is before the handler runs: a token revoking itself is still its own actor
    let (token_id, name) = actor(&state, req.headers()).await;

    let mut response = next.run(req).await;
    let status = response.status();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    let webhook = is_tracker_webhook(&route);
    if status == StatusCode::TOO_MANY_REQUESTS || (webhook && status == StatusCode::UNAUTHORIZED) {
        return response;
    }
    let note = response.extensions().get::<AuditNote>().cloned();
    let (action, resource, via) = match note {
        Some(note) => (note.action, note.resource, note.via.unwrap_or("api")),
        None => {
            let (action, kind) = action_of(&method, &route);
            let (resource, r) = match kind {
                Resource::None => (None, response),
                Resource::Fixed(name) => (Some(name.to_owned()), response),
                Resource::Param(kind) => (
                    path_param(&route, &path).map(|id| format!("{kind}/{id}")),
                    response,
                ),
                Resource::Created(kind) if status.is_success() => {
                    let (id, r) = created_id(response).await;
                    (id.map(|id| format!("{kind}/{id}")), r)
                }
                Resource::Created(_) => (None, response),
            };
            response = r;
            (action, resource, if webhook { "webhook" } else { "api" })
        }
    };
    let unknown = status == StatusCode::UNAUTHORIZED || webhook;
    let entry = NewAuditEntry {
        at: foreman_domain::now(),
        token_id: if unknown { None } else { token_id },
        actor: if unknown { None } else { name },
        client_addr: Some(client.to_string()),
        action,
        resource,
        via: via.to_owned(),
        outcome: AuditOutcome::of_status(status.as_u16()),
        status: status.as_u16(),
        request_id: Some(request_id),
    };
    if let Err(e) = append(&state, entry).await {
        // the change has happened; the response stands, the gap is loud
        metrics::counter!("foreman_audit_append_failures_total").increment(1);
        tracing::error!(error = %e, route = %route, "mutating request answered without its audit entry");
    }
    response
}

/// The `id` of a successful JSON response, and the response rebuilt from its buffered body.
async fn created_id(response: Response) -> (Option<String>, Response) {
    let (parts, body) = response.into_parts();
    // the handler's answer is already in memory; reading it whole costs no extra copy
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a created resource's answer");
            return (None, crate::error::ApiError::internal(e).into_response());
        }
    };
    #[derive(serde::Deserialize)]
    struct Created {
        id: serde_json::Value,
    }
    let id = serde_json::from_slice::<Created>(&bytes)
        .ok()
        .and_then(|c| match c.id {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    (id, Response::from_parts(parts, Body::from(bytes)))
}

/// Prunes entries older than `retention` every `every`, behind a checkpoint signed with the
/// state's key, for as long as the state lives.
pub(crate) fn spawn_retention(state: &AppState, retention: Duration, every: Duration) {
    let weak = Arc::downgrade(&state.inner);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { break };
            let Some(key) = inner.audit.key().cloned() else {
                continue;
            };
            let Ok(age) = chrono::Duration::from_std(retention) else {
                break;
            };
            let cut = foreman_domain::now() - age;
            match inner.store.prune_audit(cut, &key).await {
                Ok(Some(cp)) => {
                    tracing::info!(up_to_seq = cp.seq, "audit trail pruned behind a checkpoint");
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "could not prune the audit trail"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_every_known_route_once() {
        for (i, (m, r, _, _)) in ACTIONS.iter().enumerate() {
            assert!(
                !ACTIONS[i + 1..]
                    .iter()
                    .any(|(m2, r2, _, _)| m2 == m && r2 == r),
                "{m} {r} twice"
            );
        }
        assert_eq!(
            action_of(&Method::POST, "/api/tickets/{id}/cancel").0,
            "ticket.cancel"
        );
    }

    #[test]
    fn unknown_routes_get_a_derived_action() {
        assert_eq!(
            derived_action(&Method::POST, "/api/widgets"),
            "widget.create"
        );
        assert_eq!(
            derived_action(&Method::PATCH, "/api/widgets/{id}"),
            "widget.update"
        );
        assert_eq!(
            derived_action(&Method::DELETE, "/api/widgets/{id}"),
            "widget.delete"
        );
        assert_eq!(
            derived_action(&Method::POST, "/api/widgets/{id}/spin-up"),
            "widget.spin_up"
        );
    }

    #[test]
    fn the_id_parameter_is_read_from_the_path() {
        assert_eq!(
            path_param("/api/tickets/{id}/cancel", "/api/tickets/LOCAL-7/cancel").as_deref(),
            Some("LOCAL-7")
        );
        assert_eq!(path_param("/api/daemon/pause", "/api/daemon/pause"), None);
    }

    #[test]
    fn odd_request_ids_are_replaced() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert(REQUEST_ID, HeaderValue::from_static("a b"));
        assert_eq!(request_id(&h).len(), 32);
        assert_eq!(request_id(&HeaderMap::new()).len(), 32);
    }
}
