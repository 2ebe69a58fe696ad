//! The behaviour every `Tracker` shares.

use std::sync::Arc;

use foreman_domain::remote::RemoteError;
use foreman_domain::tracker::{
    MAX_TEXT_BYTES, NewTrackerTicket, Tracker, TrackerError, TrackerStatus,
};

/// A tracker under test plus the means to arrange and observe its state as a person would.
pub trait Harness {
    fn tracker(&self) -> Arc<dyn Tracker>;
    /// Files a ticket at the tracker; `ready` ones carry the pickup label (or are queued).
    async fn seed(&self, title: &str, body: &str, ready: bool) -> String;
    /// The tracker-side status the harness can see for `id`, normalised to Foreman's words
    /// (`in_progress`, `in_review`, `blocked`, `done`) or `open`.
    async fn status(&self, id: &str) -> String;
    /// Whether a pull request link is visible on the ticket.
    async fn has_pr_link(&self, id: &str, url: &str) -> bool;
    /// An id in the tracker's format that does not exist.
    fn missing_id(&self) -> String;
    /// Whether `done` removes a ticket from the ready list.
    fn done_leaves_ready_list(&self) -> bool {
        true
    }
}

pub async fn run<H: Harness>(h: &H) {
    let tracker = h.tracker();
    tracker.check().await.expect("check passes");

    let body = "Users cannot log in with SSO.\n\n## Acceptance criteria\n- [ ] SSO login works\n- [ ] errors are shown\n\n## Notes\nsee the wiki";
    let a = h.seed("Fix SSO login", body, true).await;
    let b = h
        .seed("No criteria here", "Just make it faster.", true)
        .await;
    let _hidden = h.seed("Not labelled", "not for foreman", false).await;

    // ready list: labelled only, without comments
    let ready = tracker.fetch_ready().await.unwrap();
    let mut ids: Vec<&str> = ready.iter().map(|t| t.external_id.as_str()).collect();
    ids.sort_unstable();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want, "{ready:#?}");
    let ta = ready.iter().find(|t| t.external_id == a).unwrap();
    assert_eq!(ta.title, "Fix SSO login");
    assert_eq!(
        ta.acceptance_criteria,
        "- [ ] SSO login works\n- [ ] errors are shown"
    );
    assert!(
        ta.description.starts_with("Users cannot log in with SSO."),
        "{}",
        ta.description
    );
    assert!(ta.description.contains("see the wiki"));
    assert!(!ta.description.contains("SSO login works"));
    assert!(!ta.truncated);
    assert!(!ta.url.is_empty());
    let tb = ready.iter().find(|t| t.external_id == b).unwrap();
    assert_eq!(
        tb.acceptance_criteria, "",
        "no criteria is an empty string, not an error"
    );

    // one ticket with comments
    let c = tracker.add_comment(&a, "Foreman is on it.").await.unwrap();
    assert_eq!(c.body, "Foreman is on it.");
    let got = tracker.get_ticket(&a).await.unwrap();
    assert_eq!(got.comments.len(), 1);
    assert_eq!(got.comments[0].body, "Foreman is on it.");
    assert_eq!(got.acceptance_criteria, ta.acceptance_criteria);

    // labels: idempotent both ways
    tracker.add_label(&a, "needs-review").await.unwrap();
    tracker.add_label(&a, "needs-review").await.unwrap();
    let labels = tracker.get_ticket(&a).await.unwrap().labels;
    assert_eq!(
        labels.iter().filter(|l| *l == "needs-review").count(),
        1,
        "{labels:?}"
    );
    tracker.remove_label(&a, "needs-review").await.unwrap();
    tracker.remove_label(&a, "needs-review").await.unwrap();
    assert!(
        !tracker
            .get_ticket(&a)
            .await
            .unwrap()
            .labels
            .contains(&"needs-review".to_owned())
    );

    // statuses
    for s in [
        TrackerStatus::InProgress,
        TrackerStatus::InReview,
        TrackerStatus::Blocked,
    ] {
        tracker.update_status(&a, s).await.unwrap();
        assert_eq!(h.status(&a).await, s.as_str());
    }
    tracker
        .update_status(&b, TrackerStatus::Done)
        .await
        .unwrap();
    assert_eq!(h.status(&b).await, "done");
    if h.done_leaves_ready_list() {
        let ready = tracker.fetch_ready().await.unwrap();
        assert!(
            ready.iter().all(|t| t.external_id != b),
            "done tickets are not ready"
        );
    }

    // pull request link
    tracker
        .attach_pr(&a, "https://example.com/pr/7", "Fix SSO login")
        .await
        .unwrap();
    assert!(h.has_pr_link(&a, "https://example.com/pr/7").await);

    // creation (decomposition)
    let child = tracker
        .create_ticket(&NewTrackerTicket {
            title: "Child: add SSO error page".into(),
            description: "Split from the parent.".into(),
            acceptance_criteria: "- error page exists".into(),
            labels: vec!["foreman".into()],
            parent: Some(a.clone()),
        })
        .await
        .unwrap();
    let child = tracker.get_ticket(&child.external_id).await.unwrap();
    assert_eq!(child.title, "Child: add SSO error page");
    assert_eq!(child.acceptance_criteria, "- error page exists");
    assert!(child.labels.contains(&"foreman".to_owned()));

    // huge bodies are cut with a note
    let huge = format!("{}\n", "lorem ipsum ".repeat(MAX_TEXT_BYTES / 4));
    let big = h.seed("Huge", &huge, true).await;
    let t = tracker.get_ticket(&big).await.unwrap();
    assert!(t.truncated, "{} bytes", t.description.len());
    assert!(t.description.len() <= MAX_TEXT_BYTES + 100);
    assert!(t.description.contains("[truncated by foreman"));

    // bad input
    let missing = tracker.get_ticket(&h.missing_id()).await.unwrap_err();
    assert!(
        matches!(missing, TrackerError::Remote(RemoteError::NotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(missing.code(), "not_found");
    assert!(matches!(
        tracker.add_comment(&a, "  ").await,
        Err(TrackerError::Invalid(_))
    ));
    assert!(matches!(
        tracker.add_label(&a, "").await,
        Err(TrackerError::Invalid(_))
    ));
    let empty = NewTrackerTicket::default();
    assert!(matches!(
        tracker.create_ticket(&empty).await,
        Err(TrackerError::Invalid(_))
    ));
    assert!(tracker.add_comment(&h.missing_id(), "x").await.is_err());
}
