//! The OS sandbox around every process Foreman starts in a worktree.
//!
//! [`Isolation`] turns a command line into the command line that actually runs, for one of three
//! [`ExecMode`]s:
//!
//! - `sandbox` (the default): `bwrap` (bubblewrap) with a fresh user, pid, IPC, UTS, cgroup and
//!   (unless the caller asks for network) network namespace, all capabilities dropped, the
//!   inside user `65534`. The host's system directories (`/usr`, `/etc`, `/opt`, the `/bin` and
//!   `/lib` links) are mounted read-only; the worktree is the one writable host directory; `/tmp`
//!   and `$HOME` are fresh, empty tmpfs; the data directory, the work directory with the other
//!   worktrees and the git admin directories, credential directories and every file under
//!   `/etc` that is not world-readable are not visible; the worktree's `.git` pointer is masked
//!   by `/dev/null` (`mounts.rs`). Resource limits (CPU time, address space, file size, no core
//!   files) and a per-command pids cgroup (`pids.max`, `cgroup.rs`) are set by a launcher in
//!   front of `bwrap` (`launcher.rs`); without a writable cgroup the process limit is
//!   `RLIMIT_NPROC`.
//! - `docker`: `docker run` with no network, dropped capabilities, the worktree mounted and its
//!   `.git` masked ([`docker_command_line`]).
//! - `none`: the command as given, on the host, with the same scrubbed environment. Only when the
//!   configuration says so explicitly.
//!
//! When `bwrap` is missing or unusable, `sandbox` mode refuses ([`IsolationError::Unavailable`]);
//! it never falls back to running on the host.
//!
//! Inside the user namespace the sandbox user maps to the server's own user outside. Running as
//! root, that means files the sandbox creates in the worktree belong to root on the host, and
//! root-owned files the sandbox can see are readable by their owner bits: which is why the
//! sandbox mounts selected directories rather than `/`, and hides every non-world-readable file
//! under `/etc`.

mod cgroup;
mod devices;
mod docker;
mod launcher;
mod mounts;
mod probe;
mod settings;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cgroup::PidsCgroup;
use launcher::{Programs, launcher};
use mounts::MountPlan;
use probe::{probe_bwrap, shell_applies_limits};

pub use docker::docker_command_line;
pub use mounts::HOME_SECRETS;
pub use probe::{SandboxState, find_program};
pub use settings::{DockerSettings, ExecMode, IsolationOptions, ResourceLimits, SandboxSettings};

/// How to install bubblewrap, for messages.
pub const INSTALL_HINT: &str = "install bubblewrap (`apt-get install bubblewrap` on Debian and Ubuntu, `dnf install bubblewrap` on Fedora)";

/// Why a command cannot be wrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IsolationError {
    /// `sandbox` mode without a working `bwrap`.
    #[error(
        "the OS sandbox is unavailable ({reason}); {INSTALL_HINT}, or set runner.mode = \"none\" to run commands without isolation"
    )]
    Unavailable {
        /// What the probe found.
        reason: String,
    },
    /// The worktree is not an existing directory.
    #[error("worktree {path} cannot be used: {reason}")]
    Worktree {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Nothing to run.
    #[error("command is empty")]
    Empty,
}

impl IsolationError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "sandbox_unavailable",
            Self::Worktree { .. } => "sandbox_worktree",
            Self::Empty => "command_empty",
        }
    }
}

/// Whether an environment variable's name looks like it holds a credential (or belongs to
/// Foreman or an LLM or git host provider). Such variables never reach a command.
#[must_use]
pub fn is_sensitive_env(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    const PREFIXES: &[&str] = &[
        "FOREMAN_",
        "ANTHROPIC_",
        "OPENAI_",
        "OPENROUTER_",
        "AWS_",
        "GITHUB_",
        "GITLAB_",
        "GH_",
        "GL_",
        "SLACK_",
        "AZURE_",
        "GOOGLE_",
        "GCP_",
    ];
    const WORDS: &[&str] = &[
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "AUTH",
        "COOKIE",
        "SESSION",
        "PRIVATE",
    ];
    PREFIXES.iter().any(|p| upper.starts_with(p)) || WORDS.iter().any(|w| upper.contains(w))
}

/// A command line ready to spawn, and what to clean up after it.
#[derive(Debug)]
pub struct Wrapped {
    /// The program and arguments to spawn.
    pub argv: Vec<String>,
    /// The exact environment to spawn it with.
    pub env: Vec<(String, String)>,
    /// The directory to spawn it in (the worktree).
    pub dir: PathBuf,
    /// `docker kill` this container when the command is stopped early.
    pub container: Option<(String, String)>,
    cgroup: Option<PidsCgroup>,
}

impl Wrapped {
    /// Kills whatever is left in the command's cgroup and removes the cgroup (also done on drop).
    pub fn cleanup(&mut self) {
        if let Some(cg) = self.cgroup.take() {
            cg.remove();
        }
    }

    /// The per-command pids cgroup, when one was created.
    #[must_use]
    pub fn cgroup(&self) -> Option<&Path> {
        self.cgroup.as_ref().map(|c| c.path.as_path())
    }
}

impl Drop for Wrapped {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// The isolation every worktree command goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    mode: ExecMode,
    sandbox: SandboxSettings,
    docker: DockerSettings,
}

/// Names docker containers uniquely within this process.
static SEQ: AtomicU64 = AtomicU64::new(0);

impl Isolation {
    /// An isolation of `mode` with its settings.
    #[must_use]
    pub fn new(mode: ExecMode, sandbox: SandboxSettings, docker: DockerSettings) -> Self {
        Self {
            mode,
            sandbox,
            docker,
        }
    }

    /// No isolation (`mode = "none"`).
    #[must_use]
    pub fn none() -> Self {
        Self::new(
            ExecMode::None,
            SandboxSettings::default(),
            DockerSettings::default(),
        )
    }

    /// The mode.
    #[must_use]
    pub const fn mode(&self) -> ExecMode {
        self.mode
    }

    /// The sandbox settings.
    #[must_use]
    pub fn sandbox_settings(&self) -> &SandboxSettings {
        &self.sandbox
    }

    /// Whether `bwrap` can run a command in the namespaces the sandbox uses (probed once per
    /// binary and process: `bwrap ... true`).
    #[must_use]
    pub fn probe(&self) -> SandboxState {
        probe_bwrap(&self.sandbox.bwrap)
    }

    /// `Ok` when commands can run in this mode: always for `none` and `docker` (the container CLI
    /// reports its own errors), and for `sandbox` when the probe succeeds.
    ///
    /// # Errors
    /// [`IsolationError::Unavailable`] in `sandbox` mode without a usable `bwrap`.
    pub fn check(&self) -> Result<(), IsolationError> {
        if self.mode != ExecMode::Sandbox {
            return Ok(());
        }
        match self.probe() {
            SandboxState::Ready => Ok(()),
            SandboxState::Missing => Err(IsolationError::Unavailable {
                reason: format!("{} is not installed", self.sandbox.bwrap),
            }),
            SandboxState::Unusable(why) => Err(IsolationError::Unavailable {
                reason: format!("{} cannot create namespaces: {why}", self.sandbox.bwrap),
            }),
        }
    }

    /// Wraps `argv` to run in `worktree` with `env` (which is filtered again: credential-like
    /// names never pass). In `sandbox` mode this creates the command's pids cgroup, removed when
    /// the returned [`Wrapped`] is dropped.
    ///
    /// # Errors
    /// An empty command, a worktree that is not a directory, or (`sandbox` mode) no usable `bwrap`.
    pub fn wrap(
        &self,
        argv: &[String],
        worktree: &Path,
        env: &[(String, String)],
        opts: &IsolationOptions,
    ) -> Result<Wrapped, IsolationError> {
        if argv.is_empty() {
            return Err(IsolationError::Empty);
        }
        let worktree = worktree
            .canonicalize()
            .map_err(|e| IsolationError::Worktree {
                path: worktree.to_owned(),
                reason: e.to_string(),
            })?;
        if !worktree.is_dir() {
            return Err(IsolationError::Worktree {
                path: worktree,
                reason: "not a directory".into(),
            });
        }
        let env: Vec<(String, String)> = env
            .iter()
            .filter(|(n, _)| !is_sensitive_env(n))
            .cloned()
            .collect();
        match self.mode {
            ExecMode::None => Ok(Wrapped {
                argv: argv.to_vec(),
                env,
                dir: worktree,
                container: None,
                cgroup: None,
            }),
            ExecMode::Docker => {
                use std::os::unix::fs::MetadataExt;
                let user = std::fs::metadata(&worktree)
                    .ok()
                    .map(|m| (m.uid(), m.gid()));
                let name = format!(
                    "foreman-{}-{}",
                    std::process::id(),
                    SEQ.fetch_add(1, Ordering::Relaxed)
                );
                let mut docker = self.docker.clone();
                if opts.network && docker.network == "none" {
                    docker.network = "bridge".into();
                }
                let line = docker_command_line(&docker, &worktree, argv, &env, &name, user);
                Ok(Wrapped {
                    argv: line,
                    env,
                    dir: worktree,
                    container: Some((self.docker.program.clone(), name)),
                    cgroup: None,
                })
            }
            ExecMode::Sandbox => {
                self.check()?;
                let cgroup = PidsCgroup::create(
                    self.sandbox.cgroup_root.as_deref(),
                    self.sandbox.limits.processes,
                );
                let (line, env) =
                    self.sandbox_command_line(argv, &worktree, &env, opts, cgroup.as_ref());
                Ok(Wrapped {
                    argv: line,
                    env,
                    dir: worktree,
                    container: None,
                    cgroup,
                })
            }
        }
    }

    /// The command line and environment `wrap` produces, without creating a cgroup (for
    /// display and tests). In `sandbox` mode the process limit is then `RLIMIT_NPROC`.
    #[must_use]
    pub fn command_line(
        &self,
        argv: &[String],
        worktree: &Path,
        env: &[(String, String)],
        opts: &IsolationOptions,
    ) -> Vec<String> {
        let env: Vec<(String, String)> = env
            .iter()
            .filter(|(n, _)| !is_sensitive_env(n))
            .cloned()
            .collect();
        match self.mode {
            ExecMode::None => argv.to_vec(),
            ExecMode::Docker => {
                use std::os::unix::fs::MetadataExt;
                let user = std::fs::metadata(worktree).ok().map(|m| (m.uid(), m.gid()));
                docker_command_line(&self.docker, worktree, argv, &env, "foreman", user)
            }
            ExecMode::Sandbox => {
                self.sandbox_command_line(argv, worktree, &env, opts, None)
                    .0
            }
        }
    }

    fn sandbox_command_line(
        &self,
        argv: &[String],
        worktree: &Path,
        env: &[(String, String)],
        opts: &IsolationOptions,
        cgroup: Option<&PidsCgroup>,
    ) -> (Vec<String>, Vec<(String, String)>) {
        let host_home = std::env::var_os("HOME").map(PathBuf::from);
        let home = env
            .iter()
            .find(|(n, _)| n == "HOME")
            .map(|(_, v)| PathBuf::from(v))
            .or_else(|| host_home.clone())
            .filter(|h| h.is_absolute() && h.as_path() != Path::new("/"))
            .unwrap_or_else(|| PathBuf::from("/home/sandbox"));
        let plan = MountPlan::new(&self.sandbox, worktree, &home, host_home.as_deref(), opts);
        let sh = find_program("sh");
        let programs = Programs {
            shell_sets_limits: cgroup.is_some() && shell_applies_limits(&sh),
            sh,
            prlimit: find_program("prlimit"),
        };
        let join = cgroup.map(PidsCgroup::join_file);
        let mut line = launcher(&self.sandbox.limits, join.as_deref(), &programs);
        line.push(if self.sandbox.bwrap.contains('/') {
            self.sandbox.bwrap.clone()
        } else {
            find_program(&self.sandbox.bwrap)
        });
        line.extend(
            [
                "--unshare-user",
                "--uid",
                "65534",
                "--gid",
                "65534",
                "--unshare-pid",
                "--unshare-ipc",
                "--unshare-uts",
                "--unshare-cgroup-try",
                "--hostname",
                "sandbox",
                "--cap-drop",
                "ALL",
                "--new-session",
                "--die-with-parent",
            ]
            .map(String::from),
        );
        if !opts.network {
            line.push("--unshare-net".into());
        }
        line.extend(plan.args);
        line.push("--chdir".into());
        line.push(worktree.display().to_string());
        line.push("--".into());
        line.extend(argv.iter().cloned());

        let mut out: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: String| {
            out.retain(|(n, _)| n != k);
            out.push((k.to_owned(), v));
        };
        for (k, v) in env {
            set(k, v.clone());
        }
        set("HOME", home.display().to_string());
        set("TMPDIR", "/tmp".into());
        if !env.iter().any(|(n, _)| n == "PATH") {
            set("PATH", "/usr/local/bin:/usr/bin:/bin".into());
        }
        if !env.iter().any(|(n, _)| n == "LANG") {
            set("LANG", "C.UTF-8".into());
        }
        if !env.iter().any(|(n, _)| n == "TERM") {
            set("TERM", "dumb".into());
        }
        (line, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_with_the_old_name() {
        assert_eq!(ExecMode::parse("local"), Some(ExecMode::None));
        assert_eq!(ExecMode::parse("sandbox"), Some(ExecMode::Sandbox));
        assert_eq!(ExecMode::parse("vm"), None);
        assert_eq!(ExecMode::default(), ExecMode::Sandbox);
        let m: ExecMode = serde_json::from_str("\"local\"").unwrap();
        assert_eq!(m, ExecMode::None);
    }

    #[test]
    fn a_missing_bwrap_refuses_with_the_install_hint() {
        let iso = Isolation::new(
            ExecMode::Sandbox,
            SandboxSettings {
                bwrap: "/nonexistent/bwrap".into(),
                ..SandboxSettings::default()
            },
            DockerSettings::default(),
        );
        assert_eq!(iso.probe(), SandboxState::Missing);
        let dir = std::env::temp_dir();
        let e = iso
            .wrap(&["true".into()], &dir, &[], &IsolationOptions::default())
            .unwrap_err();
        assert_eq!(e.code(), "sandbox_unavailable");
        assert!(e.to_string().contains("apt-get install bubblewrap"), "{e}");
        // `none` runs the command as given.
        let w = Isolation::none()
            .wrap(&["true".into()], &dir, &[], &IsolationOptions::default())
            .unwrap();
        assert_eq!(w.argv, vec!["true".to_owned()]);
    }

    #[test]
    fn one_launcher_runs_in_front_of_bwrap() {
        let iso = Isolation::new(
            ExecMode::Sandbox,
            SandboxSettings::default(),
            DockerSettings::default(),
        );
        if iso.probe() != SandboxState::Ready {
            eprintln!("SKIPPED: bwrap is not usable here");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let argv = ["true".to_owned()];
        let opts = IsolationOptions::default();
        let bwrap_at = |line: &[String]| line.iter().position(|a| a.ends_with("bwrap")).unwrap();
        // Without a cgroup (as displayed): prlimit, with the process limit, then bwrap.
        let line = iso.command_line(&argv, dir.path(), &[], &opts);
        let at = bwrap_at(&line);
        assert!(line[0].ends_with("prlimit"), "{line:?}");
        assert!(line[..at].contains(&"--nproc=1024".to_owned()), "{line:?}");
        assert!(!line[..at].iter().any(|a| a.ends_with("/sh")), "{line:?}");
        // With one: `sh -c <script> <join file>`, then bwrap.
        let w = iso.wrap(&argv, dir.path(), &[], &opts).unwrap();
        if let Some(cg) = w.cgroup() {
            assert_eq!(bwrap_at(&w.argv), 4, "{:?}", w.argv);
            assert!(w.argv[0].ends_with("sh"), "{:?}", w.argv);
            assert!(Path::new(&w.argv[3]).starts_with(cg), "{:?}", w.argv);
            if shell_applies_limits(&w.argv[0]) {
                assert!(w.argv[2].contains("ulimit -t 3600"), "{:?}", w.argv);
            }
        }
    }
}
