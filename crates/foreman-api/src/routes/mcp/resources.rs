//! The MCP resources: a ticket document (`foreman://tickets/{id}`: the ticket with its tasks)
//! and a task document (`foreman://tickets/{id}/tasks/{task_id}`), read through the REST
//! handlers like the tools. Every resource needs the read scope; a refusal is the JSON-RPC
//! error `-32003`, an unknown ticket or task `-32002`.

use axum::extract::State;
use serde_json::{Value, json};

use super::rpc::{FORBIDDEN, RESOURCE_NOT_FOUND, RpcError};
use super::tools::{Ctx, answer, next_cursor};
use crate::auth::{AuthError, ReadAuth};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::tickets;

const SCHEME: &str = "foreman://tickets/";
const JSON: &str = "application/json";

/// Tickets a `resources/list` page holds.
const PAGE: u32 = 50;

/// `resources/templates/list`.
pub(crate) fn templates() -> Value {
    json!({ "resourceTemplates": [
        {
            "uriTemplate": "foreman://tickets/{id}",
            "name": "ticket",
            "title": "Ticket",
            "description": "A ticket in full with its tasks.",
            "mimeType": JSON,
        },
        {
            "uriTemplate": "foreman://tickets/{id}/tasks/{task_id}",
            "name": "task",
            "title": "Task",
            "description": "One task of a ticket's plan.",
            "mimeType": JSON,
        },
    ]})
}

fn auth(ctx: &Ctx) -> Result<ReadAuth, RpcError> {
    ReadAuth::granted(ctx.caller.clone()).map_err(refused)
}

fn refused(e: AuthError) -> RpcError {
    RpcError::new(FORBIDDEN, e.to_string()).with_data(json!({ "code": 403 }))
}

/// A failed read as a JSON-RPC error: unknown things `-32002`, the rest by their status.
fn failed(uri: &str, e: ApiError) -> RpcError {
    match e {
        ApiError::NotFound(_) => {
            RpcError::new(RESOURCE_NOT_FOUND, "resource not found").with_data(json!({ "uri": uri }))
        }
        ApiError::Forbidden(m) => RpcError::new(FORBIDDEN, m).with_data(json!({ "code": 403 })),
        ApiError::BadRequest(m) => RpcError::invalid_params(m),
        other => {
            if let ApiError::Internal(source) = &other {
                tracing::error!(error = %source, source = ?source, "mcp resource read failed");
            }
            RpcError::new(super::rpc::INTERNAL_ERROR, other.to_string())
        }
    }
}

/// `resources/list`: the newest tickets, [`PAGE`] at a time (`cursor`: the previous page's
/// `nextCursor`).
pub(crate) async fn list(ctx: &Ctx, params: &Value) -> Result<Value, RpcError> {
    let auth = auth(ctx)?;
    let mut q = json!({ "limit": PAGE });
    if let Some(c) = params.get("cursor").and_then(Value::as_str) {
        q["cursor"] = Value::String(c.to_owned());
    }
    let q: tickets::TicketQuery =
        serde_json::from_value(q).map_err(|e| RpcError::invalid_params(e.to_string()))?;
    let r = tickets::list_tickets(auth, State(ctx.state.clone()), ApiQuery(q)).await;
    let (items, headers) = answer(r)
        .await
        .map_err(|e| failed("foreman://tickets", e))?;
    let resources: Vec<Value> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            json!({
                "uri": format!("{SCHEME}{}", t["id"].as_str().unwrap_or_default()),
                "name": t["external_id"],
                "title": t["title"],
                "mimeType": JSON,
            })
        })
        .collect();
    let mut out = json!({ "resources": resources });
    let next = next_cursor(&headers);
    if !next.is_null() {
        out["nextCursor"] = next;
    }
    Ok(out)
}

/// `resources/read`.
pub(crate) async fn read(ctx: &Ctx, params: &Value) -> Result<Value, RpcError> {
    let uri = params
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("invalid params: uri: expected a string"))?;
    let not_found =
        || RpcError::new(RESOURCE_NOT_FOUND, "resource not found").with_data(json!({ "uri": uri }));
    let rest = uri.strip_prefix(SCHEME).ok_or_else(not_found)?;
    let (ticket_id, task_id) = match rest.split('/').collect::<Vec<_>>()[..] {
        [id] if !id.is_empty() => (id, None),
        [id, "tasks", task] if !id.is_empty() && !task.is_empty() => (id, Some(task)),
        _ => return Err(not_found()),
    };
    let state = || State(ctx.state.clone());
    let id = || ApiPath(ticket_id.to_owned());
    let tasks = tickets::ticket_tasks(auth(ctx)?, state(), id())
        .await
        .map_err(|e| failed(uri, e))?
        .0;
    let document = match task_id {
        Some(task_id) => {
            let task = tasks
                .into_iter()
                .find(|t| t.id == task_id)
                .ok_or_else(not_found)?;
            serde_json::to_value(task).map_err(|e| failed(uri, ApiError::internal(e)))?
        }
        None => {
            let r = tickets::get_ticket(auth(ctx)?, state(), id()).await;
            let (mut ticket, _) = answer(r).await.map_err(|e| failed(uri, e))?;
            ticket["tasks"] =
                serde_json::to_value(tasks).map_err(|e| failed(uri, ApiError::internal(e)))?;
            ticket
        }
    };
    Ok(json!({ "contents": [{
        "uri": uri,
        "mimeType": JSON,
        "text": document.to_string(),
    }]}))
}
