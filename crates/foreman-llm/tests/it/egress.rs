//! Egress scanning: every request reaches the provider with its secrets redacted, counted by
//! where they were found.

use std::sync::Arc;

use foreman_domain::llm::{ContentBlock, LlmProvider, LlmRequest, Message, MessageRole, Usage};
use foreman_domain::{CostLedger, EventFilter, EventLog, EventType};
use foreman_llm::{MemoryAuditSink, MeteredProvider, Redactor, redact_request};
use foreman_secrets::SecretScanner;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::json;

use crate::support::{FixedProvider, request_for, store_with_task};

const HAIKU: &str = "claude-haiku-4-5";

/// Fake credentials assembled at run time (no token-shaped literal in the source).
struct Tokens {
    foreman: String,
    github: String,
    aws: String,
    npm: String,
}

fn tokens() -> Tokens {
    let body = |seed: u64, n: usize| -> String {
        let a = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(a[(x % a.len() as u64) as usize])
            })
            .collect()
    };
    Tokens {
        foreman: ["fmn", "_", &body(1, 40)].concat(),
        github: ["ghp", "_", &body(2, 36)].concat(),
        aws: ["AKIA", &body(3, 16).to_uppercase()].concat(),
        npm: ["npm", "_", &body(4, 36)].concat(),
    }
}

/// System prompt, a user message and a tool result each carry one token.
fn leaky_request(t: &Tokens, base: LlmRequest) -> LlmRequest {
    let mut req = base;
    req.system = Some(format!(
        "You review code. The deploy token is {} (do not share).",
        t.foreman
    ));
    req.messages = vec![
        Message::user(format!("Fix the CI config; it uses {} to push.", t.github)),
        Message {
            role: MessageRole::Assistant,
            content: vec![ContentBlock::ToolUse {
                id: "t1".into(),
                name: "read_file".into(),
                input: json!({"path": ".github/workflows/ci.yml"}),
            }],
            cache_breakpoint: false,
        },
        Message {
            role: MessageRole::User,
            content: vec![ContentBlock::ToolResult {
                tool_use_id: "t1".into(),
                content: format!("env:\n  AWS_ACCESS_KEY_ID: {}\n", t.aws),
                is_error: false,
            }],
            cache_breakpoint: false,
        },
    ];
    req
}

fn sent_json(inner: &FixedProvider) -> String {
    serde_json::to_string(&*inner.requests.lock().unwrap()).unwrap()
}

#[test]
fn every_part_reaches_the_provider_redacted_and_is_counted_by_where() {
    let t = tokens();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let (store, ticket, inner, audit, control) = metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (store, ticket, task) = store_with_task().await;
            let req = leaky_request(&t, request_for(HAIKU, "reviewer", &ticket, &task));
            // Control: straight to the provider, the tokens arrive as they are.
            let bare = FixedProvider::new("anthropic", Usage::default());
            bare.complete(&req).await.unwrap();
            let control = sent_json(&bare);
            let inner = Arc::new(FixedProvider::new("anthropic", Usage::default()));
            let audit = Arc::new(MemoryAuditSink::new(10));
            let p = MeteredProvider::builder(
                inner.clone(),
                Arc::new(store.clone()),
                Arc::new(store.clone()),
            )
            .audit(audit.clone(), 64 * 1024)
            .build();
            p.complete(&req).await.unwrap();
            (store, ticket, inner, audit, control)
        })
    });
    for secret in [&t.foreman, &t.github, &t.aws] {
        assert!(control.contains(secret.as_str()), "the control leaks");
    }

    let sent = sent_json(&inner);
    for secret in [&t.foreman, &t.github, &t.aws] {
        assert!(!sent.contains(secret.as_str()), "leaked: {sent}");
    }
    let got = inner.requests.lock().unwrap()[0].clone();
    assert_eq!(
        got.system.as_deref(),
        Some("You review code. The deploy token is [REDACTED:foreman_token] (do not share).")
    );
    assert_eq!(
        got.messages[0].content,
        vec![ContentBlock::text(
            "Fix the CI config; it uses [REDACTED:github_token] to push."
        )]
    );
    assert!(matches!(
        &got.messages[2].content[0],
        ContentBlock::ToolResult { content, .. }
            if content == "env:\n  AWS_ACCESS_KEY_ID: [REDACTED:aws_access_key]\n"
    ));
    // parts without secrets stay as they were
    assert!(matches!(
        &got.messages[1].content[0],
        ContentBlock::ToolUse { input, .. } if input == &json!({"path": ".github/workflows/ci.yml"})
    ));

    // the metric moved by 3, one per place
    let mut by_where = std::collections::BTreeMap::new();
    for (k, _, _, v) in snapshotter.snapshot().into_vec() {
        if k.key().name() == "foreman_secrets_detected_total" {
            let site = k
                .key()
                .labels()
                .find(|l| l.key() == "where")
                .map(|l| l.value().to_owned())
                .unwrap();
            let DebugValue::Counter(n) = v else {
                panic!("{v:?}")
            };
            by_where.insert(site, n);
        }
    }
    assert_eq!(
        by_where.into_iter().collect::<Vec<_>>(),
        [
            ("message".to_owned(), 1),
            ("system".to_owned(), 1),
            ("tool_result".to_owned(), 1)
        ]
    );

    // the audit body is the redacted request, and a secrets_detected event says where
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let events = store
            .list_events(&EventFilter {
                types: vec![EventType::SecretsDetected],
                limit: 10,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        let d = events[0].details.as_ref().unwrap();
        assert_eq!(d["count"], 3);
        assert_eq!(
            d["where"],
            json!({"system": 1, "message": 1, "tool_result": 1})
        );
        assert!(events[0].task_id.is_some());
        let calls = store.list_llm_calls(&ticket).await.unwrap();
        let body = foreman_llm::AuditSink::get(&*audit, &calls[0].id)
            .await
            .unwrap()
            .request;
        assert!(body.contains("[REDACTED:foreman_token]"), "{body}");
        for secret in [&t.foreman, &t.github, &t.aws] {
            assert!(!body.contains(secret.as_str()));
        }
    });
}

#[test]
fn tool_inputs_are_scanned_and_thinking_is_left_alone() {
    let t = tokens();
    let mut req = LlmRequest::new(HAIKU, "go on");
    req.messages.push(Message {
        role: MessageRole::Assistant,
        content: vec![
            ContentBlock::Thinking {
                thinking: "the user pasted a token earlier".into(),
                signature: Some("sig".into()),
            },
            ContentBlock::ToolUse {
                id: "t2".into(),
                name: "write_file".into(),
                input: json!({"path": ".npmrc", "lines": [format!("//registry.npmjs.org/:_authToken={}", t.npm)], "n": 1}),
            },
        ],
        cache_breakpoint: false,
    });
    let (clean, counts) = redact_request(&Redactor::default(), &req);
    let counts: Vec<(&str, u64)> = counts.iter().map(|(w, n)| (w.as_str(), *n)).collect();
    assert_eq!(
        counts,
        [
            ("system", 0),
            ("message", 0),
            ("tool_input", 1),
            ("tool_result", 0)
        ]
    );
    let text = serde_json::to_string(&*clean).unwrap();
    assert!(!text.contains(t.npm.as_str()), "{text}");
    assert!(text.contains("[REDACTED:npm_token]"), "{text}");
    assert_eq!(clean.messages[1].content[0], req.messages[1].content[0]);

    // a clean request is borrowed, not copied
    let plain = LlmRequest::new(HAIKU, "summarise the ticket");
    let (same, counts) = redact_request(&Redactor::default(), &plain);
    assert!(matches!(same, std::borrow::Cow::Borrowed(_)));
    assert!(counts.iter().all(|(_, n)| *n == 0));
}

#[tokio::test]
async fn configured_patterns_and_api_keys_apply_at_egress() {
    let (store, ticket, task) = store_with_task().await;
    let inner = Arc::new(FixedProvider::new("anthropic", Usage::default()));
    let scanner = Arc::new(SecretScanner::with_extra(&[r"ACME-\d{8}".into()]).unwrap());
    let key = foreman_llm::Secret::new("provider-key-0123456789");
    let p = MeteredProvider::builder(inner.clone(), Arc::new(store.clone()), Arc::new(store))
        .redactor(
            Redactor::default()
                .with_secrets([&key])
                .with_scanner(scanner),
        )
        .build();
    let mut req = request_for(HAIKU, "planner", &ticket, &task);
    req.messages = vec![Message::user(format!(
        "badge ACME-12345678, key {}",
        key.expose()
    ))];
    p.complete(&req).await.unwrap();
    assert_eq!(
        inner.requests.lock().unwrap()[0].messages[0].content,
        vec![ContentBlock::text(
            "badge [REDACTED:custom], key [REDACTED]"
        )]
    );
}
