//! Validation rules of a project: read, replace, try on a file, accept or reject a proposed
//! rule, export and import. The model and every check are `foreman_domain::rules`; writes are
//! serialised by the state's rule-write lock (read, change, write: the settings port has no
//! compare-and-swap), and a client may send the `revision` it read to refuse a write over a
//! set it has not seen (409).

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use foreman_domain::rules::{
    self, RuleError, RuleSet, RuleStatus, StoredRules, ValidationRule, Violation,
};
use foreman_domain::{EventType, NewEvent};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ReadAuth, WriteAuth};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_rules, put_rules))
        .routes(routes!(validate))
        .routes(routes!(accept))
        .routes(routes!(reject))
        .routes(routes!(export))
        .routes(routes!(import))
}

/// The project's name, when the server knows it; a 404 otherwise.
fn known_project(state: &AppState, project: &str) -> ApiResult<()> {
    if state.config().projects.iter().any(|p| p == project) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("project {project} not found")))
    }
}

fn bad(e: &RuleError) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

/// The ticket and task whose review proposed a rule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProposedByDto {
    /// The ticket.
    ticket_id: String,
    /// The task.
    task_id: String,
}

/// A validation rule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RuleDto {
    /// Slug, unique in the project.
    #[schema(example = "no-unwrap")]
    id: String,
    /// `regex` (a violation per matching added line), `missing` (a violation when the pattern
    /// is absent from a matched changed file) or `forbidden_path` (a changed file whose path
    /// matches the glob).
    #[schema(example = "regex")]
    kind: String,
    /// A regex (`regex`, `missing`) or a glob (`forbidden_path`).
    #[schema(example = "\\.unwrap\\(\\)")]
    pattern: String,
    /// `error` (fails the task's gate) or `warning` (reported to the reviewer and in the pull
    /// request).
    #[schema(example = "error")]
    severity: String,
    /// Globs of the files it applies to; empty: every file.
    applies_to: Vec<String>,
    /// Text for people, shown with each violation.
    message: Option<String>,
    /// `accepted` (enforced), `proposed` (waiting for a person) or `rejected`.
    #[schema(example = "accepted")]
    status: String,
    /// `person` or `reviewer`.
    #[schema(example = "person")]
    source: String,
    /// Why it exists.
    rationale: Option<String>,
    /// The review that proposed it.
    proposed_by: Option<ProposedByDto>,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// When it last changed.
    updated_at: DateTime<Utc>,
}

impl From<&ValidationRule> for RuleDto {
    fn from(r: &ValidationRule) -> Self {
        Self {
            id: r.id.clone(),
            kind: r.kind.as_str().to_owned(),
            pattern: r.pattern.clone(),
            severity: r.severity.as_str().to_owned(),
            applies_to: r.applies_to.clone(),
            message: r.message.clone(),
            status: r.status.as_str().to_owned(),
            source: r.source.as_str().to_owned(),
            rationale: r.rationale.clone(),
            proposed_by: r.proposed_by.as_ref().map(|p| ProposedByDto {
                ticket_id: p.ticket_id.to_string(),
                task_id: p.task_id.to_string(),
            }),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A rule as a client sends it; only `kind` and `pattern` are required, and unknown fields are
/// refused. A rule fetched from the API may be sent back as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(
    dead_code,
    reason = "documents the shape; rules are parsed one by one in the domain"
)]
pub(crate) struct RuleBody {
    /// Slug (1 to 64 of `a-z 0-9 - _ .`); generated from the kind and pattern when absent.
    id: Option<String>,
    /// `regex`, `missing` or `forbidden_path`.
    #[schema(example = "regex")]
    kind: String,
    /// A regex (compiled within a 1 MiB size limit) or a glob.
    pattern: String,
    /// `error` (default) or `warning`.
    severity: Option<String>,
    /// Globs; default every file.
    applies_to: Option<Vec<String>>,
    /// Text for people.
    message: Option<String>,
    /// `accepted` (default), `proposed` or `rejected`.
    status: Option<String>,
    /// `person` (default) or `reviewer`.
    source: Option<String>,
    /// Why it exists.
    rationale: Option<String>,
    /// `{ticket_id, task_id}` of the review that proposed it.
    #[schema(value_type = Option<Object>)]
    proposed_by: Option<serde_json::Value>,
    /// Kept when given (an exported rule); else now, or the stored rule's.
    created_at: Option<DateTime<Utc>>,
    /// Ignored.
    updated_at: Option<DateTime<Utc>>,
}

/// A project's rules.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RuleList {
    /// The project.
    project: String,
    /// Incremented by every write; send it back with a `PUT` to refuse a write over a set you
    /// have not seen.
    revision: u64,
    /// The rules, in order.
    rules: Vec<RuleDto>,
}

fn list(project: &str, stored: &StoredRules) -> RuleList {
    RuleList {
        project: project.to_owned(),
        revision: stored.revision,
        rules: stored.rules.iter().map(RuleDto::from).collect(),
    }
}

/// The new rule set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutRules {
    /// Every rule of the project (at most 500), replacing the stored ones.
    #[schema(value_type = Vec<RuleBody>)]
    rules: Vec<serde_json::Value>,
    /// The revision the client read; the write is refused with 409 when the stored one differs.
    revision: Option<u64>,
}

/// The project path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ProjectPath {
    /// The project's name.
    project: String,
}

/// The project and rule path parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct RulePath {
    /// The project's name.
    project: String,
    /// The rule's id.
    rule_id: String,
}

/// The project's validation rules, in order, every status.
#[utoipa::path(get, path = "/api/rules/{project}", tag = "rules", params(ProjectPath),
    responses((status = 200, description = "the rules", body = RuleList),
        (status = 404, description = "unknown project", body = ErrorBody)))]
pub(crate) async fn get_rules(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(p): ApiPath<ProjectPath>,
) -> ApiResult<Json<RuleList>> {
    known_project(&state, &p.project)?;
    let stored = rules::load_rules(state.store().as_ref(), &p.project).await?;
    Ok(Json(list(&p.project, &stored)))
}

/// Replaces the project's rules, all or nothing: an invalid regex or glob, a pattern that
/// compiles larger than the 1 MiB limit (catastrophic), an unknown field, a duplicate id or
/// more than 500 rules is a 400 naming `rules[i].<field>`.
#[utoipa::path(put, path = "/api/rules/{project}", tag = "rules", params(ProjectPath),
    request_body = PutRules,
    responses((status = 200, description = "the rules as stored", body = RuleList),
        (status = 400, description = "a rule is invalid (the error names it)", body = ErrorBody),
        (status = 404, description = "unknown project", body = ErrorBody),
        (status = 409, description = "the stored revision is not the one sent", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn put_rules(
    _auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(p): ApiPath<ProjectPath>,
    ApiJson(body): ApiJson<PutRules>,
) -> ApiResult<Json<RuleList>> {
    known_project(&state, &p.project)?;
    let inputs = rules::parse_inputs(&body.rules).map_err(|e| bad(&e))?;
    let _write = state.inner.rule_writes.lock().await;
    let stored = rules::load_rules(state.store().as_ref(), &p.project).await?;
    if let Some(r) = body.revision
        && r != stored.revision
    {
        return Err(ApiError::Conflict(format!(
            "the rules are at revision {}, not {r}; read them again",
            stored.revision
        )));
    }
    let next = rules::validate_rules(inputs, &stored.rules, Utc::now()).map_err(|e| bad(&e))?;
    let saved =
        rules::save_rules(state.store().as_ref(), &p.project, next, stored.revision).await?;
    Ok(Json(list(&p.project, &saved)))
}

/// A file to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidateBody {
    /// Its path in the repository (matched against `applies_to` and `forbidden_path` globs).
    #[schema(example = "src/lib.rs")]
    filename: String,
    /// Its content; every line counts as added.
    content: String,
}

/// Whether proposed rules are tried too.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ValidateQuery {
    /// Also run the proposed rules (default: accepted rules only).
    #[serde(default)]
    include_proposed: bool,
}

/// One violation.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ViolationDto {
    /// The rule.
    rule_id: String,
    /// `error` or `warning`.
    severity: String,
    /// The file.
    file: String,
    /// 1-based line (`regex` rules); `null` for `missing` and `forbidden_path`.
    line: Option<u32>,
    /// The rule's message, or what it checks.
    message: String,
    /// The violating line, cut at 200 characters.
    excerpt: Option<String>,
}

impl From<Violation> for ViolationDto {
    fn from(v: Violation) -> Self {
        Self {
            rule_id: v.rule_id,
            severity: v.severity.as_str().to_owned(),
            file: v.file,
            line: v.line,
            message: v.message,
            excerpt: v.excerpt,
        }
    }
}

/// What the rules found.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ViolationList {
    /// At most 1000, in line order per rule.
    violations: Vec<ViolationDto>,
    /// Violations beyond the listed ones.
    omitted: usize,
}

/// Runs the project's accepted rules (and the proposed ones with `include_proposed=true`) over
/// one file, every line counting as added. Changes nothing, but is a `POST` with a body, so it
/// needs `write` like every other `POST`.
#[utoipa::path(post, path = "/api/rules/{project}/validate", tag = "rules",
    params(ProjectPath, ValidateQuery), request_body = ValidateBody,
    responses((status = 200, description = "the violations", body = ViolationList),
        (status = 400, description = "a bad body", body = ErrorBody),
        (status = 404, description = "unknown project", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn validate(
    _auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(p): ApiPath<ProjectPath>,
    ApiQuery(q): ApiQuery<ValidateQuery>,
    ApiJson(body): ApiJson<ValidateBody>,
) -> ApiResult<Json<ViolationList>> {
    known_project(&state, &p.project)?;
    if body.filename.trim().is_empty() {
        return Err(ApiError::BadRequest("filename: must not be empty".into()));
    }
    let stored = rules::load_rules(state.store().as_ref(), &p.project).await?;
    let set = RuleSet::enforced(&stored.rules, q.include_proposed).map_err(|e| bad(&e))?;
    let found = set.validate_content(&body.filename, &body.content);
    Ok(Json(ViolationList {
        violations: found.violations.into_iter().map(Into::into).collect(),
        omitted: found.omitted,
    }))
}

async fn set_status(
    state: &AppState,
    p: &RulePath,
    status: RuleStatus,
    event: EventType,
) -> ApiResult<RuleDto> {
    known_project(state, &p.project)?;
    let _write = state.inner.rule_writes.lock().await;
    let mut stored = rules::load_rules(state.store().as_ref(), &p.project).await?;
    let before = stored
        .rules
        .iter()
        .find(|r| r.id == p.rule_id)
        .map(|r| r.status);
    let rule =
        rules::set_status(&mut stored.rules, &p.rule_id, status, Utc::now()).ok_or_else(|| {
            ApiError::NotFound(format!(
                "rule {} not found in project {}",
                p.rule_id, p.project
            ))
        })?;
    if before != Some(status) {
        rules::save_rules(
            state.store().as_ref(),
            &p.project,
            stored.rules,
            stored.revision,
        )
        .await?;
        state
            .emit(
                NewEvent::new(
                    event,
                    format!("rule {} of project {} {status}", rule.id, p.project),
                )
                .details(json!({"project": p.project, "rule_id": rule.id})),
            )
            .await;
    }
    Ok(RuleDto::from(&rule))
}

/// Accepts a rule: the pipeline enforces it from the next gate on. Accepting an accepted rule
/// changes nothing and answers 200.
#[utoipa::path(post, path = "/api/rules/{project}/{rule_id}/accept", tag = "rules",
    params(RulePath),
    responses((status = 200, description = "the rule", body = RuleDto),
        (status = 404, description = "unknown project or rule", body = ErrorBody)))]
pub(crate) async fn accept(
    _auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(p): ApiPath<RulePath>,
) -> ApiResult<Json<RuleDto>> {
    Ok(Json(
        set_status(&state, &p, RuleStatus::Accepted, EventType::RuleAccepted).await?,
    ))
}

/// Rejects a rule: it is kept (so a reviewer does not propose it again) and never enforced.
/// Rejecting a rejected rule changes nothing and answers 200.
#[utoipa::path(post, path = "/api/rules/{project}/{rule_id}/reject", tag = "rules",
    params(RulePath),
    responses((status = 200, description = "the rule", body = RuleDto),
        (status = 404, description = "unknown project or rule", body = ErrorBody)))]
pub(crate) async fn reject(
    _auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(p): ApiPath<RulePath>,
) -> ApiResult<Json<RuleDto>> {
    Ok(Json(
        set_status(&state, &p, RuleStatus::Rejected, EventType::RuleRejected).await?,
    ))
}

/// An exported rule set.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RulesExport {
    /// `foreman-rules/1`.
    #[schema(example = "foreman-rules/1")]
    format: String,
    /// The project it was exported from.
    project: String,
    /// The rules, every status.
    rules: Vec<RuleDto>,
}

/// The project's rules as a versioned document (`format: foreman-rules/1`) for
/// `POST /api/rules/{project}/import`.
#[utoipa::path(get, path = "/api/rules/{project}/export", tag = "rules", params(ProjectPath),
    responses((status = 200, description = "the document", body = RulesExport),
        (status = 404, description = "unknown project", body = ErrorBody)))]
pub(crate) async fn export(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(p): ApiPath<ProjectPath>,
) -> ApiResult<Json<RulesExport>> {
    known_project(&state, &p.project)?;
    let stored = rules::load_rules(state.store().as_ref(), &p.project).await?;
    let doc = rules::export(&p.project, &stored.rules);
    Ok(Json(RulesExport {
        format: doc.format,
        project: doc.project,
        rules: doc.rules.iter().map(RuleDto::from).collect(),
    }))
}

/// How an import meets the stored rules.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ImportMode {
    /// Rules with a stored id replace it in place, the others are appended.
    #[default]
    Merge,
    /// The document's rules replace every stored rule.
    Replace,
}

/// An exported document to import.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportBody {
    /// A `foreman-rules/1` document (from any project).
    #[schema(value_type = Object)]
    document: serde_json::Value,
    /// `merge` (default) or `replace`.
    #[serde(default)]
    mode: ImportMode,
}

/// Imports an exported document, all or nothing: a wrong `format` or an invalid rule is a 400
/// naming `document.rules[i].<field>` (or, after a merge, `rules[i]` of the merged set).
#[utoipa::path(post, path = "/api/rules/{project}/import", tag = "rules", params(ProjectPath),
    request_body = ImportBody,
    responses((status = 200, description = "the rules as stored", body = RuleList),
        (status = 400, description = "a bad document or rule (the error names it)", body = ErrorBody),
        (status = 404, description = "unknown project", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn import(
    _auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(p): ApiPath<ProjectPath>,
    ApiJson(body): ApiJson<ImportBody>,
) -> ApiResult<Json<RuleList>> {
    known_project(&state, &p.project)?;
    let incoming = rules::import_inputs(&body.document).map_err(|e| bad(&e))?;
    // the document's own rules first, so an error names `document.rules[i]`
    rules::validate_rules(incoming.clone(), &[], Utc::now())
        .map_err(|e| bad(&e.under("document")))?;
    let _write = state.inner.rule_writes.lock().await;
    let stored = rules::load_rules(state.store().as_ref(), &p.project).await?;
    let inputs = match body.mode {
        ImportMode::Merge => rules::merge_inputs(&stored.rules, incoming),
        ImportMode::Replace => incoming,
    };
    let next = rules::validate_rules(inputs, &stored.rules, Utc::now()).map_err(|e| bad(&e))?;
    let saved =
        rules::save_rules(state.store().as_ref(), &p.project, next, stored.revision).await?;
    Ok(Json(list(&p.project, &saved)))
}
