//! Jira Cloud against the fake.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::remote::RemoteError;
use foreman_domain::tracker::{Tracker, TrackerError, TrackerStatus, priority};
use foreman_fakes::jira::adf_paragraphs;
use foreman_fakes::{FakeJira, Fault};
use foreman_rest::{Auth, HttpConfig};
use foreman_tracker::{JiraConfig, JiraTracker, adf};
use serde_json::json;

use crate::contract::{self, Harness};

struct Jira {
    fake: FakeJira,
    tracker: Arc<JiraTracker>,
}

fn config(fake: &FakeJira) -> JiraConfig {
    JiraConfig::new(fake.url(), &fake.email, &fake.token, &fake.project)
}

fn build(fake: &FakeJira, cfg: JiraConfig) -> JiraTracker {
    let mut http = HttpConfig::new(
        "jira",
        fake.url(),
        Auth::Basic {
            user: fake.email.clone(),
            password: fake.token.clone(),
        },
    );
    http.max_retry_wait = Duration::from_secs(2);
    JiraTracker::with_http(http, cfg).unwrap()
}

impl Jira {
    async fn start() -> Self {
        let fake = FakeJira::start("PROJ", "bot@example.com", "jira-token").await;
        let tracker = Arc::new(build(&fake, config(&fake)));
        Self { fake, tracker }
    }
}

impl Harness for Jira {
    fn tracker(&self) -> Arc<dyn Tracker> {
        self.tracker.clone()
    }
    async fn seed(&self, title: &str, body: &str, ready: bool) -> String {
        let labels: &[&str] = if ready {
            &["foreman-ready"]
        } else {
            &["backlog"]
        };
        self.fake
            .add_issue(title, adf::from_text(body), labels, Some("Medium"))
    }
    async fn status(&self, id: &str) -> String {
        match self.fake.issue(id).unwrap().status.as_str() {
            "In Progress" => "in_progress",
            "In Review" => "in_review",
            "Blocked" => "blocked",
            "Done" => "done",
            _ => "open",
        }
        .to_owned()
    }
    async fn has_pr_link(&self, id: &str, url: &str) -> bool {
        self.fake
            .issue(id)
            .unwrap()
            .links
            .iter()
            .any(|l| l.1 == url)
    }
    fn missing_id(&self) -> String {
        "PROJ-9999".into()
    }
}

#[tokio::test]
async fn jira_tracker_passes_the_contract() {
    let j = Jira::start().await;
    contract::run(&j).await;
    // the link is idempotent
    j.tracker
        .attach_pr("PROJ-1", "https://example.com/pr/7", "again")
        .await
        .unwrap();
    assert_eq!(j.fake.issue("PROJ-1").unwrap().links.len(), 1);
    let child = j.fake.issue("PROJ-4").unwrap();
    assert_eq!(child.summary, "Child: add SSO error page");
    assert_eq!(child.parent.as_deref(), Some("PROJ-1"));
    assert_eq!(child.description["type"], "doc", "created bodies are ADF");
}

#[tokio::test]
async fn adf_comments_priorities_and_criteria_fields() {
    let fake = FakeJira::start("PROJ", "bot@example.com", "jira-token").await;
    let mut cfg = config(&fake);
    cfg.criteria_field = Some("customfield_10042".into());
    let tracker = build(&fake, cfg);
    let key = fake.add_issue(
        "Rich",
        adf_paragraphs("First.\n\nSecond."),
        &["foreman-ready"],
        Some("Highest"),
    );
    fake.set_custom(&key, "customfield_10042", adf_paragraphs("- it works"));
    tracker
        .add_comment(&key, "## Progress\n\n- [x] planned\n- [ ] implemented")
        .await
        .unwrap();

    let t = tracker.get_ticket(&key).await.unwrap();
    assert_eq!(t.description, "First.\n\nSecond.");
    assert_eq!(t.acceptance_criteria, "- it works");
    assert_eq!(t.priority, priority::URGENT);
    assert_eq!(t.reporter.as_deref(), Some("Ada Lovelace"));
    assert_eq!(
        t.comments[0].body,
        "## Progress\n\n- [x] planned\n- [ ] implemented"
    );
    assert!(t.url.ends_with(&format!("/browse/{key}")));
    let stored = &fake.issue(&key).unwrap().comments[0].1;
    assert_eq!(stored["content"][1]["type"], "taskList");
}

#[tokio::test]
async fn a_missing_transition_is_a_configuration_error() {
    let j = Jira::start().await;
    let key = j.fake.add_issue("x", json!(null), &["foreman-ready"], None);
    j.fake.disable_transition_to("In Review");
    let err = j
        .tracker
        .update_status(&key, TrackerStatus::InReview)
        .await
        .unwrap_err();
    let TrackerError::Misconfigured { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("\"In Review\"") && message.contains("Done"),
        "{message}"
    );
    // already in the wanted status: nothing to do
    j.tracker
        .update_status(&key, TrackerStatus::InProgress)
        .await
        .unwrap();
    j.tracker
        .update_status(&key, TrackerStatus::InProgress)
        .await
        .unwrap();
    assert_eq!(j.fake.issue(&key).unwrap().status, "In Progress");
}

#[tokio::test]
async fn search_pages_and_quoting() {
    let fake = FakeJira::start("PROJ", "bot@example.com", "jira-token").await;
    let mut cfg = config(&fake);
    cfg.pickup_label = "ready\"for-foreman".into();
    let tracker = build(&fake, cfg);
    for i in 0..230 {
        fake.add_issue(&format!("i{i}"), json!(null), &["ready\"for-foreman"], None);
    }
    fake.add_issue("other", json!(null), &["foreman-ready"], None);
    let ready = tracker.fetch_ready().await.unwrap();
    assert_eq!(ready.len(), 230);
    assert_eq!(ready[229].title, "i229");
    assert_eq!(fake.control.requests().len(), 3);
}

#[tokio::test]
async fn jira_failures_are_typed() {
    let j = Jira::start().await;
    j.fake.control.set_revoked(true);
    assert!(matches!(
        j.tracker.check().await,
        Err(TrackerError::Remote(RemoteError::Unauthorized {
            service: "jira"
        }))
    ));
    j.fake.control.set_revoked(false);
    j.tracker.check().await.unwrap();
    j.fake
        .control
        .fail_next(Fault::RateLimit { retry_after: 1 });
    j.tracker.fetch_ready().await.unwrap();
    j.fake.control.fail_next(Fault::Status(400));
    assert_eq!(
        j.tracker.fetch_ready().await.unwrap_err().code(),
        "rejected"
    );
    assert!(matches!(
        j.tracker.get_ticket("#4").await,
        Err(TrackerError::Invalid(_))
    ));
    assert!(matches!(
        j.tracker.add_label("PROJ-1", "has space").await,
        Err(TrackerError::Invalid(_))
    ));
    let mut cfg = config(&j.fake);
    cfg.project_key = "NOPE".into();
    let wrong = build(&j.fake, cfg);
    assert!(matches!(
        wrong.check().await,
        Err(TrackerError::Remote(RemoteError::NotFound { .. }))
    ));
    let mut cfg = config(&j.fake);
    cfg.api_token = String::new();
    assert!(JiraTracker::new(cfg).is_err());
}

#[tokio::test]
async fn configured_statuses_are_checked_against_the_project_and_empty_ones_are_skipped() {
    let j = Jira::start().await;
    assert_eq!(
        j.tracker.check_statuses().await.unwrap(),
        Vec::<String>::new(),
        "the defaults exist in the fake's workflow"
    );
    j.fake.disable_transition_to("In Review");
    let mut cfg = config(&j.fake);
    cfg.statuses.failed = "Failed".into();
    cfg.statuses.blocked = String::new();
    let tracker = build(&j.fake, cfg);
    let problems = tracker.check_statuses().await.unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("in_review maps to \"In Review\"")
            && problems[0].contains("project")
            && problems[0].contains("Done"),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("failed maps to \"Failed\""),
        "{problems:?}"
    );
    // a status with no name is not reported: nothing is asked of Jira
    let key = j.fake.add_issue("x", json!(null), &["foreman-ready"], None);
    j.fake.control.clear_requests();
    tracker
        .update_status(&key, TrackerStatus::Blocked)
        .await
        .unwrap();
    assert!(j.fake.control.requests().is_empty());
    // control: a named status is moved to
    tracker
        .update_status(&key, TrackerStatus::InProgress)
        .await
        .unwrap();
    assert_eq!(j.fake.issue(&key).unwrap().status, "In Progress");
}
