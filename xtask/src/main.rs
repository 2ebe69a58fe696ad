//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! Commands:
//! - `ci`: everything CI checks (fmt, clippy, tidy, codegen drift, the whole test suite on
//!   SQLite and PostgreSQL, cargo-deny when installed).
//! - `codegen [--check]`: rewrites `docs/openapi.json` from the API's spec (`--check` fails on
//!   drift instead).
//! - `tidy`: architecture invariants checked over `cargo metadata`.
//! - `bench store|api|llm|git`: runs a benchmark; results are recorded in `docs/benchmarks.md`.
//! - `web`: installs the dashboard's npm packages from the lockfile and builds `web/dist`, which
//!   the next `cargo build -p foreman-server` embeds.

mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("codegen") => codegen(&root, args.iter().any(|a| a == "--check")),
        Some("tidy") => {
            let problems = tidy::check(&root)?;
            if problems.is_empty() {
                println!("tidy: ok");
                Ok(())
            } else {
                bail!("tidy found problems:\n{}", problems.join("\n"))
            }
        }
        Some("bench") => bench(args.get(1).map(String::as_str)),
        Some("web") => web(&root),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | codegen [--check] | tidy | bench <store|api|llm|git> | web>"
            );
            std::process::exit(2)
        }
    }
}

/// Builds the dashboard (`npm ci` when `node_modules` is missing or older than the lockfile,
/// then `npm run build`).
fn web(root: &Path) -> Result<()> {
    let web = root.join("web");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let stale = match (
        modified(&web.join("node_modules/.package-lock.json")),
        modified(&web.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    };
    let npm = || {
        let mut c = Command::new("npm");
        c.current_dir(&web);
        c
    };
    if stale {
        run(npm().arg("ci"))
            .context("installing the dashboard's packages needs Node.js 20.19 or newer and npm")?;
    }
    run(npm().args(["run", "build"]))?;
    println!("web: built web/dist; `cargo build -p foreman-server` embeds it");
    Ok(())
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
    let problems = tidy::check(root)?;
    if !problems.is_empty() {
        bail!("tidy found problems:\n{}", problems.join("\n"));
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
    codegen(root, true)?;
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
    run(cargo().args(["test", "--workspace", "--doc", "--locked"]))?;
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

fn codegen(root: &Path, check: bool) -> Result<()> {
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
        _ => bail!("usage: cargo xtask bench <store|api|llm|git>"),
    };
    run(cmd.env("FOREMAN_TEST_POSTGRES_URL", pg))
}
