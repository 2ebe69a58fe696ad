//! `NotificationStore` on SQL: one row per fired situation (a unique `dedup_key`, inserted with
//! `ON CONFLICT DO NOTHING`, so concurrent recorders of one key write it once), listed newest
//! first by id (UUIDv7) with a keyset cursor.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::notification::{
    NewNotification, Notification, NotificationFilter, NotificationId, NotificationStore,
};
use foreman_domain::{StoreError, StoreResult, TaskId, TicketId, micros_to_time};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::convert::{from_json, to_json, ts};
use crate::{SqlStore, be};

pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notifications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub trigger: String,
        pub severity: String,
        pub message: String,
        pub ticket_id: Option<String>,
        pub task_id: Option<String>,
        pub dedup_key: String,
        pub details: String,
        pub created_at: i64,
        pub acknowledged_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::Column as N;

impl TryFrom<entity::Model> for Notification {
    type Error = StoreError;
    fn try_from(m: entity::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: NotificationId(m.id),
            trigger: m
                .trigger
                .parse()
                .map_err(|e| StoreError::corrupt("notifications.trigger", e))?,
            severity: m
                .severity
                .parse()
                .map_err(|e| StoreError::corrupt("notifications.severity", e))?,
            message: m.message,
            ticket_id: m.ticket_id.map(TicketId::from),
            task_id: m.task_id.map(TaskId::from),
            dedup_key: m.dedup_key,
            details: from_json("notifications.details", &m.details)?,
            created_at: micros_to_time(m.created_at),
            acknowledged_at: m.acknowledged_at.map(micros_to_time),
        })
    }
}

fn row(n: &Notification) -> StoreResult<entity::ActiveModel> {
    Ok(entity::ActiveModel {
        id: Set(n.id.to_string()),
        trigger: Set(n.trigger.as_str().to_owned()),
        severity: Set(n.severity.as_str().to_owned()),
        message: Set(n.message.clone()),
        ticket_id: Set(n.ticket_id.as_ref().map(ToString::to_string)),
        task_id: Set(n.task_id.as_ref().map(ToString::to_string)),
        dedup_key: Set(n.dedup_key.clone()),
        details: Set(to_json(&n.details)?),
        created_at: Set(ts(n.created_at)),
        acknowledged_at: Set(n.acknowledged_at.map(ts)),
    })
}

#[async_trait]
impl NotificationStore for SqlStore {
    async fn record_notification(&self, new: NewNotification) -> StoreResult<Option<Notification>> {
        if new.dedup_key.is_empty() {
            return Err(StoreError::Invalid(
                "notification dedup key must not be empty".into(),
            ));
        }
        let n = Notification::record(NotificationId::new(), new, foreman_domain::now());
        let txn = self.write().await?;
        let inserted = entity::Entity::insert(row(&n)?)
            .on_conflict(OnConflict::column(N::DedupKey).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await
            .map_err(be)?;
        self.commit(txn).await?;
        Ok((inserted > 0).then_some(n))
    }

    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> StoreResult<Vec<Notification>> {
        let mut q = entity::Entity::find();
        if let Some(s) = filter.severity {
            q = q.filter(N::Severity.eq(s.as_str()));
        }
        match filter.acknowledged {
            Some(true) => q = q.filter(N::AcknowledgedAt.is_not_null()),
            Some(false) => q = q.filter(N::AcknowledgedAt.is_null()),
            None => {}
        }
        if let Some(before) = &filter.before {
            q = q.filter(N::Id.lt(before.as_str()));
        }
        let rows = q
            .order_by_desc(N::Id)
            .limit(filter.page_size() as u64)
            .all(self.reader())
            .await
            .map_err(be)?;
        rows.into_iter().map(Notification::try_from).collect()
    }

    async fn acknowledge_notification(
        &self,
        id: &NotificationId,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Notification>> {
        let txn = self.write().await?;
        entity::Entity::update_many()
            .col_expr(N::AcknowledgedAt, Expr::val(ts(at)))
            .filter(N::Id.eq(id.as_str()))
            .filter(N::AcknowledgedAt.is_null())
            .exec(&txn)
            .await
            .map_err(be)?;
        let found = entity::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await
            .map_err(be)?;
        self.commit(txn).await?;
        found.map(Notification::try_from).transpose()
    }

    async fn acknowledge_all_notifications(&self, at: DateTime<Utc>) -> StoreResult<u64> {
        let txn = self.write().await?;
        let n = entity::Entity::update_many()
            .col_expr(N::AcknowledgedAt, Expr::val(ts(at)))
            .filter(N::AcknowledgedAt.is_null())
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        self.commit(txn).await?;
        Ok(n)
    }

    async fn unacknowledged_notifications(&self) -> StoreResult<u64> {
        entity::Entity::find()
            .filter(N::AcknowledgedAt.is_null())
            .count(self.reader())
            .await
            .map_err(be)
    }
}
