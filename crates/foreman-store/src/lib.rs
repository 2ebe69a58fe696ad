//! Foreman's storage on SQLite and PostgreSQL.
//!
//! This crate owns [`SqlStore`], which implements every storage port of
//! `foreman_domain::storage` (`TicketStore`, `TaskStore`, `EventLog`, `CostLedger`, `TokenStore`,
//! `SettingsStore`, `Outbox`, `FileReservationStore`) on sea-orm, and the connection setup for
//! both backends. The schema lives in `foreman-migrations`; the sea-orm entities never leave
//! this crate.
//!
//! Cargo features (both on by default): `sqlite` (`sqlite:` URLs and [`SqlStore::open_sqlite`])
//! and `postgres` (`postgres://` URLs). With a backend's feature off, [`SqlStore::connect`]
//! refuses its URLs with `StoreError::Invalid` naming the feature to turn on.
//!
//! It must not know about HTTP, the pipeline or configuration files: callers hand it a URL or a
//! path and hold the result as `Arc<dyn Store>` (or any single port).
//!
//! ```no_run
//! # async fn demo() -> Result<(), foreman_domain::StoreError> {
//! use std::sync::Arc;
//! use foreman_store::SqlStore;
//!
//! let store = SqlStore::open_sqlite(std::path::Path::new(".foreman/foreman.db")).await?;
//! store.migrate().await?;
//! let store: Arc<dyn foreman_domain::Store> = Arc::new(store);
//! # let _ = store; Ok(()) }
//! ```
//!
//! Guarantees (see `docs/storage.md`):
//! - status changes are compare-and-set on the current status and, when given, the fencing
//!   token; losers get `Conflict`, `StaleFence` or `InvalidTransition`, never a silent overwrite;
//! - `claim_next` hands a ticket to one worker at a time (`FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL, the single writer on SQLite) and bumps its fencing token;
//! - event `seq` increases in commit order, so a reader tailing with `after_seq` misses nothing;
//! - recording an LLM call and updating task and ticket totals is one transaction, and budget
//!   reservations are serialized so concurrent reservers cannot overrun a limit;
//! - file reservations are all or nothing and serialized per project (an advisory lock on
//!   PostgreSQL, the single writer on SQLite), so two tickets never both hold one path;
//! - `get_ticket`, `list_tickets` and `find_token_by_hash` answer from a small read cache that
//!   never serves data older than a write: this store's commits invalidate it before they
//!   return, and other processes' commits are found by a probe of the database's commit state
//!   (`PRAGMA data_version`, `pg_current_snapshot()`) at most [`PROBE_WINDOW`] old.
//!
//! On SQLite every write goes through one dedicated connection (WAL, `busy_timeout`,
//! `foreign_keys=ON`, `synchronous=NORMAL`) while reads use a separate pool, so concurrent
//! pipelines queue for the writer instead of failing with `database is locked`.

mod audit;
mod cache;
mod checkpoints;
mod convert;
mod costs;
mod entity;
mod events;
mod notifications;
mod outbox;
mod reservations;
mod retrospectives;
mod rows;
mod runs;
mod search;
mod settings;
mod submission;
mod subscriptions;
mod tasks;
mod tickets;
mod tokens;
mod transcripts;
mod usage_ingest;

#[cfg(feature = "sqlite")]
use std::path::Path;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use std::str::FromStr;
use std::sync::Arc;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use std::time::Duration;

use foreman_domain::{StoreError, StoreResult};
use foreman_migrations::{Migrator, MigratorTrait};
#[cfg(feature = "postgres")]
use sea_orm::SqlxPostgresConnector;
#[cfg(feature = "sqlite")]
use sea_orm::SqlxSqliteConnector;
#[cfg(feature = "postgres")]
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqlErr,
    TransactionOptions, TransactionTrait,
};

/// How long a SQLite connection waits for a lock held by another process before failing.
#[cfg(feature = "sqlite")]
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Readers beside the single SQLite writer.
#[cfg(feature = "sqlite")]
const SQLITE_READERS: u32 = 4;
/// Connections in a PostgreSQL pool.
#[cfg(feature = "postgres")]
const POSTGRES_CONNECTIONS: u32 = 16;

/// Which database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (a file, or in memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every storage port on SQLite or PostgreSQL. Cheap to clone (pools inside).
#[derive(Debug, Clone)]
pub struct SqlStore {
    /// Writes, and reads that must see them (inside write transactions). On SQLite a pool of
    /// exactly one connection: the single writer path.
    writer: DatabaseConnection,
    /// Plain reads. On PostgreSQL and in-memory SQLite the same pool as `writer`.
    reader: DatabaseConnection,
    backend: Backend,
    /// Recent answers of the hottest reads, shared by every clone.
    cache: Arc<cache::ReadCache>,
}

pub use cache::PROBE_WINDOW;
#[doc(hidden)]
pub mod fence_probe;

fn backend_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::backend(e)
}

/// Maps a database error, turning unique violations into [`StoreError::Duplicate`].
pub(crate) fn db_err(
    entity: &'static str,
    key: impl FnOnce() -> String,
) -> impl FnOnce(DbErr) -> StoreError {
    move |e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Duplicate { entity, key: key() },
        _ => backend_err(e),
    }
}

/// The error for a URL whose backend this build leaves out.
#[cfg(not(all(feature = "sqlite", feature = "postgres")))]
fn not_compiled(backend: Backend) -> StoreError {
    StoreError::Invalid(format!(
        "backend {backend} is not compiled in; build foreman-store with feature {backend}"
    ))
}

/// A page offset as SQL binds it: sea-query binds `OFFSET` as a signed 64-bit integer and
/// panics on a larger one, so larger offsets saturate (they are past every row either way).
pub(crate) fn sql_offset(offset: u64) -> u64 {
    offset.min(i64::MAX.unsigned_abs())
}

/// Maps any database error to [`StoreError::Backend`].
pub(crate) fn be(e: DbErr) -> StoreError {
    backend_err(e)
}

impl SqlStore {
    /// Connects to `sqlite://PATH` (created with its parent directories if missing),
    /// `sqlite::memory:` or `postgres://…` / `postgresql://…`. Does not migrate: call
    /// [`SqlStore::migrate`].
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an unsupported or malformed URL, [`StoreError::Backend`]
    /// when the database cannot be reached or opened.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return Self::connect_postgres(url).await;
            #[cfg(not(feature = "postgres"))]
            return Err(not_compiled(Backend::Postgres));
        }
        if url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Invalid(format!("bad sqlite url: {e}")))?;
                let filename = opts.get_filename().to_path_buf();
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                if in_memory {
                    return Self::connect_sqlite_memory(opts).await;
                }
                return Self::connect_sqlite(opts, &filename).await;
            }
            #[cfg(not(feature = "sqlite"))]
            return Err(not_compiled(Backend::Sqlite));
        }
        let scheme = url.split(':').next().unwrap_or_default();
        Err(StoreError::Invalid(format!(
            "unsupported database url scheme {scheme:?}; expected sqlite: or postgres://"
        )))
    }

    /// Opens (creating if missing, with parent directories) the SQLite database at `path`.
    /// Only with the `sqlite` feature.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be created or opened.
    #[cfg(feature = "sqlite")]
    pub async fn open_sqlite(path: &Path) -> StoreResult<Self> {
        Self::connect_sqlite(SqliteConnectOptions::new(), path).await
    }

    #[cfg(feature = "sqlite")]
    async fn connect_sqlite(base: SqliteConnectOptions, path: &Path) -> StoreResult<Self> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(backend_err)?;
        }
        let opts = base
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(120))
            .connect_with(opts.clone())
            .await
            .map_err(backend_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(SQLITE_READERS)
            .connect_with(opts.clone())
            .await
            .map_err(backend_err)?;
        tracing::debug!(path = %path.display(), "opened sqlite store");
        Ok(Self {
            writer: SqlxSqliteConnector::from_sqlx_sqlite_pool(writer),
            reader: SqlxSqliteConnector::from_sqlx_sqlite_pool(reader),
            backend: Backend::Sqlite,
            cache: Arc::new(cache::ReadCache::new(true, cache::Probe::Sqlite(opts))),
        })
    }

    #[cfg(feature = "sqlite")]
    async fn connect_sqlite_memory(opts: SqliteConnectOptions) -> StoreResult<Self> {
        // One connection that never closes: an in-memory database lives as long as it does.
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts.foreign_keys(true))
            .await
            .map_err(backend_err)?;
        let conn = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
        Ok(Self {
            writer: conn.clone(),
            reader: conn,
            backend: Backend::Sqlite,
            // One connection that nothing else can open: no other writer to probe for.
            cache: Arc::new(cache::ReadCache::new(true, cache::Probe::Nothing)),
        })
    }

    #[cfg(feature = "postgres")]
    async fn connect_postgres(url: &str) -> StoreResult<Self> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("bad postgres url: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await
            .map_err(backend_err)?;
        let conn = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
        Ok(Self {
            writer: conn.clone(),
            reader: conn.clone(),
            backend: Backend::Postgres,
            cache: Arc::new(cache::ReadCache::new(true, cache::Probe::Postgres(conn))),
        })
    }

    /// Applies every pending migration of `foreman-migrations`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a migration fails.
    pub async fn migrate(&self) -> StoreResult<()> {
        let result = Migrator::up(&self.writer, None).await.map_err(be);
        self.cache.invalidate();
        result?;
        tracing::info!(backend = %self.backend, "database migrated");
        Ok(())
    }

    /// Turns the read cache of `get_ticket`, `list_tickets` and `find_token_by_hash` on (the
    /// default) or off. The cache never serves an answer older than a write: this store's own
    /// writes invalidate it when they commit, and other processes' writes are found by a probe
    /// of the database's commit state at most [`PROBE_WINDOW`] old. Applies to this store and
    /// to clones made from it afterwards.
    #[must_use]
    pub fn with_read_cache(mut self, enabled: bool) -> Self {
        self.cache = Arc::new(cache::ReadCache::new(enabled, self.cache.probe().clone()));
        self
    }

    /// The backend in use.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pools, waiting for connections to be returned.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when closing fails.
    pub async fn close(self) -> StoreResult<()> {
        if self.backend == Backend::Sqlite {
            self.reader.close().await.map_err(be)?;
            self.writer.close().await.map_err(be)
        } else {
            self.writer.close().await.map_err(be)
        }
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE` on the single writer
    /// connection, so the write lock is taken up front and never upgraded mid-transaction.
    pub(crate) async fn write(&self) -> StoreResult<DatabaseTransaction> {
        let options = match self.backend {
            Backend::Sqlite => TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            },
            Backend::Postgres => TransactionOptions {
                access_mode: Some(AccessMode::ReadWrite),
                ..TransactionOptions::default()
            },
        };
        self.writer.begin_with_options(options).await.map_err(be)
    }

    /// Commits a write transaction, then invalidates the read cache (also when the commit
    /// fails: its outcome is then unknown). Every write except event appends commits through
    /// here.
    pub(crate) async fn commit(&self, txn: DatabaseTransaction) -> StoreResult<()> {
        let result = txn.commit().await.map_err(be);
        self.cache.invalidate();
        result
    }

    /// Commits an event append, which changes no cached row, keeping the read cache.
    pub(crate) async fn commit_events(&self, txn: DatabaseTransaction) -> StoreResult<()> {
        txn.commit().await.map_err(be)
    }

    pub(crate) fn cache(&self) -> &cache::ReadCache {
        &self.cache
    }

    /// The connection for plain reads.
    pub(crate) fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// On PostgreSQL, takes a transaction-scoped advisory lock so that holders of the same
    /// `key` run one at a time. SQLite's single writer already serializes them.
    pub(crate) async fn serialize(&self, txn: &DatabaseTransaction, key: i64) -> StoreResult<()> {
        if self.backend == Backend::Postgres {
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [key.into()],
            ))
            .await
            .map_err(be)?;
        }
        Ok(())
    }
}

/// Advisory lock keys (PostgreSQL) for serialized sections.
pub(crate) mod locks {
    /// Budget reservations.
    pub const RESERVATIONS: i64 = 0x666f_7265_6d61_6e01;
    /// File reservations: the first key of the two-key form, the second is the project's
    /// `hashtext`.
    pub const FILE_RESERVATIONS: i32 = 0x666f_7202;
    /// The audit chain's head: appends and pruning.
    pub const AUDIT: i64 = 0x666f_7265_6d61_6e03;
}

#[cfg(test)]
mod tests {
    /// Runs only in a build without a backend (`cargo test -p foreman-store --lib
    /// --no-default-features --features sqlite`, say); in the default build both URLs connect
    /// (`tests/it`).
    #[cfg(not(all(feature = "sqlite", feature = "postgres")))]
    #[tokio::test]
    async fn a_backend_left_out_of_the_build_is_refused_with_its_feature() {
        let (url, backend) = if cfg!(feature = "postgres") {
            ("sqlite::memory:", "sqlite")
        } else {
            ("postgres://postgres@127.0.0.1:5432/test", "postgres")
        };
        let err = super::SqlStore::connect(url).await.unwrap_err();
        let expected = format!(
            "backend {backend} is not compiled in; build foreman-store with feature {backend}"
        );
        assert!(
            matches!(&err, foreman_domain::StoreError::Invalid(m) if *m == expected),
            "{err:?}"
        );
    }
}
