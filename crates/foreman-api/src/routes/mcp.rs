//! `/mcp`: a Model Context Protocol server over Streamable HTTP (protocol 2025-06-18, and
//! 2025-03-26 with its batches), written against the specification rather than with an SDK
//! (`docs/architecture.md` says why).
//!
//! Every request carries a bearer token, checked like the REST routes' (401 with the JSON
//! error body when missing or bad). Any valid token may `initialize`, `ping` and list; each
//! tool and resource needs the scope of the REST route it calls (`tools.rs`,
//! `resources.rs`). Answers are `application/json`; the server opens no stream of its own
//! (`GET` is not routed: a 405). `initialize` issues an `Mcp-Session-Id`; later requests may present it
//! (an unknown one is a 404, so the client initializes again) or go without.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use foreman_domain::Scope;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::AuditNote;
use crate::auth::{AuthError, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::mcp_sessions::Owner;
use crate::state::AppState;

#[cfg(test)]
mod audit_tests;
mod resources;
mod rpc;
mod schema;
mod tools;

use rpc::{INVALID_REQUEST, METHOD_NOT_FOUND, Message, PARSE_ERROR, RpcError};
use tools::Ctx;

/// The newest protocol version spoken, offered to clients that ask for one not spoken.
pub(crate) const LATEST_VERSION: &str = "2025-06-18";

/// The protocol versions spoken.
const VERSIONS: &[&str] = &[LATEST_VERSION, "2025-03-26"];

/// The version assumed when neither a header nor a session says (the specification's rule).
const ASSUMED_VERSION: &str = "2025-03-26";

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_mcp, delete_mcp))
}

/// Send MCP messages (JSON-RPC 2.0): one message, or with protocol 2025-03-26 a batch.
///
/// Methods: `initialize` (answers with an `Mcp-Session-Id` header), `ping`, `tools/list`,
/// `tools/call`, `resources/list`, `resources/templates/list`, `resources/read`; notifications
/// are accepted with a 202 and no body. The answer is a JSON-RPC response (an array for a
/// batch). A body that is not JSON or not JSON-RPC is a 400 whose JSON error body names the
/// JSON-RPC error (`-32700`, `-32600`). See docs/api.md, "MCP server", for the tools and the
/// scopes they need.
#[utoipa::path(post, path = "/mcp", tag = "mcp",
    request_body(content = Object, content_type = "application/json",
        description = "a JSON-RPC 2.0 request or notification, or an array of them (2025-03-26)"),
    params(
        ("mcp-session-id" = Option<String>, Header, description = "the session `initialize` issued"),
        ("mcp-protocol-version" = Option<String>, Header, description = "`2025-06-18` or `2025-03-26`"),
    ),
    responses(
        (status = 200, description = "the JSON-RPC response (an array for a batch)", body = Object,
            headers(("mcp-session-id" = String, description = "issued by `initialize`"))),
        (status = 202, description = "only notifications or responses were sent"),
        (status = 400, description = "not JSON (`parse error (-32700): …`), not JSON-RPC (`invalid request (-32600): …`), or an unsupported `MCP-Protocol-Version`", body = ErrorBody),
        (status = 404, description = "the `Mcp-Session-Id` is unknown or expired: initialize again", body = ErrorBody),
        (status = 406, description = "the client does not accept `application/json`", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn post_mcp(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match caller(&state, &headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if !accepts_json(&headers) {
        let e = ErrorBody {
            error: "the client must accept application/json".to_owned(),
            code: StatusCode::NOT_ACCEPTABLE.as_u16(),
        };
        return (StatusCode::NOT_ACCEPTABLE, axum::Json(e)).into_response();
    }
    if !is_json(&headers) {
        return ApiError::UnsupportedMediaType(
            "expected request with `content-type: application/json`".to_owned(),
        )
        .into_response();
    }
    let version = match version(&state, &headers, &caller) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return refused(RpcError::new(
                PARSE_ERROR,
                format!("parse error: {}", e.to_string().to_lowercase()),
            ));
        }
    };
    let ctx = Ctx { state, caller };
    let mut audit = None;
    let mut session = None;
    let answer = match parsed {
        Value::Array(items) => {
            if version != ASSUMED_VERSION {
                return refused(RpcError::new(
                    INVALID_REQUEST,
                    format!("invalid request: batches are not part of protocol version {version}"),
                ));
            }
            if items.is_empty() {
                return refused(RpcError::new(
                    INVALID_REQUEST,
                    "invalid request: an empty batch",
                ));
            }
            let mut answers = Vec::new();
            for item in items {
                if let Some(a) =
                    handle(&ctx, Message::parse(item), true, &mut audit, &mut session).await
                {
                    answers.push(a);
                }
            }
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        single => match Message::parse(single) {
            Message::Invalid { error, .. } => return refused(error),
            m => handle(&ctx, m, false, &mut audit, &mut session).await,
        },
    };
    let mut response = match answer {
        Some(a) => axum::Json(a).into_response(),
        None => StatusCode::ACCEPTED.into_response(),
    };
    if let Some(id) = session
        && let Ok(v) = HeaderValue::from_str(&id)
    {
        response.headers_mut().insert(SESSION_HEADER, v);
    }
    if let Some(note) = audit {
        response.extensions_mut().insert(note);
    }
    response
}

/// End an MCP session (the `Mcp-Session-Id` header names it); only the token that opened it
/// may.
#[utoipa::path(delete, path = "/mcp", tag = "mcp",
    params(("mcp-session-id" = String, Header, description = "the session to end")),
    responses((status = 204, description = "the session ended"),
        (status = 400, description = "no `Mcp-Session-Id` header", body = ErrorBody),
        (status = 404, description = "no such session", body = ErrorBody)))]
pub(crate) async fn delete_mcp(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let caller = match caller(&state, &headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) else {
        return ApiError::BadRequest("missing Mcp-Session-Id header".to_owned()).into_response();
    };
    if state.inner.mcp_sessions.close(id, &owner(&caller)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        ApiError::NotFound("mcp session not found".to_owned()).into_response()
    }
}

/// The caller, if the token is valid. A valid token without even the read scope may still
/// initialize and list (every tool will refuse it).
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let token = crate::auth::bearer_from_header(headers)?;
    match crate::auth::authenticate(state, token.as_deref(), Scope::Read).await {
        Ok(c) => Ok(c),
        Err(AuthError::Insufficient(_)) => Ok(Caller {
            name: String::new(),
            token_id: None,
            scopes: Vec::new(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// The owner of the sessions a caller opens.
fn owner(caller: &Caller) -> Owner {
    Owner {
        token_id: caller.token_id.clone(),
        name: caller.name.clone(),
    }
}

/// Whether the `Accept` header allows a JSON answer (no header: yes).
fn accepts_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case("application/json")
            || media == "*/*"
            || media.eq_ignore_ascii_case("application/*")
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// The protocol version of this request: the header's, else the session's, else the assumed
/// one. An unsupported header is a 400; an unknown session a 404.
fn version(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
) -> Result<&'static str, ApiError> {
    let from_header = match headers.get(VERSION_HEADER) {
        None => None,
        Some(v) => {
            let v = v.to_str().unwrap_or_default();
            Some(*VERSIONS.iter().find(|s| **s == v).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "unsupported MCP-Protocol-Version {v:?}; supported: {}",
                    VERSIONS.join(", ")
                ))
            })?)
        }
    };
    let from_session = match headers.get(SESSION_HEADER) {
        None => None,
        Some(id) => Some(
            id.to_str()
                .ok()
                .and_then(|id| state.inner.mcp_sessions.resume(id, &owner(caller)))
                .ok_or_else(|| {
                    ApiError::NotFound("mcp session not found; initialize again".to_owned())
                })?,
        ),
    };
    Ok(from_header.or(from_session).unwrap_or(ASSUMED_VERSION))
}

/// A 400 with the JSON error body naming the JSON-RPC error (`parse error (-32700): …`): the
/// transport answers input it cannot accept with an HTTP error, and every error body of the
/// API has one shape.
fn refused(e: RpcError) -> Response {
    let (kind, detail) = e.message.split_once(": ").unwrap_or((&e.message, ""));
    ApiError::BadRequest(format!("{kind} ({}): {detail}", e.code)).into_response()
}

/// Handles one message; the answer, if it gets one.
async fn handle(
    ctx: &Ctx,
    message: Message,
    in_batch: bool,
    audit: &mut Option<AuditNote>,
    session: &mut Option<String>,
) -> Option<Value> {
    let (id, method, params) = match message {
        Message::Request { id, method, params } => (id, method, params),
        Message::Invalid { id, error } => return Some(rpc::answer(id, Err(error))),
        Message::Notification | Message::Response => return None,
    };
    let outcome = match method.as_str() {
        "initialize" if in_batch => Err(RpcError::new(
            INVALID_REQUEST,
            "invalid request: initialize must not be part of a batch",
        )),
        "initialize" => {
            let (result, version) = initialize(&params);
            *session = Some(
                ctx.state
                    .inner
                    .mcp_sessions
                    .open(owner(&ctx.caller), version),
            );
            Ok(result)
        }
        "ping" => Ok(json!({})),
        "tools/list" => Ok(tools::list()),
        "tools/call" => tools::call(ctx, &params).await.map(|called| {
            if called.audit.is_some() {
                *audit = called.audit;
            }
            called.result
        }),
        "resources/list" => resources::list(ctx, &params).await,
        "resources/templates/list" => Ok(resources::templates()),
        "resources/read" => resources::read(ctx, &params).await,
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("method not found: {other}"),
        )),
    };
    Some(rpc::answer(id, outcome))
}

/// The `initialize` result, and the version agreed: the client's when spoken, else the latest.
fn initialize(params: &Value) -> (Value, &'static str) {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = VERSIONS
        .iter()
        .find(|v| Some(**v) == asked)
        .copied()
        .unwrap_or(LATEST_VERSION);
    let result = json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": { "listChanged": false },
            "resources": { "subscribe": false, "listChanged": false },
        },
        "serverInfo": {
            "name": "foreman",
            "title": "Foreman",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": "Foreman turns tickets into pull requests. List, search and read \
            tickets, submit new ones with create_ticket, retry or cancel them, and watch \
            costs, budgets and the daemon. Each tool says the token scope it needs.",
    });
    (result, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_clients_when_spoken_else_the_latest() {
        let (r, v) = initialize(&json!({"protocolVersion": "2025-03-26"}));
        assert_eq!(
            (v, r["protocolVersion"].as_str()),
            ("2025-03-26", Some("2025-03-26"))
        );
        assert_eq!(
            initialize(&json!({"protocolVersion": "2099-01-01"})).1,
            LATEST_VERSION
        );
        assert_eq!(initialize(&json!({})).1, LATEST_VERSION);
    }

    #[test]
    fn accept_headers_are_read_by_media_range() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_static(v));
            h
        };
        assert!(accepts_json(&HeaderMap::new()));
        assert!(accepts_json(&with("application/json, text/event-stream")));
        assert!(accepts_json(&with("text/event-stream;q=1, */*;q=0.1")));
        assert!(!accepts_json(&with("text/event-stream")));
        assert!(!accepts_json(&with("text/html")));
    }
}
