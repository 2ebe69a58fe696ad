//! Tamper detection: before git runs, the administrative files of Foreman's cached clone are
//! checked against what Foreman wrote.
//!
//! Code the model wrote runs in the worktrees (tests, builds). In local mode it runs as
//! Foreman's user and could rewrite the files git trusts: the repository's `config` (a
//! `core.fsmonitor` or `core.sshCommand` command, a filter driver, an `include.path`), a hook,
//! a worktree's `.git` pointer (to make git open another repository) or its administrative
//! directory. Git is never pointed at a repository by those files (see [`crate::cmd::Place`]),
//! and before each command [`Guard`] checks:
//! - the repository's `config` holds only what Foreman writes (see [`validate_config`]); a
//!   byte-for-byte copy of the last accepted content makes the common case one file read;
//! - no `commondir` or `config.worktree` in the repository, no hook beyond git's `*.sample`
//!   files in its `hooks/`, and Foreman's empty directory (hooks path, `HOME`) still empty;
//! - for a worktree: its administrative directory, known from Foreman's records (found through
//!   the back-pointer git keeps in the repository's `worktrees/<name>/gitdir`, never through the
//!   worktree's `.git` file), still has the `gitdir` content first seen and `commondir` `../..`,
//!   no `config.worktree` and no hooks; and the worktree's `.git` is a regular file saying
//!   exactly `gitdir: <that administrative directory>`, which is what git wrote.
//!
//! Records live in memory, shared by every [`crate::GitRepository`] of the process that points
//! at the same clone; after a restart they are recomputed from the administrative files.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use foreman_domain::git::{GitError, GitResult};

/// The refspec Foreman gives `origin`.
pub(crate) const FETCH_REFSPEC: &str = "+refs/heads/*:refs/remotes/origin/*";

/// What Foreman knows about one worktree.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// `<repo>/worktrees/<name>`.
    pub admin: PathBuf,
    /// The content of `<admin>/gitdir` when first seen.
    gitdir: Vec<u8>,
    /// The `.git` file git wrote into the worktree.
    pointer: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    /// The repository config last accepted.
    config: Option<Vec<u8>>,
    /// Worktree path → record.
    worktrees: HashMap<PathBuf, Record>,
    /// Administrative directory names already read.
    seen: HashSet<OsString>,
}

/// One state per clone, shared by every instance of the process.
static STATES: LazyLock<Mutex<HashMap<PathBuf, Arc<Mutex<State>>>>> = LazyLock::new(Mutex::default);

/// The checks for one cached clone.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    repo: PathBuf,
    empty: PathBuf,
    clone_url: String,
    state: Arc<Mutex<State>>,
}

fn tampered(what: &str, detail: impl Into<String>) -> GitError {
    GitError::Tampered {
        what: what.to_owned(),
        detail: detail.into(),
    }
}

fn io(context: String, source: std::io::Error) -> GitError {
    GitError::Io { context, source }
}

impl Guard {
    /// The guard of the clone at `repo` (which need not exist yet); `empty` is Foreman's empty
    /// directory.
    pub(crate) fn new(repo: PathBuf, empty: PathBuf, clone_url: String) -> Self {
        let state = STATES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(repo.clone())
            .or_default()
            .clone();
        Self {
            repo,
            empty,
            clone_url,
            state,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates Foreman's empty directory when missing and checks it is empty.
    pub(crate) fn check_empty_dir(&self) -> GitResult<()> {
        std::fs::create_dir_all(&self.empty)
            .map_err(|e| io(format!("creating {}", self.empty.display()), e))?;
        let mut entries = std::fs::read_dir(&self.empty)
            .map_err(|e| io(format!("listing {}", self.empty.display()), e))?;
        if let Some(entry) = entries.next() {
            let entry = entry.map_err(|e| io(format!("listing {}", self.empty.display()), e))?;
            return Err(tampered(
                "foreman's empty directory",
                format!(
                    "{} appeared in {}",
                    entry.file_name().to_string_lossy(),
                    self.empty.display()
                ),
            ));
        }
        Ok(())
    }

    /// Checks the repository before a command on it: its config, hooks, `commondir` and
    /// `config.worktree`, and Foreman's empty directory.
    pub(crate) fn check_repo(&self) -> GitResult<()> {
        self.check_empty_dir()?;
        let config = match std::fs::read(self.repo.join("config")) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(GitError::NotFound {
                    what: format!("cached clone {}", self.repo.display()),
                });
            }
            Err(e) => return Err(io("reading the repository config".to_owned(), e)),
        };
        for file in ["commondir", "config.worktree"] {
            if std::fs::symlink_metadata(self.repo.join(file)).is_ok() {
                return Err(tampered(
                    "repository",
                    format!("{file} appeared in {}", self.repo.display()),
                ));
            }
        }
        check_hooks(&self.repo.join("hooks"))?;
        if self.state().config.as_deref() == Some(config.as_slice()) {
            return Ok(());
        }
        let text = String::from_utf8(config.clone())
            .map_err(|_| tampered("repository config", "it is not UTF-8"))?;
        validate_config(&text, &self.clone_url).map_err(|d| tampered("repository config", d))?;
        self.state().config = Some(config);
        Ok(())
    }

    /// Checks the repository and the worktree at `path`; returns its administrative directory.
    ///
    /// # Errors
    /// [`GitError::Tampered`]; [`GitError::NotFound`] when git does not know the worktree.
    pub(crate) fn check_worktree(&self, path: &Path) -> GitResult<PathBuf> {
        self.check_repo()?;
        let Some(record) = self.record(path)? else {
            return Err(GitError::NotFound {
                what: format!("worktree {}", path.display()),
            });
        };
        let admin = &record.admin;
        let gitdir = std::fs::read(admin.join("gitdir")).unwrap_or_default();
        if gitdir != record.gitdir {
            return Err(tampered(
                "worktree administrative directory",
                format!(
                    "{}/gitdir now says {:?}",
                    admin.display(),
                    String::from_utf8_lossy(&gitdir).trim()
                ),
            ));
        }
        let commondir = std::fs::read_to_string(admin.join("commondir")).unwrap_or_default();
        if commondir.trim_end_matches('\n') != "../.." {
            return Err(tampered(
                "worktree administrative directory",
                format!(
                    "{}/commondir now says {:?}",
                    admin.display(),
                    commondir.trim()
                ),
            ));
        }
        if std::fs::symlink_metadata(admin.join("config.worktree")).is_ok() {
            return Err(tampered(
                "worktree administrative directory",
                format!("config.worktree appeared in {}", admin.display()),
            ));
        }
        check_hooks(&admin.join("hooks"))?;
        let dot_git = path.join(".git");
        let pointer = match std::fs::symlink_metadata(&dot_git) {
            Ok(m) if m.is_file() => std::fs::read(&dot_git).unwrap_or_default(),
            Ok(m) => {
                let kind = if m.is_dir() {
                    "a directory"
                } else if m.is_symlink() {
                    "a symbolic link"
                } else {
                    "not a regular file"
                };
                return Err(tampered(
                    "worktree .git pointer",
                    format!("{} is now {kind}", dot_git.display()),
                ));
            }
            Err(_) => {
                return Err(tampered(
                    "worktree .git pointer",
                    format!("{} is gone", dot_git.display()),
                ));
            }
        };
        if pointer != record.pointer {
            return Err(tampered(
                "worktree .git pointer",
                format!(
                    "{} says {:?}, foreman wrote {:?}",
                    dot_git.display(),
                    String::from_utf8_lossy(&pointer).trim(),
                    String::from_utf8_lossy(&record.pointer).trim()
                ),
            ));
        }
        Ok(record.admin)
    }

    /// The record of the worktree at `path`, `None` when git does not know it. Administrative
    /// directories not read before are read first (all of them on the first call of the
    /// process, the new ones after).
    pub(crate) fn record(&self, path: &Path) -> GitResult<Option<Record>> {
        if let Some(r) = self.state().worktrees.get(path).cloned() {
            if r.admin.join("gitdir").exists() {
                return Ok(Some(r));
            }
            self.forget(path);
        }
        self.scan()?;
        Ok(self.state().worktrees.get(path).cloned())
    }

    /// Drops the record of a removed worktree.
    pub(crate) fn forget(&self, path: &Path) {
        let mut state = self.state();
        if let Some(r) = state.worktrees.remove(path)
            && let Some(name) = r.admin.file_name()
        {
            state.seen.remove(name);
        }
    }

    /// Drops the records whose administrative directory is gone (after `git worktree prune`),
    /// so a name git hands out again is read afresh.
    pub(crate) fn pruned(&self) {
        let mut state = self.state();
        let gone: Vec<PathBuf> = state
            .worktrees
            .iter()
            .filter(|(_, r)| !r.admin.exists())
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            state.worktrees.remove(&path);
        }
        let dir = self.repo.join("worktrees");
        state.seen.retain(|name| dir.join(name).exists());
    }

    /// Reads the administrative directories not read before.
    fn scan(&self) -> GitResult<()> {
        let dir = self.repo.join("worktrees");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(format!("listing {}", dir.display()), e)),
        };
        let mut names: Vec<OsString> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io(format!("listing {}", dir.display()), e))?;
            names.push(entry.file_name());
        }
        let fresh: Vec<OsString> = {
            let mut state = self.state();
            // names git pruned may come back for other worktrees
            let live: HashSet<&OsString> = names.iter().collect();
            state.seen.retain(|n| live.contains(n));
            names
                .iter()
                .filter(|n| !state.seen.contains(*n))
                .cloned()
                .collect()
        };
        for name in fresh {
            let admin = dir.join(&name);
            let Ok(gitdir) = std::fs::read(admin.join("gitdir")) else {
                // `worktree add` has not written it yet; read it next time
                continue;
            };
            let target = PathBuf::from(String::from_utf8_lossy(&gitdir).trim());
            let Some(path) = target
                .file_name()
                .is_some_and(|n| n == ".git")
                .then(|| target.parent().map(Path::to_path_buf))
                .flatten()
            else {
                continue;
            };
            let pointer = format!(
                "gitdir: {}\n",
                std::fs::canonicalize(&admin)
                    .unwrap_or_else(|_| admin.clone())
                    .display()
            );
            let record = Record {
                admin: admin.clone(),
                gitdir,
                pointer: pointer.into_bytes(),
            };
            let mut state = self.state();
            state.seen.insert(name);
            // git records the real path; Foreman asks with the path it built, so both name it
            let mut keys = vec![path.clone()];
            if let Some(own) = self.own_spelling(&path) {
                keys.push(own);
            }
            for key in keys {
                if let Some(other) = state.worktrees.get(&key)
                    && other.admin != record.admin
                    && other.admin.join("gitdir").exists()
                {
                    return Err(tampered(
                        "worktree administrative directory",
                        format!(
                            "{} and {} both claim {}",
                            other.admin.display(),
                            record.admin.display(),
                            key.display()
                        ),
                    ));
                }
                state.worktrees.insert(key, record.clone());
            }
        }
        Ok(())
    }

    /// `path` (a real path, as git records it) spelt under the repository's own directory
    /// when that differs (the work dir reached through a symbolic link).
    fn own_spelling(&self, path: &Path) -> Option<PathBuf> {
        let root = self.repo.parent()?;
        let real_root = std::fs::canonicalize(root).ok()?;
        if real_root == root {
            return None;
        }
        Some(root.join(path.strip_prefix(&real_root).ok()?))
    }
}

/// Refuses any hook beyond git's `*.sample` files in `dir` (missing is fine). Hooks never run
/// (the hooks path is Foreman's empty directory), but one appearing means something wrote into
/// the repository.
fn check_hooks(dir: &Path) -> GitResult<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(format!("listing {}", dir.display()), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.ends_with(".sample") {
            return Err(tampered(
                "hooks",
                format!("hook {name} appeared in {}", dir.display()),
            ));
        }
    }
    Ok(())
}

/// Checks the text of the repository's `config` holds only what Foreman writes: `core`
/// repository-format settings (`bare` must be true), `extensions.objectformat`/`refstorage`,
/// `remote.origin.url` equal to the clone URL and `remote.origin.fetch` equal to
/// [`FETCH_REFSPEC`], and branch tracking entries (`branch.<b>.remote = origin`,
/// `branch.<b>.merge = refs/heads/...`). Anything else — a command (`core.fsmonitor`,
/// `core.sshCommand`, `core.hooksPath`, `core.pager`, `core.editor`, filter, diff and merge
/// drivers, `credential.helper`, `uploadpack.*`), another file (`include.path`, `includeIf`,
/// `core.worktree`, `extensions.worktreeConfig`) or another remote — is refused, and so is
/// syntax Foreman's own writes never produce (continued lines, escapes, comments after
/// values). Returns what was found.
pub(crate) fn validate_config(text: &str, clone_url: &str) -> Result<(), String> {
    let mut section: Option<(String, Option<String>)> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.ends_with('\\') {
            return Err(format!("unexpected continued line {line:?}"));
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some((header, after)) = rest.split_once(']') else {
                return Err(format!("unreadable section header {line:?}"));
            };
            if !after.trim().is_empty() {
                return Err(format!("unexpected text after section header {line:?}"));
            }
            section = Some(
                parse_header(header)
                    .ok_or_else(|| format!("unexpected section header {line:?}"))?,
            );
            continue;
        }
        let Some((name, sub)) = &section else {
            return Err(format!("setting outside a section {line:?}"));
        };
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), unquote(v.trim())?),
            None => (line, "true".to_owned()),
        };
        if key.is_empty()
            || !key.starts_with(|c: char| c.is_ascii_alphabetic())
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(format!("unreadable setting {line:?}"));
        }
        allowed(
            name,
            sub.as_deref(),
            &key.to_ascii_lowercase(),
            &value,
            clone_url,
        )?;
    }
    Ok(())
}

/// `core` → (`core`, None); `remote "origin"` → (`remote`, Some(`origin`)).
fn parse_header(header: &str) -> Option<(String, Option<String>)> {
    let header = header.trim();
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    match header.split_once(char::is_whitespace) {
        None => (valid_name(header) && !header.contains('.'))
            .then(|| (header.to_ascii_lowercase(), None)),
        Some((name, sub)) => {
            let inner = sub.trim().strip_prefix('"')?.strip_suffix('"')?;
            (valid_name(name) && !name.contains('.') && !inner.contains(['"', '\\']))
                .then(|| (name.to_ascii_lowercase(), Some(inner.to_owned())))
        }
    }
}

/// A value as git reads it, for the spellings Foreman's writes produce: plain, or wholly
/// quoted without escapes.
fn unquote(v: &str) -> Result<String, String> {
    let inner = match v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner,
        None => v,
    };
    if inner.contains(['"', '\\']) || (inner.len() == v.len() && v.contains(['#', ';'])) {
        return Err(format!("unexpected value spelling {v:?}"));
    }
    Ok(inner.to_owned())
}

fn allowed(
    section: &str,
    sub: Option<&str>,
    key: &str,
    value: &str,
    clone_url: &str,
) -> Result<(), String> {
    let ok = match (section, sub, key) {
        ("core", None, "bare") => value == "true",
        (
            "core",
            None,
            "repositoryformatversion"
            | "filemode"
            | "logallrefupdates"
            | "ignorecase"
            | "precomposeunicode"
            | "symlinks",
        ) => true,
        ("extensions", None, "objectformat" | "refstorage") => true,
        ("remote", Some("origin"), "url") => {
            if value != clone_url {
                return Err(format!(
                    "remote.origin.url is {value:?}, not the configured clone url"
                ));
            }
            true
        }
        ("remote", Some("origin"), "fetch") => value == FETCH_REFSPEC,
        ("branch", Some(_), "remote") => value == "origin",
        ("branch", Some(_), "merge") => value.starts_with("refs/heads/"),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let name = match sub {
        Some(sub) => format!("{section}.{sub}.{key}"),
        None => format!("{section}.{key}"),
    };
    Err(format!("it sets {name} = {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "/srv/origin.git";

    fn base() -> String {
        format!(
            "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n[remote \"origin\"]\n\turl = {URL}\n\tfetch = {FETCH_REFSPEC}\n"
        )
    }

    #[test]
    fn foremans_own_config_passes() {
        validate_config(&base(), URL).unwrap();
        let tracking = format!(
            "{}[branch \"foreman/A-1\"]\n\tremote = origin\n\tmerge = refs/heads/foreman/A-1\n",
            base()
        );
        validate_config(&tracking, URL).unwrap();
    }

    #[test]
    fn commands_other_files_and_odd_spellings_are_refused() {
        for extra in [
            "[core]\n\tfsmonitor = touch /tmp/x\n",
            "[Core]\n\tsshCommand = evil\n",
            "[core]\n\thooksPath = /tmp/h\n",
            "[core]\n\tpager = evil\n",
            "[core]\n\tworktree = /\n",
            "[filter \"lfs\"]\n\tclean = evil %f\n",
            "[diff \"x\"]\n\ttextconv = evil\n",
            "[merge \"x\"]\n\tdriver = evil\n",
            "[credential]\n\thelper = evil\n",
            "[include]\n\tpath = /tmp/other\n",
            "[includeIf \"gitdir:/\"]\n\tpath = /tmp/other\n",
            "[extensions]\n\tworktreeConfig = true\n",
            "[remote \"evil\"]\n\turl = /tmp/x\n",
            "[core]\n\tbare = false\n",
            "[core.fsmonitor]\n",
            "[core]\n\tfsmon\\\nitor = x\n",
            "[core]\n\tfilemode = true ; x\n",
            "[branch \"x\"]\n\tremote = evil\n",
            "bare = true\n",
        ] {
            let text = format!("{}{extra}", base());
            assert!(validate_config(&text, URL).is_err(), "accepted {extra:?}");
        }
        let other_url = base().replace(URL, "/tmp/elsewhere.git");
        assert!(validate_config(&other_url, URL).is_err());
        assert!(validate_config(&format!("url = x\n{}", base()), URL).is_err());
    }
}
