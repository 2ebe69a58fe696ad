//! `WebhookIntake`: real payloads from each service (fixtures in `tests/fixtures/webhooks`),
//! signed as the service signs them, through the intake into an in-memory store, with the
//! tracker behind it a fake server speaking the service's API.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::git::PrState;
use foreman_domain::tracker::{IntakeSource, Tracker};
use foreman_domain::webhook::{
    PullRequestWatch, WebhookAction, WebhookError, WebhookOutcome, WebhookSink,
};
use foreman_domain::{
    EventFilter, EventLog, EventType, TicketId, TicketPatch, TicketStatus, TicketStore,
};
use foreman_fakes::{FakeGitLab, FakeJira, FakeLinear, Fault};
use foreman_pipeline::intake::Intake;
use foreman_rest::gitlab::{GitLabClient, GitLabConfig};
use foreman_testkit::MemoryStore;
use foreman_tracker::webhook::sign;
use foreman_tracker::{
    GitLabTracker, HostRoute, JiraConfig, JiraTracker, LinearConfig, LinearTracker, StatusLabels,
    TrackerRoute, WebhookIntake,
};

use crate::github::GitHub;

const SECRET: &str = "It's a Secret to Everybody";

fn fixture(name: &str, id: &str) -> Vec<u8> {
    fixture_at(name, id, chrono::Utc::now().timestamp_millis())
}

/// The fixture with `{{ID}}` and `{{TIMESTAMP}}` (milliseconds) filled in.
fn fixture_at(name: &str, id: &str, timestamp_ms: i64) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhooks")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("{{ID}}", id)
        .replace("{{TIMESTAMP}}", &timestamp_ms.to_string())
        .into_bytes()
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn github_headers(event: &str, secret: &str, body: &[u8]) -> Vec<(String, String)> {
    h(&[
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        (
            "X-Hub-Signature-256",
            &format!("sha256={}", sign(secret, body)),
        ),
        ("Content-Type", "application/json"),
    ])
}

struct Rig {
    store: Arc<MemoryStore>,
    sink: WebhookIntake,
}

fn rig(provider: &str, project: &str, scope: &str, tracker: Arc<dyn Tracker>) -> Rig {
    let store = Arc::new(MemoryStore::new());
    let intake = Arc::new(Intake::new(project, tracker, store.clone(), store.clone()));
    let sink = WebhookIntake::new(store.clone()).tracker(TrackerRoute {
        provider: provider.to_owned(),
        secret: SECRET.to_owned(),
        pickup_label: "foreman-ready".to_owned(),
        scope: scope.to_owned(),
        intake,
    });
    Rig { store, sink }
}

async fn tickets(store: &MemoryStore, project: &str) -> usize {
    store
        .list_tickets(&foreman_domain::TicketFilter {
            project: Some(project.to_owned()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .len()
}

fn expect(outcome: &WebhookOutcome, action: WebhookAction) {
    assert_eq!(outcome.action, action, "{outcome:?}");
}

#[tokio::test]
async fn github_labeled_issue_is_queued_once() {
    let gh = GitHub::start().await;
    let n = gh.fake.add_issue(
        "Add login",
        Some("Users need to log in.\n\n## Acceptance criteria\n- login works"),
        &["foreman-ready"],
        "alice",
    );
    let r = rig("github", "web", "acme/widgets", gh.tracker.clone());
    let body = fixture("github_issues_labeled.json", &n.to_string());

    let first = r
        .sink
        .receive("github", &github_headers("issues", SECRET, &body), &body)
        .await
        .unwrap();
    expect(&first, WebhookAction::Queued);
    assert_eq!(first.project.as_deref(), Some("web"));
    assert_eq!(first.kind, "issue");
    assert_eq!(first.event, "labeled");
    assert_eq!(first.external_id, Some(format!("#{n}")));
    let id = first.ticket_id.clone().expect("ticket id");
    let t = r.store.get_ticket(&id).await.unwrap().unwrap();
    assert_eq!(
        (t.title.as_str(), t.status, t.acceptance_criteria.as_str()),
        ("Add login", TicketStatus::Queued, "- login works")
    );
    // the same path as polling: a ticket_created event from the intake
    let created = r
        .store
        .list_events(&EventFilter {
            types: vec![EventType::TicketCreated],
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.len(), 1);

    // a redelivery (GitHub's "redeliver" button) creates nothing new
    let again = r
        .sink
        .receive("github", &github_headers("issues", SECRET, &body), &body)
        .await
        .unwrap();
    expect(&again, WebhookAction::Ignored);
    assert_eq!(again.ticket_id.as_ref(), Some(&id));
    assert_eq!(tickets(&r.store, "web").await, 1);
}

#[tokio::test]
async fn forged_or_unsigned_github_deliveries_store_nothing_and_call_nothing() {
    let gh = GitHub::start().await;
    let n = gh
        .fake
        .add_issue("Add login", None, &["foreman-ready"], "alice");
    let r = rig("github", "web", "acme/widgets", gh.tracker.clone());
    let body = fixture("github_issues_labeled.json", &n.to_string());
    gh.fake.control.clear_requests();

    let forged = r
        .sink
        .receive("github", &github_headers("issues", "guess", &body), &body)
        .await;
    assert!(
        matches!(&forged, Err(WebhookError::Unauthorized { reason }) if reason == "signature mismatch"),
        "{forged:?}"
    );
    let unsigned = r
        .sink
        .receive("github", &h(&[("X-GitHub-Event", "issues")]), &body)
        .await;
    assert!(
        matches!(&unsigned, Err(WebhookError::Unauthorized { reason }) if reason.contains("x-hub-signature-256")),
        "{unsigned:?}"
    );
    // signed for another body
    let other = fixture("github_issues_closed.json", &n.to_string());
    let swapped = r
        .sink
        .receive("github", &github_headers("issues", SECRET, &other), &body)
        .await;
    assert!(matches!(swapped, Err(WebhookError::Unauthorized { .. })));

    assert_eq!(tickets(&r.store, "web").await, 0);
    assert_eq!(r.store.latest_seq().await.unwrap(), 0);
    assert!(
        gh.fake.control.requests().is_empty(),
        "the tracker was asked"
    );
}

#[tokio::test]
async fn malformed_payloads_and_unconfigured_providers() {
    let gh = GitHub::start().await;
    let r = rig("github", "web", "acme/widgets", gh.tracker.clone());

    let body = b"{\"action\": \"labeled\"".to_vec();
    let bad = r
        .sink
        .receive("github", &github_headers("issues", SECRET, &body), &body)
        .await;
    assert!(
        matches!(bad, Err(WebhookError::Malformed { .. })),
        "{bad:?}"
    );

    let body = br#"{"action":"opened"}"#.to_vec();
    let no_issue = r
        .sink
        .receive("github", &github_headers("issues", SECRET, &body), &body)
        .await;
    assert!(matches!(no_issue, Err(WebhookError::Malformed { .. })));

    let mut headers = github_headers("issues", SECRET, &body);
    headers.retain(|(k, _)| k != "X-GitHub-Event");
    let no_event = r.sink.receive("github", &headers, &body).await;
    assert!(
        matches!(&no_event, Err(WebhookError::Malformed { reason }) if reason.contains("x-github-event")),
        "{no_event:?}"
    );

    for provider in ["jira", "gitlab", "linear", "bitbucket"] {
        let r = r.sink.receive(provider, &[], b"{}").await;
        assert!(
            matches!(&r, Err(WebhookError::NotConfigured { provider: p }) if p == provider),
            "{provider}: {r:?}"
        );
    }
    // a route without a secret is no route
    let store = Arc::new(MemoryStore::new());
    let empty = WebhookIntake::new(store.clone()).tracker(TrackerRoute {
        provider: "github".into(),
        secret: String::new(),
        pickup_label: "foreman-ready".into(),
        scope: String::new(),
        intake: Arc::new(Intake::new(
            "web",
            gh.tracker.clone(),
            store.clone(),
            store.clone(),
        )),
    });
    assert!(empty.is_empty());
    assert!(matches!(
        empty.receive("github", &[], b"{}").await,
        Err(WebhookError::NotConfigured { .. })
    ));
    assert_eq!(tickets(&r.store, "web").await, 0);
}

#[tokio::test]
async fn github_close_of_a_queued_ticket_is_recorded_and_the_ticket_stays_queued() {
    let gh = GitHub::start().await;
    let n = gh
        .fake
        .add_issue("Add login", None, &["foreman-ready"], "alice");
    let r = rig("github", "web", "acme/widgets", gh.tracker.clone());
    let labeled = fixture("github_issues_labeled.json", &n.to_string());
    let queued = r
        .sink
        .receive(
            "github",
            &github_headers("issues", SECRET, &labeled),
            &labeled,
        )
        .await
        .unwrap();
    let id = queued.ticket_id.unwrap();

    let closed = fixture("github_issues_closed.json", &n.to_string());
    let out = r
        .sink
        .receive(
            "github",
            &github_headers("issues", SECRET, &closed),
            &closed,
        )
        .await
        .unwrap();
    expect(&out, WebhookAction::Recorded);
    assert_eq!(out.ticket_id.as_ref(), Some(&id));
    assert!(out.reason.contains("stays queued"), "{}", out.reason);
    let t = r.store.get_ticket(&id).await.unwrap().unwrap();
    assert_eq!(t.status, TicketStatus::Queued);

    // once work started, tracker changes are only ignored
    r.store
        .transition_ticket(&id, TicketStatus::Queued, TicketStatus::Planning, None)
        .await
        .unwrap();
    let out = r
        .sink
        .receive(
            "github",
            &github_headers("issues", SECRET, &closed),
            &closed,
        )
        .await
        .unwrap();
    expect(&out, WebhookAction::Ignored);
    assert!(out.reason.contains("planning"), "{}", out.reason);
}

#[tokio::test]
async fn github_tracker_failures_defer_to_the_next_poll() {
    let gh = GitHub::start().await;
    let n = gh
        .fake
        .add_issue("Add login", None, &["foreman-ready"], "alice");
    let r = rig("github", "web", "acme/widgets", gh.tracker.clone());
    let body = fixture("github_issues_labeled.json", &n.to_string());
    gh.fake.control.fail_next(Fault::Status(401));
    let out = r
        .sink
        .receive("github", &github_headers("issues", SECRET, &body), &body)
        .await
        .unwrap();
    expect(&out, WebhookAction::Deferred);
    assert!(out.reason.contains("credentials"), "{}", out.reason);
    assert_eq!(tickets(&r.store, "web").await, 0);

    // a tracker slower than the deadline: answered at once, taken in in the background
    let slow = rig("github", "web", "acme/widgets", gh.tracker.clone());
    let sink = slow.sink.with_deadline(Duration::from_millis(50));
    gh.fake.control.fail_next(Fault::Delay { ms: 1_000 });
    let out = sink
        .receive("github", &github_headers("issues", SECRET, &body), &body)
        .await
        .unwrap();
    expect(&out, WebhookAction::Deferred);
    let mut found = None;
    for _ in 0..200 {
        found = slow
            .store
            .get_ticket_by_external_id("web", &format!("#{n}"))
            .await
            .unwrap();
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(found.is_some(), "the background poll took the ticket in");
}

#[tokio::test]
async fn github_pings_and_merged_pull_requests() {
    let gh = GitHub::start().await;
    let r = rig("github", "web", "acme/widgets", gh.tracker.clone());
    let sink = r.sink.host(HostRoute {
        project: "web".into(),
        provider: "github".into(),
        secret: SECRET.into(),
        scope: "acme/widgets".into(),
    });

    let ping = fixture("github_ping.json", "0");
    let out = sink
        .receive("github", &github_headers("ping", SECRET, &ping), &ping)
        .await
        .unwrap();
    expect(&out, WebhookAction::Ignored);
    assert_eq!((out.kind.as_str(), out.reason.as_str()), ("ping", "ping"));

    // a ticket with pull request #7 open at the host
    let t = new_ticket(&r.store).await;
    open_pull_request(&r.store, &t.id, 7, false).await;

    let merged = fixture("github_pull_request_merged.json", "7");
    let out = sink
        .receive(
            "github",
            &github_headers("pull_request", SECRET, &merged),
            &merged,
        )
        .await
        .unwrap();
    expect(&out, WebhookAction::Recorded);
    assert_eq!(out.ticket_id.as_ref(), Some(&t.id));
    let change = out.pull_request.expect("pull request change");
    assert_eq!((change.number, change.state), (7, PrState::Merged));

    let unknown = fixture("github_pull_request_merged.json", "99");
    let out = sink
        .receive(
            "github",
            &github_headers("pull_request", SECRET, &unknown),
            &unknown,
        )
        .await
        .unwrap();
    expect(&out, WebhookAction::Ignored);
    assert_eq!(out.pull_request.map(|c| c.number), Some(99));
}

#[tokio::test]
async fn projects_sharing_a_secret_are_told_apart_by_repository() {
    let a = GitHub::start().await;
    let b = GitHub::start().await;
    let n = b.fake.add_issue("In b", None, &["foreman-ready"], "bob");
    let store = Arc::new(MemoryStore::new());
    let route = |project: &str, scope: &str, tracker: Arc<dyn Tracker>| TrackerRoute {
        provider: "github".into(),
        secret: SECRET.into(),
        pickup_label: "foreman-ready".into(),
        scope: scope.into(),
        intake: Arc::new(Intake::new(project, tracker, store.clone(), store.clone())),
    };
    let sink = WebhookIntake::new(store.clone())
        .tracker(route("alpha", "acme/other", a.tracker.clone()))
        .tracker(route("beta", "acme/widgets", b.tracker.clone()));
    assert_eq!(sink.providers(), vec!["github".to_owned()]);
    let body = fixture("github_issues_labeled.json", &n.to_string());
    let out = sink
        .receive("github", &github_headers("issues", SECRET, &body), &body)
        .await
        .unwrap();
    expect(&out, WebhookAction::Queued);
    assert_eq!(out.project.as_deref(), Some("beta"));
    assert_eq!(tickets(&store, "alpha").await, 0);
    assert_eq!(tickets(&store, "beta").await, 1);
}

async fn gitlab() -> (FakeGitLab, Arc<GitLabTracker>) {
    let fake = FakeGitLab::start("acme/widgets", "glpat-test").await;
    let cfg = GitLabConfig {
        api_url: fake.api_url(),
        project: fake.project.clone(),
        token: fake.token.clone(),
    };
    let tracker = Arc::new(GitLabTracker::new(
        GitLabClient::new(&cfg).unwrap(),
        "foreman-ready",
        StatusLabels::default(),
    ));
    (fake, tracker)
}

fn gitlab_headers(event: &str, token: &str) -> Vec<(String, String)> {
    h(&[
        ("X-Gitlab-Event", event),
        ("X-Gitlab-Token", token),
        ("X-Gitlab-Instance", "https://gitlab.example.com"),
        ("Content-Type", "application/json"),
    ])
}

#[tokio::test]
async fn gitlab_labeled_issue_is_queued_and_unlabeling_is_recorded() {
    let (fake, tracker) = gitlab().await;
    let iid = fake.add_issue(
        "Add login",
        Some("Users need to log in."),
        &["foreman-ready"],
        "alice",
    );
    let r = rig("gitlab", "svc", "acme/widgets", tracker.clone());

    let body = fixture("gitlab_issue_labeled.json", &iid.to_string());
    let wrong = r
        .sink
        .receive("gitlab", &gitlab_headers("Issue Hook", "nope"), &body)
        .await;
    assert!(matches!(wrong, Err(WebhookError::Unauthorized { .. })));
    assert_eq!(tickets(&r.store, "svc").await, 0);

    let out = r
        .sink
        .receive("gitlab", &gitlab_headers("Issue Hook", SECRET), &body)
        .await
        .unwrap();
    expect(&out, WebhookAction::Queued);
    assert_eq!(out.external_id, Some(format!("#{iid}")));
    let id = out.ticket_id.unwrap();
    assert_eq!(
        r.store.get_ticket(&id).await.unwrap().unwrap().title,
        "Add login"
    );

    tracker
        .remove_label(&format!("#{iid}"), "foreman-ready")
        .await
        .unwrap();
    let body = fixture("gitlab_issue_unlabeled.json", &iid.to_string());
    let out = r
        .sink
        .receive("gitlab", &gitlab_headers("Issue Hook", SECRET), &body)
        .await
        .unwrap();
    expect(&out, WebhookAction::Recorded);
    assert_eq!(out.ticket_id.as_ref(), Some(&id));
    assert_eq!(
        r.store.get_ticket(&id).await.unwrap().unwrap().status,
        TicketStatus::Queued
    );
}

/// The ticket `#1` of project `web`, queued.
async fn new_ticket(store: &MemoryStore) -> foreman_domain::Ticket {
    store
        .create_ticket(foreman_domain::NewTicket {
            project: "web".into(),
            external_id: "#1".into(),
            title: "Add login".into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Walks the ticket to `pr_created` (and on to `awaiting_merge` when `awaiting`) with pull
/// request `number`.
async fn open_pull_request(store: &MemoryStore, id: &TicketId, number: i64, awaiting: bool) {
    let mut path = vec![
        (TicketStatus::Queued, TicketStatus::Planning),
        (TicketStatus::Planning, TicketStatus::PlanValidating),
        (TicketStatus::PlanValidating, TicketStatus::Implementing),
        (TicketStatus::Implementing, TicketStatus::Reviewing),
        (TicketStatus::Reviewing, TicketStatus::PrCreated),
    ];
    if awaiting {
        path.push((TicketStatus::PrCreated, TicketStatus::AwaitingMerge));
    }
    for (from, to) in path {
        store.transition_ticket(id, from, to, None).await.unwrap();
    }
    store
        .update_ticket(
            id,
            TicketPatch {
                pr_number: Some(Some(number)),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
}

/// Records the tickets it is told about.
#[derive(Debug, Default)]
struct Watched(std::sync::Mutex<Vec<TicketId>>);

impl PullRequestWatch for Watched {
    fn pull_request_changed(&self, ticket: &TicketId) {
        self.0.lock().unwrap().push(ticket.clone());
    }
}

#[tokio::test]
async fn pull_request_events_of_waiting_tickets_wake_the_watch() {
    let gh = GitHub::start().await;
    let r = rig("github", "web", "acme/widgets", gh.tracker.clone());
    let watched = Arc::new(Watched::default());
    let sink = r
        .sink
        .host(HostRoute {
            project: "web".into(),
            provider: "github".into(),
            secret: SECRET.into(),
            scope: "acme/widgets".into(),
        })
        .watch(watched.clone());
    let t = new_ticket(&r.store).await;
    let deliver = |event: &'static str, body: Vec<u8>| {
        let sink = &sink;
        async move {
            sink.receive("github", &github_headers(event, SECRET, &body), &body)
                .await
                .unwrap()
        }
    };

    // no ticket has #7 yet: ignored, nobody woken
    let out = deliver(
        "pull_request",
        fixture("github_pull_request_synchronize.json", "7"),
    )
    .await;
    expect(&out, WebhookAction::Ignored);
    assert!(watched.0.lock().unwrap().is_empty());

    open_pull_request(&r.store, &t.id, 7, true).await;

    // a push to the open pull request: recorded on the ticket, the watch reads it now
    let out = deliver(
        "pull_request",
        fixture("github_pull_request_synchronize.json", "7"),
    )
    .await;
    expect(&out, WebhookAction::Recorded);
    assert_eq!(out.ticket_id.as_ref(), Some(&t.id));
    assert_eq!(
        out.pull_request, None,
        "an open pull request carries no change"
    );
    assert!(out.reason.contains("reads it now"), "{}", out.reason);
    assert_eq!(*watched.0.lock().unwrap(), vec![t.id.clone()]);

    // finished checks name their pull requests
    let suite = br#"{"action":"completed","check_suite":{"conclusion":"success","pull_requests":[{"number":7}]},"repository":{"full_name":"acme/widgets"}}"#.to_vec();
    let out = deliver("check_suite", suite).await;
    expect(&out, WebhookAction::Recorded);
    assert_eq!(watched.0.lock().unwrap().len(), 2);

    // once merged, later deliveries are recorded but wake nobody
    r.store
        .transition_ticket(
            &t.id,
            TicketStatus::AwaitingMerge,
            TicketStatus::Merged,
            None,
        )
        .await
        .unwrap();
    let out = deliver(
        "pull_request",
        fixture("github_pull_request_merged.json", "7"),
    )
    .await;
    expect(&out, WebhookAction::Recorded);
    assert_eq!(out.pull_request.map(|c| c.state), Some(PrState::Merged));
    assert_eq!(watched.0.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn gitlab_merged_merge_request_reaches_the_host_route() {
    let (_fake, tracker) = gitlab().await;
    let r = rig("gitlab", "svc", "acme/widgets", tracker);
    let sink = r.sink.host(HostRoute {
        project: "svc".into(),
        provider: "gitlab".into(),
        secret: SECRET.into(),
        scope: "acme/widgets".into(),
    });
    let body = fixture("gitlab_merge_request_merged.json", "3");
    let out = sink
        .receive(
            "gitlab",
            &gitlab_headers("Merge Request Hook", SECRET),
            &body,
        )
        .await
        .unwrap();
    expect(&out, WebhookAction::Ignored);
    assert_eq!(out.kind, "pull_request");
    assert_eq!(out.project.as_deref(), Some("svc"));
    let change = out.pull_request.unwrap();
    assert_eq!((change.number, change.state), (3, PrState::Merged));
}

fn jira_headers(secret: &str, body: &[u8]) -> Vec<(String, String)> {
    h(&[
        ("X-Hub-Signature", &format!("sha256={}", sign(secret, body))),
        ("X-Atlassian-Webhook-Identifier", "1289"),
        ("Content-Type", "application/json; charset=utf-8"),
    ])
}

#[tokio::test]
async fn jira_updated_issue_is_queued_then_refreshed() {
    let fake = FakeJira::start("PROJ", "bot@example.com", "jira-token").await;
    let tracker = Arc::new(
        JiraTracker::new(JiraConfig::new(
            fake.url(),
            &fake.email,
            &fake.token,
            &fake.project,
        ))
        .unwrap(),
    );
    let key = fake.add_issue(
        "Add login",
        foreman_tracker::adf::from_text("Users need to log in."),
        &["foreman-ready"],
        Some("Medium"),
    );
    let r = rig("jira", "core", "PROJ", tracker.clone());
    let body = fixture("jira_issue_updated.json", &key);

    let out = r
        .sink
        .receive("jira", &jira_headers(SECRET, &body), &body)
        .await
        .unwrap();
    expect(&out, WebhookAction::Queued);
    assert_eq!(out.event, "jira:issue_updated");
    let id = out.ticket_id.unwrap();

    // a label added at the tracker before work starts: the queued ticket follows
    tracker.add_label(&key, "backend").await.unwrap();
    let out = r
        .sink
        .receive("jira", &jira_headers(SECRET, &body), &body)
        .await
        .unwrap();
    expect(&out, WebhookAction::Updated);
    let t = r.store.get_ticket(&id).await.unwrap().unwrap();
    assert!(t.labels.iter().any(|l| l == "backend"), "{:?}", t.labels);

    // a comment on a ticket nobody asked a question about
    let comment = fixture("jira_comment_created.json", &key);
    let out = r
        .sink
        .receive("jira", &jira_headers(SECRET, &comment), &comment)
        .await
        .unwrap();
    expect(&out, WebhookAction::Ignored);
    assert_eq!(out.kind, "comment");

    // ... and on one waiting for clarification
    r.store
        .transition_ticket(
            &id,
            TicketStatus::Queued,
            TicketStatus::ClarificationNeeded,
            None,
        )
        .await
        .unwrap();
    let out = r
        .sink
        .receive("jira", &jira_headers(SECRET, &comment), &comment)
        .await
        .unwrap();
    expect(&out, WebhookAction::Recorded);
    assert_eq!(out.ticket_id.as_ref(), Some(&id));

    let forged = r
        .sink
        .receive("jira", &jira_headers("other", &body), &body)
        .await;
    assert!(matches!(forged, Err(WebhookError::Unauthorized { .. })));
    assert_eq!(tickets(&r.store, "core").await, 1);
}

#[tokio::test]
async fn linear_issue_update_is_queued_and_replays_are_refused() {
    let fake = FakeLinear::start("ENG", "lin_api_test").await;
    let tracker = Arc::new(
        LinearTracker::new(LinearConfig::new(&fake.api_url(), &fake.api_key, "ENG")).unwrap(),
    );
    let ident = fake.add_issue(
        "Add login",
        Some("Users need to log in."),
        &["foreman-ready"],
        3,
    );
    let r = rig("linear", "app", "ENG", tracker);
    let body = fixture("linear_issue_update.json", &ident);
    let headers = |body: &[u8]| {
        h(&[
            ("Linear-Signature", &sign(SECRET, body)),
            ("Linear-Delivery", "234d1a4e-b617-4388-90fe-adc3633d6b72"),
            ("Linear-Event", "Issue"),
        ])
    };
    let out = r
        .sink
        .receive("linear", &headers(&body), &body)
        .await
        .unwrap();
    expect(&out, WebhookAction::Queued);
    assert_eq!(out.external_id.as_deref(), Some(ident.as_str()));
    assert_eq!(out.project.as_deref(), Some("app"));

    // a delivery recorded ten minutes ago and replayed now
    let stale = fixture_at(
        "linear_issue_update.json",
        &ident,
        chrono::Utc::now().timestamp_millis() - 600_000,
    );
    let replay = r.sink.receive("linear", &headers(&stale), &stale).await;
    assert!(
        matches!(&replay, Err(WebhookError::Unauthorized { reason }) if reason.contains("stale")),
        "{replay:?}"
    );
    // correctly signed, but not Linear's payload
    let junk = b"<xml/>".to_vec();
    let bad = r.sink.receive("linear", &headers(&junk), &junk).await;
    assert!(
        matches!(bad, Err(WebhookError::Malformed { .. })),
        "{bad:?}"
    );
    assert_eq!(tickets(&r.store, "app").await, 1);
}

/// The only `ticket_created` event in `store`, its details without `source`, and the source.
async fn ticket_created_of(
    store: &MemoryStore,
) -> (foreman_domain::Event, serde_json::Value, String) {
    let mut created = store
        .list_events(&EventFilter {
            types: vec![EventType::TicketCreated],
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.len(), 1, "{created:?}");
    let event = created.remove(0);
    let mut details = event.details.clone().expect("details");
    let source = details
        .as_object_mut()
        .unwrap()
        .remove("source")
        .expect("a source detail");
    (
        event,
        details,
        source.as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn a_ticket_by_poll_and_one_by_webhook_are_announced_alike() {
    let gh = GitHub::start().await;
    let n = gh.fake.add_issue(
        "Add login",
        Some("Users need to log in.\n\n## Acceptance criteria\n- login works"),
        &["foreman-ready", "P1"],
        "alice",
    );

    // by poll: the daemon's path
    let polled = Arc::new(MemoryStore::new());
    let intake = Intake::new("web", gh.tracker.clone(), polled.clone(), polled.clone());
    assert_eq!(
        intake
            .take_in(IntakeSource::Poll)
            .await
            .unwrap()
            .created
            .len(),
        1
    );

    // by webhook: a signed delivery into another store
    let r = rig("github", "web", "acme/widgets", gh.tracker.clone());
    let body = fixture("github_issues_labeled.json", &n.to_string());
    let out = r
        .sink
        .receive("github", &github_headers("issues", SECRET, &body), &body)
        .await
        .unwrap();
    expect(&out, WebhookAction::Queued);

    let (by_poll, poll_details, poll_source) = ticket_created_of(&polled).await;
    let (by_hook, hook_details, hook_source) = ticket_created_of(&r.store).await;
    assert_eq!(
        (poll_source.as_str(), hook_source.as_str()),
        ("poll", "webhook")
    );
    assert_eq!(by_poll.message, by_hook.message);
    assert_eq!(by_poll.message, format!("ticket #{n} taken from github"));
    assert_eq!(poll_details, hook_details);
    assert_eq!(poll_details["external_id"], format!("#{n}"));
    assert_eq!(poll_details["tracker"], "github");
    assert_eq!(
        (by_poll.event_type, by_poll.severity),
        (by_hook.event_type, by_hook.severity)
    );
    assert_ne!(by_poll.ticket_id, by_hook.ticket_id);
}
