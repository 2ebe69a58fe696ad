//! The scripted provider and the shipped demo script.

use foreman_domain::llm::{LlmError, LlmProvider, LlmRequest, StopReason};
use foreman_llm::{Script, ScriptedProvider};

fn req(role: &str, user: &str) -> LlmRequest {
    let mut r = LlmRequest::new("", user);
    r.context.role = role.to_owned();
    r
}

#[tokio::test]
async fn demo_script_answers_every_pipeline_role() {
    let p = ScriptedProvider::demo();
    for role in foreman_llm::router::ROLES {
        let r = p.complete(&req(role, "Add a greeting endpoint")).await;
        assert!(r.is_ok(), "{role}: {r:?}");
    }
    let plan = p
        .complete(&req("planner", "Add a greeting endpoint"))
        .await
        .unwrap();
    assert_eq!(plan.stop_reason, StopReason::ToolUse);
    let tasks = &plan.tool_input("submit_plan").unwrap()["tasks"];
    assert_eq!(tasks.as_array().unwrap().len(), 2);
    assert_eq!(plan.model, "scripted");
    assert!(plan.usage.input_tokens > 0 && plan.usage.output_tokens > 0);
    let clar = p
        .complete(&req("clarifier", "do something with the api etc."))
        .await
        .unwrap();
    assert_eq!(
        clar.tool_input("submit_clarification").unwrap()["needs_clarification"],
        true
    );
    let clar = p
        .complete(&req("clarifier", "Add GET /hello returning 200"))
        .await
        .unwrap();
    assert_eq!(
        clar.tool_input("submit_clarification").unwrap()["needs_clarification"],
        false
    );
    let imp = p
        .complete(&req("implementer", "implement task 1"))
        .await
        .unwrap();
    assert_eq!(imp.tool_uses()[0].1, "write_file");
    let imp = p
        .complete(&req("implementer", "file written; tests passed"))
        .await
        .unwrap();
    assert_eq!(imp.tool_uses()[0].1, "finish");
}

#[tokio::test]
async fn entries_match_in_order_with_limits_and_fail_loudly() {
    let script = Script::parse(
        r#"{
          "model": "scripted-test",
          "entries": [
            {"name": "first", "role": "planner", "times": 1, "response": {"text": "plan v1"}},
            {"name": "second", "role": "planner", "times": 1, "response": {"text": "plan v2"}},
            {"name": "bug", "match": "(?i)\\bbug\\b", "response": {"text": "a bug answer"}},
            {"name": "busy", "role": "clarifier", "times": 1, "error": {"kind": "overloaded", "message": "busy"}},
            {"name": "clarify", "role": "clarifier", "response": {"tool_use": {"name": "ask", "input": {"q": 1}}, "usage": {"input_tokens": 10, "output_tokens": 5}}}
          ]
        }"#,
    )
    .unwrap();
    assert_eq!(script.len(), 5);
    let p = ScriptedProvider::new(script).named("demo");
    assert_eq!(p.name(), "demo");
    assert_eq!(
        p.complete(&req("planner", "x")).await.unwrap().text(),
        "plan v1"
    );
    assert_eq!(
        p.complete(&req("planner", "x")).await.unwrap().text(),
        "plan v2"
    );
    // planner entries are used up; the regex entry answers any role
    assert_eq!(
        p.complete(&req("planner", "fix the BUG"))
            .await
            .unwrap()
            .text(),
        "a bug answer"
    );
    let e = p.complete(&req("planner", "x")).await.unwrap_err();
    assert!(
        matches!(&e, LlmError::NotConfigured { message } if message.contains("\"planner\"") && message.contains("\"x\"")),
        "{e:?}"
    );
    let e = p.complete(&req("clarifier", "x")).await.unwrap_err();
    assert_eq!(e.code(), "overloaded");
    let r = p.complete(&req("clarifier", "x")).await.unwrap();
    assert_eq!(r.usage.input_tokens, 10);
    assert_eq!(r.model, "scripted-test");
    let id = r.tool_uses()[0].0.to_owned();
    assert!(id.starts_with("toolu_scripted_"), "{id}");
    assert_eq!(p.calls(), 6);
}

#[test]
fn invalid_scripts_are_refused_with_the_entry_named() {
    let cases = [
        (
            r#"{"entries": [{"name": "x", "match": "(", "response": {"text": "a"}}]}"#,
            "script_regex",
            "x",
        ),
        (r#"{"entries": [{"response": {}}]}"#, "script_entry", "#0"),
        (
            r#"{"entries": [{"name": "both", "response": {"text": "a"}, "error": {"kind": "timeout"}}]}"#,
            "script_entry",
            "both",
        ),
        (
            r#"{"entries": [{"name": "k", "error": {"kind": "explode"}}]}"#,
            "script_entry",
            "explode",
        ),
        (
            r#"{"entries": [{"name": "z", "times": 0, "response": {"text": "a"}}]}"#,
            "script_entry",
            "z",
        ),
        (
            r#"{"entries": [{"respnse": {"text": "typo"}}]}"#,
            "script_parse",
            "respnse",
        ),
        ("not json", "script_parse", ""),
    ];
    for (text, code, needle) in cases {
        let e = Script::parse(text).unwrap_err();
        assert_eq!(e.code(), code, "{text}: {e}");
        let full = format!(
            "{e} {:?}",
            std::error::Error::source(&e).map(ToString::to_string)
        );
        assert!(full.contains(needle), "{text}: {full}");
    }
}

#[test]
fn loads_scripts_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(
        &path,
        r#"{"entries": [{"response": {"text": "from a file"}}]}"#,
    )
    .unwrap();
    let p = ScriptedProvider::from_file(&path).unwrap();
    assert_eq!(p.calls(), 0);
    let e = ScriptedProvider::from_file(&dir.path().join("missing.json")).unwrap_err();
    assert_eq!(e.code(), "script_io");
    assert!(e.to_string().contains("missing.json"));
    // the shipped file parses
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.json");
    assert!(Script::load(&shipped).unwrap().description().is_some());
}
