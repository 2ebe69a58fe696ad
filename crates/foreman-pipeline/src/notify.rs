//! The notifier: evaluates the notification triggers and stores what fires.
//!
//! It tails the event log by `seq` (which increases in commit order, so nothing is skipped,
//! whichever node appended it) and feeds each event to the domain's [`Watch`] (task failures in
//! a row, blocked tickets, merged pull requests, daemon stops); events that close a task step
//! also check the task's context-window use. On its budget interval it sums the UTC day's and
//! month's spend and each active ticket's spend against the limits ([`budget_notifications`]).
//! Every notification has a dedup key recorded once by the store, so a situation fires once
//! however many nodes run a notifier; each one recorded is announced with a
//! `notification_created` event. The triggers are read from the settings store on every step,
//! so `PUT /api/notifications/triggers` takes effect at once.
//!
//! The cursor is kept in the settings store (`notifier_seq`): a restarted notifier goes on where
//! it stopped; a first start begins at the log's end (history does not fire).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use foreman_domain::budget_window::{day_window, month_window};
use foreman_domain::notification::{
    BudgetPeriod, NewNotification, Notification, PeriodSpend, Triggers, Watch,
    budget_notifications, concerns_context, context_notification, load_triggers,
};
use foreman_domain::{
    BudgetLimits, Event, EventFilter, EventLog, EventType, NewEvent, Severity, Store, StoreResult,
    TicketFilter, TicketStatus,
};
use tokio_util::sync::CancellationToken;

use crate::retrospective::{Retrospectives, may_finish_a_ticket};

/// The settings key of the notifier's cursor (the last `seq` it read).
pub const NOTIFIER_SEQ_KEY: &str = "notifier_seq";

/// How the notifier runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifySettings {
    /// How often it reads new events.
    pub poll_interval: Duration,
    /// How often it sums spend against the budgets.
    pub budget_interval: Duration,
    /// The budgets (`[cost]`).
    pub limits: BudgetLimits,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(2),
            budget_interval: Duration::from_secs(30),
            limits: BudgetLimits::default(),
        }
    }
}

/// Evaluates the triggers over the event log and the spend, and records what fires.
pub struct Notifier {
    store: Arc<dyn Store>,
    events: Arc<dyn EventLog>,
    settings: NotifySettings,
    watch: Watch,
    after_seq: Option<i64>,
    retrospectives: Option<Retrospectives>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("settings", &self.settings)
            .field("after_seq", &self.after_seq)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier reading `store` and announcing through `events` (a publishing log, so live
    /// clients see notifications as they fire).
    #[must_use]
    pub fn new(store: Arc<dyn Store>, events: Arc<dyn EventLog>, settings: NotifySettings) -> Self {
        Self {
            store,
            events,
            settings,
            watch: Watch::default(),
            after_seq: None,
            retrospectives: None,
        }
    }

    /// Also writes retrospectives when tickets finish.
    #[must_use]
    pub fn with_retrospectives(mut self, r: Retrospectives) -> Self {
        self.retrospectives = Some(r);
        self
    }

    /// Task failures in a row counted so far.
    #[must_use]
    pub fn failures_in_a_row(&self) -> u32 {
        self.watch.failures_in_a_row()
    }

    async fn cursor(&mut self) -> StoreResult<i64> {
        if let Some(s) = self.after_seq {
            return Ok(s);
        }
        let stored = self
            .store
            .get_setting(NOTIFIER_SEQ_KEY)
            .await?
            .and_then(|v| v.parse::<i64>().ok());
        let seq = match stored {
            Some(s) => s,
            None => self.store.latest_seq().await?,
        };
        self.after_seq = Some(seq);
        Ok(seq)
    }

    /// Starts at the log's end, whatever was stored (tests, and a fresh start).
    ///
    /// # Errors
    /// Store errors.
    pub async fn start_from_now(&mut self) -> StoreResult<()> {
        let seq = self.store.latest_seq().await?;
        self.after_seq = Some(seq);
        self.store
            .put_setting(NOTIFIER_SEQ_KEY, &seq.to_string())
            .await
    }

    /// Reads the events appended since the last step and records what they fire.
    ///
    /// # Errors
    /// Store errors (the cursor stays where it was, so the events are read again).
    pub async fn process_events(&mut self) -> StoreResult<Vec<Notification>> {
        let mut after = self.cursor().await?;
        let triggers = load_triggers(self.store.as_ref()).await?;
        let mut fired = Vec::new();
        let mut finishing = false;
        loop {
            let page = self
                .store
                .list_events(&EventFilter {
                    after_seq: Some(after),
                    limit: foreman_domain::MAX_PAGE_LIMIT,
                    ..EventFilter::default()
                })
                .await?;
            let n = page.len();
            for e in &page {
                finishing |= may_finish_a_ticket(e.event_type);
                for note in self.evaluate(&triggers, e).await? {
                    if let Some(n) = self.record(note).await? {
                        fired.push(n);
                    }
                }
                after = e.seq;
            }
            if n < foreman_domain::MAX_PAGE_LIMIT as usize {
                break;
            }
        }
        if Some(after) != self.after_seq {
            self.after_seq = Some(after);
            self.store
                .put_setting(NOTIFIER_SEQ_KEY, &after.to_string())
                .await?;
        }
        if finishing && let Some(r) = &self.retrospectives {
            r.catch_up().await?;
        }
        Ok(fired)
    }

    async fn evaluate(
        &mut self,
        triggers: &Triggers,
        e: &Event,
    ) -> StoreResult<Vec<NewNotification>> {
        if e.event_type == EventType::NotificationCreated {
            return Ok(Vec::new());
        }
        let mut out = self.watch.on_event(triggers, e);
        if concerns_context(e)
            && let Some(task_id) = &e.task_id
            && let Some(task) = self.store.get_task(task_id).await?
            && let Some(n) = context_notification(triggers, &task)
        {
            out.push(n);
        }
        Ok(out)
    }

    /// Sums spend per budget period at `now` and records what crosses the threshold.
    ///
    /// # Errors
    /// Store errors.
    pub async fn check_budget(&self, now: DateTime<Utc>) -> StoreResult<Vec<Notification>> {
        let triggers = load_triggers(self.store.as_ref()).await?;
        let Some(t) = triggers.armed(foreman_domain::notification::TriggerId::BudgetThreshold)
        else {
            return Ok(Vec::new());
        };
        let limits = self.settings.limits;
        let mut spends = Vec::new();
        for (period, window, limit, key) in [
            (
                BudgetPeriod::Daily,
                day_window(now),
                limits.daily,
                now.format("%Y-%m-%d").to_string(),
            ),
            (
                BudgetPeriod::Monthly,
                month_window(now),
                limits.monthly,
                now.format("%Y-%m").to_string(),
            ),
        ] {
            if let Some(limit) = limit.filter(|_| t.periods.contains(&period)) {
                spends.push(PeriodSpend {
                    period,
                    key,
                    ticket_id: None,
                    limit,
                    used: self.store.spend_between(window.start, window.end).await?,
                });
            }
        }
        if let Some(limit) = limits
            .ticket
            .filter(|_| t.periods.contains(&BudgetPeriod::Ticket))
        {
            let active: Vec<TicketStatus> = TicketStatus::ALL
                .iter()
                .copied()
                .filter(|s| !s.is_terminal())
                .collect();
            let page = self
                .store
                .list_tickets(&TicketFilter {
                    statuses: active,
                    limit: foreman_domain::MAX_PAGE_LIMIT,
                    ..TicketFilter::default()
                })
                .await?;
            for ticket in page.items {
                spends.push(PeriodSpend {
                    period: BudgetPeriod::Ticket,
                    key: ticket.id.to_string(),
                    ticket_id: Some(ticket.id.clone()),
                    limit,
                    used: ticket.cost,
                });
            }
        }
        let mut fired = Vec::new();
        for note in budget_notifications(&triggers, &spends) {
            if let Some(n) = self.record(note).await? {
                fired.push(n);
            }
        }
        Ok(fired)
    }

    /// Records a notification once and announces it.
    async fn record(&self, note: NewNotification) -> StoreResult<Option<Notification>> {
        let Some(n) = self.store.record_notification(note).await? else {
            return Ok(None);
        };
        let severity = match n.severity {
            foreman_domain::notification::NotificationSeverity::Info => Severity::Info,
            foreman_domain::notification::NotificationSeverity::Warning => Severity::Warning,
            foreman_domain::notification::NotificationSeverity::Critical => Severity::Error,
        };
        let mut event = NewEvent::new(EventType::NotificationCreated, n.message.clone())
            .severity(severity)
            .details(serde_json::json!({
                "notification_id": n.id,
                "trigger": n.trigger,
                "severity": n.severity,
            }));
        if let Some(t) = &n.ticket_id {
            event = event.ticket(t);
        }
        if let Some(t) = &n.task_id {
            event = event.task(t);
        }
        if let Err(e) = self.events.append(event).await {
            tracing::warn!(error = %e, "could not record the notification event");
        }
        tracing::info!(trigger = %n.trigger, severity = %n.severity, "notification fired");
        Ok(Some(n))
    }

    /// Runs until `cancel`: events every poll interval, budgets every budget interval. Store
    /// errors are logged and retried at the next tick. A last pass after `cancel` records a
    /// `daemon_stopping` the daemon appended while stopping.
    pub async fn run(mut self, cancel: CancellationToken) {
        if let Some(r) = &self.retrospectives
            && let Err(e) = r.catch_up().await
        {
            tracing::warn!(error = %e, "retrospectives could not catch up");
        }
        let mut events = tokio::time::interval(self.settings.poll_interval);
        let mut budget = tokio::time::interval(self.settings.budget_interval);
        events.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        budget.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = events.tick() => {
                    if let Err(e) = self.process_events().await {
                        tracing::warn!(error = %e, "notifier could not read events");
                    }
                }
                _ = budget.tick() => {
                    if let Err(e) = self.check_budget(Utc::now()).await {
                        tracing::warn!(error = %e, "notifier could not sum spend");
                    }
                }
            }
        }
        if let Err(e) = self.process_events().await {
            tracing::warn!(error = %e, "notifier could not read the last events");
        }
    }
}

#[cfg(test)]
mod tests {
    use foreman_domain::notification::{TriggerId, TriggerUpdate, save_triggers};
    use foreman_domain::{Micros, NewLlmCall, NewTask, NewTicket, TaskContextStats, TaskPatch};
    use foreman_testkit::MemoryStore;

    use super::*;

    fn limits() -> BudgetLimits {
        BudgetLimits {
            daily: Some(Micros(1_000)),
            monthly: Some(Micros(1_000_000)),
            ticket: Some(Micros(10_000)),
            ..BudgetLimits::default()
        }
    }

    async fn setup() -> (Arc<dyn Store>, Notifier, foreman_domain::Ticket) {
        let store = MemoryStore::new().shared();
        let mut n = Notifier::new(
            store.clone(),
            store.clone(),
            NotifySettings {
                limits: limits(),
                ..NotifySettings::default()
            },
        );
        n.start_from_now().await.unwrap();
        let t = store
            .create_ticket(NewTicket {
                project: "default".into(),
                external_id: "N-1".into(),
                title: "n".into(),
                ..NewTicket::default()
            })
            .await
            .unwrap();
        (store, n, t)
    }

    async fn spend(store: &dyn Store, t: &foreman_domain::Ticket, cost: i64) {
        store
            .record_llm_call(NewLlmCall {
                ticket_id: Some(t.id.clone()),
                role: "implementer".into(),
                provider: "scripted".into(),
                model: "scripted".into(),
                runner: "builtin".into(),
                attempt: 1,
                cost: Micros(cost),
                ..NewLlmCall::default()
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_budget_threshold_fires_exactly_once_per_period_when_spend_crosses_it() {
        let (store, n, t) = setup().await;
        let now = Utc::now();
        spend(&*store, &t, 700).await;
        assert!(
            n.check_budget(now).await.unwrap().is_empty(),
            "70 % is below 80 %"
        );
        spend(&*store, &t, 150).await;
        let fired = n.check_budget(now).await.unwrap();
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].trigger, TriggerId::BudgetThreshold);
        assert_eq!(fired[0].details["period"], "daily");
        // more spend in the same day, and checks again: nothing new
        spend(&*store, &t, 100).await;
        assert!(n.check_budget(now).await.unwrap().is_empty());
        assert!(n.check_budget(now).await.unwrap().is_empty());
        // the next day is a new period (its spend is counted again from zero: the calls were
        // made today, so nothing fires for tomorrow)
        let tomorrow = now + chrono::Duration::days(1);
        assert!(n.check_budget(tomorrow).await.unwrap().is_empty());
        let stored = store.list_notifications(&Default::default()).await.unwrap();
        assert_eq!(stored.len(), 1);
        let announced = store
            .list_events(&EventFilter {
                types: vec![EventType::NotificationCreated],
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(announced.len(), 1);
        assert_eq!(announced[0].severity, Severity::Warning);
    }

    #[tokio::test]
    async fn the_per_ticket_budget_fires_per_ticket_and_a_disabled_period_stays_quiet() {
        let (store, n, t) = setup().await;
        save_triggers(
            store.as_ref(),
            &Triggers::default()
                .apply(&[TriggerUpdate {
                    id: "budget_threshold".into(),
                    periods: Some(vec!["ticket".into()]),
                    ..TriggerUpdate::default()
                }])
                .unwrap(),
        )
        .await
        .unwrap();
        spend(&*store, &t, 9_000).await;
        let fired = n.check_budget(Utc::now()).await.unwrap();
        assert_eq!(
            fired.len(),
            1,
            "only the ticket period is watched: {fired:?}"
        );
        assert_eq!(fired[0].ticket_id.as_ref(), Some(&t.id));
        assert!(n.check_budget(Utc::now()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn consecutive_task_failures_fire_and_a_done_task_resets_the_count() {
        let (store, mut n, t) = setup().await;
        let fail = NewEvent::new(EventType::TaskFailed, "task failed").ticket(&t.id);
        store.append(fail.clone()).await.unwrap();
        store.append(fail.clone()).await.unwrap();
        store
            .append(NewEvent::new(EventType::TaskDone, "task done").ticket(&t.id))
            .await
            .unwrap();
        assert!(n.process_events().await.unwrap().is_empty());
        for _ in 0..3 {
            store.append(fail.clone()).await.unwrap();
        }
        let fired = n.process_events().await.unwrap();
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].trigger, TriggerId::TaskFailures);
        assert_eq!(n.failures_in_a_row(), 0);
        // the notification's own event is read back and fires nothing
        assert!(n.process_events().await.unwrap().is_empty());
        // a restarted notifier goes on from the stored cursor: nothing fires twice
        let mut again = Notifier::new(store.clone(), store.clone(), NotifySettings::default());
        assert!(again.process_events().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn blocked_tickets_context_use_and_daemon_stops_fire() {
        let (store, mut n, t) = setup().await;
        let tasks = store
            .create_tasks(
                &t.id,
                vec![NewTask {
                    sequence: 1,
                    title: "big".into(),
                    ..NewTask::default()
                }],
                None,
            )
            .await
            .unwrap();
        store
            .update_task(
                &tasks[0].id,
                TaskPatch {
                    context: Some(TaskContextStats {
                        budget: 1_000,
                        used: 950,
                        ..TaskContextStats::default()
                    }),
                    ..TaskPatch::default()
                },
                None,
            )
            .await
            .unwrap();
        for e in [
            NewEvent::new(EventType::TaskDone, "done")
                .ticket(&t.id)
                .task(&tasks[0].id),
            NewEvent::new(EventType::ClarificationRequested, "which colour?").ticket(&t.id),
            NewEvent::new(EventType::DaemonStopping, "shutting down"),
        ] {
            store.append(e).await.unwrap();
        }
        let fired = n.process_events().await.unwrap();
        let triggers: Vec<TriggerId> = fired.iter().map(|n| n.trigger).collect();
        assert_eq!(
            triggers,
            vec![
                TriggerId::ContextThreshold,
                TriggerId::TicketBlocked,
                TriggerId::DaemonStopped
            ]
        );
    }
}
