//! GitLab Issues against the fake.

use std::sync::Arc;

use foreman_domain::remote::RemoteError;
use foreman_domain::tracker::{Tracker, TrackerError};
use foreman_fakes::{FakeGitLab, Fault};
use foreman_rest::gitlab::{GitLabClient, GitLabConfig};
use foreman_tracker::{GitLabTracker, StatusLabels};

use crate::contract::{self, Harness};

struct GitLab {
    fake: FakeGitLab,
    tracker: Arc<GitLabTracker>,
}

impl GitLab {
    async fn start() -> Self {
        let fake = FakeGitLab::start("acme/widgets", "glpat-test").await;
        let cfg = GitLabConfig {
            api_url: fake.api_url(),
            project: fake.project.clone(),
            token: fake.token.clone(),
        };
        let labels = StatusLabels {
            in_progress: "workflow::in progress".into(),
            in_review: "workflow::in review".into(),
            blocked: "workflow::blocked".into(),
            failed: "workflow::failed".into(),
        };
        let tracker = Arc::new(GitLabTracker::new(
            GitLabClient::new(&cfg).unwrap(),
            "foreman-ready",
            labels,
        ));
        Self { fake, tracker }
    }
}

fn iid(id: &str) -> i64 {
    id.trim_start_matches('#').parse().unwrap()
}

impl Harness for GitLab {
    fn tracker(&self) -> Arc<dyn Tracker> {
        self.tracker.clone()
    }
    async fn seed(&self, title: &str, body: &str, ready: bool) -> String {
        let labels: &[&str] = if ready { &["foreman-ready"] } else { &["bug"] };
        format!(
            "#{}",
            self.fake.add_issue(title, Some(body), labels, "reporter")
        )
    }
    async fn status(&self, id: &str) -> String {
        let i = self.fake.issue(iid(id)).unwrap();
        if i.state == "closed" {
            return "done".into();
        }
        let found: Vec<&str> = [
            ("workflow::in progress", "in_progress"),
            ("workflow::in review", "in_review"),
            ("workflow::blocked", "blocked"),
        ]
        .into_iter()
        .filter(|(l, _)| i.labels.iter().any(|x| x == l))
        .map(|(_, s)| s)
        .collect();
        assert!(found.len() <= 1, "{:?}", i.labels);
        found.first().copied().unwrap_or("open").to_owned()
    }
    async fn has_pr_link(&self, id: &str, url: &str) -> bool {
        self.fake
            .issue(iid(id))
            .unwrap()
            .notes
            .iter()
            .any(|n| n.2.contains(url))
    }
    fn missing_id(&self) -> String {
        "#9999".into()
    }
}

#[tokio::test]
async fn gitlab_tracker_passes_the_contract() {
    let gl = GitLab::start().await;
    contract::run(&gl).await;
}

#[tokio::test]
async fn system_notes_are_not_comments_and_pages_are_followed() {
    let gl = GitLab::start().await;
    let n = gl.fake.add_issue("x", None, &["foreman-ready"], "u");
    gl.fake.add_system_note(n, "added ~foreman-ready label");
    gl.tracker
        .add_comment(&format!("#{n}"), "hello")
        .await
        .unwrap();
    let t = gl.tracker.get_ticket(&format!("#{n}")).await.unwrap();
    assert_eq!(t.comments.len(), 1);
    assert_eq!(t.comments[0].body, "hello");
    for i in 0..230 {
        gl.fake
            .add_issue(&format!("i{i}"), None, &["foreman-ready"], "u");
    }
    let ready = gl.tracker.fetch_ready().await.unwrap();
    assert_eq!(ready.len(), 231);
    assert_eq!(ready[0].title, "x", "oldest first");
}

#[tokio::test]
async fn gitlab_failures_are_typed() {
    let gl = GitLab::start().await;
    gl.fake.control.set_revoked(true);
    assert!(matches!(
        gl.tracker.fetch_ready().await,
        Err(TrackerError::Remote(RemoteError::Unauthorized {
            service: "gitlab"
        }))
    ));
    gl.fake.control.set_revoked(false);
    gl.fake.control.fail_next(Fault::Malformed);
    assert_eq!(
        gl.tracker.fetch_ready().await.unwrap_err().code(),
        "bad_response"
    );
    gl.fake
        .control
        .fail_next(Fault::RateLimit { retry_after: 3600 });
    assert_eq!(gl.tracker.check().await.unwrap_err().code(), "rate_limited");
}
