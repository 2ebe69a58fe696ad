//! The metered wrapper against the in-memory store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use foreman_domain::llm::{LlmError, LlmProvider, Usage};
use foreman_domain::{
    BudgetLimits, CostLedger, EventFilter, EventLog, EventType, LlmCallStatus, Micros,
};
use foreman_llm::audit::REDACTED;
use foreman_llm::testing::{FakeAnthropic, FakeReply};
use foreman_llm::{
    AuditSink, BreakerConfig, CircuitBreaker, MemoryAuditSink, MeteredProvider, PricingTable,
    RateLimiter, RateLimits, Redactor, RetryPolicy, Secret,
};
use foreman_testkit::MemoryStore;

use crate::support::{FixedProvider, anthropic, request_for, shared, store_with_task};

const HAIKU: &str = "claude-haiku-4-5";

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        ..Usage::default()
    }
}

fn metered(
    inner: Arc<dyn LlmProvider>,
    store: &MemoryStore,
) -> foreman_llm::MeteredProviderBuilder {
    MeteredProvider::builder(inner, Arc::new(store.clone()), Arc::new(store.clone()))
        .retry(quick_retries())
}

async fn events_of(store: &MemoryStore, t: EventType) -> Vec<foreman_domain::Event> {
    store
        .list_events(&EventFilter {
            types: vec![t],
            limit: 1000,
            ..EventFilter::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn records_every_attempt_and_retries_retryable_failures() {
    let (store, ticket, task) = store_with_task().await;
    let inner = FixedProvider::new("anthropic", usage(20, 500)).failing_first(vec![
        LlmError::Overloaded {
            retry_after: None,
            message: "busy".into(),
        },
        LlmError::Server {
            status: 502,
            message: "bad gateway".into(),
        },
    ]);
    let p = metered(shared(inner), &store).build();
    let mut req = request_for(HAIKU, "planner", &ticket, &task);
    req.context.prompt_version = Some("abc123".into());
    let r = p.complete(&req).await.unwrap();
    assert_eq!(r.text(), "done");
    let calls = store.list_llm_calls(&ticket).await.unwrap();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        calls.iter().map(|c| c.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [
            LlmCallStatus::Error,
            LlmCallStatus::Error,
            LlmCallStatus::Success
        ]
    );
    assert!(calls[0].error.as_deref().unwrap().contains("overloaded"));
    assert_eq!(calls[0].cost, Micros::ZERO);
    // 20 input at $1/Mtok + 500 output at $5/Mtok
    assert_eq!(calls[2].cost, Micros(20 + 2_500));
    assert_eq!(calls[2].tokens_output, 500);
    assert_eq!(calls[2].role, "planner");
    assert_eq!(calls[2].provider, "anthropic");
    assert_eq!(calls[2].runner, "builtin");
    assert_eq!(calls[2].task_id.as_ref(), Some(&task));
    assert_eq!(calls[2].prompt_version.as_deref(), Some("abc123"));
    assert_eq!(calls[2].request_id.as_deref(), Some("req_fixed"));
    assert_eq!(events_of(&store, EventType::LlmCallFailed).await.len(), 2);
    let backoff = events_of(&store, EventType::RateLimitBackoff).await;
    assert_eq!(
        backoff.len(),
        1,
        "only the overload backs off as a rate limit"
    );
    assert_eq!(backoff[0].ticket_id.as_ref(), Some(&ticket));
}

#[tokio::test]
async fn never_retries_authentication_or_invalid_requests() {
    let (store, ticket, task) = store_with_task().await;
    for err in [
        LlmError::Authentication {
            message: "bad key".into(),
        },
        LlmError::InvalidRequest {
            message: "no".into(),
        },
    ] {
        let inner =
            Arc::new(FixedProvider::new("anthropic", usage(1, 1)).failing_first(vec![err.clone()]));
        let p = metered(inner.clone(), &store).build();
        let e = p
            .complete(&request_for(HAIKU, "planner", &ticket, &task))
            .await
            .unwrap_err();
        assert_eq!(e, err);
        assert_eq!(inner.calls(), 1);
    }
    assert_eq!(store.list_llm_calls(&ticket).await.unwrap().len(), 2);
}

#[tokio::test]
async fn honours_retry_after_from_a_real_429() {
    let server = FakeAnthropic::start("sk-ant-key-for-429-test")
        .await
        .unwrap();
    server.push(FakeReply::rate_limited(1));
    server.push(FakeReply::text("after the wait"));
    let (store, ticket, task) = store_with_task().await;
    let p = metered(Arc::new(anthropic(&server)), &store).build();
    let started = Instant::now();
    let r = p
        .complete(&request_for(HAIKU, "implementer", &ticket, &task))
        .await
        .unwrap();
    assert_eq!(r.text(), "after the wait");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let calls = store.list_llm_calls(&ticket).await.unwrap();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [LlmCallStatus::RateLimited, LlmCallStatus::Success]
    );
    assert!(
        calls[1]
            .request_id
            .as_deref()
            .unwrap()
            .starts_with("req_fake_")
    );
    assert!(calls[1].cost > Micros::ZERO);
    let hits = events_of(&store, EventType::RateLimitHit).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].details.as_ref().unwrap()["retry_after_ms"], 1000);
}

#[tokio::test]
async fn refuses_calls_the_budget_cannot_cover() {
    let (store, ticket, task) = store_with_task().await;
    let inner = Arc::new(FixedProvider::new("anthropic", usage(20, 500)));
    let p = metered(inner.clone(), &store)
        .limits(BudgetLimits {
            ticket: Some(Micros(1_000)),
            alert_threshold_pct: 80,
            ..BudgetLimits::default()
        })
        .build();
    let e = p
        .complete(&request_for(HAIKU, "planner", &ticket, &task))
        .await
        .unwrap_err();
    let LlmError::BudgetExceeded(b) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(b.scope, foreman_domain::BudgetScope::Ticket);
    assert_eq!(e.code(), "budget_exceeded");
    assert_eq!(inner.calls(), 0, "nothing was sent");
    let calls = store.list_llm_calls(&ticket).await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, LlmCallStatus::BudgetExceeded);
    // refused again: still one cost_exceeded for this ticket
    assert!(
        p.complete(&request_for(HAIKU, "planner", &ticket, &task))
            .await
            .is_err()
    );
    let exceeded = events_of(&store, EventType::CostExceeded).await;
    assert_eq!(exceeded.len(), 1);
    assert_eq!(exceeded[0].details.as_ref().unwrap()["scope"], "ticket");
    assert_eq!(
        exceeded[0].details.as_ref().unwrap()["period"],
        ticket.as_str()
    );
}

#[tokio::test]
async fn alerts_once_per_budget_period() {
    let (store, ticket, task) = store_with_task().await;
    let p = metered(
        shared(FixedProvider::new("anthropic", usage(20, 500))),
        &store,
    )
    .limits(BudgetLimits {
        ticket: Some(Micros(20_000)),
        alert_threshold_pct: 20,
        ..BudgetLimits::default()
    })
    .build();
    let req = request_for(HAIKU, "planner", &ticket, &task);
    p.complete(&req).await.unwrap(); // 2,520 spent: under 20%
    assert!(events_of(&store, EventType::CostAlert).await.is_empty());
    p.complete(&req).await.unwrap(); // 5,040: over 4,000
    p.complete(&req).await.unwrap(); // 7,560: still alerted
    let alerts = events_of(&store, EventType::CostAlert).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].details.as_ref().unwrap()["scope"], "ticket");
    assert!(alerts[0].message.contains("ticket budget"));
    assert_eq!(alerts[0].ticket_id.as_ref(), Some(&ticket));
}

#[tokio::test]
async fn unknown_models_use_fallback_pricing_and_warn_once() {
    let (store, ticket, task) = store_with_task().await;
    let p = metered(
        shared(FixedProvider::new("local", usage(1_000, 1_000))),
        &store,
    )
    .pricing(Arc::new(
        PricingTable::builtin().with_fallback(foreman_llm::ModelPrice::usd(1.0, 2.0, 1.0, 0.1)),
    ))
    .build();
    let req = request_for("my-finetune-v3", "planner", &ticket, &task);
    p.complete(&req).await.unwrap();
    p.complete(&req).await.unwrap();
    let warned = events_of(&store, EventType::UnknownModelPricing).await;
    assert_eq!(warned.len(), 1);
    assert_eq!(
        warned[0].details.as_ref().unwrap()["model"],
        "my-finetune-v3"
    );
    let calls = store.list_llm_calls(&ticket).await.unwrap();
    assert_eq!(calls[0].cost, Micros(1_000 + 2_000));
}

#[tokio::test]
async fn circuit_breaker_opens_fails_fast_and_recovers() {
    let (store, ticket, task) = store_with_task().await;
    let conn = || LlmError::Connection {
        message: "reset".into(),
    };
    let inner =
        Arc::new(FixedProvider::new("anthropic", usage(1, 1)).failing_first(vec![conn(), conn()]));
    let breaker = Arc::new(CircuitBreaker::new(BreakerConfig {
        failure_threshold: 2,
        cool_down: Duration::from_millis(100),
    }));
    let p = metered(inner.clone(), &store)
        .retry(RetryPolicy::none())
        .breaker(breaker.clone())
        .build();
    let req = request_for(HAIKU, "planner", &ticket, &task);
    assert_eq!(p.complete(&req).await.unwrap_err().code(), "connection");
    assert_eq!(p.complete(&req).await.unwrap_err().code(), "connection");
    assert_eq!(events_of(&store, EventType::ProviderDown).await.len(), 1);
    let e = p.complete(&req).await.unwrap_err();
    assert_eq!(
        e,
        LlmError::Unavailable {
            provider: "anthropic".into()
        }
    );
    assert_eq!(inner.calls(), 2, "an open breaker sends nothing");
    tokio::time::sleep(Duration::from_millis(150)).await;
    p.complete(&req).await.unwrap();
    assert_eq!(
        events_of(&store, EventType::ProviderRecovered).await.len(),
        1
    );
    assert_eq!(breaker.state(), foreman_llm::BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn local_rate_limit_waits_and_reports_backoff() {
    let (store, ticket, task) = store_with_task().await;
    let limiter = Arc::new(RateLimiter::new(RateLimits {
        requests_per_minute: 2,
        tokens_per_minute: 0,
    }));
    let p = metered(shared(FixedProvider::new("anthropic", usage(1, 1))), &store)
        .rate_limiter(limiter)
        .build();
    let req = request_for(HAIKU, "planner", &ticket, &task);
    let start = tokio::time::Instant::now();
    for _ in 0..3 {
        p.complete(&req).await.unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    let backoff = events_of(&store, EventType::RateLimitBackoff).await;
    assert_eq!(backoff.len(), 1);
    assert_eq!(backoff[0].details.as_ref().unwrap()["source"], "local");
}

#[tokio::test]
async fn audit_bodies_are_redacted_capped_and_retrievable() {
    let (store, ticket, task) = store_with_task().await;
    let sink = Arc::new(MemoryAuditSink::new(100));
    let key = Secret::new("sk-ant-configured-key-abcdef");
    let p = metered(shared(FixedProvider::new("anthropic", usage(1, 1))), &store)
        .audit(sink.clone(), 1_000)
        .redactor(Redactor::default().with_secrets([&key]))
        .build();
    let mut req = request_for(HAIKU, "implementer", &ticket, &task);
    req.system = Some(format!(
        "use key {} and {}",
        key.expose(),
        ["ghp", "_abcdefghijklmnopqrstuvwxyz0123456789"].concat()
    ));
    p.complete(&req).await.unwrap();
    let mut big = request_for(HAIKU, "implementer", &ticket, &task);
    big.messages[0] = foreman_domain::llm::Message::user("y".repeat(5_000));
    p.complete(&big).await.unwrap();
    let calls = store.list_llm_calls(&ticket).await.unwrap();
    let first = sink.get(&calls[0].id).await.unwrap();
    assert!(!first.request.contains(key.expose()), "{}", first.request);
    assert!(!first.request.contains("ghp_"), "{}", first.request);
    assert!(first.request.contains(REDACTED));
    assert!(first.response.as_deref().unwrap().contains("done"));
    assert!(!first.truncated);
    let second = sink.get(&calls[1].id).await.unwrap();
    assert!(second.truncated);
    assert!(second.request.len() < 1_100);
}

#[test]
fn metrics_use_the_contract_names() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (store, ticket, task) = store_with_task().await;
            let inner = FixedProvider::new("anthropic", usage(1_000, 200)).failing_first(vec![
                LlmError::RateLimited {
                    retry_after: Some(Duration::from_millis(1)),
                    message: "slow".into(),
                },
            ]);
            let p = metered(shared(inner), &store).build();
            p.complete(&request_for(HAIKU, "planner", &ticket, &task))
                .await
                .unwrap();
        });
    });
    let snap = snapshotter.snapshot().into_vec();
    let find = |name: &str, labels: &[(&str, &str)]| -> Option<&DebugValue> {
        snap.iter()
            .find(|(k, _, _, _)| {
                let key = k.key();
                key.name() == name
                    && labels
                        .iter()
                        .all(|(ln, lv)| key.labels().any(|l| l.key() == *ln && l.value() == *lv))
            })
            .map(|(_, _, _, v)| v)
    };
    let counter = |name: &str, labels: &[(&str, &str)]| match find(name, labels) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name} {labels:?}: {other:?}"),
    };
    assert_eq!(
        counter(
            "foreman_llm_calls_total",
            &[("role", "planner"), ("model", HAIKU), ("status", "success")]
        ),
        1
    );
    assert_eq!(
        counter(
            "foreman_llm_calls_total",
            &[("role", "planner"), ("status", "rate_limited")]
        ),
        1
    );
    assert_eq!(
        counter(
            "foreman_llm_tokens_total",
            &[("direction", "input"), ("model", HAIKU)]
        ),
        1_000
    );
    assert_eq!(
        counter(
            "foreman_llm_tokens_total",
            &[("direction", "output"), ("model", HAIKU)]
        ),
        200
    );
    assert_eq!(counter("foreman_retries_total", &[("role", "planner")]), 1);
    assert_eq!(
        counter("foreman_rate_limits_total", &[("provider", "anthropic")]),
        1
    );
    match find(
        "foreman_llm_duration_seconds",
        &[("role", "planner"), ("model", HAIKU)],
    ) {
        Some(DebugValue::Histogram(v)) => assert_eq!(v.len(), 2),
        other => panic!("{other:?}"),
    }
    match find("foreman_cost_usd_total", &[("model", HAIKU)]) {
        // 1,000 in at $1 + 200 out at $5 = $0.002
        Some(DebugValue::Gauge(v)) => assert!((v.into_inner() - 0.002).abs() < 1e-9, "{v}"),
        other => panic!("{other:?}"),
    }
}

/// Streams `output` tokens of progress (when given), runs `during` (a takeover, a release),
/// then fails with a dropped connection.
struct FailsMidStream {
    output: Option<u64>,
    during: Box<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>,
}

#[async_trait::async_trait]
impl LlmProvider for FailsMidStream {
    fn name(&self) -> &str {
        "anthropic"
    }

    async fn complete_with_progress(
        &self,
        _request: &foreman_domain::llm::LlmRequest,
        progress: &dyn foreman_domain::llm::ProgressSink,
    ) -> foreman_domain::llm::LlmResult<foreman_domain::llm::LlmResponse> {
        progress.report(foreman_domain::llm::LlmProgress::Started { request_id: None });
        if let Some(n) = self.output {
            progress.report(foreman_domain::llm::LlmProgress::OutputTokens(n));
        }
        (self.during)().await;
        Err(LlmError::Connection {
            message: "connection reset mid-stream".into(),
        })
    }
}

fn fails_mid_stream(output: Option<u64>) -> FailsMidStream {
    FailsMidStream {
        output,
        during: Box::new(|| Box::pin(async {})),
    }
}

#[tokio::test]
async fn a_failed_call_is_priced_by_the_usage_the_provider_reported() {
    let (store, ticket, task) = store_with_task().await;
    let p = metered(shared(fails_mid_stream(Some(300))), &store)
        .retry(RetryPolicy {
            max_attempts: 1,
            ..quick_retries()
        })
        .build();
    let req = request_for(HAIKU, "implementer", &ticket, &task);
    let input = foreman_llm::metered::estimate_input_tokens(&req);
    assert!(p.complete(&req).await.is_err());
    let calls = store.list_llm_calls(&ticket).await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, LlmCallStatus::Error);
    assert_eq!(calls[0].tokens_output, 300);
    assert_eq!(calls[0].tokens_input, i64::try_from(input).unwrap());
    // haiku: $1/Mtok in, $5/Mtok out
    assert_eq!(calls[0].cost, Micros(i64::try_from(input).unwrap() + 1_500));
    let t = foreman_domain::TicketStore::get_ticket(&store, &ticket)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.cost, calls[0].cost, "the ticket's total counts it");

    // control: a failure before any usage was reported costs nothing
    let p = metered(shared(fails_mid_stream(None)), &store)
        .retry(RetryPolicy {
            max_attempts: 1,
            ..quick_retries()
        })
        .build();
    assert!(p.complete(&req).await.is_err());
    let calls = store.list_llm_calls(&ticket).await.unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[1].cost, calls[1].tokens_output), (Micros::ZERO, 0));
}

#[tokio::test]
async fn a_call_whose_reservation_went_with_its_lease_is_still_recorded() {
    use foreman_domain::{ClaimRequest, ReservationRequest, TicketStatus, TicketStore};
    let (store, ticket, task) = store_with_task().await;
    let claim = store
        .claim_next(&ClaimRequest {
            worker_id: "w".into(),
            lease: Duration::from_secs(600),
            statuses: vec![TicketStatus::Queued],
            project: None,
        })
        .await
        .unwrap()
        .unwrap();
    // during the call the lease is released (a restart of the node): the hold goes with it
    let (s, id, fence) = (store.clone(), ticket.clone(), claim.fencing_token);
    let provider = FailsMidStream {
        output: Some(100),
        during: Box::new(move || {
            let (s, id) = (s.clone(), id.clone());
            Box::pin(async move { s.release_lease(&id, "w", fence).await.unwrap() })
        }),
    };
    let limits = BudgetLimits {
        ticket: Some(Micros(1_000_000)),
        ..BudgetLimits::default()
    };
    let p = metered(shared(provider), &store)
        .limits(limits)
        .retry(RetryPolicy {
            max_attempts: 1,
            ..quick_retries()
        })
        .build();
    let req = request_for(HAIKU, "implementer", &ticket, &task);
    assert!(p.complete(&req).await.is_err());
    let calls = store.list_llm_calls(&ticket).await.unwrap();
    assert_eq!(calls.len(), 1, "recorded although its reservation was gone");
    assert!(calls[0].cost > Micros::ZERO);
    // nothing is held any more: the whole limit minus the spend is free
    store
        .reserve(&ReservationRequest {
            ticket_id: Some(ticket.clone()),
            task_id: None,
            amount: Micros(1_000_000 - calls[0].cost.0),
            limits,
            at: foreman_domain::now(),
        })
        .await
        .expect("no hold left behind");
}
