//! `WebhookStore` in memory: subscriptions, deliveries in `pos` order and the fan-out cursor,
//! with the claim and attempt rules of the SQL store (`foreman_domain::subscription`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::subscription::{
    AttemptEffect, AttemptOutcome, ClaimedDelivery, Delivery, DeliveryId, DeliveryPage,
    DeliveryStatus, FanOut, NewDelivery, NewSubscription, PING, RetryPolicy, SubscriptionId,
    SubscriptionPatch, SubscriptionSource, WebhookStore, WebhookSubscription, apply_attempt,
    matching, ping_body, ticket_subscription,
};
use foreman_domain::{StoreError, StoreResult};

use super::MemoryStore;
use super::parts::Webhooks;

impl Webhooks {
    fn push(&mut self, new: &NewDelivery, seq: Option<i64>, at: DateTime<Utc>) -> Delivery {
        self.last_pos += 1;
        let d = Delivery {
            id: DeliveryId::new(),
            pos: self.last_pos,
            subscription_id: new.subscription_id.clone(),
            event_seq: seq,
            event_type: new.event_type.clone(),
            body: new.body.clone(),
            status: DeliveryStatus::Pending,
            attempt: 0,
            next_attempt_at: at,
            last_status: None,
            latency_ms: None,
            error: None,
            created_at: at,
            delivered_at: None,
        };
        self.deliveries.insert(d.pos, (d.clone(), None));
        d
    }
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::days(1))
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_subscription(&self, new: NewSubscription) -> StoreResult<WebhookSubscription> {
        new.check()?;
        let at = foreman_domain::now();
        let mut s = self.lock();
        let after_seq = s.last_seq;
        let sub = WebhookSubscription {
            id: SubscriptionId::new(),
            url: new.url,
            events: new.events,
            ticket_id: new.ticket_id,
            project: new.project,
            secret: new.secret,
            enabled: new.enabled,
            consecutive_failures: 0,
            disabled_reason: None,
            source: SubscriptionSource::Api,
            after_seq,
            created_at: at,
            updated_at: at,
        };
        s.webhooks.subs.push(sub.clone());
        Ok(sub)
    }

    async fn list_subscriptions(&self) -> StoreResult<Vec<WebhookSubscription>> {
        Ok(self.lock().webhooks.subs.clone())
    }

    async fn get_subscription(
        &self,
        id: &SubscriptionId,
    ) -> StoreResult<Option<WebhookSubscription>> {
        Ok(self
            .lock()
            .webhooks
            .subs
            .iter()
            .find(|s| s.id == *id)
            .cloned())
    }

    async fn update_subscription(
        &self,
        id: &SubscriptionId,
        patch: SubscriptionPatch,
    ) -> StoreResult<Option<WebhookSubscription>> {
        patch.check()?;
        let mut s = self.lock();
        Ok(s.webhooks.subs.iter_mut().find(|s| s.id == *id).map(|sub| {
            patch.apply(sub, foreman_domain::now());
            sub.clone()
        }))
    }

    async fn delete_subscription(&self, id: &SubscriptionId) -> StoreResult<bool> {
        let mut s = self.lock();
        let before = s.webhooks.subs.len();
        s.webhooks.subs.retain(|x| x.id != *id);
        s.webhooks
            .deliveries
            .retain(|_, (d, _)| d.subscription_id != *id);
        Ok(s.webhooks.subs.len() < before)
    }

    async fn fan_out(&self, limit: u32) -> StoreResult<FanOut> {
        let limit = limit.clamp(1, 5_000) as usize;
        let at = foreman_domain::now();
        let mut guard = self.lock();
        let s = &mut *guard;
        let cursor = s.webhooks.cursor;
        let events: Vec<_> = s
            .events
            .iter()
            .filter(|e| e.seq > cursor)
            .take(limit)
            .cloned()
            .collect();
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(FanOut {
                cursor,
                ..FanOut::default()
            });
        };
        let mut queued = 0;
        for e in &events {
            if let Some(t) = &e.ticket_id
                && let Some(url) = s.options.get(t).and_then(|o| o.webhook_url.clone())
            {
                let id = SubscriptionId::for_ticket(t);
                if !s.webhooks.subs.iter().any(|x| x.id == id) {
                    s.webhooks
                        .subs
                        .push(ticket_subscription(t, &url, e.seq - 1, at));
                }
            }
            let project = e
                .ticket_id
                .as_ref()
                .and_then(|t| s.tickets.get(t))
                .map(|t| t.project.clone());
            for d in matching(e, project.as_deref(), &s.webhooks.subs) {
                let dup = s.webhooks.deliveries.values().any(|(x, _)| {
                    x.subscription_id == d.subscription_id && x.event_seq == Some(e.seq)
                });
                if !dup {
                    s.webhooks.push(&d, Some(e.seq), at);
                    queued += 1;
                }
            }
        }
        s.webhooks.cursor = last;
        Ok(FanOut {
            events: events.len() as u64,
            deliveries: queued,
            cursor: last,
        })
    }

    async fn enqueue_ping(&self, id: &SubscriptionId) -> StoreResult<Delivery> {
        let at = foreman_domain::now();
        let mut s = self.lock();
        if !s.webhooks.subs.iter().any(|x| x.id == *id) {
            return Err(StoreError::not_found("subscription", id.as_str()));
        }
        let new = NewDelivery {
            subscription_id: id.clone(),
            event_seq: 0,
            event_type: PING.to_owned(),
            body: ping_body(id, at),
        };
        Ok(s.webhooks.push(&new, None, at))
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        per_subscription: u32,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let until = now + to_chrono(lease);
        let per = per_subscription.max(1) as usize;
        let mut guard = self.lock();
        let w = &mut guard.webhooks;
        let free = |l: &Option<(String, DateTime<Utc>)>| l.as_ref().is_none_or(|(_, u)| *u <= now);
        // each enabled subscription's oldest open delivery, when due and not claimed
        let mut heads: Vec<(DateTime<Utc>, i64, WebhookSubscription)> = Vec::new();
        for sub in w.subs.iter().filter(|s| s.enabled) {
            let head = w
                .deliveries
                .values()
                .find(|(d, _)| d.subscription_id == sub.id && d.status.is_open());
            if let Some((d, l)) = head
                && d.next_attempt_at <= now
                && free(l)
            {
                heads.push((d.next_attempt_at, d.pos, sub.clone()));
            }
        }
        heads.sort_by_key(|(at, pos, _)| (*at, *pos));
        heads.truncate(limit.max(1) as usize);
        let mut out = Vec::new();
        for (_, head, sub) in heads {
            let token = DeliveryId::new().0;
            let run: Vec<i64> = w
                .deliveries
                .range(head..)
                .filter(|(_, (d, _))| d.subscription_id == sub.id && d.status.is_open())
                .take(per)
                .take_while(|(pos, (d, l))| **pos == head || (d.next_attempt_at <= now && free(l)))
                .map(|(pos, _)| *pos)
                .collect();
            for pos in run {
                if let Some((d, l)) = w.deliveries.get_mut(&pos) {
                    *l = Some((token.clone(), until));
                    out.push(ClaimedDelivery {
                        delivery: d.clone(),
                        url: sub.url.clone(),
                        secret: sub.secret.clone(),
                        source: sub.source,
                        lease: token.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn record_attempt(
        &self,
        claim: &ClaimedDelivery,
        outcome: AttemptOutcome,
        at: DateTime<Utc>,
        jitter: f64,
        policy: &RetryPolicy,
    ) -> StoreResult<AttemptEffect> {
        let mut guard = self.lock();
        let w = &mut guard.webhooks;
        let pos = claim.delivery.pos;
        let Some((d, l)) = w
            .deliveries
            .get(&pos)
            .filter(|(d, _)| d.id == claim.delivery.id)
        else {
            return Err(StoreError::not_found(
                "delivery",
                claim.delivery.id.as_str(),
            ));
        };
        if !d.status.is_open() || l.as_ref().map(|(t, _)| t.as_str()) != Some(&claim.lease) {
            return Err(StoreError::Conflict {
                entity: "delivery",
                id: claim.delivery.id.to_string(),
                current: "claimed elsewhere or finished".into(),
                expected: "claimed under this lease".into(),
            });
        }
        let sub = w
            .subs
            .iter_mut()
            .find(|s| s.id == d.subscription_id)
            .ok_or_else(|| StoreError::not_found("subscription", d.subscription_id.as_str()))?;
        let mut effect = apply_attempt(d, sub.consecutive_failures, &outcome, at, jitter, policy);
        sub.consecutive_failures = effect.consecutive_failures;
        if let Some(reason) = &effect.disabled {
            if sub.enabled {
                sub.enabled = false;
                sub.disabled_reason = Some(reason.clone());
                sub.updated_at = at;
            } else {
                effect.disabled = None;
            }
        }
        w.deliveries.insert(pos, (effect.delivery.clone(), None));
        Ok(effect)
    }

    async fn release_deliveries(&self, claims: &[ClaimedDelivery]) -> StoreResult<()> {
        let mut guard = self.lock();
        for c in claims {
            if let Some((_, l)) = guard.webhooks.deliveries.get_mut(&c.delivery.pos)
                && l.as_ref().is_some_and(|(t, _)| *t == c.lease)
            {
                *l = None;
            }
        }
        Ok(())
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let mut s = self.lock();
        let gone: Vec<i64> = s
            .webhooks
            .deliveries
            .values()
            .filter(|(d, _)| !d.status.is_open() && d.created_at < before)
            .take(limit as usize)
            .map(|(d, _)| d.pos)
            .collect();
        for pos in &gone {
            s.webhooks.deliveries.remove(pos);
        }
        Ok(gone.len() as u64)
    }

    async fn list_deliveries(
        &self,
        id: &SubscriptionId,
        page: DeliveryPage,
    ) -> StoreResult<Vec<Delivery>> {
        let s = self.lock();
        Ok(s.webhooks
            .deliveries
            .values()
            .rev()
            .filter(|(d, _)| d.subscription_id == *id && page.before.is_none_or(|b| d.pos < b))
            .take(page.size())
            .map(|(d, _)| d.clone())
            .collect())
    }
}
