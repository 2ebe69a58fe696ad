//! Adapter construction shared by the daemon ([`crate::compose`]), the webhook receivers
//! ([`crate::webhooks`]) and `foreman doctor` ([`crate::doctor`]): one place decides which
//! repository, git host and tracker a project's configuration means.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use foreman_config::{Config, GitConfig, TrackerConfig};
use foreman_domain::git::GitHost;
use foreman_domain::tracker::Tracker;
use foreman_domain::{EventLog, SettingsStore, Store, TicketStore};
use foreman_git::{Credentials, GitRepository, Identity, LocalHost, RepoConfig};

/// Everything project-specific about adapters, for the default project and every
/// `[[projects]]` entry.
#[derive(Debug, Clone)]
pub struct ProjectSpec {
    /// The project's name.
    pub name: String,
    /// Its tracker settings.
    pub tracker: TrackerConfig,
    /// Its git settings.
    pub git: GitConfig,
    /// Its test command (empty: detected per checkout).
    pub test_command: String,
    /// Its lint command (empty: none).
    pub lint_command: String,
}

/// The default project (`[tracker]`, `[git]`), then every `[[projects]]` entry.
#[must_use]
pub fn project_specs(config: &Config) -> Vec<ProjectSpec> {
    std::iter::once(ProjectSpec {
        name: foreman_domain::DEFAULT_PROJECT.to_owned(),
        tracker: config.tracker.clone(),
        git: config.git.clone(),
        test_command: config.pipeline.test_command.clone(),
        lint_command: config.pipeline.lint_command.clone(),
    })
    .chain(config.projects.iter().map(|p| ProjectSpec {
        name: p.name.clone(),
        tracker: p.tracker.clone(),
        git: p.git.clone(),
        test_command: p.test_command.clone(),
        lint_command: p.lint_command.clone(),
    }))
    .collect()
}

/// `owner/name` from a GitHub or GitLab clone URL (`https://host/owner/name.git` or
/// `git@host:owner/name.git`).
#[must_use]
pub fn repo_path(clone_url: &str) -> Option<String> {
    let rest = clone_url
        .split_once("://")
        .map(|(_, r)| r.split_once('/').map_or("", |(_, p)| p))
        .or_else(|| clone_url.split_once(':').map(|(_, p)| p))?;
    let path = rest.trim_end_matches('/').trim_end_matches(".git");
    path.contains('/').then(|| path.to_owned())
}

/// The repository as the host's API names it: `[git] repository`, else the path of
/// `clone_url` (`owner/name`, `group/sub/name`).
#[must_use]
pub fn host_repository(g: &GitConfig) -> Option<String> {
    if g.repository.trim().is_empty() {
        repo_path(&g.clone_url)
    } else {
        Some(g.repository.trim().trim_matches('/').to_owned())
    }
}

/// Whether a provider name means the local tracker or host.
#[must_use]
pub fn is_local(provider: &str) -> bool {
    provider.is_empty() || provider == "local"
}

/// The project's repository, as the daemon would open it (nothing touches the disk).
///
/// # Errors
/// Unusable project name, branch or clone URL.
pub fn build_repo(spec: &ProjectSpec, work_dir: &Path) -> Result<Arc<GitRepository>> {
    let g = &spec.git;
    let mut repo_cfg = RepoConfig::new(
        spec.name.clone(),
        g.clone_url.clone(),
        g.default_branch.clone(),
        work_dir.to_owned(),
    );
    repo_cfg.author = Identity {
        name: g.author_name.clone(),
        email: g.author_email.clone(),
    };
    if !g.token.is_empty() && g.clone_url.starts_with("https://") {
        repo_cfg.credentials = Credentials::HttpsToken {
            username: "x-access-token".into(),
            token: g.token.clone(),
        };
    }
    Ok(Arc::new(GitRepository::new(repo_cfg)?))
}

/// The error for a git host or tracker whose cargo feature this build leaves out.
#[cfg(not(all(
    feature = "github",
    feature = "gitlab",
    feature = "jira",
    feature = "linear"
)))]
fn not_compiled(provider: &str) -> anyhow::Error {
    anyhow::anyhow!("provider {provider} is not compiled in; build with feature {provider}")
}

/// The project's git host. The local host keeps its pull requests in `settings`.
///
/// # Errors
/// Unknown providers, clone URLs without `owner/name`, unusable client settings.
pub fn build_host(
    spec: &ProjectSpec,
    settings: Option<Arc<dyn SettingsStore>>,
    repo: &Arc<GitRepository>,
) -> Result<Arc<dyn GitHost>> {
    let g = &spec.git;
    Ok(match g.provider.as_str() {
        "local" | "" => {
            let settings = settings.context("the local git host needs the database")?;
            Arc::new(LocalHost::new(settings, repo.clone()))
        }
        #[cfg(not(feature = "github"))]
        "github" => return Err(not_compiled("github")),
        #[cfg(feature = "github")]
        "github" => {
            let path = host_repository(g).with_context(|| {
                format!(
                    "git.clone_url {:?} has no owner/name; set git.repository",
                    g.clone_url
                )
            })?;
            let (owner, name) = path.split_once('/').unwrap_or((&path, ""));
            let cfg = foreman_git::github::GitHubConfig {
                api_url: if g.base_url.is_empty() {
                    foreman_git::github::DEFAULT_API_URL.to_owned()
                } else {
                    g.base_url.clone()
                },
                owner: owner.to_owned(),
                repo: name.to_owned(),
                token: g.token.clone(),
            };
            let client = foreman_git::github::GitHubClient::new(&cfg)
                .context("cannot set up the GitHub client")?;
            Arc::new(foreman_git::GitHubHost::new(client))
        }
        #[cfg(not(feature = "gitlab"))]
        "gitlab" => return Err(not_compiled("gitlab")),
        #[cfg(feature = "gitlab")]
        "gitlab" => {
            let project = host_repository(g).with_context(|| {
                format!(
                    "git.clone_url {:?} has no group/name; set git.repository",
                    g.clone_url
                )
            })?;
            let cfg = foreman_git::gitlab::GitLabConfig {
                api_url: if g.base_url.is_empty() {
                    "https://gitlab.com/api/v4".to_owned()
                } else {
                    g.base_url.clone()
                },
                project,
                token: g.token.clone(),
            };
            let client = foreman_git::gitlab::GitLabClient::new(&cfg)
                .context("cannot set up the GitLab client")?;
            Arc::new(foreman_git::GitLabHost::new(client))
        }
        other => bail!("git.provider = {other:?} is not one of local, github, gitlab"),
    })
}

/// The project's tracker. The local tracker lives in the database, so it needs `store`.
///
/// # Errors
/// Unknown providers, malformed `project` or `token` settings, unusable client settings.
pub fn build_tracker(
    spec: &ProjectSpec,
    store: Option<(Arc<dyn Store>, Arc<dyn EventLog>)>,
) -> Result<Arc<dyn Tracker>> {
    let t = &spec.tracker;
    #[cfg_attr(
        not(any(feature = "github", feature = "gitlab", feature = "linear")),
        expect(unused_variables, reason = "only these trackers take a base url")
    )]
    let base = |default: &str| {
        if t.base_url.is_empty() {
            default.to_owned()
        } else {
            t.base_url.clone()
        }
    };
    Ok(match t.provider.as_str() {
        "local" | "" => {
            let (store, events) = store.context("the local tracker needs the database")?;
            let tickets: Arc<dyn TicketStore> = store.clone();
            let settings: Arc<dyn SettingsStore> = store;
            Arc::new(foreman_tracker::LocalTracker::new(
                &spec.name, tickets, events, settings,
            ))
        }
        #[cfg(not(feature = "github"))]
        "github" => return Err(not_compiled("github")),
        #[cfg(feature = "github")]
        "github" => {
            let (owner, name) = t
                .project
                .split_once('/')
                .with_context(|| format!("tracker.project {:?} must be owner/name", t.project))?;
            let cfg = foreman_git::github::GitHubConfig {
                api_url: base(foreman_git::github::DEFAULT_API_URL),
                owner: owner.to_owned(),
                repo: name.to_owned(),
                token: t.token.clone(),
            };
            let client = foreman_git::github::GitHubClient::new(&cfg)
                .context("cannot set up the GitHub client")?;
            Arc::new(foreman_tracker::GitHubTracker::new(
                client,
                &t.pickup_label,
                status_labels(t),
            ))
        }
        #[cfg(not(feature = "gitlab"))]
        "gitlab" => return Err(not_compiled("gitlab")),
        #[cfg(feature = "gitlab")]
        "gitlab" => {
            let cfg = foreman_git::gitlab::GitLabConfig {
                api_url: base("https://gitlab.com/api/v4"),
                project: t.project.clone(),
                token: t.token.clone(),
            };
            let client = foreman_git::gitlab::GitLabClient::new(&cfg)
                .context("cannot set up the GitLab client")?;
            Arc::new(foreman_tracker::GitLabTracker::new(
                client,
                &t.pickup_label,
                status_labels(t),
            ))
        }
        #[cfg(not(feature = "jira"))]
        "jira" => return Err(not_compiled("jira")),
        #[cfg(feature = "jira")]
        "jira" => {
            let (email, token) = t
                .token
                .split_once(':')
                .context("tracker.token for jira must be `email:api_token`")?;
            let mut cfg = foreman_tracker::JiraConfig::new(&t.base_url, email, token, &t.project);
            cfg.pickup_label.clone_from(&t.pickup_label);
            cfg.statuses = status_names(t);
            Arc::new(foreman_tracker::JiraTracker::new(cfg).context("cannot set up Jira")?)
        }
        #[cfg(not(feature = "linear"))]
        "linear" => return Err(not_compiled("linear")),
        #[cfg(feature = "linear")]
        "linear" => {
            let mut cfg = foreman_tracker::LinearConfig::new(
                &base("https://api.linear.app/graphql"),
                &t.token,
                &t.project,
            );
            cfg.pickup_label.clone_from(&t.pickup_label);
            cfg.states = status_names(t);
            Arc::new(foreman_tracker::LinearTracker::new(cfg).context("cannot set up Linear")?)
        }
        other => {
            bail!("tracker.provider = {other:?} is not one of local, github, gitlab, jira, linear")
        }
    })
}

/// The state names of a Jira or Linear tracker: `[tracker.statuses]` over the defaults.
#[cfg(any(feature = "jira", feature = "linear"))]
fn status_names(t: &TrackerConfig) -> foreman_tracker::StatusNames {
    let n = &t.statuses;
    let d = foreman_tracker::StatusNames::default();
    foreman_tracker::StatusNames {
        in_progress: foreman_config::TrackerStatusNames::resolve(&n.in_progress, &d.in_progress),
        in_review: foreman_config::TrackerStatusNames::resolve(&n.in_review, &d.in_review),
        done: foreman_config::TrackerStatusNames::resolve(&n.done, &d.done),
        blocked: foreman_config::TrackerStatusNames::resolve(&n.blocked, &d.blocked),
        failed: foreman_config::TrackerStatusNames::resolve(&n.failed, &d.failed),
    }
}

/// The status labels of a GitHub or GitLab tracker: `[tracker.statuses]` over the defaults.
#[cfg(any(feature = "github", feature = "gitlab"))]
fn status_labels(t: &TrackerConfig) -> foreman_tracker::StatusLabels {
    let n = &t.statuses;
    let d = foreman_tracker::StatusLabels::default();
    foreman_tracker::StatusLabels {
        in_progress: foreman_config::TrackerStatusNames::resolve(&n.in_progress, &d.in_progress),
        in_review: foreman_config::TrackerStatusNames::resolve(&n.in_review, &d.in_review),
        blocked: foreman_config::TrackerStatusNames::resolve(&n.blocked, &d.blocked),
        failed: foreman_config::TrackerStatusNames::resolve(&n.failed, &d.failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_paths_come_from_clone_urls() {
        assert_eq!(
            repo_path("https://github.com/acme/widgets.git").as_deref(),
            Some("acme/widgets")
        );
        assert_eq!(
            repo_path("git@gitlab.com:group/sub/app.git").as_deref(),
            Some("group/sub/app")
        );
        assert_eq!(repo_path("https://github.com/"), None);
        let mut g = GitConfig {
            clone_url: "/srv/mirrors/widgets.git".into(),
            ..Default::default()
        };
        assert_eq!(host_repository(&g), None);
        g.repository = " acme/widgets/ ".into();
        assert_eq!(host_repository(&g).as_deref(), Some("acme/widgets"));
        g.clone_url = "https://github.com/other/app.git".into();
        assert_eq!(host_repository(&g).as_deref(), Some("acme/widgets"));
        g.repository.clear();
        assert_eq!(host_repository(&g).as_deref(), Some("other/app"));
    }

    #[test]
    fn every_project_gets_its_own_commands() {
        let mut config = Config::default();
        config.pipeline.test_command = "cargo test".into();
        config.projects.push(foreman_config::ProjectConfig {
            name: "web".into(),
            test_command: "npm test".into(),
            ..Default::default()
        });
        let specs = project_specs(&config);
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].name, foreman_domain::DEFAULT_PROJECT);
        assert_eq!(specs[0].test_command, "cargo test");
        assert_eq!(specs[1].test_command, "npm test");
    }
}
