//! The launcher in front of `bwrap`: it sets the command's resource limits and joins its pids
//! cgroup before bubblewrap starts, so the command and everything it starts inherit both.
//!
//! With a cgroup the launcher is one `sh`: it writes `0` to the cgroup's join file (see
//! `cgroup.rs`), sets the limits with `ulimit` and `exec`s bubblewrap. Without one it is
//! `prlimit`, which also sets `RLIMIT_NPROC` (`ulimit`'s flag for it differs between shells).
//! A shell whose `ulimit` does not set the limits exactly (checked once by
//! `shell_applies_limits`), or limits `ulimit`'s units cannot express, get
//! `sh` for the cgroup and `prlimit` for the limits.

use std::path::Path;

use super::settings::ResourceLimits;

/// The programs a launcher runs and what the shell can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Programs {
    /// The absolute path of `sh`.
    pub(super) sh: String,
    /// Whether that shell's `ulimit` sets the limits exactly.
    pub(super) shell_sets_limits: bool,
    /// The absolute path of `prlimit`.
    pub(super) prlimit: String,
}

/// The argument vector that runs the program appended to it (bubblewrap) with `limits`, in the
/// cgroup joined through `join` (its `tasks` or `cgroup.procs`) when there is one.
pub(super) fn launcher(
    limits: &ResourceLimits,
    join: Option<&Path>,
    programs: &Programs,
) -> Vec<String> {
    let Some(join) = join else {
        return prlimit(limits, true, programs);
    };
    let ulimits = ulimit_script(limits).filter(|_| programs.shell_sets_limits);
    let mut line = vec![
        programs.sh.clone(),
        "-c".to_owned(),
        format!(
            "echo 0 > \"$0\" && {}exec \"$@\"",
            ulimits.as_deref().unwrap_or_default()
        ),
        join.display().to_string(),
    ];
    if ulimits.is_none() {
        line.extend(prlimit(limits, false, programs));
    }
    line
}

/// `prlimit --core=0 --cpu=… --as=… --fsize=… [--nproc=…] --`.
fn prlimit(limits: &ResourceLimits, nproc: bool, programs: &Programs) -> Vec<String> {
    let mut line = vec![programs.prlimit.clone(), "--core=0".to_owned()];
    if limits.cpu_secs > 0 {
        line.push(format!("--cpu={}", limits.cpu_secs));
    }
    if limits.address_space_bytes > 0 {
        line.push(format!("--as={}", limits.address_space_bytes));
    }
    if limits.file_size_bytes > 0 {
        line.push(format!("--fsize={}", limits.file_size_bytes));
    }
    if nproc && limits.processes > 0 {
        line.push(format!("--nproc={}", limits.processes));
    }
    line.push("--".to_owned());
    line
}

/// `ulimit -c 0 && ulimit -t … && ulimit -v … && ulimit -f … && `, or `None` when a limit is
/// not a whole number of `ulimit`'s units (KiB of address space, 512-byte blocks of file size)
/// or too large for a shell's arithmetic.
fn ulimit_script(limits: &ResourceLimits) -> Option<String> {
    const MAX: u64 = 1 << 53;
    let mut script = String::from("ulimit -c 0 && ");
    if limits.cpu_secs > 0 {
        if limits.cpu_secs > MAX {
            return None;
        }
        script.push_str(&format!("ulimit -t {} && ", limits.cpu_secs));
    }
    if limits.address_space_bytes > 0 {
        if !limits.address_space_bytes.is_multiple_of(1024) || limits.address_space_bytes > MAX {
            return None;
        }
        script.push_str(&format!(
            "ulimit -v {} && ",
            limits.address_space_bytes / 1024
        ));
    }
    if limits.file_size_bytes > 0 {
        if !limits.file_size_bytes.is_multiple_of(512) || limits.file_size_bytes > MAX {
            return None;
        }
        script.push_str(&format!("ulimit -f {} && ", limits.file_size_bytes / 512));
    }
    Some(script)
}

#[cfg(test)]
mod tests {
    use super::super::cgroup::PidsCgroup;
    use super::super::probe::{find_program, shell_applies_limits};
    use super::*;

    fn programs() -> Programs {
        let sh = find_program("sh");
        Programs {
            shell_sets_limits: shell_applies_limits(&sh),
            sh,
            prlimit: find_program("prlimit"),
        }
    }

    fn limits() -> ResourceLimits {
        ResourceLimits {
            cpu_secs: 17,
            address_space_bytes: 3 << 30,
            processes: 321,
            file_size_bytes: 1 << 20,
            output_bytes: 0,
        }
    }

    /// Runs `argv` after the launcher; its stdout and stderr.
    fn run(
        limits: &ResourceLimits,
        join: Option<&Path>,
        programs: &Programs,
        argv: &[&str],
        dir: &Path,
    ) -> (String, String) {
        let mut line = launcher(limits, join, programs);
        line.extend(argv.iter().map(|a| (*a).to_owned()));
        let out = std::process::Command::new(&line[0])
            .args(&line[1..])
            .current_dir(dir)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The soft and hard value of a limit in `/proc/self/limits` text.
    fn limit(text: &str, name: &str) -> (String, String) {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        let mut f = line[name.len()..].split_whitespace();
        (f.next().unwrap().to_owned(), f.next().unwrap().to_owned())
    }

    fn assert_limits(text: &str, nproc: Option<&str>) {
        let both = |v: &str| (v.to_owned(), v.to_owned());
        assert_eq!(limit(text, "Max cpu time"), both("17"), "{text}");
        assert_eq!(limit(text, "Max file size"), both("1048576"), "{text}");
        assert_eq!(
            limit(text, "Max address space"),
            both("3221225472"),
            "{text}"
        );
        assert_eq!(limit(text, "Max core file size"), both("0"), "{text}");
        if let Some(n) = nproc {
            assert_eq!(limit(text, "Max processes"), both(n), "{text}");
        }
    }

    #[test]
    fn the_shell_launcher_joins_and_sets_every_limit_in_one_exec() {
        let programs = programs();
        if !programs.shell_sets_limits {
            // dash and bash (as `sh`) pass; another shell gets `prlimit`, tested below.
            eprintln!(
                "SKIPPED: {} does not set POSIX ulimits exactly",
                programs.sh
            );
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let join = dir.path().join("tasks");
        let line = launcher(&limits(), Some(&join), &programs);
        assert_eq!(line.len(), 4, "{line:?}");
        assert!(!line.iter().any(|a| a.contains("prlimit")), "{line:?}");
        let (out, err) = run(
            &limits(),
            Some(&join),
            &programs,
            &["cat", "/proc/self/limits"],
            dir.path(),
        );
        assert!(err.is_empty(), "{err}");
        assert_limits(&out, None);
        // The launcher wrote "0" (the writing thread) to the join file.
        assert_eq!(std::fs::read_to_string(&join).unwrap(), "0\n");
    }

    #[test]
    fn without_a_cgroup_prlimit_sets_every_limit_and_the_process_count() {
        let dir = tempfile::tempdir().unwrap();
        let line = launcher(&limits(), None, &programs());
        assert!(line[0].ends_with("prlimit"), "{line:?}");
        let (out, err) = run(
            &limits(),
            None,
            &programs(),
            &["cat", "/proc/self/limits"],
            dir.path(),
        );
        assert!(err.is_empty(), "{err}");
        assert_limits(&out, Some("321"));
    }

    #[test]
    fn limits_ulimit_cannot_express_or_an_unverified_shell_get_prlimit() {
        let dir = tempfile::tempdir().unwrap();
        let join = dir.path().join("tasks");
        let odd = ResourceLimits {
            file_size_bytes: 1000,
            ..limits()
        };
        let unverified = Programs {
            shell_sets_limits: false,
            ..programs()
        };
        for (l, p) in [(odd, programs()), (limits(), unverified)] {
            let line = launcher(&l, Some(&join), &p);
            assert_eq!(line[2], "echo 0 > \"$0\" && exec \"$@\"", "{line:?}");
            assert!(line[4].ends_with("prlimit"), "{line:?}");
            assert!(!line.iter().any(|a| a.starts_with("--nproc")), "{line:?}");
            let (out, _) = run(
                &l,
                Some(&join),
                &p,
                &["cat", "/proc/self/limits"],
                dir.path(),
            );
            let fsize = l.file_size_bytes.to_string();
            assert_eq!(
                limit(&out, "Max file size"),
                (fsize.clone(), fsize),
                "{out}"
            );
            assert_eq!(limit(&out, "Max cpu time"), ("17".into(), "17".into()));
        }
    }

    #[test]
    fn the_file_size_limit_bites_with_either_launcher() {
        let dir = tempfile::tempdir().unwrap();
        let join = dir.path().join("tasks");
        let write = ["sh", "-c", "head -c 3000000 /dev/zero > big; wc -c < big"];
        for j in [Some(join.as_path()), None] {
            let (out, _) = run(&limits(), j, &programs(), &write, dir.path());
            assert_eq!(out.trim(), "1048576", "{j:?}");
        }
        // Control: without the limit the whole file is written.
        let none = ResourceLimits {
            file_size_bytes: 0,
            ..limits()
        };
        let (out, _) = run(&none, Some(&join), &programs(), &write, dir.path());
        assert_eq!(out.trim(), "3000000");
    }

    #[test]
    fn the_launcher_joins_the_pids_cgroup_and_its_limit_bites() {
        let Some(cg) = PidsCgroup::create(None, 6) else {
            eprintln!("SKIPPED: no writable pids cgroup here");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let join = cg.join_file();
        if Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists() {
            assert!(join.ends_with("tasks"), "{}", join.display());
        }
        let name = cg.path.file_name().unwrap().to_string_lossy().into_owned();
        let (out, _) = run(
            &limits(),
            Some(&join),
            &programs(),
            &["cat", "/proc/self/cgroup"],
            dir.path(),
        );
        assert!(out.contains(&name), "{out}");
        // Twelve sleeps at once do not fit in six processes ...
        let spawn = [
            "sh",
            "-c",
            "n=0; while [ $n -lt 12 ]; do sleep 5 & n=$((n+1)); done; echo STARTED; kill $(jobs -p) 2>/dev/null",
        ];
        let (out, err) = run(&limits(), Some(&join), &programs(), &spawn, dir.path());
        assert!(!out.contains("STARTED") || !err.is_empty(), "{out} {err}");
        assert!(err.to_lowercase().contains("fork"), "{err}");
        // ... and do outside it.
        let (out, err) = run(&limits(), None, &programs(), &spawn, dir.path());
        assert!(out.contains("STARTED") && err.is_empty(), "{out} {err}");
        cg.remove();
    }
}
