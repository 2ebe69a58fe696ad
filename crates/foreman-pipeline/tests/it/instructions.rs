//! The engine's instruction templates render exactly the text the engine has always sent: the
//! phase instructions, each kind of implementer feedback, and the conflict resolver's task.

use foreman_agent::PromptLibrary;
use foreman_domain::pipeline::{Phase, ReviewKind};
use serde_json::{Value, json};

fn render(name: &str, vars: Value) -> String {
    PromptLibrary::embedded()
        .render(name, &vars)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .text
}

fn feedback(kind: &str, mut vars: Value) -> String {
    vars["kind"] = kind.into();
    render("implementer-feedback", vars)
}

#[test]
fn phase_instructions() {
    assert_eq!(
        render("implementer-phase", json!({"phase": Phase::Tests})),
        "PHASE: TESTS. Write the failing tests for this task only; do not implement the change yet. The tests must fail because the behaviour is missing (an assertion), not because of a syntax or import error."
    );
    assert_eq!(
        render("implementer-phase", json!({"phase": Phase::Implement})),
        "PHASE: IMPLEMENT. Implement the change so that the tests pass. Do not weaken or delete the tests."
    );
}

#[test]
fn feedback_for_every_kind() {
    let out = "line 1\n  left: {{ 1 }}\nline 3";
    let cases = [
        (
            feedback("previous_attempt", json!({"error": "spec: it broke"})),
            "The previous attempt failed:\nspec: it broke".to_owned(),
        ),
        (
            feedback(
                "incomplete",
                json!({"stop_reason": "max_turns", "phase": Phase::Tests}),
            ),
            "You stopped without completing (max_turns). Write the tests and call complete."
                .to_owned(),
        ),
        (
            feedback(
                "incomplete",
                json!({"stop_reason": "agent_stalled", "phase": Phase::Implement}),
            ),
            "You stopped without completing (agent_stalled).".to_owned(),
        ),
        (
            feedback("red_passes", json!({"output": out})),
            format!(
                "TDD check failed: the tests you wrote already pass (or none ran) before the change, so they prove nothing. Write tests that fail until the task is implemented.\n\nTest output:\n{out}"
            ),
        ),
        (
            feedback("red_invalid", json!({"output": out})),
            format!(
                "TDD check failed: the tests must fail on an assertion, but they do not build or import. Add whatever stubs are needed so they compile and fail on an assertion.\n\nTest output:\n{out}"
            ),
        ),
        (
            feedback("green_fails", json!({"output": out})),
            format!("The tests fail after your change:\n{out}"),
        ),
        (
            feedback("lint_fails", json!({"lint": "ruff check", "output": out})),
            format!("The linter (ruff check) failed:\n{out}"),
        ),
        (
            feedback(
                "review",
                json!({"review": ReviewKind::Spec, "issues": ["no test for empty input", "typo"]}),
            ),
            "The spec review asked for changes:\n- no test for empty input\n- typo".to_owned(),
        ),
        (
            feedback(
                "review",
                json!({"review": ReviewKind::Quality, "issues": []}),
            ),
            "The quality review asked for changes:\n- ".to_owned(),
        ),
        (
            feedback(
                "secret",
                json!({"findings": ["src/config.py:2 (github_token)", ".env:1 (aws_access_key)"]}),
            ),
            "The change was not committed: it adds what looks like a secret at src/config.py:2 (github_token), .env:1 (aws_access_key). Remove it from the change (read credentials from the environment or the configuration at run time instead) and make sure the tests still pass.".to_owned(),
        ),
        (
            feedback(
                "commit_policy",
                json!({"violations": [".env is a secret file", "b.py is neither declared by the plan nor a test"]}),
            ),
            "The change was not committed: .env is a secret file; b.py is neither declared by the plan nor a test. Take those files out of the change (secret files are never committed; keep to the files the task names and its tests) and make sure the tests still pass.".to_owned(),
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
}

#[test]
fn conflict_resolution_task() {
    assert_eq!(
        render(
            "conflict-resolution",
            json!({"kind": "rebase", "files": ["src/a.rs", "README.md"]})
        ),
        "These files have rebase conflict markers: src/a.rs, README.md. Resolve every conflict keeping the intent of both sides, remove all markers, and make the tests pass."
    );
}

#[test]
fn instruction_templates_are_versioned_like_the_role_prompts() {
    let lib = PromptLibrary::embedded();
    for name in [
        "implementer-phase",
        "implementer-feedback",
        "conflict-resolution",
    ] {
        let version = lib.version(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(version.len(), 64, "{name}");
        assert!(
            lib.versions()
                .iter()
                .any(|(n, v)| n == name && v == version)
        );
    }
}
