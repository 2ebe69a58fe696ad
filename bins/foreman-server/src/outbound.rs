//! The outbound webhook worker: `[webhooks]` translated into the delivery crate's settings, and
//! the worker started beside the daemon, woken by every published event.

use std::sync::Arc;
use std::time::Duration;

use foreman_config::{Config, WebhooksConfig, parse_duration};
use foreman_deliver::{AddressPolicy, DeliverySettings, SenderSettings, Worker};
use foreman_domain::subscription::RetryPolicy;
use foreman_domain::{EventLog, Store};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

fn duration(s: &str, fallback: Duration) -> Duration {
    parse_duration(s).unwrap_or(fallback)
}

/// The worker's settings from `[webhooks]` (`Config::validate` has checked them).
///
/// # Errors
/// An `allow_private` entry that is not an address or network.
pub fn delivery_settings(c: &WebhooksConfig) -> Result<DeliverySettings, String> {
    let d = DeliverySettings::default();
    let r = RetryPolicy::default();
    Ok(DeliverySettings {
        sender: SenderSettings {
            policy: AddressPolicy::parse(&c.allow_private).map_err(|e| format!("webhooks.{e}"))?,
            timeout: duration(&c.timeout, d.sender.timeout),
            connect_timeout: duration(&c.connect_timeout, d.sender.connect_timeout),
            ticket_secret: (!c.ticket_secret.is_empty()).then(|| c.ticket_secret.clone()),
        },
        concurrency: c.delivery_concurrency.max(1) as usize,
        batch: c.batch.max(1),
        poll_interval: duration(&c.poll_interval, d.poll_interval),
        fan_out_batch: d.fan_out_batch,
        retry: RetryPolicy {
            base: duration(&c.retry_base, r.base),
            max_delay: duration(&c.retry_max, r.max_delay),
            give_up_after: duration(&c.give_up_after, r.give_up_after),
            disable_after: c.disable_after.max(1),
        },
    })
}

/// Starts the delivery worker (`[webhooks] enabled`) until `stop`; `None` when it is off or
/// cannot start (logged).
pub fn spawn_worker(
    config: &Config,
    store: Arc<dyn Store>,
    events: Arc<dyn EventLog>,
    hub: &foreman_events::EventHub,
    stop: CancellationToken,
) -> Option<JoinHandle<()>> {
    if !config.webhooks.enabled {
        tracing::info!("outbound webhooks are off");
        return None;
    }
    let settings = match delivery_settings(&config.webhooks) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "outbound webhooks not started");
            return None;
        }
    };
    let store_for_pruning = store.clone();
    let worker = match Worker::new(store, events, settings) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "outbound webhooks not started");
            return None;
        }
    };
    if let Some(keep) = parse_duration(&config.webhooks.delivery_retention)
        .ok()
        .filter(|d| !d.is_zero())
    {
        tokio::spawn(prune_deliveries(store_for_pruning, keep, stop.clone()));
    }
    let wake = worker.waker();
    let mut published = hub.subscribe();
    let waker_stop = stop.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = waker_stop.cancelled() => return,
                d = published.recv() => match d {
                    None => return,
                    Some(_) => wake.notify_one(),
                },
            }
        }
    });
    Some(tokio::spawn(worker.run(stop)))
}

/// Finished deliveries at most this many per transaction, so pruning a large log never holds
/// the writer long.
const PRUNE_CHUNK: u32 = 1_000;

/// The first pruning pass waits this long after start, so it adds nothing to the start's own
/// database work.
const FIRST_PRUNE_AFTER: Duration = Duration::from_secs(60);

/// Deletes finished deliveries older than `keep` from the delivery log, a minute after start
/// and hourly after that, until `stop`.
async fn prune_deliveries(store: Arc<dyn Store>, keep: Duration, stop: CancellationToken) {
    tokio::select! {
        () = stop.cancelled() => return,
        () = tokio::time::sleep(FIRST_PRUNE_AFTER) => {}
    }
    loop {
        let before = foreman_domain::now() - keep;
        let mut pruned = 0u64;
        loop {
            match store.prune_deliveries(before, PRUNE_CHUNK).await {
                Ok(n) => {
                    pruned += n;
                    if n < u64::from(PRUNE_CHUNK) || stop.is_cancelled() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot prune the webhook delivery log");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(pruned, "pruned finished webhook deliveries");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_config() {
        let mut c = WebhooksConfig {
            allow_private: vec!["127.0.0.1".into()],
            timeout: "3s".into(),
            retry_base: "1s".into(),
            disable_after: 4,
            ..WebhooksConfig::default()
        };
        let s = delivery_settings(&c).unwrap();
        assert_eq!(s.sender.timeout, Duration::from_secs(3));
        assert_eq!(s.retry.base, Duration::from_secs(1));
        assert_eq!(s.retry.disable_after, 4);
        assert!(s.sender.policy.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(s.sender.ticket_secret.is_none());
        c.allow_private = vec!["nope".into()];
        assert!(
            delivery_settings(&c)
                .unwrap_err()
                .contains("allow_private[0]")
        );
    }
}
