//! The per-command pids cgroup that bounds a sandboxed command's processes and threads.
//!
//! The command's launcher (`sh`) joins the cgroup itself before it `exec`s bubblewrap, so
//! nothing the command starts is ever outside it. It joins by writing `0` ("the writing thread")
//! to the cgroup v1 `tasks` file: the kernel moves a single thread without taking the global
//! `cgroup_threadgroup_rwsem` for writing, which a write to `cgroup.procs` takes and which, on
//! cgroup v1 without `favordynmods`, waits for an RCU grace period (milliseconds, more under
//! load). The launcher is single-threaded, so moving its thread moves the whole process. Under
//! cgroup v2, where a thread cannot move alone between domain cgroups, it writes
//! `cgroup.procs`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A per-command pids cgroup (v1 `pids` hierarchy or cgroup v2 with the pids controller).
#[derive(Debug)]
pub(super) struct PidsCgroup {
    pub(super) path: PathBuf,
}

impl PidsCgroup {
    /// Creates `foreman-sandbox/cmd-<pid>-<n>` with `pids.max = max`; `None` when cgroups are
    /// not writable here (the caller then relies on `RLIMIT_NPROC`).
    pub(super) fn create(root: Option<&Path>, max: u32) -> Option<Self> {
        if max == 0 {
            return None;
        }
        let base = match root {
            Some(r) => r.to_owned(),
            None => Self::find_base()?,
        };
        let parent = base.join("foreman-sandbox");
        if !parent.is_dir() {
            std::fs::create_dir(&parent).ok()?;
        }
        static SWEPT: OnceLock<()> = OnceLock::new();
        SWEPT.get_or_init(|| Self::sweep_stale(&parent));
        if base.join("cgroup.subtree_control").exists() {
            // cgroup v2: the controller must be enabled on the way down.
            let _ = std::fs::write(base.join("cgroup.subtree_control"), "+pids");
            let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+pids");
        }
        let path = parent.join(format!(
            "cmd-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).ok()?;
        let cg = Self { path };
        if std::fs::write(cg.path.join("pids.max"), max.to_string()).is_err() {
            cg.remove();
            return None;
        }
        Some(cg)
    }

    /// Removes the empty cgroups of processes that are gone (`cmd-<pid>-<n>` whose server exited
    /// before its background removal finished), once per process, so they do not pile up.
    fn sweep_stale(parent: &Path) {
        let Ok(entries) = std::fs::read_dir(parent) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix("cmd-"))
                .and_then(|rest| rest.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                // rmdir fails (harmlessly) while the cgroup still lists a process
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }

    fn find_base() -> Option<PathBuf> {
        let v1 = Path::new("/sys/fs/cgroup/pids");
        if v1.join("cgroup.procs").exists() {
            return Some(v1.to_owned());
        }
        let v2 = Path::new("/sys/fs/cgroup");
        let controllers = std::fs::read_to_string(v2.join("cgroup.controllers")).ok()?;
        controllers
            .split_whitespace()
            .any(|c| c == "pids")
            .then(|| v2.to_owned())
    }

    /// The file a process writes `0` to in order to join the cgroup: `tasks` (cgroup v1, moves
    /// the writing thread without the global lock) or `cgroup.procs` (cgroup v2).
    pub(super) fn join_file(&self) -> PathBuf {
        let tasks = self.path.join("tasks");
        if tasks.exists() {
            tasks
        } else {
            self.path.join("cgroup.procs")
        }
    }

    /// Removes the cgroup at once when it is already empty; otherwise kills what is left and
    /// removes it from a background thread, so the caller does not wait for dying processes.
    pub(super) fn remove(self) {
        if self.try_remove() {
            return;
        }
        std::thread::spawn(move || {
            for _ in 0..500 {
                if self.try_remove() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            tracing::warn!(cgroup = %self.path.display(), "cannot remove a sandbox cgroup");
        });
    }

    /// One attempt: kill every process listed, remove the directory if none is.
    fn try_remove(&self) -> bool {
        let Ok(procs) = std::fs::read_to_string(self.path.join("cgroup.procs")) else {
            return !self.path.exists();
        };
        let pids: Vec<i32> = procs
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|p| *p > 0)
            .collect();
        for pid in &pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        pids.is_empty() && std::fs::remove_dir(&self.path).is_ok()
    }
}
