//! [`GitRepository`]: the cached clone of one repository and its worktrees.
//!
//! Layout under the work dir: `<work_dir>/<project>/repo` is a bare repository whose `origin`
//! fetches into `refs/remotes/origin/*`; `<work_dir>/<project>/worktrees/<ticket-id>/<name>` are
//! its worktrees; `<work_dir>/<project>/merges/<n>` are short-lived detached worktrees of
//! [`GitRepository::merge_branch_into`]; `<work_dir>/<project>/foreman/empty` is an empty
//! directory of Foreman's own (the hooks path, `HOME`, and the working directory of commands
//! outside any repository). Local branches are Foreman's own (ticket and task branches).
//!
//! Every command names its repository (`--git-dir`, and `--work-tree` in a worktree) from
//! Foreman's records, after the `guard` module checked the administrative files; see
//! `docs/security.md` ("Host git").

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use foreman_domain::TicketId;
use foreman_domain::commit_policy::{CommitRules, Violation, check_commit};
use foreman_domain::git::{
    ConflictFile, Diff, DiffSpec, DiffStat, FileStat, GitError, GitHealth, GitRepo, GitResult,
    Lease, MergeMethod, MergeOutcome, RebaseOutcome, Worktree, WorktreeSpec, is_safe_branch_name,
    sanitise,
};

use crate::cmd::{GitBin, Place, Run, hardening_config};
use crate::credentials::{Credentials, url_has_credentials};
use crate::disk;
use crate::guard::{FETCH_REFSPEC, Guard};
use crate::strays;

/// The default per-repository disk quota: 20 GiB.
pub const DEFAULT_DISK_QUOTA_BYTES: u64 = 20 * 1024 * 1024 * 1024;

/// The default cap on a diff's text: 2 MiB.
pub const DEFAULT_MAX_DIFF_BYTES: usize = 2 * 1024 * 1024;

/// How often [`GitRepository::merge_branch_into`] starts over when the base branch moved on the
/// remote between its fetch and its push.
pub const MERGE_ATTEMPTS: u32 = 3;

/// Names the temporary merge worktrees of this process.
/// How long [`GitRepo::recover_worktree`] waits for killed strays to be gone.
const STRAY_PATIENCE: Duration = Duration::from_secs(5);

static MERGE_SEQ: AtomicU64 = AtomicU64::new(0);

/// One merge lock per project directory, shared by every [`GitRepository`] of the process that
/// points at it (so two instances for one project cannot clear each other's merge worktrees).
static MERGE_LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Mutex::default);

fn merge_lock(project_dir: &Path) -> Arc<tokio::sync::Mutex<()>> {
    MERGE_LOCKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(project_dir.to_path_buf())
        .or_default()
        .clone()
}

/// The author of Foreman's commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `user.name`.
    pub name: String,
    /// `user.email`.
    pub email: String,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            name: "Foreman".to_owned(),
            email: "foreman@localhost".to_owned(),
        }
    }
}

/// How to reach and lay out one repository.
#[derive(Debug, Clone)]
pub struct RepoConfig {
    /// Project slug; names the directory under `work_dir`.
    pub project: String,
    /// Where to clone from (HTTPS, SSH or a local path). Must not carry credentials.
    pub clone_url: String,
    /// The branch pull requests target.
    pub default_branch: String,
    /// Root of all of Foreman's clones and worktrees.
    pub work_dir: PathBuf,
    /// Author and committer of Foreman's commits.
    pub author: Identity,
    /// How to authenticate to the remote.
    pub credentials: Credentials,
    /// The `git` binary (default: `git` on `PATH`).
    pub git_program: PathBuf,
    /// Timeout for local commands.
    pub local_timeout: Duration,
    /// Timeout for commands that talk to the remote.
    pub network_timeout: Duration,
    /// Worktrees may not be opened while the project's directory uses more than this.
    pub disk_quota_bytes: u64,
    /// Diff text beyond this is cut with a note.
    pub max_diff_bytes: usize,
    /// Ignore the machine's global and system git config, so behaviour does not depend on the
    /// host (default `true`).
    pub isolate_config: bool,
}

impl RepoConfig {
    /// A config with defaults for everything but the essentials.
    #[must_use]
    pub fn new(
        project: impl Into<String>,
        clone_url: impl Into<String>,
        default_branch: impl Into<String>,
        work_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            project: project.into(),
            clone_url: clone_url.into(),
            default_branch: default_branch.into(),
            work_dir: work_dir.into(),
            author: Identity::default(),
            credentials: Credentials::None,
            git_program: PathBuf::from("git"),
            local_timeout: Duration::from_secs(120),
            network_timeout: Duration::from_secs(600),
            disk_quota_bytes: DEFAULT_DISK_QUOTA_BYTES,
            max_diff_bytes: DEFAULT_MAX_DIFF_BYTES,
            isolate_config: true,
        }
    }
}

/// One repository's cached clone and worktrees, on the real `git` binary.
#[derive(Debug)]
pub struct GitRepository {
    config: RepoConfig,
    git: GitBin,
    // the checks of the clone's administrative files before each command
    guard: Guard,
    // Foreman's empty directory (hooks path, `HOME`, working directory outside repositories)
    empty: PathBuf,
    root: PathBuf,
    repo: PathBuf,
    worktrees: PathBuf,
    // when the last successful fetches started: a caller that asked before that moment is
    // served by it (concurrent syncs share one fetch)
    sync_lock: tokio::sync::Mutex<Fetched>,
    // `git worktree add/remove/prune` share the repository's administrative files (and names
    // derived from the directory's base name), so they run one at a time per repository
    // (write). Commands that read every worktree's administrative files (a fetch's
    // negotiation and connectivity check walk their HEADs; a checkout or branch delete checks
    // the branch is not checked out elsewhere) take it shared (read): `worktree add` writes a
    // placeholder HEAD before the real one, which those commands would take for a corrupt ref.
    admin_lock: tokio::sync::RwLock<()>,
    // the last disk usage measured and when (walking a large project directory on every
    // worktree added would dominate a busy daemon)
    usage: Mutex<Option<(Instant, u64)>>,
}

/// When the last successful fetches of everything and of the default branch started.
#[derive(Debug, Default)]
struct Fetched {
    all: Option<Instant>,
    default: Option<Instant>,
}

/// What a fetch brings in.
#[derive(Debug, Clone, Copy)]
enum FetchScope<'a> {
    /// Every branch (`--prune`d).
    All,
    /// The default branch.
    Default,
    /// The default branch, and a branch with every branch named after it (a ticket branch and
    /// its task branches; `--prune`d within that name).
    Branch(&'a str),
}

/// How long one disk usage measurement serves the quota check (while it left at least half of
/// the quota free).
const USAGE_TTL: Duration = Duration::from_secs(5);

impl GitRepository {
    /// Checks the config and prepares the runner. Nothing touches the disk until
    /// [`GitRepo::sync`].
    ///
    /// # Errors
    /// [`GitError::Invalid`] for an unusable project name, default branch, a relative work dir
    /// or a clone URL with credentials in it.
    pub fn new(config: RepoConfig) -> GitResult<Self> {
        if !foreman_domain::project::is_valid_project_name(&config.project) {
            return Err(GitError::Invalid(format!(
                "project name {:?} is not a valid slug",
                config.project
            )));
        }
        if !is_safe_branch_name(&config.default_branch) {
            return Err(GitError::Invalid(format!(
                "default branch {:?} is not a safe branch name",
                config.default_branch
            )));
        }
        if !config.work_dir.is_absolute() {
            return Err(GitError::Invalid(format!(
                "work dir {} must be an absolute path",
                config.work_dir.display()
            )));
        }
        if url_has_credentials(&config.clone_url) {
            return Err(GitError::Invalid(
                "the clone url carries credentials; configure a token instead".to_owned(),
            ));
        }
        if config.clone_url.trim().is_empty() {
            return Err(GitError::Invalid("the clone url is empty".to_owned()));
        }
        let env: Vec<(OsString, OsString)> = vec![
            ("GIT_EDITOR".into(), "true".into()),
            ("GIT_SEQUENCE_EDITOR".into(), "true".into()),
            ("GIT_MERGE_AUTOEDIT".into(), "no".into()),
            ("GIT_ASKPASS".into(), "".into()),
            ("SSH_ASKPASS".into(), "".into()),
        ];
        let root = config.work_dir.join(&config.project);
        let empty = root.join("foreman").join("empty");
        let mut git_config = hardening_config(&empty, config.isolate_config);
        git_config.extend([
            format!("user.name={}", config.author.name),
            format!("user.email={}", config.author.email),
            "commit.gpgsign=false".to_owned(),
            "tag.gpgsign=false".to_owned(),
            "core.autocrlf=false".to_owned(),
            "core.quotepath=false".to_owned(),
            "advice.detachedHead=false".to_owned(),
            "init.defaultBranch=main".to_owned(),
            "merge.conflictStyle=merge".to_owned(),
            "rebase.autoStash=false".to_owned(),
            "pull.rebase=false".to_owned(),
            "gc.auto=0".to_owned(),
            // no `git maintenance run --auto` process after every commit, merge and fetch:
            // the janitor runs it (see `GitRepository::maintain`)
            "maintenance.auto=false".to_owned(),
        ]);
        let git = GitBin {
            program: crate::cmd::resolve_program(&config.git_program),
            config: git_config,
            env,
            credentials: config.credentials.clone(),
            local_timeout: config.local_timeout,
            network_timeout: config.network_timeout,
            isolate: config.isolate_config,
            home: empty.clone(),
        };
        let repo = root.join("repo");
        Ok(Self {
            guard: Guard::new(repo.clone(), empty.clone(), config.clone_url.clone()),
            empty,
            repo,
            worktrees: root.join("worktrees"),
            root,
            git,
            config,
            sync_lock: tokio::sync::Mutex::new(Fetched::default()),
            admin_lock: tokio::sync::RwLock::new(()),
            usage: Mutex::new(None),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    /// The cached clone (a bare repository).
    #[must_use]
    pub fn repo_dir(&self) -> &Path {
        &self.repo
    }

    /// The directory holding every worktree of this repository.
    #[must_use]
    pub fn worktrees_dir(&self) -> &Path {
        &self.worktrees
    }

    /// The project's directory (clone plus worktrees), whose size the quota limits.
    #[must_use]
    pub fn project_dir(&self) -> &Path {
        &self.root
    }

    /// Where the worktree for `spec` lives.
    ///
    /// # Errors
    /// [`GitError::Invalid`] when the ticket id or name sanitise to nothing.
    pub fn worktree_path(&self, ticket_id: &TicketId, name: &str) -> GitResult<PathBuf> {
        let t = sanitise(ticket_id.as_str(), false);
        let n = sanitise(name, false);
        if t.is_empty() || n.is_empty() {
            return Err(GitError::Invalid(format!(
                "worktree name {:?}/{name:?} is empty after sanitising",
                ticket_id.as_str()
            )));
        }
        Ok(self.worktrees.join(t).join(n))
    }

    /// Bytes used by the project's directory now; also sets the `foreman_worktree_disk_bytes`
    /// gauge for the project.
    ///
    /// # Errors
    /// [`GitError::Io`] when the directory cannot be walked.
    pub async fn disk_usage(&self) -> GitResult<u64> {
        let root = self.root.clone();
        let bytes = tokio::task::spawn_blocking(move || disk::directory_bytes(&root))
            .await
            .map_err(|e| GitError::Io {
                context: "measuring disk usage".to_owned(),
                source: std::io::Error::other(e.to_string()),
            })?
            .map_err(|e| GitError::Io {
                context: format!("measuring disk usage of {}", self.root.display()),
                source: e,
            })?;
        disk::record_disk_usage(&self.config.project, bytes);
        *self.usage.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), bytes));
        Ok(bytes)
    }

    /// The disk usage for the quota check: a measurement of the last few seconds when it left
    /// at least half of the quota free, else a fresh one.
    async fn usage_for_quota(&self) -> GitResult<u64> {
        let recent = *self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        match recent {
            Some((at, bytes))
                if at.elapsed() < USAGE_TTL && bytes <= self.config.disk_quota_bytes / 2 =>
            {
                Ok(bytes)
            }
            _ => self.disk_usage().await,
        }
    }

    /// The administrative directory git keeps for the worktree at `path` (under the
    /// repository's `worktrees/`), from Foreman's records: found through the back-pointer in
    /// each administrative directory's `gitdir`, never through the worktree's own `.git` file.
    /// `None` for a directory git does not know (or no longer knows).
    async fn admin_dir(&self, path: &Path) -> GitResult<Option<PathBuf>> {
        let path = path.to_owned();
        Ok(self
            .guarded(move |g| g.record(&path))
            .await?
            .map(|r| r.admin))
    }

    /// Runs a check of [`Guard`] off the async threads (it reads a few small files).
    async fn guarded<T: Send + 'static>(
        &self,
        check: impl FnOnce(&Guard) -> GitResult<T> + Send + 'static,
    ) -> GitResult<T> {
        let guard = self.guard.clone();
        tokio::task::spawn_blocking(move || check(&guard))
            .await
            .map_err(|e| GitError::Io {
                context: "checking the repository's administrative files".to_owned(),
                source: std::io::Error::other(e.to_string()),
            })?
    }

    /// Where commands on the cached clone run, once its config, hooks and Foreman's empty
    /// directory passed the checks.
    ///
    /// # Errors
    /// [`GitError::Tampered`]; [`GitError::NotFound`] before the first sync.
    async fn repo_place(&self) -> GitResult<Place> {
        self.guarded(Guard::check_repo).await?;
        Ok(Place::bare(&self.repo))
    }

    /// Where commands in one of this repository's worktrees run: `--git-dir` its
    /// administrative directory from Foreman's records, `--work-tree` its path, once the
    /// repository and the worktree's files passed the checks.
    async fn wt_place(&self, wt: &Worktree) -> GitResult<Place> {
        self.checked(wt)?;
        self.place_at(&wt.path).await
    }

    /// [`Self::wt_place`] for any worktree of the repository (also the merge worktrees).
    async fn place_at(&self, path: &Path) -> GitResult<Place> {
        let owned = path.to_owned();
        let admin = self.guarded(move |g| g.check_worktree(&owned)).await?;
        Ok(Place::worktree(&admin, path))
    }

    /// Stages everything in the worktree and commits it when the staged paths pass the
    /// commit policy ([`check_commit`] with `rules`); returns the new commit, `None` when
    /// nothing changed. [`GitRepo::commit_all`] is this with [`CommitRules::secrets_only`].
    ///
    /// # Errors
    /// [`GitError::CommitRefused`] listing every offending path, repositories inside the
    /// worktree (gitlinks) included (the index is reset to `HEAD`,
    /// so nothing stays staged, and the files stay in the worktree);
    /// [`GitError::Tampered`]; [`GitError::Invalid`] for an empty message; git failures.
    pub async fn commit_checked(
        &self,
        worktree: &Worktree,
        message: &str,
        rules: &CommitRules,
    ) -> GitResult<Option<String>> {
        self.checked(worktree)?;
        if message.trim().is_empty() {
            return Err(GitError::Invalid("empty commit message".to_owned()));
        }
        let place = self.wt_place(worktree).await?;
        let local = self.git.local();
        self.git.run(&place, &["add", "-A"], local).await?;
        let staged = self.staged_entries(&place).await?;
        if staged.is_empty() {
            return Ok(None);
        }
        self.refuse_violations(&place, &staged, rules).await?;
        self.git
            .run(
                &place,
                &["commit", "--quiet", "--no-verify", "-m", message],
                local,
            )
            .await?;
        Ok(Some(self.head(worktree).await?))
    }

    /// The paths a commit of the worktree's index would add or change against `HEAD`
    /// (deletions left out), as git prints them.
    ///
    /// # Errors
    /// [`GitError::Tampered`]; git failures.
    pub async fn staged_paths(&self, worktree: &Worktree) -> GitResult<Vec<String>> {
        let place = self.wt_place(worktree).await?;
        self.staged_at(&place).await
    }

    async fn staged_at(&self, place: &Place) -> GitResult<Vec<String>> {
        Ok(self
            .staged_entries(place)
            .await?
            .into_iter()
            .map(|(path, _)| path)
            .collect())
    }

    /// The added or changed paths of the index against `HEAD`, each with whether it is a
    /// gitlink (mode 160000: a repository inside the worktree). One `diff --raw -z`.
    async fn staged_entries(&self, place: &Place) -> GitResult<Vec<(String, bool)>> {
        let out = self
            .git
            .run(
                place,
                &[
                    "diff",
                    "--cached",
                    "--raw",
                    "-z",
                    "--no-renames",
                    "--no-ext-diff",
                    "--no-textconv",
                    // gitlink commits show, without looking into the repositories
                    "--ignore-submodules=dirty",
                    "--diff-filter=d",
                    "HEAD",
                    "--",
                ],
                self.git.local(),
            )
            .await?;
        // `:<old mode> <new mode> <old sha> <new sha> <status>\0<path>\0`
        let mut entries = Vec::new();
        let mut fields = out.stdout.split('\0');
        while let Some(meta) = fields.next() {
            let Some(meta) = meta.strip_prefix(':') else {
                continue;
            };
            let Some(path) = fields.next() else { break };
            let gitlink = meta.split(' ').nth(1) == Some("160000");
            entries.push((path.to_owned(), gitlink));
        }
        Ok(entries)
    }

    /// Unstages everything and returns [`GitError::CommitRefused`] when `staged` breaks
    /// `rules` or holds a gitlink (a repository inside the worktree).
    async fn refuse_violations(
        &self,
        place: &Place,
        staged: &[(String, bool)],
        rules: &CommitRules,
    ) -> GitResult<()> {
        let mut violations = check_commit(staged.iter().map(|(p, _)| p.as_str()), rules);
        violations.extend(
            staged
                .iter()
                .filter(|(_, gitlink)| *gitlink)
                .map(|(path, _)| Violation::EmbeddedRepository { path: path.clone() }),
        );
        if violations.is_empty() {
            return Ok(());
        }
        self.git
            .run(place, &["reset", "--quiet"], self.git.local())
            .await?;
        tracing::warn!(worktree = %place.cwd().display(), violations = ?violations, "commit refused by the commit policy");
        Err(GitError::CommitRefused { violations })
    }

    /// `git worktree prune` (records of worktrees whose directories are gone), and Foreman's
    /// records of them.
    async fn prune_worktrees(&self) -> GitResult<()> {
        self.git
            .run(
                &self.repo_place().await?,
                &["worktree", "prune"],
                self.git.local(),
            )
            .await?;
        self.guarded(|g| {
            g.pruned();
            Ok(())
        })
        .await
    }

    /// Where commands outside any repository run (Foreman's empty directory).
    async fn outside_place(&self) -> GitResult<Place> {
        self.guarded(Guard::check_empty_dir).await?;
        Ok(Place::outside(&self.empty))
    }

    /// The commit a branch or remote-tracking ref (`refs/heads/…`, `refs/remotes/…`) points
    /// to, read from the repository's ref files (loose, then `packed-refs`) without starting
    /// git: `Some(None)` when the ref does not exist, `None` when the files cannot tell (another
    /// ref backend, a symbolic ref, an odd name), and git must be asked.
    async fn ref_from_files(&self, name: &str) -> Option<Option<String>> {
        let plain = (name.starts_with("refs/heads/") || name.starts_with("refs/remotes/"))
            && is_safe_branch_name(name)
            && !self.repo.join("reftable").exists();
        if !plain {
            return None;
        }
        let is_sha =
            |v: &str| matches!(v.len(), 40 | 64) && v.bytes().all(|b| b.is_ascii_hexdigit());
        match tokio::fs::read_to_string(self.repo.join(name)).await {
            Ok(v) => return is_sha(v.trim()).then(|| Some(v.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // e.g. a directory of that name (`refs/heads/a` when `refs/heads/a/b` exists)
            Err(_) => return None,
        }
        let packed = match tokio::fs::read_to_string(self.repo.join("packed-refs")).await {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(None),
            Err(_) => return None,
        };
        for line in packed.lines() {
            if let Some((sha, refname)) = line.split_once(' ')
                && refname == name
            {
                return is_sha(sha).then(|| Some(sha.to_owned()));
            }
        }
        Some(None)
    }

    /// The worktree registered at `path`, read from the files git keeps for it (see
    /// [`Self::admin_dir`]; its `HEAD` names the branch). Unlike `git worktree list`, whose
    /// cost grows with every worktree of the repository, this reads a few small files.
    async fn worktree_at(&self, path: &Path) -> GitResult<Option<Worktree>> {
        let Some(admin) = self.admin_dir(path).await? else {
            return Ok(None);
        };
        let head_file = tokio::fs::read_to_string(admin.join("HEAD"))
            .await
            .unwrap_or_default();
        let head_file = head_file.trim();
        let branch = head_file
            .strip_prefix("ref: refs/heads/")
            .unwrap_or_default()
            .to_owned();
        let from_files = if branch.is_empty() {
            // detached: HEAD holds the commit itself
            (!head_file.starts_with("ref:") && !head_file.is_empty())
                .then(|| Some(head_file.to_owned()))
        } else {
            self.ref_from_files(&format!("refs/heads/{branch}")).await
        };
        let head = match from_files {
            Some(head) => head.unwrap_or_default(),
            None => {
                let place = self.place_at(path).await?;
                self.rev(Some(&place), "HEAD").await?.unwrap_or_default()
            }
        };
        Ok(Some(Worktree {
            path: path.to_owned(),
            branch,
            head,
        }))
    }

    /// Every registered worktree under this repository's worktrees directory.
    ///
    /// # Errors
    /// Git failures.
    pub async fn list_worktrees(&self) -> GitResult<Vec<Worktree>> {
        if !self.repo.exists() {
            return Ok(Vec::new());
        }
        let out = self
            .git
            .text(
                &self.repo_place().await?,
                &["worktree", "list", "--porcelain"],
            )
            .await?;
        Ok(parse_worktree_list(&out)
            .into_iter()
            .filter(|w| w.path.starts_with(&self.worktrees))
            .collect())
    }

    /// Removes every worktree whose ticket `keep` rejects, with its task branches (branches
    /// containing `--task-`), then prunes git's records of worktrees whose directories are gone
    /// and deletes directories git does not know. Returns the removed paths.
    ///
    /// # Errors
    /// Git or file system failures.
    pub async fn sweep(
        &self,
        keep: &(dyn Fn(&TicketId) -> bool + Send + Sync),
    ) -> GitResult<Vec<PathBuf>> {
        let mut removed = Vec::new();
        if !self.repo.exists() {
            return Ok(removed);
        }
        let _admin = self.admin_lock.write().await;
        self.prune_worktrees().await?;
        let known = self.list_worktrees().await?;
        for wt in &known {
            let Some(ticket) = self.ticket_of(&wt.path) else {
                continue;
            };
            if keep(&ticket) {
                continue;
            }
            let task_branch = wt.branch.contains("--task-");
            self.remove_worktree_unlocked(wt, task_branch).await?;
            removed.push(wt.path.clone());
        }
        // directories no worktree claims (a crash between mkdir and `worktree add`)
        let mut entries = match tokio::fs::read_dir(&self.worktrees).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(io_err("listing worktrees", e)),
        };
        let known: Vec<PathBuf> = self
            .list_worktrees()
            .await?
            .into_iter()
            .map(|w| w.path)
            .collect();
        while let Some(ticket_dir) = entries
            .next_entry()
            .await
            .map_err(|e| io_err("listing worktrees", e))?
        {
            let path = ticket_dir.path();
            let ticket =
                TicketId::from_string(ticket_dir.file_name().to_string_lossy().into_owned());
            let in_use = known.iter().any(|k| k.starts_with(&path));
            if !keep(&ticket) && !in_use {
                tokio::fs::remove_dir_all(&path)
                    .await
                    .map_err(|e| io_err("removing an orphan worktree directory", e))?;
                removed.push(path);
            }
        }
        if !removed.is_empty() {
            tracing::info!(project = %self.config.project, removed = removed.len(), "swept worktrees");
        }
        Ok(removed)
    }

    /// Every branch of the remote as of the last [`GitRepo::sync`] (branch name → commit), read
    /// with one `git for-each-ref`.
    ///
    /// # Errors
    /// The git failure.
    pub async fn remote_heads(&self) -> GitResult<HashMap<String, String>> {
        let prefix = "refs/remotes/origin/";
        let out = self
            .git
            .text(
                &self.repo_place().await?,
                &["for-each-ref", "--format=%(objectname) %(refname)", prefix],
            )
            .await?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let (sha, name) = l.split_once(' ')?;
                let branch = name.strip_prefix(prefix)?;
                (branch != "HEAD").then(|| (branch.to_owned(), sha.to_owned()))
            })
            .collect())
    }

    /// The commit a branch points to on the remote (`ls-remote`), `None` when it does not exist.
    ///
    /// # Errors
    /// Git failures, [`GitError::RemoteUnreachable`].
    pub async fn remote_branch_head(&self, branch: &str) -> GitResult<Option<String>> {
        Self::checked_branch(branch)?;
        let dir = if self.repo.exists() {
            self.repo_place().await?
        } else {
            self.outside_place().await?
        };
        let target = if self.repo.exists() {
            "origin"
        } else {
            self.config.clone_url.as_str()
        };
        let out = self
            .git
            .run(
                &dir,
                &["ls-remote", target, &format!("refs/heads/{branch}")],
                self.git.network(),
            )
            .await?;
        Ok(out.stdout.split_whitespace().next().map(str::to_owned))
    }

    /// Whether `commit` is contained in `of` in the cached clone (call [`GitRepo::sync`] first).
    /// An unknown commit is not contained.
    ///
    /// # Errors
    /// Git failures.
    pub async fn is_ancestor(&self, commit: &str, of: &str) -> GitResult<bool> {
        for r in [commit, of] {
            if r.starts_with('-') || r.is_empty() {
                return Err(GitError::Invalid(format!("bad ref {r:?}")));
            }
        }
        let args = ["merge-base", "--is-ancestor", commit, of];
        let out = self
            .git
            .output(&self.repo_place().await?, &args, self.git.local(), &[])
            .await?;
        match out.status {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            // a commit this clone does not have is not an ancestor of anything it has
            _ if self.rev(None, commit).await?.is_none() || self.rev(None, of).await?.is_none() => {
                Ok(false)
            }
            _ => Err(self.git.failure(&args, &out)),
        }
    }

    /// Merges the remote branch `head` into the remote branch `base` and pushes `base`, the
    /// way a host's merge button does (the `local` host merges pull requests with it). Returns
    /// the base branch's new head commit.
    ///
    /// Fetches, then works in a temporary detached worktree under
    /// `<work_dir>/<project>/merges/` (outside the ticket worktrees, so hygiene never touches
    /// it, and without any local branch):
    /// - [`MergeMethod::Merge`]: from `origin/<base>`, `merge --no-ff -m <message>` of the head
    ///   commit;
    /// - [`MergeMethod::Squash`]: from `origin/<base>`, `merge --squash` of the head commit,
    ///   then one commit with `message`;
    /// - [`MergeMethod::Rebase`]: from `origin/<head>`, `rebase origin/<base>`: the head's
    ///   commits are replayed onto the base (Foreman as committer, authors kept; commits already
    ///   upstream are dropped and merge commits flattened, as `git rebase` does; `message` is
    ///   unused), and the base fast-forwards to them.
    ///
    /// The result is pushed with `--force-with-lease` expecting the base commit it started
    /// from, so nothing on the remote is ever overwritten; the worktree is removed whatever
    /// happened.
    ///
    /// Idempotent and safe to race: when the head commit is already contained in the base (or
    /// a squash or rebase would add nothing) nothing is committed or pushed and the current
    /// base commit is returned. Merges of one project are serialised in-process, and when
    /// the base moved on the remote meanwhile (another process, a person) the merge starts
    /// over from a fresh fetch, up to [`MERGE_ATTEMPTS`] times.
    ///
    /// # Errors
    /// [`GitError::Conflict`] naming the conflicted files (the merge is aborted and nothing is
    /// pushed); [`GitError::NotFound`] when either branch is missing on the remote;
    /// [`GitError::Invalid`] for unsafe branch names, `head == base` or an empty message;
    /// [`GitError::StaleLease`] when the base kept moving; push and other git failures.
    pub async fn merge_branch_into(
        &self,
        head: &str,
        base: &str,
        message: &str,
        method: MergeMethod,
    ) -> GitResult<String> {
        Self::checked_branch(head)?;
        Self::checked_branch(base)?;
        if head == base {
            return Err(GitError::Invalid(format!(
                "cannot merge branch {head} into itself"
            )));
        }
        if message.trim().is_empty() && method != MergeMethod::Rebase {
            return Err(GitError::Invalid("empty merge message".to_owned()));
        }
        let lock = merge_lock(&self.root);
        let _guard = lock.lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.merge_once(head, base, message, method).await {
                Err(GitError::StaleLease { stderr, .. }) if attempt < MERGE_ATTEMPTS => {
                    tracing::info!(project = %self.config.project, head, base, attempt, stderr = %stderr, "base branch moved during merge; starting over");
                }
                other => return other,
            }
        }
    }

    /// Where [`GitRepository::merge_branch_into`] makes its temporary worktrees.
    fn merges_dir(&self) -> PathBuf {
        self.root.join("merges")
    }

    /// One merge attempt: fetch, merge in a fresh worktree, push, clean up.
    async fn merge_once(
        &self,
        head: &str,
        base: &str,
        message: &str,
        method: MergeMethod,
    ) -> GitResult<String> {
        self.sync().await?;
        let remote = |b: &str| format!("refs/remotes/origin/{b}");
        let missing = |b: &str| GitError::NotFound {
            what: format!("branch {b} on the remote"),
        };
        let head_sha = self
            .rev(None, &remote(head))
            .await?
            .ok_or_else(|| missing(head))?;
        let base_sha = self
            .rev(None, &remote(base))
            .await?
            .ok_or_else(|| missing(base))?;
        if self.is_ancestor(&head_sha, &base_sha).await? {
            tracing::info!(project = %self.config.project, head, base, "already merged");
            return Ok(base_sha);
        }

        // worktrees left by a crash (merges are serialised, so none is in use now)
        let admin = self.admin_lock.write().await;
        let merges = self.merges_dir();
        if merges.exists() {
            tokio::fs::remove_dir_all(&merges)
                .await
                .map_err(|e| io_err("clearing stale merge worktrees", e))?;
        }
        self.prune_worktrees().await?;
        tokio::fs::create_dir_all(&merges)
            .await
            .map_err(|e| io_err("creating the merge directory", e))?;
        let dir = merges.join(format!(
            "{}-{}",
            std::process::id(),
            MERGE_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let dir_s = dir.to_string_lossy().into_owned();
        let start = if method == MergeMethod::Rebase {
            &head_sha
        } else {
            &base_sha
        };
        self.git
            .run(
                &self.repo_place().await?,
                &["worktree", "add", "--quiet", "--detach", &dir_s, start],
                self.git.local(),
            )
            .await?;
        drop(admin);
        let wt = Worktree {
            path: dir,
            branch: String::new(),
            head: start.clone(),
        };
        let merged = self
            .merge_in(&wt, (head, &head_sha), (base, &base_sha), message, method)
            .await;
        let result = match merged {
            Ok(new) if new != base_sha => {
                self.push_merge(base, &base_sha, &new).await.map(|()| new)
            }
            other => other,
        };
        let admin = self.admin_lock.write().await;
        let removed = self
            .git
            .run(
                &self.repo_place().await?,
                &["worktree", "remove", "--force", "--force", &dir_s],
                self.git.local(),
            )
            .await;
        drop(admin);
        if let Err(e) = removed {
            tracing::warn!(project = %self.config.project, path = %dir_s, error = %e, "could not remove a merge worktree; the next merge clears it");
        }
        if let Ok(new) = &result {
            tracing::info!(project = %self.config.project, head, base, method = %method, commit = %new, "merged and pushed");
        }
        result
    }

    /// Merges (squashes, rebases) in the temporary worktree, against exactly the head and base
    /// commits read before (a concurrent fetch may move the remote-tracking refs); returns its
    /// new `HEAD`.
    async fn merge_in(
        &self,
        wt: &Worktree,
        (head, head_sha): (&str, &str),
        (base, base_sha): (&str, &str),
        message: &str,
        method: MergeMethod,
    ) -> GitResult<String> {
        let dir = &self.place_at(&wt.path).await?;
        let (args, abort): (Vec<&str>, &[&str]) = match method {
            MergeMethod::Merge => (
                vec!["merge", "--no-ff", "--no-edit", "-m", message, head_sha],
                &["merge", "--abort"],
            ),
            // `merge --squash` records no merge in progress, so there is nothing to `--abort`
            MergeMethod::Squash => (
                vec!["merge", "--squash", head_sha],
                &["reset", "--hard", "--quiet"],
            ),
            // the worktree is at the head commit; hooks and ref updates stay out of it
            MergeMethod::Rebase => (
                vec!["rebase", "--no-verify", "--no-update-refs", base_sha],
                &["rebase", "--abort"],
            ),
        };
        let out = self.git.output(dir, &args, self.git.local(), &[]).await?;
        if !out.success() {
            let files = self.conflicts(wt).await?;
            let _ = self.git.output(dir, abort, self.git.local(), &[]).await;
            if files.is_empty() {
                return Err(self.git.failure(&args, &out));
            }
            tracing::info!(project = %self.config.project, head, base, files = files.len(), "merge stopped on conflicts; aborted");
            return Err(GitError::Conflict {
                head: head.to_owned(),
                base: base.to_owned(),
                files: files.into_iter().map(|f| f.path).collect(),
            });
        }
        if method == MergeMethod::Squash {
            let staged = self
                .git
                .output(dir, &["diff", "--cached", "--quiet"], self.git.local(), &[])
                .await?;
            match staged.status {
                // everything the head brings is in the base already
                Some(0) => {}
                Some(1) => {
                    self.git
                        .run(
                            dir,
                            &["commit", "--quiet", "--no-verify", "-m", message],
                            self.git.local(),
                        )
                        .await?;
                }
                _ => return Err(self.git.failure(&["diff", "--cached", "--quiet"], &staged)),
            }
        }
        self.git.text(dir, &["rev-parse", "HEAD"]).await
    }

    /// Pushes `commit` to the remote `base`, which must still be at `expect`.
    async fn push_merge(&self, base: &str, expect: &str, commit: &str) -> GitResult<()> {
        self.push_with_lease(
            base,
            &format!("--force-with-lease=refs/heads/{base}:{expect}"),
            &format!("{commit}:refs/heads/{base}"),
        )
        .await
    }

    /// `git push --porcelain origin <lease> <refspec>`, with the typed error on failure.
    async fn push_with_lease(&self, branch: &str, lease_arg: &str, refspec: &str) -> GitResult<()> {
        let args = ["push", "--porcelain", "origin", lease_arg, refspec];
        let out = self
            .git
            .output(&self.repo_place().await?, &args, self.git.network(), &[])
            .await?;
        if out.success() {
            return Ok(());
        }
        Err(self.push_failure(branch, &args, &out))
    }

    /// A `Tracking` push refused as stale, retried once when the remote branch holds a commit
    /// of the local branch's own history: an earlier push of ours whose answer was lost (killed
    /// by its timeout after the remote took it, or the tracking ref's update failed), so the
    /// tracking ref still names what came before. The retry expects exactly what the remote
    /// holds, so work someone else pushed (a commit this clone does not have in the branch's
    /// history) is never overwritten: `refused` is returned then.
    async fn push_over_own_earlier_push(
        &self,
        branch: &str,
        local: &str,
        refused: GitResult<()>,
    ) -> GitResult<()> {
        let out = self
            .git
            .output(
                &self.repo_place().await?,
                &["ls-remote", "origin", local],
                self.git.network(),
                &[],
            )
            .await?;
        let Some(remote) = out
            .success()
            .then(|| out.stdout.split_whitespace().next().map(str::to_owned))
            .flatten()
        else {
            return refused;
        };
        if !self.is_ancestor(&remote, local).await? {
            return refused;
        }
        tracing::info!(
            project = %self.config.project,
            branch,
            remote = %remote,
            "the remote branch holds an earlier push of this branch: pushing over it"
        );
        self.push_with_lease(
            branch,
            &format!("--force-with-lease={local}:{remote}"),
            &format!("{local}:{local}"),
        )
        .await
    }

    /// The typed error for a failed push.
    fn push_failure(&self, branch: &str, args: &[&str], out: &crate::cmd::Output) -> GitError {
        let all = format!("{}\n{}", out.stdout, out.stderr);
        if all.contains("stale info") {
            return GitError::StaleLease {
                branch: branch.to_owned(),
                stderr: all.trim().to_owned(),
            };
        }
        if all.contains("[rejected]") || all.contains("[remote rejected]") {
            return GitError::PushRejected {
                branch: branch.to_owned(),
                stderr: all.trim().to_owned(),
            };
        }
        self.git.failure(args, out)
    }

    fn ticket_of(&self, path: &Path) -> Option<TicketId> {
        let rel = path.strip_prefix(&self.worktrees).ok()?;
        let first = rel.components().next()?;
        match first {
            Component::Normal(s) => Some(TicketId::from_string(s.to_string_lossy().into_owned())),
            _ => None,
        }
    }

    /// Refuses worktrees outside this repository's worktrees directory.
    fn checked(&self, wt: &Worktree) -> GitResult<()> {
        let inside = wt.path.is_absolute()
            && wt.path.starts_with(&self.worktrees)
            && !wt
                .path
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::CurDir));
        if inside {
            Ok(())
        } else {
            Err(GitError::Invalid(format!(
                "worktree {} is outside {}",
                wt.path.display(),
                self.worktrees.display()
            )))
        }
    }

    fn checked_branch(branch: &str) -> GitResult<()> {
        if is_safe_branch_name(branch) {
            Ok(())
        } else {
            Err(GitError::Invalid(format!("unsafe branch name {branch:?}")))
        }
    }

    /// The commit `rev` names, in a worktree or (`None`) the cached clone.
    async fn rev(&self, at: Option<&Place>, rev: &str) -> GitResult<Option<String>> {
        if let Some(known) = self.ref_from_files(rev).await {
            return Ok(known);
        }
        let place = match at {
            Some(p) => p.clone(),
            None => self.repo_place().await?,
        };
        let out = self
            .git
            .output(
                &place,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{rev}^{{commit}}"),
                ],
                self.git.local(),
                &[],
            )
            .await?;
        Ok(out.success().then(|| out.stdout.trim().to_owned()))
    }

    async fn conflicts(&self, wt: &Worktree) -> GitResult<Vec<ConflictFile>> {
        // also the merge worktrees, outside the worktrees directory
        let out = self
            .git
            .run(
                &self.place_at(&wt.path).await?,
                &[
                    "diff",
                    "--name-only",
                    "--diff-filter=U",
                    "-z",
                    "--no-ext-diff",
                    "--no-textconv",
                ],
                self.git.local(),
            )
            .await?;
        let mut files = Vec::new();
        for path in out.stdout.split('\0').filter(|p| !p.is_empty()) {
            let content = match tokio::fs::read(wt.path.join(path)).await {
                Ok(bytes) => String::from_utf8(bytes).ok(),
                Err(_) => None,
            };
            files.push(ConflictFile {
                path: path.to_owned(),
                content,
            });
        }
        Ok(files)
    }

    /// Stages everything and refuses to go on while conflict markers remain.
    async fn stage_resolved(&self, wt: &Worktree) -> GitResult<()> {
        let place = self.wt_place(wt).await?;
        self.git
            .run(&place, &["add", "-A"], self.git.local())
            .await?;
        // a resolution commits what the worktree holds: no secret files either
        let staged = self.staged_entries(&place).await?;
        self.refuse_violations(&place, &staged, &CommitRules::secrets_only())
            .await?;
        let check = self
            .git
            .output(
                &place,
                &[
                    "diff",
                    "--cached",
                    "--check",
                    "--no-ext-diff",
                    "--no-textconv",
                    "HEAD",
                ],
                self.git.local(),
                &[],
            )
            .await?;
        if check.stdout.contains("leftover conflict marker") {
            let files: Vec<&str> = check
                .stdout
                .lines()
                .filter(|l| l.contains("leftover conflict marker"))
                .filter_map(|l| l.split(':').next())
                .collect();
            return Err(GitError::Invalid(format!(
                "conflict markers remain in {}",
                files.join(", ")
            )));
        }
        Ok(())
    }

    /// The worktree's administrative directory from Foreman's records.
    async fn git_dir(&self, wt: &Worktree) -> GitResult<PathBuf> {
        self.admin_dir(&wt.path)
            .await?
            .ok_or_else(|| GitError::NotFound {
                what: format!("worktree {}", wt.path.display()),
            })
    }

    /// Whether `HEAD` already contains `onto`: a rebase onto it has nothing to bring in. One
    /// `git rev-list --max-count=1 onto ^HEAD` (empty: no commit of `onto` is missing).
    ///
    /// `git rebase` itself would still replay a branch that holds merge commits (flattening
    /// them, which meets every conflict those merges resolved a second time); a ticket branch
    /// whose task merges were resolved is left as it is instead.
    async fn contains(&self, wt: &Worktree, onto: &str) -> GitResult<bool> {
        let exclude = "^HEAD";
        let out = self
            .git
            .text(
                &self.wt_place(wt).await?,
                &["rev-list", "--max-count=1", onto, exclude, "--"],
            )
            .await?;
        Ok(out.trim().is_empty())
    }

    async fn rebase_in_progress(&self, wt: &Worktree) -> GitResult<bool> {
        let dir = self.git_dir(wt).await?;
        Ok(dir.join("rebase-merge").exists() || dir.join("rebase-apply").exists())
    }

    async fn rebase_outcome(&self, wt: &Worktree, args: &[&str]) -> GitResult<RebaseOutcome> {
        let out = self
            .git
            .output(&self.wt_place(wt).await?, args, self.git.local(), &[])
            .await?;
        if out.success() && !self.rebase_in_progress(wt).await? {
            return Ok(RebaseOutcome::Rebased {
                head: self.head(wt).await?,
            });
        }
        if self.rebase_in_progress(wt).await? {
            let files = self.conflicts(wt).await?;
            if files.is_empty() {
                return Err(self.git.failure(args, &out));
            }
            let stopped_at = self
                .rev(Some(&self.wt_place(wt).await?), "REBASE_HEAD")
                .await?;
            tracing::info!(worktree = %wt.path.display(), files = files.len(), "rebase stopped on conflicts");
            return Ok(RebaseOutcome::Conflicts { stopped_at, files });
        }
        Err(self.git.failure(args, &out))
    }

    /// The diff command's arguments for a spec (after `diff`).
    fn diff_args(spec: &DiffSpec) -> GitResult<Vec<String>> {
        Ok(match spec {
            DiffSpec::WorkingTree => vec!["--cached".to_owned(), "HEAD".to_owned()],
            DiffSpec::Since { base } => {
                if base.starts_with('-') || base.is_empty() {
                    return Err(GitError::Invalid(format!("bad ref {base:?}")));
                }
                vec![
                    "--cached".to_owned(),
                    "--merge-base".to_owned(),
                    base.clone(),
                ]
            }
            DiffSpec::Range { base, head } => {
                for r in [base, head] {
                    if r.starts_with('-') || r.is_empty() {
                        return Err(GitError::Invalid(format!("bad ref {r:?}")));
                    }
                }
                vec![format!("{base}...{head}")]
            }
        })
    }

    /// Runs a diff; for the working tree, through a throwaway index (a copy of the worktree's
    /// own) so the worktree's index is untouched and untracked files show up.
    async fn run_diff(
        &self,
        wt: &Worktree,
        spec: &DiffSpec,
        format: &[&str],
        run: Run,
    ) -> GitResult<crate::cmd::Output> {
        self.checked(wt)?;
        let range = Self::diff_args(spec)?;
        let mut args: Vec<&str> =
            vec!["diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M"];
        args.extend_from_slice(format);
        args.extend(range.iter().map(String::as_str));
        match spec {
            DiffSpec::Range { .. } => {
                let out = self
                    .git
                    .output(&self.wt_place(wt).await?, &args, run, &[])
                    .await?;
                if out.success() {
                    Ok(out)
                } else {
                    Err(self.git.failure(&args, &out))
                }
            }
            DiffSpec::WorkingTree | DiffSpec::Since { .. } => {
                let admin = self.git_dir(wt).await?;
                let index = admin.join("foreman-diff-index");
                let index_os = OsString::from(index.as_os_str());
                let env = [("GIT_INDEX_FILE", &index_os)];
                // The throwaway index starts as a copy of the worktree's own (git replaces an
                // index by renaming, so the copy is a whole one): its stat cache lets `add -A`
                // hash only what changed, and it holds what a commit would take. Without one,
                // it is read from `HEAD` (every file hashed again).
                let preps: &[&[&str]] =
                    if tokio::fs::copy(admin.join("index"), &index).await.is_ok() {
                        &[&["add", "-A"]]
                    } else {
                        &[&["read-tree", "HEAD"], &["add", "-A"]]
                    };
                let staged: GitResult<crate::cmd::Output> = async {
                    for prep in preps.iter().copied() {
                        let out = self
                            .git
                            .output(&self.wt_place(wt).await?, prep, self.git.local(), &env)
                            .await?;
                        if !out.success() {
                            return Err(self.git.failure(prep, &out));
                        }
                    }
                    let out = self
                        .git
                        .output(&self.wt_place(wt).await?, &args, run, &env)
                        .await?;
                    if out.success() {
                        Ok(out)
                    } else {
                        Err(self.git.failure(&args, &out))
                    }
                }
                .await;
                let _ = tokio::fs::remove_file(&index).await;
                staged
            }
        }
    }
}

fn io_err(context: &str, source: std::io::Error) -> GitError {
    GitError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Parses `git worktree list --porcelain`.
fn parse_worktree_list(out: &str) -> Vec<Worktree> {
    let mut list = Vec::new();
    for block in out.split("\n\n") {
        let mut path = None;
        let mut head = String::new();
        let mut branch = String::new();
        for line in block.lines() {
            if let Some(p) = line.strip_prefix("worktree ") {
                path = Some(PathBuf::from(p));
            } else if let Some(h) = line.strip_prefix("HEAD ") {
                h.clone_into(&mut head);
            } else if let Some(b) = line.strip_prefix("branch ") {
                b.strip_prefix("refs/heads/")
                    .unwrap_or(b)
                    .clone_into(&mut branch);
            }
        }
        if let Some(path) = path {
            list.push(Worktree { path, branch, head });
        }
    }
    list
}

/// Parses `git diff --numstat -z`.
fn parse_numstat(out: &str) -> DiffStat {
    let mut stat = DiffStat::default();
    let mut fields = out.split('\0');
    while let Some(entry) = fields.next() {
        let entry = entry.trim_start_matches('\n');
        if entry.is_empty() {
            continue;
        }
        let mut parts = entry.splitn(3, '\t');
        let (Some(ins), Some(del), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let path = if path.is_empty() {
            // a rename: the old and new paths follow as their own fields
            let _old = fields.next();
            fields.next().unwrap_or_default().to_owned()
        } else {
            path.to_owned()
        };
        let insertions = ins.parse::<u64>().ok();
        let deletions = del.parse::<u64>().ok();
        stat.insertions += insertions.unwrap_or(0);
        stat.deletions += deletions.unwrap_or(0);
        stat.files.push(FileStat {
            path,
            insertions,
            deletions,
        });
    }
    stat
}

/// Untracked build and test artifacts that test runs leave in a worktree and that must never
/// be committed (they would also conflict between task branches). They go to the shared
/// `info/exclude`, so they only affect untracked files and never override a project's own
/// `.gitignore` or tracked files.
pub const BUILD_EXCLUDES: &[&str] = &[
    "__pycache__/",
    "*.pyc",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    "node_modules/",
    ".coverage",
];

async fn write_build_excludes(repo: &Path) -> GitResult<()> {
    let path = repo.join("info").join("exclude");
    let current = tokio::fs::read_to_string(&path).await.unwrap_or_default();
    if current.contains("# foreman build artifacts") {
        return Ok(());
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# foreman build artifacts\n");
    for p in BUILD_EXCLUDES {
        text.push_str(p);
        text.push('\n');
    }
    tokio::fs::create_dir_all(repo.join("info"))
        .await
        .map_err(|e| io_err("creating info/", e))?;
    tokio::fs::write(&path, text)
        .await
        .map_err(|e| io_err("writing info/exclude", e))
}

impl GitRepository {
    /// Creates the cached clone (a bare repository with `origin`) on first use.
    async fn ensure_clone(&self) -> GitResult<()> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|e| io_err("creating the project directory", e))?;
        if !self.repo.join("HEAD").exists() {
            let tmp = self.root.join("repo.init");
            let _ = tokio::fs::remove_dir_all(&tmp).await;
            let tmp_s = tmp.to_string_lossy().into_owned();
            self.git
                .run(
                    &self.outside_place().await?,
                    &["init", "--bare", "--quiet", &tmp_s],
                    self.git.local(),
                )
                .await?;
            self.git
                .run(
                    &Place::bare(&tmp),
                    &["config", "remote.origin.url", &self.config.clone_url],
                    self.git.local(),
                )
                .await?;
            self.git
                .run(
                    &Place::bare(&tmp),
                    &["config", "remote.origin.fetch", FETCH_REFSPEC],
                    self.git.local(),
                )
                .await?;
            tokio::fs::rename(&tmp, &self.repo)
                .await
                .map_err(|e| io_err("moving the new clone into place", e))?;
            tracing::info!(project = %self.config.project, "initialised cached clone");
        }
        write_build_excludes(&self.repo).await
    }

    /// Fetches `scope` from the remote into the cached clone (creating it on first use). A
    /// fetch that started after this call was made and covers `scope` serves it instead.
    async fn fetch(&self, scope: FetchScope<'_>) -> GitResult<()> {
        let asked = Instant::now();
        let mut fetched = self.sync_lock.lock().await;
        let served = |at: Option<Instant>| at.is_some_and(|started| started >= asked);
        match scope {
            FetchScope::All | FetchScope::Branch(_) if served(fetched.all) => return Ok(()),
            FetchScope::Default if served(fetched.all) || served(fetched.default) => {
                return Ok(());
            }
            _ => {}
        }
        let started = Instant::now();
        self.ensure_clone().await?;
        let default = self.config.default_branch.as_str();
        let default_spec = format!("+refs/heads/{default}:refs/remotes/origin/{default}");
        let mut args = vec!["fetch", "--quiet"];
        let branch_spec;
        match scope {
            FetchScope::All => args.extend(["--prune", "origin"]),
            FetchScope::Default => args.extend(["origin", &default_spec]),
            FetchScope::Branch(branch) => {
                // the pattern matches the branch itself and every `<branch>--task-N`
                branch_spec = format!("+refs/heads/{branch}*:refs/remotes/origin/{branch}*");
                args.extend(["--prune", "origin", &default_spec, &branch_spec]);
            }
        }
        {
            let _worktrees = self.admin_lock.read().await;
            self.git
                .run(&self.repo_place().await?, &args, self.git.network())
                .await?;
        }
        let tracking = format!("refs/remotes/origin/{default}");
        if self.rev(None, &tracking).await?.is_none() {
            return Err(GitError::NotFound {
                what: format!("default branch {default} on the remote"),
            });
        }
        match scope {
            FetchScope::All => {
                fetched.all = Some(started);
                fetched.default = Some(started);
            }
            FetchScope::Default | FetchScope::Branch(_) => fetched.default = Some(started),
        }
        Ok(())
    }

    /// Runs git's automatic maintenance (`git maintenance run --auto`: a `gc` once loose
    /// objects pile up) on the cached clone. Foreman's own git commands never start it, so a
    /// busy daemon does not spawn a maintenance process after every commit, merge and fetch;
    /// the janitor calls this instead.
    ///
    /// # Errors
    /// The git failure.
    pub async fn maintain(&self) -> GitResult<()> {
        if !self.repo.join("HEAD").exists() {
            return Ok(());
        }
        self.git
            .run(
                &self.repo_place().await?,
                &[
                    "-c",
                    "gc.auto=6700",
                    "-c",
                    "gc.autoDetach=false",
                    "-c",
                    "maintenance.autoDetach=false",
                    "maintenance",
                    "run",
                    "--auto",
                    "--quiet",
                ],
                self.git.local(),
            )
            .await?;
        // a gc prunes the records of worktrees whose directories are gone
        self.guarded(|g| {
            g.pruned();
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// [`GitRepo::delete_branch`] for callers that hold the administrative lock.
    async fn delete_branch_unlocked(&self, branch: &str) -> GitResult<()> {
        Self::checked_branch(branch)?;
        if self
            .rev(None, &format!("refs/heads/{branch}"))
            .await?
            .is_none()
        {
            return Ok(());
        }
        let args = ["branch", "-D", "--quiet", branch];
        if !self
            .git
            .output(&self.repo_place().await?, &args, self.git.local(), &[])
            .await?
            .success()
        {
            // a worktree git still records after its directory went (a crash) holds the
            // branch: forget such records, then try again
            self.prune_worktrees().await?;
            self.git
                .run(&self.repo_place().await?, &args, self.git.local())
                .await?;
        }
        Ok(())
    }

    /// [`GitRepo::remove_worktree`] for callers that hold the administrative lock.
    async fn remove_worktree_unlocked(
        &self,
        worktree: &Worktree,
        delete_branch: bool,
    ) -> GitResult<()> {
        self.checked(worktree)?;
        let path_s = worktree.path.to_string_lossy().into_owned();
        let registered = self.worktree_at(&worktree.path).await?.is_some();
        if registered {
            let removed = self
                .git
                .run(
                    &self.repo_place().await?,
                    &["worktree", "remove", "--force", "--force", &path_s],
                    self.git.local(),
                )
                .await;
            if let Err(e) = removed {
                // git validates the worktree's `.git` before removing it; one that was tampered
                // with is removed by hand, and git forgets it on the prune
                tracing::warn!(worktree = %path_s, error = %e, "git could not remove a worktree; removing its directory");
                if worktree.path.exists() {
                    tokio::fs::remove_dir_all(&worktree.path)
                        .await
                        .map_err(|e| io_err("removing a worktree directory", e))?;
                }
                self.prune_worktrees().await?;
            }
            let path = worktree.path.clone();
            self.guarded(move |g| {
                g.forget(&path);
                Ok(())
            })
            .await?;
        } else if worktree.path.exists() {
            tokio::fs::remove_dir_all(&worktree.path)
                .await
                .map_err(|e| io_err("removing a worktree directory", e))?;
        }
        if let Some(parent) = worktree.path.parent() {
            // drop the ticket directory once its last worktree is gone (fails harmlessly if not empty)
            if parent != self.worktrees {
                let _ = tokio::fs::remove_dir(parent).await;
            }
        }
        if delete_branch && !worktree.branch.is_empty() {
            self.delete_branch_unlocked(&worktree.branch).await?;
        }
        tracing::info!(project = %self.config.project, path = %worktree.path.display(), "worktree removed");
        Ok(())
    }
}

impl GitRepository {
    /// Runs `git <args>` in the cached clone (after the clone's checks), stdout capped at
    /// `max_stdout` bytes, for the read-mostly commands of the crate's other modules
    /// (`history.rs`). The output is returned whatever the exit code.
    pub(crate) async fn in_clone(
        &self,
        args: &[&str],
        max_stdout: usize,
    ) -> GitResult<crate::cmd::Output> {
        let run = Run {
            max_stdout,
            ..self.git.local()
        };
        self.git
            .output(&self.repo_place().await?, args, run, &[])
            .await
    }
}

#[async_trait]
impl GitRepo for GitRepository {
    fn default_branch(&self) -> &str {
        &self.config.default_branch
    }

    async fn sync(&self) -> GitResult<()> {
        self.fetch(FetchScope::All).await
    }

    async fn sync_default(&self) -> GitResult<()> {
        self.fetch(FetchScope::Default).await
    }

    async fn sync_branch(&self, branch: &str) -> GitResult<()> {
        Self::checked_branch(branch)?;
        self.fetch(FetchScope::Branch(branch)).await
    }

    async fn add_worktree(&self, spec: &WorktreeSpec) -> GitResult<Worktree> {
        Self::checked_branch(&spec.branch)?;
        let _admin = self.admin_lock.write().await;
        if spec.start_point.starts_with('-') || spec.start_point.is_empty() {
            return Err(GitError::Invalid(format!(
                "bad start point {:?}",
                spec.start_point
            )));
        }
        let path = self.worktree_path(&spec.ticket_id, &spec.name)?;
        if let Some(existing) = self.worktree_at(&path).await? {
            return Ok(existing);
        }
        let used = self.usage_for_quota().await?;
        if used > self.config.disk_quota_bytes {
            tracing::warn!(project = %self.config.project, used, quota = self.config.disk_quota_bytes, "disk quota exceeded");
            return Err(GitError::QuotaExceeded {
                used_bytes: used,
                quota_bytes: self.config.disk_quota_bytes,
            });
        }
        if path.exists() {
            // a directory git does not know: the remains of a crash
            tokio::fs::remove_dir_all(&path)
                .await
                .map_err(|e| io_err("clearing a stale worktree directory", e))?;
        }
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_err("creating the worktree directory", e))?;
        }
        let path_s = path.to_string_lossy().into_owned();
        let exists = self
            .rev(None, &format!("refs/heads/{}", spec.branch))
            .await?
            .is_some();
        if !exists && self.rev(None, &spec.start_point).await?.is_none() {
            return Err(GitError::NotFound {
                what: format!("start point {}", spec.start_point),
            });
        }
        let args: Vec<&str> = if exists {
            vec!["worktree", "add", "--quiet", &path_s, &spec.branch]
        } else {
            vec![
                "worktree",
                "add",
                "--quiet",
                "--no-track",
                "-b",
                &spec.branch,
                &path_s,
                &spec.start_point,
            ]
        };
        let first = self
            .git
            .output(&self.repo_place().await?, &args, self.git.local(), &[])
            .await?;
        if !first.success() {
            // git may still record a worktree whose directory is gone (a crash, a manual
            // delete), which blocks its path and branch: forget those records, then try again
            self.prune_worktrees().await?;
            if !exists {
                // the failed attempt may have created the branch before giving up
                let _ = self
                    .git
                    .output(
                        &self.repo_place().await?,
                        &["branch", "--delete", "--force", "--", &spec.branch],
                        self.git.local(),
                        &[],
                    )
                    .await?;
            }
            self.git
                .run(&self.repo_place().await?, &args, self.git.local())
                .await?;
        }
        let head = match self.worktree_at(&path).await? {
            Some(w) if !w.head.is_empty() => w.head,
            _ => {
                self.git
                    .text(&self.place_at(&path).await?, &["rev-parse", "HEAD"])
                    .await?
            }
        };
        let wt = Worktree {
            head,
            path,
            branch: spec.branch.clone(),
        };
        tracing::info!(project = %self.config.project, branch = %wt.branch, path = %wt.path.display(), "worktree added");
        Ok(wt)
    }

    async fn remove_worktree(&self, worktree: &Worktree, delete_branch: bool) -> GitResult<()> {
        let _admin = self.admin_lock.write().await;
        self.remove_worktree_unlocked(worktree, delete_branch).await
    }

    async fn ticket_worktrees(&self, ticket_id: &TicketId) -> GitResult<Vec<Worktree>> {
        // the ticket's own directory only: its cost does not grow with other tickets' worktrees
        let dir = self.worktrees.join(sanitise(ticket_id.as_str(), false));
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("listing the ticket's worktrees", e)),
        };
        let mut found = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io_err("listing the ticket's worktrees", e))?
        {
            if let Some(wt) = self.worktree_at(&entry.path()).await? {
                found.push(wt);
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }

    async fn recover_worktree(&self, worktree: &Worktree) -> GitResult<Vec<String>> {
        self.checked(worktree)?;
        let dir = worktree.path.as_path();
        let mut repaired = Vec::new();
        if !dir.exists() {
            return Ok(repaired);
        }
        let killed = strays::clear(dir, STRAY_PATIENCE).await;
        if killed > 0 {
            repaired.push(format!("killed {killed} process(es) of the earlier run"));
        }
        let place = self.wt_place(worktree).await?;
        let git_dir = self.git_dir(worktree).await?;
        let lock = git_dir.join("index.lock");
        if lock.exists() {
            tokio::fs::remove_file(&lock)
                .await
                .map_err(|e| io_err("removing a stale index.lock", e))?;
            repaired.push("removed a stale index.lock".to_owned());
        }
        let local = self.git.local();
        if self.rebase_in_progress(worktree).await? {
            let aborted = self
                .git
                .output(&place, &["rebase", "--abort"], local, &[])
                .await?;
            if !aborted.success() {
                for d in ["rebase-merge", "rebase-apply"] {
                    let _ = tokio::fs::remove_dir_all(git_dir.join(d)).await;
                }
            }
            repaired.push("gave up an interrupted rebase".to_owned());
        }
        for (marker, args, what) in [
            (
                "MERGE_HEAD",
                ["merge", "--abort"],
                "gave up an interrupted merge",
            ),
            (
                "CHERRY_PICK_HEAD",
                ["cherry-pick", "--abort"],
                "gave up an interrupted cherry-pick",
            ),
        ] {
            if git_dir.join(marker).exists() {
                let aborted = self.git.output(&place, &args, local, &[]).await?;
                if !aborted.success() {
                    let _ = tokio::fs::remove_file(git_dir.join(marker)).await;
                }
                repaired.push(what.to_owned());
            }
        }
        // One call tells both where HEAD is and whether anything is uncommitted.
        let status = self
            .git
            .text(
                &place,
                &[
                    "status",
                    "--porcelain=v2",
                    "--branch",
                    "--ignore-submodules=all",
                ],
            )
            .await?;
        let on_branch = status
            .lines()
            .any(|l| l.strip_prefix("# branch.head ") == Some(worktree.branch.as_str()));
        if !on_branch {
            Self::checked_branch(&worktree.branch)?;
            let _worktrees = self.admin_lock.read().await;
            self.git
                .run(
                    &place,
                    &["checkout", "--quiet", "--force", &worktree.branch],
                    local,
                )
                .await?;
            repaired.push(format!("checked out {} again", worktree.branch));
        }
        if status.lines().any(|l| !l.starts_with('#')) {
            self.git
                .run(&place, &["reset", "--hard", "--quiet"], local)
                .await?;
            self.git
                .run(&place, &["clean", "-fd", "--quiet"], local)
                .await?;
            repaired.push("discarded uncommitted changes".to_owned());
        }
        if !repaired.is_empty() {
            tracing::warn!(worktree = %dir.display(), repaired = ?repaired, "recovered a worktree an interrupted run left behind");
        }
        Ok(repaired)
    }

    async fn switch_branch(
        &self,
        worktree: &Worktree,
        branch: &str,
        start_point: Option<&str>,
    ) -> GitResult<Worktree> {
        self.checked(worktree)?;
        Self::checked_branch(branch)?;
        // a branch another node checkpointed is known here only as its remote-tracking ref
        let tracking = format!("refs/remotes/origin/{branch}");
        let remote_only = start_point.is_none()
            && self
                .rev(None, &format!("refs/heads/{branch}"))
                .await?
                .is_none()
            && self.rev(None, &tracking).await?.is_some();
        let start_point = if remote_only {
            Some(tracking.as_str())
        } else {
            start_point
        };
        let mut args = vec!["checkout", "--quiet"];
        if let Some(start) = start_point {
            if start.starts_with('-') || start.is_empty() {
                return Err(GitError::Invalid(format!("bad start point {start:?}")));
            }
            args.extend(["-B", branch, start, "--"]);
        } else {
            args.extend([branch, "--"]);
        }
        {
            let _worktrees = self.admin_lock.read().await;
            self.git
                .run(&self.wt_place(worktree).await?, &args, self.git.local())
                .await?;
        }
        let switched = Worktree {
            branch: branch.to_owned(),
            ..worktree.clone()
        };
        let head = self.head(&switched).await?;
        tracing::debug!(worktree = %worktree.path.display(), branch, "switched branch");
        Ok(Worktree { head, ..switched })
    }

    async fn head(&self, worktree: &Worktree) -> GitResult<String> {
        // read from the files when they tell, but only from files that passed the checks
        self.wt_place(worktree).await?;
        if let Some(wt) = self.worktree_at(&worktree.path).await?
            && !wt.head.is_empty()
        {
            return Ok(wt.head);
        }
        self.git
            .text(&self.wt_place(worktree).await?, &["rev-parse", "HEAD"])
            .await
    }

    async fn commit_all(&self, worktree: &Worktree, message: &str) -> GitResult<Option<String>> {
        // secret files are never committed, whatever the caller allowed
        self.commit_checked(worktree, message, &CommitRules::secrets_only())
            .await
    }

    async fn diff(&self, worktree: &Worktree, spec: &DiffSpec) -> GitResult<Diff> {
        let max = self.config.max_diff_bytes;
        let run = Run {
            max_stdout: max,
            ..self.git.local()
        };
        let out = self.run_diff(worktree, spec, &["--patch"], run).await?;
        Ok(crate::cmd::capped(out))
    }

    async fn diff_stat(&self, worktree: &Worktree, spec: &DiffSpec) -> GitResult<DiffStat> {
        let out = self
            .run_diff(worktree, spec, &["--numstat", "-z"], self.git.local())
            .await?;
        Ok(parse_numstat(&out.stdout))
    }

    async fn merge(
        &self,
        worktree: &Worktree,
        branch: &str,
        message: &str,
    ) -> GitResult<MergeOutcome> {
        self.checked(worktree)?;
        Self::checked_branch(branch)?;
        // `--ff` whatever the user's `merge.ff`: a branch with nothing of its own takes the
        // task's commits as they are (no merge commit for a later rebase to flatten)
        let args = ["merge", "--ff", "--no-edit", "-m", message, branch];
        let out = self
            .git
            .output(
                &self.wt_place(worktree).await?,
                &args,
                self.git.local(),
                &[],
            )
            .await?;
        if out.success() {
            return Ok(MergeOutcome::Merged {
                head: self.head(worktree).await?,
            });
        }
        let files = self.conflicts(worktree).await?;
        if files.is_empty() {
            return Err(self.git.failure(&args, &out));
        }
        tracing::info!(worktree = %worktree.path.display(), branch, files = files.len(), "merge stopped on conflicts");
        Ok(MergeOutcome::Conflicts { files })
    }

    async fn conclude_merge(&self, worktree: &Worktree) -> GitResult<String> {
        self.checked(worktree)?;
        self.stage_resolved(worktree).await?;
        self.git
            .run(
                &self.wt_place(worktree).await?,
                &["commit", "--quiet", "--no-verify", "--no-edit"],
                self.git.local(),
            )
            .await?;
        self.head(worktree).await
    }

    async fn abort_merge(&self, worktree: &Worktree) -> GitResult<()> {
        self.checked(worktree)?;
        self.git
            .run(
                &self.wt_place(worktree).await?,
                &["merge", "--abort"],
                self.git.local(),
            )
            .await?;
        Ok(())
    }

    async fn rebase(&self, worktree: &Worktree, onto: &str) -> GitResult<RebaseOutcome> {
        self.checked(worktree)?;
        if onto.starts_with('-') || onto.is_empty() {
            return Err(GitError::Invalid(format!("bad ref {onto:?}")));
        }
        if self
            .rev(Some(&self.wt_place(worktree).await?), onto)
            .await?
            .is_none()
        {
            return Err(GitError::NotFound {
                what: format!("ref {onto}"),
            });
        }
        if self.contains(worktree, onto).await? {
            // nothing to bring in: no rebase's processes and files, and no replay of resolved
            // task merges
            return Ok(RebaseOutcome::Rebased {
                head: self.head(worktree).await?,
            });
        }
        self.rebase_outcome(worktree, &["rebase", onto]).await
    }

    async fn continue_rebase(&self, worktree: &Worktree) -> GitResult<RebaseOutcome> {
        self.checked(worktree)?;
        if !self.rebase_in_progress(worktree).await? {
            return Err(GitError::Invalid("no rebase in progress".to_owned()));
        }
        self.stage_resolved(worktree).await?;
        self.rebase_outcome(worktree, &["rebase", "--continue"])
            .await
    }

    async fn abort_rebase(&self, worktree: &Worktree) -> GitResult<()> {
        self.checked(worktree)?;
        self.git
            .run(
                &self.wt_place(worktree).await?,
                &["rebase", "--abort"],
                self.git.local(),
            )
            .await?;
        Ok(())
    }

    async fn push(&self, branch: &str, lease: &Lease) -> GitResult<()> {
        Self::checked_branch(branch)?;
        let local = format!("refs/heads/{branch}");
        if self.rev(None, &local).await?.is_none() {
            return Err(GitError::NotFound {
                what: format!("branch {branch}"),
            });
        }
        let expect = match lease {
            Lease::Expect(sha) => sha.clone(),
            Lease::Absent => String::new(),
            Lease::Tracking => self
                .rev(None, &format!("refs/remotes/origin/{branch}"))
                .await?
                .unwrap_or_default(),
        };
        let pushed = self
            .push_with_lease(
                branch,
                &format!("--force-with-lease={local}:{expect}"),
                &format!("{local}:{local}"),
            )
            .await;
        match pushed {
            Err(GitError::StaleLease { .. }) if matches!(lease, Lease::Tracking) => {
                self.push_over_own_earlier_push(branch, &local, pushed)
                    .await?;
            }
            other => other?,
        }
        tracing::info!(project = %self.config.project, branch, "pushed");
        Ok(())
    }

    async fn delete_branch(&self, branch: &str) -> GitResult<()> {
        // `branch -D` checks every worktree's HEAD, and the retry prunes worktree records
        let _admin = self.admin_lock.write().await;
        self.delete_branch_unlocked(branch).await
    }

    async fn check(&self) -> GitResult<GitHealth> {
        let dir = if self.repo.exists() {
            self.repo_place().await?
        } else {
            self.outside_place().await?
        };
        let version = self.git.text(&dir, &["--version"]).await?;
        let version = version.trim_start_matches("git version ").trim().to_owned();
        let target = if self.repo.exists() {
            "origin"
        } else {
            self.config.clone_url.as_str()
        };
        let branch_ref = format!("refs/heads/{}", self.config.default_branch);
        let out = self
            .git
            .run(
                &dir,
                &["ls-remote", target, &branch_ref],
                self.git.network(),
            )
            .await?;
        let remote_head = out.stdout.split_whitespace().next().map(str::to_owned);
        if remote_head.is_none() {
            return Err(GitError::NotFound {
                what: format!(
                    "default branch {} on the remote",
                    self.config.default_branch
                ),
            });
        }
        Ok(GitHealth {
            version,
            remote_head,
        })
    }

    async fn default_branch_commit(&self) -> GitResult<Option<String>> {
        if !self.repo.join("HEAD").exists() {
            // not cloned yet: nothing fetched
            return Ok(None);
        }
        self.rev(
            None,
            &format!("refs/remotes/origin/{}", self.config.default_branch),
        )
        .await
    }

    async fn files_at(
        &self,
        commit: &str,
        dir: &str,
        file_name: &str,
        max_bytes: usize,
    ) -> GitResult<Vec<(String, Vec<u8>)>> {
        committed_files(self, commit, dir, file_name, max_bytes).await
    }
}

/// [`GitRepo::files_at`]: `git ls-tree` of `dir` at `commit`, then one `git cat-file blob` per
/// matching regular file (symbolic links and submodules are not read), each capped at
/// `max_bytes + 1` bytes.
async fn committed_files(
    repo: &GitRepository,
    commit: &str,
    dir: &str,
    file_name: &str,
    max_bytes: usize,
) -> GitResult<Vec<(String, Vec<u8>)>> {
    let is_sha = matches!(commit.len(), 40 | 64) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_sha {
        return Err(GitError::Invalid(format!("{commit:?} is not a commit id")));
    }
    let dir = dir.trim_matches('/');
    let bad_dir = dir.is_empty()
        || dir.starts_with('-')
        || dir
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad_dir || file_name.is_empty() || file_name.contains('/') {
        return Err(GitError::Invalid(format!(
            "{dir:?}/{file_name:?} is not a plain relative path"
        )));
    }
    let place = repo.repo_place().await?;
    let listing = repo
        .git
        .run(
            &place,
            &["ls-tree", "-r", "-z", "--full-tree", commit, "--", dir],
            repo.git.local(),
        )
        .await?;
    let mut wanted = Vec::new();
    for entry in listing.stdout.split('\0') {
        // `<mode> <type> <object>\t<path>`
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let mut meta = meta.split(' ');
        let (Some(mode), Some(kind), Some(object)) = (meta.next(), meta.next(), meta.next()) else {
            continue;
        };
        let named = path.rsplit('/').next() == Some(file_name);
        let inside = path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
        if kind == "blob" && mode != "120000" && named && inside {
            wanted.push((path.to_owned(), object.to_owned()));
            if wanted.len() == foreman_domain::git::MAX_COMMITTED_FILES {
                break;
            }
        }
    }
    let run = Run {
        max_stdout: max_bytes.saturating_add(1),
        ..repo.git.local()
    };
    let mut files = Vec::with_capacity(wanted.len());
    for (path, object) in wanted {
        let out = repo
            .git
            .run(&place, &["cat-file", "blob", &object], run)
            .await?;
        let mut bytes = out.stdout.into_bytes();
        if usize::try_from(out.stdout_total).unwrap_or(usize::MAX) > max_bytes {
            // too large: what the caller needs to see is that, not the text
            bytes.resize(max_bytes.saturating_add(1), b' ');
        } else {
            bytes.truncate(max_bytes);
        }
        files.push((path, bytes));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_with_renames_and_binaries() {
        let out = "3\t1\tsrc/a.rs\0-\t-\tlogo.png\x000\t0\t\0old name.txt\0new name.txt\0";
        let s = parse_numstat(out);
        assert_eq!(s.insertions, 3);
        assert_eq!(s.deletions, 1);
        assert_eq!(s.files.len(), 3);
        assert_eq!(s.files[1].insertions, None);
        assert_eq!(s.files[2].path, "new name.txt");
    }

    #[test]
    fn worktree_list_porcelain() {
        let out = "worktree /w/repo\nbare\n\nworktree /w/wt/t1/ticket\nHEAD abc\nbranch refs/heads/foreman/A-1-x\n\nworktree /w/wt/t1/task-1\nHEAD def\ndetached\n";
        let l = parse_worktree_list(out);
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].branch, "foreman/A-1-x");
        assert_eq!(l[2].head, "def");
        assert_eq!(l[2].branch, "");
    }
}
