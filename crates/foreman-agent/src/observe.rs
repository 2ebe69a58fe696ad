//! Events and metrics a run emits: `agent_turn`, `agent_stalled`, `secrets_detected` and the
//! `foreman_secrets_detected_total` counter.

use std::collections::BTreeMap;
use std::sync::Arc;

use foreman_domain::agent::AgentTask;
use foreman_domain::llm::Usage;
use foreman_domain::{EventLog, EventType, Micros, NewEvent};
use serde_json::json;

use crate::secrets::{Finding, Where};

/// Prices a model's usage (the binaries adapt `foreman-llm`'s pricing table to it).
pub trait CostEstimator: Send + Sync {
    /// The cost of `usage` on `model`.
    fn cost(&self, model: &str, usage: &Usage) -> Micros;
}

impl<F> CostEstimator for F
where
    F: Fn(&str, &Usage) -> Micros + Send + Sync,
{
    fn cost(&self, model: &str, usage: &Usage) -> Micros {
        self(model, usage)
    }
}

/// Where a run's events go, with the ticket and task they concern.
#[derive(Clone)]
pub(crate) struct Observer {
    events: Option<Arc<dyn EventLog>>,
    task: AgentTask,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("events", &self.events.is_some())
            .finish_non_exhaustive()
    }
}

impl Observer {
    pub(crate) fn new(events: Option<Arc<dyn EventLog>>, task: &AgentTask) -> Self {
        Self {
            events,
            task: task.clone(),
        }
    }

    pub(crate) async fn emit(&self, mut event: NewEvent) {
        let Some(log) = &self.events else {
            return;
        };
        event.ticket_id.clone_from(&self.task.ticket_id);
        event.task_id.clone_from(&self.task.task_id);
        if let Err(e) = log.append(event).await {
            tracing::warn!(error = %e, code = e.code(), "cannot record agent event");
        }
    }

    /// Counts (under the `where` label `site`) and reports redacted secrets (no-op for none).
    pub(crate) async fn secrets(&self, findings: &[Finding], site: Where, source: &str) {
        if findings.is_empty() {
            return;
        }
        let n = findings.len() as u64;
        metrics::counter!(foreman_secrets::SECRETS_DETECTED_TOTAL, "where" => site.as_str())
            .increment(n);
        let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
        for f in findings {
            *kinds.entry(f.rule_id.as_str()).or_default() += 1;
        }
        tracing::warn!(
            count = n,
            source,
            "secrets redacted before reaching the model"
        );
        self.emit(
            NewEvent::new(
                EventType::SecretsDetected,
                format!("{n} secret(s) redacted from {source}"),
            )
            .details(json!({"count": n, "source": source, "kinds": kinds})),
        )
        .await;
    }

    pub(crate) async fn stalled(&self, runner: &str, reason: &str, turn: u32) {
        tracing::warn!(runner, turn, reason, "agent stalled");
        self.emit(
            NewEvent::new(EventType::AgentStalled, format!("agent stalled: {reason}"))
                .details(json!({"runner": runner, "turn": turn, "reason": reason})),
        )
        .await;
    }
}
