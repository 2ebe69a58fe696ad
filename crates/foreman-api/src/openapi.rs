//! The OpenAPI document: every route, the bearer scheme and the error responses.

use std::sync::Arc;

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Foreman API",
        description = "Tickets, tasks, events, costs and live updates of a Foreman server. Every \
route except `/api/health`, `/api/openapi.json` and the webhooks (`/api/webhooks/*`, which are \
verified by their signature) needs `Authorization: Bearer <token>`; every error has the body \
`{\"error\": \"...\", \"code\": <status>}`.",
        license(name = "Apache-2.0"),
    ),
    security(("bearer" = [])),
    components(schemas(ErrorBody)),
    tags(
        (name = "system", description = "health, status, metrics, configuration"),
        (name = "tickets", description = "tickets and what belongs to them"),
        (name = "tasks", description = "tasks of a ticket's plan"),
        (name = "events", description = "the event feed and running pipelines"),
        (name = "live", description = "live events over websocket and server-sent events"),
        (name = "costs", description = "spend and budgets"),
        (name = "stats", description = "team statistics, pull requests, prompt versions"),
        (name = "usage", description = "llm usage attribution"),
        (name = "daemon", description = "pausing and resuming the scheduler"),
        (name = "tokens", description = "api token management (admin)"),
        (name = "webhooks", description = "tracker and git host webhooks, authenticated by their signature instead of a token"),
    )
)]
pub(crate) struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "an api token (`foreman token generate` or `POST /api/tokens`)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Documents the JSON error body on every operation's error statuses.
struct ErrorResponses;

fn is_public(op: &Operation) -> bool {
    op.security.as_ref().is_some_and(|reqs| {
        reqs.iter()
            .all(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
    })
}

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let mut codes: Vec<(&str, &str)> = vec![
                    ("400", "malformed request or invalid parameter"),
                    (
                        "429",
                        "too many requests from this client; see `Retry-After`",
                    ),
                    ("500", "internal error (details are logged, never returned)"),
                    ("503", "the request timed out"),
                ];
                if !is_public(op) {
                    codes.extend([
                        ("401", "missing, invalid, expired or revoked token"),
                        ("403", "the token lacks the scope this route needs"),
                        ("404", "no such resource"),
                    ]);
                }
                for (code, description) in codes {
                    if op.responses.responses.contains_key(code) {
                        continue;
                    }
                    let response = ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build();
                    op.responses
                        .responses
                        .insert(code.to_owned(), response.into());
                }
            }
        }
    }
}

/// The served document: pretty JSON with a trailing newline, shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct OpenApiJson(pub Arc<str>);

impl AsRef<[u8]> for OpenApiJson {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Completes the document `split_for_parts()` returned (modifiers run after the routes are
/// merged, so they see every operation) and renders it as pretty JSON with a trailing
/// newline.
pub(crate) fn render(mut api: utoipa::openapi::OpenApi) -> OpenApiJson {
    BearerScheme.modify(&mut api);
    ErrorResponses.modify(&mut api);
    let mut json = api
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    OpenApiJson(json.into())
}
