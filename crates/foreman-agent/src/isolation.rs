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
//!   by `/dev/null`. Resource limits come from `prlimit` (CPU time, address space, file size,
//!   no core files) and a per-command pids cgroup (`pids.max`) when one can be created,
//!   `RLIMIT_NPROC` otherwise.
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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

/// Where commands run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecMode {
    /// In the OS sandbox (`bwrap`) on this machine.
    #[default]
    Sandbox,
    /// In a container (`docker run --network none ...`) with the worktree mounted.
    Docker,
    /// On this machine without isolation (`local` is accepted as an old name).
    #[serde(alias = "local")]
    None,
}

impl ExecMode {
    /// The configuration name: `sandbox`, `docker` or `none`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Docker => "docker",
            Self::None => "none",
        }
    }

    /// Parses a configuration value; `local` is the old name of `none`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sandbox" => Some(Self::Sandbox),
            "docker" => Some(Self::Docker),
            "none" | "local" => Some(Self::None),
            _ => None,
        }
    }
}

/// `[runner]` container settings for `mode = "docker"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerSettings {
    /// The container CLI (`docker`, `podman`).
    pub program: String,
    /// The image commands run in.
    pub image: String,
    /// `--network` value; `none` unless a project needs otherwise.
    pub network: String,
    /// `--memory` value.
    pub memory: String,
    /// `--cpus` value.
    pub cpus: String,
    /// `--pids-limit` value (bounds fork bombs).
    pub pids_limit: u32,
    /// Where the worktree is mounted.
    pub workdir: String,
    /// Further `docker run` arguments, placed before the image.
    pub extra_args: Vec<String>,
}

impl Default for DockerSettings {
    fn default() -> Self {
        Self {
            program: "docker".into(),
            image: "rust:1-slim".into(),
            network: "none".into(),
            memory: "4g".into(),
            cpus: "2".into(),
            pids_limit: 512,
            workdir: "/workspace".into(),
            extra_args: Vec::new(),
        }
    }
}

/// Resource limits of one sandboxed command (0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceLimits {
    /// CPU seconds (`RLIMIT_CPU`).
    pub cpu_secs: u64,
    /// Address space in bytes (`RLIMIT_AS`).
    pub address_space_bytes: u64,
    /// Processes and threads (`pids.max` of a per-command cgroup, else `RLIMIT_NPROC`).
    pub processes: u32,
    /// Largest file a command may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
    /// Output bytes after which the command's processes are killed (every mode).
    pub output_bytes: u64,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        Self {
            cpu_secs: 3600,
            address_space_bytes: 32 << 30,
            processes: 1024,
            file_size_bytes: 8 << 30,
            output_bytes: 64 << 20,
        }
    }
}

/// `[runner]` settings of the OS sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    /// The bubblewrap binary.
    pub bwrap: String,
    /// Further host paths visible read-only (toolchains such as `~/.cargo`, `~/.rustup`).
    pub read_only_paths: Vec<PathBuf>,
    /// Host paths never visible (the data and work directories belong here; the binaries add
    /// them).
    pub hidden_paths: Vec<PathBuf>,
    /// Resource limits.
    pub limits: ResourceLimits,
    /// Where pids cgroups are created (`None`: found under `/sys/fs/cgroup`).
    pub cgroup_root: Option<PathBuf>,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            bwrap: "bwrap".into(),
            read_only_paths: Vec::new(),
            hidden_paths: Vec::new(),
            limits: ResourceLimits::default(),
            cgroup_root: None,
        }
    }
}

/// What a caller asks of one wrapped command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IsolationOptions {
    /// Keep the host's network (external agent CLIs talk to their API); otherwise the command
    /// gets a network namespace of its own with only loopback.
    pub network: bool,
    /// Further host paths visible read-only for this command (e.g. a CLI's own installation).
    pub read_only: Vec<PathBuf>,
    /// Further host paths writable for this command (e.g. a CLI's session directory).
    pub read_write: Vec<PathBuf>,
}

/// The state of the sandbox on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxState {
    /// `bwrap` runs a command in the namespaces the sandbox uses.
    Ready,
    /// `bwrap` is not installed (or not at the configured path).
    Missing,
    /// `bwrap` is installed but cannot create the sandbox (namespaces disabled, seccomp of a
    /// container runtime, ...): its message.
    Unusable(String),
}

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

/// Credential files and directories under `$HOME`, hidden even when a parent is made visible
/// through `read_only_paths`.
pub const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config",
    ".foreman",
    ".docker",
    ".kube",
    ".netrc",
    ".git-credentials",
    ".gitconfig",
    ".npmrc",
    ".pypirc",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".claude",
    ".claude.json",
    ".codex",
];

/// System directories mounted read-only in the sandbox (links are recreated as links).
const SYSTEM_ROOTS: &[&str] = &[
    "/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/nix",
];

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
        let limits = &self.sandbox.limits;
        let mut line: Vec<String> = Vec::new();
        if let Some(cg) = cgroup {
            // The shell moves itself into the cgroup before it becomes prlimit, then bwrap, so
            // nothing the command starts is ever outside it.
            line.extend([
                find_program("sh"),
                "-c".into(),
                "echo $$ > \"$0\" && exec \"$@\"".into(),
                cg.path.join("cgroup.procs").display().to_string(),
            ]);
        }
        line.push(find_program("prlimit"));
        line.push("--core=0".into());
        if limits.cpu_secs > 0 {
            line.push(format!("--cpu={}", limits.cpu_secs));
        }
        if limits.address_space_bytes > 0 {
            line.push(format!("--as={}", limits.address_space_bytes));
        }
        if limits.file_size_bytes > 0 {
            line.push(format!("--fsize={}", limits.file_size_bytes));
        }
        if cgroup.is_none() && limits.processes > 0 {
            line.push(format!("--nproc={}", limits.processes));
        }
        line.push("--".into());
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

/// One mount of the sandbox, ordered parent before child.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mount {
    ReadOnly(PathBuf),
    Link(String, PathBuf),
    Tmpfs(PathBuf),
    ReadWrite(PathBuf),
    HideFile(PathBuf),
    HideDir(PathBuf),
    Special(&'static str, PathBuf),
}

impl Mount {
    fn path(&self) -> &Path {
        match self {
            Self::ReadOnly(p)
            | Self::Link(_, p)
            | Self::Tmpfs(p)
            | Self::ReadWrite(p)
            | Self::HideFile(p)
            | Self::HideDir(p)
            | Self::Special(_, p) => p,
        }
    }

    /// At the same path, hiding wins over showing.
    const fn rank(&self) -> u8 {
        match self {
            Self::Link(..) | Self::Special(..) | Self::Tmpfs(_) => 0,
            Self::ReadOnly(_) => 1,
            Self::ReadWrite(_) => 2,
            Self::HideFile(_) | Self::HideDir(_) => 3,
        }
    }

    /// `covers`: other mounts lie inside this one (a hidden ancestor of the worktree), so it
    /// stays traversable and is made read-only only after them (into `late`).
    fn push_args(&self, out: &mut Vec<String>, covers: bool, late: &mut Vec<String>) {
        let s = |p: &Path| p.display().to_string();
        match self {
            Self::HideDir(p) if covers => {
                out.extend(["--tmpfs".into(), s(p)]);
                late.extend(["--remount-ro".into(), s(p)]);
            }
            Self::ReadOnly(p) => out.extend(["--ro-bind".into(), s(p), s(p)]),
            Self::Link(target, p) => out.extend(["--symlink".into(), target.clone(), s(p)]),
            Self::Tmpfs(p) => out.extend(["--tmpfs".into(), s(p)]),
            Self::ReadWrite(p) => out.extend(["--bind".into(), s(p), s(p)]),
            Self::HideFile(p) => out.extend(["--ro-bind".into(), "/dev/null".into(), s(p)]),
            Self::HideDir(p) => out.extend([
                "--perms".into(),
                "0000".into(),
                "--tmpfs".into(),
                s(p),
                "--remount-ro".into(),
                s(p),
            ]),
            Self::Special(kind, p) => out.extend([(*kind).to_owned(), s(p)]),
        }
    }
}

struct MountPlan {
    args: Vec<String>,
}

impl MountPlan {
    fn new(
        settings: &SandboxSettings,
        worktree: &Path,
        home: &Path,
        host_home: Option<&Path>,
        opts: &IsolationOptions,
    ) -> Self {
        let mut mounts: Vec<Mount> = Vec::new();
        // What the command can see of the host: read-only system directories, extra read-only
        // paths, writable paths and the worktree.
        let mut visible: Vec<PathBuf> = Vec::new();
        for root in SYSTEM_ROOTS {
            let p = Path::new(root);
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(p) {
                        mounts.push(Mount::Link(target.display().to_string(), p.to_owned()));
                    }
                }
                Ok(m) if m.is_dir() => {
                    mounts.push(Mount::ReadOnly(p.to_owned()));
                    visible.push(p.to_owned());
                }
                _ => {}
            }
        }
        if opts.network {
            // A resolver link into /run (systemd-resolved) must resolve inside.
            if let Ok(target) = std::fs::canonicalize("/etc/resolv.conf")
                && !target.starts_with("/etc")
                && let Some(dir) = target.parent()
            {
                mounts.push(Mount::ReadOnly(dir.to_owned()));
                visible.push(dir.to_owned());
            }
        }
        mounts.push(Mount::Special("--proc", "/proc".into()));
        mounts.push(Mount::Special("--dev", "/dev".into()));
        mounts.push(Mount::Tmpfs("/tmp".into()));
        mounts.push(Mount::Tmpfs("/var/tmp".into()));
        mounts.push(Mount::Tmpfs(home.to_owned()));
        for p in settings.read_only_paths.iter().chain(&opts.read_only) {
            if let Ok(c) = p.canonicalize() {
                mounts.push(Mount::ReadOnly(c.clone()));
                visible.push(c);
            }
        }
        for p in &opts.read_write {
            if let Ok(c) = p.canonicalize() {
                mounts.push(Mount::ReadWrite(c.clone()));
                visible.push(c);
            }
        }
        mounts.push(Mount::ReadWrite(worktree.to_owned()));
        visible.push(worktree.to_owned());

        // Credential files in a home directory are hidden by default, except where this
        // command asked for them explicitly (an external CLI's own session directory).
        let requested: Vec<PathBuf> = opts
            .read_only
            .iter()
            .chain(&opts.read_write)
            .filter_map(|p| p.canonicalize().ok())
            .collect();
        let mut soft: Vec<PathBuf> = Vec::new();
        for h in [Some(home), host_home].into_iter().flatten() {
            if h != home {
                soft.push(h.to_owned());
            }
            soft.extend(HOME_SECRETS.iter().map(|s| h.join(s)));
        }
        let soft = soft
            .into_iter()
            .filter_map(|p| p.canonicalize().ok())
            .filter(|p| !requested.iter().any(|r| p.starts_with(r)));
        let hidden = settings
            .hidden_paths
            .iter()
            .filter_map(|p| p.canonicalize().ok())
            .chain(soft)
            .chain(unreadable_system_files().iter().cloned());
        for c in hidden {
            // Only what is visible needs hiding; an ancestor of the worktree is hidden before
            // the worktree is mounted into it (mounts are ordered parent first).
            if !visible.iter().any(|v| c.starts_with(v)) || c == worktree {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&c) else {
                continue;
            };
            mounts.push(if meta.is_dir() {
                Mount::HideDir(c)
            } else {
                Mount::HideFile(c)
            });
        }
        // The `.git` pointer names the admin directory host git uses: nothing inside may change
        // it (or read a checkout's own `.git` directory).
        let git = worktree.join(".git");
        match std::fs::symlink_metadata(&git) {
            Ok(m) if m.is_dir() => mounts.push(Mount::HideDir(git)),
            Ok(_) => mounts.push(Mount::HideFile(git)),
            Err(_) => {}
        }
        mounts.sort_by(|a, b| {
            a.path()
                .components()
                .count()
                .cmp(&b.path().components().count())
                .then(a.rank().cmp(&b.rank()))
        });
        mounts.dedup();
        let mut args = Vec::new();
        let mut late = Vec::new();
        for (i, m) in mounts.iter().enumerate() {
            let covers = mounts[i + 1..]
                .iter()
                .any(|n| n.path() != m.path() && n.path().starts_with(m.path()));
            m.push_args(&mut args, covers, &mut late);
        }
        args.extend(late);
        Self { args }
    }
}

/// Files and directories under `/etc` and `/opt` that are not world-readable (`/etc/shadow`,
/// private keys): the sandbox user maps to the server's user, so owner-only files of that user
/// would otherwise be readable. Found once per process.
fn unreadable_system_files() -> &'static [PathBuf] {
    static FOUND: OnceLock<Vec<PathBuf>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let mut out = Vec::new();
        collect_unreadable(Path::new("/etc"), 8, &mut out);
        collect_unreadable(Path::new("/opt"), 3, &mut out);
        out
    })
}

fn collect_unreadable(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.file_type().is_symlink() {
            continue;
        }
        let mode = m.permissions().mode();
        let path = e.path();
        if m.is_dir() {
            if mode & 0o005 != 0o005 {
                out.push(path);
            } else if depth > 0 {
                collect_unreadable(&path, depth - 1, out);
            }
        } else if mode & 0o004 == 0 {
            out.push(path);
        }
    }
}

/// The absolute path of `name` on the host's `PATH` (or the usual system directories), or
/// `name` itself.
#[must_use]
pub fn find_program(name: &str) -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .filter(|d| d.starts_with('/'))
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .map_or_else(|| name.to_owned(), |p| p.display().to_string())
}

fn probe_bwrap(program: &str) -> SandboxState {
    static PROBES: OnceLock<Mutex<Vec<(String, SandboxState)>>> = OnceLock::new();
    let probes = PROBES.get_or_init(|| Mutex::new(Vec::new()));
    let mut probes = probes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, s)) = probes.iter().find(|(p, _)| p == program) {
        return s.clone();
    }
    let resolved = if program.contains('/') {
        program.to_owned()
    } else {
        find_program(program)
    };
    let state = match std::process::Command::new(&resolved)
        .args([
            "--unshare-user",
            "--uid",
            "65534",
            "--gid",
            "65534",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--cap-drop",
            "ALL",
            "--die-with-parent",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "true",
        ])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
    {
        Ok(o) if o.status.success() => SandboxState::Ready,
        Ok(o) => SandboxState::Unusable(
            String::from_utf8_lossy(&o.stderr)
                .trim()
                .lines()
                .next()
                .unwrap_or("exited with an error")
                .to_owned(),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => SandboxState::Missing,
        Err(e) => SandboxState::Unusable(e.to_string()),
    };
    probes.push((program.to_owned(), state.clone()));
    state
}

/// A per-command pids cgroup (v1 `pids` hierarchy or cgroup v2 with the pids controller).
#[derive(Debug)]
struct PidsCgroup {
    path: PathBuf,
}

impl PidsCgroup {
    /// Creates `foreman-sandbox/cmd-<pid>-<n>` with `pids.max = max`; `None` when cgroups are
    /// not writable here (the caller then relies on `RLIMIT_NPROC`).
    fn create(root: Option<&Path>, max: u32) -> Option<Self> {
        if max == 0 {
            return None;
        }
        let base = match root {
            Some(r) => r.to_owned(),
            None => Self::find_base()?,
        };
        let parent = base.join("foreman-sandbox");
        if !parent.is_dir() {
            std::fs::create_dir(&parent).ok()?;
        }
        static SWEPT: OnceLock<()> = OnceLock::new();
        SWEPT.get_or_init(|| Self::sweep_stale(&parent));
        if base.join("cgroup.subtree_control").exists() {
            // cgroup v2: the controller must be enabled on the way down.
            let _ = std::fs::write(base.join("cgroup.subtree_control"), "+pids");
            let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+pids");
        }
        let path = parent.join(format!(
            "cmd-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).ok()?;
        let cg = Self { path };
        if std::fs::write(cg.path.join("pids.max"), max.to_string()).is_err() {
            cg.remove();
            return None;
        }
        Some(cg)
    }

    /// Removes the empty cgroups of processes that are gone (`cmd-<pid>-<n>` whose server exited
    /// before its background removal finished), once per process, so they do not pile up.
    fn sweep_stale(parent: &Path) {
        let Ok(entries) = std::fs::read_dir(parent) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix("cmd-"))
                .and_then(|rest| rest.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                // rmdir fails (harmlessly) while the cgroup still lists a process
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }

    fn find_base() -> Option<PathBuf> {
        let v1 = Path::new("/sys/fs/cgroup/pids");
        if v1.join("cgroup.procs").exists() {
            return Some(v1.to_owned());
        }
        let v2 = Path::new("/sys/fs/cgroup");
        let controllers = std::fs::read_to_string(v2.join("cgroup.controllers")).ok()?;
        controllers
            .split_whitespace()
            .any(|c| c == "pids")
            .then(|| v2.to_owned())
    }

    /// Removes the cgroup at once when it is already empty; otherwise kills what is left and
    /// removes it from a background thread, so the caller does not wait for dying processes.
    fn remove(self) {
        if self.try_remove() {
            return;
        }
        std::thread::spawn(move || {
            for _ in 0..500 {
                if self.try_remove() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            tracing::warn!(cgroup = %self.path.display(), "cannot remove a sandbox cgroup");
        });
    }

    /// One attempt: kill every process listed, remove the directory if none is.
    fn try_remove(&self) -> bool {
        let Ok(procs) = std::fs::read_to_string(self.path.join("cgroup.procs")) else {
            return !self.path.exists();
        };
        let pids: Vec<i32> = procs
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        for pid in &pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        pids.is_empty() && std::fs::remove_dir(&self.path).is_ok()
    }
}

/// Builds the `docker run` command line for running `argv` in `worktree` with `env`. The
/// worktree's `.git` is masked (`/dev/null` over a pointer file, an empty tmpfs over a
/// directory).
#[must_use]
pub fn docker_command_line(
    docker: &DockerSettings,
    worktree: &Path,
    argv: &[String],
    env: &[(String, String)],
    container_name: &str,
    user: Option<(u32, u32)>,
) -> Vec<String> {
    let mut cmd = vec![
        docker.program.clone(),
        "run".into(),
        "--rm".into(),
        "--name".into(),
        container_name.to_owned(),
        "--network".into(),
        docker.network.clone(),
        "--pids-limit".into(),
        docker.pids_limit.to_string(),
        "--memory".into(),
        docker.memory.clone(),
        "--cpus".into(),
        docker.cpus.clone(),
        "--cap-drop".into(),
        "ALL".into(),
        "--security-opt".into(),
        "no-new-privileges".into(),
    ];
    if let Some((uid, gid)) = user {
        cmd.push("--user".into());
        cmd.push(format!("{uid}:{gid}"));
    }
    cmd.push("--volume".into());
    cmd.push(format!("{}:{}:rw", worktree.display(), docker.workdir));
    match std::fs::symlink_metadata(worktree.join(".git")) {
        Ok(m) if m.is_dir() => {
            cmd.push("--tmpfs".into());
            cmd.push(format!("{}/.git:ro", docker.workdir));
        }
        Ok(_) => {
            cmd.push("--volume".into());
            cmd.push(format!("/dev/null:{}/.git:ro", docker.workdir));
        }
        Err(_) => {}
    }
    cmd.push("--workdir".into());
    cmd.push(docker.workdir.clone());
    for (k, v) in env {
        // The host's paths mean nothing inside the container.
        if matches!(
            k.as_str(),
            "PATH" | "HOME" | "TMPDIR" | "CARGO_HOME" | "RUSTUP_HOME" | "CARGO_TARGET_DIR"
        ) {
            continue;
        }
        cmd.push("--env".into());
        cmd.push(format!("{k}={v}"));
    }
    cmd.extend(docker.extra_args.iter().cloned());
    cmd.push(docker.image.clone());
    cmd.extend(argv.iter().cloned());
    cmd
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
    fn credentials_a_command_asks_for_stay_visible_and_the_rest_stay_hidden() {
        let dir = std::env::temp_dir().join(format!("iso-home-{}", std::process::id()));
        let home = dir.join("home");
        let wt = dir.join("wt");
        for d in [home.join(".claude"), home.join(".ssh"), wt.clone()] {
            std::fs::create_dir_all(d).unwrap();
        }
        let home = home.canonicalize().unwrap();
        let settings = SandboxSettings {
            read_only_paths: vec![home.clone()],
            ..SandboxSettings::default()
        };
        let opts = IsolationOptions {
            network: true,
            read_write: vec![home.join(".claude")],
            ..IsolationOptions::default()
        };
        let plan = MountPlan::new(
            &settings,
            &wt.canonicalize().unwrap(),
            Path::new("/home/x"),
            Some(&home),
            &opts,
        );
        let text = plan.args.join(" ");
        let claude = home.join(".claude").display().to_string();
        assert!(
            text.contains(&format!("--bind {claude} {claude}")),
            "{text}"
        );
        assert!(!text.contains(&format!("--tmpfs {claude}")), "{text}");
        assert!(
            text.contains(&format!("--tmpfs {}", home.join(".ssh").display())),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mounts_are_ordered_parent_first_and_hide_wins() {
        let dir = std::env::temp_dir().join(format!("iso-plan-{}", std::process::id()));
        let wt = dir.join("work").join("wt");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join(".git"), "gitdir: /elsewhere\n").unwrap();
        let settings = SandboxSettings {
            hidden_paths: vec![dir.join("work")],
            read_only_paths: vec![dir.clone()],
            ..SandboxSettings::default()
        };
        let wt = wt.canonicalize().unwrap();
        let plan = MountPlan::new(
            &settings,
            &wt,
            Path::new("/home/x"),
            None,
            &IsolationOptions::default(),
        );
        let text = plan.args.join(" ");
        let work = dir.canonicalize().unwrap().join("work");
        let hide = text.find(&format!("--tmpfs {}", work.display())).unwrap();
        let bind = text
            .find(&format!("--bind {} {}", wt.display(), wt.display()))
            .unwrap();
        let git = text
            .find(&format!("--ro-bind /dev/null {}/.git", wt.display()))
            .unwrap();
        assert!(hide < bind && bind < git, "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
