//! Starting the real binaries.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of a binary cargo built for this workspace (`target/<profile>/<name>`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/it-<hash> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests through cargo",
        path.display()
    );
    path
}

/// An HTTP client (installs the rustls crypto provider reqwest is built to expect).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A free local port (bound and released; the server binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `foreman-server`, killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts the server on a fresh port with `data_dir`, waiting until `/api/health` answers.
    pub async fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(data_dir, extra, &[]).await
    }

    /// [`Server::start`] with further environment variables (e.g. a `HOME` of its own).
    pub async fn start_with_env(
        data_dir: &Path,
        extra: &[&str],
        envs: &[(String, String)],
    ) -> Self {
        let port = free_port();
        let child = Command::new(binary("foreman-server"))
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .env_remove("FOREMAN_CONFIG")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env("RUST_LOG", "warn")
            // Nobody reads the server's stdout: a pipe would fill at 64 KiB and freeze it.
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start foreman-server");
        let base = format!("http://127.0.0.1:{port}");
        let server = Self {
            child,
            base,
            data_dir: data_dir.to_owned(),
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/api/health", self.base);
        while Instant::now() < deadline {
            if let Ok(r) = http().get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("foreman-server did not become healthy at {url}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The admin token written on first start.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("dashboard_token"))
            .expect("dashboard_token written on first start")
            .trim()
            .to_owned()
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the `foreman` CLI to completion.
pub fn cli(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(binary("foreman"));
    cmd.args(args)
        .env_remove("FOREMAN_CONFIG")
        .env_remove("FOREMAN_URL")
        .env_remove("FOREMAN_TOKEN");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run foreman")
}

/// Runs the `foreman` CLI against `server` with its admin token and `home` as its home (so no
/// profile of the machine's is read).
pub fn cli_on(server: &Server, home: &Path, args: &[&str]) -> Output {
    let token = server.admin_token();
    let home = home.to_str().expect("a UTF-8 home");
    let config = format!("{home}/config");
    cli(
        args,
        &[
            ("FOREMAN_URL", &server.base),
            ("FOREMAN_TOKEN", &token),
            ("HOME", home),
            ("XDG_CONFIG_HOME", &config),
        ],
    )
}

/// The standard output of a CLI run that must have succeeded (its stderr in the panic if not).
pub fn stdout_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "foreman exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}
