//! `RetrospectiveStore` on SQL: retrospectives keyed by a unique number (the first writer of a
//! number wins, another node's attempt is `None`), and the finished tickets after a mark in
//! `(completed_at, id)` order.

use async_trait::async_trait;
use foreman_domain::retrospective::{
    NewRetrospective, RetroMark, Retrospective, RetrospectiveStore, new_retrospective_id,
    retro_page,
};
use foreman_domain::{StoreError, StoreResult, Ticket, TicketId, TicketStatus, micros_to_time};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::convert::{all, from_json, to_json, ts};
use crate::entity::tickets;
use crate::{SqlStore, be};

pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "retrospectives")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub number: i64,
        pub ticket_ids: String,
        pub until_completed_at: i64,
        pub until_ticket_id: String,
        pub report: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::Column as R;

impl TryFrom<entity::Model> for Retrospective {
    type Error = StoreError;
    fn try_from(m: entity::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: m.id,
            number: m.number,
            ticket_ids: from_json("retrospectives.ticket_ids", &m.ticket_ids)?,
            until: RetroMark {
                completed_at: micros_to_time(m.until_completed_at),
                ticket_id: TicketId::from(m.until_ticket_id),
            },
            report: from_json("retrospectives.report", &m.report)?,
            created_at: micros_to_time(m.created_at),
        })
    }
}

#[async_trait]
impl RetrospectiveStore for SqlStore {
    async fn add_retrospective(&self, new: NewRetrospective) -> StoreResult<Option<Retrospective>> {
        if new.number < 1 {
            return Err(StoreError::Invalid(
                "retrospective numbers start at 1".into(),
            ));
        }
        let r = Retrospective {
            id: new_retrospective_id(),
            number: new.number,
            ticket_ids: new.ticket_ids,
            until: new.until,
            report: new.report,
            created_at: foreman_domain::now(),
        };
        let txn = self.write().await?;
        let inserted = entity::Entity::insert(entity::ActiveModel {
            id: Set(r.id.clone()),
            number: Set(r.number),
            ticket_ids: Set(to_json(&r.ticket_ids)?),
            until_completed_at: Set(ts(r.until.completed_at)),
            until_ticket_id: Set(r.until.ticket_id.to_string()),
            report: Set(to_json(&r.report)?),
            created_at: Set(ts(r.created_at)),
        })
        .on_conflict(OnConflict::column(R::Number).do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await
        .map_err(be)?;
        self.commit(txn).await?;
        Ok((inserted > 0).then_some(r))
    }

    async fn list_retrospectives(
        &self,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Vec<Retrospective>> {
        let mut q = entity::Entity::find();
        if let Some(b) = before {
            q = q.filter(R::Number.lt(b));
        }
        let rows = q
            .order_by_desc(R::Number)
            .limit(retro_page(limit) as u64)
            .all(self.reader())
            .await
            .map_err(be)?;
        rows.into_iter().map(Retrospective::try_from).collect()
    }

    async fn finished_tickets_after(
        &self,
        after: Option<&RetroMark>,
        limit: u32,
    ) -> StoreResult<Vec<Ticket>> {
        use tickets::Column as T;
        let terminal: Vec<&str> = TicketStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .map(|s| s.as_str())
            .collect();
        let mut q = tickets::Entity::find()
            .filter(T::Status.is_in(terminal))
            .filter(T::CompletedAt.is_not_null());
        if let Some(m) = after {
            let at = ts(m.completed_at);
            q = q.filter(
                Condition::any().add(T::CompletedAt.gt(at)).add(
                    Condition::all()
                        .add(T::CompletedAt.eq(at))
                        .add(T::Id.gt(m.ticket_id.as_str())),
                ),
            );
        }
        let rows = q
            .order_by_asc(T::CompletedAt)
            .order_by_asc(T::Id)
            .limit(u64::from(limit.clamp(1, 1000)))
            .all(self.reader())
            .await
            .map_err(be)?;
        all(rows)
    }
}
