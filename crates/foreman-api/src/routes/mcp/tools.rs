//! The MCP tools: each one calls the REST handler of the same operation (with the caller's
//! token checked for the route's scope by `Authed::granted`), so validation, events and
//! answers are the routes' own.
//!
//! A tool that fails answers a result with `isError: true` whose structured content is the
//! REST error body (`{"error": "...", "code": <the route's status>}`): a token lacking the
//! tool's scope gets `code` 403 and `token lacks the <scope> scope`. Arguments that do not fit
//! the tool's input schema, and unknown tools, are JSON-RPC errors (`-32602`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use foreman_domain::Scope;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::rpc::{INTERNAL_ERROR, RpcError};
use super::schema;
use crate::audit::AuditNote;
use crate::auth::{Caller, ReadAuth, WriteAuth};
use crate::dto::CreateTicket;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::{costs, notifications, search, system, tickets};
use crate::state::AppState;
use crate::validate::Int;

/// Who calls, on which server.
pub(crate) struct Ctx {
    pub state: AppState,
    pub caller: Caller,
}

/// A tool call's result, and what the audit trail should record of it.
pub(crate) struct Called {
    pub result: Value,
    pub audit: Option<AuditNote>,
}

/// Bytes of a handler's answer read at most (the routes' pages are far smaller).
const ANSWER_LIMIT: usize = 64 << 20;

/// One tool of the catalog.
struct Tool {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    scope: Scope,
    /// What the audit trail calls a successful call; `None`: it changes nothing.
    action: Option<&'static str>,
    destructive: bool,
    input: fn() -> Value,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "list_tickets",
        title: "List tickets",
        description: "Tickets, newest first, filtered by status (comma-separated), project, \
                      text or submitter; pass `next_cursor` back as `cursor` for the next page. \
                      Needs the read scope.",
        scope: Scope::Read,
        action: None,
        destructive: false,
        input: schema::of_params::<tickets::TicketQuery>,
    },
    Tool {
        name: "search_tickets",
        title: "Search tickets",
        description: "Full-text search over tickets (title, description, plan, tasks, reviews), \
                      best match first, with highlighted snippets. Needs the read scope.",
        scope: Scope::Read,
        action: None,
        destructive: false,
        input: schema::of_params::<search::SearchParams>,
    },
    Tool {
        name: "get_ticket",
        title: "Get a ticket",
        description: "One ticket in full with its tasks, its most recent events and its LLM \
                      costs by model. Needs the read scope.",
        scope: Scope::Read,
        action: None,
        destructive: false,
        input: schema::of_body::<TicketArgs>,
    },
    Tool {
        name: "create_ticket",
        title: "Create a ticket",
        description: "Submit work: a `prompt` (its first line becomes the title) or a `title` \
                      and `description`, with optional priority, tags, timeout, max_budget_usd, \
                      agent and webhook_url. The ticket starts queued. Needs the write scope.",
        scope: Scope::Write,
        action: Some("ticket.create"),
        destructive: false,
        input: schema::of_body::<CreateTicket>,
    },
    Tool {
        name: "retry_ticket",
        title: "Retry a ticket",
        description: "Queue a failed, blocked or partial ticket again. Needs the write scope.",
        scope: Scope::Write,
        action: Some("ticket.retry"),
        destructive: false,
        input: schema::of_body::<TicketRef>,
    },
    Tool {
        name: "cancel_ticket",
        title: "Cancel a ticket",
        description: "Stop a ticket: it becomes failed with the error `cancelled`; it can be \
                      retried. Needs the write scope.",
        scope: Scope::Write,
        action: Some("ticket.cancel"),
        destructive: true,
        input: schema::of_body::<TicketRef>,
    },
    Tool {
        name: "cost_summary",
        title: "Cost summary",
        description: "Spend today and this month, and LLM costs over a window grouped by day, \
                      model, role, runner, project or ticket. Needs the read scope.",
        scope: Scope::Read,
        action: None,
        destructive: false,
        input: schema::of_params::<costs::CostQuery>,
    },
    Tool {
        name: "get_budget",
        title: "Budget",
        description: "Limit, used, reserved and remaining spend of today and this month. Needs \
                      the read scope.",
        scope: Scope::Read,
        action: None,
        destructive: false,
        input: no_arguments,
    },
    Tool {
        name: "daemon_status",
        title: "Daemon status",
        description: "Server and daemon status: version, uptime, running or paused, why no \
                      work is taken. Needs the read scope.",
        scope: Scope::Read,
        action: None,
        destructive: false,
        input: no_arguments,
    },
    Tool {
        name: "pause_daemon",
        title: "Pause the daemon",
        description: "Pause the scheduler: running pipelines finish their current step, nothing \
                      new starts. Needs the write scope.",
        scope: Scope::Write,
        action: Some("daemon.pause"),
        destructive: false,
        input: no_arguments,
    },
    Tool {
        name: "resume_daemon",
        title: "Resume the daemon",
        description: "Resume a paused or drained scheduler. Needs the write scope.",
        scope: Scope::Write,
        action: Some("daemon.resume"),
        destructive: false,
        input: no_arguments,
    },
    Tool {
        name: "list_notifications",
        title: "List notifications",
        description: "Fired notifications (budget alerts, failures, …), newest first, by \
                      severity and acknowledgement; cursor-paginated. Needs the read scope.",
        scope: Scope::Read,
        action: None,
        destructive: false,
        input: schema::of_params::<notifications::NotificationQuery>,
    },
];

/// Arguments naming a ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TicketRef {
    /// The ticket's id.
    id: String,
}

/// Arguments of `get_ticket`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TicketArgs {
    /// The ticket's id.
    id: String,
    /// How many of the most recent events to include: default 20, from 0 to 100.
    #[serde(default)]
    #[schema(inline)]
    events: Option<Int<0, 100>>,
}

fn no_arguments() -> Value {
    schema::object(serde_json::Map::new(), Vec::new())
}

/// The `tools/list` result: every tool, whatever the caller's scopes (each says the scope it
/// needs in its description and in `_meta`).
pub(crate) fn list() -> Value {
    let tools: Vec<Value> = TOOLS
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "title": t.title,
                "description": t.description,
                "inputSchema": (t.input)(),
                "annotations": {
                    "title": t.title,
                    "readOnlyHint": t.action.is_none(),
                    "destructiveHint": t.destructive,
                    "idempotentHint": t.action.is_none() || t.name.ends_with("_daemon"),
                    "openWorldHint": false,
                },
                "_meta": { "foreman/scope": t.scope.as_str() },
            })
        })
        .collect();
    json!({ "tools": tools })
}

/// Why a tool did not answer.
enum Failure {
    /// Its arguments are wrong: a JSON-RPC error.
    Rpc(RpcError),
    /// The operation failed: a result with `isError`.
    Api(ApiError),
}

impl From<RpcError> for Failure {
    fn from(e: RpcError) -> Self {
        Self::Rpc(e)
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<crate::auth::AuthError> for Failure {
    fn from(e: crate::auth::AuthError) -> Self {
        Self::Api(e.into())
    }
}

/// `tools/call`: runs the named tool with its arguments.
pub(crate) async fn call(ctx: &Ctx, params: &Value) -> Result<Called, RpcError> {
    let name = params.get("name").and_then(Value::as_str).ok_or_else(|| {
        RpcError::invalid_params("invalid params: name: expected the name of a tool")
    })?;
    let Some(tool) = TOOLS.iter().find(|t| t.name == name) else {
        return Err(RpcError::invalid_params(format!(
            "unknown tool {name:?}; tools/list names them"
        )));
    };
    let args = match params.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(a) => a.clone(),
    };
    let outcome = if ctx.caller.grants(tool.scope) {
        run(ctx, tool, &(tool.input)(), &args).await
    } else {
        Err(Failure::Api(
            crate::auth::AuthError::Insufficient(tool.scope).into(),
        ))
    };
    match outcome {
        Ok(value) => {
            let audit = tool.action.map(|action| AuditNote {
                action: action.to_owned(),
                resource: resource_of(tool, &value, &args),
                via: Some("mcp"),
            });
            Ok(Called {
                result: success(value),
                audit,
            })
        }
        Err(Failure::Rpc(e)) => Err(e),
        Err(Failure::Api(e)) => Ok(Called {
            result: failure(&e),
            audit: None,
        }),
    }
}

/// What a mutating call acted on, for the audit trail.
fn resource_of(tool: &Tool, value: &Value, args: &Value) -> Option<String> {
    match tool.name {
        "create_ticket" => value.get("id").and_then(Value::as_str),
        "retry_ticket" | "cancel_ticket" => args.get("id").and_then(Value::as_str),
        _ => return Some("daemon".to_owned()),
    }
    .map(|id| format!("ticket/{id}"))
}

fn success(value: Value) -> Value {
    json!({
        "content": [{ "type": "text", "text": value.to_string() }],
        "structuredContent": value,
        "isError": false,
    })
}

fn failure(e: &ApiError) -> Value {
    if let ApiError::Internal(source) = e {
        tracing::error!(error = %source, source = ?source, "mcp tool failed");
    }
    let body = serde_json::to_value(e.body()).unwrap_or_else(|_| json!({}));
    json!({
        "content": [{ "type": "text", "text": body.to_string() }],
        "structuredContent": body,
        "isError": true,
    })
}

async fn run(ctx: &Ctx, tool: &Tool, input: &Value, args: &Value) -> Result<Value, Failure> {
    let state = || State(ctx.state.clone());
    let read = || ReadAuth::granted(ctx.caller.clone());
    let write = || WriteAuth::granted(ctx.caller.clone());
    Ok(match tool.name {
        "list_tickets" => {
            let q = schema::read(input, args)?;
            let (items, headers) =
                answer(tickets::list_tickets(read()?, state(), ApiQuery(q)).await).await?;
            json!({ "items": items, "next_cursor": next_cursor(&headers) })
        }
        "search_tickets" => {
            let q = schema::read(input, args)?;
            typed(search::search_tickets(read()?, state(), ApiQuery(q)).await)?
        }
        "get_ticket" => {
            let a: TicketArgs = schema::read(input, args)?;
            ticket_in_full(ctx, a).await?
        }
        "create_ticket" => {
            let body: CreateTicket = schema::read(input, args)?;
            let r = tickets::submit::create_ticket(write()?, state(), ApiJson(body)).await;
            answer(r).await?.0
        }
        "retry_ticket" => {
            let a: TicketRef = schema::read(input, args)?;
            typed(tickets::retry_ticket(write()?, state(), ApiPath(a.id)).await)?
        }
        "cancel_ticket" => {
            let a: TicketRef = schema::read(input, args)?;
            typed(tickets::cancel_ticket(write()?, state(), ApiPath(a.id)).await)?
        }
        "cost_summary" => {
            let q = schema::read(input, args)?;
            json!({
                "today": typed(costs::cost_today(read()?, state()).await)?,
                "month": typed(costs::cost_month(read()?, state()).await)?,
                "report": typed(costs::cost_breakdown(read()?, state(), ApiQuery(q)).await)?,
            })
        }
        "get_budget" => {
            schema::read::<Empty>(input, args)?;
            typed(notifications::budget(read()?, state()).await)?
        }
        "daemon_status" => {
            schema::read::<Empty>(input, args)?;
            typed(system::status(read()?, state()).await)?
        }
        "pause_daemon" => {
            schema::read::<Empty>(input, args)?;
            typed(system::pause(write()?, state()).await)?
        }
        "resume_daemon" => {
            schema::read::<Empty>(input, args)?;
            typed(system::resume(write()?, state()).await)?
        }
        "list_notifications" => {
            let q = schema::read(input, args)?;
            typed(notifications::list_notifications(read()?, state(), ApiQuery(q)).await)?
        }
        other => {
            return Err(Failure::Rpc(RpcError::new(
                INTERNAL_ERROR,
                format!("tool {other} has no implementation"),
            )));
        }
    })
}

/// No arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// `get_ticket`: the ticket, its tasks, its last events and its costs by model.
async fn ticket_in_full(ctx: &Ctx, a: TicketArgs) -> Result<Value, Failure> {
    let auth = || ReadAuth::granted(ctx.caller.clone());
    let state = || State(ctx.state.clone());
    let (ticket, _) =
        answer(tickets::get_ticket(auth()?, state(), ApiPath(a.id.clone())).await).await?;
    let tasks = typed(tickets::ticket_tasks(auth()?, state(), ApiPath(a.id.clone())).await)?;
    let axum::Json(mut events) =
        tickets::ticket_events(auth()?, state(), ApiPath(a.id.clone())).await?;
    let keep = a.events.map_or(20, Int::to::<usize>);
    events.drain(..events.len().saturating_sub(keep));
    let axum::Json(calls) = tickets::ticket_llm_calls(auth()?, state(), ApiPath(a.id)).await?;
    let mut by_model = std::collections::BTreeMap::<String, (u64, f64)>::new();
    for c in &calls {
        let e = by_model.entry(c.model.clone()).or_default();
        e.0 += 1;
        e.1 += c.cost_usd;
    }
    let by_model: Vec<Value> = by_model
        .into_iter()
        .map(|(model, (calls, cost))| {
            json!({ "model": model, "calls": calls, "cost_usd": (cost * 1e6).round() / 1e6 })
        })
        .collect();
    Ok(json!({
        "ticket": ticket,
        "tasks": tasks,
        "events": events,
        "costs": {
            "cost_usd": ticket.get("cost_usd"),
            "tokens_input": ticket.get("tokens_input"),
            "tokens_output": ticket.get("tokens_output"),
            "llm_calls": calls.len(),
            "by_model": by_model,
        },
    }))
}

/// A handler's typed JSON answer as a value.
fn typed<T: Serialize>(r: Result<axum::Json<T>, ApiError>) -> Result<Value, ApiError> {
    let axum::Json(v) = r?;
    serde_json::to_value(v).map_err(ApiError::internal)
}

/// A handler's answer (any response) as its JSON body and headers.
pub(super) async fn answer<R: IntoResponse>(
    r: Result<R, ApiError>,
) -> Result<(Value, HeaderMap), ApiError> {
    let (parts, body) = r?.into_response().into_parts();
    let bytes = axum::body::to_bytes(body, ANSWER_LIMIT)
        .await
        .map_err(|e| ApiError::internal(std::io::Error::other(e.to_string())))?;
    let value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
    if !parts.status.is_success() {
        return Err(ApiError::internal(std::io::Error::other(format!(
            "a handler answered {}",
            parts.status
        ))));
    }
    Ok((value, parts.headers))
}

/// The `X-Next-Cursor` of a page.
pub(super) fn next_cursor(headers: &HeaderMap) -> Value {
    headers
        .get("x-next-cursor")
        .and_then(|v| v.to_str().ok())
        .map_or(Value::Null, |c| Value::String(c.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_closed_object_schema_without_references() {
        let list = list();
        let tools = list["tools"].as_array().unwrap();
        assert_eq!(tools.len(), TOOLS.len());
        for t in tools {
            let s = &t["inputSchema"];
            assert_eq!(s["type"], "object", "{}", t["name"]);
            assert_eq!(s["additionalProperties"], false, "{}", t["name"]);
            assert!(!s.to_string().contains("$ref"), "{}: {s}", t["name"]);
        }
        let create = tools.iter().find(|t| t["name"] == "create_ticket").unwrap();
        for field in [
            "prompt",
            "title",
            "description",
            "priority",
            "tags",
            "timeout",
            "max_budget_usd",
            "agent",
            "webhook_url",
        ] {
            assert!(
                create["inputSchema"]["properties"].get(field).is_some(),
                "{field}"
            );
        }
    }

    #[test]
    fn mutating_tools_need_write_and_are_audited() {
        for t in TOOLS {
            assert_eq!(t.action.is_some(), t.scope == Scope::Write, "{}", t.name);
        }
    }
}
