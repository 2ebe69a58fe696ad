//! The built-in loop over the real Anthropic and OpenAI adapters, against in-process servers
//! that validate requests the way the real APIs do (tool-use pairing, message alternation).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use foreman_agent::{BuiltinRunner, CommandPolicy, PromptLibrary, RunnerSettings};
use foreman_domain::agent::{
    AgentRequest, AgentRunner, AgentStopReason, AgentTask, NoAgentProgress,
};
use foreman_domain::llm::LlmProvider;
use foreman_llm::testing::{FakeAnthropic, FakeOpenAi, FakeReply, FakeServer};
use foreman_llm::{AnthropicConfig, AnthropicProvider, OpenAiConfig, OpenAiProvider, Secret};
use serde_json::json;

use crate::support::{Repo, test_env};

const KEY: &str = "test-key-0123456789abcdef";

fn script(server: &FakeServer) {
    server.push(FakeReply::tool_use("read_file", json!({"path": "calc.py"})));
    server.push(FakeReply::tool_use(
        "edit_file",
        json!({"path": "calc.py", "old_string": "return 0", "new_string": "return a + b"}),
    ));
    server.push(FakeReply::tool_use(
        "complete",
        json!({"summary": "fixed add"}),
    ));
}

async fn drive(llm: Arc<dyn LlmProvider>, model: &str) -> Result<()> {
    let repo = Repo::new(&[("calc.py", "def add(a, b):\n    return 0\n")])?;
    let settings = RunnerSettings {
        model: model.into(),
        ..RunnerSettings::default()
    };
    let policy = CommandPolicy::with_env(settings.commands.clone(), test_env())?;
    let runner =
        BuiltinRunner::with_policy(llm, Arc::new(PromptLibrary::embedded()), settings, policy)?;
    let task = AgentTask {
        files: vec!["calc.py".into()],
        ..AgentTask::new("Fix add")
    };
    let outcome = runner
        .run(&AgentRequest::new(task, &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );
    assert_eq!(outcome.turns, 3);
    assert_eq!(repo.read("calc.py")?, "def add(a, b):\n    return a + b\n");
    assert!(outcome.usage.input_tokens + outcome.usage.cache_read_tokens > 0);
    Ok(())
}

#[tokio::test]
async fn runs_over_the_anthropic_messages_api() -> Result<()> {
    let server = FakeAnthropic::start(KEY).await?;
    script(&server);
    let p = AnthropicProvider::new(AnthropicConfig {
        api_key: Secret::new(server.api_key()),
        base_url: server.base_url(),
        timeout: Duration::from_secs(10),
        ..AnthropicConfig::default()
    })?;
    drive(Arc::new(p), "claude-sonnet-4-6").await?;
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let last = &requests[2].body;
    // Tools offered, system prompt cached, and the tool results paired with their calls.
    assert!(
        last["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "run_command")
    );
    let msgs = last["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 5);
    assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
    Ok(())
}

#[tokio::test]
async fn runs_over_the_openai_chat_completions_api() -> Result<()> {
    let server = FakeOpenAi::start(KEY).await?;
    script(&server);
    let p = OpenAiProvider::new(OpenAiConfig {
        api_key: Secret::new(server.api_key()),
        base_url: server.base_url(),
        timeout: Duration::from_secs(10),
        ..OpenAiConfig::preset("openai").unwrap()
    })?;
    drive(Arc::new(p), "gpt-5").await?;
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let msgs = requests[2].body["messages"].as_array().unwrap();
    assert!(msgs.iter().any(|m| m["role"] == "tool"), "{msgs:?}");
    Ok(())
}
