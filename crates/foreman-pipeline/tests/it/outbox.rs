//! Tracker write-backs through the outbox, over the in-memory store and a tracker that counts
//! its calls and fails when told to: each effect reaches the tracker exactly once, a failure is
//! retried from the outbox after its backoff (never returned to the caller), a comment that
//! reached the tracker before a crash is found instead of posted again, a refusal is given up.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use foreman_domain::remote::RemoteError;
use foreman_domain::tracker::{
    NewTrackerTicket, Tracker, TrackerComment, TrackerError, TrackerResult, TrackerStatus,
    TrackerTicket,
};
use foreman_domain::{EventFilter, EventLog, EventType, NewTicket, Outbox, Ticket, TicketStore};
use foreman_pipeline::outbox::{
    OutboxRetry, TrackerEffect, WriteOutcome, drain_with, tracker_key, write_status, write_with,
};
use foreman_testkit::MemoryStore;

/// A tracker in memory: what it was asked, and errors to answer with first, per method.
#[derive(Default)]
struct CountingTracker {
    calls: Mutex<BTreeMap<&'static str, u32>>,
    failures: Mutex<BTreeMap<&'static str, Vec<TrackerError>>>,
    comments: Mutex<Vec<TrackerComment>>,
    /// The link is a comment, posted before the call's answer (GitHub's; a failure after it
    /// is an answer lost on the way).
    link_as_comment: bool,
}

impl CountingTracker {
    fn failing(self, method: &'static str, errors: Vec<TrackerError>) -> Self {
        self.failures.lock().unwrap().insert(method, errors);
        self
    }

    /// Counts the call; the next planned failure, if any.
    fn call(&self, method: &'static str) -> TrackerResult<()> {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
        match self.failures.lock().unwrap().get_mut(method) {
            Some(errors) if !errors.is_empty() => Err(errors.remove(0)),
            _ => Ok(()),
        }
    }

    fn count(&self, method: &str) -> u32 {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    fn comment_bodies(&self) -> Vec<String> {
        self.comments
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.body.clone())
            .collect()
    }
}

#[async_trait]
impl Tracker for CountingTracker {
    fn name(&self) -> &'static str {
        "counting"
    }

    async fn fetch_ready(&self) -> TrackerResult<Vec<TrackerTicket>> {
        Ok(Vec::new())
    }

    async fn get_ticket(&self, external_id: &str) -> TrackerResult<TrackerTicket> {
        self.call("get_ticket")?;
        Ok(TrackerTicket {
            external_id: external_id.to_owned(),
            title: String::new(),
            description: String::new(),
            acceptance_criteria: String::new(),
            labels: Vec::new(),
            priority: 0,
            assignee: None,
            reporter: None,
            url: String::new(),
            state: "open".into(),
            comments: self.comments.lock().unwrap().clone(),
            truncated: false,
            updated_at: None,
        })
    }

    async fn add_comment(&self, _external_id: &str, body: &str) -> TrackerResult<TrackerComment> {
        self.call("add_comment")?;
        let mut all = self.comments.lock().unwrap();
        let c = TrackerComment {
            id: format!("c{}", all.len() + 1),
            author: None,
            body: body.to_owned(),
            created_at: None,
        };
        all.push(c.clone());
        Ok(c)
    }

    async fn add_label(&self, _external_id: &str, _label: &str) -> TrackerResult<()> {
        self.call("add_label")
    }

    async fn remove_label(&self, _external_id: &str, _label: &str) -> TrackerResult<()> {
        self.call("remove_label")
    }

    async fn update_status(&self, _external_id: &str, _status: TrackerStatus) -> TrackerResult<()> {
        self.call("update_status")
    }

    async fn attach_pr(&self, _external_id: &str, url: &str, title: &str) -> TrackerResult<()> {
        if self.link_as_comment {
            let mut all = self.comments.lock().unwrap();
            let id = format!("c{}", all.len() + 1);
            all.push(TrackerComment {
                id,
                author: None,
                body: format!("Foreman opened a pull request: [{title}]({url})"),
                created_at: None,
            });
        }
        self.call("attach_pr")
    }

    async fn create_ticket(&self, _new: &NewTrackerTicket) -> TrackerResult<TrackerTicket> {
        Err(TrackerError::Invalid("not here".into()))
    }

    async fn check(&self) -> TrackerResult<()> {
        Ok(())
    }
}

fn unavailable() -> TrackerError {
    TrackerError::Remote(RemoteError::Status {
        service: "counting",
        status: 503,
        message: "down for a moment".into(),
    })
}

async fn ticket(store: &MemoryStore) -> Ticket {
    store
        .create_ticket(NewTicket {
            project: "default".into(),
            external_id: "T-1".into(),
            title: "a ticket".into(),
            ..NewTicket::default()
        })
        .await
        .unwrap()
}

fn after_pr() -> [TrackerEffect; 3] {
    [
        TrackerEffect::Comment {
            body: "Foreman opened a pull request: https://example.invalid/pr/1".into(),
        },
        TrackerEffect::AttachPr {
            url: "https://example.invalid/pr/1".into(),
            title: "a ticket".into(),
        },
        TrackerEffect::Status {
            status: TrackerStatus::InReview,
        },
    ]
}

async fn failures(store: &MemoryStore) -> Vec<serde_json::Value> {
    store
        .list_events(&EventFilter {
            types: vec![EventType::TrackerUpdateFailed],
            ..EventFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.details.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn each_effect_reaches_the_tracker_once_and_a_failure_is_retried_from_the_outbox() {
    let store = MemoryStore::new();
    let t = ticket(&store).await;
    let tracker = Arc::new(
        CountingTracker::default().failing("add_comment", vec![unavailable(), unavailable()]),
    );
    let write = |effect: TrackerEffect| {
        let (store, tracker, t) = (store.clone(), Arc::clone(&tracker), t.clone());
        async move {
            write_with(
                &store,
                &store,
                tracker.as_ref(),
                "default",
                &t,
                "pr1",
                effect,
            )
            .await
            .unwrap()
        }
    };
    // the comment fails, the link and the status go through: each is its own entry
    let outcomes: Vec<WriteOutcome> = {
        let mut v = Vec::new();
        for e in after_pr() {
            v.push(write(e).await);
        }
        v
    };
    assert_eq!(
        outcomes,
        [
            WriteOutcome::Retrying,
            WriteOutcome::Done,
            WriteOutcome::Done
        ]
    );
    let reported = failures(&store).await;
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0]["effect"], "comment");
    assert_eq!(reported[0]["gave_up"], false);

    // the stage runs again (a crash, a lost lease): nothing is repeated, the comment is left to
    // the outbox (its backoff has not passed)
    for e in after_pr() {
        let again = write(e).await;
        assert_ne!(again, WriteOutcome::Retrying);
    }
    assert_eq!(tracker.count("attach_pr"), 1);
    assert_eq!(tracker.count("update_status"), 1);
    assert_eq!(tracker.count("add_comment"), 1);

    // the drain retries it once its backoff has passed: nothing before, then twice (the
    // second failure, then the success)
    let trackers = |_: &str| Some(Arc::clone(&tracker) as Arc<dyn Tracker>);
    let now = foreman_domain::now();
    assert_eq!(drain_with(&store, &store, now, trackers).await.unwrap(), 0);
    let later = now + chrono::Duration::hours(1);
    assert_eq!(
        drain_with(&store, &store, later, trackers).await.unwrap(),
        1
    );
    assert_eq!(failures(&store).await.len(), 2);
    let key = tracker_key(&t.id, "pr1", &after_pr()[0]);
    assert_eq!(
        store.get_outbox(&key).await.unwrap().unwrap().state,
        "pending"
    );
    let even_later = later + chrono::Duration::hours(1);
    assert_eq!(
        drain_with(&store, &store, even_later, trackers)
            .await
            .unwrap(),
        1
    );
    let done = store.get_outbox(&key).await.unwrap().unwrap();
    assert_eq!((done.state.as_str(), done.attempts), ("done", 3));
    assert_eq!(tracker.comment_bodies().len(), 1, "posted exactly once");
    assert_eq!(tracker.count("add_comment"), 3);
    assert_eq!(
        drain_with(&store, &store, even_later, trackers)
            .await
            .unwrap(),
        0,
        "nothing left"
    );
}

#[tokio::test]
async fn a_comment_posted_before_a_crash_is_found_not_posted_again() {
    let store = MemoryStore::new();
    let t = ticket(&store).await;
    let tracker = Arc::new(CountingTracker::default());
    let effect = after_pr()[0].clone();
    let TrackerEffect::Comment { body } = &effect else {
        unreachable!()
    };
    // a writer claimed the entry, posted, and died before recording it
    let key = tracker_key(&t.id, "pr1", &effect);
    let payload = serde_json::json!({
        "project": "default",
        "external_id": t.external_id,
        "effect": effect,
    });
    store
        .enqueue(&key, Some(&t.id), "tracker", payload)
        .await
        .unwrap();
    let now = foreman_domain::now();
    let hold = chrono::Duration::from_std(OutboxRetry::default().hold).unwrap();
    assert!(
        store
            .claim_outbox(&key, now, now + hold)
            .await
            .unwrap()
            .is_some()
    );
    tracker.add_comment(&t.external_id, body).await.unwrap();
    // the hold runs out; the drain takes the entry and finds the comment
    let trackers = |_: &str| Some(Arc::clone(&tracker) as Arc<dyn Tracker>);
    assert_eq!(
        drain_with(&store, &store, now + hold, trackers)
            .await
            .unwrap(),
        1
    );
    let e = store.get_outbox(&key).await.unwrap().unwrap();
    assert_eq!(e.state, "done");
    assert_eq!(e.result.unwrap()["found"], true);
    assert_eq!(
        tracker.comment_bodies(),
        std::slice::from_ref(body),
        "not posted twice"
    );
}

#[tokio::test]
async fn a_refusal_is_given_up_at_once_and_the_caller_goes_on() {
    let store = MemoryStore::new();
    let t = ticket(&store).await;
    let tracker = CountingTracker::default().failing(
        "update_status",
        vec![TrackerError::Misconfigured {
            service: "counting",
            message: "no transition to In Review".into(),
        }],
    );
    let outcome = write_with(
        &store,
        &store,
        &tracker,
        "default",
        &t,
        "pr1",
        TrackerEffect::Status {
            status: TrackerStatus::InReview,
        },
    )
    .await
    .expect("a tracker failure is not an error of the caller");
    assert_eq!(outcome, WriteOutcome::GaveUp);
    let reported = failures(&store).await;
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0]["gave_up"], true);
    assert!(store.pending_outbox(10).await.unwrap().is_empty());
}

/// A tracker that records the statuses it applied, in the order their calls finished; its
/// first status call waits until `release` is opened (a call in flight).
#[derive(Default)]
struct OrderedTracker {
    applied: Mutex<Vec<TrackerStatus>>,
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
    first: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Tracker for OrderedTracker {
    fn name(&self) -> &'static str {
        "ordered"
    }

    async fn fetch_ready(&self) -> TrackerResult<Vec<TrackerTicket>> {
        Ok(Vec::new())
    }

    async fn get_ticket(&self, _external_id: &str) -> TrackerResult<TrackerTicket> {
        Err(TrackerError::Invalid("not here".into()))
    }

    async fn add_comment(&self, _external_id: &str, _body: &str) -> TrackerResult<TrackerComment> {
        Err(TrackerError::Invalid("not here".into()))
    }

    async fn add_label(&self, _external_id: &str, _label: &str) -> TrackerResult<()> {
        Ok(())
    }

    async fn remove_label(&self, _external_id: &str, _label: &str) -> TrackerResult<()> {
        Ok(())
    }

    async fn update_status(&self, _external_id: &str, status: TrackerStatus) -> TrackerResult<()> {
        if !self.first.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.entered.notify_one();
            self.release.notified().await;
        }
        self.applied.lock().unwrap().push(status);
        Ok(())
    }

    async fn attach_pr(&self, _external_id: &str, _url: &str, _title: &str) -> TrackerResult<()> {
        Ok(())
    }

    async fn create_ticket(&self, _new: &NewTrackerTicket) -> TrackerResult<TrackerTicket> {
        Err(TrackerError::Invalid("not here".into()))
    }

    async fn check(&self) -> TrackerResult<()> {
        Ok(())
    }
}

/// An older status whose call is in flight when the ticket merges lands before `done`, never
/// after it: the tracker ends at done. (Without the per-ticket turn, `done` superseded the
/// in-flight entry and was applied first; the older call then moved the issue back.)
#[tokio::test]
async fn a_newer_status_lands_after_an_older_one_in_flight() {
    let store = MemoryStore::new();
    let t = ticket(&store).await;
    let tracker = Arc::new(OrderedTracker::default());
    let older = {
        let (store, tracker, t) = (store.clone(), Arc::clone(&tracker), t.clone());
        tokio::spawn(async move {
            write_status(
                &store,
                &store,
                tracker.as_ref(),
                "default",
                &t,
                "run1",
                TrackerStatus::InProgress,
            )
            .await
            .unwrap()
        })
    };
    tracker.entered.notified().await;
    let newer = {
        let (store, tracker, t) = (store.clone(), Arc::clone(&tracker), t.clone());
        tokio::spawn(async move {
            write_status(
                &store,
                &store,
                tracker.as_ref(),
                "default",
                &t,
                "merged",
                TrackerStatus::Done,
            )
            .await
            .unwrap()
        })
    };
    // the newer write has every chance to overtake the one in flight before it is released
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    tracker.release.notify_one();
    assert_eq!(older.await.unwrap(), WriteOutcome::Done);
    assert_eq!(newer.await.unwrap(), WriteOutcome::Done);
    assert_eq!(
        *tracker.applied.lock().unwrap(),
        [TrackerStatus::InProgress, TrackerStatus::Done],
        "done is the last status the tracker is told"
    );
}

/// An older status waiting for its retry is superseded by a newer one: completed with
/// `superseded_by`, never performed by the drain.
#[tokio::test]
async fn an_older_status_waiting_for_its_retry_is_superseded() {
    let store = MemoryStore::new();
    let t = ticket(&store).await;
    let tracker =
        Arc::new(CountingTracker::default().failing("update_status", vec![unavailable()]));
    let status = |occasion: &'static str, status: TrackerStatus| {
        let (store, tracker, t) = (store.clone(), Arc::clone(&tracker), t.clone());
        async move {
            write_status(
                &store,
                &store,
                tracker.as_ref(),
                "default",
                &t,
                occasion,
                status,
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(
        status("run1", TrackerStatus::InReview).await,
        WriteOutcome::Retrying
    );
    assert_eq!(
        status("merged", TrackerStatus::Done).await,
        WriteOutcome::Done
    );
    let older = tracker_key(
        &t.id,
        "run1",
        &TrackerEffect::Status {
            status: TrackerStatus::InReview,
        },
    );
    let entry = store.get_outbox(&older).await.unwrap().unwrap();
    assert_eq!(entry.state, "done");
    assert!(
        entry.result.unwrap()["superseded_by"]
            .as_str()
            .is_some_and(|k| k.contains("merged")),
        "completed as superseded by the newer status"
    );
    let trackers = |_: &str| Some(Arc::clone(&tracker) as Arc<dyn Tracker>);
    let later = foreman_domain::now() + chrono::Duration::hours(1);
    assert_eq!(
        drain_with(&store, &store, later, trackers).await.unwrap(),
        0
    );
    assert_eq!(
        tracker.count("update_status"),
        2,
        "the failed first try and done; the older status is never retried"
    );
}

/// A status asked for after the ticket merged (a stage that reported late) does not supersede
/// the merge's done waiting for its retry: done is still made by the drain, the late status is
/// skipped. (Without the rule, the late status superseded done and was then skipped itself as
/// stale: the issue stayed open with its old label.)
#[tokio::test]
async fn a_late_status_never_supersedes_a_pending_done() {
    let store = MemoryStore::new();
    let t = ticket(&store).await;
    let tracker =
        Arc::new(CountingTracker::default().failing("update_status", vec![unavailable()]));
    let status = |occasion: &'static str, status: TrackerStatus| {
        let (store, tracker, t) = (store.clone(), Arc::clone(&tracker), t.clone());
        async move {
            write_status(
                &store,
                &store,
                tracker.as_ref(),
                "default",
                &t,
                occasion,
                status,
            )
            .await
            .unwrap()
        }
    };
    merge(&store, &t).await;
    assert_eq!(
        status("merged", TrackerStatus::Done).await,
        WriteOutcome::Retrying
    );
    assert_eq!(
        status("run1", TrackerStatus::InReview).await,
        WriteOutcome::Done,
        "skipped: the ticket has merged"
    );
    let done = tracker_key(
        &t.id,
        "merged",
        &TrackerEffect::Status {
            status: TrackerStatus::Done,
        },
    );
    assert_eq!(
        store.get_outbox(&done).await.unwrap().unwrap().state,
        "pending"
    );
    let trackers = |_: &str| Some(Arc::clone(&tracker) as Arc<dyn Tracker>);
    let later = foreman_domain::now() + chrono::Duration::hours(1);
    assert_eq!(
        drain_with(&store, &store, later, trackers).await.unwrap(),
        1
    );
    let entry = store.get_outbox(&done).await.unwrap().unwrap();
    assert_eq!((entry.state.as_str(), entry.attempts), ("done", 2));
    assert_eq!(
        tracker.count("update_status"),
        2,
        "done twice (a failure, then made); the late status never"
    );
}

/// Walks `t` to merged.
async fn merge(store: &MemoryStore, t: &Ticket) {
    use foreman_domain::TicketStatus as S;
    let mut from = t.status;
    for to in [
        S::Planning,
        S::PlanValidating,
        S::Implementing,
        S::Reviewing,
        S::PrCreated,
        S::AwaitingMerge,
        S::Merged,
    ] {
        store
            .transition_ticket(&t.id, from, to, None)
            .await
            .unwrap();
        from = to;
    }
}

/// A pull request link posted as a comment whose answer was lost is found by the retry, not
/// posted again. (Without the look-up the issue got the link twice.)
#[tokio::test]
async fn a_link_comment_whose_answer_was_lost_is_not_posted_again() {
    let store = MemoryStore::new();
    let t = ticket(&store).await;
    let tracker = Arc::new(CountingTracker {
        link_as_comment: true,
        ..CountingTracker::default().failing("attach_pr", vec![unavailable()])
    });
    let link = &after_pr()[1];
    let first = write_with(
        &store,
        &store,
        tracker.as_ref(),
        "default",
        &t,
        "pr1",
        link.clone(),
    )
    .await
    .unwrap();
    assert_eq!(first, WriteOutcome::Retrying);
    let trackers = |_: &str| Some(Arc::clone(&tracker) as Arc<dyn Tracker>);
    let later = foreman_domain::now() + chrono::Duration::hours(1);
    assert_eq!(
        drain_with(&store, &store, later, trackers).await.unwrap(),
        1
    );
    let entry = store
        .get_outbox(&tracker_key(&t.id, "pr1", link))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, "done");
    assert_eq!(entry.result.unwrap()["found"], true);
    assert_eq!(
        tracker.comment_bodies().len(),
        1,
        "the link is on the issue once"
    );
    assert_eq!(tracker.count("attach_pr"), 1);
}
