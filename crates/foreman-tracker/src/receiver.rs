//! [`WebhookIntake`]: the [`WebhookSink`] behind `POST /api/webhooks/{provider}`.
//!
//! A delivery is verified against the secret of every route configured for its provider; with
//! none matching it is refused (401) before anything is read or stored. Then the payload is
//! parsed (400 when it is not the service's) and acted on:
//!
//! | payload | Foreman ticket | action |
//! |---|---|---|
//! | issue open with the pickup label | none | the project's [`TicketIntake`] takes ready issues in now (the same path as the daemon's poll, so a ticket is created once, with the same `ticket_created` event) → `queued` |
//! | issue open with the pickup label | `queued` | title, description, criteria, labels and priority refreshed from the tracker → `updated` (or `ignored` when nothing changed) |
//! | issue closed or pickup label removed | `queued` | `recorded`: the ticket stays queued; Foreman does not cancel work on a tracker signal (delete the ticket to cancel) |
//! | comment | `clarification_needed` | `recorded` (the daemon reads the answer on its next check) |
//! | pull/merge request event (opened, pushed to, reviewed, checks, merged, closed) | the ticket with that pull request | `recorded`; a merged or closed one carries [`PullRequestChange`] in the outcome, and while the ticket waits for its merge the [`PullRequestWatch`] (the daemon) is told, so it reads the pull request from the host at once |
//! | pull/merge request event | none | `ignored` |
//! | anything else, or a ticket already being worked on | | `ignored` |
//!
//! Tracker calls run with a deadline; when the tracker is slow or failing the outcome is
//! `deferred` and the regular poll takes the ticket in.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use foreman_domain::tracker::{IntakeSource, TicketIntake};
use foreman_domain::webhook::{
    PullRequestChange, PullRequestWatch, WEBHOOK_PROVIDERS, WebhookAction, WebhookError,
    WebhookOutcome, WebhookSink,
};
use foreman_domain::{Ticket, TicketFilter, TicketStatus, TicketStore};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::webhook::{self as wh, WebhookEvent, WebhookKind};

/// How long a delivery waits for the tracker before answering `deferred` (GitHub gives up on a
/// delivery after 10 s).
pub const DEFAULT_TRACKER_DEADLINE: Duration = Duration::from_secs(8);

/// Issues from one tracker into one project.
#[derive(Debug, Clone)]
pub struct TrackerRoute {
    /// `github`, `gitlab`, `jira` or `linear`.
    pub provider: String,
    /// The webhook secret (GitLab: the token it echoes). Routes with an empty secret are
    /// dropped: they could never verify a delivery.
    pub secret: String,
    /// The label that marks an issue ready.
    pub pickup_label: String,
    /// The tracker's `project` setting (`owner/name`, project key, team key), used to choose
    /// between projects that share a secret.
    pub scope: String,
    /// The project's intake (it knows the project and the tracker): `foreman-pipeline`'s
    /// `Intake`, the same one the daemon polls with.
    pub intake: Arc<dyn TicketIntake>,
}

/// Pull or merge request events from one git host for one project.
#[derive(Debug, Clone)]
pub struct HostRoute {
    /// The project.
    pub project: String,
    /// `github` or `gitlab`.
    pub provider: String,
    /// The webhook secret.
    pub secret: String,
    /// The repository path (`owner/name`, `group/name`), used to choose between projects that
    /// share a secret.
    pub scope: String,
}

/// Receives tracker and git host webhooks for every configured project.
pub struct WebhookIntake {
    tickets: Arc<dyn TicketStore>,
    trackers: Vec<TrackerRoute>,
    hosts: Vec<HostRoute>,
    watch: Option<Arc<dyn PullRequestWatch>>,
    deadline: Duration,
}

impl std::fmt::Debug for WebhookIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookIntake")
            .field("providers", &self.providers())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// A route a delivery verified against.
enum Verified<'a> {
    Tracker(&'a TrackerRoute),
    Host(&'a HostRoute),
}

impl Verified<'_> {
    fn project(&self) -> &str {
        match self {
            Self::Tracker(r) => r.intake.project(),
            Self::Host(r) => &r.project,
        }
    }

    fn scope(&self) -> &str {
        match self {
            Self::Tracker(r) => &r.scope,
            Self::Host(r) => &r.scope,
        }
    }
}

impl WebhookIntake {
    /// A sink with no routes (every provider answers "not configured" until routes are added).
    #[must_use]
    pub fn new(tickets: Arc<dyn TicketStore>) -> Self {
        Self {
            tickets,
            trackers: Vec::new(),
            hosts: Vec::new(),
            watch: None,
            deadline: DEFAULT_TRACKER_DEADLINE,
        }
    }

    /// Adds a tracker route (ignored when its secret is empty or its provider unknown).
    #[must_use]
    pub fn tracker(mut self, route: TrackerRoute) -> Self {
        if route.secret.is_empty() || !WEBHOOK_PROVIDERS.contains(&route.provider.as_str()) {
            tracing::debug!(provider = %route.provider, "webhook route without a secret ignored");
        } else {
            self.trackers.push(route);
        }
        self
    }

    /// Adds a git host route (ignored when its secret is empty or the provider is neither
    /// `github` nor `gitlab`).
    #[must_use]
    pub fn host(mut self, route: HostRoute) -> Self {
        if route.secret.is_empty() || !["github", "gitlab"].contains(&route.provider.as_str()) {
            tracing::debug!(provider = %route.provider, "host webhook route ignored");
        } else {
            self.hosts.push(route);
        }
        self
    }

    /// Tells `watch` about pull request events of tickets waiting for their merge.
    #[must_use]
    pub fn watch(mut self, watch: Arc<dyn PullRequestWatch>) -> Self {
        self.watch = Some(watch);
        self
    }

    /// How long to wait for the tracker before answering `deferred`.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The providers with at least one route.
    #[must_use]
    pub fn providers(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .trackers
            .iter()
            .map(|r| r.provider.as_str())
            .chain(self.hosts.iter().map(|r| r.provider.as_str()))
            .collect();
        set.into_iter().map(str::to_owned).collect()
    }

    /// Whether no route is configured at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.trackers.is_empty() && self.hosts.is_empty()
    }

    fn verify(
        provider: &str,
        secret: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), wh::WebhookError> {
        match provider {
            "github" => wh::verify_github_signature(secret, headers, body),
            "gitlab" => wh::verify_gitlab_token(secret, headers),
            "jira" => wh::verify_jira_signature(secret, headers, body),
            "linear" => wh::verify_linear_signature(secret, headers, body, chrono::Utc::now()),
            _ => Err(wh::WebhookError::NoSecret),
        }
    }

    /// Every route of `provider` whose secret verifies the delivery, or the reason the first
    /// one refused it.
    fn verified<'a>(
        &'a self,
        provider: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Vec<Verified<'a>>, WebhookError> {
        let mut ok = Vec::new();
        let mut first_err = None;
        let candidates = self
            .trackers
            .iter()
            .filter(|r| r.provider == provider)
            .map(|r| (Verified::Tracker(r), r.secret.as_str()))
            .chain(
                self.hosts
                    .iter()
                    .filter(|r| r.provider == provider)
                    .map(|r| (Verified::Host(r), r.secret.as_str())),
            );
        let mut any = false;
        for (route, secret) in candidates {
            any = true;
            match Self::verify(provider, secret, headers, body) {
                // Linear's check reads the signed body for its timestamp: a body that is
                // not JSON has a valid signature and is a malformed payload, not a forgery.
                Ok(()) => ok.push(route),
                Err(e) if !e.is_auth() => ok.push(route),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if !any {
            return Err(WebhookError::NotConfigured {
                provider: provider.to_owned(),
            });
        }
        if ok.is_empty() {
            let reason =
                first_err.map_or_else(|| "signature mismatch".to_owned(), |e| e.to_string());
            return Err(WebhookError::Unauthorized { reason });
        }
        Ok(ok)
    }

    fn parse(
        provider: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        let parsed = match provider {
            "github" => {
                let event = headers
                    .get("x-github-event")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| WebhookError::Malformed {
                        reason: "missing x-github-event header".to_owned(),
                    })?;
                wh::parse_github_webhook(event, body)
            }
            "gitlab" => wh::parse_gitlab_webhook(body),
            "jira" => wh::parse_jira_webhook(body),
            "linear" => wh::parse_linear_webhook(body),
            other => {
                return Err(WebhookError::NotConfigured {
                    provider: other.to_owned(),
                });
            }
        };
        parsed.map_err(|e| WebhookError::Malformed {
            reason: match e {
                wh::WebhookError::Malformed(m) => m,
                other => other.to_string(),
            },
        })
    }

    /// Picks the route whose scope matches the payload's, else the first.
    fn choose<'a>(
        routes: &[&'a Verified<'a>],
        payload_scope: Option<&str>,
    ) -> Option<&'a Verified<'a>> {
        payload_scope
            .and_then(|p| routes.iter().find(|r| r.scope().eq_ignore_ascii_case(p)))
            .or_else(|| routes.first())
            .copied()
    }

    async fn on_issue(
        &self,
        route: &TrackerRoute,
        event: &WebhookEvent,
        mut out: WebhookOutcome,
    ) -> Result<WebhookOutcome, WebhookError> {
        let project = route.intake.project();
        let Some(external_id) = event.external_id.clone() else {
            return Ok(with(
                out,
                WebhookAction::Ignored,
                "the payload names no issue",
            ));
        };
        let known = self
            .tickets
            .get_ticket_by_external_id(project, &external_id)
            .await?;
        out.ticket_id = known.as_ref().map(|t| t.id.clone());
        let ready = event.may_make_ready(&route.pickup_label);
        match (known, ready) {
            (None, true) => self.take_in(route, &external_id, out).await,
            (Some(t), true) if t.status == TicketStatus::Queued => {
                let intake = route.intake.clone();
                let ticket = t.clone();
                match self
                    .bounded(async move { intake.refresh(&ticket).await })
                    .await
                {
                    Ok(Ok(true)) => Ok(with(
                        out,
                        WebhookAction::Updated,
                        "queued ticket refreshed from the tracker",
                    )),
                    Ok(Ok(false)) => Ok(with(
                        out,
                        WebhookAction::Ignored,
                        "ticket already queued; nothing changed",
                    )),
                    Ok(Err(e)) => Ok(deferred(out, &e.to_string())),
                    Err(why) => Ok(deferred(out, &why)),
                }
            }
            (Some(t), true) => {
                let reason = format!(
                    "ticket is {}; tracker edits are not applied once work has started",
                    t.status
                );
                Ok(with(out, WebhookAction::Ignored, &reason))
            }
            (Some(t), false) if t.status == TicketStatus::Queued => Ok(with(
                out,
                WebhookAction::Recorded,
                &format!(
                    "issue is closed or no longer carries {:?}; the ticket stays queued (delete it to cancel)",
                    route.pickup_label
                ),
            )),
            (Some(t), false) => {
                let reason = format!("issue no longer ready; ticket is {}", t.status);
                Ok(with(out, WebhookAction::Ignored, &reason))
            }
            (None, false) => Ok(with(
                out,
                WebhookAction::Ignored,
                &format!(
                    "issue is not ready (closed or without {:?})",
                    route.pickup_label
                ),
            )),
        }
    }

    /// Runs the intake (in its own task, so a slow tracker finishes in the background
    /// after the deadline) and reports whether the issue became a ticket.
    async fn take_in(
        &self,
        route: &TrackerRoute,
        external_id: &str,
        mut out: WebhookOutcome,
    ) -> Result<WebhookOutcome, WebhookError> {
        let intake = route.intake.clone();
        let report = match self
            .bounded(async move { intake.take_in(IntakeSource::Webhook).await })
            .await
        {
            Ok(Ok(report)) => report,
            Ok(Err(e)) => return Ok(deferred(out, &e.to_string())),
            Err(why) => return Ok(deferred(out, &why)),
        };
        let ticket = self
            .tickets
            .get_ticket_by_external_id(route.intake.project(), external_id)
            .await?;
        match ticket {
            Some(t) => {
                let created = report.created.contains(&t.id);
                out.ticket_id = Some(t.id);
                if created {
                    Ok(with(out, WebhookAction::Queued, "ticket queued"))
                } else {
                    Ok(with(
                        out,
                        WebhookAction::Ignored,
                        "ticket was already taken in",
                    ))
                }
            }
            None => Ok(with(
                out,
                WebhookAction::Ignored,
                "the tracker does not list the issue as ready",
            )),
        }
    }

    async fn on_comment(
        &self,
        project: &str,
        event: &WebhookEvent,
        mut out: WebhookOutcome,
    ) -> Result<WebhookOutcome, WebhookError> {
        let known = match &event.external_id {
            Some(id) => self.tickets.get_ticket_by_external_id(project, id).await?,
            None => None,
        };
        out.ticket_id = known.as_ref().map(|t| t.id.clone());
        Ok(match known {
            Some(t) if t.status == TicketStatus::ClarificationNeeded => with(
                out,
                WebhookAction::Recorded,
                "comment on a ticket waiting for clarification; the daemon reads it on its next check",
            ),
            Some(_) => with(
                out,
                WebhookAction::Ignored,
                "comment on a ticket not waiting for answers",
            ),
            None => with(
                out,
                WebhookAction::Ignored,
                "comment on an issue foreman does not have",
            ),
        })
    }

    async fn on_pull_request(
        &self,
        project: &str,
        number: Option<i64>,
        change: Option<PullRequestChange>,
        mut out: WebhookOutcome,
    ) -> Result<WebhookOutcome, WebhookError> {
        let Some(number) = number.or(change.as_ref().map(|c| c.number)) else {
            return Ok(with(
                out,
                WebhookAction::Ignored,
                "the event names no pull request",
            ));
        };
        let what = change
            .as_ref()
            .map_or_else(|| "changed".to_owned(), |c| c.state.to_string());
        out.pull_request = change;
        let Some(t) = self.ticket_with_pr(project, number).await? else {
            return Ok(with(
                out,
                WebhookAction::Ignored,
                &format!("no ticket has pull request #{number}"),
            ));
        };
        let waiting = matches!(
            t.status,
            TicketStatus::PrCreated | TicketStatus::AwaitingMerge | TicketStatus::Partial
        );
        let reason = match (&self.watch, waiting) {
            (Some(watch), true) => {
                watch.pull_request_changed(&t.id);
                format!("pull request #{number} {what}; merge tracking reads it now")
            }
            (None, true) => {
                format!("pull request #{number} {what}; merge tracking reads it at its next poll")
            }
            (_, false) => format!("pull request #{number} {what}; the ticket is {}", t.status),
        };
        out.ticket_id = Some(t.id);
        Ok(with(out, WebhookAction::Recorded, &reason))
    }

    async fn ticket_with_pr(
        &self,
        project: &str,
        number: i64,
    ) -> Result<Option<Ticket>, WebhookError> {
        // tickets still waiting for their merge first (few), then the finished ones, page by
        // page: a project with thousands of merged tickets still finds its pull request
        for statuses in [
            vec![
                TicketStatus::PrCreated,
                TicketStatus::AwaitingMerge,
                TicketStatus::Partial,
            ],
            vec![TicketStatus::Merged, TicketStatus::PrClosed],
        ] {
            let mut filter = TicketFilter {
                project: Some(project.to_owned()),
                statuses,
                limit: foreman_domain::MAX_PAGE_LIMIT,
                ..TicketFilter::default()
            };
            loop {
                let page = self.tickets.list_tickets(&filter).await?;
                if let Some(t) = page.items.into_iter().find(|t| t.pr_number == Some(number)) {
                    return Ok(Some(t));
                }
                match page.next_cursor {
                    Some(cursor) => filter.cursor = Some(cursor),
                    None => break,
                }
            }
        }
        Ok(None)
    }

    /// Runs `fut` in its own task and waits at most the deadline for it.
    async fn bounded<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, String> {
        let handle = tokio::spawn(fut);
        match tokio::time::timeout(self.deadline, handle).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(join)) => Err(format!("tracker call failed: {join}")),
            Err(_) => Err(format!(
                "the tracker did not answer within {} s; the ticket is taken in when it does, or by the next poll",
                self.deadline.as_secs()
            )),
        }
    }
}

fn with(mut out: WebhookOutcome, action: WebhookAction, reason: &str) -> WebhookOutcome {
    out.action = action;
    reason.clone_into(&mut out.reason);
    out
}

fn deferred(out: WebhookOutcome, why: &str) -> WebhookOutcome {
    tracing::warn!(project = ?out.project, external_id = ?out.external_id, reason = %why, "webhook deferred to the next poll");
    with(out, WebhookAction::Deferred, why)
}

fn kind_str(kind: WebhookKind) -> &'static str {
    match kind {
        WebhookKind::Issue => "issue",
        WebhookKind::Comment => "comment",
        WebhookKind::PullRequest => "pull_request",
        WebhookKind::Ping => "ping",
        WebhookKind::Other => "other",
    }
}

fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(n, v);
        }
    }
    map
}

#[async_trait]
impl WebhookSink for WebhookIntake {
    async fn receive(
        &self,
        provider: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<WebhookOutcome, WebhookError> {
        let headers = header_map(headers);
        let verified = self.verified(provider, &headers, body)?;
        let event = Self::parse(provider, &headers, body)?;
        let github_event = headers
            .get("x-github-event")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let number = (event.kind == WebhookKind::PullRequest)
            .then(|| wh::pull_request_number(provider, github_event, body))
            .flatten();
        let change = match (provider, event.kind) {
            ("github", WebhookKind::PullRequest) => {
                wh::github_pull_request_change(github_event, body)
            }
            ("gitlab", WebhookKind::PullRequest) => wh::gitlab_merge_request_change(body),
            _ => Ok(None),
        }
        .map_err(|e| WebhookError::Malformed {
            reason: e.to_string(),
        })?;
        let scope = wh::payload_scope(provider, body);
        let mut out = WebhookOutcome::new(WebhookAction::Ignored, "");
        out.kind = kind_str(event.kind).to_owned();
        out.event.clone_from(&event.action);
        out.external_id.clone_from(&event.external_id);

        let trackers: Vec<&Verified<'_>> = verified
            .iter()
            .filter(|v| matches!(v, Verified::Tracker(_)))
            .collect();
        let hosts: Vec<&Verified<'_>> = verified
            .iter()
            .filter(|v| matches!(v, Verified::Host(_)))
            .collect();
        let outcome = match event.kind {
            WebhookKind::Issue | WebhookKind::Comment => {
                match Self::choose(&trackers, scope.as_deref()) {
                    Some(Verified::Tracker(route)) => {
                        out.project = Some(route.intake.project().to_owned());
                        if event.kind == WebhookKind::Issue {
                            self.on_issue(route, &event, out).await?
                        } else {
                            self.on_comment(route.intake.project(), &event, out).await?
                        }
                    }
                    _ => with(
                        out,
                        WebhookAction::Ignored,
                        &format!("no project takes issues from {provider}"),
                    ),
                }
            }
            WebhookKind::PullRequest => match Self::choose(&hosts, scope.as_deref()) {
                Some(route) => {
                    let project = route.project().to_owned();
                    out.project = Some(project.clone());
                    self.on_pull_request(&project, number, change, out).await?
                }
                None => {
                    out.pull_request = change;
                    with(
                        out,
                        WebhookAction::Ignored,
                        &format!("no project uses {provider} as its git host"),
                    )
                }
            },
            WebhookKind::Ping => {
                out.project = verified.first().map(|v| v.project().to_owned());
                with(out, WebhookAction::Ignored, "ping")
            }
            WebhookKind::Other => {
                out.project = verified.first().map(|v| v.project().to_owned());
                with(out, WebhookAction::Ignored, "event not used by foreman")
            }
        };
        tracing::info!(
            provider,
            project = ?outcome.project,
            kind = %outcome.kind,
            event = %outcome.event,
            external_id = ?outcome.external_id,
            action = %outcome.action,
            "webhook received"
        );
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_rebuilt_case_insensitively() {
        let map = header_map(&[
            ("X-Hub-Signature-256".to_owned(), "sha256=ab".to_owned()),
            ("bad header".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(
            map.get("x-hub-signature-256").and_then(|v| v.to_str().ok()),
            Some("sha256=ab")
        );
        assert_eq!(map.len(), 1);
    }
}
