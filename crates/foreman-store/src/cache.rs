//! A small read cache for the hottest reads: `get_ticket`, `list_tickets` and
//! `find_token_by_hash` (every authenticated API request).
//!
//! Correctness comes first: a write is visible to the next read, whoever made it.
//!
//! - Every entry is tagged with the cache's generation, read *before* the query that produced
//!   it. Every commit of this store that may change a cached row bumps the generation after the
//!   commit and before the write returns, so an entry filled from older data is never served
//!   after that write returned.
//! - Writes by other processes (the CLI revoking a token, another server on the same
//!   database) are found by a probe of the database's commit state: `PRAGMA data_version` on a
//!   SQLite connection of its own (it changes whenever another connection committed), the
//!   transaction snapshot (`pg_current_snapshot()`) on PostgreSQL (it changes whenever any
//!   transaction that wrote began or ended). A cached answer is served only if a probe started
//!   at most [`PROBE_WINDOW`] before the read; one probe serves every read in that window, so
//!   the probe costs at most one small query per window however many reads there are. A probe
//!   that sees a change bumps the generation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use foreman_domain::{ApiToken, Page, Ticket, TicketFilter};
#[cfg(feature = "sqlite")]
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
#[cfg(feature = "sqlite")]
use sea_orm::sqlx::{self, Connection};
#[cfg(feature = "postgres")]
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// How old the last probe of the database's commit state may be when a cached answer is
/// served: the most a write by another process can go unseen.
pub const PROBE_WINDOW: Duration = Duration::from_millis(1);
/// Single tickets held at most.
const MAX_TICKETS: usize = 4096;
/// Ticket lists held at most.
const MAX_LISTS: usize = 64;
/// Token records held at most.
const MAX_TOKENS: usize = 1024;

/// How the cache learns about commits made outside this store.
#[derive(Clone)]
pub(crate) enum Probe {
    /// Nothing else can write (an in-memory database).
    #[cfg_attr(
        not(feature = "sqlite"),
        allow(
            dead_code,
            reason = "only in-memory SQLite (and the unit tests) have no other writer"
        )
    )]
    Nothing,
    /// `PRAGMA data_version` on a SQLite connection of the probe's own.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteConnectOptions),
    /// `pg_current_snapshot()` on PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(DatabaseConnection),
}

/// The probe's own state; its lock also makes concurrent readers share one probe.
#[derive(Default)]
struct ProbeState {
    /// The SQLite probe connection, opened on first use and after an error.
    #[cfg(feature = "sqlite")]
    conn: Option<SqliteConnection>,
    /// Bumped each time the connection is (re)opened: `data_version` values of different
    /// connections are not comparable.
    #[cfg(feature = "sqlite")]
    incarnation: u64,
    /// What the last probe saw.
    last: Option<String>,
}

struct Entry<T> {
    generation: u64,
    value: Arc<T>,
}

/// The cache; shared by every clone of a store.
pub(crate) struct ReadCache {
    enabled: bool,
    probe: Probe,
    generation: AtomicU64,
    /// Start of the last successful probe, in microseconds since `origin`, plus one (0: never).
    probed_at: AtomicU64,
    origin: Instant,
    state: tokio::sync::Mutex<ProbeState>,
    tickets: Mutex<HashMap<String, Entry<Option<Ticket>>>>,
    lists: Mutex<Vec<(TicketFilter, Entry<Page<Ticket>>)>>,
    tokens: Mutex<HashMap<String, Entry<ApiToken>>>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("enabled", &self.enabled)
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl ReadCache {
    /// A cache that learns of other writers through `probe`; `enabled: false` keeps nothing.
    pub fn new(enabled: bool, probe: Probe) -> Self {
        Self {
            enabled,
            probe,
            generation: AtomicU64::new(0),
            probed_at: AtomicU64::new(0),
            origin: Instant::now(),
            state: tokio::sync::Mutex::new(ProbeState::default()),
            tickets: Mutex::new(HashMap::new()),
            lists: Mutex::new(Vec::new()),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// How this cache learns about other writers.
    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    /// Forgets everything read so far. Called after every commit that may have changed a cached
    /// row.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn now(&self) -> u64 {
        micros(self.origin.elapsed()) + 1
    }

    fn probed_since(&self, at: u64) -> bool {
        let probed = self.probed_at.load(Ordering::Acquire);
        probed != 0 && probed.saturating_add(micros(PROBE_WINDOW)) >= at
    }

    /// The generation to read under, once every write committed before this call (by this
    /// store or by anyone else, up to [`PROBE_WINDOW`]) has invalidated what it changed; `None`
    /// when the cache must not be used (it is off, or the probe failed).
    pub async fn generation(&self) -> Option<u64> {
        if !self.enabled {
            return None;
        }
        if !matches!(self.probe, Probe::Nothing) {
            let arrival = self.now();
            if !self.probed_since(arrival) {
                let mut state = self.state.lock().await;
                // Another reader may have probed while this one waited.
                if !self.probed_since(arrival) {
                    let started = self.now();
                    match self.probe_once(&mut state).await {
                        Ok(seen) => {
                            if state.last.as_ref() != Some(&seen) {
                                self.invalidate();
                                state.last = Some(seen);
                            }
                            self.probed_at.store(started, Ordering::Release);
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "read cache probe failed; reading through");
                            state.last = None;
                            self.invalidate();
                            return None;
                        }
                    }
                }
            }
        }
        Some(self.generation.load(Ordering::Acquire))
    }

    /// What the database's commit state looks like now; the error is only logged.
    async fn probe_once(&self, state: &mut ProbeState) -> Result<String, String> {
        #[cfg(not(feature = "sqlite"))]
        let _ = state;
        match &self.probe {
            Probe::Nothing => Ok(String::new()),
            #[cfg(feature = "sqlite")]
            Probe::Sqlite(options) => {
                let conn = match state.conn.as_mut() {
                    Some(conn) => conn,
                    None => {
                        let conn = SqliteConnection::connect_with(options)
                            .await
                            .map_err(|e| e.to_string())?;
                        state.incarnation += 1;
                        state.conn.insert(conn)
                    }
                };
                match sqlx::query_scalar::<_, i64>("PRAGMA data_version")
                    .fetch_one(conn)
                    .await
                {
                    Ok(version) => Ok(format!("{}:{version}", state.incarnation)),
                    Err(e) => {
                        state.conn = None;
                        Err(e.to_string())
                    }
                }
            }
            #[cfg(feature = "postgres")]
            Probe::Postgres(db) => {
                let row = db
                    .query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT pg_current_snapshot()::text AS snapshot",
                    ))
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| "no snapshot row".to_owned())?;
                row.try_get::<String>("", "snapshot")
                    .map_err(|e| e.to_string())
            }
        }
    }

    fn current(&self, generation: u64) -> bool {
        generation == self.generation.load(Ordering::Acquire)
    }

    /// A cached `get_ticket` answer (`Some(None)`: cached as missing).
    pub fn ticket(&self, generation: u64, id: &str) -> Option<Arc<Option<Ticket>>> {
        lock(&self.tickets)
            .get(id)
            .filter(|e| e.generation == generation)
            .map(|e| e.value.clone())
    }

    /// Remembers a `get_ticket` answer read under `generation`.
    pub fn put_ticket(&self, generation: u64, id: &str, value: Option<Ticket>) {
        let mut tickets = lock(&self.tickets);
        if !self.current(generation) {
            return;
        }
        if tickets.len() >= MAX_TICKETS && !tickets.contains_key(id) {
            tickets.retain(|_, e| e.generation == generation);
            if tickets.len() >= MAX_TICKETS {
                tickets.clear();
            }
        }
        tickets.insert(
            id.to_owned(),
            Entry {
                generation,
                value: Arc::new(value),
            },
        );
    }

    /// A cached `list_tickets` answer.
    pub fn list(&self, generation: u64, filter: &TicketFilter) -> Option<Arc<Page<Ticket>>> {
        lock(&self.lists)
            .iter()
            .find(|(f, e)| e.generation == generation && f == filter)
            .map(|(_, e)| e.value.clone())
    }

    /// Remembers a `list_tickets` answer read under `generation`.
    pub fn put_list(&self, generation: u64, filter: &TicketFilter, page: Page<Ticket>) {
        let mut lists = lock(&self.lists);
        if !self.current(generation) {
            return;
        }
        lists.retain(|(f, e)| e.generation == generation && f != filter);
        if lists.len() >= MAX_LISTS {
            // The oldest entry goes first.
            lists.remove(0);
        }
        lists.push((
            filter.clone(),
            Entry {
                generation,
                value: Arc::new(page),
            },
        ));
    }

    /// A cached token record by hash (unknown hashes are never cached).
    pub fn token(&self, generation: u64, hash: &str) -> Option<Arc<ApiToken>> {
        lock(&self.tokens)
            .get(hash)
            .filter(|e| e.generation == generation)
            .map(|e| e.value.clone())
    }

    /// Remembers a token record read under `generation`.
    pub fn put_token(&self, generation: u64, hash: &str, token: ApiToken) {
        let mut tokens = lock(&self.tokens);
        if !self.current(generation) {
            return;
        }
        if tokens.len() >= MAX_TOKENS && !tokens.contains_key(hash) {
            tokens.retain(|_, e| e.generation == generation);
            if tokens.len() >= MAX_TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(
            hash.to_owned(),
            Entry {
                generation,
                value: Arc::new(token),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use foreman_domain::TicketStatus;

    use super::*;

    fn filter(limit: u32) -> TicketFilter {
        TicketFilter {
            limit,
            statuses: vec![TicketStatus::Queued],
            ..TicketFilter::default()
        }
    }

    fn page(cursor: &str) -> Page<Ticket> {
        Page {
            items: Vec::new(),
            next_cursor: Some(cursor.to_owned()),
        }
    }

    fn token() -> ApiToken {
        let (new, _) = foreman_domain::NewApiToken::generate("t", vec![], None);
        ApiToken {
            id: foreman_domain::TokenId::new(),
            name: new.name,
            token_hash: new.token_hash,
            prefix: new.prefix,
            scopes: new.scopes,
            created_at: foreman_domain::now(),
            last_used_at: None,
            expires_at: None,
            revoked_at: None,
        }
    }

    #[tokio::test]
    async fn a_write_hides_everything_read_before_it() {
        let cache = ReadCache::new(true, Probe::Nothing);
        let g = cache.generation().await.unwrap();
        cache.put_list(g, &filter(50), page("a"));
        cache.put_ticket(g, "t1", None);
        cache.put_token(g, "h1", token());
        assert_eq!(
            cache.list(g, &filter(50)).unwrap().next_cursor.as_deref(),
            Some("a")
        );
        assert!(cache.ticket(g, "t1").is_some());
        assert!(cache.token(g, "h1").is_some());
        assert!(cache.list(g, &filter(49)).is_none(), "another filter");
        cache.invalidate();
        let g = cache.generation().await.unwrap();
        assert!(cache.list(g, &filter(50)).is_none());
        assert!(cache.ticket(g, "t1").is_none());
        assert!(cache.token(g, "h1").is_none());
    }

    #[tokio::test]
    async fn an_answer_read_before_a_write_is_not_kept() {
        let cache = ReadCache::new(true, Probe::Nothing);
        let before = cache.generation().await.unwrap();
        // A write commits while the query runs.
        cache.invalidate();
        cache.put_list(before, &filter(50), page("stale"));
        cache.put_ticket(before, "t1", None);
        cache.put_token(before, "h1", token());
        let now = cache.generation().await.unwrap();
        assert!(cache.list(now, &filter(50)).is_none());
        assert!(cache.ticket(now, "t1").is_none());
        assert!(cache.token(now, "h1").is_none());
    }

    #[tokio::test]
    async fn a_disabled_cache_is_never_read() {
        let cache = ReadCache::new(false, Probe::Nothing);
        assert_eq!(cache.generation().await, None);
    }

    #[tokio::test]
    async fn stays_bounded() {
        let cache = ReadCache::new(true, Probe::Nothing);
        let g = cache.generation().await.unwrap();
        for i in 0..(MAX_TICKETS * 2) {
            cache.put_ticket(g, &format!("t{i}"), None);
        }
        assert!(lock(&cache.tickets).len() <= MAX_TICKETS);
        for i in 0..(MAX_TOKENS * 2) {
            cache.put_token(g, &format!("h{i}"), token());
        }
        assert!(lock(&cache.tokens).len() <= MAX_TOKENS);
        for i in 0..(MAX_LISTS * 2) {
            cache.put_list(g, &filter(u32::try_from(i).unwrap() + 1), page("x"));
        }
        assert_eq!(lock(&cache.lists).len(), MAX_LISTS);
        // The newest list survived, the oldest did not.
        let newest = u32::try_from(MAX_LISTS * 2).unwrap();
        assert!(cache.list(g, &filter(newest)).is_some());
        assert!(cache.list(g, &filter(1)).is_none());
    }
}
