//! `cargo xtask fuzz`: property-based fuzzing of every operation of the served OpenAPI document
//! with schemathesis, against a real `foreman-server` (the debug binary `cargo xtask ci` builds)
//! on a temporary SQLite database with the scripted provider.
//!
//! 1. The server runs the demo (`--demo`) until its ticket is finished, so the database holds
//!    a ticket with tasks, events, LLM calls and a pull request for the responses to show.
//! 2. It is restarted on the same database with the daemon off (tickets the fuzzer creates stay
//!    queued) and the rate limits off (a 429 would stop the fuzzer from reaching the handlers).
//! 3. An admin token is created for the fuzzer; a schemathesis hook keeps
//!    `DELETE /api/tokens/{id}` away from that token's id (the route itself is fuzzed), and the
//!    token must still work after the run, or the run tested nothing but 401s.
//!    `POST /api/daemon/stop` is the one operation left out ([`NOT_FUZZED`]): it would end the
//!    server under test.
//! 4. `st run` generates valid and invalid requests for every operation for a time budget
//!    (examples, coverage, fuzzing and stateful phases) with the checks in [`CHECKS`]. Any
//!    failure fails the command, as does a caught panic in the server's log or a server that
//!    died.
//!
//! Schemathesis comes from PyPI (`pip install schemathesis==4.32.5`; `.ci/run` installs it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The schemathesis release the fuzzer is run with (`.ci/run` installs this one).
pub(crate) const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// The one operation left out: `POST /api/daemon/stop` ends the server under test (its
/// answers and its scope are covered by the API's tests and the CLI's end-to-end test).
const NOT_FUZZED: &str = "/api/daemon/stop";

/// What every response is checked for.
const CHECKS: &[&str] = &[
    // no 5xx, whatever the input
    "not_a_server_error",
    // every status the server answers is documented for the operation
    "status_code_conformance",
    // every content type is documented for the status
    "content_type_conformance",
    // every body matches the documented schema (each event of an event stream too)
    "response_schema_conformance",
    // input that violates the schema gets a 4xx
    "negative_data_rejection",
    // an operation that needs a token refuses requests without one
    "ignored_auth",
];

/// Default time budget of the fuzzing run, in seconds (at least three minutes).
const DEFAULT_MAX_TIME: u64 = 200;

/// Runs the fuzzer; `args` are the command's flags (`--max-time SECS`, `--seed N`, `--keep`,
/// `--server PATH`).
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let options = Options::parse(args)?;
    let st = schemathesis()?;
    let server = match &options.server {
        Some(path) => path.clone(),
        None => {
            // the binaries `cargo xtask ci` built before the test suite (nothing to do there)
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let built = Command::new(cargo)
                .args(["build", "--workspace", "--bins", "--locked"])
                .status()
                .context("cannot run cargo build")?;
            if !built.success() {
                bail!("cargo build --workspace --bins failed with {built}");
            }
            root.join("target/debug/foreman-server")
        }
    };
    let work = Workdir::new(options.keep)?;
    let data = work.path.join("data");
    let started = Instant::now();

    println!("\n== fuzz: seed the database (demo ticket)");
    let port = free_port()?;
    let mut seed = Server::start(&server, &data, port, &work.path.join("seed.log"), &[])?;
    let admin = std::fs::read_to_string(data.join("dashboard_token"))
        .context("the server wrote no dashboard_token")?
        .trim()
        .to_owned();
    let ticket = wait_for_demo(port, &admin)?;
    println!("fuzz: demo ticket is {ticket}");
    seed.stop()?;

    println!("\n== fuzz: serve the API only (daemon and rate limits off)");
    let port = free_port()?;
    let log = work.path.join("server.log");
    let mut served = Server::start(
        &server,
        &data,
        port,
        &log,
        &[
            ("FOREMAN_DAEMON_ENABLED", "false"),
            ("FOREMAN_DASHBOARD_REQUESTS_PER_MINUTE", "0"),
            ("FOREMAN_DASHBOARD_WRITE_REQUESTS_PER_MINUTE", "0"),
        ],
    )?;
    let (token_id, token) = create_token(port, &admin)?;
    std::fs::write(work.path.join("fuzz_hooks.py"), hooks(&token_id))?;

    println!(
        "\n== fuzz: schemathesis {SCHEMATHESIS_VERSION}, {} s, checks {}",
        options.max_time,
        CHECKS.join(",")
    );
    let mut cmd = Command::new(&st);
    cmd.current_dir(&work.path)
        .env("SCHEMATHESIS_HOOKS", "fuzz_hooks")
        .env("PYTHONPATH", &work.path)
        .args(["run", &format!("http://127.0.0.1:{port}/api/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", &CHECKS.join(",")])
        .args(["--max-time", &options.max_time.to_string()])
        .args(["--request-timeout", "10"])
        .args(["--wait-for-schema", "30"])
        .args(["--exclude-path", NOT_FUZZED]);
    if let Some(seed) = &options.seed {
        cmd.args(["--seed", seed]);
    }
    println!("\n$ {cmd:?}");
    let fuzzed = cmd.status().context("cannot run st").and_then(|status| {
        if status.success() {
            Ok(())
        } else {
            bail!("st exited with {status}")
        }
    });

    // afterwards, whatever the verdict: the server is alive, nothing panicked, and the token
    // the fuzzer used was never revoked
    let mut problems = Vec::new();
    if let Err(e) = fuzzed {
        problems.push(format!("schemathesis reported failures ({e:#})"));
    }
    if let Some(status) = served.child.try_wait()? {
        problems.push(format!("the server exited during the run ({status})"));
    } else {
        match http(port, "GET", "/api/tokens", Some(&token), None) {
            Ok((200, _)) => {}
            Ok((status, body)) => problems.push(format!(
                "the fuzzer's token stopped working ({status}: {body}); the run tested 401s"
            )),
            Err(e) => problems.push(format!("the server stopped answering: {e:#}")),
        }
    }
    served.stop()?;
    let server_log = std::fs::read_to_string(&log).unwrap_or_default();
    // the panic hook's line, whether the catch-panic layer answered a 500 or (without the
    // layer) the connection was dropped
    let panics = server_log
        .lines()
        .filter(|l| l.contains(" panicked at ") || l.contains("request handler panicked"))
        .count();
    if panics > 0 {
        problems.push(format!(
            "the server's log has {panics} panic line(s); see {}",
            log.display()
        ));
    }
    println!(
        "\nfuzz: finished in {:.0} s (server log: {})",
        started.elapsed().as_secs_f64(),
        log.display()
    );
    if !problems.is_empty() {
        work.keep();
        bail!("fuzz failed:\n- {}", problems.join("\n- "));
    }
    println!("fuzz: no failures");
    Ok(())
}

/// The command's flags.
struct Options {
    max_time: u64,
    seed: Option<String>,
    keep: bool,
    /// Another server binary (a release build, an older one) instead of the debug build.
    server: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self> {
        let mut options = Self {
            max_time: DEFAULT_MAX_TIME,
            seed: None,
            keep: false,
            server: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--max-time" => {
                    options.max_time = args
                        .next()
                        .and_then(|v| v.parse().ok())
                        .context("--max-time takes a number of seconds")?;
                }
                "--seed" => {
                    options.seed = Some(args.next().context("--seed takes a number")?.clone())
                }
                "--keep" => options.keep = true,
                "--server" => {
                    options.server = Some(PathBuf::from(
                        args.next()
                            .context("--server takes the path of a foreman-server")?,
                    ));
                }
                other => bail!(
                    "unknown flag {other:?}; usage: cargo xtask fuzz [--max-time SECS] [--seed N] [--keep] [--server PATH]"
                ),
            }
        }
        Ok(options)
    }
}

/// The `st` command of the pinned schemathesis release.
fn schemathesis() -> Result<PathBuf> {
    let hint = format!(
        "the fuzzer needs schemathesis {SCHEMATHESIS_VERSION}: `python3 -m pip install schemathesis=={SCHEMATHESIS_VERSION}`"
    );
    let out = Command::new("st")
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run `st`; {hint}"))?;
    let version = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !version.contains(SCHEMATHESIS_VERSION) {
        bail!("`st --version` says {:?}; {hint}", version.trim());
    }
    Ok(PathBuf::from("st"))
}

/// The schemathesis hook that keeps token revocation away from the fuzzer's own token.
fn hooks(token_id: &str) -> String {
    format!(
        r#""""Hooks of `cargo xtask fuzz` (written by xtask/src/fuzz.rs)."""

import schemathesis

# The token the fuzzer authenticates with: revoking it would leave nothing but 401s to test.
OWN_TOKEN_ID = {token_id:?}
# Any id that is not the fuzzer's: revoking it answers 404, or revokes a token the fuzzer made.
STAND_IN = "00000000-0000-7000-8000-000000000000"


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.operation.method.upper() != "DELETE" or case.operation.path != "/api/tokens/{{id}}":
        return
    params = case.path_parameters or {{}}
    if str(params.get("id", "")).strip() == OWN_TOKEN_ID:
        params["id"] = STAND_IN
        case.path_parameters = params
"#
    )
}

/// A temporary directory, removed on drop unless kept.
struct Workdir {
    path: PathBuf,
    keep: std::cell::Cell<bool>,
}

impl Workdir {
    fn new(keep: bool) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("foreman-fuzz-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(Self {
            path,
            keep: std::cell::Cell::new(keep),
        })
    }

    /// Keeps the directory (its logs) after a failure.
    fn keep(&self) {
        self.keep.set(true);
        println!("fuzz: kept {}", self.path.display());
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if !self.keep.get() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A `foreman-server --demo` child, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(
        binary: &Path,
        data: &Path,
        port: u16,
        log: &Path,
        env: &[(&str, &str)],
    ) -> Result<Self> {
        let out = std::fs::File::create(log)?;
        let child = Command::new(binary)
            .args([
                "--demo",
                "--log-format",
                "json",
                "--port",
                &port.to_string(),
            ])
            .arg("--data-dir")
            .arg(data)
            .env_remove("FOREMAN_CONFIG")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = http(port, "GET", "/api/health", None, None) {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "foreman-server exited at start ({status}); see {}",
                    log.display()
                );
            }
            if Instant::now() > deadline {
                server.stop()?;
                bail!("foreman-server did not answer /api/health within 60 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then SIGKILL after 30 s.
    fn stop(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        println!(
            "fuzz: the server on port {} ignored SIGTERM; killing it",
            self.port
        );
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until the demo ticket is in a final status (at most three minutes); returns it.
fn wait_for_demo(port: u16, token: &str) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, body) = http(port, "GET", "/api/tickets", Some(token), None)?;
        if status != 200 {
            bail!("GET /api/tickets answered {status}: {body}");
        }
        let tickets: serde_json::Value = serde_json::from_str(&body)?;
        let statuses: Vec<&str> = tickets
            .as_array()
            .map(|a| a.iter().filter_map(|t| t["status"].as_str()).collect())
            .unwrap_or_default();
        if let Some(done) = statuses
            .iter()
            .find(|s| ["merged", "failed", "blocked", "partial", "pr_closed"].contains(s))
        {
            return Ok((*done).to_owned());
        }
        if Instant::now() > deadline {
            println!("fuzz: the demo ticket is still {statuses:?} after 180 s; fuzzing anyway");
            return Ok(statuses.first().copied().unwrap_or("missing").to_owned());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Creates the fuzzer's admin token; returns its id and secret.
fn create_token(port: u16, admin: &str) -> Result<(String, String)> {
    let (status, body) = http(
        port,
        "POST",
        "/api/tokens",
        Some(admin),
        Some(r#"{"name": "fuzzer", "scopes": ["admin"]}"#),
    )?;
    if status != 201 {
        bail!("POST /api/tokens answered {status}: {body}");
    }
    let v: serde_json::Value = serde_json::from_str(&body)?;
    match (v["id"].as_str(), v["token"].as_str()) {
        (Some(id), Some(token)) => Ok((id.to_owned(), token.to_owned())),
        _ => bail!("POST /api/tokens answered without id and token: {body}"),
    }
}

/// A free port on the loopback interface (bound, then released for the server).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One HTTP/1.1 request on its own connection; the status and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(b) = body {
        stream.write_all(b.as_bytes())?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("an HTTP response without a head")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let rest = &raw[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("an HTTP response without a status")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The payload of a chunked body.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..eol]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let data = &rest[eol + 2..];
        if n == 0 || data.len() < n {
            break;
        }
        out.extend_from_slice(&data[..n]);
        rest = data[n..].strip_prefix(b"\r\n").unwrap_or(&data[n..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"),
            b"Wikipedia"
        );
    }

    #[test]
    fn the_hook_names_the_fuzzers_token() {
        let h = hooks("01a2");
        assert!(h.contains("OWN_TOKEN_ID = \"01a2\""), "{h}");
        assert!(h.contains("\"/api/tokens/{id}\""), "{h}");
    }

    #[test]
    fn flags_parse() {
        let o = Options::parse(&["--max-time".into(), "30".into(), "--keep".into()]).unwrap();
        assert_eq!(o.max_time, 30);
        assert!(o.keep && o.seed.is_none());
        assert!(Options::parse(&["--fast".into()]).is_err());
    }
}
