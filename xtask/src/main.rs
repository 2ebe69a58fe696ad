//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! Commands:
//! - `ci`: everything CI checks (fmt, tidy, the dashboard's checks, unit tests and build,
//!   clippy, `cargo doc` without warnings, codegen drift, the whole test suite on SQLite and
//!   PostgreSQL, the API fuzzer, the dashboard's end-to-end tests, cargo-deny when installed).
//! - `fuzz [--max-time SECS] [--seed N] [--keep] [--server PATH]`: property-based fuzzing of
//!   every operation of the served OpenAPI document with schemathesis against the debug server
//!   or the one given (`fuzz.rs`); part of `ci`.
//! - `codegen [--check]`: rewrites `docs/openapi.json` from the API's spec, the dashboard's
//!   `web/src/lib/api/schema.d.ts` from it, and the Python client `clients/python/foreman-client`
//!   from it (`python_client.rs`; `--check` fails on drift instead). `--python-only`: the
//!   Python client alone, from the `docs/openapi.json` on disk (no server build).
//! - `tidy`: architecture invariants checked over `cargo metadata`.
//! - `bench store|api|llm|git|pipeline|sandbox|search|ops`: runs a benchmark; results are
//!   recorded in `docs/benchmarks.md`.
//! - `web`: installs the dashboard's npm packages from the lockfile and builds `web/dist`, which
//!   the next `cargo build -p foreman-server` embeds.
//! - `run [-- ARGS]`: builds the dashboard (when Node.js is installed) and runs `foreman-server
//!   ARGS`; without ARGS and without an LLM API key in the environment, `--demo`.
//!
//! The dashboard's steps need Node.js 20.19+ and npm, the Python client's the pinned
//! openapi-python-client and ruff from PyPI. Without them they are skipped with a note, except
//! when `CI` is set: there they are required.

mod fuzz;
mod imports;
mod python_client;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("codegen") if args.iter().any(|a| a == "--python-only") => {
            python_client::codegen(&root, args.iter().any(|a| a == "--check"))
        }
        Some("codegen") => codegen(&root, args.iter().any(|a| a == "--check")),
        Some("fuzz") => fuzz::run(&root, &args[1..]),
        Some("tidy") => {
            let mut problems = tidy::check(&root)?;
            problems.extend(imports::check(&root)?);
            if problems.is_empty() {
                println!("tidy: ok");
                Ok(())
            } else {
                bail!("tidy found problems:\n{}", problems.join("\n"))
            }
        }
        Some("bench") => bench(args.get(1).map(String::as_str)),
        Some("web") => web(&root),
        Some("run") => run_server(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | codegen [--check] [--python-only] | fuzz [--max-time SECS] [--seed N] [--keep] [--server PATH] | tidy | bench <store|api|llm|git|pipeline|sandbox|search|ops> | web | run [-- SERVER_ARGS]>"
            );
            std::process::exit(2)
        }
    }
}

/// Builds the dashboard (`npm ci` when `node_modules` is missing or older than the lockfile,
/// then `npm run build`).
fn web(root: &Path) -> Result<()> {
    node_version()?;
    web_install(root)?;
    web_step(root, "build", &["run", "build"])?;
    println!("web: built web/dist; `cargo build -p foreman-server` embeds it");
    Ok(())
}

/// `npm` in `web/`.
fn npm(root: &Path) -> Command {
    let mut c = Command::new("npm");
    c.current_dir(root.join("web"));
    c
}

/// Runs `npm ARGS` in `web/` under a `== web: NAME` header and reports how long it took.
fn web_step(root: &Path, name: &str, args: &[&str]) -> Result<()> {
    web_step_with(root, name, npm(root).args(args))
}

fn web_step_with(root: &Path, name: &str, cmd: &mut Command) -> Result<()> {
    println!("\n== web: {name}");
    let start = Instant::now();
    run(cmd).with_context(|| format!("web: {name} failed (in {})", root.join("web").display()))?;
    println!("web: {name} took {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// `npm ci` when `node_modules` is missing or older than `package-lock.json`.
fn web_install(root: &Path) -> Result<()> {
    let web = root.join("web");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let stale = match (
        modified(&web.join("node_modules/.package-lock.json")),
        modified(&web.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    };
    if stale {
        web_step(root, "npm ci", &["ci", "--no-audit", "--no-fund"])
    } else {
        println!(
            "\n== web: npm ci\nweb: node_modules is up to date with package-lock.json; skipped"
        );
        Ok(())
    }
}

/// The installed Node.js version, checked against the dashboard's minimum (20.19); an error
/// when `node` or `npm` cannot be run or Node.js is too old.
fn node_version() -> Result<String> {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .context("cannot run `node`: the dashboard needs Node.js 20.19 or newer and npm")?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let parts: Vec<u32> = version
        .trim_start_matches('v')
        .split('.')
        .map_while(|p| p.parse().ok())
        .collect();
    let (major, minor) = (
        parts.first().copied().unwrap_or(0),
        parts.get(1).copied().unwrap_or(0),
    );
    if !out.status.success() || (major, minor) < (20, 19) {
        bail!("the dashboard needs Node.js 20.19 or newer; `node --version` says {version:?}");
    }
    let npm_ok = Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !npm_ok {
        bail!("cannot run `npm`: the dashboard needs npm beside Node.js {version}");
    }
    Ok(version)
}

/// Whether the dashboard's steps run: yes when Node.js and npm are usable; when they are not,
/// an error under `CI` (the steps are required there) and a note otherwise.
fn web_enabled() -> Result<bool> {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    match node_version() {
        Ok(version) => {
            println!("\nweb: Node.js {version}");
            Ok(true)
        }
        Err(e) if ci => Err(e.context("CI is set, so the dashboard's checks are required")),
        Err(e) => {
            println!(
                "\n== web: skipped\nweb: {e:#}; skipping the dashboard's checks, build and end-to-end tests (they are required when CI is set)"
            );
            Ok(false)
        }
    }
}

/// `cargo xtask run [-- ARGS]`: builds the dashboard when Node.js is installed, then runs
/// `foreman-server ARGS` through cargo (`--demo` when no ARGS are given and no LLM API key is
/// in the environment).
fn run_server(root: &Path, args: &[String]) -> Result<()> {
    let args = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    match node_version() {
        Ok(_) => web(root)?,
        Err(e) => println!(
            "run: {e:#}; starting the server without a fresh dashboard build (it serves the last embedded one, or a page that says how to build it)"
        ),
    }
    ensure_bubblewrap();
    let mut server_args: Vec<String> = args.to_vec();
    if server_args.is_empty() && !has_llm_key() {
        println!("run: no ANTHROPIC_API_KEY or OPENAI_API_KEY set; starting the demo (--demo)");
        server_args.push("--demo".to_owned());
    }
    let mut cmd = cargo();
    cmd.args(["run", "-p", "foreman-server", "--"])
        .args(&server_args);
    println!("\n$ {cmd:?}");
    #[cfg(unix)]
    {
        // Hand the terminal over to cargo (which in turn execs the server), so Ctrl-C reaches
        // the server alone and its graceful shutdown finishes before the prompt returns.
        use std::os::unix::process::CommandExt as _;
        let err = cmd.exec();
        Err(anyhow::Error::new(err).context("cannot start cargo run -p foreman-server"))
    }
    #[cfg(not(unix))]
    {
        let status = cmd
            .status()
            .context("cannot start cargo run -p foreman-server")?;
        if !status.success() {
            bail!("foreman-server exited with {status}");
        }
        Ok(())
    }
}

/// Installs bubblewrap (the OS sandbox worktree commands run in) when it is missing and this is
/// Debian or Ubuntu run as root; otherwise says in one line how to install it.
fn ensure_bubblewrap() {
    let found = |p: &str| Command::new(p).arg("--version").output().is_ok();
    if found("bwrap") {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root && Path::new("/usr/bin/apt-get").exists() {
        println!("run: installing bubblewrap (the OS sandbox for worktree commands)");
        let installed = Command::new("sh")
            .args([
                "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null",
            ])
            .status()
            .is_ok_and(|s| s.success());
        if installed && found("bwrap") {
            return;
        }
    }
    println!(
        "run: bubblewrap is not installed, so worktree commands are refused (the demo runs them unisolated); install it with `apt-get install bubblewrap` (Debian, Ubuntu) or `dnf install bubblewrap` (Fedora)"
    );
}

fn has_llm_key() -> bool {
    ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    println!("\n$ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn ci(root: &Path) -> Result<()> {
    ensure_postgres();
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    let mut problems = tidy::check(root)?;
    problems.extend(imports::check(root)?);
    if !problems.is_empty() {
        bail!("tidy found problems:\n{}", problems.join("\n"));
    }
    // The dashboard is checked and built before any Rust is compiled, so every build below
    // (clippy, codegen, the tests) embeds this `web/dist` and none has to be redone for it.
    let web = web_enabled()?;
    if web {
        web_install(root)?;
        web_step(root, "gen:check", &["run", "gen:check"])?;
        web_step(root, "check", &["run", "check"])?;
        web_step(root, "test", &["test"])?;
        web_step(root, "build", &["run", "build"])?;
    }
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    // Each adapter family is a cargo feature (docs/architecture.md, "Cargo features"); the
    // library crates must also build with one family on, as an embedder takes them. Two runs
    // are unit tests, whose refusal of a left-out backend or provider only exists there.
    for (command, package, features) in [
        ("test", "foreman-store", "sqlite"),
        ("check", "foreman-store", "postgres"),
        ("test", "foreman-llm", ""),
        ("check", "foreman-llm", "anthropic"),
        ("check", "foreman-llm", "openai"),
        ("check", "foreman-git", "github"),
        ("check", "foreman-git", "gitlab"),
        ("check", "foreman-tracker", "github"),
        ("check", "foreman-tracker", "gitlab"),
        ("check", "foreman-tracker", "jira"),
        ("check", "foreman-tracker", "linear"),
        ("check", "foreman-server", "sqlite"),
    ] {
        let mut check = cargo();
        check.args([command, "--locked", "-p", package, "--no-default-features"]);
        if !features.is_empty() {
            check.args(["--features", features]);
        }
        if command == "test" {
            check.arg("--lib");
        }
        run(&mut check)?;
    }
    // Clippy above denies `missing_docs`; this denies broken or private intra-doc links.
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    codegen_openapi(root, true)?;
    python_client::codegen(root, true)?;
    // The end-to-end tests run the workspace's binaries (foreman-server, foreman); nextest
    // only builds the binaries of the package under test, so build them all first.
    run(cargo().args(["build", "--workspace", "--bins", "--locked"]))?;
    let mut test = cargo();
    test.args([
        "nextest",
        "run",
        "--workspace",
        "--locked",
        "--no-fail-fast",
    ]);
    if std::env::var_os("FOREMAN_TEST_POSTGRES_URL").is_none() {
        test.env(
            "FOREMAN_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        );
    }
    run(&mut test)?;
    // Every operation of the served OpenAPI document, fuzzed against the binary built above.
    fuzz::run(root, &[])?;
    // The embedding example (docs/architecture.md, "Embedding Foreman") takes a ticket to a
    // merged pull request; it exits non-zero when that stops working.
    run(cargo().args([
        "run",
        "-p",
        "foreman-examples",
        "--example",
        "embed",
        "--locked",
    ]))?;
    run(cargo().args(["test", "--workspace", "--doc", "--locked"]))?;
    if web {
        // The tests above built target/debug/foreman-server with web/dist embedded; the suite
        // uses that binary and this build instead of making either again.
        web_step_with(
            root,
            "e2e",
            npm(root)
                .args(["run", "e2e"])
                .env("FOREMAN_E2E_SKIP_BUILD", "1"),
        )?;
    }
    if Command::new("cargo-deny").arg("--version").output().is_ok() {
        run(cargo().args(["deny", "--offline", "check", "licenses", "bans", "sources"]))?;
    } else {
        println!("\ncargo-deny is not installed; skipping licence and source checks");
    }
    println!("\nci: all checks passed");
    Ok(())
}

/// Starts the local PostgreSQL cluster when it is installed but not running, so the database
/// tests have a server (they fail under `CI=true` without one).
fn ensure_postgres() {
    let ready = || {
        Command::new("pg_isready")
            .args(["-h", "127.0.0.1", "-p", "5432", "-q"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready() {
        return;
    }
    let Ok(versions) = std::fs::read_dir("/etc/postgresql") else {
        return;
    };
    for v in versions.flatten() {
        let _ = Command::new("pg_ctlcluster")
            .args([
                "--skip-systemctl-redirect",
                &v.file_name().to_string_lossy(),
                "main",
                "start",
            ])
            .status();
    }
    for _ in 0..30 {
        if ready() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// `docs/openapi.json` from the server, then the dashboard's types from it (`npm run gen`, or
/// `npm run gen:check` with `check`) and the Python client (`python_client.rs`).
fn codegen(root: &Path, check: bool) -> Result<()> {
    codegen_openapi(root, check)?;
    if web_enabled()? {
        web_install(root)?;
        if check {
            web_step(root, "gen:check", &["run", "gen:check"])?;
        } else {
            web_step(root, "gen", &["run", "gen"])?;
        }
    }
    python_client::codegen(root, check)
}

/// `docs/openapi.json` from `foreman-server openapi` (`check`: fail on drift instead).
fn codegen_openapi(root: &Path, check: bool) -> Result<()> {
    let out = cargo()
        .args([
            "run",
            "--quiet",
            "--locked",
            "-p",
            "foreman-server",
            "--",
            "openapi",
        ])
        .output()
        .context("cannot run foreman-server openapi")?;
    if !out.status.success() {
        bail!(
            "foreman-server openapi failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let spec = String::from_utf8(out.stdout)?;
    let path = root.join("docs/openapi.json");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if check {
        if current != spec {
            bail!("docs/openapi.json is out of date: run `cargo xtask codegen` and commit it");
        }
        println!("codegen: docs/openapi.json is up to date");
    } else if current == spec {
        println!("codegen: docs/openapi.json unchanged");
    } else {
        std::fs::write(&path, spec)?;
        println!("codegen: wrote docs/openapi.json");
    }
    Ok(())
}

fn bench(which: Option<&str>) -> Result<()> {
    let pg = std::env::var("FOREMAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut cmd = cargo();
    match which {
        Some("store") => cmd.args(["bench", "-p", "foreman-store", "--bench", "store"]),
        Some("api") => cmd.args(["bench", "-p", "foreman-api", "--bench", "api"]),
        Some("llm") => cmd.args(["bench", "-p", "foreman-llm"]),
        Some("git") => cmd.args(["bench", "-p", "foreman-git"]),
        Some("sandbox") => cmd.args(["bench", "-p", "foreman-agent", "--bench", "sandbox"]),
        Some("search") => cmd.args(["bench", "-p", "foreman-store", "--bench", "search"]),
        // `POST /api/llm/usage` in batches of 500, and the store's `ingest_usage` alone.
        Some("usage") => cmd.args(["bench", "-p", "foreman-api", "--bench", "usage_ingest"]),
        Some("ops") => {
            // Submission, batch, search and `logs --follow` against a release server process.
            run(cargo().args(["build", "--release", "-p", "foreman-server"]))?;
            let bin = project_root().join("target/release/foreman-server");
            cmd.env("FOREMAN_SERVER_BIN", bin).args([
                "bench",
                "-p",
                "foreman-api",
                "--bench",
                "ops",
            ])
        }
        Some("pipeline") => {
            // The benchmark drives a release server as a separate process.
            run(cargo().args(["build", "--release", "-p", "foreman-server"]))?;
            let bin = project_root().join("target/release/foreman-server");
            cmd.env("FOREMAN_SERVER_BIN", bin).args([
                "bench",
                "-p",
                "foreman-e2e",
                "--bench",
                "pipeline",
            ])
        }
        _ => bail!("usage: cargo xtask bench <store|api|llm|git|pipeline|sandbox|search|ops>"),
    };
    run(cmd.env("FOREMAN_TEST_POSTGRES_URL", pg))
}
