//! The webhook receivers' wiring: a [`WebhookIntake`] with a route per project whose tracker
//! (GitHub, GitLab, Jira, Linear) or git host (GitHub, GitLab) sends webhooks and has a secret.
//!
//! A project's secret is its tracker's `webhook_secret`, or `[tracker] webhook_secret` when it
//! has none. Issue events go to the project's tracker route, whose [`Intake`] creates tickets
//! exactly as polling does; pull request events go to the project's host route. Projects
//! sharing a provider and a secret are told apart by the payload's repository, project or team.
//! With the daemon running, pull request events of tickets waiting for their merge wake it
//! (its [`PullRequestWatch`]), so merges and closes are taken from the webhook within moments
//! instead of at the next housekeeping poll.

use std::sync::Arc;

use foreman_config::Config;
use foreman_domain::webhook::{PullRequestWatch, WEBHOOK_PROVIDERS, WebhookSink};
use foreman_domain::{EventLog, Store, TicketStore};
use foreman_pipeline::intake::Intake;
use foreman_tracker::{HostRoute, TrackerRoute, WebhookIntake};

use crate::adapters::{ProjectSpec, build_tracker, host_repository, project_specs};

/// The webhook secret of a project: its tracker's, else `[tracker] webhook_secret`.
#[must_use]
pub fn secret_for(spec: &ProjectSpec, config: &Config) -> String {
    if spec.tracker.webhook_secret.is_empty() {
        config.tracker.webhook_secret.clone()
    } else {
        spec.tracker.webhook_secret.clone()
    }
}

/// The sink for `App::with_webhooks`, or `None` when no project has a webhook secret and a
/// tracker or git host that sends webhooks (the routes then answer 404). Projects whose
/// tracker cannot be built are left out with a warning (the daemon reports them too).
/// `watch` (the daemon's) is told about pull request events of tickets waiting for a merge.
#[must_use]
pub fn build(
    config: &Config,
    store: Arc<dyn Store>,
    events: Arc<dyn EventLog>,
    watch: Option<Arc<dyn PullRequestWatch>>,
) -> Option<Arc<dyn WebhookSink>> {
    let tickets: Arc<dyn TicketStore> = store.clone();
    let mut sink = WebhookIntake::new(tickets.clone());
    if let Some(watch) = watch {
        sink = sink.watch(watch);
    }
    for spec in project_specs(config) {
        let secret = secret_for(&spec, config);
        if secret.is_empty() {
            continue;
        }
        let t = &spec.tracker;
        if WEBHOOK_PROVIDERS.contains(&t.provider.as_str()) {
            match build_tracker(&spec, Some((store.clone(), events.clone()))) {
                Ok(tracker) => {
                    let intake = Intake::new(&spec.name, tracker, tickets.clone(), events.clone());
                    sink = sink.tracker(TrackerRoute {
                        provider: t.provider.clone(),
                        secret: secret.clone(),
                        pickup_label: t.pickup_label.clone(),
                        scope: t.project.clone(),
                        intake: Arc::new(intake),
                    });
                }
                Err(e) => {
                    tracing::warn!(project = %spec.name, provider = %t.provider, error = %format!("{e:#}"), "tracker webhooks disabled: cannot set up the tracker");
                }
            }
        }
        let g = &spec.git;
        if ["github", "gitlab"].contains(&g.provider.as_str()) && !g.clone_url.is_empty() {
            sink = sink.host(HostRoute {
                project: spec.name.clone(),
                provider: g.provider.clone(),
                secret,
                scope: host_repository(g).unwrap_or_default(),
            });
        }
    }
    if sink.is_empty() {
        tracing::info!(
            "webhooks off: no project has a webhook secret and a tracker or git host that sends webhooks"
        );
        return None;
    }
    tracing::info!(providers = ?sink.providers(), "webhook receivers ready");
    Some(Arc::new(sink))
}

#[cfg(test)]
mod tests {
    use foreman_config::ProjectConfig;

    use super::*;

    async fn store() -> (Arc<dyn Store>, Arc<dyn EventLog>) {
        let s = foreman_store::SqlStore::connect("sqlite::memory:")
            .await
            .unwrap();
        let s: Arc<dyn Store> = Arc::new(s);
        let e: Arc<dyn EventLog> = s.clone();
        (s, e)
    }

    #[tokio::test]
    async fn no_secret_no_sink_and_project_secrets_fall_back_to_the_global_one() {
        let (s, e) = store().await;
        let mut config = Config::default();
        config.tracker.provider = "github".into();
        config.tracker.project = "acme/widgets".into();
        config.tracker.token = "ghp_x".into();
        assert!(build(&config, s.clone(), e.clone(), None).is_none());

        config.tracker.webhook_secret = "global".into();
        config.projects.push(ProjectConfig {
            name: "svc".into(),
            ..ProjectConfig::default()
        });
        config.projects[0].tracker.provider = "linear".into();
        config.projects[0].tracker.token = "lin_api_x".into();
        config.projects[0].tracker.project = "ENG".into();
        let spec = &project_specs(&config)[1];
        assert_eq!(secret_for(spec, &config), "global");
        config.projects[0].tracker.webhook_secret = "own".into();
        assert_eq!(secret_for(&project_specs(&config)[1], &config), "own");
        assert!(build(&config, s, e, None).is_some());
    }
}
