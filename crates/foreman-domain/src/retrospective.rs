//! Retrospectives: every N finished tickets, what went well and what did not — success rate,
//! mean cost and duration, cost per merged pull request, how often each gate passed at the first
//! try, and the most frequent failure classes with examples.
//!
//! [`RetrospectiveReport::compute`] is a pure function of the tickets and their gate events, so
//! every store and the runner in `foreman-pipeline` agree on the figures.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::event::{Event, EventType};
use crate::ids::{TaskId, TicketId};
use crate::money::Micros;
use crate::status::TicketStatus;
use crate::ticket::Ticket;

/// How many finished tickets a retrospective covers by default.
pub const DEFAULT_EVERY: u32 = 20;

/// How many failure classes a report lists, and examples per class.
pub const TOP_FAILURE_CLASSES: usize = 5;
/// Examples kept per failure class.
pub const EXAMPLES_PER_CLASS: usize = 3;

/// A quality gate a task or ticket passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// The new tests fail for the right reason before the change.
    TddRed,
    /// The new tests pass after it.
    TddGreen,
    /// The lint command.
    Lint,
    /// The task's tests.
    Tests,
    /// The spec reviewer.
    SpecReview,
    /// The quality reviewer.
    QualityReview,
    /// The final reviewer of the whole change (per ticket).
    FinalReview,
}

impl Gate {
    /// Every gate, in pipeline order.
    pub const ALL: &'static [Self] = &[
        Self::TddRed,
        Self::TddGreen,
        Self::Lint,
        Self::Tests,
        Self::SpecReview,
        Self::QualityReview,
        Self::FinalReview,
    ];

    /// The gate verdicts `event_type` gives: `(gate, passed)`. A red/green proof that ran at all
    /// passed the red gate unless it reports an invalid red.
    #[must_use]
    pub fn verdicts(event_type: EventType) -> &'static [(Self, bool)] {
        match event_type {
            EventType::TaskTddVerifyPass => &[(Self::TddRed, true), (Self::TddGreen, true)],
            EventType::TaskTddVerifyFail => &[(Self::TddRed, true), (Self::TddGreen, false)],
            EventType::TaskTddVerifyInvalidRed => &[(Self::TddRed, false)],
            EventType::TaskLintPass => &[(Self::Lint, true)],
            EventType::TaskLintFail => &[(Self::Lint, false)],
            EventType::TaskTestsPass => &[(Self::Tests, true)],
            EventType::TaskTestsFail => &[(Self::Tests, false)],
            EventType::TaskSpecReviewPass => &[(Self::SpecReview, true)],
            EventType::TaskSpecReviewFail => &[(Self::SpecReview, false)],
            EventType::TaskQualityReviewPass => &[(Self::QualityReview, true)],
            EventType::TaskQualityReviewFail => &[(Self::QualityReview, false)],
            EventType::FinalReviewPass => &[(Self::FinalReview, true)],
            EventType::FinalReviewFail => &[(Self::FinalReview, false)],
            _ => &[],
        }
    }

    /// Every event type that carries a gate verdict.
    #[must_use]
    pub fn event_types() -> Vec<EventType> {
        EventType::ALL
            .iter()
            .copied()
            .filter(|t| !Self::verdicts(*t).is_empty())
            .collect()
    }
}

/// One gate's first-pass figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GateStat {
    /// The gate.
    pub gate: Gate,
    /// Tasks (tickets for the final review) that reached it.
    pub reached: i64,
    /// Of those, how many passed at their first verdict.
    pub first_pass: i64,
    /// `first_pass / reached` (`None` when none reached it).
    pub rate: Option<f64>,
}

/// One failure class and a few tickets that failed with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureClassStat {
    /// The class (`FailureClass` string, or `unknown`).
    pub class: String,
    /// Tickets that ended with it.
    pub count: i64,
    /// A few of them with their error.
    pub examples: Vec<FailureExample>,
}

/// A ticket that failed, with its error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureExample {
    /// The ticket.
    pub ticket_id: TicketId,
    /// Its title.
    pub title: String,
    /// Its last error (at most 300 characters).
    pub error: String,
}

/// The figures of one retrospective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrospectiveReport {
    /// Finished tickets covered.
    pub tickets: i64,
    /// Of those, merged or done.
    pub succeeded: i64,
    /// `succeeded / tickets`.
    pub success_rate: f64,
    /// Merged pull requests.
    pub merged_prs: i64,
    /// Mean cost per ticket.
    pub mean_cost: Micros,
    /// Mean time from start (or creation) to finish, in milliseconds.
    pub mean_duration_ms: i64,
    /// Every covered ticket's cost divided by the merged pull requests (`None` without one).
    pub cost_per_merged_pr: Option<Micros>,
    /// First-pass figures per gate, in [`Gate::ALL`] order.
    pub gates: Vec<GateStat>,
    /// The most frequent failure classes, most frequent first.
    pub failure_classes: Vec<FailureClassStat>,
}

fn is_success(s: TicketStatus) -> bool {
    matches!(s, TicketStatus::Merged | TicketStatus::Done)
}

impl RetrospectiveReport {
    /// The report over `tickets` (finished ones) given their gate events (any order; events of
    /// other tickets are ignored).
    #[must_use]
    pub fn compute(tickets: &[Ticket], events: &[Event]) -> Self {
        let n = tickets.len() as i64;
        let succeeded = tickets.iter().filter(|t| is_success(t.status)).count() as i64;
        let merged_prs = tickets
            .iter()
            .filter(|t| t.status == TicketStatus::Merged)
            .count() as i64;
        let total_cost: Micros = tickets.iter().map(|t| t.cost).sum();
        let total_ms: i64 = tickets
            .iter()
            .map(|t| {
                let start = t.started_at.unwrap_or(t.created_at);
                t.completed_at
                    .map_or(0, |end| (end - start).num_milliseconds().max(0))
            })
            .sum();
        let div = |a: i64| if n == 0 { 0 } else { a / n };

        // first verdict per (gate, subject): a task, or the ticket for the final review
        let covered: HashMap<&TicketId, ()> = tickets.iter().map(|t| (&t.id, ())).collect();
        let mut ordered: Vec<&Event> = events
            .iter()
            .filter(|e| {
                e.ticket_id
                    .as_ref()
                    .is_some_and(|t| covered.contains_key(t))
            })
            .collect();
        ordered.sort_by_key(|e| e.seq);
        let mut first: BTreeMap<(Gate, String), bool> = BTreeMap::new();
        for e in ordered {
            for &(gate, passed) in Gate::verdicts(e.event_type) {
                let subject = if gate == Gate::FinalReview {
                    e.ticket_id.as_ref().map(TicketId::to_string)
                } else {
                    e.task_id.as_ref().map(TaskId::to_string)
                };
                if let Some(s) = subject {
                    first.entry((gate, s)).or_insert(passed);
                }
            }
        }
        let gates = Gate::ALL
            .iter()
            .map(|&gate| {
                let verdicts: Vec<bool> = first
                    .iter()
                    .filter(|((g, _), _)| *g == gate)
                    .map(|(_, &p)| p)
                    .collect();
                let reached = verdicts.len() as i64;
                let first_pass = verdicts.iter().filter(|p| **p).count() as i64;
                GateStat {
                    gate,
                    reached,
                    first_pass,
                    rate: (reached > 0).then(|| first_pass as f64 / reached as f64),
                }
            })
            .collect();

        let mut classes: BTreeMap<String, FailureClassStat> = BTreeMap::new();
        for t in tickets.iter().filter(|t| !is_success(t.status)) {
            let class = t
                .last_error_type
                .clone()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| {
                    if t.status == TicketStatus::PrClosed {
                        "pr_closed".to_owned()
                    } else {
                        "unknown".to_owned()
                    }
                });
            let entry = classes
                .entry(class.clone())
                .or_insert_with(|| FailureClassStat {
                    class,
                    count: 0,
                    examples: Vec::new(),
                });
            entry.count += 1;
            if entry.examples.len() < EXAMPLES_PER_CLASS {
                entry.examples.push(FailureExample {
                    ticket_id: t.id.clone(),
                    title: t.title.clone(),
                    error: t
                        .last_error
                        .clone()
                        .unwrap_or_default()
                        .chars()
                        .take(300)
                        .collect(),
                });
            }
        }
        let mut failure_classes: Vec<FailureClassStat> = classes.into_values().collect();
        failure_classes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.class.cmp(&b.class)));
        failure_classes.truncate(TOP_FAILURE_CLASSES);

        Self {
            tickets: n,
            succeeded,
            success_rate: if n == 0 {
                0.0
            } else {
                succeeded as f64 / n as f64
            },
            merged_prs,
            mean_cost: Micros(div(total_cost.0)),
            mean_duration_ms: div(total_ms),
            cost_per_merged_pr: (merged_prs > 0).then(|| Micros(total_cost.0 / merged_prs)),
            gates,
            failure_classes,
        }
    }
}

/// A fresh retrospective id (a UUIDv7).
#[must_use]
pub fn new_retrospective_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Where the previous retrospective stopped: the last covered ticket's finish time and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetroMark {
    /// `completed_at` of the last covered ticket.
    pub completed_at: DateTime<Utc>,
    /// Its id (ties on `completed_at` are broken by id).
    pub ticket_id: TicketId,
}

/// A retrospective to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRetrospective {
    /// 1 for the first, then one more each time; unique.
    pub number: i64,
    /// The tickets covered, in finishing order.
    pub ticket_ids: Vec<TicketId>,
    /// The last covered ticket.
    pub until: RetroMark,
    /// The figures.
    pub report: RetrospectiveReport,
}

/// A stored retrospective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retrospective {
    /// Id.
    pub id: String,
    /// Its number.
    pub number: i64,
    /// The tickets covered.
    pub ticket_ids: Vec<TicketId>,
    /// The last covered ticket.
    pub until: RetroMark,
    /// The figures.
    pub report: RetrospectiveReport,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// Stored retrospectives and the finished tickets they read.
#[async_trait]
pub trait RetrospectiveStore: Send + Sync {
    /// Stores one; `None` when its number is taken (another node wrote it first).
    async fn add_retrospective(&self, new: NewRetrospective) -> StoreResult<Option<Retrospective>>;

    /// Newest first, at most `limit` (0: 20; at most 100), only numbers below `before`.
    async fn list_retrospectives(
        &self,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Vec<Retrospective>>;

    /// Finished tickets (terminal status, `completed_at` set) after `after` in
    /// `(completed_at, id)` order, at most `limit`.
    async fn finished_tickets_after(
        &self,
        after: Option<&RetroMark>,
        limit: u32,
    ) -> StoreResult<Vec<Ticket>>;
}

/// Whether `t` comes after `mark` in `(completed_at, id)` order (and is finished).
#[must_use]
pub fn finished_after(t: &Ticket, mark: Option<&RetroMark>) -> bool {
    let Some(done) = t.completed_at.filter(|_| t.status.is_terminal()) else {
        return false;
    };
    mark.is_none_or(|m| (done, &t.id) > (m.completed_at, &m.ticket_id))
}

/// The page size of [`RetrospectiveStore::list_retrospectives`].
#[must_use]
pub fn retro_page(limit: u32) -> usize {
    match limit {
        0 => 20,
        n => n.min(100) as usize,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::event::Severity;
    use crate::ids::EventId;

    fn ticket(status: TicketStatus, cost: i64, error_type: Option<&str>) -> Ticket {
        let now = Utc::now();
        Ticket {
            id: TicketId::new(),
            project: "default".into(),
            external_id: "X".into(),
            title: "t".into(),
            description: String::new(),
            acceptance_criteria: String::new(),
            status,
            priority: 0,
            labels: vec![],
            submitter: None,
            parent_id: None,
            branch_name: String::new(),
            pr_url: String::new(),
            pr_number: None,
            cost: Micros(cost),
            tokens_input: 0,
            tokens_output: 0,
            total_llm_calls: 0,
            is_partial: false,
            last_completed_task_seq: 0,
            last_error: error_type.map(|e| format!("failed: {e}")),
            last_error_type: error_type.map(str::to_owned),
            fencing_token: crate::ticket::FencingToken(0),
            lease_owner: None,
            lease_expires_at: None,
            created_at: now - Duration::seconds(10),
            updated_at: now,
            started_at: Some(now - Duration::seconds(10)),
            completed_at: Some(now),
        }
    }

    fn ev(seq: i64, t: &Ticket, task: Option<&TaskId>, ty: EventType) -> Event {
        Event {
            id: EventId::new(),
            seq,
            ticket_id: Some(t.id.clone()),
            task_id: task.cloned(),
            event_type: ty,
            severity: Severity::Info,
            message: String::new(),
            details: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn figures_over_a_mixed_round() {
        let a = ticket(TicketStatus::Merged, 3_000, None);
        let b = ticket(TicketStatus::Merged, 1_000, None);
        let c = ticket(TicketStatus::Failed, 2_000, Some("test_failure"));
        let d = ticket(TicketStatus::Failed, 2_000, Some("test_failure"));
        let tickets = vec![a.clone(), b.clone(), c.clone(), d];
        let (t1, t2) = (TaskId::new(), TaskId::new());
        let events = vec![
            // task 1: lint fails first, then passes; task 2 passes first
            ev(1, &a, Some(&t1), EventType::TaskLintFail),
            ev(2, &a, Some(&t1), EventType::TaskLintPass),
            ev(3, &b, Some(&t2), EventType::TaskLintPass),
            ev(4, &a, Some(&t1), EventType::TaskTddVerifyPass),
            ev(5, &b, Some(&t2), EventType::TaskTddVerifyInvalidRed),
            ev(6, &a, None, EventType::FinalReviewFail),
            ev(7, &a, None, EventType::FinalReviewPass),
            ev(8, &c, None, EventType::FinalReviewPass),
        ];
        let r = RetrospectiveReport::compute(&tickets, &events);
        assert_eq!(r.tickets, 4);
        assert_eq!(r.succeeded, 2);
        assert!((r.success_rate - 0.5).abs() < 1e-9);
        assert_eq!(r.mean_cost, Micros(2_000));
        assert_eq!(r.cost_per_merged_pr, Some(Micros(4_000)));
        assert_eq!(r.mean_duration_ms, 10_000);
        let gate = |g| r.gates.iter().find(|s| s.gate == g).copied().unwrap();
        assert_eq!(
            (gate(Gate::Lint).reached, gate(Gate::Lint).first_pass),
            (2, 1)
        );
        assert_eq!(
            (gate(Gate::TddRed).reached, gate(Gate::TddRed).first_pass),
            (2, 1)
        );
        assert_eq!(
            (
                gate(Gate::TddGreen).reached,
                gate(Gate::TddGreen).first_pass
            ),
            (1, 1)
        );
        assert_eq!(
            (
                gate(Gate::FinalReview).reached,
                gate(Gate::FinalReview).first_pass
            ),
            (2, 1)
        );
        assert_eq!(gate(Gate::SpecReview).rate, None);
        assert_eq!(r.failure_classes.len(), 1);
        assert_eq!(r.failure_classes[0].class, "test_failure");
        assert_eq!(r.failure_classes[0].count, 2);
        assert_eq!(r.failure_classes[0].examples.len(), 2);
    }

    #[test]
    fn an_empty_round_has_no_rates() {
        let r = RetrospectiveReport::compute(&[], &[]);
        assert_eq!(r.tickets, 0);
        assert_eq!(r.cost_per_merged_pr, None);
        assert!(r.gates.iter().all(|g| g.rate.is_none()));
    }

    #[test]
    fn marks_order_by_finish_time_then_id() {
        let t = ticket(TicketStatus::Merged, 0, None);
        assert!(finished_after(&t, None));
        let mark = RetroMark {
            completed_at: t.completed_at.unwrap(),
            ticket_id: t.id.clone(),
        };
        assert!(!finished_after(&t, Some(&mark)));
        let running = Ticket {
            status: TicketStatus::Implementing,
            ..ticket(TicketStatus::Merged, 0, None)
        };
        assert!(!finished_after(&running, None));
    }
}
