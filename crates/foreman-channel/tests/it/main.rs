//! Integration tests for `foreman-channel`: the Telegram adapter against the fake Bot API, and
//! the pipeline's conversation loop over it, on the memory store and, for the cases that keep
//! state (pairing, tickets, answers, news and its cursor, the audit trail), SQLite and
//! PostgreSQL too.

mod conversation;
mod telegram;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use foreman_channel::{TelegramChannel, TelegramSettings};
use foreman_domain::Store;
use foreman_fakes::FakeTelegram;
use foreman_store::SqlStore;
use foreman_testkit::MemoryStore;
use foreman_testkit::pg::TestSchema;

/// Runs `case` on the memory store, a SQLite file and (when configured) PostgreSQL.
pub(crate) async fn on_every_store<F, Fut>(case: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    case(Arc::new(MemoryStore::new())).await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqlStore::open_sqlite(&dir.path().join("foreman.db"))
        .await
        .unwrap();
    sqlite.migrate().await.unwrap();
    case(Arc::new(sqlite)).await;
    if let Some(schema) = TestSchema::create("channel").await {
        let pg = SqlStore::connect(schema.url()).await.unwrap();
        pg.migrate().await.unwrap();
        case(Arc::new(pg)).await;
        schema.drop_schema().await;
    }
}

/// The token the fake accepts.
pub const TOKEN: &str = "123456:test-token";

/// A channel on `fake` with a one-second long poll.
pub fn channel(fake: &FakeTelegram) -> Arc<TelegramChannel> {
    Arc::new(
        TelegramChannel::new(TelegramSettings {
            name: "telegram".into(),
            token: TOKEN.into(),
            base_url: fake.url().to_owned(),
            poll_timeout: Duration::from_secs(1),
        })
        .expect("a channel"),
    )
}
