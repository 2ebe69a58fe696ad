//! GitHub Issues against the fake: the contract, then pull requests in the issue list, ETags,
//! pagination, and failures.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::remote::RemoteError;
use foreman_domain::tracker::{Tracker, TrackerError, TrackerStatus};
use foreman_fakes::{FakeGitHub, Fault};
use foreman_rest::github::{GitHubClient, GitHubConfig};
use foreman_rest::{Auth, HttpConfig};
use foreman_tracker::{GitHubTracker, StatusLabels};

use crate::contract::{self, Harness};

pub struct GitHub {
    pub fake: FakeGitHub,
    pub tracker: Arc<GitHubTracker>,
}

impl GitHub {
    pub async fn start() -> Self {
        let fake = FakeGitHub::start("acme", "widgets", "ghp_test").await;
        let tracker = Arc::new(tracker_for(&fake, Duration::from_secs(2)));
        Self { fake, tracker }
    }
}

pub fn tracker_for(fake: &FakeGitHub, max_wait: Duration) -> GitHubTracker {
    let cfg = GitHubConfig {
        api_url: fake.url().to_owned(),
        owner: fake.owner.clone(),
        repo: fake.repo.clone(),
        token: fake.token.clone(),
    };
    let mut http = HttpConfig::new("github", fake.url(), Auth::Bearer(fake.token.clone()));
    http.max_retry_wait = max_wait;
    http.max_retries = 2;
    GitHubTracker::new(
        GitHubClient::with_http(http, &cfg).unwrap(),
        "",
        StatusLabels::default(),
    )
}

fn number(id: &str) -> i64 {
    id.trim_start_matches('#').parse().unwrap()
}

impl Harness for GitHub {
    fn tracker(&self) -> Arc<dyn Tracker> {
        self.tracker.clone()
    }
    async fn seed(&self, title: &str, body: &str, ready: bool) -> String {
        let labels: &[&str] = if ready {
            &["foreman-ready", "bug"]
        } else {
            &["bug"]
        };
        format!(
            "#{}",
            self.fake.add_issue(title, Some(body), labels, "reporter")
        )
    }
    async fn status(&self, id: &str) -> String {
        let issue = self.fake.issue(number(id)).unwrap();
        if issue.state == "closed" {
            return "done".into();
        }
        let has = |l: &str| issue.labels.iter().any(|x| x == l);
        let found: Vec<&str> = [
            ("foreman-in-progress", "in_progress"),
            ("foreman-in-review", "in_review"),
            ("foreman-blocked", "blocked"),
        ]
        .into_iter()
        .filter(|(l, _)| has(l))
        .map(|(_, s)| s)
        .collect();
        assert!(
            found.len() <= 1,
            "one status label at a time: {:?}",
            issue.labels
        );
        found.first().copied().unwrap_or("open").to_owned()
    }
    async fn has_pr_link(&self, id: &str, url: &str) -> bool {
        self.fake
            .issue(number(id))
            .unwrap()
            .comments
            .iter()
            .any(|c| c.body.contains(url))
    }
    fn missing_id(&self) -> String {
        "#9999".into()
    }
}

#[tokio::test]
async fn github_tracker_passes_the_contract() {
    let gh = GitHub::start().await;
    contract::run(&gh).await;
    let reporter = gh.tracker.get_ticket("#1").await.unwrap().reporter;
    assert_eq!(reporter.as_deref(), Some("reporter"));
    assert_eq!(gh.fake.issue(1).unwrap().state_reason, None);
    assert_eq!(
        gh.fake.issue(2).unwrap().state_reason.as_deref(),
        Some("completed")
    );
}

#[tokio::test]
async fn pull_requests_are_not_tickets() {
    let gh = GitHub::start().await;
    let issue = gh
        .fake
        .add_issue("real", Some("body"), &["foreman-ready"], "u");
    let pr = gh
        .fake
        .add_pull("a pr", "feature", "main", &["foreman-ready"]);
    let ready = gh.tracker.fetch_ready().await.unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].external_id, format!("#{issue}"));
    let err = gh.tracker.get_ticket(&format!("#{pr}")).await.unwrap_err();
    assert!(matches!(
        err,
        TrackerError::Remote(RemoteError::NotFound { .. })
    ));
    assert!(matches!(
        gh.tracker.get_ticket("PROJ-1").await,
        Err(TrackerError::Invalid(_))
    ));
}

#[tokio::test]
async fn every_page_is_read_and_unchanged_pages_cost_a_304() {
    let gh = GitHub::start().await;
    for i in 0..250 {
        gh.fake
            .add_issue(&format!("issue {i}"), None, &["foreman-ready"], "u");
    }
    gh.fake.add_issue("unlabelled", None, &[], "u");
    let ready = gh.tracker.fetch_ready().await.unwrap();
    assert_eq!(ready.len(), 250);
    assert_eq!(ready[0].title, "issue 0", "oldest first");
    assert_eq!(gh.fake.control.requests().len(), 3, "100 per page");

    gh.fake.control.clear_requests();
    let again = gh.tracker.fetch_ready().await.unwrap();
    assert_eq!(again.len(), 250);
    let seen = gh.fake.control.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|r| r.if_none_match.is_some()), "{seen:?}");

    // a change shows up even though earlier answers were cached
    gh.fake.add_issue("new one", None, &["foreman-ready"], "u");
    assert_eq!(gh.tracker.fetch_ready().await.unwrap().len(), 251);
}

#[tokio::test]
async fn failures_are_typed() {
    let gh = GitHub::start().await;
    gh.fake.add_issue("x", None, &["foreman-ready"], "u");

    gh.fake.control.set_revoked(true);
    let err = gh.tracker.fetch_ready().await.unwrap_err();
    assert!(
        matches!(
            err,
            TrackerError::Remote(RemoteError::Unauthorized { service: "github" })
        ),
        "{err:?}"
    );
    assert!(gh.tracker.check().await.is_err());
    gh.fake.control.set_revoked(false);

    gh.fake
        .control
        .fail_next(Fault::SecondaryRateLimit { retry_after: 600 });
    let err = gh.tracker.fetch_ready().await.unwrap_err();
    assert!(
        matches!(err, TrackerError::Remote(RemoteError::RateLimited { retry_after: Some(d), .. }) if d == Duration::from_secs(600))
    );

    gh.fake
        .control
        .fail_next(Fault::RateLimit { retry_after: 1 });
    assert_eq!(
        gh.tracker.fetch_ready().await.unwrap().len(),
        1,
        "short limits are waited out"
    );

    gh.fake.control.fail_next(Fault::EmptyPage);
    assert!(
        gh.tracker.fetch_ready().await.unwrap().is_empty(),
        "an empty page is no tickets, not an error"
    );

    gh.fake.control.fail_next(Fault::Malformed);
    assert_eq!(
        gh.tracker.fetch_ready().await.unwrap_err().code(),
        "bad_response"
    );

    gh.fake
        .control
        .fail_next_on("/issues/1/comments", Fault::Status(403));
    assert_eq!(
        gh.tracker.add_comment("#1", "x").await.unwrap_err().code(),
        "forbidden"
    );
}

#[tokio::test]
async fn a_late_status_update_does_not_reopen_a_done_issue() {
    let g = GitHub::start().await;
    let n = g.fake.add_issue("x", None, &["foreman-ready"], "ada");
    let id = format!("#{n}");
    g.tracker
        .update_status(&id, TrackerStatus::Done)
        .await
        .unwrap();
    // an in-review update retried from the outbox after the merge's done
    g.tracker
        .update_status(&id, TrackerStatus::InReview)
        .await
        .unwrap();
    let issue = g.fake.issue(n).unwrap();
    assert_eq!(issue.state, "closed");
    assert!(
        !issue.labels.iter().any(|l| l == "foreman-in-review"),
        "{:?}",
        issue.labels
    );
    // control: on an open issue the same update sets its label
    let open = g.fake.add_issue("y", None, &["foreman-ready"], "ada");
    g.tracker
        .update_status(&format!("#{open}"), TrackerStatus::InReview)
        .await
        .unwrap();
    assert!(
        g.fake
            .issue(open)
            .unwrap()
            .labels
            .iter()
            .any(|l| l == "foreman-in-review")
    );
}

#[tokio::test]
async fn each_status_replaces_the_last_and_done_closes_without_a_status_label() {
    let g = GitHub::start().await;
    let n = g.fake.add_issue("x", None, &["foreman-ready"], "ada");
    let id = format!("#{n}");
    let labels = || g.fake.issue(n).unwrap().labels;
    g.tracker
        .update_status(&id, TrackerStatus::InProgress)
        .await
        .unwrap();
    assert!(
        labels().iter().any(|l| l == "foreman-in-progress"),
        "{:?}",
        labels()
    );
    g.tracker
        .update_status(&id, TrackerStatus::InReview)
        .await
        .unwrap();
    assert!(
        labels().iter().any(|l| l == "foreman-in-review"),
        "{:?}",
        labels()
    );
    assert!(
        !labels().iter().any(|l| l == "foreman-in-progress"),
        "{:?}",
        labels()
    );
    g.tracker
        .update_status(&id, TrackerStatus::Done)
        .await
        .unwrap();
    let issue = g.fake.issue(n).unwrap();
    assert_eq!(issue.state, "closed");
    assert!(
        !issue.labels.iter().any(|l| l.starts_with("foreman-in")),
        "{:?}",
        issue.labels
    );
}
