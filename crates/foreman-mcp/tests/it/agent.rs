//! The built-in agent, scripted to call `mcp_<server>_<tool>`, gets the result of a real
//! stdio server, with secrets redacted before the model sees them, and each call recorded as
//! an `mcp_tool_called` event.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use foreman_agent::{BuiltinRunner, CommandSettings, ExecMode, PromptLibrary, RunnerSettings};
use foreman_domain::agent::{
    AgentRequest, AgentRunner, AgentStopReason, AgentTask, NoAgentProgress,
};
use foreman_domain::llm::{LlmProvider, LlmRequest, LlmResponse, LlmResult, ProgressSink};
use foreman_domain::{EventFilter, EventLog, EventType, TaskId, TicketId};
use foreman_llm::{Script, ScriptedProvider};
use foreman_mcp::{McpManager, RestartPolicy};
use foreman_testkit::MemoryStore;
use serde_json::{Value, json};

use crate::support::{healthy, launcher, stdio_server};

const TOKEN: &str = "fmn_Q7vX2kLm9pR4tZ8wB3nC6yH1jF5dS0aE7uK2iO9g";

/// Keeps every request the model was sent.
struct Recording {
    inner: ScriptedProvider,
    requests: Mutex<Vec<LlmRequest>>,
}

#[async_trait]
impl LlmProvider for Recording {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        self.requests.lock().unwrap().push(request.clone());
        self.inner.complete_with_progress(request, progress).await
    }
}

fn scripted(calls: &[(&str, Value)]) -> Arc<Recording> {
    let entries: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, input))| {
            json!({"name": format!("step-{i}"), "times": 1,
                   "response": {"tool_use": {"name": name, "input": input}}})
        })
        .collect();
    let script = json!({"model": "scripted-model", "entries": entries});
    Arc::new(Recording {
        inner: ScriptedProvider::new(Script::parse(&script.to_string()).unwrap()),
        requests: Mutex::new(Vec::new()),
    })
}

#[tokio::test]
async fn the_agent_calls_mcp_tools_and_never_sees_their_secrets() {
    let state = tempfile::tempdir().unwrap();
    let worktree = tempfile::tempdir().unwrap();
    let mut server = stdio_server("kit", RestartPolicy::OnFailure);
    server.allowed_tools = vec!["echo".into(), "leak".into()];
    let m = McpManager::start(vec![server], launcher(ExecMode::None, state.path()));
    healthy(&m, "kit").await;

    let llm = scripted(&[
        ("mcp_kit_echo", json!({"text": "from the agent"})),
        ("mcp_kit_leak", json!({})),
        ("complete", json!({"summary": "used the MCP tools"})),
    ]);
    let store = Arc::new(MemoryStore::new());
    let settings = RunnerSettings {
        commands: CommandSettings {
            mode: ExecMode::None,
            ..CommandSettings::default()
        },
        ..RunnerSettings::default()
    };
    let runner = BuiltinRunner::new(llm.clone(), Arc::new(PromptLibrary::embedded()), settings)
        .unwrap()
        .with_events(store.clone())
        .with_external_tools(m.clone());
    let task = AgentTask {
        ticket_id: Some(TicketId::from("ticket-1")),
        task_id: Some(TaskId::from("task-1")),
        ..AgentTask::new("Use the tools")
    };
    let outcome = runner
        .run(&AgentRequest::new(task, worktree.path()), &NoAgentProgress)
        .await
        .unwrap();
    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );

    let requests = llm.requests.lock().unwrap().clone();
    // the tools were offered by their prefixed names, the filtered ones not at all
    let offered: Vec<&str> = requests[0].tools.iter().map(|t| t.name.as_str()).collect();
    assert!(
        offered.contains(&"mcp_kit_echo") && offered.contains(&"mcp_kit_leak"),
        "{offered:?}"
    );
    assert!(!offered.contains(&"mcp_kit_crash"), "{offered:?}");
    // the echo came back; the secret did not reach the model, its redaction did
    let sent = serde_json::to_string(&requests).unwrap();
    assert!(sent.contains("from the agent"));
    assert!(!sent.contains(TOKEN), "the token reached the model");
    assert!(sent.contains("[REDACTED:foreman_token]"), "{sent}");
    assert_eq!(outcome.secrets_redacted, 1);
    // the transcript holds no secret either
    let transcript = serde_json::to_string(&outcome.transcript).unwrap();
    assert!(!transcript.contains(TOKEN));

    // every call is an event with server, tool, duration and outcome
    let events = store.list_events(&EventFilter::default()).await.unwrap();
    let calls: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == EventType::McpToolCalled)
        .collect();
    assert_eq!(calls.len(), 2);
    let d = calls[0].details.clone().unwrap();
    assert_eq!(
        (d["server"].as_str(), d["tool"].as_str()),
        (Some("kit"), Some("echo"))
    );
    assert_eq!(d["ok"], true);
    assert!(d["duration_ms"].is_u64());
    assert_eq!(calls[1].details.as_ref().unwrap()["tool"], "leak");
    assert_eq!(
        calls[0]
            .ticket_id
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("ticket-1")
    );
    m.shutdown().await;
}
