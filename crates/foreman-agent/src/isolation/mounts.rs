//! What a sandboxed command sees of the file system: the bubblewrap mount arguments.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::settings::{IsolationOptions, SandboxSettings};

/// Credential files and directories under `$HOME`, hidden even when a parent is made visible
/// through `read_only_paths`.
pub const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config",
    ".foreman",
    ".docker",
    ".kube",
    ".netrc",
    ".git-credentials",
    ".gitconfig",
    ".npmrc",
    ".pypirc",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".claude",
    ".claude.json",
    ".codex",
];

/// System directories mounted read-only in the sandbox (links are recreated as links).
const SYSTEM_ROOTS: &[&str] = &[
    "/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/nix",
];

/// One mount of the sandbox, ordered parent before child.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mount {
    ReadOnly(PathBuf),
    Link(String, PathBuf),
    Tmpfs(PathBuf),
    ReadWrite(PathBuf),
    HideFile(PathBuf),
    HideDir(PathBuf),
    Special(&'static str, PathBuf),
    /// A device node bound from `.0` (a read-only bind, see `devices`) over `--dev`'s own.
    Device(PathBuf, PathBuf),
}

impl Mount {
    fn path(&self) -> &Path {
        match self {
            Self::ReadOnly(p)
            | Self::Link(_, p)
            | Self::Tmpfs(p)
            | Self::ReadWrite(p)
            | Self::HideFile(p)
            | Self::HideDir(p)
            | Self::Special(_, p)
            | Self::Device(_, p) => p,
        }
    }

    /// At the same path, hiding wins over showing.
    const fn rank(&self) -> u8 {
        match self {
            Self::Link(..) | Self::Special(..) | Self::Tmpfs(_) | Self::Device(..) => 0,
            Self::ReadOnly(_) => 1,
            Self::ReadWrite(_) => 2,
            Self::HideFile(_) | Self::HideDir(_) => 3,
        }
    }

    /// `covers`: other mounts lie inside this one (a hidden ancestor of the worktree), so it
    /// stays traversable and is made read-only only after them (into `late`).
    fn push_args(&self, out: &mut Vec<String>, covers: bool, late: &mut Vec<String>) {
        let s = |p: &Path| p.display().to_string();
        match self {
            Self::HideDir(p) if covers => {
                out.extend(["--tmpfs".into(), s(p)]);
                late.extend(["--remount-ro".into(), s(p)]);
            }
            Self::ReadOnly(p) => out.extend(["--ro-bind".into(), s(p), s(p)]),
            Self::Link(target, p) => out.extend(["--symlink".into(), target.clone(), s(p)]),
            Self::Tmpfs(p) => out.extend(["--tmpfs".into(), s(p)]),
            Self::ReadWrite(p) => out.extend(["--bind".into(), s(p), s(p)]),
            Self::HideFile(p) => out.extend(["--ro-bind".into(), "/dev/null".into(), s(p)]),
            Self::HideDir(p) => out.extend([
                "--perms".into(),
                "0000".into(),
                "--tmpfs".into(),
                s(p),
                "--remount-ro".into(),
                s(p),
            ]),
            Self::Special(kind, p) => out.extend([(*kind).to_owned(), s(p)]),
            Self::Device(source, p) => out.extend(["--dev-bind".into(), s(source), s(p)]),
        }
    }
}

/// The bubblewrap arguments that build the sandbox's file system, parent mounts first.
pub(super) struct MountPlan {
    pub(super) args: Vec<String>,
}

impl MountPlan {
    /// The mounts for one command in `worktree` with `home` as its `$HOME`.
    pub(super) fn new(
        settings: &SandboxSettings,
        worktree: &Path,
        home: &Path,
        host_home: Option<&Path>,
        opts: &IsolationOptions,
    ) -> Self {
        let mut mounts: Vec<Mount> = Vec::new();
        // What the command can see of the host: read-only system directories, extra read-only
        // paths, writable paths and the worktree.
        let mut visible: Vec<PathBuf> = Vec::new();
        for root in SYSTEM_ROOTS {
            let p = Path::new(root);
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(p) {
                        mounts.push(Mount::Link(target.display().to_string(), p.to_owned()));
                    }
                }
                Ok(m) if m.is_dir() => {
                    mounts.push(Mount::ReadOnly(p.to_owned()));
                    visible.push(p.to_owned());
                }
                _ => {}
            }
        }
        if opts.network {
            // A resolver link into /run (systemd-resolved) must resolve inside.
            if let Ok(target) = std::fs::canonicalize("/etc/resolv.conf")
                && !target.starts_with("/etc")
                && let Some(dir) = target.parent()
            {
                mounts.push(Mount::ReadOnly(dir.to_owned()));
                visible.push(dir.to_owned());
            }
        }
        mounts.push(Mount::Special("--proc", "/proc".into()));
        mounts.push(Mount::Special("--dev", "/dev".into()));
        // as root, `--dev`'s binds of the host's nodes would let a command change them
        for (source, inside) in super::devices::read_only_devices() {
            mounts.push(Mount::Device(source.clone(), inside.clone()));
        }
        mounts.push(Mount::Tmpfs("/tmp".into()));
        mounts.push(Mount::Tmpfs("/var/tmp".into()));
        mounts.push(Mount::Tmpfs(home.to_owned()));
        for p in settings.read_only_paths.iter().chain(&opts.read_only) {
            if let Ok(c) = p.canonicalize() {
                mounts.push(Mount::ReadOnly(c.clone()));
                visible.push(c);
            }
        }
        for p in &opts.read_write {
            if let Ok(c) = p.canonicalize() {
                mounts.push(Mount::ReadWrite(c.clone()));
                visible.push(c);
            }
        }
        mounts.push(Mount::ReadWrite(worktree.to_owned()));
        visible.push(worktree.to_owned());

        // Credential files in a home directory are hidden by default, except where this
        // command asked for them explicitly (an external CLI's own session directory).
        let requested: Vec<PathBuf> = opts
            .read_only
            .iter()
            .chain(&opts.read_write)
            .filter_map(|p| p.canonicalize().ok())
            .collect();
        let mut soft: Vec<PathBuf> = Vec::new();
        for h in [Some(home), host_home].into_iter().flatten() {
            if h != home {
                soft.push(h.to_owned());
            }
            soft.extend(HOME_SECRETS.iter().map(|s| h.join(s)));
        }
        let soft = soft
            .into_iter()
            .filter_map(|p| p.canonicalize().ok())
            .filter(|p| !requested.iter().any(|r| p.starts_with(r)));
        let hidden = settings
            .hidden_paths
            .iter()
            .filter_map(|p| p.canonicalize().ok())
            .chain(soft)
            .chain(unreadable_system_files().iter().cloned());
        for c in hidden {
            // Only what is visible needs hiding; an ancestor of the worktree is hidden before
            // the worktree is mounted into it (mounts are ordered parent first).
            if !visible.iter().any(|v| c.starts_with(v)) || c == worktree {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&c) else {
                continue;
            };
            mounts.push(if meta.is_dir() {
                Mount::HideDir(c)
            } else {
                Mount::HideFile(c)
            });
        }
        // The `.git` pointer names the admin directory host git uses: nothing inside may change
        // it (or read a checkout's own `.git` directory).
        let git = worktree.join(".git");
        match std::fs::symlink_metadata(&git) {
            Ok(m) if m.is_dir() => mounts.push(Mount::HideDir(git)),
            Ok(_) => mounts.push(Mount::HideFile(git)),
            Err(_) => {}
        }
        mounts.sort_by(|a, b| {
            a.path()
                .components()
                .count()
                .cmp(&b.path().components().count())
                .then(a.rank().cmp(&b.rank()))
        });
        mounts.dedup();
        let mut args = Vec::new();
        let mut late = Vec::new();
        for (i, m) in mounts.iter().enumerate() {
            let covers = mounts[i + 1..]
                .iter()
                .any(|n| n.path() != m.path() && n.path().starts_with(m.path()));
            m.push_args(&mut args, covers, &mut late);
        }
        args.extend(late);
        Self { args }
    }
}

/// Files and directories under `/etc` and `/opt` that are not world-readable (`/etc/shadow`,
/// private keys): the sandbox user maps to the server's user, so owner-only files of that user
/// would otherwise be readable. Found once per process.
fn unreadable_system_files() -> &'static [PathBuf] {
    static FOUND: OnceLock<Vec<PathBuf>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let mut out = Vec::new();
        collect_unreadable(Path::new("/etc"), 8, &mut out);
        collect_unreadable(Path::new("/opt"), 3, &mut out);
        out
    })
}

fn collect_unreadable(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.file_type().is_symlink() {
            continue;
        }
        let mode = m.permissions().mode();
        let path = e.path();
        if m.is_dir() {
            if mode & 0o005 != 0o005 {
                out.push(path);
            } else if depth > 0 {
                collect_unreadable(&path, depth - 1, out);
            }
        } else if mode & 0o004 == 0 {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_a_command_asks_for_stay_visible_and_the_rest_stay_hidden() {
        let dir = std::env::temp_dir().join(format!("iso-home-{}", std::process::id()));
        let home = dir.join("home");
        let wt = dir.join("wt");
        for d in [home.join(".claude"), home.join(".ssh"), wt.clone()] {
            std::fs::create_dir_all(d).unwrap();
        }
        let home = home.canonicalize().unwrap();
        let settings = SandboxSettings {
            read_only_paths: vec![home.clone()],
            ..SandboxSettings::default()
        };
        let opts = IsolationOptions {
            network: true,
            read_write: vec![home.join(".claude")],
            ..IsolationOptions::default()
        };
        let plan = MountPlan::new(
            &settings,
            &wt.canonicalize().unwrap(),
            Path::new("/home/x"),
            Some(&home),
            &opts,
        );
        let text = plan.args.join(" ");
        let claude = home.join(".claude").display().to_string();
        assert!(
            text.contains(&format!("--bind {claude} {claude}")),
            "{text}"
        );
        assert!(!text.contains(&format!("--tmpfs {claude}")), "{text}");
        assert!(
            text.contains(&format!("--tmpfs {}", home.join(".ssh").display())),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mounts_are_ordered_parent_first_and_hide_wins() {
        let dir = std::env::temp_dir().join(format!("iso-plan-{}", std::process::id()));
        let wt = dir.join("work").join("wt");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join(".git"), "gitdir: /elsewhere\n").unwrap();
        let settings = SandboxSettings {
            hidden_paths: vec![dir.join("work")],
            read_only_paths: vec![dir.clone()],
            ..SandboxSettings::default()
        };
        let wt = wt.canonicalize().unwrap();
        let plan = MountPlan::new(
            &settings,
            &wt,
            Path::new("/home/x"),
            None,
            &IsolationOptions::default(),
        );
        let text = plan.args.join(" ");
        let work = dir.canonicalize().unwrap().join("work");
        let hide = text.find(&format!("--tmpfs {}", work.display())).unwrap();
        let bind = text
            .find(&format!("--bind {} {}", wt.display(), wt.display()))
            .unwrap();
        let git = text
            .find(&format!("--ro-bind /dev/null {}/.git", wt.display()))
            .unwrap();
        assert!(hide < bind && bind < git, "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
