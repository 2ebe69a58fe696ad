//! The generated Python client (`clients/python/foreman-client`) against the real server:
//! `clients/python/tests/test_live.py` creates, lists, retries and cancels tickets and reads
//! costs through it, asserting on the typed results, against a `foreman-server` with a fresh
//! SQLite database, or a PostgreSQL schema of its own (`FOREMAN_TEST_POSTGRES_URL`; required
//! under CI), and its daemon off (so the tickets stay `queued` until cancelled).
//!
//! It needs `python3` with httpx and attrs (`.ci/run` installs them, pinned). Without them the
//! test is skipped with a note, except when `CI` is set: there it fails and says what is missing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_python_client_drives_a_live_server_on_sqlite() {
    drive(None);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_client_drives_a_live_server_on_postgres() {
    if !python_ready() {
        return;
    }
    let Some(schema) = foreman_testkit::pg::TestSchema::create("python_client").await else {
        return;
    };
    let config = format!(
        "[database]\ndriver = \"postgres\"\nurl = \"{}\"\n",
        schema.url()
    );
    tokio::task::spawn_blocking(move || drive(Some(config)))
        .await
        .unwrap();
    schema.drop_schema().await;
}

/// Whether python3 with the client's dependencies is there; `false` (with a note) skips the
/// test, which fails instead under `CI`.
fn python_ready() -> bool {
    match python_with_client_deps() {
        Ok(()) => true,
        Err(missing) => {
            assert!(
                !ci(),
                "CI is set, so the Python client's test is required: {missing}"
            );
            eprintln!("skipped: {missing} (the test is required when CI is set)");
            false
        }
    }
}

/// Starts a server (SQLite in its data directory, or the database of `config`) and runs
/// `test_live.py` against it, which must pass.
fn drive(config: Option<String>) {
    let root = workspace_root();
    if !python_ready() {
        return;
    }
    let package = root.join("clients/python/foreman-client");
    assert!(
        package.join("foreman_client/__init__.py").exists(),
        "{} holds no generated client: run `cargo xtask codegen`",
        package.display()
    );

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut args = Vec::new();
    if let Some(config) = config {
        let path = dir.path().join("foreman.toml");
        std::fs::write(&path, config).unwrap();
        args.push("--config".to_owned());
        args.push(path.to_str().unwrap().to_owned());
    }
    let server = Server::start(&data, &args);
    let token = std::fs::read_to_string(data.join("dashboard_token"))
        .expect("the server writes dashboard_token on first start")
        .trim()
        .to_owned();

    let out = Command::new("python3")
        .arg(root.join("clients/python/tests/test_live.py"))
        .current_dir(&root)
        .env("PYTHONPATH", &package)
        // no __pycache__ inside the committed client
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("FOREMAN_URL", format!("http://127.0.0.1:{}", server.port))
        .env("FOREMAN_TOKEN", &token)
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "test_live.py exited with {}:\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "test_live.py ran no test:\n{stdout}\n{stderr}"
    );
    eprintln!("{stderr}{stdout}");
}

fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// `Ok` when `python3` runs and imports the client's dependencies; otherwise what is missing.
fn python_with_client_deps() -> Result<(), String> {
    let version = Command::new("python3")
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run python3 ({e})"))?;
    if !version.status.success() {
        return Err("`python3 --version` failed".to_owned());
    }
    let deps = Command::new("python3")
        .args(["-c", "import httpx, attrs"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .map_err(|e| format!("cannot run python3 ({e})"))?;
    if !deps.status.success() {
        return Err(format!(
            "python3 cannot import the client's dependencies ({}); install them with `python3 -m pip install httpx==0.28.1 attrs==26.1.0`",
            String::from_utf8_lossy(&deps.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_owned()
}

/// Path of a binary cargo built for this workspace (`target/<profile>/<name>`).
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/python_client-<hash> → target/<profile>/<name>
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory")
        .join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests through cargo",
        path.display()
    );
    path
}

/// A `foreman-server` with its daemon off, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(data: &Path, args: &[String]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary("foreman-server"))
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(data)
            .args(args)
            .env_remove("FOREMAN_CONFIG")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env("FOREMAN_DAEMON_ENABLED", "false")
            .env("RUST_LOG", "warn")
            // Nobody reads the server's stdout: a pipe would fill at 64 KiB and freeze it.
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start foreman-server");
        let mut server = Self { child, port };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("foreman-server exited with {status} before it was healthy");
            }
            if health_ok(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "foreman-server did not answer /api/health on port {}",
            self.port
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `GET /api/health` answers 200.
fn health_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}
