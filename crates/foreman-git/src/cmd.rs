//! Running the `git` binary so that nothing in a repository can make it run a command on the
//! host: every call names its repository explicitly (`--git-dir`, `--work-tree`; nothing is
//! discovered from the working directory or a `.git` file), starts from an empty environment,
//! and carries command-line settings that switch off hooks, fsmonitor, pagers, editors and
//! other config-driven commands. Also: a timeout on every call, capped output, and stderr
//! carried into typed errors.

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

/// Where a command runs and the only repository it may see.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    /// The working directory.
    cwd: PathBuf,
    /// `--git-dir` (none: the command needs no repository).
    git_dir: Option<PathBuf>,
    /// `--work-tree` (none: a bare repository or no repository).
    work_tree: Option<PathBuf>,
}

impl Place {
    /// The bare repository at `repo`.
    pub(crate) fn bare(repo: &Path) -> Self {
        Self {
            cwd: repo.to_owned(),
            git_dir: Some(repo.to_owned()),
            work_tree: None,
        }
    }

    /// A worktree: its administrative directory (`<repo>/worktrees/<name>`) and its files.
    pub(crate) fn worktree(admin: &Path, path: &Path) -> Self {
        Self {
            cwd: path.to_owned(),
            git_dir: Some(admin.to_owned()),
            work_tree: Some(path.to_owned()),
        }
    }

    /// No repository (`--version`, `ls-remote <url>`, `init`): runs in `empty`, an empty
    /// directory Foreman owns, with discovery stopped at its parent.
    pub(crate) fn outside(empty: &Path) -> Self {
        Self {
            cwd: empty.to_owned(),
            git_dir: None,
            work_tree: None,
        }
    }

    /// The working directory.
    pub(crate) fn cwd(&self) -> &Path {
        &self.cwd
    }
}

/// Variables passed from the server's environment to network commands only: the SSH agent and
/// proxies.
const NETWORK_PASSTHROUGH: &[&str] = &[
    "SSH_AUTH_SOCK",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

/// Settings given on every command line. Command-line settings beat every config file, so
/// whatever the repository's config says, these hold.
pub(crate) fn hardening_config(hooks_dir: &Path, isolate: bool) -> Vec<String> {
    let mut c = vec![
        // no hook runs: the hooks directory is an empty one Foreman owns
        format!("core.hooksPath={}", hooks_dir.display()),
        "core.fsmonitor=false".to_owned(),
        "core.untrackedCache=false".to_owned(),
        "core.pager=cat".to_owned(),
        "core.editor=true".to_owned(),
        "sequence.editor=true".to_owned(),
        "protocol.ext.allow=never".to_owned(),
        "log.showSignature=false".to_owned(),
        "submodule.recurse=false".to_owned(),
        "fetch.recurseSubmodules=false".to_owned(),
        "diff.ignoreSubmodules=all".to_owned(),
        "status.submoduleSummary=false".to_owned(),
        // checkouts from a remote-tracking branch would otherwise write tracking settings into
        // the repository's config
        "branch.autoSetupMerge=false".to_owned(),
    ];
    if isolate {
        // the defaults of these live under `$HOME`, which is Foreman's own empty directory;
        // naming them keeps files planted there out too
        c.push("core.attributesFile=/dev/null".to_owned());
        c.push("core.excludesFile=/dev/null".to_owned());
        // a command of the repository's config would be refused by the guard; this also
        // covers an operator's environment that sets none (`GIT_SSH_COMMAND` still wins)
        c.push("core.sshCommand=ssh".to_owned());
    }
    c
}

/// `program` as an absolute path when it is a bare name (`git`) found on the server's `PATH`;
/// otherwise unchanged.
///
/// Commands start from a cleared environment with `PATH` set again, and the standard library
/// spawns such a command with `posix_spawn` (`vfork` semantics) only when the program is a path:
/// with a bare name it falls back to `fork`, which copies the server's page tables and makes
/// every thread of the server take copy-on-write faults afterwards. Resolving the name once
/// keeps every git call on the cheap path.
pub(crate) fn resolve_program(program: &Path) -> PathBuf {
    if program.components().count() != 1 || program.is_absolute() {
        return program.to_path_buf();
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| program.to_path_buf())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A configured `git` binary.
#[derive(Debug, Clone)]
pub(crate) struct GitBin {
    pub program: PathBuf,
    /// `-c` settings of every command (hardening first, then Foreman's own).
    pub config: Vec<String>,
    /// Fixed variables of every command, set after the environment was cleared.
    pub env: Vec<(OsString, OsString)>,
    pub credentials: Credentials,
    pub local_timeout: Duration,
    pub network_timeout: Duration,
    /// Ignore the host's system and global config: `HOME` is `home`, not the server's.
    pub isolate: bool,
    /// `HOME` when isolated (an empty directory Foreman owns).
    pub home: PathBuf,
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

    /// Runs `git <args>` at `place`, returning its output whatever the exit code.
    ///
    /// The child starts from an empty environment: `PATH`, `HOME` (Foreman's own directory
    /// when isolated), a C locale, no prompts, no system or global config, then this binary's
    /// fixed variables, the credentials and passthrough variables of network commands, and
    /// `extra_env`. Nothing of the server's `GIT_*` environment reaches it.
    pub(crate) async fn output(
        &self,
        place: &Place,
        args: &[&str],
        run: Run,
        extra_env: &[(&str, &OsString)],
    ) -> GitResult<Output> {
        let mut cmd = Command::new(&self.program);
        cmd.current_dir(&place.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .env_clear();
        cmd.env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        );
        if self.isolate {
            cmd.env("HOME", &self.home)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null");
        } else {
            for var in ["HOME", "XDG_CONFIG_HOME"] {
                if let Some(v) = std::env::var_os(var) {
                    cmd.env(var, v);
                }
            }
        }
        cmd.env("LANG", "C")
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ATTR_NOSYSTEM", "1")
            .env("GIT_PAGER", "cat")
            .env("PAGER", "cat")
            .env("GIT_NO_REPLACE_OBJECTS", "1");
        cmd.env(foreman_domain::git::CHILD_MARKER_ENV, "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if place.git_dir.is_none() {
            // discovery may look at the working directory (checked empty) and stops there
            if let Some(parent) = place.cwd.parent() {
                cmd.env("GIT_CEILING_DIRECTORIES", parent);
            }
        }
        if run.network {
            for var in NETWORK_PASSTHROUGH {
                if let Some(v) = std::env::var_os(var) {
                    cmd.env(var, v);
                }
            }
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        if let Some(git_dir) = &place.git_dir {
            cmd.arg("--git-dir").arg(git_dir);
        }
        if let Some(work_tree) = &place.work_tree {
            cmd.arg("--work-tree").arg(work_tree);
        }
        for c in &self.config {
            cmd.arg("-c").arg(c);
        }
        if run.network {
            self.credentials.apply(&mut cmd);
        }
        cmd.args(args);
        let command = render(args);
        tracing::debug!(command = %command, dir = %place.cwd.display(), "git");

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

    /// Runs `git <args>` at `place` and fails on a non-zero exit.
    pub(crate) async fn run(&self, place: &Place, args: &[&str], run: Run) -> GitResult<Output> {
        let out = self.output(place, args, run, &[]).await?;
        if out.success() {
            Ok(out)
        } else {
            Err(self.failure(args, &out))
        }
    }

    /// Shorthand: a local command's trimmed stdout.
    pub(crate) async fn text(&self, place: &Place, args: &[&str]) -> GitResult<String> {
        Ok(self
            .run(place, args, self.local())
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

/// A diff command's output as a [`foreman_domain::git::Diff`]: when git wrote more than was kept, the text is cut
/// at its last line end and a note says how much is shown.
pub(crate) fn capped(out: Output) -> foreman_domain::git::Diff {
    let truncated = out.stdout_total > out.stdout.len() as u64;
    let mut text = out.stdout;
    if truncated {
        if let Some(end) = text.rfind('\n') {
            text.truncate(end + 1);
        }
        text.push_str(&format!(
            "\n[diff truncated by foreman: showing {} of {} bytes]\n",
            text.len(),
            out.stdout_total
        ));
    }
    foreman_domain::git::Diff {
        text,
        truncated,
        total_bytes: out.stdout_total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_program_name_resolves_to_an_executable_path() {
        let git = resolve_program(Path::new("git"));
        assert!(git.is_absolute(), "{}", git.display());
        assert!(is_executable(&git));
        assert_eq!(git.file_name(), Some(std::ffi::OsStr::new("git")));
    }

    #[test]
    fn paths_and_unknown_names_stay_as_given() {
        assert_eq!(
            resolve_program(Path::new("/opt/git/bin/git")),
            PathBuf::from("/opt/git/bin/git")
        );
        assert_eq!(
            resolve_program(Path::new("bin/git")),
            PathBuf::from("bin/git")
        );
        assert_eq!(
            resolve_program(Path::new("no-such-program-here")),
            PathBuf::from("no-such-program-here")
        );
    }
}
