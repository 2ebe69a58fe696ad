//! The file, search, command and diff tools on real repositories.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use foreman_agent::command::{DockerSettings, PreparedCommand, docker_command_line};
use foreman_agent::{
    CommandPolicy, CommandSettings, ExecMode, ProcessCommandRunner, SecretScanner, Toolbox,
};
use foreman_domain::exec::CommandRunner;
use serde_json::json;

use crate::support::{Repo, test_env};

fn toolbox(repo: &Repo, allowed: &[&str], max_output: usize) -> Result<Toolbox> {
    let settings = CommandSettings {
        allowed_commands: allowed.iter().map(|s| (*s).to_owned()).collect(),
        max_output_bytes: max_output,
        timeout_secs: 20,
        ..CommandSettings::default()
    };
    let policy = Arc::new(CommandPolicy::with_env(settings, test_env())?);
    Ok(Toolbox::new(
        &repo.path,
        Arc::new(SecretScanner::default_rules()),
        policy,
    )?)
}

#[tokio::test]
async fn read_file_honours_line_ranges() -> Result<()> {
    let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    let repo = Repo::new(&[("a.txt", &text)])?;
    let mut t = toolbox(&repo, &[], 30_000)?;
    let r = t
        .call(
            "read_file",
            &json!({"path": "a.txt", "start_line": 3, "end_line": 4}),
        )
        .await;
    assert_eq!(
        r.content,
        "a.txt (lines 3-4 of 10)\n     3\tline 3\n     4\tline 4\n[6 more lines; read on with start_line=5]\n"
    );
    let r = t
        .call("read_file", &json!({"path": "a.txt", "start_line": 11}))
        .await;
    assert!(
        r.is_error && r.content.contains("past the end"),
        "{}",
        r.content
    );
    let r = t.call("read_file", &json!({"file": "a.txt"})).await;
    assert!(
        r.is_error && r.content.contains("missing field `path`"),
        "{}",
        r.content
    );
    let r = t.call("frobnicate", &json!({})).await;
    assert!(r.is_error && r.content.contains("unknown tool"));
    Ok(())
}

#[tokio::test]
async fn edits_are_exact_unique_or_clearly_refused_and_multi_edit_is_atomic() -> Result<()> {
    let repo = Repo::new(&[("a.rs", "fn a() {\n    x();\n    x();\n}\n")])?;
    let mut t = toolbox(&repo, &[], 30_000)?;
    let r = t
        .call(
            "edit_file",
            &json!({"path": "a.rs", "old_string": "x();", "new_string": "y();"}),
        )
        .await;
    assert!(
        r.is_error && r.content.contains("matches 2 times (at lines 2, 3)"),
        "{}",
        r.content
    );
    let r = t
        .call(
            "edit_file",
            &json!({"path": "a.rs", "old_string": "z();", "new_string": "y();"}),
        )
        .await;
    assert!(
        r.is_error && r.content.contains("not found"),
        "{}",
        r.content
    );
    let r = t.call("edit_file", &json!({"path": "a.rs", "old_string": "fn a() {\n  x();", "new_string": "fn a() {\n  w();"})).await;
    assert!(
        !r.is_error && r.content.contains("ignoring whitespace"),
        "{}",
        r.content
    );
    assert_eq!(repo.read("a.rs")?, "fn a() {\n    w();\n    x();\n}\n");
    let r = t
        .call(
            "multi_edit",
            &json!({"path": "a.rs", "edits": [
                {"old_string": "w();", "new_string": "v();"},
                {"old_string": "missing", "new_string": "q"}
            ]}),
        )
        .await;
    assert!(
        r.is_error && r.content.contains("edit 2 of 2 failed"),
        "{}",
        r.content
    );
    assert_eq!(
        repo.read("a.rs")?,
        "fn a() {\n    w();\n    x();\n}\n",
        "nothing applied"
    );
    let r = t
        .call(
            "multi_edit",
            &json!({"path": "a.rs", "edits": [
                {"old_string": "w();", "new_string": "v();"},
                {"old_string": "x();", "new_string": "u();"}
            ]}),
        )
        .await;
    assert!(!r.is_error, "{}", r.content);
    assert_eq!(repo.read("a.rs")?, "fn a() {\n    v();\n    u();\n}\n");
    let r = t
        .call(
            "edit_file",
            &json!({"path": "new.rs", "old_string": "a", "new_string": "b"}),
        )
        .await;
    assert!(
        r.is_error && r.content.contains("use write_file"),
        "{}",
        r.content
    );
    Ok(())
}

#[tokio::test]
async fn search_respects_gitignore() -> Result<()> {
    let repo = Repo::new(&[
        (".gitignore", "target/\n*.log\n"),
        ("src/lib.rs", "pub fn needle() {}\n"),
        ("src/deep/mod.rs", "// needle here\n"),
        ("README.md", "no match\n"),
    ])?;
    std::fs::create_dir_all(repo.path.join("target"))?;
    std::fs::write(repo.path.join("target/out.rs"), "needle\n")?;
    std::fs::write(repo.path.join("debug.log"), "needle\n")?;
    let mut t = toolbox(&repo, &[], 30_000)?;
    let r = t.call("grep", &json!({"pattern": "need(le)"})).await;
    assert_eq!(
        r.content,
        "src/deep/mod.rs:1: // needle here\nsrc/lib.rs:1: pub fn needle() {}"
    );
    let r = t
        .call(
            "grep",
            &json!({"pattern": "NEEDLE", "case_insensitive": true, "glob": "lib.rs"}),
        )
        .await;
    assert_eq!(r.content, "src/lib.rs:1: pub fn needle() {}");
    let r = t.call("grep", &json!({"pattern": "("})).await;
    assert!(r.is_error && r.content.contains("invalid regex"));
    let r = t.call("glob", &json!({"pattern": "*.rs"})).await;
    assert_eq!(r.content, "src/deep/mod.rs\nsrc/lib.rs");
    let r = t.call("glob", &json!({"pattern": "src/*.rs"})).await;
    assert_eq!(r.content, "src/lib.rs");
    let r = t.call("glob", &json!({"pattern": "**/mod.rs"})).await;
    assert_eq!(r.content, "src/deep/mod.rs");
    let r = t.call("list_dir", &json!({"depth": 2})).await;
    assert!(
        r.content.contains("src/deep/")
            && !r.content.contains("target")
            && !r.content.contains("debug.log"),
        "{}",
        r.content
    );
    Ok(())
}

#[tokio::test]
async fn long_command_output_keeps_head_and_tail_with_a_note() -> Result<()> {
    let lines: String = (0..2000).map(|i| format!("row {i:05}\n")).collect();
    let repo = Repo::new(&[("big.txt", &lines)])?;
    let mut t = toolbox(&repo, &["cat"], 1_000)?;
    let r = t
        .call("run_command", &json!({"command": "cat big.txt"}))
        .await;
    assert!(r.content.contains("row 00000"), "{}", r.content);
    assert!(r.content.contains("row 01999"));
    assert!(!r.content.contains("row 01000"));
    assert!(r.content.contains("bytes of output omitted"));
    let rec = &t.commands()[0];
    assert!(rec.truncated && rec.allowed && rec.exit_code == Some(0));
    assert_eq!(rec.output_bytes, lines.len() as u64);
    Ok(())
}

#[tokio::test]
async fn git_diff_shows_tracked_and_new_files() -> Result<()> {
    let repo = Repo::new(&[("a.txt", "one\n")])?;
    let mut t = toolbox(&repo, &[], 30_000)?;
    let r = t.call("git_diff", &json!({})).await;
    assert_eq!(r.content, "no changes");
    t.call(
        "edit_file",
        &json!({"path": "a.txt", "old_string": "one", "new_string": "two"}),
    )
    .await;
    t.call(
        "write_file",
        &json!({"path": "b/new.txt", "content": "fresh\n"}),
    )
    .await;
    let r = t.call("git_diff", &json!({})).await;
    assert!(r.content.contains("-one\n+two"), "{}", r.content);
    assert!(
        r.content.contains("+fresh") && r.content.contains("b/new.txt"),
        "{}",
        r.content
    );
    let r = t
        .call("git_diff", &json!({"stat": true, "path": "a.txt"}))
        .await;
    assert!(
        r.content.contains("a.txt") && r.content.contains("1 insertion"),
        "{}",
        r.content
    );
    assert!(!r.content.contains("new.txt"), "{}", r.content);
    Ok(())
}

#[test]
fn docker_mode_builds_an_isolated_command_line() {
    let docker = DockerSettings {
        image: "rust:1.94".into(),
        ..DockerSettings::default()
    };
    let env = vec![
        ("PATH".to_owned(), "/host/bin".to_owned()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ];
    let line = docker_command_line(
        &docker,
        std::path::Path::new("/work/wt"),
        &["cargo".into(), "test".into()],
        &env,
        "foreman-agent-1",
        Some((1000, 1000)),
    );
    assert_eq!(
        line.join(" "),
        "docker run --rm --name foreman-agent-1 --network none --pids-limit 512 --memory 4g --cpus 2 \
         --cap-drop ALL --security-opt no-new-privileges --user 1000:1000 \
         --volume /work/wt:/workspace:rw --workdir /workspace --env LANG=C.UTF-8 rust:1.94 cargo test"
    );
}

#[tokio::test]
async fn docker_mode_goes_through_the_same_policy() -> Result<()> {
    let repo = Repo::new(&[])?;
    let settings = CommandSettings {
        allowed_commands: vec!["cargo test".into()],
        mode: ExecMode::Docker,
        ..CommandSettings::default()
    };
    let policy = Arc::new(CommandPolicy::with_env(settings, test_env())?);
    let sandbox = foreman_agent::Sandbox::new(&repo.path)?;
    assert!(policy.prepare("cargo test; curl x", &sandbox).is_err());
    let prepared = policy.prepare("cargo test -p foo", &sandbox)?;
    let exec = foreman_agent::CommandExecutor::new(policy.clone(), sandbox.root().to_path_buf());
    let line = exec.command_line(&prepared, "c1");
    assert_eq!(&line[..2], &["docker", "run"]);
    assert!(line.windows(2).any(|w| w == ["--network", "none"]));
    assert!(line.ends_with(&[
        "rust:1-slim".into(),
        "cargo".into(),
        "test".into(),
        "-p".into(),
        "foo".into()
    ]));
    assert!(!line.iter().any(|a| a.contains("LEAKCANARY")));
    let _ = PreparedCommand {
        argv: vec![],
        shell: false,
    };
    Ok(())
}

#[tokio::test]
async fn the_gate_command_runner_runs_configured_lines() -> Result<()> {
    let repo = Repo::new(&[])?;
    let runner = ProcessCommandRunner::with_env(&CommandSettings::default(), test_env());
    let out = runner
        .run(&repo.path, "echo one && echo two", Duration::from_secs(10))
        .await?;
    assert!(out.success());
    assert_eq!(out.output, "one\ntwo\n");
    let out = runner
        .run(&repo.path, "sh -c 'exit 4'", Duration::from_secs(10))
        .await?;
    assert_eq!(out.exit_code, Some(4));
    let out = runner
        .run(&repo.path, "env", Duration::from_secs(10))
        .await?;
    assert!(!out.output.contains("LEAKCANARY"));
    let out = runner
        .run(&repo.path, "sleep 5", Duration::from_millis(300))
        .await?;
    assert!(out.timed_out && out.exit_code.is_none());
    let e = runner
        .run(&repo.path, "   ", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("empty command"));
    Ok(())
}
