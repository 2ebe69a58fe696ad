//! Per-role routing with fallbacks.

use std::collections::HashMap;
use std::sync::Arc;

use foreman_domain::llm::{LlmError, LlmProvider, LlmRequest, Usage};
use foreman_llm::{LlmRouter, ModelRouter, ScriptedProvider};
use serde_json::json;

use crate::support::FixedProvider;

fn router(cfg: serde_json::Value) -> ModelRouter {
    serde_json::from_value(cfg).unwrap()
}

fn req(role: &str) -> LlmRequest {
    let mut r = LlmRequest::new("", "hello");
    r.context.role = role.into();
    r
}

#[tokio::test]
async fn routes_roles_and_falls_back_on_outage() {
    let overloaded = || LlmError::Overloaded {
        retry_after: None,
        message: "busy".into(),
    };
    let anthropic = Arc::new(
        FixedProvider::new("anthropic", Usage::default()).failing_first(vec![overloaded()]),
    );
    let openai = Arc::new(FixedProvider::new("openai", Usage::default()));
    let providers: HashMap<String, Arc<dyn LlmProvider>> = HashMap::from([
        (
            "anthropic".to_owned(),
            anthropic.clone() as Arc<dyn LlmProvider>,
        ),
        ("openai".to_owned(), openai.clone() as Arc<dyn LlmProvider>),
    ]);
    let r = LlmRouter::new(
        router(json!({
            "planner": "anthropic:claude-sonnet-4-6",
            "spec_reviewer": "openai:gpt-5-mini",
            "fallbacks": {"planner": ["openai:gpt-5"]}
        })),
        providers,
    )
    .unwrap();
    // planner: anthropic is overloaded, openai answers with its own model name
    let resp = r.complete(&req("planner")).await.unwrap();
    assert_eq!(resp.model, "gpt-5");
    assert_eq!((anthropic.calls(), openai.calls()), (1, 1));
    // anthropic answers now
    assert_eq!(
        r.complete(&req("planner")).await.unwrap().model,
        "claude-sonnet-4-6"
    );
    assert_eq!(
        r.complete(&req("spec_reviewer")).await.unwrap().model,
        "gpt-5-mini"
    );
    // an explicit provider:model wins over the role
    let mut explicit = req("spec_reviewer");
    explicit.model = "anthropic:claude-haiku-4-5".into();
    assert_eq!(
        r.complete(&explicit).await.unwrap().model,
        "claude-haiku-4-5"
    );
    // a bare model name is a caller error; an unknown role is a configuration error
    let mut bare = req("planner");
    bare.model = "gpt-5".into();
    assert_eq!(
        r.complete(&bare).await.unwrap_err().code(),
        "invalid_request"
    );
    assert_eq!(
        r.complete(&req("clarifier")).await.unwrap_err().code(),
        "not_configured"
    );
}

#[tokio::test]
async fn does_not_fall_back_on_caller_errors() {
    let bad = LlmError::InvalidRequest {
        message: "bad schema".into(),
    };
    let primary = Arc::new(
        FixedProvider::new("anthropic", Usage::default()).failing_first(vec![bad.clone()]),
    );
    let backup = Arc::new(FixedProvider::new("openai", Usage::default()));
    let r = LlmRouter::new(
        router(json!({"default": "anthropic:claude-sonnet-4-6", "fallbacks": {"default": ["openai:gpt-5"]}})),
        HashMap::from([
            ("anthropic".to_owned(), primary as Arc<dyn LlmProvider>),
            ("openai".to_owned(), backup.clone() as Arc<dyn LlmProvider>),
        ]),
    )
    .unwrap();
    assert_eq!(r.complete(&req("planner")).await.unwrap_err(), bad);
    assert_eq!(backup.calls(), 0);
}

#[test]
fn refuses_configurations_naming_missing_providers() {
    let e = LlmRouter::new(
        router(json!({"planner": "scripted:demo", "fallbacks": {"planner": ["openai:gpt-5"]}})),
        HashMap::from([(
            "scripted".to_owned(),
            Arc::new(ScriptedProvider::demo()) as Arc<dyn LlmProvider>,
        )]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("\"openai\""), "{e}");
}
