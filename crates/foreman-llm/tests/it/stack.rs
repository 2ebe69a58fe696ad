//! The whole stack assembled from configuration.

use std::sync::Arc;

use foreman_domain::llm::{LlmProvider, LlmRequest};
use foreman_domain::{BudgetLimits, CostLedger};
use foreman_llm::pricing::PricingConfig;
use foreman_llm::ratelimit::RateLimitConfig;
use foreman_llm::testing::{FakeAnthropic, FakeReply};
use foreman_llm::{
    AnthropicConfig, AuditSink, LlmConfig, ModelRouter, Secret, StackInputs, build_stack,
};
use serde_json::json;

use crate::support::store_with_task;

#[tokio::test]
async fn builds_only_the_providers_the_models_use_and_routes_through_them() {
    let server = FakeAnthropic::start("sk-ant-stack-test-key-123")
        .await
        .unwrap();
    server.push(FakeReply::text("planned"));
    let (store, ticket, task) = store_with_task().await;
    let llm = LlmConfig {
        anthropic: AnthropicConfig {
            api_key: Secret::new(server.api_key()),
            base_url: server.base_url(),
            ..AnthropicConfig::default()
        },
        ..LlmConfig::default()
    };
    let models: ModelRouter = serde_json::from_value(json!({
        "default": "scripted:scripted",
        "planner": "anthropic:claude-haiku-4-5"
    }))
    .unwrap();
    let stack = build_stack(&StackInputs {
        llm: &llm,
        models: &models,
        rate_limit: &RateLimitConfig::default(),
        pricing: &PricingConfig::default(),
        limits: BudgetLimits::default(),
        ledger: Arc::new(store.clone()),
        events: Arc::new(store.clone()),
        secret_scanner: None,
    })
    .unwrap();
    let mut names: Vec<&String> = stack.providers.keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["anthropic", "scripted"],
        "openai is not built, so its key is not needed"
    );
    for role in ["planner", "spec_reviewer"] {
        let mut req = LlmRequest::new("", "Add a greeting endpoint");
        req.context.role = role.into();
        req.context.ticket_id = Some(ticket.clone());
        req.context.task_id = Some(task.clone());
        stack.router.complete(&req).await.unwrap();
    }
    let calls = store.list_llm_calls(&ticket).await.unwrap();
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.provider.as_str(), c.role.as_str()))
            .collect::<Vec<_>>(),
        [("anthropic", "planner"), ("scripted", "spec_reviewer")]
    );
    assert!(calls[0].cost.0 > 0);
    assert_eq!(calls[1].cost.0, 0, "the scripted model is free");
    let audit = stack.audit.get(&calls[0].id).await.unwrap();
    assert!(audit.response.unwrap().contains("planned"));
    assert!(!audit.request.contains(server.api_key()));
}

#[tokio::test]
async fn refuses_unknown_providers_and_missing_keys() {
    let store = foreman_testkit::MemoryStore::new();
    let inputs = |models: &'static str| -> ModelRouter {
        serde_json::from_value(json!({"planner": models})).unwrap()
    };
    let llm = LlmConfig::default();
    let build = |m: &ModelRouter| {
        build_stack(&StackInputs {
            llm: &llm,
            models: m,
            rate_limit: &RateLimitConfig::default(),
            pricing: &PricingConfig::default(),
            limits: BudgetLimits::default(),
            ledger: Arc::new(store.clone()),
            events: Arc::new(store.clone()),
            secret_scanner: None,
        })
    };
    let e = build(&inputs("mystery:model-1")).unwrap_err();
    assert_eq!(e.code(), "routing");
    assert!(e.to_string().contains("mystery"));
    let mut llm_missing = LlmConfig::default();
    llm_missing.anthropic.api_key = Secret::default();
    // without ANTHROPIC_API_KEY in the environment the key is missing
    if std::env::var("ANTHROPIC_API_KEY").is_err() {
        let e = build_stack(&StackInputs {
            llm: &llm_missing,
            models: &inputs("anthropic:claude-sonnet-4-6"),
            rate_limit: &RateLimitConfig::default(),
            pricing: &PricingConfig::default(),
            limits: BudgetLimits::default(),
            ledger: Arc::new(store.clone()),
            events: Arc::new(store.clone()),
            secret_scanner: None,
        })
        .unwrap_err();
        assert_eq!(e.code(), "missing_api_key");
        assert!(e.to_string().contains("ANTHROPIC_API_KEY"));
    }
}
