//! Budget admission under concurrency, on every store backend.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use foreman_domain::llm::{
    ContentBlock, LlmError, LlmProvider, LlmRequest, LlmResponse, LlmResult, ProgressSink,
    StopReason, Usage,
};
use foreman_domain::{BudgetLimits, CostLedger, Micros, NewTask, NewTicket, Store};
use foreman_llm::{MeteredProvider, PricingTable, RetryPolicy};
use foreman_store::SqlStore;
use foreman_testkit::MemoryStore;
use foreman_testkit::pg::TestSchema;
use rand::Rng;

use crate::support::request_for;

const HAIKU: &str = "claude-haiku-4-5";

/// A provider whose answers cost a random share of the worst case, after a random pause.
struct RandomCost;

#[async_trait]
impl LlmProvider for RandomCost {
    fn name(&self) -> &str {
        "anthropic"
    }
    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        _progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        let (out, pause) = {
            let mut rng = rand::rng();
            (
                rng.random_range(0..=u64::from(request.max_tokens)),
                rng.random_range(0..300u64),
            )
        };
        tokio::time::sleep(Duration::from_micros(pause)).await;
        Ok(LlmResponse {
            content: vec![ContentBlock::text("x")],
            stop_reason: StopReason::EndTurn,
            usage: Usage {
                input_tokens: 10,
                output_tokens: out,
                ..Usage::default()
            },
            model: request.model.clone(),
            duration: Duration::ZERO,
            request_id: None,
        })
    }
}

/// 64 callers spend against one budget at once. Spending never passes the limit by more than
/// one reservation, and the budget does get used up.
async fn hammer(store: Arc<dyn Store>, limit: i64, ticket_scope: bool) {
    let ticket = store
        .create_ticket(NewTicket {
            external_id: format!("BUDGET-{limit}-{ticket_scope}"),
            title: "spend".into(),
            ..NewTicket::default()
        })
        .await
        .unwrap();
    let task = store
        .create_tasks(
            &ticket.id,
            vec![NewTask {
                sequence: 1,
                title: "t".into(),
                ..NewTask::default()
            }],
            None,
        )
        .await
        .unwrap()
        .remove(0);
    let limits = if ticket_scope {
        BudgetLimits {
            ticket: Some(Micros(limit)),
            ..BudgetLimits::default()
        }
    } else {
        BudgetLimits {
            daily: Some(Micros(limit)),
            ..BudgetLimits::default()
        }
    };
    let ledger: Arc<dyn CostLedger> = store.clone();
    let p: Arc<dyn LlmProvider> = Arc::new(
        MeteredProvider::builder(Arc::new(RandomCost), ledger, store.clone())
            .retry(RetryPolicy::none())
            .limits(limits)
            .build(),
    );
    let req = request_for(HAIKU, "implementer", &ticket.id, &task.id);
    let worst = PricingTable::builtin().lookup(HAIKU).price.worst_case(
        foreman_llm::metered::estimate_input_tokens(&req),
        u64::from(req.max_tokens),
    );
    let mut handles = Vec::new();
    for _ in 0..64 {
        let p = p.clone();
        let req = req.clone();
        handles.push(tokio::spawn(async move {
            let mut ok = 0u32;
            loop {
                match p.complete(&req).await {
                    Ok(_) => ok += 1,
                    Err(LlmError::BudgetExceeded(_)) => return ok,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
        }));
    }
    let mut total_ok = 0;
    for h in handles {
        total_ok += h.await.unwrap();
    }
    let calls = store.list_llm_calls(&ticket.id).await.unwrap();
    let spent: Micros = calls.iter().map(|c| c.cost).sum();
    assert!(total_ok > 0);
    assert_eq!(
        calls.iter().filter(|c| c.cost > Micros::ZERO).count() as u32,
        total_ok
    );
    assert!(
        spent <= Micros(limit) + worst,
        "spent {spent} of {limit} (one reservation {worst})"
    );
    assert!(
        spent + worst + worst > Micros(limit),
        "the budget was used up: spent {spent} of {limit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_never_overshoot_on_the_memory_store() {
    for (limit, ticket_scope) in [(150_000, true), (97_531, false), (400_000, true)] {
        hammer(Arc::new(MemoryStore::new()), limit, ticket_scope).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_never_overshoot_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("budget.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    hammer(Arc::new(store), 120_000, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_never_overshoot_on_postgres() {
    let Some(schema) = TestSchema::create("llm_budget").await else {
        return;
    };
    let store = SqlStore::connect(schema.url()).await.unwrap();
    store.migrate().await.unwrap();
    hammer(Arc::new(store), 120_000, false).await;
    schema.drop_schema().await;
}
