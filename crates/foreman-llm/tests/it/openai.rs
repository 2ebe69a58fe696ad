//! The OpenAI-compatible adapter against the fake Chat Completions API.

use std::sync::Mutex;
use std::time::Duration;

use foreman_domain::llm::{
    ContentBlock, LlmError, LlmProgress, LlmProvider, LlmRequest, Message, MessageRole, StopReason,
    ToolChoice, ToolDefinition,
};
use foreman_llm::testing::{FakeOpenAi, FakeReply};
use foreman_llm::{OpenAiConfig, OpenAiProvider, Secret};
use serde_json::json;

use crate::support::{openai, openai_with};

const KEY: &str = "sk-proj-test-key-0123456789abcdef";

fn review_tool() -> ToolDefinition {
    ToolDefinition {
        name: "submit_review".into(),
        description: "Submit the review".into(),
        input_schema: json!({"type": "object", "properties": {"approved": {"type": "boolean"}}}),
    }
}

#[tokio::test]
async fn plain_completion_with_max_completion_tokens() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    server.push(FakeReply::text("Hello!"));
    let p = openai(&server);
    let mut req = LlmRequest::new("gpt-5", "say hello");
    req.system = Some("Be brief.".into());
    req.max_tokens = 256;
    req.temperature = Some(0.3); // reasoning models only take the default
    let r = p.complete(&req).await.unwrap();
    assert_eq!(r.text(), "Hello!");
    assert_eq!(r.stop_reason, StopReason::EndTurn);
    assert_eq!(r.model, "gpt-5");
    assert!(r.request_id.as_deref().unwrap().starts_with("req_fake_"));
    let sent = server.last_request().unwrap();
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.body["max_completion_tokens"], 256);
    assert!(sent.body.get("max_tokens").is_none());
    assert!(sent.body.get("temperature").is_none());
    assert_eq!(
        sent.body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(
        sent.body["messages"][1],
        json!({"role": "user", "content": "say hello"})
    );
}

#[tokio::test]
async fn reasoning_models_reject_max_tokens_like_the_real_api() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    // the `local` preset sends max_tokens, which the fake rejects for reasoning models
    let p = openai_with(&server, Duration::from_secs(5), "local");
    let e = p.complete(&LlmRequest::new("o3", "hi")).await.unwrap_err();
    assert!(
        matches!(&e, LlmError::InvalidRequest { message } if message.contains("max_completion_tokens")),
        "{e:?}"
    );
    // and accepts it for others
    assert_eq!(
        p.complete(&LlmRequest::new("llama3.1:8b", "hi"))
            .await
            .unwrap()
            .text(),
        "ok"
    );
    assert_eq!(server.last_request().unwrap().body["max_tokens"], 1024);
    assert_eq!(p.name(), "local");
}

#[tokio::test]
async fn tool_calls_round_trip_over_several_turns() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    server.push(FakeReply::Message {
        content: vec![
            ContentBlock::text("Let me look."),
            ContentBlock::tool_use("", "read_file", json!({"path": "a.rs"})),
            ContentBlock::tool_use("", "read_file", json!({"path": "b.rs"})),
        ],
        stop_reason: None,
        usage: None,
    });
    server.push(FakeReply::text("Both files are fine."));
    let p = openai(&server);
    let mut req = LlmRequest::new("gpt-4.1", "check a.rs and b.rs");
    req.temperature = Some(0.0);
    req.tools = vec![ToolDefinition {
        name: "read_file".into(),
        description: "Read a file".into(),
        input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
    }];
    let first = p.complete(&req).await.unwrap();
    assert_eq!(first.stop_reason, StopReason::ToolUse);
    let calls: Vec<(String, String)> = first
        .tool_uses()
        .iter()
        .map(|(id, _, input)| ((*id).to_owned(), input["path"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(calls.len(), 2);
    req.messages.push(first.to_message());
    req.messages.push(Message::with_blocks(
        MessageRole::User,
        calls
            .iter()
            .map(|(id, path)| ContentBlock::tool_result(id, format!("contents of {path}")))
            .collect(),
    ));
    let second = p.complete(&req).await.unwrap();
    assert_eq!(second.text(), "Both files are fine.");
    let body = server.last_request().unwrap().body;
    assert_eq!(
        body["temperature"], 0.0,
        "other models keep their temperature"
    );
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["content"], "Let me look.");
    assert!(msgs[1]["tool_calls"][0]["function"]["arguments"].is_string());
    assert_eq!(msgs[2]["role"], "tool");
    assert_eq!(msgs[2]["tool_call_id"], calls[0].0.as_str());
    assert_eq!(msgs[3]["tool_call_id"], calls[1].0.as_str());
}

#[tokio::test]
async fn the_fake_rejects_unanswered_tool_calls() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    let p = openai(&server);
    let mut req = LlmRequest::new("gpt-4.1", "hi");
    req.messages.push(Message::with_blocks(
        MessageRole::Assistant,
        vec![ContentBlock::tool_use("call_1", "read_file", json!({}))],
    ));
    req.messages.push(Message::user("and?"));
    let e = p.complete(&req).await.unwrap_err();
    assert!(
        e.to_string().contains("did not have response messages"),
        "{e}"
    );
    let mut req = LlmRequest::new("gpt-4.1", "hi");
    req.messages.push(Message::assistant("hm"));
    req.messages.push(Message::with_blocks(
        MessageRole::User,
        vec![ContentBlock::tool_result("call_404", "x")],
    ));
    let e = p.complete(&req).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("must be a response to a preceeding message"),
        "{e}"
    );
}

#[tokio::test]
async fn structured_output_with_forced_function() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    server.push(FakeReply::tool_use(
        "submit_review",
        json!({"approved": true}),
    ));
    let p = openai(&server);
    let mut req = LlmRequest::new("gpt-5-mini", "review this diff");
    req.tools = vec![review_tool()];
    req.tool_choice = Some(ToolChoice::Tool {
        name: "submit_review".into(),
    });
    let r = p.complete(&req).await.unwrap();
    assert_eq!(
        r.tool_input("submit_review"),
        Some(&json!({"approved": true}))
    );
    let body = server.last_request().unwrap().body;
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "submit_review"}})
    );
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["parameters"]["type"], "object");
    req.tool_choice = Some(ToolChoice::Any);
    p.complete(&req).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().body["tool_choice"],
        "required"
    );
}

#[tokio::test]
async fn streaming_with_usage_and_tool_calls() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    server.push(FakeReply::Message {
        content: vec![
            ContentBlock::text("Reviewing now, in several chunks."),
            ContentBlock::tool_use(
                "",
                "submit_review",
                json!({"approved": false, "notes": "rename x"}),
            ),
        ],
        stop_reason: None,
        usage: None,
    });
    let p = openai(&server);
    let mut req = LlmRequest::new("gpt-5", "review");
    req.tools = vec![review_tool()];
    req.stream = true;
    let seen = Mutex::new(Vec::new());
    let sink = |p: LlmProgress| seen.lock().unwrap().push(p);
    let r = p.complete_with_progress(&req, &sink).await.unwrap();
    assert_eq!(r.text(), "Reviewing now, in several chunks.");
    assert_eq!(r.tool_input("submit_review").unwrap()["notes"], "rename x");
    assert_eq!(r.stop_reason, StopReason::ToolUse);
    assert!(
        r.usage.input_tokens > 0 && r.usage.output_tokens > 0,
        "usage from the final chunk"
    );
    let seen = seen.into_inner().unwrap();
    assert!(
        seen.iter()
            .filter(|p| matches!(p, LlmProgress::TextDelta(_)))
            .count()
            >= 2
    );
    assert!(seen.contains(&LlmProgress::ToolUseStarted {
        name: "submit_review".into()
    }));
    let body = server.last_request().unwrap().body;
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn cached_prompt_tokens_become_cache_reads() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    let p = openai(&server);
    let mut req = LlmRequest::new("gpt-4.1", "context ".repeat(500));
    req.messages.push(Message::assistant("ok"));
    req.messages.push(Message::user("question 1"));
    let first = p.complete(&req).await.unwrap();
    assert_eq!(first.usage.cache_read_tokens, 0);
    req.messages[2] = Message::user("question 2");
    let second = p.complete(&req).await.unwrap();
    assert!(second.usage.cache_read_tokens > 0, "{:?}", second.usage);
    assert_eq!(
        second.usage.input_tokens + second.usage.cache_read_tokens,
        first.usage.input_tokens,
        "input excludes the cached part"
    );
}

#[tokio::test]
async fn http_errors_map_to_typed_errors() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    let p = openai(&server);
    let req = LlmRequest::new("gpt-4.1", "hi");
    server.push(FakeReply::rate_limited(3));
    let e = p.complete(&req).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    server.push(FakeReply::overloaded());
    assert_eq!(p.complete(&req).await.unwrap_err().code(), "overloaded");
    server.push(FakeReply::server_error());
    assert_eq!(p.complete(&req).await.unwrap_err().code(), "server_error");
    server.push(FakeReply::malformed_json());
    assert_eq!(
        p.complete(&req).await.unwrap_err().code(),
        "invalid_response"
    );
    server.push(FakeReply::Hangup);
    assert_eq!(p.complete(&req).await.unwrap_err().code(), "connection");
    server.set_context_window(10);
    let e = p
        .complete(&LlmRequest::new("gpt-4.1", "x".repeat(500)))
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::ContextTooLong { .. }), "{e:?}");
}

#[tokio::test]
async fn truncated_stream_and_timeout() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    let p = openai_with(&server, Duration::from_millis(200), "openai");
    let mut req = LlmRequest::new("gpt-4.1", "hi");
    req.stream = true;
    server.push(FakeReply::Truncated);
    assert_eq!(p.complete(&req).await.unwrap_err().code(), "connection");
    server.push(FakeReply::text("slow").after(Duration::from_secs(2)));
    assert_eq!(p.complete(&req).await.unwrap_err().code(), "timeout");
}

#[tokio::test]
async fn authentication_failure() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    let p = OpenAiProvider::new(OpenAiConfig {
        api_key: Secret::new("sk-wrong"),
        base_url: server.base_url(),
        ..OpenAiConfig::openai()
    })
    .unwrap();
    let e = p
        .complete(&LlmRequest::new("gpt-4.1", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Authentication { .. }), "{e:?}");
    // a local server without a key sends no Authorization header at all
    let p = OpenAiProvider::new(OpenAiConfig {
        base_url: server.base_url(),
        api_key_env: "FOREMAN_TEST_UNSET_KEY_VAR".into(),
        ..OpenAiConfig::local()
    })
    .unwrap();
    assert_eq!(
        p.complete(&LlmRequest::new("llama3", "hi"))
            .await
            .unwrap_err()
            .code(),
        "authentication"
    );
    assert!(
        server
            .last_request()
            .unwrap()
            .header("authorization")
            .is_none()
    );
    // a required key that is nowhere to be found
    let e = OpenAiProvider::new(OpenAiConfig {
        api_key_env: "FOREMAN_TEST_UNSET_KEY_VAR".into(),
        ..OpenAiConfig::openai()
    })
    .unwrap_err();
    assert_eq!(e.code(), "missing_api_key");
    assert!(e.to_string().contains("FOREMAN_TEST_UNSET_KEY_VAR"), "{e}");
}

#[tokio::test]
async fn openrouter_preset_sends_its_headers() {
    let server = FakeOpenAi::start(KEY).await.unwrap();
    let p = openai_with(&server, Duration::from_secs(5), "openrouter");
    p.complete(&LlmRequest::new("anthropic/claude-sonnet-4.5", "hi"))
        .await
        .unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.header("x-title"), Some("Foreman"));
    assert_eq!(p.name(), "openrouter");
    assert_eq!(
        OpenAiConfig::openrouter().base_url,
        "https://openrouter.ai/api/v1"
    );
}
