//! The sandbox escape corpus: every case must be refused (or, for the process cases, bounded)
//! with nothing read from, written to or left running outside the worktree.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use foreman_agent::{CommandPolicy, CommandSettings, SecretScanner, Toolbox};
use serde_json::{Value, json};

use crate::support::{Repo, gone, processes_with, test_env};

const CANARY: &str = "OUTSIDE-CANARY-7f3a";

struct Corpus {
    repo: Repo,
    outside: std::path::PathBuf,
    toolbox: Toolbox,
}

fn snapshot(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    (e.file_name().to_string_lossy().into_owned(), len)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn setup(timeout_secs: u64) -> Result<Corpus> {
    let repo = Repo::new(&[
        ("README.md", "inside\n"),
        ("src/lib.rs", "pub fn f() {}\n"),
        (
            "scripts/bomb.sh",
            "marker=\"$1\"\nbomb() { if [ \"$1\" -gt 0 ]; then bomb $(($1 - 1)) & bomb $(($1 - 1)) & fi; exec sleep 30.$marker; }\nbomb 5\n",
        ),
        ("scripts/env.sh", "env\n"),
    ])?;
    let outside = repo.tmp.path().to_path_buf();
    std::fs::write(outside.join("outside_secret.txt"), CANARY)?;
    let wt = &repo.path;
    symlink("/etc", wt.join("etc_link"))?;
    symlink("/etc/passwd", wt.join("passwd_link"))?;
    symlink("..", wt.join("parent_link"))?;
    symlink("../outside_secret.txt", wt.join("outside_link"))?;
    symlink("/dev/null", wt.join("dev_null"))?;
    symlink("src/lib.rs", wt.join("inside_link"))?;
    symlink(".git", wt.join("git_link"))?;
    std::fs::hard_link(outside.join("outside_secret.txt"), wt.join("hard.txt"))?;
    let fifo = std::process::Command::new("mkfifo")
        .arg(wt.join("pipe"))
        .status()?;
    assert!(fifo.success());
    std::fs::write(wt.join(".env"), "API_KEY=dotenv-value-12345\n")?;
    std::fs::write(wt.join("server.pem"), "pem\n")?;
    let settings = CommandSettings {
        allowed_commands: vec![
            "cat".into(),
            "ls".into(),
            "sh scripts/env.sh".into(),
            "sh scripts/bomb.sh".into(),
            "shell: sleep 30.4242 & echo started".into(),
            "git status".into(),
        ],
        timeout_secs,
        ..CommandSettings::default()
    };
    let policy = Arc::new(CommandPolicy::with_env(settings, test_env())?);
    let toolbox = Toolbox::new(wt, Arc::new(SecretScanner::default_rules()), policy)?;
    Ok(Corpus {
        repo,
        outside,
        toolbox,
    })
}

fn cases() -> Vec<(&'static str, Value)> {
    let r = |p: &str| json!({"path": p});
    let w = |p: &str| json!({"path": p, "content": "pwned\n"});
    let c = |cmd: &str| json!({"command": cmd});
    vec![
        // traversal and absolute paths
        ("read_file", r("../outside_secret.txt")),
        ("read_file", r("src/../../outside_secret.txt")),
        ("read_file", r("/etc/passwd")),
        ("read_file", r("//etc/passwd")),
        ("read_file", r("~/.bashrc")),
        // encoded traversal
        ("read_file", r("%2e%2e/outside_secret.txt")),
        ("read_file", r("..%2foutside_secret.txt")),
        ("read_file", r("%2E%2E%2Foutside_secret.txt")),
        ("read_file", r("..\\outside_secret.txt")),
        ("read_file", r("src/..%5c..%5coutside_secret.txt")),
        ("read_file", r("README.md\u{0}../../etc/passwd")),
        // symlinks to /etc and to the parent
        ("read_file", r("etc_link/passwd")),
        ("read_file", r("passwd_link")),
        ("read_file", r("parent_link/outside_secret.txt")),
        ("read_file", r("outside_link")),
        ("list_dir", r("etc_link")),
        ("list_dir", r("parent_link")),
        ("list_dir", r("..")),
        ("list_dir", r("/")),
        ("grep", json!({"pattern": "root", "path": "etc_link"})),
        ("grep", json!({"pattern": "CANARY", "path": "parent_link"})),
        ("glob", json!({"pattern": "*", "path": "/etc"})),
        // hard links, devices, fifos
        ("read_file", r("hard.txt")),
        ("read_file", r("dev_null")),
        ("read_file", r("pipe")),
        ("write_file", w("hard.txt")),
        // .git internals
        ("read_file", r(".git/config")),
        ("read_file", r("git_link/config")),
        ("write_file", w(".git/hooks/pre-commit")),
        ("write_file", w("git_link/hooks/post-checkout")),
        ("write_file", w(".GIT/hooks/pre-commit")),
        (
            "edit_file",
            json!({"path": ".git/HEAD", "old_string": "ref", "new_string": "x"}),
        ),
        // writes out of the tree
        ("write_file", w("../escape.txt")),
        ("write_file", w("/tmp/foreman-escape.txt")),
        ("write_file", w("parent_link/escape.txt")),
        ("write_file", w("etc_link/foreman-escape")),
        ("write_file", w("outside_link")),
        ("write_file", w("newdir/../../escape.txt")),
        (
            "edit_file",
            json!({"path": "passwd_link", "old_string": "root", "new_string": "toor"}),
        ),
        (
            "multi_edit",
            json!({"path": "outside_link", "edits": [{"old_string": "OUTSIDE", "new_string": "x"}]}),
        ),
        // secret files
        ("read_file", r(".env")),
        ("read_file", r("server.pem")),
        ("write_file", w(".env.production")),
        ("write_file", w("deploy/id.key")),
        (
            "write_file",
            json!({"path": "keys.txt", "content": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"}),
        ),
        // command injection
        ("run_command", c("cat /etc/passwd")),
        ("run_command", c("cat ../outside_secret.txt")),
        ("run_command", c("cat README.md; cat /etc/passwd")),
        ("run_command", c("cat README.md && cat /etc/passwd")),
        ("run_command", c("cat README.md || cat /etc/passwd")),
        ("run_command", c("cat `echo /etc/passwd`")),
        ("run_command", c("cat $(echo /etc/passwd)")),
        ("run_command", c("cat $HOME/.bashrc")),
        ("run_command", c("cat README.md | sh")),
        ("run_command", c("cat README.md > /tmp/foreman-escape.txt")),
        ("run_command", c("cat < /etc/passwd")),
        ("run_command", c("cat README.md\ncat /etc/passwd")),
        ("run_command", c("FOO=1 cat README.md")),
        ("run_command", c("cat --file=../outside_secret.txt")),
        ("run_command", c("cat ~/.ssh/id_rsa")),
        ("run_command", c("ls -la ..")),
        ("run_command", c("ls -d/etc")),
        ("run_command", c("cat README.md,/etc/passwd")),
        ("run_command", c("cat --x=~root/.profile")),
        ("run_command", c("rm -rf /")),
        ("run_command", c("sh -c 'cat /etc/passwd'")),
        ("run_command", c("sh scripts/env.sh; id")),
        ("run_command", c("sleep 30.4242 & echo started; id")),
        ("run_command", c("git status --porcelain && git push")),
        (
            "run_command",
            c("python3 -c 'import os; print(os.environ)'"),
        ),
        ("run_command", c("'cat' \"/etc/passwd\"")),
    ]
}

#[tokio::test]
async fn escape_corpus_has_zero_escapes() -> Result<()> {
    let mut c = setup(10)?;
    let outside_before = snapshot(&c.outside);
    let hooks_before = snapshot(&c.repo.path.join(".git/hooks"));
    let git_config = std::fs::read(c.repo.path.join(".git/config"))?;
    let cases = cases();
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    let mut escapes = Vec::new();
    for (tool, input) in &cases {
        let r = c.toolbox.call(tool, input).await;
        let leaked = r.content.contains(CANARY)
            || r.content.contains("root:x:0:0")
            || r.content.contains("dotenv-value")
            || r.content.contains("BEGIN OPENSSH");
        if !r.is_error || leaked {
            escapes.push(format!("{tool} {input}: {}", r.content));
        }
    }
    assert!(
        escapes.is_empty(),
        "{} escapes:\n{}",
        escapes.len(),
        escapes.join("\n")
    );
    // Searching never opens secret files or hard links to outside files.
    for pattern in ["API_KEY=", "CANARY"] {
        let r = c.toolbox.call("grep", &json!({"pattern": pattern})).await;
        assert!(
            r.content.starts_with("no matches"),
            "{pattern}: {}",
            r.content
        );
    }
    assert_eq!(
        snapshot(&c.outside),
        outside_before,
        "nothing was written outside"
    );
    assert_eq!(snapshot(&c.repo.path.join(".git/hooks")), hooks_before);
    assert_eq!(std::fs::read(c.repo.path.join(".git/config"))?, git_config);
    assert!(!Path::new("/tmp/foreman-escape.txt").exists());
    assert!(!Path::new("/etc/foreman-escape").exists());
    assert_eq!(
        std::fs::read_to_string(c.outside.join("outside_secret.txt"))?,
        CANARY
    );
    // Refused commands are recorded as refused, and none ran.
    assert!(
        c.toolbox
            .commands()
            .iter()
            .all(|r| !r.allowed && r.exit_code.is_none())
    );
    Ok(())
}

#[tokio::test]
async fn allowed_paths_still_work() -> Result<()> {
    let mut c = setup(10)?;
    let r = c
        .toolbox
        .call("read_file", &json!({"path": "inside_link"}))
        .await;
    assert!(!r.is_error, "{}", r.content);
    assert!(r.content.contains("pub fn f()"));
    let r = c
        .toolbox
        .call("read_file", &json!({"path": "./src//lib.rs"}))
        .await;
    assert!(!r.is_error, "{}", r.content);
    let r = c
        .toolbox
        .call(
            "write_file",
            &json!({"path": "src/new/mod.rs", "content": "// new\n"}),
        )
        .await;
    assert!(!r.is_error, "{}", r.content);
    assert_eq!(c.repo.read("src/new/mod.rs")?, "// new\n");
    let r = c
        .toolbox
        .call(
            "run_command",
            &json!({"command": "cat README.md src/lib.rs"}),
        )
        .await;
    assert!(!r.is_error, "{}", r.content);
    assert!(
        r.content.contains("exit code 0") && r.content.contains("inside"),
        "{}",
        r.content
    );
    let r = c.toolbox.call("list_dir", &json!({})).await;
    assert!(
        r.content.contains(".env (secret file, not readable)"),
        "{}",
        r.content
    );
    assert!(!r.content.contains(".git/"), "{}", r.content);
    Ok(())
}

#[tokio::test]
async fn commands_never_see_credentials() -> Result<()> {
    let mut c = setup(10)?;
    let r = c
        .toolbox
        .call("run_command", &json!({"command": "sh scripts/env.sh"}))
        .await;
    assert!(!r.is_error, "{}", r.content);
    assert!(r.content.contains("PATH="), "{}", r.content);
    for leaked in [
        "LEAKCANARY",
        "ANTHROPIC_API_KEY",
        "FOREMAN_DASHBOARD_TOKEN",
        "GITHUB_TOKEN",
    ] {
        assert!(
            !r.content.contains(leaked),
            "{leaked} reached the command: {}",
            r.content
        );
    }
    Ok(())
}

#[tokio::test]
async fn fork_bombs_are_bounded_by_the_timeout_and_the_group_is_killed() -> Result<()> {
    let mut c = setup(1)?;
    let marker = "9187";
    let started = std::time::Instant::now();
    let r = c
        .toolbox
        .call(
            "run_command",
            &json!({"command": format!("sh scripts/bomb.sh {marker}")}),
        )
        .await;
    assert!(
        r.content.contains("killed after the 1s timeout"),
        "{}",
        r.content
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(c.toolbox.commands()[0].timed_out);
    assert!(
        gone(&format!("sleep 30.{marker}")).await,
        "survivors: {:?}",
        processes_with(&format!("sleep 30.{marker}"))
    );
    Ok(())
}

#[tokio::test]
async fn background_processes_of_a_shell_line_do_not_survive_it() -> Result<()> {
    let mut c = setup(10)?;
    let r = c
        .toolbox
        .call(
            "run_command",
            &json!({"command": "sleep 30.4242 & echo started"}),
        )
        .await;
    assert!(!r.is_error, "{}", r.content);
    assert!(r.content.contains("started"), "{}", r.content);
    assert!(gone("sleep 30.4242").await, "the background sleep survived");
    Ok(())
}

#[test]
fn no_spelling_of_a_path_resolves_outside_the_root() -> Result<()> {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let c = setup(10)?;
    let sandbox = foreman_agent::Sandbox::new(&c.repo.path)?;
    let root = sandbox.root().to_path_buf();
    let parts = prop::sample::select(vec![
        "..",
        ".",
        "",
        "src",
        "lib.rs",
        "etc_link",
        "parent_link",
        "outside_link",
        "passwd_link",
        "inside_link",
        "git_link",
        ".git",
        "hooks",
        "%2e%2e",
        "%2f",
        "\\..",
        "~",
        "/",
        "hard.txt",
        "pipe",
        "new",
        "outside_secret.txt",
        "README.md",
    ]);
    let strategy = prop::collection::vec(parts, 1..6).prop_map(|v| v.join("/"));
    let mut runner = TestRunner::new(Config {
        cases: 2_000,
        ..Config::default()
    });
    runner
        .run(&strategy, |path| {
            if let Ok((abs, rel)) = sandbox.resolve_existing(&path) {
                prop_assert!(abs.starts_with(&root), "{path} -> {}", abs.display());
                prop_assert!(
                    !rel.split('/').any(|p| p.eq_ignore_ascii_case(".git")),
                    "{path} -> {rel}"
                );
            }
            if let Ok((abs, _)) = sandbox.resolve_file(&path) {
                prop_assert!(abs.starts_with(&root) && abs.is_file(), "{path}");
                prop_assert!(
                    std::fs::read_to_string(&abs).map_or(true, |s| !s.contains(CANARY)),
                    "{path}"
                );
            }
            if let Ok(t) = sandbox.resolve_write(&path) {
                prop_assert!(t.path.starts_with(&root), "{path} -> {}", t.path.display());
            }
            Ok(())
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
