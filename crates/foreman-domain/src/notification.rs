//! Notifications: triggers a person configures, the notifications they fire, and the pure rules
//! that decide when one fires.
//!
//! A trigger watches one kind of situation: spend crossing a percentage of a budget (per day,
//! month or ticket), N task failures in a row, a task's context window used past a percentage,
//! a ticket blocked or waiting for clarification, a pull request merged, the daemon stopping.
//! The rules here ([`Watch`], [`budget_notifications`], [`context_notification`]) turn events
//! and figures into [`NewNotification`]s; each carries a `dedup_key`, and a store records a key
//! once ([`NotificationStore::record_notification`]), so a trigger fires once per situation
//! (once per budget period, once per task) however many nodes or restarts evaluate it.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::event::{Event, EventType};
use crate::ids::{TaskId, TicketId};
use crate::money::Micros;
use crate::settings::SettingsStore;
use crate::task::Task;
use crate::wire::wire_enum;

/// The settings key under which the trigger configuration is kept (JSON).
pub const TRIGGERS_KEY: &str = "notification_triggers";

/// Longest list a store returns at once.
pub const MAX_NOTIFICATIONS_PAGE: u32 = 200;

wire_enum! {
    /// What a trigger watches.
    TriggerId, "trigger" {
        /// Spend crossed `threshold` % of a budget (`periods`: daily, monthly, ticket).
        BudgetThreshold = "budget_threshold",
        /// `threshold` task failures in a row (a task done in between resets the count).
        TaskFailures = "task_failures",
        /// A task used more than `threshold` % of its context window.
        ContextThreshold = "context_threshold",
        /// A ticket is blocked or waits for answers to clarifying questions.
        TicketBlocked = "ticket_blocked",
        /// A pull request was merged.
        PrMerged = "pr_merged",
        /// The daemon stopped.
        DaemonStopped = "daemon_stopped",
        /// An outbound webhook subscription was disabled after failed deliveries in a row.
        WebhookDisabled = "webhook_disabled",
        /// The quality reviewer proposed a validation rule, waiting for a person to accept it.
        RuleProposed = "rule_proposed",
    }
}

wire_enum! {
    /// A budget period a [`TriggerId::BudgetThreshold`] trigger watches.
    BudgetPeriod, "budget period" {
        /// The UTC day.
        Daily = "daily",
        /// The UTC calendar month.
        Monthly = "monthly",
        /// One ticket's spend against the per-ticket budget.
        Ticket = "ticket",
    }
}

wire_enum! {
    /// How urgent a notification is.
    NotificationSeverity, "severity" {
        /// Good to know.
        Info = "info",
        /// Someone should look.
        Warning = "warning",
        /// Someone should act now.
        Critical = "critical",
    }
}

impl TriggerId {
    /// What the trigger does, for people.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::BudgetThreshold => {
                "spend crossed threshold percent of the daily, monthly or per-ticket budget"
            }
            Self::TaskFailures => "threshold task failures in a row",
            Self::ContextThreshold => {
                "a task used more than threshold percent of its context window"
            }
            Self::TicketBlocked => "a ticket is blocked or waits for clarification",
            Self::PrMerged => "a pull request was merged",
            Self::DaemonStopped => "the daemon stopped",
            Self::WebhookDisabled => "a webhook subscription was disabled after failed deliveries",
            Self::RuleProposed => "a reviewer proposed a validation rule to accept or reject",
        }
    }

    /// The allowed threshold range, `None` when the trigger takes none.
    #[must_use]
    pub const fn threshold_range(self) -> Option<(u32, u32)> {
        match self {
            Self::BudgetThreshold | Self::ContextThreshold => Some((1, 100)),
            Self::TaskFailures => Some((1, 1000)),
            Self::TicketBlocked
            | Self::PrMerged
            | Self::DaemonStopped
            | Self::WebhookDisabled
            | Self::RuleProposed => None,
        }
    }
}

/// One trigger's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// What it watches.
    pub id: TriggerId,
    /// Whether it fires.
    pub enabled: bool,
    /// Percentage or count (see [`TriggerId::threshold_range`]); `None` for triggers without one.
    pub threshold: Option<u32>,
    /// Budget periods watched (budget trigger only; empty otherwise).
    #[serde(default)]
    pub periods: Vec<BudgetPeriod>,
}

/// Every trigger, one per [`TriggerId`], in [`TriggerId::ALL`] order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triggers {
    /// The triggers.
    pub triggers: Vec<Trigger>,
}

impl Default for Triggers {
    /// Budget at 80 % of the daily, monthly and ticket budgets, 3 task failures in a row,
    /// context above 90 %, blocked tickets, daemon stops and proposed rules on; merged pull requests off.
    fn default() -> Self {
        let t = |id, enabled, threshold: Option<u32>, periods: Vec<BudgetPeriod>| Trigger {
            id,
            enabled,
            threshold,
            periods,
        };
        Self {
            triggers: vec![
                t(
                    TriggerId::BudgetThreshold,
                    true,
                    Some(80),
                    BudgetPeriod::ALL.to_vec(),
                ),
                t(TriggerId::TaskFailures, true, Some(3), vec![]),
                t(TriggerId::ContextThreshold, true, Some(90), vec![]),
                t(TriggerId::TicketBlocked, true, None, vec![]),
                t(TriggerId::PrMerged, false, None, vec![]),
                t(TriggerId::DaemonStopped, true, None, vec![]),
                t(TriggerId::WebhookDisabled, true, None, vec![]),
                t(TriggerId::RuleProposed, true, None, vec![]),
            ],
        }
    }
}

/// A change to one trigger, as a client sends it; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerUpdate {
    /// Which trigger ([`TriggerId`] string).
    pub id: String,
    /// Turn it on or off.
    pub enabled: Option<bool>,
    /// New threshold.
    pub threshold: Option<i64>,
    /// New budget periods ([`BudgetPeriod`] strings; budget trigger only).
    pub periods: Option<Vec<String>>,
}

/// A refused trigger update, naming the field (`triggers[1].threshold`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TriggerError {
    /// The field, as a path into the request.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Triggers {
    /// The trigger `id` (the default one when the stored list lacks it).
    #[must_use]
    pub fn get(&self, id: TriggerId) -> Trigger {
        self.triggers
            .iter()
            .find(|t| t.id == id)
            .cloned()
            .or_else(|| Self::default().triggers.into_iter().find(|t| t.id == id))
            .unwrap_or(Trigger {
                id,
                enabled: false,
                threshold: None,
                periods: vec![],
            })
    }

    /// The threshold of `id` when it is enabled.
    #[must_use]
    pub fn armed(&self, id: TriggerId) -> Option<Trigger> {
        Some(self.get(id)).filter(|t| t.enabled)
    }

    /// Applies `updates` all or nothing: every trigger named once, thresholds in range,
    /// periods only for the budget trigger.
    ///
    /// # Errors
    /// The first [`TriggerError`], naming `triggers[i].<field>`.
    pub fn apply(&self, updates: &[TriggerUpdate]) -> Result<Self, TriggerError> {
        let mut out = Self {
            triggers: TriggerId::ALL.iter().map(|&id| self.get(id)).collect(),
        };
        let mut seen = Vec::new();
        for (i, u) in updates.iter().enumerate() {
            let err = |field: &str, message: String| TriggerError {
                field: format!("triggers[{i}].{field}"),
                message,
            };
            let id: TriggerId = u.id.parse().map_err(|m| err("id", m))?;
            if seen.contains(&id) {
                return Err(err("id", format!("trigger {id} is named twice")));
            }
            seen.push(id);
            let Some(t) = out.triggers.iter_mut().find(|t| t.id == id) else {
                continue;
            };
            if let Some(e) = u.enabled {
                t.enabled = e;
            }
            if let Some(v) = u.threshold {
                let Some((lo, hi)) = id.threshold_range() else {
                    return Err(err("threshold", format!("trigger {id} takes no threshold")));
                };
                match u32::try_from(v) {
                    Ok(v) if (lo..=hi).contains(&v) => t.threshold = Some(v),
                    _ => {
                        return Err(err(
                            "threshold",
                            format!("must be from {lo} to {hi}, got {v}"),
                        ));
                    }
                }
            }
            if let Some(periods) = &u.periods {
                if id != TriggerId::BudgetThreshold {
                    return Err(err("periods", format!("trigger {id} takes no periods")));
                }
                let mut parsed = Vec::new();
                for p in periods {
                    let p: BudgetPeriod = p.parse().map_err(|m| err("periods", m))?;
                    if !parsed.contains(&p) {
                        parsed.push(p);
                    }
                }
                t.periods = parsed;
            }
        }
        Ok(out)
    }
}

/// The stored trigger configuration, or the defaults when none is stored.
///
/// # Errors
/// Backend errors, or stored text that is not a trigger list.
pub async fn load_triggers(settings: &dyn SettingsStore) -> StoreResult<Triggers> {
    match settings.get_setting(TRIGGERS_KEY).await? {
        None => Ok(Triggers::default()),
        Some(text) => serde_json::from_str::<Triggers>(&text)
            .map(|t| Triggers {
                triggers: TriggerId::ALL.iter().map(|&id| t.get(id)).collect(),
            })
            .map_err(|e| StoreError::corrupt(TRIGGERS_KEY, e)),
    }
}

/// Stores the trigger configuration.
///
/// # Errors
/// Backend errors.
pub async fn save_triggers(settings: &dyn SettingsStore, triggers: &Triggers) -> StoreResult<()> {
    let text = serde_json::to_string(triggers).map_err(|e| StoreError::corrupt(TRIGGERS_KEY, e))?;
    settings.put_setting(TRIGGERS_KEY, &text).await
}

/// A notification's id (a UUIDv7, so ids sort by creation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NotificationId(pub String);

impl NotificationId {
    /// A fresh id.
    #[must_use]
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for NotificationId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A notification to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNotification {
    /// The trigger that fired.
    pub trigger: TriggerId,
    /// How urgent.
    pub severity: NotificationSeverity,
    /// One line for people.
    pub message: String,
    /// The ticket concerned, if any.
    pub ticket_id: Option<TicketId>,
    /// The task concerned, if any.
    pub task_id: Option<TaskId>,
    /// One situation, one notification: a store records each key once.
    pub dedup_key: String,
    /// Figures behind it.
    pub details: serde_json::Value,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Id.
    pub id: NotificationId,
    /// The trigger that fired.
    pub trigger: TriggerId,
    /// How urgent.
    pub severity: NotificationSeverity,
    /// One line for people.
    pub message: String,
    /// The ticket concerned, if any.
    pub ticket_id: Option<TicketId>,
    /// The task concerned, if any.
    pub task_id: Option<TaskId>,
    /// The situation's key.
    pub dedup_key: String,
    /// Figures behind it.
    pub details: serde_json::Value,
    /// When it fired.
    pub created_at: DateTime<Utc>,
    /// When a person acknowledged it.
    pub acknowledged_at: Option<DateTime<Utc>>,
}

impl Notification {
    /// The stored form of `new`.
    #[must_use]
    pub fn record(id: NotificationId, new: NewNotification, at: DateTime<Utc>) -> Self {
        Self {
            id,
            trigger: new.trigger,
            severity: new.severity,
            message: new.message,
            ticket_id: new.ticket_id,
            task_id: new.task_id,
            dedup_key: new.dedup_key,
            details: new.details,
            created_at: at,
            acknowledged_at: None,
        }
    }

    /// Whether a filter admits it.
    #[must_use]
    pub fn matches(&self, f: &NotificationFilter) -> bool {
        f.severity.is_none_or(|s| s == self.severity)
            && f.acknowledged
                .is_none_or(|a| a == self.acknowledged_at.is_some())
            && f.before.as_ref().is_none_or(|b| self.id < *b)
    }
}

/// Which notifications to list: newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationFilter {
    /// Only this severity.
    pub severity: Option<NotificationSeverity>,
    /// Only acknowledged (`true`) or unacknowledged (`false`) ones.
    pub acknowledged: Option<bool>,
    /// At most this many (0: 50; capped at [`MAX_NOTIFICATIONS_PAGE`]).
    pub limit: u32,
    /// Only ids before this one (the cursor of the previous page).
    pub before: Option<NotificationId>,
}

impl NotificationFilter {
    /// The effective page size.
    #[must_use]
    pub fn page_size(&self) -> usize {
        match self.limit {
            0 => 50,
            n => n.min(MAX_NOTIFICATIONS_PAGE) as usize,
        }
    }
}

/// Stored notifications.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Records a notification unless one with the same `dedup_key` exists (then `None`):
    /// concurrent recorders of one key get one `Some`.
    async fn record_notification(&self, new: NewNotification) -> StoreResult<Option<Notification>>;

    /// Notifications matching the filter, newest first.
    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> StoreResult<Vec<Notification>>;

    /// Marks one acknowledged at `at` (an acknowledged one keeps its first time); `None` when
    /// it does not exist.
    async fn acknowledge_notification(
        &self,
        id: &NotificationId,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Notification>>;

    /// Marks every unacknowledged notification acknowledged at `at`; returns how many.
    async fn acknowledge_all_notifications(&self, at: DateTime<Utc>) -> StoreResult<u64>;

    /// How many are unacknowledged.
    async fn unacknowledged_notifications(&self) -> StoreResult<u64>;
}

/// The event-driven triggers: a small state machine fed every event in `seq` order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watch {
    /// Task failures since the last task that finished well.
    failures_in_a_row: u32,
}

impl Watch {
    /// Task failures counted towards [`TriggerId::TaskFailures`] so far.
    #[must_use]
    pub fn failures_in_a_row(&self) -> u32 {
        self.failures_in_a_row
    }

    /// What `event` fires under `triggers`. Task failures are counted whether or not the
    /// trigger is on; when the count reaches the threshold it fires and starts again.
    pub fn on_event(&mut self, triggers: &Triggers, event: &Event) -> Vec<NewNotification> {
        let note = |trigger, severity, message: String, key: String| NewNotification {
            trigger,
            severity,
            message,
            ticket_id: event.ticket_id.clone(),
            task_id: event.task_id.clone(),
            dedup_key: key,
            details: serde_json::json!({ "event_seq": event.seq, "event_type": event.event_type }),
        };
        let mut out = Vec::new();
        match event.event_type {
            EventType::TaskFailed => {
                self.failures_in_a_row += 1;
                if let Some(t) = triggers.armed(TriggerId::TaskFailures) {
                    let n = t.threshold.unwrap_or(3).max(1);
                    if self.failures_in_a_row >= n {
                        self.failures_in_a_row = 0;
                        let mut n = note(
                            TriggerId::TaskFailures,
                            NotificationSeverity::Critical,
                            format!("{n} task failures in a row; the last: {}", event.message),
                            format!("task_failures:{}", event.seq),
                        );
                        n.details["failures"] = serde_json::json!(t.threshold);
                        out.push(n);
                    }
                }
            }
            EventType::TaskDone => self.failures_in_a_row = 0,
            EventType::TicketBlocked | EventType::ClarificationRequested
                if triggers.armed(TriggerId::TicketBlocked).is_some() =>
            {
                let what = if event.event_type == EventType::TicketBlocked {
                    "is blocked"
                } else {
                    "waits for clarification"
                };
                let ticket = event.ticket_id.as_ref().map_or("", TicketId::as_str);
                out.push(note(
                    TriggerId::TicketBlocked,
                    NotificationSeverity::Warning,
                    format!("ticket {ticket} {what}: {}", event.message),
                    format!("ticket_blocked:{}", event.seq),
                ));
            }
            EventType::PrMerged if triggers.armed(TriggerId::PrMerged).is_some() => {
                let key = event
                    .ticket_id
                    .as_ref()
                    .map_or_else(|| event.seq.to_string(), ToString::to_string);
                out.push(note(
                    TriggerId::PrMerged,
                    NotificationSeverity::Info,
                    event.message.clone(),
                    format!("pr_merged:{key}"),
                ));
            }
            EventType::DaemonStopping if triggers.armed(TriggerId::DaemonStopped).is_some() => {
                out.push(note(
                    TriggerId::DaemonStopped,
                    NotificationSeverity::Warning,
                    format!("the daemon stopped: {}", event.message),
                    format!("daemon_stopped:{}", event.seq),
                ));
            }
            EventType::WebhookDisabled if triggers.armed(TriggerId::WebhookDisabled).is_some() => {
                out.push(note(
                    TriggerId::WebhookDisabled,
                    NotificationSeverity::Warning,
                    event.message.clone(),
                    format!("webhook_disabled:{}", event.seq),
                ));
            }
            EventType::RuleProposed if triggers.armed(TriggerId::RuleProposed).is_some() => {
                out.push(note(
                    TriggerId::RuleProposed,
                    NotificationSeverity::Info,
                    event.message.clone(),
                    format!("rule_proposed:{}", event.seq),
                ));
            }
            _ => {}
        }
        out
    }
}

/// Whether an event may concern a task's context use (the task has just recorded its figures).
#[must_use]
pub fn concerns_context(event: &Event) -> bool {
    event.task_id.is_some()
        && matches!(
            event.event_type,
            EventType::TaskCommitted | EventType::TaskDone | EventType::TaskFailed
        )
}

/// The context-window notification for `task`, if it used more than the threshold.
#[must_use]
pub fn context_notification(triggers: &Triggers, task: &Task) -> Option<NewNotification> {
    let t = triggers.armed(TriggerId::ContextThreshold)?;
    let stats = task.context.as_ref()?;
    let pct = stats.utilization_pct();
    let threshold = f64::from(t.threshold.unwrap_or(90));
    (pct > threshold).then(|| NewNotification {
        trigger: TriggerId::ContextThreshold,
        severity: NotificationSeverity::Warning,
        message: format!(
            "task {} used {pct:.1}% of its context window ({} of {} tokens)",
            task.title, stats.used, stats.budget
        ),
        ticket_id: Some(task.ticket_id.clone()),
        task_id: Some(task.id.clone()),
        dedup_key: format!("context_threshold:{}", task.id),
        details: serde_json::json!({
            "used": stats.used, "budget": stats.budget, "pct": pct, "threshold": threshold,
        }),
    })
}

/// Spend in one budget period, for [`budget_notifications`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodSpend {
    /// Which period.
    pub period: BudgetPeriod,
    /// Which instance of it: the day (`2026-12-07`), the month (`2026-12`) or the ticket id.
    pub key: String,
    /// The ticket, for the per-ticket period.
    pub ticket_id: Option<TicketId>,
    /// Its limit.
    pub limit: Micros,
    /// Recorded spend.
    pub used: Micros,
}

impl PeriodSpend {
    /// `used` as a percentage of `limit` (0 without a positive limit).
    #[must_use]
    pub fn pct(&self) -> f64 {
        if self.limit.0 <= 0 {
            return 0.0;
        }
        self.used.0 as f64 * 100.0 / self.limit.0 as f64
    }
}

/// The budget notifications `spends` fire: one per period instance whose spend reached the
/// threshold, keyed by the period, its instance and the threshold (so it fires once per period,
/// and again only when the threshold is changed).
#[must_use]
pub fn budget_notifications(triggers: &Triggers, spends: &[PeriodSpend]) -> Vec<NewNotification> {
    let Some(t) = triggers.armed(TriggerId::BudgetThreshold) else {
        return Vec::new();
    };
    let threshold = t.threshold.unwrap_or(80);
    spends
        .iter()
        .filter(|s| t.periods.contains(&s.period) && s.limit.0 > 0)
        .filter(|s| s.used.0.saturating_mul(100) >= s.limit.0.saturating_mul(i64::from(threshold)))
        .map(|s| {
            let severity = if s.used >= s.limit {
                NotificationSeverity::Critical
            } else {
                NotificationSeverity::Warning
            };
            let what = match s.period {
                BudgetPeriod::Daily => format!("daily budget of {}", s.key),
                BudgetPeriod::Monthly => format!("monthly budget of {}", s.key),
                BudgetPeriod::Ticket => format!("budget of ticket {}", s.key),
            };
            NewNotification {
                trigger: TriggerId::BudgetThreshold,
                severity,
                message: format!(
                    "spend reached {:.0}% of the {what} (${:.2} of ${:.2})",
                    s.pct(),
                    s.used.to_usd(),
                    s.limit.to_usd()
                ),
                ticket_id: s.ticket_id.clone(),
                task_id: None,
                dedup_key: format!("budget_threshold:{}:{}:{threshold}", s.period, s.key),
                details: serde_json::json!({
                    "period": s.period, "key": s.key, "limit_micros": s.limit.0,
                    "used_micros": s.used.0, "threshold": threshold,
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Severity;
    use crate::ids::EventId;

    fn event(seq: i64, t: EventType) -> Event {
        Event {
            id: EventId::new(),
            seq,
            ticket_id: Some(TicketId::new()),
            task_id: None,
            event_type: t,
            severity: Severity::Info,
            message: format!("event {seq}"),
            details: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn defaults_cover_every_trigger_once() {
        let d = Triggers::default();
        assert_eq!(d.triggers.len(), TriggerId::ALL.len());
        for &id in TriggerId::ALL {
            assert_eq!(d.get(id).id, id);
            assert_eq!(
                d.get(id).threshold.is_some(),
                id.threshold_range().is_some()
            );
        }
    }

    #[test]
    fn updates_are_checked_and_name_the_field() {
        let d = Triggers::default();
        let up = |id: &str, threshold: Option<i64>| TriggerUpdate {
            id: id.into(),
            threshold,
            ..TriggerUpdate::default()
        };
        let e = d.apply(&[up("budget_threshold", Some(0))]).unwrap_err();
        assert_eq!(e.field, "triggers[0].threshold");
        let e = d
            .apply(&[up("context_threshold", Some(50)), up("nope", None)])
            .unwrap_err();
        assert_eq!(e.field, "triggers[1].id");
        assert!(e.message.contains("budget_threshold"), "{e}");
        let e = d.apply(&[up("pr_merged", Some(3))]).unwrap_err();
        assert_eq!(e.field, "triggers[0].threshold");
        let e = d
            .apply(&[TriggerUpdate {
                id: "budget_threshold".into(),
                periods: Some(vec!["weekly".into()]),
                ..TriggerUpdate::default()
            }])
            .unwrap_err();
        assert_eq!(e.field, "triggers[0].periods");
        let e = d
            .apply(&[up("pr_merged", None), up("pr_merged", None)])
            .unwrap_err();
        assert_eq!(e.field, "triggers[1].id");
        let ok = d
            .apply(&[TriggerUpdate {
                id: "task_failures".into(),
                enabled: Some(false),
                threshold: Some(5),
                periods: None,
            }])
            .unwrap();
        let t = ok.get(TriggerId::TaskFailures);
        assert!(!t.enabled);
        assert_eq!(t.threshold, Some(5));
        assert_eq!(
            ok.get(TriggerId::BudgetThreshold),
            d.get(TriggerId::BudgetThreshold)
        );
    }

    #[test]
    fn consecutive_failures_fire_at_the_threshold_and_reset_on_success() {
        let triggers = Triggers::default(); // 3 in a row
        let mut w = Watch::default();
        let mut fired = Vec::new();
        for (seq, t) in [
            EventType::TaskFailed,
            EventType::TaskFailed,
            EventType::TaskDone,
            EventType::TaskFailed,
            EventType::TaskFailed,
            EventType::TaskFailed,
            EventType::TaskFailed,
        ]
        .into_iter()
        .enumerate()
        {
            fired.extend(w.on_event(&triggers, &event(seq as i64 + 1, t)));
        }
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].trigger, TriggerId::TaskFailures);
        assert_eq!(fired[0].dedup_key, "task_failures:6");
        assert_eq!(w.failures_in_a_row(), 1);
    }

    #[test]
    fn disabled_triggers_stay_quiet() {
        let triggers = Triggers::default()
            .apply(&[TriggerUpdate {
                id: "ticket_blocked".into(),
                enabled: Some(false),
                ..TriggerUpdate::default()
            }])
            .unwrap();
        let mut w = Watch::default();
        assert!(
            w.on_event(&triggers, &event(1, EventType::TicketBlocked))
                .is_empty()
        );
        // merged pull requests are off by default
        assert!(
            w.on_event(&triggers, &event(2, EventType::PrMerged))
                .is_empty()
        );
        assert_eq!(
            w.on_event(&triggers, &event(3, EventType::DaemonStopping))
                .len(),
            1
        );
        assert_eq!(
            w.on_event(
                &Triggers::default(),
                &event(4, EventType::ClarificationRequested)
            )
            .len(),
            1
        );
    }

    #[test]
    fn budget_fires_at_the_threshold_with_a_key_per_period() {
        let triggers = Triggers::default();
        let spend = |used| PeriodSpend {
            period: BudgetPeriod::Daily,
            key: "2026-12-07".into(),
            ticket_id: None,
            limit: Micros(1_000),
            used: Micros(used),
        };
        assert!(budget_notifications(&triggers, &[spend(799)]).is_empty());
        let n = budget_notifications(&triggers, &[spend(800)]);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].dedup_key, "budget_threshold:daily:2026-12-07:80");
        assert_eq!(n[0].severity, NotificationSeverity::Warning);
        let n = budget_notifications(&triggers, &[spend(1_000)]);
        assert_eq!(n[0].severity, NotificationSeverity::Critical);
        // the same key for the whole day: a store records it once
        assert_eq!(n[0].dedup_key, "budget_threshold:daily:2026-12-07:80");
        let unlimited = PeriodSpend {
            limit: Micros(0),
            ..spend(5)
        };
        assert!(budget_notifications(&triggers, &[unlimited]).is_empty());
    }
}
