//! Shared helpers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use foreman_domain::llm::{
    ContentBlock, LlmError, LlmProvider, LlmRequest, LlmResponse, LlmResult, ProgressSink,
    StopReason, Usage,
};
use foreman_domain::{NewTask, NewTicket, TaskId, TaskStore, TicketId, TicketStore};
use foreman_llm::testing::FakeServer;
use foreman_llm::{AnthropicConfig, AnthropicProvider, OpenAiConfig, OpenAiProvider, Secret};
use foreman_testkit::MemoryStore;

pub fn anthropic(server: &FakeServer) -> AnthropicProvider {
    anthropic_with_timeout(server, Duration::from_secs(10))
}

pub fn anthropic_with_timeout(server: &FakeServer, timeout: Duration) -> AnthropicProvider {
    AnthropicProvider::new(AnthropicConfig {
        api_key: Secret::new(server.api_key()),
        base_url: server.base_url(),
        timeout,
        ..AnthropicConfig::default()
    })
    .unwrap()
}

pub fn openai(server: &FakeServer) -> OpenAiProvider {
    openai_with(server, Duration::from_secs(10), "openai")
}

pub fn openai_with(server: &FakeServer, timeout: Duration, preset: &str) -> OpenAiProvider {
    OpenAiProvider::new(OpenAiConfig {
        api_key: Secret::new(server.api_key()),
        base_url: server.base_url(),
        timeout,
        ..OpenAiConfig::preset(preset).unwrap()
    })
    .unwrap()
}

/// A ticket with one task in a fresh store.
pub async fn store_with_task() -> (MemoryStore, TicketId, TaskId) {
    let store = MemoryStore::new();
    let ticket = store
        .create_ticket(NewTicket {
            external_id: format!("T-{}", uuid_like()),
            title: "add a greeting".into(),
            ..NewTicket::default()
        })
        .await
        .unwrap();
    let tasks = store
        .create_tasks(
            &ticket.id,
            vec![NewTask {
                sequence: 1,
                title: "greet".into(),
                ..NewTask::default()
            }],
            None,
        )
        .await
        .unwrap();
    (store, ticket.id, tasks[0].id.clone())
}

fn uuid_like() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A request for `role` on behalf of a ticket and task.
pub fn request_for(model: &str, role: &str, ticket: &TicketId, task: &TaskId) -> LlmRequest {
    let mut req = LlmRequest::new(model, "write a function that greets by name");
    req.context.role = role.to_owned();
    req.context.ticket_id = Some(ticket.clone());
    req.context.task_id = Some(task.clone());
    req.max_tokens = 1_000;
    req
}

/// A provider that answers instantly with fixed usage, or fails with a given error a number of
/// times first. A real implementation of the port kept in memory.
pub struct FixedProvider {
    pub name: String,
    pub usage: Usage,
    pub failures: std::sync::Mutex<Vec<LlmError>>,
    pub calls: AtomicU64,
    pub latency: Duration,
    /// Every request it received, as received.
    pub requests: std::sync::Mutex<Vec<LlmRequest>>,
}

impl FixedProvider {
    pub fn new(name: &str, usage: Usage) -> Self {
        Self {
            name: name.to_owned(),
            usage,
            failures: std::sync::Mutex::new(Vec::new()),
            calls: AtomicU64::new(0),
            latency: Duration::ZERO,
            requests: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Fails with these errors (in order) before answering.
    pub fn failing_first(self, errors: Vec<LlmError>) -> Self {
        *self.failures.lock().unwrap() = errors.into_iter().rev().collect();
        self
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl LlmProvider for FixedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        _progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.requests.lock().unwrap().push(request.clone());
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        } else {
            tokio::task::yield_now().await;
        }
        if let Some(e) = self.failures.lock().unwrap().pop() {
            return Err(e);
        }
        Ok(LlmResponse {
            content: vec![ContentBlock::text("done")],
            stop_reason: StopReason::EndTurn,
            usage: self.usage,
            model: request.model.clone(),
            duration: Duration::from_millis(1),
            request_id: Some("req_fixed".into()),
        })
    }
}

pub fn shared<T: LlmProvider + 'static>(p: T) -> Arc<dyn LlmProvider> {
    Arc::new(p)
}
