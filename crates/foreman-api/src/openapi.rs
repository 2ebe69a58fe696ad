//! The OpenAPI document: every route, the bearer scheme and the error responses.

use std::sync::Arc;

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
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
        (name = "audit", description = "the hash-chained audit trail of mutating calls (admin)"),
        (name = "channels", description = "chat channels: pairing codes for new senders (admin)"),
        (name = "webhooks", description = "tracker and git host webhooks, authenticated by their signature instead of a token"),
        (name = "rules", description = "validation rules of a project: the pipeline's gate after lint, proposals to accept or reject"),
        (name = "mcp", description = "the Model Context Protocol server (JSON-RPC over streamable http)"),
        (name = "skills", description = "skill files the pipeline's hooks run: built in, in the data directory, in each repository"),
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

/// Describes each event of a `text/event-stream` response as what a client parses from the
/// stream: an object whose `data` is the JSON of the documented message (or the
/// `events_dropped` notice a slow client gets) and whose `id` is the event's seq. Without
/// this, the document would claim each event *is* a message object, which no SSE parser
/// produces.
struct EventStreams;

impl Modify for EventStreams {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .insert("EventsDropped".to_owned(), events_dropped());
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                for response in op.responses.responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    for (media_type, content) in &mut response.content {
                        let RefOr::T(content) = content else {
                            continue;
                        };
                        if media_type != "text/event-stream" {
                            continue;
                        }
                        if let Some(message) = content.schema.take() {
                            content.schema = Some(sse_event(message));
                        }
                    }
                }
            }
        }
    }
}

/// What a live client that fell behind receives instead of the events it missed, before it
/// receives them from the log (`live::dropped_message` writes it, for WebSocket and SSE alike).
fn events_dropped() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .description(Some(
            "a live client fell behind: `count` events were skipped and follow from the log",
        ))
        .property(
            "event_type",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .enum_values(Some(["events_dropped"])),
        )
        .required("event_type")
        .property(
            "count",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0)),
        )
        .required("count")
        .into()
}

/// One server-sent event carrying `message` as JSON in its `data`.
fn sse_event(message: RefOr<Schema>) -> RefOr<Schema> {
    let data = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(
            "the message as JSON; a client that fell behind receives an `EventsDropped` \
notice, then the missed events",
        ))
        .content_media_type("application/json")
        .content_schema(Some(RefOr::T(Schema::OneOf(
            OneOfBuilder::new()
                .item(message)
                .item(Ref::from_schema_name("EventsDropped"))
                .build(),
        ))));
    let id = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some("^[0-9]+$"))
        .description(Some(
            "the event's seq (resume after it with `Last-Event-ID`); a notice repeats the last id",
        ));
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .description(Some(
            "one server-sent event as a client parses it from the stream",
        ))
        .property("data", data)
        .required("data")
        .property("id", id)
        .property(
            "event",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .description(Some("always `message` (the default event type)")),
        )
        .into()
}

/// Folds the `allOf` utoipa writes for a described property of an inline type (the type's
/// schema, then an object carrying only the field's description and default) into the type's
/// schema with that description and default. As written, the second item says `type: object`,
/// so no value could satisfy both (a title would have to be a string and an object).
struct DescribedInlineProperties;

impl Modify for DescribedInlineProperties {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for schema in components.schemas.values_mut() {
            let RefOr::T(Schema::Object(object)) = schema else {
                continue;
            };
            for property in object.properties.values_mut() {
                if let Some(folded) = fold_description(property) {
                    *property = folded;
                }
            }
        }
    }
}

/// `allOf: [S, {type: object, description, default}]` as `S` with that description and
/// default; `None` for any other schema.
fn fold_description(property: &RefOr<Schema>) -> Option<RefOr<Schema>> {
    let RefOr::T(Schema::AllOf(all)) = property else {
        return None;
    };
    let [
        RefOr::T(Schema::Object(inner)),
        RefOr::T(Schema::Object(notes)),
    ] = all.items.as_slice()
    else {
        return None;
    };
    let only_notes = notes.properties.is_empty()
        && notes.required.is_empty()
        && notes.enum_values.is_none()
        && notes.format.is_none()
        && notes.additional_properties.is_none();
    if !only_notes {
        return None;
    }
    let mut inner = inner.clone();
    inner.description = notes.description.clone().or(inner.description);
    inner.default = notes.default.clone().or(inner.default);
    Some(RefOr::T(Schema::Object(inner)))
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
    EventStreams.modify(&mut api);
    DescribedInlineProperties.modify(&mut api);
    let mut json = api
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    OpenApiJson(json.into())
}
