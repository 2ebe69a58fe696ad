//! The local tracker over the in-memory store passes the same contract.

use std::sync::Arc;

use foreman_domain::tracker::Tracker;
use foreman_domain::{NewTicket, TicketStatus, TicketStore};
use foreman_testkit::MemoryStore;
use foreman_tracker::LocalTracker;

use crate::contract::{self, Harness};

struct Local {
    store: Arc<MemoryStore>,
    tracker: Arc<LocalTracker>,
    next: std::sync::atomic::AtomicU32,
}

impl Local {
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let tracker = Arc::new(LocalTracker::new(
            "web",
            store.clone(),
            store.clone(),
            store.clone(),
        ));
        Self {
            store,
            tracker,
            next: std::sync::atomic::AtomicU32::new(100),
        }
    }
}

impl Harness for Local {
    fn tracker(&self) -> Arc<dyn Tracker> {
        self.tracker.clone()
    }
    async fn seed(&self, title: &str, body: &str, ready: bool) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let t = self
            .store
            .create_ticket(NewTicket {
                project: "web".into(),
                external_id: format!("LOCAL-{n}"),
                title: title.into(),
                description: body.into(),
                ..NewTicket::default()
            })
            .await
            .unwrap();
        if !ready {
            self.store
                .transition_ticket(&t.id, TicketStatus::Queued, TicketStatus::Planning, None)
                .await
                .unwrap();
        }
        t.external_id
    }
    async fn status(&self, id: &str) -> String {
        self.tracker.get_ticket(id).await.unwrap().state
    }
    async fn has_pr_link(&self, id: &str, url: &str) -> bool {
        self.store
            .get_ticket_by_external_id("web", id)
            .await
            .unwrap()
            .unwrap()
            .pr_url
            == url
    }
    fn missing_id(&self) -> String {
        "LOCAL-99999".into()
    }
    fn done_leaves_ready_list(&self) -> bool {
        false // a local ticket's lifecycle is Foreman's own status, not the reported one
    }
}

#[tokio::test]
async fn local_tracker_passes_the_contract() {
    let local = Local::new();
    contract::run(&local).await;
}

#[tokio::test]
async fn local_ids_count_up_and_skip_taken_ones() {
    let local = Local::new();
    let new = foreman_domain::tracker::NewTrackerTicket {
        title: "first".into(),
        ..Default::default()
    };
    assert_eq!(
        local.tracker.create_ticket(&new).await.unwrap().external_id,
        "LOCAL-1"
    );
    // someone else (another process) took LOCAL-2
    local
        .store
        .create_ticket(NewTicket {
            project: "web".into(),
            external_id: "LOCAL-2".into(),
            title: "taken".into(),
            ..NewTicket::default()
        })
        .await
        .unwrap();
    assert_eq!(
        local.tracker.create_ticket(&new).await.unwrap().external_id,
        "LOCAL-3"
    );
    let parent = foreman_domain::tracker::NewTrackerTicket {
        title: "child".into(),
        parent: Some("LOCAL-1".into()),
        ..Default::default()
    };
    let child = local.tracker.create_ticket(&parent).await.unwrap();
    let stored = local
        .store
        .get_ticket_by_external_id("web", &child.external_id)
        .await
        .unwrap()
        .unwrap();
    let first = local
        .store
        .get_ticket_by_external_id("web", "LOCAL-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.parent_id, Some(first.id));
}
