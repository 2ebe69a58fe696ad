//! Team statistics, recent pull requests, prompt versions and LLM usage attribution.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::Json;
use axum::extract::State;
use chrono::{Days, Duration, NaiveDate, Utc};
use foreman_domain::usage_source::ExternalUsage;
use foreman_domain::{Micros, TaskId, TicketFilter, TicketSort, TicketStatus, UsageKey, UsageRow};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ReadAuth;
use crate::dto::{
    Activity, ClaudeCodeDay, ClaudeCodeToday, ClaudeCodeUsageDto, ModelUsage, PromptVersion,
    RecentCall, RecentPr, RoleUsage, RunnerUsage, SubmitterStats, usd,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::validate::RecentPrLimit;

/// Most tickets `GET /api/stats/team` reads from the last seven days.
pub const TEAM_STATS_SCAN_LIMIT: usize = 20_000;
/// Most recent LLM calls `GET /api/prompts/versions` examines.
pub const PROMPT_VERSION_CALLS: u32 = 500;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(team_stats))
        .routes(routes!(recent_prs))
        .routes(routes!(prompt_versions))
        .routes(routes!(usage_activity))
        .routes(routes!(claude_code_usage))
}

/// Tickets created in the last seven days, per submitter, busiest first.
///
/// Reads at most 20,000 tickets.
#[utoipa::path(get, path = "/api/stats/team", tag = "stats",
    responses((status = 200, description = "per-submitter aggregates", body = [SubmitterStats])))]
pub(crate) async fn team_stats(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<SubmitterStats>>> {
    let since = Utc::now() - Duration::days(7);
    let mut by: BTreeMap<String, (i64, i64, i64, i64, Micros)> = BTreeMap::new();
    let mut cursor = None;
    let mut scanned = 0usize;
    'pages: loop {
        let page = state
            .store()
            .list_tickets(&TicketFilter {
                sort: TicketSort::CreatedDesc,
                limit: foreman_domain::MAX_PAGE_LIMIT,
                cursor: cursor.take(),
                ..Default::default()
            })
            .await?;
        for t in &page.items {
            if t.created_at < since || scanned >= TEAM_STATS_SCAN_LIMIT {
                break 'pages;
            }
            scanned += 1;
            let e = by
                .entry(t.submitter.clone().unwrap_or_else(|| "unknown".to_owned()))
                .or_default();
            e.0 += 1;
            match t.status {
                TicketStatus::Merged | TicketStatus::Done => e.1 += 1,
                TicketStatus::Failed | TicketStatus::Blocked | TicketStatus::PrClosed => e.2 += 1,
                _ => e.3 += 1,
            }
            e.4 += t.cost;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut out: Vec<SubmitterStats> = by
        .into_iter()
        .map(
            |(submitter, (tickets, completed, failed, in_progress, cost))| SubmitterStats {
                submitter,
                tickets,
                completed,
                failed,
                in_progress,
                cost_usd: usd(cost),
            },
        )
        .collect();
    out.sort_by(|a, b| {
        b.tickets
            .cmp(&a.tickets)
            .then(a.submitter.cmp(&b.submitter))
    });
    Ok(Json(out))
}

/// Paging for recent pull requests.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RecentPrQuery {
    /// How many: default 20, from 1 to 100.
    #[param(inline)]
    limit: Option<RecentPrLimit>,
}

/// Tickets with a pull request (created, awaiting merge, merged, closed or partial), most
/// recently changed first.
#[utoipa::path(get, path = "/api/stats/recent-prs", tag = "stats", params(RecentPrQuery),
    responses((status = 200, description = "recent pull requests", body = [RecentPr])))]
pub(crate) async fn recent_prs(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RecentPrQuery>,
) -> ApiResult<Json<Vec<RecentPr>>> {
    let page = state
        .store()
        .list_tickets(&TicketFilter {
            statuses: vec![
                TicketStatus::PrCreated,
                TicketStatus::AwaitingMerge,
                TicketStatus::Merged,
                TicketStatus::PrClosed,
                TicketStatus::Partial,
            ],
            sort: TicketSort::UpdatedDesc,
            limit: q.limit.map_or(20, RecentPrLimit::to),
            ..Default::default()
        })
        .await?;
    Ok(Json(
        page.items
            .into_iter()
            .filter(|t| !t.pr_url.is_empty())
            .map(|t| RecentPr {
                ticket_id: t.id.to_string(),
                external_id: t.external_id,
                title: t.title,
                status: t.status,
                pr_url: t.pr_url,
                pr_number: t.pr_number,
                is_partial: t.is_partial,
                cost_usd: usd(t.cost),
                submitter: t.submitter,
                updated_at: t.updated_at,
            })
            .collect(),
    ))
}

/// Prompt template hashes seen in the 500 most recent LLM calls, per role, most recently used
/// first.
#[utoipa::path(get, path = "/api/prompts/versions", tag = "stats",
    responses((status = 200, description = "prompt template versions", body = [PromptVersion])))]
pub(crate) async fn prompt_versions(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<PromptVersion>>> {
    let calls = state.store().recent_llm_calls(PROMPT_VERSION_CALLS).await?;
    let mut by: HashMap<(String, String), PromptVersion> = HashMap::new();
    for c in calls {
        let Some(version) = c.prompt_version.filter(|v| !v.is_empty()) else {
            continue;
        };
        by.entry((c.role.clone(), version.clone()))
            .and_modify(|p| {
                p.calls += 1;
                p.first_seen = p.first_seen.min(c.created_at);
                p.last_seen = p.last_seen.max(c.created_at);
            })
            .or_insert(PromptVersion {
                role: c.role,
                prompt_version: version,
                calls: 1,
                first_seen: c.created_at,
                last_seen: c.created_at,
            });
    }
    let mut out: Vec<PromptVersion> = by.into_values().collect();
    out.sort_by(|a, b| {
        b.last_seen
            .cmp(&a.last_seen)
            .then(a.role.cmp(&b.role))
            .then(a.prompt_version.cmp(&b.prompt_version))
    });
    Ok(Json(out))
}

fn key(row: &UsageRow, i: usize) -> String {
    row.keys.get(i).cloned().unwrap_or_default()
}

fn model_name(provider: &str, model: &str) -> String {
    if provider.is_empty() {
        model.to_owned()
    } else {
        format!("{provider}:{model}")
    }
}

/// LLM calls of the last seven days by runner, by model and by role, plus the 20 most recent
/// calls.
#[utoipa::path(get, path = "/api/usage/activity", tag = "usage",
    responses((status = 200, description = "usage attribution", body = Activity)))]
pub(crate) async fn usage_activity(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Activity>> {
    let store = state.store();
    let since = Utc::now() - Duration::days(7);
    let by_runner = store
        .usage_since(since, &[UsageKey::Runner])
        .await?
        .iter()
        .map(|r| RunnerUsage {
            runner: key(r, 0),
            calls: r.calls,
            tokens_in: r.tokens_in,
            tokens_out: r.tokens_out,
            cost_usd: usd(r.cost),
        })
        .collect();
    let by_model = store
        .usage_since(since, &[UsageKey::Provider, UsageKey::Model])
        .await?
        .iter()
        .map(|r| ModelUsage {
            model: model_name(&key(r, 0), &key(r, 1)),
            calls: r.calls,
            tokens_in: r.tokens_in,
            tokens_out: r.tokens_out,
            cost_usd: usd(r.cost),
        })
        .collect();
    let by_role = store
        .usage_since(
            since,
            &[
                UsageKey::Role,
                UsageKey::Runner,
                UsageKey::Provider,
                UsageKey::Model,
            ],
        )
        .await?
        .iter()
        .map(|r| RoleUsage {
            role: key(r, 0),
            runner: key(r, 1),
            model: model_name(&key(r, 2), &key(r, 3)),
            calls: r.calls,
            tokens_in: r.tokens_in,
            tokens_out: r.tokens_out,
            cost_usd: usd(r.cost),
        })
        .collect();
    let calls = store.recent_llm_calls(20).await?;
    let mut task_titles: HashMap<TaskId, Option<String>> = HashMap::new();
    let mut recent_calls = Vec::with_capacity(calls.len());
    for c in calls {
        let ticket_title = match &c.ticket_id {
            Some(id) => state.inner.live.cache.get(id).await?.title,
            None => None,
        };
        let task_title = match &c.task_id {
            Some(id) => {
                if !task_titles.contains_key(id) {
                    let title = store.get_task(id).await?.map(|t| t.title);
                    task_titles.insert(id.clone(), title);
                }
                task_titles.get(id).cloned().flatten()
            }
            None => None,
        };
        recent_calls.push(RecentCall {
            ticket_id: c.ticket_id.as_ref().map(ToString::to_string),
            ticket_title,
            task_title,
            role: c.role.clone(),
            runner: c.runner.clone(),
            model: model_name(&c.provider, &c.model),
            status: c.status,
            timestamp: c.created_at,
            cost_usd: usd(c.cost),
            tokens_in: c.tokens_input,
            tokens_out: c.tokens_output,
            duration_ms: c.duration_ms,
        });
    }
    Ok(Json(Activity {
        by_runner,
        by_model,
        by_role,
        recent_calls,
    }))
}

/// Usage estimated from the local Claude Code session logs; `{"available": false}` when none
/// are found.
#[utoipa::path(get, path = "/api/usage/claude-code", tag = "usage",
    responses((status = 200, description = "claude code usage", body = ClaudeCodeUsageDto)))]
pub(crate) async fn claude_code_usage(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<ClaudeCodeUsageDto>> {
    let source = state
        .inner
        .usage_source
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let Some(source) = source else {
        return Ok(Json(claude_code_summary(None, Utc::now().date_naive())));
    };
    let usage = tokio::task::spawn_blocking(move || source.read())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(claude_code_summary(
        usage.as_ref(),
        Utc::now().date_naive(),
    )))
}

/// The response for `usage` as of `today`: sessions overall, today, and the last seven days
/// zero-filled; `{"available": false}` when there is nothing to read.
fn claude_code_summary(usage: Option<&ExternalUsage>, today: NaiveDate) -> ClaudeCodeUsageDto {
    let Some(usage) = usage else {
        return ClaudeCodeUsageDto {
            available: false,
            total_sessions: None,
            today: None,
            last_7_days: None,
            estimate_note: None,
        };
    };
    let by_session_day = &usage.by_session_day;
    let sessions: BTreeSet<&str> = by_session_day.keys().map(|(s, _)| s.as_str()).collect();
    let first = today.checked_sub_days(Days::new(6)).unwrap_or(today);
    let mut days: BTreeMap<NaiveDate, (BTreeSet<&str>, Micros)> = BTreeMap::new();
    let mut d = first;
    while d <= today {
        days.insert(d, (BTreeSet::new(), Micros::ZERO));
        d = d.succ_opt().unwrap_or(today);
        if d == first {
            break;
        }
    }
    for ((session, day), cost) in by_session_day {
        if let Some((s, c)) = days.get_mut(day) {
            s.insert(session.as_str());
            *c += *cost;
        }
    }
    let today_entry = days
        .get(&today)
        .map_or((0, Micros::ZERO), |(s, c)| (s.len(), *c));
    ClaudeCodeUsageDto {
        available: true,
        total_sessions: Some(sessions.len() as i64),
        today: Some(ClaudeCodeToday {
            sessions: today_entry.0 as i64,
            cost_usd: usd(today_entry.1),
        }),
        last_7_days: Some(
            days.iter()
                .map(|(date, (s, c))| ClaudeCodeDay {
                    date: *date,
                    sessions: s.len() as i64,
                    cost_usd: usd(*c),
                })
                .collect(),
        ),
        estimate_note: Some(
            "costs are estimates from local claude code session logs, priced at list prices when \
             the log records no cost"
                .to_owned(),
        ),
    }
}
