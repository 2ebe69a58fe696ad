//! Processes an earlier run left behind in a worktree.
//!
//! When the server dies (SIGKILL, OOM killer, power loss of a container sharing a PID
//! namespace), the `git`, test and agent processes it had started keep running as orphans. A
//! resumed run must not work in a worktree beside them: an orphaned `git rebase` still holds its
//! `rebase-merge` directory, an orphaned `git merge` its `index.lock`. Every process Foreman
//! starts carries [`CHILD_MARKER_ENV`] in its environment; a *stray* is such a process whose
//! working directory is inside the worktree and which does not descend from this process.
//! Processes without the marker (an operator's shell) are never touched.
//!
//! Linux only (it reads `/proc`); elsewhere no strays are found.

use std::path::Path;
use std::time::{Duration, Instant};

use foreman_domain::git::CHILD_MARKER_ENV;

/// Deepest parent chain walked when telling our own descendants apart.
const MAX_DEPTH: usize = 64;

/// PIDs of the strays working inside `dir`.
pub(crate) fn find(dir: &Path) -> Vec<i32> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let marker = format!("{CHILD_MARKER_ENV}=1");
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            // a zombie or another user's process has no readable cwd
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&dir))
        })
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()))
        })
        .filter(|&pid| !descends_from(pid, me))
        .collect()
}

/// Kills the strays in `dir` and waits (up to `patience`) until they are gone; returns how many
/// there were.
pub(crate) async fn clear(dir: &Path, patience: Duration) -> usize {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let strays = find(&dir);
        if strays.is_empty() {
            return 0;
        }
        for &pid in &strays {
            tracing::warn!(pid, dir = %dir.display(), "killing a process an earlier run left in the worktree");
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline && !find(&dir).is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
        strays.len()
    })
    .await
    .unwrap_or(0)
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut current = pid;
    for _ in 0..MAX_DEPTH {
        match parent_of(current) {
            Some(p) if p == ancestor => return true,
            Some(p) if p > 1 => current = p,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_children_are_not_strays_and_unmarked_processes_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut marked_child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(dir.path())
            .env(CHILD_MARKER_ENV, "1")
            .spawn()
            .unwrap();
        // an orphan without the marker: `sh` exits, `sleep` is re-parented away from us
        let out = std::process::Command::new("sh")
            .args(["-c", "sleep 30 >/dev/null 2>&1 & echo $!"])
            .current_dir(dir.path())
            .env_remove(CHILD_MARKER_ENV)
            .output()
            .unwrap();
        let unmarked: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(find(dir.path()).is_empty());
        let _ = marked_child.kill();
        let _ = marked_child.wait();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(unmarked),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
