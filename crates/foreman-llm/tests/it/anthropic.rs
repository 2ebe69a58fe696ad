//! The Anthropic adapter against the fake Messages API.

use std::sync::Mutex;
use std::time::Duration;

use foreman_domain::llm::{
    ContentBlock, LlmError, LlmProgress, LlmProvider, LlmRequest, Message, MessageRole, StopReason,
    ToolChoice, ToolDefinition, Usage,
};
use foreman_llm::testing::{FakeAnthropic, FakeReply};
use foreman_llm::{AnthropicConfig, AnthropicProvider, Secret};
use serde_json::json;

use crate::support::{anthropic, anthropic_with_timeout};

const KEY: &str = "sk-ant-test-key-0123456789";

fn plan_tool() -> ToolDefinition {
    ToolDefinition {
        name: "submit_plan".into(),
        description: "Submit the plan".into(),
        input_schema: json!({
            "type": "object",
            "properties": {"tasks": {"type": "array", "items": {"type": "string"}}},
            "required": ["tasks"]
        }),
    }
}

#[tokio::test]
async fn plain_completion() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    server.push(FakeReply::text("Hello, Ada!"));
    let p = anthropic(&server);
    let mut req = LlmRequest::new("claude-sonnet-4-6", "greet Ada");
    req.system = Some("You are terse.".into());
    req.temperature = Some(0.2);
    req.stop_sequences = vec!["\n\nHuman:".into()];
    let r = p.complete(&req).await.unwrap();
    assert_eq!(r.text(), "Hello, Ada!");
    assert_eq!(r.stop_reason, StopReason::EndTurn);
    assert_eq!(r.model, "claude-sonnet-4-6");
    assert!(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
    assert!(r.request_id.as_deref().unwrap().starts_with("req_fake_"));
    let sent = server.last_request().unwrap();
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.body["max_tokens"], 1024);
    assert_eq!(sent.body["system"][0]["text"], "You are terse.");
    assert!(sent.body["system"][0].get("cache_control").is_none());
    assert_eq!(sent.body["stop_sequences"][0], "\n\nHuman:");
    assert_eq!(p.name(), "anthropic");
}

#[tokio::test]
async fn multi_turn_tool_use() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    server.push(FakeReply::tool_use(
        "read_file",
        json!({"path": "src/lib.rs"}),
    ));
    server.push(FakeReply::text("The file defines greet()."));
    let p = anthropic(&server);
    let mut req = LlmRequest::new("claude-sonnet-4-6", "what does src/lib.rs do?");
    req.tools = vec![ToolDefinition {
        name: "read_file".into(),
        description: "Read a file".into(),
        input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
    }];
    let first = p.complete(&req).await.unwrap();
    assert_eq!(first.stop_reason, StopReason::ToolUse);
    let (id, name, input) = first.tool_uses()[0];
    assert_eq!(name, "read_file");
    assert_eq!(input["path"], "src/lib.rs");
    let id = id.to_owned();
    req.messages.push(first.to_message());
    req.messages.push(Message::with_blocks(
        MessageRole::User,
        vec![ContentBlock::tool_result(&id, "pub fn greet() {}")],
    ));
    let second = p.complete(&req).await.unwrap();
    assert_eq!(second.text(), "The file defines greet().");
    let sent = server.last_request().unwrap();
    assert_eq!(sent.status, 200, "the fake accepted the round trip");
    assert_eq!(sent.body["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(
        sent.body["messages"][2]["content"][0]["tool_use_id"],
        id.as_str()
    );
}

#[tokio::test]
async fn the_fake_rejects_what_the_real_api_rejects() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    let p = anthropic(&server);
    // a tool_use left without its tool_result
    let mut req = LlmRequest::new("claude-sonnet-4-6", "hi");
    req.messages.push(Message::with_blocks(
        MessageRole::Assistant,
        vec![ContentBlock::tool_use("toolu_1", "read_file", json!({}))],
    ));
    req.messages.push(Message::user("go on"));
    let e = p.complete(&req).await.unwrap_err();
    assert!(
        matches!(&e, LlmError::InvalidRequest { message } if message.contains("without `tool_result`")),
        "{e:?}"
    );
    // a tool_result for an id that was never used
    let mut req = LlmRequest::new("claude-sonnet-4-6", "hi");
    req.messages.push(Message::assistant("sure"));
    req.messages.push(Message::with_blocks(
        MessageRole::User,
        vec![ContentBlock::tool_result("toolu_404", "x")],
    ));
    let e = p.complete(&req).await.unwrap_err();
    assert!(e.to_string().contains("unexpected `tool_use_id`"), "{e}");
    // two user messages in a row
    let mut req = LlmRequest::new("claude-sonnet-4-6", "a");
    req.messages.push(Message::user("b"));
    let e = p.complete(&req).await.unwrap_err();
    assert!(e.to_string().contains("alternate"), "{e}");
    // forced tool that does not exist
    let mut req = LlmRequest::new("claude-sonnet-4-6", "a");
    req.tools = vec![plan_tool()];
    req.tool_choice = Some(ToolChoice::Tool {
        name: "nope".into(),
    });
    assert_eq!(
        p.complete(&req).await.unwrap_err().code(),
        "invalid_request"
    );
    // thinking budget not below max_tokens
    let mut req = LlmRequest::new("claude-sonnet-4-6", "a");
    req.thinking_budget = Some(2048);
    req.max_tokens = 1024;
    assert!(
        p.complete(&req)
            .await
            .unwrap_err()
            .to_string()
            .contains("budget_tokens")
    );
    // zero max_tokens
    let mut req = LlmRequest::new("claude-sonnet-4-6", "a");
    req.max_tokens = 0;
    assert!(
        p.complete(&req)
            .await
            .unwrap_err()
            .to_string()
            .contains("max_tokens")
    );
    assert!(server.requests().iter().all(|r| r.status == 400));
}

#[tokio::test]
async fn structured_output_with_forced_tool_choice() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    server.push(FakeReply::tool_use(
        "submit_plan",
        json!({"tasks": ["a", "b"]}),
    ));
    let p = anthropic(&server);
    let mut req = LlmRequest::new("claude-sonnet-4-6", "plan it");
    req.tools = vec![plan_tool()];
    req.tool_choice = Some(ToolChoice::Tool {
        name: "submit_plan".into(),
    });
    let r = p.complete(&req).await.unwrap();
    assert_eq!(r.tool_input("submit_plan").unwrap()["tasks"][1], "b");
    let sent = server.last_request().unwrap();
    assert_eq!(
        sent.body["tool_choice"],
        json!({"type": "tool", "name": "submit_plan"})
    );
    assert_eq!(sent.body["tools"][0]["input_schema"]["type"], "object");
}

#[tokio::test]
async fn streaming_reports_progress_and_assembles_blocks() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    server.push(FakeReply::Message {
        content: vec![
            ContentBlock::Thinking {
                thinking: "the user wants a plan".into(),
                signature: Some("sig-1".into()),
            },
            ContentBlock::text("Here is the plan, streamed in pieces."),
            ContentBlock::tool_use("", "submit_plan", json!({"tasks": ["one", "two", "three"]})),
        ],
        stop_reason: None,
        usage: None,
    });
    let p = anthropic(&server);
    let mut req = LlmRequest::new("claude-sonnet-4-6", "plan it");
    req.tools = vec![plan_tool()];
    req.stream = true;
    req.thinking_budget = Some(1024);
    req.max_tokens = 4096;
    req.temperature = Some(0.2); // dropped: thinking runs at the default temperature
    let seen = Mutex::new(Vec::new());
    let sink = |p: LlmProgress| seen.lock().unwrap().push(p);
    let r = p.complete_with_progress(&req, &sink).await.unwrap();
    assert_eq!(r.stop_reason, StopReason::ToolUse);
    assert_eq!(r.text(), "Here is the plan, streamed in pieces.");
    assert_eq!(r.tool_input("submit_plan").unwrap()["tasks"][2], "three");
    assert!(
        matches!(&r.content[0], ContentBlock::Thinking { signature: Some(s), .. } if s == "sig-1")
    );
    assert!(
        r.usage.output_tokens > 1,
        "final usage comes from message_delta"
    );
    let seen = seen.into_inner().unwrap();
    assert!(matches!(seen[0], LlmProgress::Started { .. }));
    let deltas: String = seen
        .iter()
        .filter_map(|p| match p {
            LlmProgress::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deltas, "Here is the plan, streamed in pieces.");
    assert!(
        seen.iter()
            .filter(|p| matches!(p, LlmProgress::TextDelta(_)))
            .count()
            >= 2
    );
    assert!(seen.contains(&LlmProgress::ToolUseStarted {
        name: "submit_plan".into()
    }));
    let sent = server.last_request().unwrap();
    assert_eq!(sent.body["stream"], true);
    assert_eq!(
        sent.body["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert!(sent.body.get("temperature").is_none());
}

#[tokio::test]
async fn prompt_caching_marks_stable_parts_and_reports_cache_usage() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    let p = anthropic(&server);
    let mut req = LlmRequest::new("claude-sonnet-4-6", "");
    req.system = Some("You plan changes to this repository. ".repeat(50));
    req.tools = vec![plan_tool()];
    req.cache.system = true;
    req.cache.tools = true;
    req.messages = vec![
        Message::user(format!(
            "Repository context: {}",
            "fn main() {} ".repeat(200)
        ))
        .cached(),
        Message::assistant("Understood."),
        Message::user("Now plan ticket 1."),
    ];
    let first = p.complete(&req).await.unwrap();
    assert!(first.usage.cache_write_tokens > 0, "{:?}", first.usage);
    assert_eq!(first.usage.cache_read_tokens, 0);
    req.messages[2] = Message::user("Now plan ticket 2.");
    let second = p.complete(&req).await.unwrap();
    assert_eq!(
        second.usage.cache_read_tokens,
        first.usage.cache_write_tokens
    );
    assert_eq!(second.usage.cache_write_tokens, 0);
    let sent = server.last_request().unwrap();
    assert_eq!(sent.body["system"][0]["cache_control"]["type"], "ephemeral");
    assert_eq!(sent.body["tools"][0]["cache_control"]["type"], "ephemeral");
    assert_eq!(
        sent.body["messages"][0]["content"][0]["cache_control"]["type"],
        "ephemeral"
    );
    assert!(
        sent.body["messages"][2]["content"][0]
            .get("cache_control")
            .is_none()
    );
}

#[tokio::test]
async fn cache_breakpoints_are_capped_at_four() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    let p = anthropic(&server);
    let mut req = LlmRequest::new("claude-sonnet-4-6", "");
    req.system = Some("sys".into());
    req.cache.system = true;
    req.messages = (0..9)
        .map(|i| {
            if i % 2 == 0 {
                Message::user(format!("u{i}")).cached()
            } else {
                Message::assistant(format!("a{i}")).cached()
            }
        })
        .collect();
    p.complete(&req).await.unwrap();
    let body = server.last_request().unwrap().body;
    let marked: Vec<usize> = (0..9)
        .filter(|&i| {
            body["messages"][i]["content"][0]
                .get("cache_control")
                .is_some()
        })
        .collect();
    assert_eq!(
        marked,
        [6, 7, 8],
        "system takes one, the last three messages the rest"
    );
}

#[tokio::test]
async fn http_errors_map_to_typed_errors() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    let p = anthropic(&server);
    let req = LlmRequest::new("claude-sonnet-4-6", "hi");
    server.push(FakeReply::rate_limited(7));
    let e = p.complete(&req).await.unwrap_err();
    assert_eq!(e.code(), "rate_limited");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    server.push(FakeReply::overloaded());
    let e = p.complete(&req).await.unwrap_err();
    assert!(matches!(e, LlmError::Overloaded { .. }), "{e:?}");
    assert!(e.is_retryable() && e.is_outage());
    server.push(FakeReply::server_error());
    let e = p.complete(&req).await.unwrap_err();
    assert!(matches!(e, LlmError::Server { status: 500, .. }), "{e:?}");
    server.push(FakeReply::malformed_json());
    assert_eq!(
        p.complete(&req).await.unwrap_err().code(),
        "invalid_response"
    );
    server.push(FakeReply::Truncated);
    assert_eq!(
        p.complete(&req).await.unwrap_err().code(),
        "invalid_response"
    );
    server.push(FakeReply::Hangup);
    let e = p.complete(&req).await.unwrap_err();
    assert!(matches!(e, LlmError::Connection { .. }), "{e:?}");
    // the server is still fine afterwards
    assert_eq!(p.complete(&req).await.unwrap().text(), "ok");
}

#[tokio::test]
async fn truncated_and_failing_streams() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    let p = anthropic(&server);
    let mut req = LlmRequest::new("claude-sonnet-4-6", "hi");
    req.stream = true;
    server.push(FakeReply::Truncated);
    let e = p.complete(&req).await.unwrap_err();
    assert!(
        matches!(&e, LlmError::Connection { message } if message.contains("stream ended")),
        "{e:?}"
    );
    server.push(FakeReply::Hangup);
    assert_eq!(p.complete(&req).await.unwrap_err().code(), "connection");
    server.push(FakeReply::overloaded());
    assert_eq!(p.complete(&req).await.unwrap_err().code(), "overloaded");
    assert_eq!(p.complete(&req).await.unwrap().text(), "ok");
}

#[tokio::test]
async fn timeouts() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    let p = anthropic_with_timeout(&server, Duration::from_millis(200));
    server.push(FakeReply::text("late").after(Duration::from_secs(2)));
    let e = p
        .complete(&LlmRequest::new("claude-sonnet-4-6", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        LlmError::Timeout {
            after: Duration::from_millis(200)
        }
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn authentication_failure_and_missing_key() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    let p = AnthropicProvider::new(AnthropicConfig {
        api_key: Secret::new("sk-ant-wrong-key-000000"),
        base_url: server.base_url(),
        ..AnthropicConfig::default()
    })
    .unwrap();
    let e = p
        .complete(&LlmRequest::new("claude-sonnet-4-6", "hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LlmError::Authentication { message } if message.contains("x-api-key")),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    assert!(
        !format!("{p:?}").contains("wrong-key"),
        "the key never shows in Debug"
    );
    let e = AnthropicProvider::new(AnthropicConfig {
        base_url: "not a url".into(),
        api_key: Secret::new("k"),
        ..AnthropicConfig::default()
    })
    .unwrap_err();
    assert_eq!(e.code(), "invalid_base_url");
}

#[tokio::test]
async fn context_too_long_and_connection_refused() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    server.set_context_window(100);
    let p = anthropic(&server);
    let e = p
        .complete(&LlmRequest::new("claude-sonnet-4-6", "x".repeat(2_000)))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LlmError::ContextTooLong { message } if message.contains("prompt is too long")),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    // nothing listens on the port of a dropped server
    let base = server.base_url();
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let p = AnthropicProvider::new(AnthropicConfig {
        api_key: Secret::new(KEY),
        base_url: base,
        ..AnthropicConfig::default()
    })
    .unwrap();
    let e = p
        .complete(&LlmRequest::new("claude-sonnet-4-6", "hi"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "connection", "{e:?}");
}

#[tokio::test]
async fn reported_usage_is_passed_through() {
    let server = FakeAnthropic::start(KEY).await.unwrap();
    let usage = Usage {
        input_tokens: 12_000,
        output_tokens: 2_500,
        cache_read_tokens: 30_000,
        cache_write_tokens: 1_000,
    };
    server.push(FakeReply::Message {
        content: vec![ContentBlock::text("x")],
        stop_reason: Some(StopReason::MaxTokens),
        usage: Some(usage),
    });
    let r = anthropic(&server)
        .complete(&LlmRequest::new("claude-sonnet-4-6", "hi"))
        .await
        .unwrap();
    assert_eq!(r.usage, usage);
    assert_eq!(r.stop_reason, StopReason::MaxTokens);
}
