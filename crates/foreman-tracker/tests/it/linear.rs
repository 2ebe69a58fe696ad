//! Linear against the fake.

use std::sync::Arc;

use foreman_domain::remote::RemoteError;
use foreman_domain::tracker::{Tracker, TrackerError, TrackerStatus, priority};
use foreman_fakes::{FakeLinear, Fault};
use foreman_tracker::{LinearConfig, LinearTracker};

use crate::contract::{self, Harness};

struct Linear {
    fake: FakeLinear,
    tracker: Arc<LinearTracker>,
}

impl Linear {
    async fn start() -> Self {
        let fake = FakeLinear::start("ENG", "lin_api_test").await;
        let tracker = Arc::new(
            LinearTracker::new(LinearConfig::new(&fake.api_url(), &fake.api_key, "ENG")).unwrap(),
        );
        Self { fake, tracker }
    }
}

impl Harness for Linear {
    fn tracker(&self) -> Arc<dyn Tracker> {
        self.tracker.clone()
    }
    async fn seed(&self, title: &str, body: &str, ready: bool) -> String {
        let labels: &[&str] = if ready {
            &["foreman-ready"]
        } else {
            &["later"]
        };
        self.fake.add_issue(title, Some(body), labels, 3)
    }
    async fn status(&self, id: &str) -> String {
        match FakeLinear::state_name(&self.fake.issue(id).unwrap().state_id) {
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
            .attachments
            .iter()
            .any(|a| a.0 == url)
    }
    fn missing_id(&self) -> String {
        "ENG-9999".into()
    }
}

#[tokio::test]
async fn linear_tracker_passes_the_contract() {
    let l = Linear::start().await;
    contract::run(&l).await;
    let child = l.fake.issue("ENG-4").unwrap();
    assert_eq!(child.parent_id.as_deref(), Some("iss-1"));
    assert_eq!(
        l.fake.label_names("ENG-4"),
        ["foreman"],
        "a missing label is created on the team"
    );
    let t = l.tracker.get_ticket("ENG-1").await.unwrap();
    assert_eq!(t.priority, priority::MEDIUM);
    assert_eq!(t.reporter.as_deref(), Some("Grace Hopper"));
}

#[tokio::test]
async fn every_page_is_read() {
    let l = Linear::start().await;
    for i in 0..230 {
        l.fake
            .add_issue(&format!("i{i}"), None, &["foreman-ready"], 0);
    }
    l.fake.add_issue("not ready", None, &[], 0);
    let ready = l.tracker.fetch_ready().await.unwrap();
    assert_eq!(ready.len(), 230);
    assert_eq!(l.fake.control.requests().len(), 3);
}

#[tokio::test]
async fn missing_states_and_failures_are_typed() {
    let fake = FakeLinear::start("ENG", "lin_api_test").await;
    let mut cfg = LinearConfig::new(&fake.api_url(), &fake.api_key, "ENG");
    cfg.states.in_review = "Code Review".into();
    let tracker = LinearTracker::new(cfg).unwrap();
    let id = fake.add_issue("x", None, &["foreman-ready"], 1);
    let err = tracker
        .update_status(&id, TrackerStatus::InReview)
        .await
        .unwrap_err();
    let TrackerError::Misconfigured { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("Code Review") && message.contains("In Review"),
        "{message}"
    );
    // the same name is reported by the start-up check, with the team's states
    let problems = tracker.check_statuses().await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("in_review maps to \"Code Review\"")
            && problems[0].contains("Canceled"),
        "{problems:?}"
    );

    fake.rate_limit_next();
    assert_eq!(
        tracker.fetch_ready().await.unwrap_err().code(),
        "rate_limited"
    );
    fake.control.set_revoked(true);
    assert!(matches!(
        tracker.check().await,
        Err(TrackerError::Remote(RemoteError::Unauthorized {
            service: "linear"
        }))
    ));
    fake.control.set_revoked(false);
    fake.control.fail_next(Fault::Malformed);
    assert_eq!(
        tracker.fetch_ready().await.unwrap_err().code(),
        "bad_response"
    );
    assert!(matches!(
        tracker.get_ticket("not an id").await,
        Err(TrackerError::Invalid(_))
    ));

    let wrong_team =
        LinearTracker::new(LinearConfig::new(&fake.api_url(), &fake.api_key, "OPS")).unwrap();
    assert!(matches!(
        wrong_team.check().await,
        Err(TrackerError::Remote(RemoteError::NotFound { .. }))
    ));
    assert!(LinearTracker::new(LinearConfig::new(&fake.api_url(), "", "ENG")).is_err());
}
