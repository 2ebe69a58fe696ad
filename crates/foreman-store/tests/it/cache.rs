//! The read cache never serves an answer older than a write: neither after this store's own
//! writes nor, past `PROBE_WINDOW`, after writes by another process (another `SqlStore` on the
//! same database, or raw SQL).

use foreman_domain::{
    NewApiToken, Scope, Store, TicketFilter, TicketPatch, TicketStatus, TicketStore,
};
use foreman_store::{PROBE_WINDOW, SqlStore};
use foreman_testkit::contract::new_ticket;
use foreman_testkit::pg::TestSchema;
use sea_orm::{ConnectionTrait, Database};

fn queued() -> TicketFilter {
    TicketFilter {
        statuses: vec![TicketStatus::Queued],
        ..TicketFilter::default()
    }
}

fn ids(page: &foreman_domain::Page<foreman_domain::Ticket>) -> Vec<String> {
    page.items.iter().map(|t| t.id.to_string()).collect()
}

/// Asserts the ticket generation moved since `before` (when the store has one).
async fn generation_moved(store: &dyn Store, before: Option<u64>, what: &str) -> Option<u64> {
    let now = store.tickets_generation().await.unwrap();
    if before.is_some() {
        assert!(now.is_some(), "{what}: a cached store keeps telling");
        assert_ne!(now, before, "{what}: the generation did not move");
    } else {
        assert_eq!(now, None, "{what}");
    }
    now
}

/// Every cached read, right after each kind of write through the same store.
async fn own_writes_are_visible_at_once(store: &dyn Store) {
    let g = store.tickets_generation().await.unwrap();
    let a = store.create_ticket(new_ticket("C-1")).await.unwrap();
    let g = generation_moved(store, g, "create").await;
    // Warm every cache, then write and read again.
    assert_eq!(
        ids(&store.list_tickets(&queued()).await.unwrap()),
        [a.id.to_string()]
    );
    let b = store.create_ticket(new_ticket("C-2")).await.unwrap();
    assert_eq!(store.list_tickets(&queued()).await.unwrap().items.len(), 2);

    assert_eq!(
        store.get_ticket(&a.id).await.unwrap().unwrap().title,
        a.title
    );
    let patch = TicketPatch {
        title: Some("renamed".into()),
        ..TicketPatch::default()
    };
    store.update_ticket(&a.id, patch, None).await.unwrap();
    let g = generation_moved(store, g, "update").await;
    assert_eq!(
        store.get_ticket(&a.id).await.unwrap().unwrap().title,
        "renamed"
    );
    assert_eq!(
        store.list_tickets(&queued()).await.unwrap().items[1].title,
        "renamed"
    );

    store
        .transition_ticket(&b.id, TicketStatus::Queued, TicketStatus::Planning, None)
        .await
        .unwrap();
    assert_eq!(
        ids(&store.list_tickets(&queued()).await.unwrap()),
        [a.id.to_string()]
    );
    assert_eq!(
        store.get_ticket(&b.id).await.unwrap().unwrap().status,
        TicketStatus::Planning
    );

    assert!(store.delete_ticket(&a.id).await.unwrap());
    generation_moved(store, g, "delete").await;
    assert_eq!(store.get_ticket(&a.id).await.unwrap(), None);
    assert!(
        store
            .list_tickets(&queued())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let (new, secret) = NewApiToken::generate("ci", vec![Scope::Read], None);
    let hash = foreman_domain::hash_token(secret.expose());
    let token = store.create_token(new).await.unwrap();
    assert_eq!(
        store
            .find_token_by_hash(&hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert!(store.revoke_token(&token.id).await.unwrap());
    assert!(
        store
            .find_token_by_hash(&hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}

/// `reader` caches, `writer` (another process in effect) writes; past the probe window the
/// reader sees every write.
async fn other_writers_are_visible_past_the_window(reader: &dyn Store, writer: &dyn Store) {
    let g = reader.tickets_generation().await.unwrap();
    let t = writer.create_ticket(new_ticket("X-1")).await.unwrap();
    let (new, secret) = NewApiToken::generate("cli", vec![Scope::Read], None);
    let hash = foreman_domain::hash_token(secret.expose());
    let token = writer.create_token(new).await.unwrap();
    tokio::time::sleep(PROBE_WINDOW * 3).await;

    assert_eq!(reader.list_tickets(&queued()).await.unwrap().items.len(), 1);
    assert!(reader.get_ticket(&t.id).await.unwrap().is_some());
    assert!(reader.find_token_by_hash(&hash).await.unwrap().is_some());

    writer
        .transition_ticket(&t.id, TicketStatus::Queued, TicketStatus::Planning, None)
        .await
        .unwrap();
    assert!(writer.revoke_token(&token.id).await.unwrap());
    tokio::time::sleep(PROBE_WINDOW * 3).await;
    generation_moved(reader, g, "another writer").await;

    assert!(
        reader
            .list_tickets(&queued())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        reader.get_ticket(&t.id).await.unwrap().unwrap().status,
        TicketStatus::Planning
    );
    let seen = reader.find_token_by_hash(&hash).await.unwrap().unwrap();
    assert!(seen.revoked_at.is_some(), "a revocation by another process");
}

#[tokio::test]
async fn sqlite_own_writes_are_visible_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("c.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    own_writes_are_visible_at_once(&store).await;
    // nobody writes: the generation stays (PostgreSQL's moves with any writer of the database)
    tokio::time::sleep(PROBE_WINDOW * 3).await;
    let quiet = store.tickets_generation().await.unwrap();
    assert!(quiet.is_some());
    tokio::time::sleep(PROBE_WINDOW * 3).await;
    assert_eq!(store.tickets_generation().await.unwrap(), quiet);

    let mem = SqlStore::connect("sqlite::memory:").await.unwrap();
    mem.migrate().await.unwrap();
    own_writes_are_visible_at_once(&mem).await;
}

#[tokio::test]
async fn sqlite_other_writers_are_visible_past_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let reader = SqlStore::open_sqlite(&path).await.unwrap();
    reader.migrate().await.unwrap();
    let writer = SqlStore::open_sqlite(&path).await.unwrap();
    other_writers_are_visible_past_the_window(&reader, &writer).await;

    // Raw SQL from yet another connection.
    let t = reader
        .list_tickets(&TicketFilter::default())
        .await
        .unwrap()
        .items[0]
        .clone();
    let raw = Database::connect(format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    raw.execute_unprepared("UPDATE tickets SET title = 'edited by hand'")
        .await
        .unwrap();
    tokio::time::sleep(PROBE_WINDOW * 3).await;
    assert_eq!(
        reader.get_ticket(&t.id).await.unwrap().unwrap().title,
        "edited by hand"
    );
}

#[tokio::test]
async fn postgres_reads_see_every_write() {
    let Some(schema) = TestSchema::create("cache").await else {
        return;
    };
    let store = SqlStore::connect(schema.url()).await.unwrap();
    store.migrate().await.unwrap();
    own_writes_are_visible_at_once(&store).await;
    let other = SqlStore::connect(schema.url()).await.unwrap();
    // Start from an empty ticket table for the second half.
    for t in store
        .list_tickets(&TicketFilter::default())
        .await
        .unwrap()
        .items
    {
        store.delete_ticket(&t.id).await.unwrap();
    }
    other_writers_are_visible_past_the_window(&store, &other).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_store_without_the_cache_reads_through() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("c.db"))
        .await
        .unwrap()
        .with_read_cache(false);
    store.migrate().await.unwrap();
    own_writes_are_visible_at_once(&store).await;
}
