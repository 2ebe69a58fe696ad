//! Connection setup, migrations and corrupt-row handling.

use foreman_domain::{EventLog, TicketStore};
use foreman_store::{Backend, SqlStore};
use foreman_testkit::contract::new_ticket;
use foreman_testkit::pg::TestSchema;
use sea_orm::{ConnectionTrait, Database};

#[tokio::test]
async fn open_sqlite_creates_parent_directories_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/foreman.db");
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");
    store.create_ticket(new_ticket("W-1")).await.unwrap();
    assert!(path.exists());

    let raw = Database::connect(format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mode = raw
        .query_one_raw(sea_orm::Statement::from_string(
            raw.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mode.try_get_by_index::<String>(0).unwrap(), "wal");
}

#[tokio::test]
async fn connect_accepts_sqlite_urls_and_rejects_others() {
    let mem = SqlStore::connect("sqlite::memory:").await.unwrap();
    mem.migrate().await.unwrap();
    let t = mem.create_ticket(new_ticket("M-1")).await.unwrap();
    assert_eq!(mem.get_ticket(&t.id).await.unwrap(), Some(t));

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a/b.db").display());
    let file = SqlStore::connect(&url).await.unwrap();
    file.migrate().await.unwrap();
    assert!(dir.path().join("a/b.db").exists());

    for bad in ["mysql://localhost/x", "nonsense", ""] {
        let err = SqlStore::connect(bad).await.unwrap_err();
        assert_eq!(err.code(), "invalid", "{bad}: {err}");
    }
}

#[tokio::test]
async fn unknown_strings_in_rows_are_corrupt_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    store.migrate().await.unwrap();
    let t = store.create_ticket(new_ticket("X-1")).await.unwrap();
    store
        .append(foreman_domain::NewEvent::new(
            foreman_domain::EventType::TicketCreated,
            "x",
        ))
        .await
        .unwrap();
    let raw = Database::connect(format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    raw.execute_unprepared("UPDATE tickets SET status = 'exploded'")
        .await
        .unwrap();
    raw.execute_unprepared("UPDATE events SET event_type = 'task_exploded'")
        .await
        .unwrap();
    let err = store.get_ticket(&t.id).await.unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err}");
    assert!(err.to_string().contains("tickets.status"), "{err}");
    let err = store
        .list_events(&foreman_domain::EventFilter::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err}");
    let err = store.count_tickets_by_status(None).await.unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err}");
}

#[tokio::test]
async fn postgres_schema_isolation_and_backend_name() {
    let Some(schema) = TestSchema::create("isolation").await else {
        return;
    };
    let store = SqlStore::connect(schema.url()).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");
    store.create_ticket(new_ticket("PG-1")).await.unwrap();
    let raw = Database::connect(schema.url()).await.unwrap();
    let row = raw
        .query_one_raw(sea_orm::Statement::from_string(
            raw.get_database_backend(),
            format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{}' AND table_name = 'tickets'",
                schema.schema()
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1);
    raw.close().await.unwrap();
    store.close().await.unwrap();
    schema.drop_schema().await;
}
