//! What this machine offers the sandbox: the programs it runs, whether `bwrap` can create its
//! namespaces, and whether `sh`'s `ulimit` sets the limits exactly.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

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

/// Whether `program` runs `true` in the sandbox's namespaces, probed once per program and
/// process.
pub(super) fn probe_bwrap(program: &str) -> SandboxState {
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

/// Whether the shell `sh` sets resource limits the way the launcher's script expects (POSIX
/// `ulimit`: `-t` CPU seconds, `-f` 512-byte blocks, `-v` KiB of address space, `-c` core
/// blocks, soft and hard limit both), checked once per shell and process by reading the limits
/// back from `/proc/self/limits` of a program it starts. Shells that differ get `prlimit`.
pub(super) fn shell_applies_limits(sh: &str) -> bool {
    static CHECKED: OnceLock<Mutex<Vec<(String, bool)>>> = OnceLock::new();
    let checked = CHECKED.get_or_init(|| Mutex::new(Vec::new()));
    let mut checked = checked
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, ok)) = checked.iter().find(|(s, _)| s == sh) {
        return *ok;
    }
    let ok = std::process::Command::new(sh)
        .args([
            "-c",
            "ulimit -c 0 && ulimit -t 7 && ulimit -f 3 && ulimit -v 1048576 && exec cat /proc/self/limits",
        ])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| {
            let text = String::from_utf8_lossy(&o.stdout);
            [
                ("Max cpu time", "7"),
                ("Max file size", "1536"),
                ("Max core file size", "0"),
                ("Max address space", "1073741824"),
            ]
            .iter()
            .all(|(name, value)| limit_is(&text, name, value))
        });
    checked.push((sh.to_owned(), ok));
    ok
}

/// Whether `/proc/<pid>/limits` text sets both the soft and the hard limit `name` to `value`.
fn limit_is(limits: &str, name: &str, value: &str) -> bool {
    limits.lines().any(|l| {
        l.strip_prefix(name).is_some_and(|rest| {
            let mut fields = rest.split_whitespace();
            fields.next() == Some(value) && fields.next() == Some(value)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_is_trusted_with_the_limits_only_when_they_read_back_exactly() {
        assert!(!shell_applies_limits("/nonexistent/sh"));
        // Runs, exits 0, sets nothing.
        assert!(!shell_applies_limits(&find_program("true")));
        let text = "Max cpu time              7                    7                    seconds\n\
                    Max file size             1536                 unlimited            bytes\n";
        assert!(limit_is(text, "Max cpu time", "7"));
        // A soft limit alone is not enough: the command could raise it again.
        assert!(!limit_is(text, "Max file size", "1536"));
        assert!(!limit_is(text, "Max address space", "1073741824"));
    }
}
