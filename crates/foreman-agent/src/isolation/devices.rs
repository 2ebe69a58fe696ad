//! Read-only device nodes for a sandbox run by root.
//!
//! bubblewrap's `--dev` bind-mounts the host's `/dev/null`, `zero`, `full`, `random`,
//! `urandom` and `tty` into the sandbox read-write. The sandbox user maps to the server's user,
//! so when the server runs as root a command could `chmod` or `touch` the **host's** device
//! nodes through those binds (`chmod 000 /dev/null` breaks the host). A device node on a
//! read-only mount still opens for reading and writing (the data goes to the device, not the
//! file system), but its inode cannot be changed. So, once per process and only as root,
//! Foreman bind-mounts each node read-only under [`DEVICE_DIR`] and the sandbox mounts those
//! over `--dev`'s own (`--dev-bind`, which keeps the source's read-only flag; inside a user
//! namespace the flag is locked, so it cannot be remounted writable).
//!
//! The mounts are made with the `mount` program, live in `/run` (gone at reboot) and are
//! shared by every Foreman process on the host; one that finds them in place (read-only)
//! reuses them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the read-only device binds live.
pub const DEVICE_DIR: &str = "/run/foreman/sandbox-dev";

/// The device nodes `--dev` provides (besides the `pts` and `shm` it mounts).
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// `(read-only source, path inside the sandbox)` for every device node to mount over `--dev`'s;
/// empty when the server is not root (the nodes are root's: the sandbox cannot change them)
/// or when a bind could not be made (logged once).
pub(super) fn read_only_devices() -> &'static [(PathBuf, PathBuf)] {
    static DEVICES_RO: OnceLock<Vec<(PathBuf, PathBuf)>> = OnceLock::new();
    DEVICES_RO.get_or_init(|| {
        if !running_as_root() {
            return Vec::new();
        }
        match prepare(Path::new(DEVICE_DIR)) {
            Ok(list) => list,
            Err(e) => {
                tracing::error!(
                    error = %e,
                    dir = DEVICE_DIR,
                    "cannot make read-only device nodes for the sandbox: sandboxed commands \
                     run as root can change the host's /dev/null and friends"
                );
                Vec::new()
            }
        }
    })
}

/// Whether this process runs as root (the owner of `/proc/self` is its effective user).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Makes (or finds) a read-only bind of each device node under `dir`.
pub(super) fn prepare(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    // one Foreman process at a time, so two do not stack binds on the same node
    let lock = std::fs::File::create(dir.join(".lock"))
        .map_err(|e| format!("creating {}/.lock: {e}", dir.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}/.lock: {e}", dir.display()))?;
    let mut out = Vec::new();
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if !host.exists() {
            continue;
        }
        let target = dir.join(name);
        if !is_read_only_mount(&target) {
            if !target.exists() {
                std::fs::File::create(&target)
                    .map_err(|e| format!("creating {}: {e}", target.display()))?;
            }
            mount(&[
                "--bind",
                &host.display().to_string(),
                &target.display().to_string(),
            ])?;
            mount(&["-o", "remount,bind,ro", &target.display().to_string()])?;
            if !is_read_only_mount(&target) {
                return Err(format!("{} is not a read-only mount", target.display()));
            }
        }
        out.push((target, host));
    }
    Ok(out)
}

fn mount(args: &[&str]) -> Result<(), String> {
    let program = super::probe::find_program("mount");
    let out = std::process::Command::new(&program)
        .args(args)
        .output()
        .map_err(|e| format!("running {program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mount {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether the top mount at `path` is read-only (`/proc/self/mountinfo`).
fn is_read_only_mount(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.display().to_string();
    // the last line for a mount point is the top of its stack
    info.lines()
        .rev()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let point = fields.nth(4)?;
            let options = fields.next()?;
            (point == want).then(|| options.split(',').any(|o| o == "ro"))
        })
        .next()
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_node_is_a_read_only_mount_of_the_device_that_still_opens() {
        if !running_as_root() {
            eprintln!("SKIPPED: needs root to mount");
            return;
        }
        let list = read_only_devices();
        assert_eq!(list.len(), DEVICES.len(), "{list:?}");
        for (source, inside) in list {
            assert!(is_read_only_mount(source), "{}", source.display());
            assert!(inside.starts_with("/dev"));
        }
        let null = Path::new(DEVICE_DIR).join("null");
        // the data still goes to the device
        std::fs::write(&null, b"written").unwrap();
        assert_eq!(std::fs::read(&null).unwrap(), b"");
        // the inode does not change (control: the same call on a plain file works)
        let err =
            std::fs::set_permissions(&null, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(30), "EROFS: {err}");
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"").unwrap();
        std::fs::set_permissions(&plain, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        // a second preparation finds the binds in place and stacks nothing
        let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        prepare(Path::new(DEVICE_DIR)).unwrap();
        let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert_eq!(before.lines().count(), after.lines().count());
    }
}
