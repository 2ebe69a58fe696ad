//! `foreman doctor`: checks that a configuration can work before the server runs it.
//!
//! [`run`] checks, each as one [`Check`] with what is wrong and how to fix it: the `git` binary
//! and its version; that the database opens and is migrated (without creating or migrating
//! it); that every LLM provider the `[llm]` models use has its API key (no network call); and
//! for every project (the default one, then `[[projects]]`) that the repository answers and
//! has its default branch, that the git host answers and accepts the credentials, and that the
//! tracker does.
//!
//! The adapters are built by [`crate::adapters`], the same code the daemon and the webhook
//! receivers use, so the doctor checks exactly what the server will run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use foreman_config::{Config, DatabaseDriver};
use foreman_domain::git::{GitError, GitRepo, HostError};
use foreman_domain::remote::RemoteError;
use foreman_domain::tracker::TrackerError;
use foreman_domain::{EventLog, SettingsStore, Store, TicketStore};

use crate::adapters::{
    ProjectSpec, build_host, build_repo, build_tracker, is_local, project_specs,
};

/// How long one network check (repository, host, tracker) may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// Works.
    Pass,
    /// Does not work; `foreman doctor` exits 1.
    Fail,
    /// Not checked (nothing to check, or an earlier failure makes it impossible); does not
    /// fail the run.
    Skip,
}

impl CheckStatus {
    /// `✓`, `✗` or `–`.
    #[must_use]
    pub const fn mark(self) -> &'static str {
        match self {
            Self::Pass => "✓",
            Self::Fail => "✗",
            Self::Skip => "–",
        }
    }
}

/// One line of the doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The project it concerns (`None` for process-wide checks).
    pub project: Option<String>,
    /// What was checked: `git`, `database`, `llm`, `repository`, `git host`, `tracker`,
    /// `webhooks`, `config`.
    pub subject: String,
    /// How it ended.
    pub status: CheckStatus,
    /// What was found (on failure: exactly what is wrong).
    pub detail: String,
    /// How to fix it (failures only).
    pub fix: Option<String>,
}

impl Check {
    /// A check; `detail` is folded onto one line (git's messages span several).
    fn new(project: Option<&str>, subject: &str, status: CheckStatus, detail: String) -> Self {
        Self {
            project: project.map(str::to_owned),
            subject: subject.to_owned(),
            status,
            detail: one_line(&detail),
            fix: None,
        }
    }

    /// A passed check.
    #[must_use]
    pub fn pass(project: Option<&str>, subject: &str, detail: impl Into<String>) -> Self {
        Self::new(project, subject, CheckStatus::Pass, detail.into())
    }

    /// A failed check with its fix.
    #[must_use]
    pub fn fail(
        project: Option<&str>,
        subject: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        let mut c = Self::new(project, subject, CheckStatus::Fail, detail.into());
        c.fix = Some(fix.into());
        c
    }

    /// A skipped check.
    #[must_use]
    pub fn skip(project: Option<&str>, subject: &str, detail: impl Into<String>) -> Self {
        Self::new(project, subject, CheckStatus::Skip, detail.into())
    }
}

impl fmt::Display for Check {
    /// `✓ [project] subject: detail`, with `    fix: ...` on a second line for failures.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.status.mark())?;
        if let Some(p) = &self.project {
            write!(f, "[{p}] ")?;
        }
        write!(f, "{}: {}", self.subject, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n    fix: {fix}")?;
        }
        Ok(())
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether no check failed.
#[must_use]
pub fn all_passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != CheckStatus::Fail)
}

/// Runs every check against `config` with the process environment (for LLM keys).
pub async fn run(config: &Config, data_dir: &Path) -> Vec<Check> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    run_with_env(config, data_dir, &env).await
}

/// [`run`] with an explicit environment.
pub async fn run_with_env(
    config: &Config,
    data_dir: &Path,
    env: &BTreeMap<String, String>,
) -> Vec<Check> {
    let mut checks = vec![check_git_binary().await];
    let (db, store) = check_database(config, data_dir).await;
    checks.push(db);
    checks.extend(check_llm(config, env));
    let work_dir = work_dir(config, data_dir);
    checks.push(check_sandbox(config, data_dir, &work_dir));
    let specs = project_specs(config);
    if specs.iter().all(|s| s.git.clone_url.is_empty()) {
        checks.push(Check::fail(
            None,
            "repository",
            "no project has git.clone_url set, so the daemon has nothing to work on",
            "set [git] clone_url (or a [[projects]] git.clone_url) to the repository Foreman should change",
        ));
    }
    for spec in &specs {
        checks.extend(check_project(spec, config, &work_dir, store.as_ref()).await);
    }
    checks
}

fn work_dir(config: &Config, data_dir: &Path) -> PathBuf {
    let dir = if config.daemon.work_dir.is_empty() {
        data_dir.join("work")
    } else {
        foreman_config::expand_home(&config.daemon.work_dir)
    };
    if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir().map_or(dir.clone(), |cwd| cwd.join(&dir))
    }
}

async fn check_git_binary() -> Check {
    let out = tokio::process::Command::new("git")
        .arg("--version")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => Check::pass(
            None,
            "git",
            String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        ),
        Ok(o) => Check::fail(
            None,
            "git",
            format!(
                "`git --version` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            "reinstall git",
        ),
        Err(e) => Check::fail(
            None,
            "git",
            format!("the git binary cannot be run ({e})"),
            "install git and make sure it is on PATH",
        ),
    }
}

/// Where worktree commands run: with `mode = "sandbox"`, whether bubblewrap can create the
/// sandbox (a failure names how to install it); `none` passes with a warning in its detail.
fn check_sandbox(config: &Config, data_dir: &Path, work_dir: &Path) -> Check {
    let mode = config.runner.effective_mode();
    let deprecated = config
        .runner
        .deprecation()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    match mode {
        "none" => Check::pass(
            None,
            "sandbox",
            format!(
                "runner.mode = \"none\": worktree commands run WITHOUT isolation, with the server's privileges{deprecated}"
            ),
        ),
        "docker" => Check::pass(
            None,
            "sandbox",
            format!(
                "runner.mode = \"docker\": commands run in {} containers (the engine is not checked)",
                config.runner.docker_image
            ),
        ),
        _ => {
            let settings = crate::compose::sandbox_settings(config, data_dir, work_dir);
            let iso = foreman_agent::Isolation::new(
                foreman_agent::ExecMode::Sandbox,
                settings,
                foreman_agent::DockerSettings::default(),
            );
            match iso.probe() {
                foreman_agent::SandboxState::Ready => Check::pass(
                    None,
                    "sandbox",
                    format!(
                        "bubblewrap ({}) creates the OS sandbox; worktree commands run isolated",
                        config.runner.bwrap_path
                    ),
                ),
                foreman_agent::SandboxState::Missing => Check::fail(
                    None,
                    "sandbox",
                    format!(
                        "runner.mode = \"sandbox\" but {} is not installed, so worktree commands are refused",
                        config.runner.bwrap_path
                    ),
                    format!(
                        "{}; or set runner.mode = \"none\" to run commands without isolation",
                        foreman_agent::isolation::INSTALL_HINT
                    ),
                ),
                foreman_agent::SandboxState::Unusable(why) => Check::fail(
                    None,
                    "sandbox",
                    format!(
                        "{} is installed but cannot create the sandbox: {why}",
                        config.runner.bwrap_path
                    ),
                    "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0) or run the server where namespaces are permitted; or set runner.mode = \"none\"",
                ),
            }
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens the database without creating or migrating it, and reads from every table family to
/// see that the schema is there.
async fn check_database(config: &Config, data_dir: &Path) -> (Check, Option<Arc<dyn Store>>) {
    let url = config.database.connection_url(data_dir);
    let shown = match config.database.driver {
        DatabaseDriver::Sqlite => {
            let path = config.database.sqlite_path(data_dir);
            if !path.exists() {
                return (
                    Check::fail(
                        None,
                        "database",
                        format!("the SQLite database {} does not exist", path.display()),
                        format!(
                            "run `foreman migrate --data-dir {}` (or start foreman-server once) to create it",
                            data_dir.display()
                        ),
                    ),
                    None,
                );
            }
            format!("sqlite {}", path.display())
        }
        DatabaseDriver::Postgres => format!("postgres {}", redact_url(&url)),
    };
    let store = match foreman_store::SqlStore::connect(&url).await {
        Ok(s) => s,
        Err(e) => {
            return (
                Check::fail(
                    None,
                    "database",
                    format!("cannot open {shown}: {e}"),
                    "check [database] (driver, path or url) and that the database server is running",
                ),
                None,
            );
        }
    };
    if let Err(e) = probe_schema(&store).await {
        return (
            Check::fail(
                None,
                "database",
                format!("{shown} opens but is not migrated ({e})"),
                format!(
                    "run `foreman migrate --data-dir {}` (the server also migrates on start)",
                    data_dir.display()
                ),
            ),
            None,
        );
    }
    let store: Arc<dyn Store> = Arc::new(store);
    (
        Check::pass(None, "database", format!("{shown} opens and is migrated")),
        Some(store),
    )
}

async fn probe_schema(store: &foreman_store::SqlStore) -> Result<()> {
    use foreman_domain::{CostLedger, Outbox, TokenStore};
    store.latest_seq().await?;
    store.list_tokens().await?;
    store
        .get_setting(foreman_domain::storage::DAEMON_STATE_KEY)
        .await?;
    store
        .list_tickets(&foreman_domain::TicketFilter {
            limit: 1,
            ..Default::default()
        })
        .await?;
    store.recent_llm_calls(1).await?;
    store.pending_outbox(1).await?;
    Ok(())
}

/// The environment variable holding the key of an OpenAI-compatible provider, and whether
/// the provider needs one.
fn openai_key_env(provider: &str) -> (String, bool) {
    match foreman_llm::OpenAiConfig::preset(provider) {
        Some(c) => (c.api_key_env, c.require_api_key),
        None => (
            format!(
                "{}_API_KEY",
                provider.to_ascii_uppercase().replace('-', "_")
            ),
            false,
        ),
    }
}

fn check_llm(config: &Config, env: &BTreeMap<String, String>) -> Vec<Check> {
    let provider = config.effective_llm_provider(env);
    let models = crate::compose::model_table(config, &provider);
    let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (role, spec) in &models {
        let p = spec.split_once(':').map_or(provider.as_str(), |(p, _)| p);
        roles.entry(p.to_owned()).or_default().push(role.clone());
    }
    let set = |k: &str| env.get(k).is_some_and(|v| !v.trim().is_empty());
    let configured_key = |p: &str| p == provider && !config.llm.api_key.trim().is_empty();
    let mut checks = Vec::new();
    for (p, used_by) in roles {
        let used = used_by.join(", ");
        let check = match p.as_str() {
            "scripted" => {
                if !config.llm.script.is_empty() && !Path::new(&config.llm.script).exists() {
                    Check::fail(
                        None,
                        "llm",
                        format!(
                            "the scripted provider's script {} does not exist (used by {used})",
                            config.llm.script
                        ),
                        "fix [llm] script, or leave it empty for the built-in demo script",
                    )
                } else {
                    Check::pass(
                        None,
                        "llm",
                        format!("scripted provider (no API key needed; used by {used})"),
                    )
                }
            }
            "anthropic" => {
                let env_name = foreman_llm::anthropic::ANTHROPIC_API_KEY_ENV;
                if configured_key(&p) {
                    Check::pass(
                        None,
                        "llm",
                        format!("anthropic key set in [llm] api_key (used by {used})"),
                    )
                } else if set(env_name) {
                    Check::pass(
                        None,
                        "llm",
                        format!("anthropic key set in {env_name} (used by {used})"),
                    )
                } else {
                    Check::fail(
                        None,
                        "llm",
                        format!("no anthropic API key (needed by {used})"),
                        format!("set {env_name}, or [llm] api_key = \"${{{env_name}}}\""),
                    )
                }
            }
            other => {
                let (env_name, required) = openai_key_env(other);
                if configured_key(other) {
                    Check::pass(
                        None,
                        "llm",
                        format!("{other} key set in [llm] api_key (used by {used})"),
                    )
                } else if set(&env_name) {
                    Check::pass(
                        None,
                        "llm",
                        format!("{other} key set in {env_name} (used by {used})"),
                    )
                } else if !required {
                    Check::pass(
                        None,
                        "llm",
                        format!("{other} needs no API key (used by {used})"),
                    )
                } else {
                    Check::fail(
                        None,
                        "llm",
                        format!("no {other} API key (needed by {used})"),
                        format!("set {env_name}, or [llm] api_key when {other} is the provider"),
                    )
                }
            }
        };
        checks.push(check);
    }
    checks
}

/// The `[git]` section a project's settings live in, for messages.
fn git_section(project: &str) -> String {
    if project == foreman_domain::DEFAULT_PROJECT {
        "[git]".to_owned()
    } else {
        format!("[[projects]] {project:?} git")
    }
}

fn tracker_section(project: &str) -> String {
    if project == foreman_domain::DEFAULT_PROJECT {
        "[tracker]".to_owned()
    } else {
        format!("[[projects]] {project:?} tracker")
    }
}

fn repo_fix(e: &GitError, spec: &ProjectSpec) -> String {
    let section = git_section(&spec.name);
    match e {
        GitError::NotInstalled { .. } => "install git and make sure it is on PATH".to_owned(),
        GitError::AuthFailed { .. } => {
            format!("check {section} token (HTTPS) or the SSH key of the user running Foreman")
        }
        GitError::NotFound { .. } => format!(
            "set {section} default_branch to a branch that exists on the remote (it is {:?})",
            spec.git.default_branch
        ),
        GitError::Invalid(_) => format!("fix {section} (project name, default_branch, clone_url)"),
        _ => format!(
            "check that {section} clone_url ({}) points at an existing repository Foreman can reach",
            spec.git.clone_url
        ),
    }
}

fn host_fix(e: &HostError, spec: &ProjectSpec) -> String {
    let section = git_section(&spec.name);
    match e {
        HostError::Remote(RemoteError::Unauthorized { .. }) => format!(
            "set {section} token to a valid token (GitHub: repo or pull requests read/write; GitLab: api)"
        ),
        HostError::Remote(RemoteError::Forbidden { .. }) => {
            format!("give {section} token access to the repository")
        }
        HostError::Remote(RemoteError::NotFound { .. }) => format!(
            "check {section} clone_url (and base_url for self-hosted instances); the token must see the repository"
        ),
        HostError::Git(g) => repo_fix(g, spec),
        _ => format!("check {section} base_url and the network"),
    }
}

fn tracker_fix(e: &TrackerError, spec: &ProjectSpec) -> String {
    let section = tracker_section(&spec.name);
    match e {
        TrackerError::Remote(RemoteError::Unauthorized { .. }) => format!(
            "set {section} token to a valid token (Jira: `email:api_token`; Linear: an API key)"
        ),
        TrackerError::Remote(RemoteError::Forbidden { .. }) => {
            format!("give {section} token access to {:?}", spec.tracker.project)
        }
        TrackerError::Remote(RemoteError::NotFound { .. }) => format!(
            "check {section} project ({:?}) and base_url",
            spec.tracker.project
        ),
        TrackerError::Misconfigured { .. } | TrackerError::Invalid(_) => {
            format!("fix {section}")
        }
        TrackerError::Store(_) => "fix the database first (see the database line)".to_owned(),
        _ => format!("check {section} base_url and the network"),
    }
}

async fn check_project(
    spec: &ProjectSpec,
    config: &Config,
    work_dir: &Path,
    store: Option<&Arc<dyn Store>>,
) -> Vec<Check> {
    let p = Some(spec.name.as_str());
    let mut checks = Vec::new();
    if spec.git.clone_url.is_empty() {
        checks.push(Check::skip(
            p,
            "repository",
            format!(
                "no {} clone_url; the daemon does not work on this project",
                git_section(&spec.name)
            ),
        ));
    } else {
        checks.extend(check_repo_and_host(spec, work_dir, store).await);
    }
    let tracker = check_tracker(spec, store).await;
    let answered = tracker.status == CheckStatus::Pass;
    checks.push(tracker);
    if answered {
        checks.push(check_tracker_statuses(spec, store).await);
    }
    checks.push(webhook_line(spec, config));
    checks
}

async fn check_repo_and_host(
    spec: &ProjectSpec,
    work_dir: &Path,
    store: Option<&Arc<dyn Store>>,
) -> Vec<Check> {
    let p = Some(spec.name.as_str());
    let section = git_section(&spec.name);
    let repo = match build_repo(spec, work_dir) {
        Ok(r) => r,
        Err(e) => {
            return vec![Check::fail(
                p,
                "repository",
                format!("{e:#}"),
                format!("fix {section} (clone_url, default_branch) or the project name"),
            )];
        }
    };
    let url = &spec.git.clone_url;
    let mut checks = Vec::new();
    match tokio::time::timeout(CHECK_TIMEOUT, repo.check()).await {
        Ok(Ok(health)) => {
            let head = health
                .remote_head
                .as_deref()
                .map_or("?", |h| &h[..h.len().min(12)])
                .to_owned();
            checks.push(Check::pass(
                p,
                "repository",
                format!("{url} answers; {} is at {head}", spec.git.default_branch),
            ));
        }
        Ok(Err(e)) => checks.push(Check::fail(
            p,
            "repository",
            format!("{url}: {e}"),
            repo_fix(&e, spec),
        )),
        Err(_) => checks.push(Check::fail(
            p,
            "repository",
            format!("{url}: no answer within {} s", CHECK_TIMEOUT.as_secs()),
            format!("check {section} clone_url and the network"),
        )),
    }
    // The git host.
    let provider = if is_local(&spec.git.provider) {
        "local"
    } else {
        spec.git.provider.as_str()
    };
    if provider == "local" && store.is_none() {
        checks.push(Check::skip(
            p,
            "git host",
            "local host not checked: the database is unavailable",
        ));
        return checks;
    }
    if provider != "local" && spec.git.token.is_empty() {
        checks.push(Check::fail(
            p,
            "git host",
            format!("{section} token is empty; {provider} needs one to open pull requests"),
            format!("set {section} token (e.g. token = \"${{GITHUB_TOKEN}}\")"),
        ));
        return checks;
    }
    let settings: Option<Arc<dyn SettingsStore>> = store.map(|s| {
        let s: Arc<dyn SettingsStore> = s.clone();
        s
    });
    match build_host(spec, settings, &repo) {
        Err(e) => checks.push(Check::fail(
            p,
            "git host",
            format!("{e:#}"),
            format!("fix {section} (provider, clone_url, base_url)"),
        )),
        Ok(host) => match tokio::time::timeout(CHECK_TIMEOUT, host.check()).await {
            Ok(Ok(())) if provider == "local" => checks.push(Check::pass(
                p,
                "git host",
                "local (pull requests are kept in Foreman's database and merged into the remote)",
            )),
            Ok(Ok(())) => checks.push(Check::pass(
                p,
                "git host",
                format!("{provider} answers and accepts the token"),
            )),
            Ok(Err(e)) => checks.push(Check::fail(
                p,
                "git host",
                e.to_string(),
                host_fix(&e, spec),
            )),
            Err(_) => checks.push(Check::fail(
                p,
                "git host",
                format!("{provider}: no answer within {} s", CHECK_TIMEOUT.as_secs()),
                format!("check {section} base_url and the network"),
            )),
        },
    }
    checks
}

async fn check_tracker(spec: &ProjectSpec, store: Option<&Arc<dyn Store>>) -> Check {
    let p = Some(spec.name.as_str());
    let section = tracker_section(&spec.name);
    let provider = if is_local(&spec.tracker.provider) {
        "local"
    } else {
        spec.tracker.provider.as_str()
    };
    if provider == "local" && store.is_none() {
        return Check::skip(
            p,
            "tracker",
            "local tracker not checked: the database is unavailable",
        );
    }
    if provider != "local" && spec.tracker.token.is_empty() {
        return Check::fail(
            p,
            "tracker",
            format!("{section} token is empty; {provider} needs one"),
            format!("set {section} token"),
        );
    }
    let ports = store.map(|s| {
        let events: Arc<dyn EventLog> = s.clone();
        (s.clone(), events)
    });
    let tracker = match build_tracker(spec, ports) {
        Ok(t) => t,
        Err(e) => {
            return Check::fail(
                p,
                "tracker",
                format!("{e:#}"),
                format!("fix {section} (provider, project, token, base_url)"),
            );
        }
    };
    match tokio::time::timeout(CHECK_TIMEOUT, tracker.check()).await {
        Ok(Ok(())) if provider == "local" => Check::pass(
            p,
            "tracker",
            "local (tickets come from the API and the dashboard)",
        ),
        Ok(Ok(())) => Check::pass(
            p,
            "tracker",
            format!(
                "{provider} answers and accepts the token (project {:?}, pickup label {:?})",
                spec.tracker.project, spec.tracker.pickup_label
            ),
        ),
        Ok(Err(e)) => Check::fail(p, "tracker", e.to_string(), tracker_fix(&e, spec)),
        Err(_) => Check::fail(
            p,
            "tracker",
            format!("{provider}: no answer within {} s", CHECK_TIMEOUT.as_secs()),
            format!("check {section} base_url and the network"),
        ),
    }
}

/// Whether every status Foreman reports maps to a status (Jira) or workflow state (Linear) the
/// tracker has ([`foreman_domain::tracker::Tracker::check_statuses`]); run once the tracker
/// answered.
async fn check_tracker_statuses(spec: &ProjectSpec, store: Option<&Arc<dyn Store>>) -> Check {
    let p = Some(spec.name.as_str());
    let subject = "tracker statuses";
    let ports = store.map(|s| {
        let events: Arc<dyn EventLog> = s.clone();
        (s.clone(), events)
    });
    let Ok(tracker) = build_tracker(spec, ports) else {
        return Check::skip(p, subject, "the tracker could not be built");
    };
    match tokio::time::timeout(CHECK_TIMEOUT, tracker.check_statuses()).await {
        Ok(Ok(problems)) if problems.is_empty() => Check::pass(
            p,
            subject,
            format!("every status Foreman reports exists at {}", tracker.name()),
        ),
        Ok(Ok(problems)) => Check::fail(
            p,
            subject,
            problems.join("; "),
            format!(
                "name existing ones under {}.statuses (or \"-\" to never report that status)",
                tracker_section(&spec.name)
            ),
        ),
        Ok(Err(e)) => Check::fail(
            p,
            subject,
            format!("cannot list the tracker's statuses: {e}"),
            tracker_fix(&e, spec),
        ),
        Err(_) => Check::fail(
            p,
            subject,
            format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
            format!(
                "check {} base_url and the network",
                tracker_section(&spec.name)
            ),
        ),
    }
}

/// Informational: whether this project receives webhooks, and how they are verified.
fn webhook_line(spec: &ProjectSpec, config: &Config) -> Check {
    let p = Some(spec.name.as_str());
    let secret = crate::webhooks::secret_for(spec, config);
    let mut providers = BTreeSet::new();
    if foreman_domain::webhook::WEBHOOK_PROVIDERS.contains(&spec.tracker.provider.as_str()) {
        providers.insert(spec.tracker.provider.as_str());
    }
    if ["github", "gitlab"].contains(&spec.git.provider.as_str()) && !spec.git.clone_url.is_empty()
    {
        providers.insert(spec.git.provider.as_str());
    }
    if providers.is_empty() {
        return Check::skip(p, "webhooks", "no tracker or git host that sends webhooks");
    }
    let list: Vec<String> = providers
        .iter()
        .map(|pr| format!("/api/webhooks/{pr}"))
        .collect();
    if secret.is_empty() {
        Check::skip(
            p,
            "webhooks",
            format!(
                "no webhook secret, so {} answer 404; tickets arrive by polling every {}",
                list.join(" and "),
                spec.tracker.poll_interval
            ),
        )
    } else {
        Check::pass(
            p,
            "webhooks",
            format!("{} verified with the webhook secret", list.join(" and ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_check_names_the_install_hint_when_bwrap_is_missing() {
        let mut config = Config::default();
        config.runner.bwrap_path = "/nonexistent/bwrap".into();
        let dir = Path::new("/tmp");
        let c = check_sandbox(&config, dir, &dir.join("work"));
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.fix
                .as_deref()
                .unwrap_or("")
                .contains("apt-get install bubblewrap"),
            "{c}"
        );
        config.runner.mode = "local".into();
        let c = check_sandbox(&config, dir, &dir.join("work"));
        assert_eq!(c.status, CheckStatus::Pass);
        assert!(c.detail.contains("WITHOUT isolation") && c.detail.contains("deprecated"));
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://fm:hunter2@db:5432/foreman"),
            "postgres://fm:***@db:5432/foreman"
        );
        assert_eq!(redact_url("postgres://db/foreman"), "postgres://db/foreman");
    }

    #[test]
    fn lines_show_mark_project_and_fix() {
        let c = Check::fail(
            Some("web"),
            "tracker",
            "github: credentials rejected",
            "set it",
        );
        assert_eq!(
            c.to_string(),
            "✗ [web] tracker: github: credentials rejected\n    fix: set it"
        );
        assert_eq!(
            Check::pass(None, "git", "git version 2.47.3").to_string(),
            "✓ git: git version 2.47.3"
        );
        assert!(all_passed(&[Check::skip(None, "x", "y")]));
        assert_eq!(
            Check::pass(None, "repository", "fatal: a\n\nfatal: b\n").detail,
            "fatal: a fatal: b"
        );
        assert!(!all_passed(&[c]));
    }

    #[test]
    fn llm_keys_are_required_per_provider_in_use() {
        let mut config = Config::default();
        config.llm.provider = "anthropic".into();
        let none = BTreeMap::new();
        let checks = check_llm(&config, &none);
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].status, CheckStatus::Fail);
        assert!(checks[0].detail.contains("planner"), "{}", checks[0].detail);
        assert!(
            checks[0]
                .fix
                .as_deref()
                .unwrap()
                .contains("ANTHROPIC_API_KEY")
        );

        let env = BTreeMap::from([("ANTHROPIC_API_KEY".to_owned(), "sk-ant-x".to_owned())]);
        assert_eq!(check_llm(&config, &env)[0].status, CheckStatus::Pass);

        // a role on another provider needs that provider's key too
        config
            .llm
            .models
            .insert("clarifier".into(), "openrouter:some/model".into());
        let checks = check_llm(&config, &env);
        let router = checks
            .iter()
            .find(|c| c.detail.contains("openrouter"))
            .unwrap();
        assert_eq!(router.status, CheckStatus::Fail);
        assert!(
            router
                .fix
                .as_deref()
                .unwrap()
                .contains("OPENROUTER_API_KEY")
        );

        // with no key anywhere the scripted provider takes every role
        let checks = check_llm(&Config::default(), &none);
        assert!(
            checks.iter().all(|c| c.status == CheckStatus::Pass),
            "{checks:?}"
        );
    }
}
