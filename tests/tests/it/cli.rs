//! The `foreman` CLI against a real server and database.

use serde_json::Value;

use crate::support::{Server, cli};

#[tokio::test]
async fn generated_tokens_work_against_the_server_and_tickets_list() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let server = Server::start(dir.path(), &[]).await;

    let out = cli(
        &[
            "token",
            "generate",
            "--data-dir",
            data,
            "--name",
            "ops",
            "--scope",
            "read",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("fmn_"), "{token}");

    let out = cli(
        &["tickets", "list", "--server", &server.base, "--json"],
        &[("FOREMAN_TOKEN", &token)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list, serde_json::json!([]));

    let out = cli(
        &["tickets", "list", "--server", &server.base],
        &[("FOREMAN_TOKEN", &token)],
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("STATUS"));

    // token list shows both tokens without their secrets
    let out = cli(&["token", "list", "--data-dir", data, "--json"], &[]);
    assert!(out.status.success());
    let tokens: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 2);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&token));

    // revoke the CLI token: the server refuses it and the CLI exits 1 with the reason
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ops")
        .and_then(|t| t["id"].as_str())
        .unwrap()
        .to_owned();
    let out = cli(&["token", "revoke", "--data-dir", data, &id], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(
        &["tickets", "list", "--server", &server.base],
        &[("FOREMAN_TOKEN", &token)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1() {
    let out = cli(&["tickets", "frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(
        &[
            "token",
            "generate",
            "--scope",
            "root",
            "--data-dir",
            "/nonexistent-dir-for-test",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("root"));
    // nothing listens on port 9 on loopback
    let out = cli(
        &["tickets", "list", "--server", "http://127.0.0.1:9"],
        &[("FOREMAN_TOKEN", "x")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"));
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        &["migrate", "--data-dir", dir.path().to_str().unwrap()],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("foreman.db").exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
}

/// A configuration for `foreman doctor`: local git host and tracker on `clone_url`, the
/// scripted LLM provider (no key needed).
fn doctor_config(dir: &std::path::Path, clone_url: &str) -> std::path::PathBuf {
    let path = dir.join("foreman.toml");
    std::fs::write(
        &path,
        format!(
            "[llm]\nprovider = \"scripted\"\n\n[git]\nprovider = \"local\"\nclone_url = {clone_url:?}\ndefault_branch = \"main\"\n\n[tracker]\nprovider = \"local\"\n"
        ),
    )
    .unwrap();
    path
}

fn doctor(config: &std::path::Path, data: &std::path::Path) -> std::process::Output {
    cli(
        &[
            "doctor",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    )
}

#[test]
fn doctor_passes_on_a_reachable_local_repository_and_a_migrated_database() {
    let dir = tempfile::tempdir().unwrap();
    let remote = foreman_server::demo::ensure_sample_repository(dir.path()).unwrap();
    let data = dir.path().join("data");
    let config = doctor_config(dir.path(), remote.to_str().unwrap());
    let out = cli(&["migrate", "--data-dir", data.to_str().unwrap()], &[]);
    assert!(out.status.success());

    let out = doctor(&config, &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "✓ config: ",
        "✓ git: git version ",
        "✓ database: sqlite ",
        "✓ llm: scripted provider",
        "✓ [default] repository: ",
        "✓ [default] git host: local",
        "✓ [default] tracker: local",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(line)),
            "no line starting with {line:?} in\n{stdout}"
        );
    }
    assert!(stdout.contains("main is at "), "{stdout}");
    assert!(!stdout.contains('✗'), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("All checks passed."),
        "{stdout}"
    );
    // doctor looks, it does not set up: no clone or worktree was made (host git's own empty
    // directory, where repository-less commands such as `ls-remote` run, is all it leaves)
    let mut left = Vec::new();
    let mut dirs = vec![data.join("work")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let is_git = path.file_name().is_some_and(|n| n == ".git" || n == "repo");
            if !path.is_dir() || is_git {
                left.push(path);
            } else {
                dirs.push(path);
            }
        }
    }
    assert!(left.is_empty(), "doctor left {left:?}");
}

#[test]
fn doctor_names_a_missing_repository_and_a_missing_database_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere").join("repo.git");
    let data = dir.path().join("data");
    let config = doctor_config(dir.path(), missing.to_str().unwrap());

    let out = doctor(&config, &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = |prefix: &str| {
        stdout
            .lines()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{stdout}"))
    };
    // the repository: what is wrong, and how to fix it on the next line
    let repo = line("✗ [default] repository: ");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[repo].contains(missing.to_str().unwrap()),
        "{}",
        lines[repo]
    );
    assert!(
        lines[repo + 1].starts_with("    fix: ") && lines[repo + 1].contains("clone_url"),
        "{}",
        lines[repo + 1]
    );
    // the database was not created by looking at it
    let db = line("✗ database: ");
    assert!(lines[db].contains("does not exist"), "{}", lines[db]);
    assert!(
        lines[db + 1].contains("foreman migrate"),
        "{}",
        lines[db + 1]
    );
    assert!(!data.join("foreman.db").exists());
    // what depends on the database is skipped, not failed
    assert!(lines[line("– [default] tracker: ")].contains("database"));
    assert!(stdout.trim_end().ends_with("2 problems found."), "{stdout}");

    // the same report as JSON: every check with its status, detail and fix
    let mut args = vec!["doctor", "--json"];
    let (c, d) = (config.to_str().unwrap(), data.to_str().unwrap());
    args.extend(["--config", c, "--data-dir", d]);
    let out = cli(&args, &[]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["failed"], 2);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks[0]["subject"], "config");
    assert_eq!(checks[0]["status"], "pass");
    let repo = checks
        .iter()
        .find(|c| c["subject"] == "repository")
        .unwrap();
    assert_eq!(repo["status"], "fail");
    assert_eq!(repo["project"], "default");
    assert!(
        repo["fix"].as_str().unwrap().contains("clone_url"),
        "{repo}"
    );
    assert!(
        checks
            .iter()
            .all(|c| ["pass", "fail", "skip"].contains(&c["status"].as_str().unwrap())),
        "{report}"
    );

    // an invalid configuration is reported as such
    std::fs::write(&config, "[git]\nprovider = \"svn\"\n").unwrap();
    let out = doctor(&config, &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.starts_with("✗ config: "), "{stdout}");
    assert!(stdout.contains("svn"), "{stdout}");
}
