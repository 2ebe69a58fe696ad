//! `run_command`: which commands the agent may run, and running them safely.
//!
//! A command line from the model is split into arguments without a shell and must start with
//! one of the allowed argument prefixes (the project's test, lint and build commands and the
//! configured `allowed_commands`). Shell operators, substitutions, redirections, variable
//! expansion, environment assignments and arguments naming paths outside the worktree are
//! refused. A configured line marked `shell:` runs through `sh -c`, but only when the model
//! asks for exactly that line.
//!
//! Commands run through the [`Isolation`] of the configured mode (the OS sandbox by default,
//! see [`crate::isolation`]) in their own process group with a scrubbed environment and a
//! timeout; the whole group is killed at the timeout, when its output passes the output limit,
//! and again after the command exits (so nothing it started in the background survives).
//! Output is kept head and tail within a byte limit, with a note saying how much was left out.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::SetupError;
use crate::isolation::{Isolation, IsolationOptions, SandboxSettings, Wrapped};
use crate::sandbox::Sandbox;

pub use crate::isolation::{DockerSettings, ExecMode, docker_command_line, is_sensitive_env};

/// `[runner]` command settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommandSettings {
    /// The project's test command (an argument prefix, or `shell: <line>`).
    pub test_command: String,
    /// The project's lint command.
    pub lint_command: String,
    /// The project's build command.
    pub build_command: String,
    /// Further allowed commands: argument prefixes such as `cargo test` or `npm run lint`,
    /// or `shell: <line>` for a line that needs a shell and may only be run exactly.
    pub allowed_commands: Vec<String>,
    /// Default and maximum time per command, in seconds.
    pub timeout_secs: u64,
    /// Output bytes kept per command (head and tail).
    pub max_output_bytes: usize,
    /// Environment variables passed through besides the base set (names that look like
    /// credentials are still dropped).
    pub env_passthrough: Vec<String>,
    /// Where commands run.
    pub mode: ExecMode,
    /// Container settings for `mode = "docker"`.
    pub docker: DockerSettings,
    /// OS sandbox settings for `mode = "sandbox"` (its output limit applies in every mode).
    pub sandbox: SandboxSettings,
}

impl CommandSettings {
    /// The isolation these settings describe.
    #[must_use]
    pub fn isolation(&self) -> Isolation {
        Isolation::new(self.mode, self.sandbox.clone(), self.docker.clone())
    }
}

impl Default for CommandSettings {
    fn default() -> Self {
        Self {
            test_command: String::new(),
            lint_command: String::new(),
            build_command: String::new(),
            allowed_commands: Vec::new(),
            timeout_secs: 600,
            max_output_bytes: 30_000,
            env_passthrough: Vec::new(),
            mode: ExecMode::default(),
            docker: DockerSettings::default(),
            sandbox: SandboxSettings::default(),
        }
    }
}

/// One allowed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandRule {
    /// Any command line whose arguments start with these.
    Prefix(Vec<String>),
    /// Exactly this line, run by `sh -c`.
    Shell(String),
}

impl CommandRule {
    /// Parses a configured entry (`cargo test` or `shell: make check && ./verify.sh`).
    ///
    /// # Errors
    /// [`SetupError::InvalidCommand`] for an empty entry, unbalanced quotes, or shell
    /// operators in an entry not marked `shell:`.
    pub fn parse(entry: &str) -> Result<Self, SetupError> {
        let invalid = |reason: &str| SetupError::InvalidCommand {
            command: entry.to_owned(),
            reason: reason.to_owned(),
        };
        let t = entry.trim();
        if let Some(line) = t.strip_prefix("shell:") {
            let line = line.trim();
            if line.is_empty() {
                return Err(invalid("empty shell line"));
            }
            return Ok(Self::Shell(line.to_owned()));
        }
        if t.is_empty() {
            return Err(invalid("empty command"));
        }
        if let Some(op) = shell_operator(t) {
            return Err(invalid(&format!(
                "contains {op}; mark it `shell: ...` to run it through a shell"
            )));
        }
        let argv = shlex::split(t).ok_or_else(|| invalid("unbalanced quotes"))?;
        if argv.is_empty() {
            return Err(invalid("empty command"));
        }
        Ok(Self::Prefix(argv))
    }

    /// How the rule reads in prompts and errors.
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            Self::Prefix(argv) => argv.join(" "),
            Self::Shell(line) => line.clone(),
        }
    }
}

/// The first shell operator or expansion in `s`, if any.
#[must_use]
pub fn shell_operator(s: &str) -> Option<&'static str> {
    const OPS: &[(&str, &str)] = &[
        ("\n", "a newline"),
        ("\r", "a carriage return"),
        ("&&", "'&&'"),
        ("||", "'||'"),
        (";", "';'"),
        ("|", "a pipe"),
        ("&", "'&'"),
        ("`", "a backtick"),
        ("$(", "'$('"),
        ("${", "'${'"),
        ("$", "'$'"),
        (">", "a redirection"),
        ("<", "a redirection"),
        ("\0", "a NUL byte"),
    ];
    OPS.iter()
        .find(|(op, _)| s.contains(op))
        .map(|(_, name)| *name)
}

/// A command the policy accepted, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedCommand {
    /// The program and its arguments (`sh -c <line>` for shell lines).
    pub argv: Vec<String>,
    /// Whether it is a configured shell line.
    pub shell: bool,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandRefused {
    /// Nothing to run.
    #[error("command is empty")]
    Empty,
    /// Shell syntax in a command that runs without a shell.
    #[error(
        "commands run without a shell and {what} is not allowed; run one plain command at a time"
    )]
    ShellSyntax {
        /// The operator found.
        what: &'static str,
    },
    /// Quotes do not balance.
    #[error("unbalanced quotes in command")]
    Quotes,
    /// `NAME=value` before the program.
    #[error("environment assignments ({0}) are not allowed")]
    EnvAssignment(String),
    /// Not on the allow-list.
    #[error("command {command:?} is not allowed; allowed: {allowed}")]
    NotAllowed {
        /// The program and first arguments.
        command: String,
        /// The allowed commands.
        allowed: String,
    },
    /// An argument names a path outside the worktree.
    #[error("argument {arg:?} points outside the worktree")]
    OutsidePath {
        /// The argument.
        arg: String,
    },
}

impl CommandRefused {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Empty => "command_empty",
            Self::ShellSyntax { .. } => "command_shell_syntax",
            Self::Quotes => "command_quotes",
            Self::EnvAssignment(_) => "command_env_assignment",
            Self::NotAllowed { .. } => "command_not_allowed",
            Self::OutsidePath { .. } => "command_outside_path",
        }
    }
}

/// The allow-list plus the environment and limits commands run with.
#[derive(Debug, Clone)]
pub struct CommandPolicy {
    rules: Vec<CommandRule>,
    settings: CommandSettings,
    env: Vec<(String, String)>,
    isolation: Isolation,
}

/// Environment variables every command gets when the host has them.
pub const BASE_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "CARGO_TARGET_DIR",
    "GOPATH",
    "GOCACHE",
    "GOMODCACHE",
    "JAVA_HOME",
    "VIRTUAL_ENV",
    "NODE_PATH",
];

/// The scrubbed environment: [`BASE_ENV`] plus `passthrough`, minus sensitive names, read
/// from `source`.
#[must_use]
pub fn scrubbed_env(
    passthrough: &[String],
    source: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in BASE_ENV
        .iter()
        .map(|s| (*s).to_owned())
        .chain(passthrough.iter().cloned())
    {
        if is_sensitive_env(&name) || out.iter().any(|(n, _)| *n == name) {
            continue;
        }
        if let Some(v) = source(&name) {
            out.push((name, v));
        }
    }
    out.push(("TERM".into(), "dumb".into()));
    out.push(("NO_COLOR".into(), "1".into()));
    out
}

impl CommandPolicy {
    /// Builds the policy from settings, reading passthrough values from this process's
    /// environment.
    ///
    /// # Errors
    /// A malformed command entry or a zero timeout.
    pub fn new(settings: CommandSettings) -> Result<Self, SetupError> {
        let env = scrubbed_env(&settings.env_passthrough, |n| std::env::var(n).ok());
        Self::with_env(settings, env)
    }

    /// Builds the policy with an explicit environment (tests, embedding).
    ///
    /// # Errors
    /// A malformed command entry or a zero timeout.
    pub fn with_env(
        settings: CommandSettings,
        env: Vec<(String, String)>,
    ) -> Result<Self, SetupError> {
        if settings.timeout_secs == 0 {
            return Err(SetupError::InvalidSetting {
                key: "runner.timeout_secs".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        if settings.max_output_bytes < 256 {
            return Err(SetupError::InvalidSetting {
                key: "runner.max_output_bytes".into(),
                value: settings.max_output_bytes.to_string(),
                reason: "must be at least 256".into(),
            });
        }
        let mut rules = Vec::new();
        for entry in [
            &settings.test_command,
            &settings.lint_command,
            &settings.build_command,
        ]
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .chain(settings.allowed_commands.iter())
        {
            let rule = CommandRule::parse(entry)?;
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        let env = env
            .into_iter()
            .filter(|(n, _)| !is_sensitive_env(n))
            .collect();
        Ok(Self {
            rules,
            isolation: settings.isolation(),
            settings,
            env,
        })
    }

    /// The isolation commands run in.
    #[must_use]
    pub fn isolation(&self) -> &Isolation {
        &self.isolation
    }

    /// The allowed commands as they read in prompts.
    #[must_use]
    pub fn allowed(&self) -> Vec<String> {
        self.rules.iter().map(CommandRule::display).collect()
    }

    /// The project's test command, if configured.
    #[must_use]
    pub fn test_command(&self) -> Option<String> {
        CommandRule::parse(&self.settings.test_command)
            .ok()
            .map(|r| r.display())
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &CommandSettings {
        &self.settings
    }

    /// The environment commands get.
    #[must_use]
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Checks a command line against the policy.
    ///
    /// # Errors
    /// [`CommandRefused`] saying why.
    pub fn prepare(
        &self,
        command: &str,
        sandbox: &Sandbox,
    ) -> Result<PreparedCommand, CommandRefused> {
        let line = command.trim();
        if line.is_empty() {
            return Err(CommandRefused::Empty);
        }
        if let Some(CommandRule::Shell(l)) = self
            .rules
            .iter()
            .find(|r| matches!(r, CommandRule::Shell(l) if l == line))
        {
            return Ok(PreparedCommand {
                argv: vec!["sh".into(), "-c".into(), l.clone()],
                shell: true,
            });
        }
        if let Some(what) = shell_operator(line) {
            return Err(CommandRefused::ShellSyntax { what });
        }
        let argv = shlex::split(line).ok_or(CommandRefused::Quotes)?;
        let Some(first) = argv.first() else {
            return Err(CommandRefused::Empty);
        };
        if first.contains('=') && !first.starts_with('-') {
            return Err(CommandRefused::EnvAssignment(first.clone()));
        }
        let allowed = self.rules.iter().any(|r| match r {
            CommandRule::Prefix(p) => argv.len() >= p.len() && argv[..p.len()] == p[..],
            CommandRule::Shell(_) => false,
        });
        if !allowed {
            return Err(CommandRefused::NotAllowed {
                command: argv.iter().take(3).cloned().collect::<Vec<_>>().join(" "),
                allowed: if self.rules.is_empty() {
                    "none configured".into()
                } else {
                    self.allowed().join(", ")
                },
            });
        }
        for arg in &argv[1..] {
            check_path_arg(arg, sandbox)?;
        }
        Ok(PreparedCommand { argv, shell: false })
    }
}

fn check_path_arg(arg: &str, sandbox: &Sandbox) -> Result<(), CommandRefused> {
    let outside = || CommandRefused::OutsidePath {
        arg: arg.to_owned(),
    };
    if arg
        .split(['/', '=', ',', ':'])
        .any(|c| c == ".." || c.starts_with('~'))
    {
        return Err(outside());
    }
    // Absolute paths anywhere an option can carry one: `/x`, `--flag=/x`, `-C/x`, `a,/x`;
    // `scheme://` URLs are left alone.
    let bytes = arg.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b != b'/' {
            continue;
        }
        // `-C/x`: a short option glued to its value.
        let short_option = i == 2 && bytes[0] == b'-' && bytes[1] != b'-';
        let starts = i == 0 || short_option || matches!(bytes[i - 1], b'=' | b'-' | b',' | b'@');
        if starts && !sandbox.contains(Path::new(&arg[i..])) {
            return Err(outside());
        }
    }
    Ok(())
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code (`None` when killed by a signal or at the timeout).
    pub exit_code: Option<i32>,
    /// Killed at the timeout.
    pub timed_out: bool,
    /// Killed because it wrote more than the output limit.
    pub output_killed: bool,
    /// Combined stdout and stderr, truncated head and tail.
    pub output: String,
    /// Bytes produced in total.
    pub total_bytes: u64,
    /// Whether `output` was truncated.
    pub truncated: bool,
    /// Wall time.
    pub duration: Duration,
}

/// Collects output, keeping the first and last bytes within a limit.
#[derive(Debug)]
pub struct HeadTail {
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
}

impl HeadTail {
    /// A collector keeping at most `max` bytes (half head, half tail).
    #[must_use]
    pub fn new(max: usize) -> Self {
        let head_cap = max / 2;
        Self {
            head: Vec::new(),
            tail: std::collections::VecDeque::new(),
            head_cap,
            tail_cap: max - head_cap,
            total: 0,
        }
    }

    /// Adds bytes.
    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.head.len() < self.head_cap {
            let n = (self.head_cap - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_cap..]);
        } else {
            let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_cap);
            self.tail.drain(..overflow);
            self.tail.extend(bytes);
        }
    }

    /// Bytes seen.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The kept text, with a note where bytes were left out; and whether any were.
    #[must_use]
    pub fn render(&self) -> (String, bool) {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let mut out = String::from_utf8_lossy(&self.head).into_owned();
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        if self.total > kept {
            let omitted = self.total - kept;
            out.push_str(&format!(
                "\n[... {omitted} bytes of output omitted; showing the first {} and last {} bytes ...]\n",
                self.head.len(),
                tail.len()
            ));
            out.push_str(&String::from_utf8_lossy(&tail));
            (out, true)
        } else {
            out.push_str(&String::from_utf8_lossy(&tail));
            (out, false)
        }
    }
}

/// Runs prepared commands in a worktree, through the policy's [`Isolation`].
#[derive(Debug, Clone)]
pub struct CommandExecutor {
    policy: Arc<CommandPolicy>,
    worktree: PathBuf,
}

impl CommandExecutor {
    /// An executor for `worktree` under `policy`.
    #[must_use]
    pub fn new(policy: Arc<CommandPolicy>, worktree: PathBuf) -> Self {
        Self { policy, worktree }
    }

    /// The full command line that will be spawned for `cmd` (the sandbox or docker wrapper;
    /// `container_name` is not used any more: each run names its own container).
    #[must_use]
    pub fn command_line(&self, cmd: &PreparedCommand, _container_name: &str) -> Vec<String> {
        self.policy.isolation.command_line(
            &cmd.argv,
            &self.worktree,
            &self.policy.env,
            &IsolationOptions::default(),
        )
    }

    /// Runs `cmd` with at most `timeout` (capped at the configured timeout), isolated, without
    /// network.
    ///
    /// # Errors
    /// The isolation is unavailable ([`crate::IsolationError`], as the source of an
    /// `io::Error`) or the program could not be started.
    pub async fn run(
        &self,
        cmd: &PreparedCommand,
        timeout: Option<Duration>,
    ) -> std::io::Result<CommandOutput> {
        let max = Duration::from_secs(self.policy.settings.timeout_secs);
        let timeout = timeout.map_or(max, |t| t.min(max));
        let wrapped = self
            .policy
            .isolation
            .wrap(
                &cmd.argv,
                &self.worktree,
                &self.policy.env,
                &IsolationOptions::default(),
            )
            .map_err(std::io::Error::other)?;
        run_wrapped(
            wrapped,
            timeout,
            self.policy.settings.max_output_bytes,
            self.policy.settings.sandbox.limits.output_bytes,
            None,
        )
        .await
    }
}

/// Kills every process in the group led by `pid` (ignoring a group that is already gone).
pub fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

async fn pump<R: AsyncRead + Unpin>(
    mut r: R,
    sink: Arc<Mutex<HeadTail>>,
    cap: u64,
    over: Arc<tokio::sync::Notify>,
) {
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let total = {
                    let mut s = sink
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    s.push(&buf[..n]);
                    s.total()
                };
                if cap > 0 && total > cap {
                    over.notify_one();
                    break;
                }
            }
        }
    }
}

/// Spawns `argv` in `dir` on the host, as the leader of a new process group with exactly
/// `env`, feeds it `stdin` (or nothing), collects stdout and stderr together, and kills the
/// whole group at the timeout and after it exits.
///
/// This is the host primitive without isolation: worktree commands go through
/// [`Isolation::wrap`] and [`run_wrapped`]. Foreman's own `git diff` (which needs the git admin
/// directory the sandbox hides) is its one other user.
///
/// # Errors
/// The program could not be started.
pub async fn run_in_group(
    argv: &[String],
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
    max_output: usize,
    stdin: Option<Vec<u8>>,
) -> std::io::Result<CommandOutput> {
    spawn_collect(argv, dir, env, timeout, max_output, 0, stdin, None).await
}

/// Runs a command [`Isolation::wrap`] produced: like [`run_in_group`], and also kills the
/// command once it has written more than `output_limit` bytes (0: no limit), stops its
/// container at the timeout (docker mode), and removes its cgroup afterwards.
///
/// # Errors
/// The program could not be started.
pub async fn run_wrapped(
    mut wrapped: Wrapped,
    timeout: Duration,
    max_output: usize,
    output_limit: u64,
    stdin: Option<Vec<u8>>,
) -> std::io::Result<CommandOutput> {
    let out = spawn_collect(
        &wrapped.argv,
        &wrapped.dir,
        &wrapped.env,
        timeout,
        max_output,
        output_limit,
        stdin,
        wrapped.container.as_ref(),
    )
    .await;
    wrapped.cleanup();
    out
}

/// `program` as the path `execvp` would find on the child's `PATH` when it is a bare name
/// (`sh`, `pytest`); otherwise unchanged.
///
/// The child's environment is set anew, `PATH` included, and the standard library spawns such
/// a command with `posix_spawn` only when its program is a path: for a bare name it falls back
/// to `fork`, which copies the server's page tables and leaves every thread of the server
/// taking copy-on-write faults. Only absolute `PATH` entries are searched; with a relative one
/// (resolved against the command's directory) the name is left for `execvp`.
pub(crate) fn spawnable(program: &str, env: &[(String, String)]) -> String {
    use std::os::unix::fs::PermissionsExt;
    if program.contains('/') {
        return program.to_owned();
    }
    let Some((_, path)) = env.iter().rev().find(|(k, _)| k == "PATH") else {
        return program.to_owned();
    };
    if path.split(':').any(|d| !d.starts_with('/')) {
        return program.to_owned();
    }
    path.split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map_or_else(|| program.to_owned(), |p| p.display().to_string())
}

#[allow(
    clippy::too_many_arguments,
    reason = "the one internal spawner behind run_in_group and run_wrapped"
)]
async fn spawn_collect(
    argv: &[String],
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
    max_output: usize,
    output_limit: u64,
    stdin: Option<Vec<u8>>,
    container: Option<&(String, String)>,
) -> std::io::Result<CommandOutput> {
    let started = Instant::now();
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command line"))?;
    let mut command = tokio::process::Command::new(spawnable(program, env));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env(foreman_domain::git::CHILD_MARKER_ENV, "1")
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let pid = child.id();
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = pipe.write_all(&data).await;
            let _ = pipe.shutdown().await;
        });
    }
    let sink = Arc::new(Mutex::new(HeadTail::new(max_output)));
    let over = Arc::new(tokio::sync::Notify::new());
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(pump(
            out,
            sink.clone(),
            output_limit,
            over.clone(),
        )));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(pump(
            err,
            sink.clone(),
            output_limit,
            over.clone(),
        )));
    }
    let mut output_killed = false;
    let (exit_code, timed_out) = tokio::select! {
        status = child.wait() => (status.ok().and_then(|s| s.code()), false),
        () = tokio::time::sleep(timeout) => (None, true),
        () = over.notified() => {
            output_killed = true;
            (None, false)
        }
    };
    if timed_out || output_killed {
        if let Some(pid) = pid {
            kill_group(pid);
        }
        let _ = child.kill().await;
        if let Some((program, name)) = container {
            // Killing the CLI does not stop the container.
            let _ = tokio::process::Command::new(program)
                .args(["kill", name])
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
        }
    }
    if let Some(pid) = pid {
        kill_group(pid);
    }
    // Readers end when every writer is gone; a process that left the group could keep a
    // pipe open, so give up after a grace period.
    for r in readers {
        let abort = r.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), r)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    let sink = sink
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (mut output, truncated) = sink.render();
    if output_killed {
        output.push_str(&format!(
            "\n[killed: the command wrote more than {output_limit} bytes of output]\n"
        ));
    }
    Ok(CommandOutput {
        exit_code,
        timed_out,
        output_killed,
        output,
        total_bytes: sink.total(),
        truncated,
        duration: started.elapsed(),
    })
}

/// Runs the pipeline's configured gate commands (tests, lint, build) the way the agent's
/// commands run: isolated, with the scrubbed environment, output kept head and tail, and
/// everything killed at the timeout. A line with shell syntax (or marked `shell:`) runs through
/// `sh -c`, since these lines come from the operator's configuration; anything else is split
/// into arguments and run directly.
#[derive(Debug, Clone)]
pub struct ProcessCommandRunner {
    env: Vec<(String, String)>,
    max_output: usize,
    output_limit: u64,
    isolation: Isolation,
}

impl ProcessCommandRunner {
    /// A runner using `settings`' environment passthrough, output limit and mode, reading the
    /// environment of this process.
    #[must_use]
    pub fn new(settings: &CommandSettings) -> Self {
        let env = scrubbed_env(&settings.env_passthrough, |n| std::env::var(n).ok());
        Self::with_env(settings, env)
    }

    /// Like [`Self::new`] with an explicit environment (sensitive names are still dropped).
    #[must_use]
    pub fn with_env(settings: &CommandSettings, env: Vec<(String, String)>) -> Self {
        Self {
            env: env
                .into_iter()
                .filter(|(n, _)| !is_sensitive_env(n))
                .collect(),
            max_output: settings.max_output_bytes.max(256),
            output_limit: settings.sandbox.limits.output_bytes,
            isolation: settings.isolation(),
        }
    }

    /// The isolation gate commands run in.
    #[must_use]
    pub fn isolation(&self) -> &Isolation {
        &self.isolation
    }

    /// The argument vector a configured line runs as (before any isolation wrapping).
    ///
    /// # Errors
    /// An empty line or unbalanced quotes.
    pub fn argv(line: &str) -> Result<Vec<String>, String> {
        let t = line.trim();
        let t = t.strip_prefix("shell:").map_or(t, str::trim);
        if t.is_empty() {
            return Err("empty command".into());
        }
        if line.trim().starts_with("shell:") || shell_operator(t).is_some() {
            return Ok(vec!["sh".into(), "-c".into(), t.to_owned()]);
        }
        shlex::split(t).ok_or_else(|| "unbalanced quotes".to_owned())
    }
}

#[async_trait::async_trait]
impl foreman_domain::exec::CommandRunner for ProcessCommandRunner {
    async fn run(
        &self,
        dir: &Path,
        command: &str,
        timeout: Duration,
    ) -> Result<foreman_domain::exec::CommandOutput, foreman_domain::exec::CommandError> {
        let fail = |message: String| foreman_domain::exec::CommandError {
            command: command.to_owned(),
            message,
        };
        let argv = Self::argv(command).map_err(fail)?;
        let wrapped = self
            .isolation
            .wrap(&argv, dir, &self.env, &IsolationOptions::default())
            .map_err(|e| fail(e.to_string()))?;
        let out = run_wrapped(wrapped, timeout, self.max_output, self.output_limit, None)
            .await
            .map_err(|e| fail(e.to_string()))?;
        Ok(foreman_domain::exec::CommandOutput {
            exit_code: out.exit_code,
            output: out.output,
            timed_out: out.timed_out,
            duration_ms: u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn bare_programs_resolve_on_the_childs_path() {
        let env = |path: &str| vec![("PATH".to_owned(), path.to_owned())];
        assert_eq!(
            spawnable("sh", &env("/nonexistent:/bin:/usr/bin")),
            "/bin/sh"
        );
        assert_eq!(spawnable("./run.sh", &env("/bin")), "./run.sh");
        assert_eq!(
            spawnable("no-such-tool-here", &env("/bin")),
            "no-such-tool-here"
        );
        // a relative entry is the command directory's business
        assert_eq!(spawnable("sh", &env("bin:/bin")), "sh");
        assert_eq!(spawnable("sh", &[]), "sh");
    }
    use super::*;

    #[test]
    fn head_tail_keeps_both_ends() {
        let mut h = HeadTail::new(10);
        h.push(b"0123456789abcdefghij");
        let (s, t) = h.render();
        assert!(t);
        assert!(s.starts_with("01234"));
        assert!(s.ends_with("fghij"));
        assert!(s.contains("10 bytes of output omitted"));
        let mut small = HeadTail::new(100);
        small.push(b"abc");
        small.push(b"def");
        assert_eq!(small.render(), ("abcdef".to_owned(), false));
    }

    #[test]
    fn sensitive_names() {
        for n in [
            "ANTHROPIC_API_KEY",
            "GITHUB_TOKEN",
            "FOREMAN_DASHBOARD_TOKEN",
            "db_password",
            "AWS_REGION",
            "NPM_TOKEN",
        ] {
            assert!(is_sensitive_env(n), "{n}");
        }
        for n in ["PATH", "HOME", "LANG", "CARGO_HOME", "RUST_LOG"] {
            assert!(!is_sensitive_env(n), "{n}");
        }
    }

    #[test]
    fn rules_parse() {
        assert_eq!(
            CommandRule::parse("cargo test").unwrap(),
            CommandRule::Prefix(vec!["cargo".into(), "test".into()])
        );
        assert_eq!(
            CommandRule::parse("shell: make a && make b").unwrap(),
            CommandRule::Shell("make a && make b".into())
        );
        assert_eq!(
            CommandRule::parse("make a && make b").unwrap_err().code(),
            "invalid_command"
        );
        assert!(CommandRule::parse("  ").is_err());
    }
}
