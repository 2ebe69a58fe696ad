//! A fake model API: Anthropic's Messages endpoint (`POST /v1/messages`, JSON, no streaming)
//! whose answers the test computes from each request, with random fault injection
//! ([`FaultPlan`]) and a count of the usage it billed.
//!
//! Billing is what the provider side would charge: the usage of every answer it sent whole
//! (`200` with a message). Injected faults are answered before any work, so they bill nothing;
//! a request the responder refuses (`400`) bills nothing either. A test compares
//! [`FakeModel::billed`] with the spend Foreman recorded: any difference is spend that went
//! unaccounted (or was made up).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::common::Running;
use crate::faults::FaultPlan;

/// Computes the content blocks of the answer to a request body (Anthropic's JSON), or refuses
/// it with a message (`400 invalid_request_error`).
pub type Responder = Arc<dyn Fn(&Value) -> Result<Vec<Value>, String> + Send + Sync>;

/// Usage the fake billed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Billed {
    /// Answers sent whole.
    pub calls: u64,
    /// Input tokens billed.
    pub input_tokens: u64,
    /// Output tokens billed.
    pub output_tokens: u64,
    /// Per model: (calls, input tokens, output tokens).
    pub by_model: BTreeMap<String, (u64, u64, u64)>,
    /// Every answer billed: (model, input tokens, output tokens), in order.
    pub answers: Vec<(String, u64, u64)>,
}

#[derive(Default)]
struct Counters {
    requests: u64,
    next_id: u64,
    billed: Billed,
}

struct ModelState {
    api_key: String,
    responder: Responder,
    faults: Mutex<Option<Arc<FaultPlan>>>,
    counters: Mutex<Counters>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake model API; stops when dropped.
pub struct FakeModel {
    server: Running,
    state: Arc<ModelState>,
}

impl std::fmt::Debug for FakeModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeModel")
            .field("url", &self.server.url)
            .finish_non_exhaustive()
    }
}

/// The API's error body.
fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        401 => "authentication_error",
        400 => "invalid_request_error",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

impl FakeModel {
    /// Starts the fake on `127.0.0.1:0`, accepting `api_key` (`x-api-key`), answering with
    /// `responder`.
    pub async fn start(
        api_key: &str,
        responder: impl Fn(&Value) -> Result<Vec<Value>, String> + Send + Sync + 'static,
    ) -> Self {
        let state = Arc::new(ModelState {
            api_key: api_key.to_owned(),
            responder: Arc::new(responder),
            faults: Mutex::new(None),
            counters: Mutex::new(Counters::default()),
        });
        let router = Router::new()
            .route("/v1/messages", post(messages))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            server: Running::new(format!("http://{addr}"), task),
            state,
        }
    }

    /// The base URL to configure the provider with (`[llm] base_url`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// The API key it accepts.
    #[must_use]
    pub fn api_key(&self) -> &str {
        &self.state.api_key
    }

    /// Fails a share of further requests at random; `None` stops it.
    pub fn set_random_faults(&self, plan: Option<Arc<FaultPlan>>) {
        *lock(&self.state.faults) = plan;
    }

    /// Requests received (authorised or not, faulted or not).
    #[must_use]
    pub fn requests(&self) -> u64 {
        lock(&self.state.counters).requests
    }

    /// What it billed so far.
    #[must_use]
    pub fn billed(&self) -> Billed {
        lock(&self.state.counters).billed.clone()
    }
}

async fn messages(
    State(st): State<Arc<ModelState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let error = |status: u16, message: &str| {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, axum::Json(error_body(status, message))).into_response()
    };
    lock(&st.counters).requests += 1;
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(st.api_key.as_str()) {
        return error(401, "invalid x-api-key");
    }
    let plan = lock(&st.faults).clone();
    if let Some(plan) = plan
        && let Some(kind) = plan.draw()
    {
        return plan.respond(kind, error_body, 529).await;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "the body is not JSON");
    };
    let mut content = match (st.responder)(&request) {
        Ok(content) => content,
        Err(message) => return error(400, &message),
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let mut counters = lock(&st.counters);
    counters.next_id += 1;
    let id = counters.next_id;
    let mut tool_use = false;
    for (i, block) in content.iter_mut().enumerate() {
        if block.get("type").and_then(Value::as_str) == Some("tool_use") {
            tool_use = true;
            if block.get("id").is_none() {
                block["id"] = json!(format!("toolu_{id}_{i}"));
            }
        }
    }
    let input_tokens = (body.len() as u64).div_ceil(4).max(1);
    let output_tokens = (Value::from(content.clone()).to_string().len() as u64)
        .div_ceil(4)
        .max(1);
    let billed = &mut counters.billed;
    billed.calls += 1;
    billed.input_tokens += input_tokens;
    billed.output_tokens += output_tokens;
    let per = billed.by_model.entry(model.clone()).or_default();
    per.0 += 1;
    per.1 += input_tokens;
    per.2 += output_tokens;
    billed
        .answers
        .push((model.clone(), input_tokens, output_tokens));
    drop(counters);
    let message = json!({
        "id": format!("msg_fake_{id}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": if tool_use { "tool_use" } else { "end_turn" },
        "stop_sequence": null,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    });
    (StatusCode::OK, axum::Json(message)).into_response()
}
