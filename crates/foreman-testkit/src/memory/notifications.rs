//! `NotificationStore` in memory: one notification per dedup key, newest first by id.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::notification::{
    NewNotification, Notification, NotificationFilter, NotificationId, NotificationStore,
};
use foreman_domain::{StoreError, StoreResult};

use super::MemoryStore;

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn record_notification(&self, new: NewNotification) -> StoreResult<Option<Notification>> {
        if new.dedup_key.is_empty() {
            return Err(StoreError::Invalid(
                "notification dedup key must not be empty".into(),
            ));
        }
        let mut s = self.lock();
        if s.notifications.iter().any(|n| n.dedup_key == new.dedup_key) {
            return Ok(None);
        }
        let n = Notification::record(NotificationId::new(), new, foreman_domain::now());
        s.notifications.push(n.clone());
        Ok(Some(n))
    }

    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> StoreResult<Vec<Notification>> {
        let s = self.lock();
        let mut out: Vec<Notification> = s
            .notifications
            .iter()
            .filter(|n| n.matches(filter))
            .cloned()
            .collect();
        out.sort_by(|a, b| b.id.cmp(&a.id));
        out.truncate(filter.page_size());
        Ok(out)
    }

    async fn acknowledge_notification(
        &self,
        id: &NotificationId,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Notification>> {
        let mut s = self.lock();
        Ok(s.notifications.iter_mut().find(|n| n.id == *id).map(|n| {
            n.acknowledged_at.get_or_insert(at);
            n.clone()
        }))
    }

    async fn acknowledge_all_notifications(&self, at: DateTime<Utc>) -> StoreResult<u64> {
        let mut s = self.lock();
        let mut n = 0;
        for x in s
            .notifications
            .iter_mut()
            .filter(|x| x.acknowledged_at.is_none())
        {
            x.acknowledged_at = Some(at);
            n += 1;
        }
        Ok(n)
    }

    async fn unacknowledged_notifications(&self) -> StoreResult<u64> {
        Ok(self
            .lock()
            .notifications
            .iter()
            .filter(|n| n.acknowledged_at.is_none())
            .count() as u64)
    }
}
