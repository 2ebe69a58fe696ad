//! The skill files the pipeline's hooks can run: `GET /api/skills`.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use axum::Json;
use axum::extract::State;
use foreman_domain::skill::{DiscoveredSkill, SkillProblem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ReadAuth;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_skills))
}

/// Which skills to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SkillsQuery {
    /// A project: its repository's skills and the shared ones, shadowing as that project sees
    /// them. Without it, every project's repository skills and the shared ones.
    project: Option<String>,
}

/// Why a skill file could not be loaded.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SkillProblemDto {
    /// The file (a path, `<project>:<path>` for a repository that could not be read, or
    /// `builtin:<name>`).
    file: String,
    /// The 1-based line in the file, when known.
    line: Option<u32>,
    /// What is wrong.
    reason: String,
}

impl From<SkillProblem> for SkillProblemDto {
    fn from(p: SkillProblem) -> Self {
        Self {
            file: p.file,
            line: p.line,
            reason: p.reason,
        }
    }
}

/// One skill file as discovered.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SkillDto {
    /// The skill's name (its directory's when the file could not be parsed; empty for a
    /// source that could not be read at all).
    name: String,
    /// `repository`, `data_dir` or `builtin`.
    source: String,
    /// The project whose repository holds it (repository skills only).
    project: Option<String>,
    /// The file: a path in the repository, in the data directory, or `builtin:<name>`.
    path: String,
    /// What it does (valid skills only).
    description: Option<String>,
    /// The hook points it is meant for.
    hooks: Vec<String>,
    /// Its steps' types, in order (`run_command`, `llm_call`, `file_write`, `git_diff`,
    /// `agent`, `subskill`).
    step_types: Vec<String>,
    /// Whether it parsed and validated (a hook can run it).
    valid: bool,
    /// Why not, each with its file and line.
    problems: Vec<SkillProblemDto>,
    /// Whether a skill of the same name from a source of higher precedence (repository, then
    /// data directory, then built in) hides it.
    shadowed: bool,
}

impl From<DiscoveredSkill> for SkillDto {
    fn from(d: DiscoveredSkill) -> Self {
        let (description, hooks, step_types) = d.skill.as_ref().map_or_else(
            || (None, Vec::new(), Vec::new()),
            |s| {
                (
                    Some(s.description.clone()),
                    s.hooks.iter().map(|h| h.as_str().to_owned()).collect(),
                    s.steps
                        .iter()
                        .map(|st| st.kind.type_name().to_owned())
                        .collect(),
                )
            },
        );
        Self {
            valid: d.skill.is_some(),
            name: d.name,
            source: d.source.as_str().to_owned(),
            project: d.project,
            path: d.path,
            description,
            hooks,
            step_types,
            problems: d.problems.into_iter().map(SkillProblemDto::from).collect(),
            shadowed: d.shadowed,
        }
    }
}

/// The skill files discovered.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SkillsDto {
    /// Whether this server has a skill catalog (`false`: the API runs without the pipeline's
    /// skills, and `skills` is empty).
    available: bool,
    /// Every skill file found, valid or not: the repository's first, then the data
    /// directory's, then the built-in ones.
    skills: Vec<SkillDto>,
}

/// The skill files the hooks can run, valid or not, with where each was found, its problems
/// (file, line, reason) and whether a skill of the same name hides it.
#[utoipa::path(get, path = "/api/skills", tag = "skills", params(SkillsQuery),
    responses(
        (status = 200, description = "every skill file found", body = SkillsDto),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 404, description = "no such project", body = ErrorBody)))]
pub(crate) async fn list_skills(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SkillsQuery>,
) -> ApiResult<Json<SkillsDto>> {
    let project = q.project.filter(|p| !p.trim().is_empty());
    let Some(catalog) = state.skills() else {
        return Ok(Json(SkillsDto {
            available: false,
            skills: Vec::new(),
        }));
    };
    if let Some(p) = &project
        && !catalog.knows_project(p)
    {
        return Err(ApiError::not_found("project", p));
    }
    let skills = catalog.discover(project.as_deref()).await;
    Ok(Json(SkillsDto {
        available: true,
        skills: skills.into_iter().map(SkillDto::from).collect(),
    }))
}
