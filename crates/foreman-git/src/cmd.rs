//! Running the `git` binary: a clean environment, a timeout on every call, capped output, and
//! stderr carried into typed errors.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use foreman_domain::git::{GitError, GitResult};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::credentials::Credentials;

/// Longest stderr kept in an error.
const MAX_STDERR: usize = 4 * 1024;

/// Default cap on captured stdout.
pub(crate) const DEFAULT_MAX_STDOUT: usize = 64 * 1024 * 1024;

/// What a finished git command left behind.
#[derive(Debug)]
pub(crate) struct Output {
    /// Exit code (`None` when killed by a signal).
    pub status: Option<i32>,
    /// Captured stdout (at most the cap; lossy UTF-8).
    pub stdout: String,
    /// Total stdout bytes, including any beyond the cap.
    pub stdout_total: u64,
    /// Captured stderr, trimmed and capped.
    pub stderr: String,
}

impl Output {
    pub(crate) fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// How to run one command.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// Kill it after this long.
    pub timeout: Duration,
    /// Pass credentials (fetch, push, clone, ls-remote).
    pub network: bool,
    /// Keep at most this much stdout.
    pub max_stdout: usize,
}

/// A configured `git` binary.
#[derive(Debug, Clone)]
pub(crate) struct GitBin {
    pub program: PathBuf,
    pub config: Vec<String>,
    pub env: Vec<(OsString, OsString)>,
    pub credentials: Credentials,
    pub local_timeout: Duration,
    pub network_timeout: Duration,
}

impl GitBin {
    pub(crate) fn local(&self) -> Run {
        Run {
            timeout: self.local_timeout,
            network: false,
            max_stdout: DEFAULT_MAX_STDOUT,
        }
    }

    pub(crate) fn network(&self) -> Run {
        Run {
            timeout: self.network_timeout,
            network: true,
            max_stdout: DEFAULT_MAX_STDOUT,
        }
    }

    /// Runs `git <args>` in `dir`, returning its output whatever the exit code.
    pub(crate) async fn output(
        &self,
        dir: &Path,
        args: &[&str],
        run: Run,
        extra_env: &[(&str, &OsString)],
    ) -> GitResult<Output> {
        let mut cmd = Command::new(&self.program);
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_OBJECT_DIRECTORY",
        ] {
            cmd.env_remove(var);
        }
        cmd.env(foreman_domain::git::CHILD_MARKER_ENV, "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        for c in &self.config {
            cmd.arg("-c").arg(c);
        }
        if run.network {
            self.credentials.apply(&mut cmd);
        }
        cmd.args(args);
        let command = render(args);
        tracing::debug!(command = %command, dir = %dir.display(), "git");

        let mut child = cmd.spawn().map_err(|e| GitError::NotInstalled {
            detail: format!("{}: {e}", self.program.display()),
        })?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let work = async {
            let (out, err, status) = tokio::join!(
                read_capped(stdout, run.max_stdout),
                read_capped(stderr, MAX_STDERR * 4),
                child.wait()
            );
            (out, err, status)
        };
        let Ok((out, err, status)) = tokio::time::timeout(run.timeout, work).await else {
            // dropping `work` dropped the child, and `kill_on_drop` killed it
            return Err(GitError::Timeout {
                command,
                after: run.timeout,
            });
        };
        let status = status.map_err(|e| GitError::Io {
            context: format!("waiting for git {command}"),
            source: e,
        })?;
        let (stdout, stdout_total) = out.map_err(|e| GitError::Io {
            context: format!("reading git {command} output"),
            source: e,
        })?;
        let (stderr, _) = err.unwrap_or_default();
        Ok(Output {
            status: status.code(),
            stdout,
            stdout_total,
            stderr: cap(stderr.trim(), MAX_STDERR),
        })
    }

    /// Runs `git <args>` in `dir` and fails on a non-zero exit.
    pub(crate) async fn run(&self, dir: &Path, args: &[&str], run: Run) -> GitResult<Output> {
        let out = self.output(dir, args, run, &[]).await?;
        if out.success() {
            Ok(out)
        } else {
            Err(self.failure(args, &out))
        }
    }

    /// Shorthand: a local command's trimmed stdout.
    pub(crate) async fn text(&self, dir: &Path, args: &[&str]) -> GitResult<String> {
        Ok(self
            .run(dir, args, self.local())
            .await?
            .stdout
            .trim()
            .to_owned())
    }

    /// The typed error for a failed command, recognising remote and credential failures.
    pub(crate) fn failure(&self, args: &[&str], out: &Output) -> GitError {
        classify(render(args), out)
    }
}

pub(crate) fn classify(command: String, out: &Output) -> GitError {
    let e = out.stderr.to_ascii_lowercase();
    let auth = [
        "authentication failed",
        "could not read username",
        "could not read password",
        "permission denied (publickey",
        "invalid username or password",
        "http basic: access denied",
    ];
    if auth.iter().any(|p| e.contains(p)) {
        return GitError::AuthFailed {
            stderr: out.stderr.clone(),
        };
    }
    let unreachable = [
        "does not appear to be a git repository",
        "could not resolve host",
        "unable to access",
        "connection refused",
        "could not read from remote repository",
        "repository not found",
        "no such remote",
        "connection timed out",
    ];
    let repo_missing = e.contains("fatal: repository") && e.contains("not found");
    if repo_missing || unreachable.iter().any(|p| e.contains(p)) {
        return GitError::RemoteUnreachable {
            remote: "origin".to_owned(),
            stderr: out.stderr.clone(),
        };
    }
    GitError::Failed {
        command,
        status: out.status,
        stderr: out.stderr.clone(),
    }
}

fn render(args: &[&str]) -> String {
    args.join(" ")
}

fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &s[..cut])
}

/// Reads a pipe to the end, keeping the first `max` bytes and counting the rest.
async fn read_capped<R: AsyncRead + Unpin>(
    pipe: Option<R>,
    max: usize,
) -> std::io::Result<(String, u64)> {
    let Some(mut pipe) = pipe else {
        return Ok((String::new(), 0));
    };
    let mut kept = Vec::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = pipe.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
        let room = max.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    Ok((String::from_utf8_lossy(&kept).into_owned(), total))
}
