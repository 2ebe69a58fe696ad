//! The delivery worker against local receivers, on the memory store, SQLite and PostgreSQL:
//! signatures as receivers verify them, the SSRF guard (each attack with its control), retries
//! and auto-disable, per-endpoint order.

mod bench;
mod receiver;
mod ssrf;
mod worker;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use foreman_deliver::{AddressPolicy, DeliverySettings, SenderSettings, Worker};
use foreman_domain::Store;
use foreman_domain::subscription::{NewSubscription, RetryPolicy, WebhookSubscription};
use foreman_store::SqlStore;
use foreman_testkit::MemoryStore;
use foreman_testkit::pg::TestSchema;

pub(crate) const SECRET: &str = "whsec_0123456789abcdef";

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
    if let Some(schema) = TestSchema::create("deliver").await {
        let pg = SqlStore::connect(schema.url()).await.unwrap();
        pg.migrate().await.unwrap();
        case(Arc::new(pg)).await;
        schema.drop_schema().await;
    }
}

/// Settings that allow `allow` and retry at once (no waiting between attempts).
pub(crate) fn settings(allow: &[&str]) -> DeliverySettings {
    DeliverySettings {
        sender: SenderSettings {
            policy: AddressPolicy::parse(
                &allow.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            )
            .unwrap(),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_millis(500),
            ticket_secret: None,
        },
        retry: RetryPolicy {
            base: Duration::ZERO,
            max_delay: Duration::ZERO,
            give_up_after: Duration::from_secs(3_600),
            disable_after: 10,
        },
        ..DeliverySettings::default()
    }
}

pub(crate) fn worker(store: &Arc<dyn Store>, settings: DeliverySettings) -> Worker {
    Worker::new(store.clone(), store.clone(), settings).unwrap()
}

pub(crate) async fn subscribe(
    store: &dyn Store,
    url: &str,
    events: &[&str],
) -> WebhookSubscription {
    store
        .create_subscription(NewSubscription {
            url: url.to_owned(),
            events: events.iter().map(|s| (*s).to_owned()).collect(),
            secret: Some(SECRET.into()),
            enabled: true,
            ..NewSubscription::default()
        })
        .await
        .unwrap()
}
