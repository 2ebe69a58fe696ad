//! The prompt library: embedded templates, overrides, versions, rendering.

use anyhow::Result;
use foreman_agent::PromptLibrary;
use foreman_agent::prompts::template_version;
use foreman_domain::prompt::PromptSource;
use serde_json::json;

const ROLES: [&str; 8] = [
    "clarifier",
    "conflict-resolver",
    "final-reviewer",
    "implementer",
    "implementer-retry",
    "planner",
    "quality-reviewer",
    "spec-reviewer",
];

/// The pipeline engine's instruction templates, embedded and versioned beside the role prompts.
const INSTRUCTIONS: [&str; 3] = [
    "conflict-resolution",
    "implementer-feedback",
    "implementer-phase",
];

fn full_vars() -> serde_json::Value {
    json!({
        "ticket": {"external_id": "PROJ-1", "title": "Add login", "description": "Users log in.", "acceptance_criteria": "a test logs in"},
        "task": {"title": "Login form", "description": "Build it", "acceptance_criteria": "renders", "files": ["src/login.rs"], "attempt": 2, "feedback": "missing test"},
        "tasks": [{"title": "Login form"}, {"title": "Session cookie"}],
        "diff": "+fn login() {}",
        "test_output": "1 passed",
        "commands": ["cargo test"],
        "test_command": "cargo test",
        "repository": "src/ lib",
        "feedback": "too many tasks",
        "answers": "use OAuth",
    })
}

#[test]
fn every_role_is_embedded_and_versioned_by_sha256() {
    let lib = PromptLibrary::embedded();
    let mut names: Vec<&str> = ROLES.iter().chain(&INSTRUCTIONS).copied().collect();
    names.sort_unstable();
    assert_eq!(lib.names(), names);
    let versions = lib.versions();
    assert_eq!(versions.len(), ROLES.len() + INSTRUCTIONS.len());
    for (name, v) in &versions {
        assert_eq!(v.len(), 64, "{name}");
        assert!(
            v.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(v, &template_version(lib.source(name).unwrap()));
    }
    let distinct: std::collections::HashSet<_> = versions.iter().map(|(_, v)| v).collect();
    assert_eq!(distinct.len(), versions.len());
    // The trait view used by the pipeline and the API agrees.
    let src: &dyn PromptSource = &lib;
    assert_eq!(src.versions(), versions);
}

#[test]
fn every_role_renders_with_full_and_with_empty_variables() -> Result<()> {
    let lib = PromptLibrary::embedded();
    for name in ROLES {
        let full = lib.render(name, &full_vars())?;
        assert!(full.text.len() > 200, "{name}");
        assert_eq!(full.version, lib.version(name).unwrap());
        assert!(
            !full.text.contains("{{") && !full.text.contains("{%"),
            "{name}"
        );
        lib.render(name, &json!({}))?;
    }
    let implementer = lib.render("implementer", &full_vars())?.text;
    assert!(implementer.contains("Login form") && implementer.contains("`cargo test`"));
    let retry = lib.render("implementer-retry", &full_vars())?.text;
    assert!(
        retry.contains("missing test") && retry.contains("attempt\n2")
            || retry.contains("attempt 2")
    );
    let final_review = lib.render("final-reviewer", &full_vars())?.text;
    assert!(final_review.contains("2. Session cookie"), "{final_review}");
    Ok(())
}

#[test]
fn unknown_prompts_are_errors() {
    let lib = PromptLibrary::embedded();
    let e = lib.render("poet", &json!({})).unwrap_err();
    assert!(e.to_string().contains("unknown prompt"), "{e}");
}

#[test]
fn overrides_replace_templates_and_change_their_version() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("planner.md"),
        "Plan {{ ticket.title }} in {{ max_tasks or 3 }} tasks.",
    )?;
    std::fs::write(dir.path().join("notes.txt"), "ignored")?;
    let lib = PromptLibrary::with_overrides(dir.path())?;
    let embedded = PromptLibrary::embedded();
    assert_ne!(lib.version("planner"), embedded.version("planner"));
    assert_eq!(lib.version("implementer"), embedded.version("implementer"));
    let r = lib.render("planner", &json!({"ticket": {"title": "X"}}))?;
    assert_eq!(r.text, "Plan X in 3 tasks.");
    assert!(matches!(
        lib.origin("planner"),
        Some(foreman_agent::prompts::PromptOrigin::File(_))
    ));

    std::fs::write(dir.path().join("poet.md"), "hi")?;
    let e = PromptLibrary::with_overrides(dir.path()).unwrap_err();
    assert_eq!(e.code(), "unknown_prompt");
    std::fs::remove_file(dir.path().join("poet.md"))?;
    std::fs::write(dir.path().join("clarifier.md"), "{% if %}")?;
    let e = PromptLibrary::with_overrides(dir.path()).unwrap_err();
    assert_eq!(e.code(), "prompt_template");
    assert!(e.to_string().contains("clarifier"));
    let e = PromptLibrary::with_overrides(&dir.path().join("missing")).unwrap_err();
    assert_eq!(e.code(), "prompt_io");
    Ok(())
}
