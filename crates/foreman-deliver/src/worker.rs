//! The delivery worker: fan-out, claims, sends with bounded concurrency, records.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::subscription::{
    AttemptOutcome, ClaimedDelivery, DeliveryStatus, RetryPolicy, WebhookStore,
};
use foreman_domain::{EventLog, EventType, NewEvent, StoreResult};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::send::{Sender, SenderSettings};

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// How deliveries are sent.
    pub sender: SenderSettings,
    /// Subscriptions sent to at the same time (each one a delivery at a time).
    pub concurrency: usize,
    /// Deliveries of one subscription claimed at once and sent one after the other.
    pub batch: u32,
    /// How often the queue is looked at when nothing wakes the worker.
    pub poll_interval: Duration,
    /// Events read per fan-out transaction.
    pub fan_out_batch: u32,
    /// Retries, giving up and auto-disable.
    pub retry: RetryPolicy,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            sender: SenderSettings::default(),
            concurrency: 16,
            batch: 10,
            poll_interval: Duration::from_millis(250),
            fan_out_batch: 500,
            retry: RetryPolicy::default(),
        }
    }
}

impl DeliverySettings {
    /// How long a claimed run is held: long enough to send every delivery of it.
    #[must_use]
    pub fn lease(&self) -> Duration {
        self.sender.timeout.saturating_mul(self.batch.max(1)) + Duration::from_secs(5)
    }
}

/// The delivery worker. Cheap to clone.
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn WebhookStore>,
    events: Arc<dyn EventLog>,
    sender: Sender,
    settings: Arc<DeliverySettings>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker over `store`, announcing auto-disables on `events`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        store: Arc<dyn WebhookStore>,
        events: Arc<dyn EventLog>,
        settings: DeliverySettings,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            sender: Sender::new(settings.sender.clone())?,
            store,
            events,
            settings: Arc::new(settings),
            wake: Arc::new(Notify::new()),
        })
    }

    /// Notify it to look at the queue now (new events were appended).
    #[must_use]
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The sender it uses.
    #[must_use]
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// Fans out every event not yet fanned out; returns the deliveries queued.
    ///
    /// # Errors
    /// Store errors.
    pub async fn fan_out(&self) -> StoreResult<u64> {
        let mut queued = 0;
        loop {
            let f = self.store.fan_out(self.settings.fan_out_batch).await?;
            queued += f.deliveries;
            if f.events == 0 {
                return Ok(queued);
            }
        }
    }

    /// One pass: fans out, then sends every delivery due now, each subscription's in order,
    /// and waits for them. Returns the attempts made.
    ///
    /// # Errors
    /// Store errors of the fan-out or the claim.
    pub async fn tick(&self) -> StoreResult<usize> {
        self.fan_out().await?;
        let mut attempts = 0;
        loop {
            let claims = self
                .store
                .claim_deliveries(
                    foreman_domain::now(),
                    self.settings.lease(),
                    self.settings.batch,
                    u32::try_from(self.settings.concurrency.max(1)).unwrap_or(u32::MAX),
                )
                .await?;
            if claims.is_empty() {
                return Ok(attempts);
            }
            let mut set = JoinSet::new();
            for run in runs(claims) {
                let w = self.clone();
                set.spawn(async move { w.send_run(run).await });
            }
            while let Some(n) = set.join_next().await {
                attempts += n.unwrap_or(0);
            }
        }
    }

    /// Runs until `cancel`: fan-out and sending, woken by [`Worker::waker`] or every poll
    /// interval. Runs in flight at cancellation finish (each within its timeouts); store errors
    /// are logged and retried at the next pass.
    pub async fn run(self, cancel: CancellationToken) {
        let concurrency = self.settings.concurrency.max(1);
        let mut inflight: JoinSet<usize> = JoinSet::new();
        tracing::info!(concurrency, "webhook delivery worker started");
        loop {
            if cancel.is_cancelled() {
                break;
            }
            if let Err(e) = self.fan_out().await {
                tracing::warn!(error = %e, "webhook fan-out failed");
            }
            let free = concurrency.saturating_sub(inflight.len());
            let mut started = 0;
            if free > 0 {
                match self
                    .store
                    .claim_deliveries(
                        foreman_domain::now(),
                        self.settings.lease(),
                        self.settings.batch,
                        u32::try_from(free).unwrap_or(u32::MAX),
                    )
                    .await
                {
                    Ok(claims) => {
                        for run in runs(claims) {
                            let w = self.clone();
                            started += 1;
                            inflight.spawn(async move { w.send_run(run).await });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
                }
            }
            if started > 0 && inflight.len() < concurrency {
                // more may be due at once (other subscriptions)
                continue;
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            }
        }
        while inflight.join_next().await.is_some() {}
        tracing::info!("webhook delivery worker stopped");
    }

    /// Sends one subscription's claimed run in order; stops at the first failure and gives
    /// the rest back. Returns the attempts made.
    async fn send_run(&self, run: Vec<ClaimedDelivery>) -> usize {
        let mut attempts = 0;
        for (i, claim) in run.iter().enumerate() {
            let outcome = self.sender.send(claim).await;
            attempts += 1;
            let ok = matches!(outcome, AttemptOutcome::Delivered { .. });
            if let AttemptOutcome::Failed { error, status, .. } = &outcome {
                tracing::info!(
                    subscription = %claim.delivery.subscription_id,
                    delivery = %claim.delivery.id,
                    attempt = claim.delivery.attempt + 1,
                    status = ?status,
                    error = %error,
                    "webhook delivery failed"
                );
            }
            let jitter: f64 = rand::random();
            let recorded = self
                .store
                .record_attempt(
                    claim,
                    outcome,
                    foreman_domain::now(),
                    jitter,
                    &self.settings.retry,
                )
                .await;
            let go_on = match recorded {
                Ok(effect) => {
                    if let Some(reason) = &effect.disabled {
                        self.announce_disabled(claim, effect.consecutive_failures, reason)
                            .await;
                    }
                    ok && effect.delivery.status == DeliveryStatus::Delivered
                }
                Err(e) => {
                    tracing::warn!(delivery = %claim.delivery.id, error = %e, "cannot record a webhook attempt");
                    false
                }
            };
            if !go_on {
                if let Err(e) = self.store.release_deliveries(&run[i + 1..]).await {
                    tracing::warn!(error = %e, "cannot give back webhook deliveries");
                }
                break;
            }
        }
        attempts
    }

    async fn announce_disabled(&self, claim: &ClaimedDelivery, failures: u32, reason: &str) {
        let id = &claim.delivery.subscription_id;
        tracing::warn!(subscription = %id, failures, "webhook subscription disabled");
        let event = NewEvent::new(
            EventType::WebhookDisabled,
            format!(
                "webhook subscription {id} disabled after {failures} failed deliveries in a row"
            ),
        )
        .details(serde_json::json!({
            "subscription_id": id,
            "failures": failures,
            "reason": reason,
        }));
        if let Err(e) = self.events.append(event).await {
            tracing::warn!(error = %e, "cannot record the webhook_disabled event");
        }
    }
}

/// Splits claims into runs (one per lease, so one per subscription), keeping their order.
fn runs(claims: Vec<ClaimedDelivery>) -> Vec<Vec<ClaimedDelivery>> {
    let mut out: Vec<Vec<ClaimedDelivery>> = Vec::new();
    for c in claims {
        match out.last_mut() {
            Some(run) if run[0].lease == c.lease => run.push(c),
            _ => out.push(vec![c]),
        }
    }
    out
}
