//! The stdio transport: newline-delimited JSON-RPC over a child process's stdin and stdout,
//! the child started through the agent's [`Isolation`] (the OS sandbox by default).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use foreman_agent::isolation::find_program;
use foreman_agent::{Isolation, IsolationOptions};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::error::McpError;
use crate::protocol::{self, Incoming};
use crate::transport::{Ended, Transport};

/// Lines of stderr kept for the health's `last_error`.
const STDERR_TAIL: usize = 5;
/// Longest line (request or response) read from a server: 16 MiB.
const MAX_LINE: usize = 16 << 20;

type Stdin = Arc<tokio::sync::Mutex<ChildStdin>>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, McpError>>>>>;

/// How a stdio server is started: where, with which base environment, through which isolation.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The isolation (normally the agent's, `sandbox` mode).
    pub isolation: Isolation,
    /// The environment every server starts from (already scrubbed: no credentials); a
    /// server's configured `env` is added to it.
    pub base_env: Vec<(String, String)>,
    /// Each server gets `<state_dir>/<name>` as its working directory, the one writable host
    /// directory in the sandbox.
    pub state_dir: PathBuf,
}

/// What one stdio server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdioCommand {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Variables set for it (they pass even when their names look like credentials: the
    /// operator configured them for this server).
    pub env: Vec<(String, String)>,
    /// Keep the host's network.
    pub network: bool,
    /// Further host paths it may read.
    pub read_only: Vec<PathBuf>,
}

/// The argument vector of `command` with `args`; without `args`, `command` is a whole command
/// line split like a shell would (the older one-string form).
#[must_use]
pub fn command_argv(command: &str, args: &[String]) -> Vec<String> {
    if !args.is_empty() {
        let mut v = vec![command.to_owned()];
        v.extend(args.iter().cloned());
        return v;
    }
    shlex::split(command).unwrap_or_else(|| vec![command.to_owned()])
}

/// Resolves a bare program name on `PATH` (so the spawn can use `posix_spawn`, never `fork`).
fn resolve(program: &str, env: &[(String, String)]) -> String {
    if program.contains('/') {
        return program.to_owned();
    }
    let found = find_program(program);
    if found.contains('/') {
        return found;
    }
    env.iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .and_then(|(_, path)| {
            path.split(':')
                .filter(|d| d.starts_with('/'))
                .map(|d| Path::new(d).join(program))
                .find(|p| p.is_file())
        })
        .map_or_else(|| program.to_owned(), |p| p.display().to_string())
}

/// A running stdio server.
pub struct StdioTransport {
    stdin: Stdin,
    pending: Pending,
    next: AtomicU64,
    ended: watch::Receiver<Option<Ended>>,
    stop: CancellationToken,
}

impl std::fmt::Debug for StdioTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioTransport").finish_non_exhaustive()
    }
}

impl Drop for StdioTransport {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl StdioTransport {
    /// Starts server `name` as `cmd` through `launcher`.
    ///
    /// # Errors
    /// [`McpError::Spawn`] when the directory cannot be made, the isolation refuses (no usable
    /// `bwrap` in `sandbox` mode) or the program cannot be started.
    pub fn spawn(name: &str, cmd: &StdioCommand, launcher: &Launcher) -> Result<Self, McpError> {
        let spawn = |e: String| McpError::Spawn(e);
        if cmd.argv.is_empty() {
            return Err(spawn("empty command".into()));
        }
        let dir = launcher.state_dir.join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| spawn(format!("cannot create {}: {e}", dir.display())))?;
        let mut env = launcher.base_env.clone();
        for (k, v) in &cmd.env {
            env.retain(|(n, _)| n != k);
            env.push((k.clone(), v.clone()));
        }
        let mut argv = cmd.argv.clone();
        argv[0] = resolve(&argv[0], &env);
        let mut visible = cmd.read_only.clone();
        if let Some(parent) = std::fs::canonicalize(&argv[0])
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
        {
            visible.push(parent);
        }
        let opts = IsolationOptions {
            network: cmd.network,
            read_only: visible,
            read_write: Vec::new(),
        };
        let mut wrapped = launcher
            .isolation
            .wrap(&argv, &dir, &env, &opts)
            .map_err(|e| spawn(e.to_string()))?;
        // The isolation drops credential-like names; the ones configured for this server go
        // back in (bubblewrap passes its environment on).
        for (k, v) in &cmd.env {
            if !wrapped.env.iter().any(|(n, _)| n == k) {
                wrapped.env.push((k.clone(), v.clone()));
            }
        }
        let (program, args) = wrapped
            .argv
            .split_first()
            .ok_or_else(|| spawn("empty command".into()))?;
        let program = resolve(program, &wrapped.env);
        let mut child = tokio::process::Command::new(&program)
            .args(args)
            .current_dir(&wrapped.dir)
            .env_clear()
            .envs(wrapped.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| spawn(format!("{}: {e}", cmd.argv[0])))?;
        let stdin = child.stdin.take().ok_or_else(|| spawn("no stdin".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| spawn("no stdout".into()))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| spawn("no stderr".into()))?;
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let (tx, rx) = watch::channel(None);
        let stop = CancellationToken::new();
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stdin: Stdin = Arc::new(tokio::sync::Mutex::new(stdin));
        tokio::spawn(read_stdout(stdout, pending.clone(), stdin.clone()));
        let stderr_done = tokio::spawn(read_stderr(stderr, tail.clone(), name.to_owned()));
        let transport = Self {
            stdin,
            pending: pending.clone(),
            next: AtomicU64::new(1),
            ended: rx,
            stop: stop.clone(),
        };
        tokio::spawn(watch_child(
            child,
            wrapped,
            pending,
            tx,
            (tail, stderr_done),
            stop,
        ));
        Ok(transport)
    }

    async fn send(&self, msg: &Value) -> Result<(), McpError> {
        write_line(&self.stdin, msg).await
    }
}

#[async_trait]
impl Transport for StdioTransport {
    async fn request(&self, method: &str, params: &Value) -> Result<Value, McpError> {
        if let Some(e) = self.ended.borrow().clone() {
            return Err(McpError::Closed(e.message));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, tx);
        /// Forgets the request when its caller gives up (a timeout drops this future).
        struct Forget<'a>(&'a Pending, u64);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                self.0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&self.1);
            }
        }
        let _forget = Forget(&self.pending, id);
        self.send(&protocol::request(id, method, params)).await?;
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(McpError::Closed(
                self.ended
                    .borrow()
                    .clone()
                    .map_or_else(|| "the server stopped".into(), |e| e.message),
            )),
        }
    }

    async fn notify(&self, method: &str, params: &Value) -> Result<(), McpError> {
        self.send(&protocol::notification(method, params)).await
    }

    fn ended(&self) -> watch::Receiver<Option<Ended>> {
        self.ended.clone()
    }
}

/// Writes one message as one line.
async fn write_line(stdin: &Stdin, msg: &Value) -> Result<(), McpError> {
    let mut line = msg.to_string();
    line.push('\n');
    let mut stdin = stdin.lock().await;
    stdin
        .write_all(line.as_bytes())
        .await
        .map_err(|e| McpError::Transport(format!("cannot write to the server: {e}")))?;
    stdin
        .flush()
        .await
        .map_err(|e| McpError::Transport(format!("cannot write to the server: {e}")))
}

/// Hands each response to its waiting request and answers the server's own requests.
async fn read_stdout(stdout: tokio::process::ChildStdout, pending: Pending, stdin: Stdin) {
    let mut lines = BufReader::new(stdout);
    let mut buf = String::new();
    loop {
        buf.clear();
        match lines.read_line(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if buf.len() > MAX_LINE {
            tracing::warn!(bytes = buf.len(), "mcp server line too long; dropped");
            continue;
        }
        let Ok(msg) = serde_json::from_str::<Value>(buf.trim()) else {
            tracing::debug!(line = %buf.trim(), "mcp server wrote a line that is not JSON");
            continue;
        };
        match protocol::classify(&msg) {
            Incoming::Response(id, result) => {
                let waiter = pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&id);
                if let Some(w) = waiter {
                    let _ = w.send(result);
                }
            }
            Incoming::Request(id, method) => {
                let _ = write_line(&stdin, &protocol::answer(&id, &method)).await;
            }
            Incoming::Other => {}
        }
    }
}

async fn read_stderr(
    stderr: tokio::process::ChildStderr,
    tail: Arc<Mutex<VecDeque<String>>>,
    server: String,
) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(server = %server, line = %line, "mcp server stderr");
        let mut t = tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if t.len() == STDERR_TAIL {
            t.pop_front();
        }
        t.push_back(line.chars().take(300).collect());
    }
}

/// Waits for the child to exit (or kills it when the transport is dropped), then fails every
/// waiting request and reports the end.
async fn watch_child(
    mut child: Child,
    wrapped: foreman_agent::Wrapped,
    pending: Pending,
    ended: watch::Sender<Option<Ended>>,
    (tail, stderr_done): (Arc<Mutex<VecDeque<String>>>, tokio::task::JoinHandle<()>),
    stop: CancellationToken,
) {
    let status = tokio::select! {
        s = child.wait() => s,
        () = stop.cancelled() => {
            kill_group(&child);
            let _ = child.start_kill();
            child.wait().await
        }
    };
    drop(wrapped);
    // The last lines of stderr explain most crashes: read them before reporting (a process
    // left holding the pipe cannot hold the report up for long).
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), stderr_done).await;
    let (message, failure) = match status {
        Ok(s) if s.success() => ("exited with status 0".to_owned(), false),
        Ok(s) => (format!("exited with {s}"), true),
        Err(e) => (format!("cannot wait for the server: {e}"), true),
    };
    let tail: Vec<String> = tail
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .cloned()
        .collect();
    let message = if tail.is_empty() {
        message
    } else {
        format!("{message}; stderr: {}", tail.join(" | "))
    };
    let waiters: Vec<_> = pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .drain()
        .collect();
    for (_, w) in waiters {
        let _ = w.send(Err(McpError::Closed(message.clone())));
    }
    let _ = ended.send(Some(Ended { message, failure }));
}

/// Kills the child's process group (it was started as a group leader).
fn kill_group(child: &Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
