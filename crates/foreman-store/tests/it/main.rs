//! `SqlStore` against the store contract suite on SQLite and PostgreSQL, plus checks specific
//! to the SQL backends (connection setup, migrations, corrupt rows).

mod audit;
mod backends;
mod cache;
mod fence;

mod sqlite {
    use std::sync::Arc;

    use foreman_store::SqlStore;
    use foreman_testkit::contract::Harness;

    /// A fresh, migrated SQLite file in its own temporary directory.
    async fn store() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqlStore::open_sqlite(&dir.path().join("foreman.db"))
            .await
            .expect("open sqlite");
        store.migrate().await.expect("migrate");
        Harness::new(Arc::new(store)).with_cleanup(async move { drop(dir) })
    }

    foreman_testkit::store_contract_tests!(store);
}

mod postgres {
    use std::sync::Arc;

    use foreman_store::SqlStore;
    use foreman_testkit::contract::Harness;
    use foreman_testkit::pg::TestSchema;

    /// A fresh, migrated schema of its own; `None` skips when PostgreSQL is not configured.
    async fn store() -> Option<Harness> {
        let schema = TestSchema::create("store").await?;
        let store = SqlStore::connect(schema.url())
            .await
            .expect("connect postgres");
        store.migrate().await.expect("migrate");
        Some(Harness::new(Arc::new(store)).with_cleanup(schema.drop_schema()))
    }

    foreman_testkit::store_contract_tests!(store);
}
