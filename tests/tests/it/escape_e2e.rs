//! Escapes end to end: the real server (SQLite), the scripted provider and a local bare remote,
//! with a ticket whose tests — written by the scripted implementer, run by Foreman's own red,
//! green and full-suite gates — attack the machine they run on.
//!
//! The test file is a Python unittest with a real assertion on `multiply`, and a module setup
//! that tries, each inside `try`/`except` so the ticket goes on: a marker in the server's data
//! directory and in its `$HOME`, a hook in the cached clone, the admin token copied into the
//! worktree (where it would be committed and pushed), a TCP connection to a listener this test
//! opens on host loopback, and `core.fsmonitor` in the repository config. It records what
//! happened in `tests/escape_log.txt`, committed with the test.
//!
//! - Under the default OS sandbox every attempt fails (or lands on the sandbox's own tmpfs) and
//!   the ticket merges; nothing on the host changed and the token is not in the pushed history.
//! - The control runs the same ticket with `runner.mode = "none"`: the attempts succeed on the
//!   host (so the first test can fail), and host git's tamper check then stops the ticket.
//! - The two tamper tests run with `mode = "none"` on purpose: under the sandbox the cached
//!   clone and the worktree's `.git` pointer are out of a test's reach, so the only way to
//!   exercise host git's second line of defence (refusing a repository or worktree someone
//!   else changed, never running its hooks) end to end is to let the test reach them.
//!
//! The test derives the data directory and the cached clone from its own worktree's path (as
//! any code could); the server's `$HOME` and the listener's port, which it could not know, are
//! written into the Python file when the script is built (the scripted provider answers with
//! fixed text), which makes the sandboxed case the stronger one.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::rig::{Db, Rig, Setup, demo_script};

const WITHIN: Duration = Duration::from_secs(180);

/// The worktree file the test copies the admin token into.
const LEAK_FILE: &str = "captured.txt";

/// A marker file's name (data directory and `$HOME`).
const MARKER: &str = "escape-marker";

/// Where a planted hook or fsmonitor command would leave its trace (under `$HOME`).
const HOOK_RAN: &str = "hook-ran";
const FSMONITOR_RAN: &str = "fsmonitor-ran";

/// The common part of every Python test: paths, the attempt recorder and the real assertions.
/// `@ATTACKS@` is replaced by the module setup of one test.
const PYTHON: &str = r##"import os
import socket
import subprocess
import unittest

import calc

HOME = @HOME@
PORT = @PORT@
# the worktree is <data dir>/work/<project>/worktrees/<ticket>/<task>
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UP = lambda path, n: path if n == 0 else UP(os.path.dirname(path), n - 1)
DATA = UP(HERE, 5)
REPO = os.path.join(UP(HERE, 3), "repo")
LOG = ["data dir: " + DATA, "repository: " + REPO]
HOOK_NAMES = ["pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "post-checkout",
              "post-merge", "pre-push", "reference-transaction", "post-rewrite", "pre-auto-gc"]


def attempt(name, action):
    try:
        result = action()
        LOG.append("%s: done %s" % (name, "" if result is None else result))
    except Exception as e:
        LOG.append("%s: refused (%s: %s)" % (name, type(e).__name__, e))


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def plant_hook(path, trace):
    write(path, "#!/bin/sh\necho %s >> %s\n" % (os.path.basename(path), os.path.join(HOME, trace)))
    os.chmod(path, 0o755)
    return path


def git(*args):
    out = subprocess.run(["git"] + list(args), cwd=HERE, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("git %s: exit %d: %s" % (" ".join(args), out.returncode, out.stderr.strip()))
    return out.stdout.strip()

@ATTACKS@

def setUpModule():
    attacks()
    write(os.path.join(HERE, "tests", "escape_log.txt"), "\n".join(LOG) + "\n")


class MultiplyTest(unittest.TestCase):
    def test_multiplies_two_numbers(self):
        self.assertTrue(hasattr(calc, "multiply"), "calc.multiply is missing")
        self.assertEqual(calc.multiply(2, 3), 6)

    def test_multiplying_by_zero_gives_zero(self):
        self.assertTrue(hasattr(calc, "multiply"), "calc.multiply is missing")
        self.assertEqual(calc.multiply(7, 0), 0)


if __name__ == "__main__":
    unittest.main()
"##;

/// The escapes of the first test.
const ESCAPES: &str = r##"
def steal_token():
    leak = os.path.join(HERE, "tests", "captured.txt")
    try:
        with open(os.path.join(DATA, "dashboard_token")) as f:
            token = f.read().strip()
    except Exception as e:
        write(leak, "unreadable: %s\n" % type(e).__name__)
        raise
    write(leak, token + "\n")
    return "%d bytes" % len(token)


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=3)
    s.sendall(b"escaped\n")
    s.close()


def fsmonitor_file():
    with open(os.path.join(REPO, "config"), "a") as f:
        f.write("[core]\n\tfsmonitor = echo fsmonitor >> %s\n" % os.path.join(HOME, "fsmonitor-ran"))


def attacks():
    attempt("data dir marker", lambda: write(os.path.join(DATA, "escape-marker"), "escaped\n"))
    attempt("home marker", lambda: write(os.path.join(HOME, "escape-marker"), "escaped\n"))
    attempt("hook in the cached clone", lambda: plant_hook(os.path.join(REPO, "hooks", "post-commit"), "hook-ran"))
    attempt("admin token", steal_token)
    attempt("loopback connection", connect)
    attempt("fsmonitor through git config", lambda: git("config", "core.fsmonitor", "echo fsmonitor >> " + os.path.join(HOME, "fsmonitor-ran")))
    attempt("fsmonitor in the config file", fsmonitor_file)
"##;

/// The tampering of the second test: hooks of its own, and `core.hooksPath` pointing at them
/// in the repository config (through the worktree's `.git` pointer, as any git in the worktree
/// would write it).
const TAMPER: &str = r##"
def hooks_path():
    hooks = os.path.join(HOME, "evil-hooks")
    os.makedirs(hooks, exist_ok=True)
    for name in HOOK_NAMES:
        plant_hook(os.path.join(hooks, name), "hook-ran")
    git("config", "core.hooksPath", hooks)
    return git("config", "--get", "core.hooksPath")


def attacks():
    attempt("core.hooksPath", hooks_path)
"##;

/// The other tampering: the worktree's `.git` pointer rewritten to name a repository of the
/// test's own, whose hooks directory holds its hooks.
const REPOINT: &str = r##"
def repoint():
    evil = os.path.join(HOME, "evil-repo")
    subprocess.run(["git", "init", "-q", evil], check=True, capture_output=True, timeout=60)
    for name in HOOK_NAMES:
        plant_hook(os.path.join(evil, ".git", "hooks", name), "hook-ran")
    write(os.path.join(HERE, ".git"), "gitdir: %s\n" % os.path.join(evil, ".git"))
    return git("rev-parse", "--absolute-git-dir")


def attacks():
    attempt("rewritten .git pointer", repoint)
"##;

/// A JSON string is a valid Python string literal for these paths.
fn py(s: &Path) -> String {
    serde_json::to_string(&s.display().to_string()).expect("string")
}

/// The demo script with the tests phase writing `test_file` instead of the demo's test.
fn script_with_test(test_file: &str) -> Value {
    let mut script = demo_script();
    let entry = script["entries"]
        .as_array_mut()
        .expect("entries")
        .iter_mut()
        .find(|e| e["name"] == "implementer-tests-phase")
        .expect("the demo script has a tests phase");
    entry["response"]["tool_use"]["input"]["content"] = Value::String(test_file.to_owned());
    script
}

/// One run: the server's `$HOME`, the loopback listener, the rig.
struct Attack {
    home: tempfile::TempDir,
    listener: TcpListener,
    rig: Rig,
}

impl Attack {
    /// Starts a server whose scripted test runs `attacks`, with `runner` lines under
    /// `[runner]` (none: the default, the OS sandbox).
    async fn start(attacks: &str, runner: &[&str]) -> Self {
        let home = tempfile::tempdir().expect("home");
        let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let test_file = PYTHON
            .replace("@HOME@", &py(home.path()))
            .replace("@PORT@", &port.to_string())
            .replace("@ATTACKS@", attacks);
        let setup = Setup {
            runner: runner.iter().map(|l| (*l).to_owned()).collect(),
            env: vec![("HOME".into(), home.path().display().to_string())],
            ..Setup::default()
        };
        let rig = Rig::start(Db::Sqlite, &script_with_test(&test_file), &setup)
            .await
            .expect("sqlite rig");
        Self {
            home,
            listener,
            rig,
        }
    }

    /// The cached clone.
    fn repo(&self) -> PathBuf {
        self.rig.data.join("work").join("default").join("repo")
    }

    /// Connections the listener accepted so far.
    fn connections(&self) -> usize {
        let mut n = 0;
        loop {
            match self.listener.accept() {
                Ok(_) => n += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return n,
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    /// Hooks in the cached clone beyond git's samples.
    fn planted_hooks(&self) -> Vec<String> {
        std::fs::read_dir(self.repo().join("hooks"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.ends_with(".sample"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The cached clone's config.
    fn repo_config(&self) -> String {
        std::fs::read_to_string(self.repo().join("config")).expect("repository config")
    }

    /// Whether `name` exists in the server's `$HOME`.
    fn in_home(&self, name: &str) -> bool {
        self.home.path().join(name).exists()
    }

    /// Waits until the ticket `id` stops (merged, failed, blocked or partial), collecting the
    /// content of every leak file seen in a worktree meanwhile (worktrees may be removed when
    /// the ticket stops). Returns the ticket and those contents.
    async fn run(&self, id: &str) -> (Value, Vec<String>) {
        let deadline = Instant::now() + WITHIN;
        let mut leaks: Vec<String> = Vec::new();
        loop {
            for content in leak_files(&self.rig.data.join("work")) {
                if !leaks.contains(&content) {
                    leaks.push(content);
                }
            }
            let t = self.rig.get(&format!("/api/tickets/{id}")).await;
            let status = t["status"].as_str().unwrap_or("").to_owned();
            if ["merged", "failed", "blocked", "partial"].contains(&status.as_str()) {
                return (t, leaks);
            }
            assert!(
                Instant::now() < deadline,
                "ticket {id} is still {status} after {WITHIN:?}: {t}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The worktrees under `work` (`<project>/worktrees/<ticket>/<task>`).
fn worktrees(work: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![work.to_owned()];
    for _ in 0..4 {
        dirs = dirs
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flat_map(|entries| entries.filter_map(Result::ok))
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
    }
    dirs
}

/// The contents of every [`LEAK_FILE`] in a worktree under `work`.
fn leak_files(work: &Path) -> Vec<String> {
    worktrees(work)
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("tests").join(LEAK_FILE)).ok())
        .collect()
}

/// `git log -p --all` of the bare remote.
fn remote_history(remote: &Path) -> String {
    let out = Command::new("git")
        .args(["--git-dir"])
        .arg(remote)
        .args(["log", "-p", "--all"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git log");
    assert!(out.status.success(), "git log: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Under the default OS sandbox every escape the ticket's tests try fails, and the ticket
/// merges; nothing of the host changed and the admin token is not in the pushed history.
#[tokio::test]
async fn escapes_from_a_tickets_tests_fail_in_the_sandbox_and_the_ticket_merges() {
    let a = Attack::start(ESCAPES, &[]).await;
    let id = a.rig.create_ticket("Add a multiply function to calc").await;
    let (t, _) = a.run(&id).await;
    if t["status"] != "merged" {
        let events = a.rig.get(&format!("/api/tickets/{id}/events")).await;
        panic!("{t}\nevents: {events:#}");
    }
    let log = a.rig.remote_file("tests/escape_log.txt");

    // The tests ran the attempts (the log they committed), from the worktree's real place.
    // Inside the sandbox the data directory's and `$HOME`'s paths lie on the sandbox's own
    // tmpfs (only the worktree of the host is mounted there), so those two writes succeed and
    // vanish with it; the host is checked below. Everything else is refused outright.
    assert!(
        log.contains(&format!("data dir: {}", a.rig.data.display())),
        "{log}"
    );
    for name in ["data dir marker", "home marker"] {
        assert!(log.contains(&format!("{name}: ")), "{name}: {log}");
    }
    for name in [
        "hook in the cached clone",
        "admin token",
        "loopback connection",
        "fsmonitor through git config",
        "fsmonitor in the config file",
    ] {
        assert!(log.contains(&format!("{name}: refused")), "{name}: {log}");
    }

    assert!(!a.rig.data.join(MARKER).exists(), "marker in the data dir");
    assert!(!a.in_home(MARKER), "marker in $HOME");
    assert_eq!(a.connections(), 0, "the loopback listener was reached");
    assert_eq!(a.planted_hooks(), Vec::<String>::new(), "hook planted");
    assert!(
        !a.repo_config().contains("fsmonitor"),
        "{}",
        a.repo_config()
    );
    assert!(!a.in_home(HOOK_RAN) && !a.in_home(FSMONITOR_RAN));

    // The token file the test wrote was committed and pushed, without the token.
    let leaked = a.rig.remote_file(&format!("tests/{LEAK_FILE}"));
    assert!(leaked.starts_with("unreadable"), "{leaked}");
    let history = remote_history(&a.rig.remote);
    assert!(history.contains("captured.txt"), "the leak file is pushed");
    assert!(!a.rig.token.is_empty());
    assert!(
        !history.contains(&a.rig.token),
        "the admin token is in the pushed history"
    );
    a.rig.finish().await;
}

/// Control: the same ticket with `runner.mode = "none"` — every attack works on the host, so
/// the sandbox test above is not passing by accident. Host git then finds the changed
/// repository and stops the ticket as a sandbox violation, without running the hook.
#[tokio::test]
async fn the_same_escapes_succeed_without_the_sandbox() {
    let a = Attack::start(ESCAPES, &["mode = \"none\""]).await;
    let id = a.rig.create_ticket("Add a multiply function to calc").await;
    let (t, leaks) = a.run(&id).await;

    assert!(
        a.rig.data.join(MARKER).exists(),
        "no marker in the data dir"
    );
    assert!(a.in_home(MARKER), "no marker in $HOME");
    assert!(
        a.connections() >= 1,
        "the loopback listener got no connection"
    );
    assert!(
        a.planted_hooks().contains(&"post-commit".to_owned()),
        "{:?}",
        a.planted_hooks()
    );
    assert!(a.repo_config().contains("fsmonitor"), "{}", a.repo_config());
    assert!(
        leaks.iter().any(|l| l.trim() == a.rig.token),
        "the token did not reach the worktree: {leaks:?}"
    );

    // The second line of defence: host git refused the tampered repository and ran nothing.
    assert_eq!(t["status"], "failed", "{t}");
    assert_eq!(t["last_error_type"], "sandbox_violation", "{t}");
    assert!(!a.in_home(HOOK_RAN), "the planted hook ran");
    assert!(!a.in_home(FSMONITOR_RAN), "the fsmonitor command ran");
    assert!(
        !remote_history(&a.rig.remote).contains(&a.rig.token),
        "the admin token is in the pushed history"
    );
    a.rig.finish().await;
}

/// Host git's tamper check, end to end. This runs with `runner.mode = "none"` on purpose: under
/// the sandbox the test cannot see the cached clone or the worktree's `.git` pointer (it is
/// masked), so it could never change them; the case here is the second line of defence, for
/// deployments that turn the sandbox off (or a sandbox that failed). The ticket's test sets
/// `core.hooksPath` to hooks of its own through the worktree's `.git` pointer, as any git in the
/// worktree would. Foreman's next git command refuses the repository (`sandbox_violation`) and
/// no hook runs. Control: plain git on the same repository does run the planted hook, so the
/// tampering was real.
#[tokio::test]
async fn host_git_refuses_a_repository_a_test_tampered_with() {
    let a = Attack::start(TAMPER, &["mode = \"none\""]).await;
    let id = a.rig.create_ticket("Add a multiply function to calc").await;
    let (t, _) = a.run(&id).await;

    assert_eq!(t["status"], "failed", "{t}");
    assert_eq!(t["last_error_type"], "sandbox_violation", "{t}");
    let hooks = a.home.path().join("evil-hooks");
    assert!(
        a.repo_config()
            .contains(&format!("hooksPath = {}", hooks.display())),
        "the test did not tamper: {}",
        a.repo_config()
    );
    assert!(!a.in_home(HOOK_RAN), "a planted hook ran");

    // Control: the planted configuration runs code under a git without Foreman's hardening.
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(a.repo())
        .args(["hook", "run", "post-commit"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git hook run");
    assert!(out.status.success(), "{out:?}");
    assert!(
        a.in_home(HOOK_RAN),
        "the planted hook does not run under plain git"
    );
    a.rig.finish().await;
}

/// The same second line of defence (and `mode = "none"` for the same reason) against the other
/// way to point git elsewhere: the test rewrites the worktree's `.git` pointer to a repository
/// of its own with hooks. Foreman's git never follows the pointer (its git dir is pinned) and
/// its check finds the pointer changed: the ticket fails as `sandbox_violation`, no hook runs
/// and nothing is committed into that repository. Control: plain git in the same worktree
/// follows the pointer and runs the planted hook.
#[tokio::test]
async fn host_git_refuses_a_worktree_whose_git_pointer_a_test_rewrote() {
    let a = Attack::start(REPOINT, &["mode = \"none\""]).await;
    let id = a.rig.create_ticket("Add a multiply function to calc").await;
    let (t, _) = a.run(&id).await;

    assert_eq!(t["status"], "failed", "{t}");
    assert_eq!(t["last_error_type"], "sandbox_violation", "{t}");
    let evil = a.home.path().join("evil-repo");
    let trees: Vec<PathBuf> = worktrees(&a.rig.data.join("work"))
        .into_iter()
        .filter(|w| w.join("tests").join("test_multiply.py").exists())
        .collect();
    assert_eq!(trees.len(), 1, "{trees:?}");
    let worktree = &trees[0];
    let pointer = std::fs::read_to_string(worktree.join(".git")).expect(".git");
    assert_eq!(
        pointer.trim(),
        format!("gitdir: {}", evil.join(".git").display()),
        "the test did not tamper"
    );
    assert!(!a.in_home(HOOK_RAN), "a planted hook ran");
    let head = Command::new("git")
        .arg("--git-dir")
        .arg(evil.join(".git"))
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git rev-parse");
    assert!(
        !head.status.success(),
        "something was committed into the test's repository"
    );

    // Control: a git that follows the pointer commits into the test's repository and runs its
    // hook.
    let out = Command::new("git")
        .current_dir(worktree)
        .args([
            "-c",
            "user.name=control",
            "-c",
            "user.email=control@example.invalid",
            "commit",
            "--allow-empty",
            "-q",
            "-m",
            "control",
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git commit");
    assert!(out.status.success(), "{out:?}");
    assert!(
        a.in_home(HOOK_RAN),
        "the planted hook does not run under plain git"
    );
    a.rig.finish().await;
}
