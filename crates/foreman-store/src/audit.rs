//! `AuditStore` on SQL: the hash-chained trail of mutating calls.
//!
//! An append reads the chain head and inserts the next entries inside one write transaction:
//! on SQLite the single writer connection serialises it, on PostgreSQL an advisory lock taken
//! first in the transaction does, and the `seq` primary key would refuse a fork either way.
//! Pruning deletes through the deliberate path of the migration's triggers (a permit row on
//! SQLite, a transaction-local setting on PostgreSQL) and writes its signed checkpoint in the
//! same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::audit::{
    AuditCheckpoint, AuditEntry, AuditFilter, AuditKey, AuditStore, ChainCheck, ChainHead,
    MAX_AUDIT_PAGE, NewAuditEntry, prune_cut,
};
use foreman_domain::{StoreError, StoreResult, TokenId, micros_to_time};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use crate::convert::ts;
use crate::{Backend, SqlStore, be, locks};

pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub at: i64,
        pub token_id: Option<String>,
        pub actor: Option<String>,
        pub client_addr: Option<String>,
        pub action: String,
        pub resource: Option<String>,
        pub via: String,
        pub outcome: String,
        pub status: i32,
        pub request_id: Option<String>,
        pub prev_hash: String,
        pub hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod checkpoint {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_checkpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub hash: String,
        pub pruned_before: i64,
        pub created_at: i64,
        pub signature: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::Column as A;

fn seq_of(n: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(n).map_err(|_| StoreError::corrupt(what, n))
}

fn seq_col(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl TryFrom<entity::Model> for AuditEntry {
    type Error = StoreError;
    fn try_from(m: entity::Model) -> Result<Self, StoreError> {
        Ok(Self {
            seq: seq_of(m.seq, "audit_entries.seq")?,
            at: micros_to_time(m.at),
            token_id: m.token_id.map(TokenId::from),
            actor: m.actor,
            client_addr: m.client_addr,
            action: m.action,
            resource: m.resource,
            via: m.via,
            outcome: m
                .outcome
                .parse()
                .map_err(|e| StoreError::corrupt("audit_entries.outcome", e))?,
            status: u16::try_from(m.status)
                .map_err(|_| StoreError::corrupt("audit_entries.status", m.status))?,
            request_id: m.request_id,
            prev_hash: m.prev_hash,
            hash: m.hash,
        })
    }
}

impl TryFrom<checkpoint::Model> for AuditCheckpoint {
    type Error = StoreError;
    fn try_from(m: checkpoint::Model) -> Result<Self, StoreError> {
        Ok(Self {
            seq: seq_of(m.seq, "audit_checkpoints.seq")?,
            hash: m.hash,
            pruned_before: micros_to_time(m.pruned_before),
            created_at: micros_to_time(m.created_at),
            signature: m.signature,
        })
    }
}

fn row(e: &AuditEntry) -> entity::ActiveModel {
    entity::ActiveModel {
        seq: Set(seq_col(e.seq)),
        at: Set(ts(e.at)),
        token_id: Set(e.token_id.as_ref().map(ToString::to_string)),
        actor: Set(e.actor.clone()),
        client_addr: Set(e.client_addr.clone()),
        action: Set(e.action.clone()),
        resource: Set(e.resource.clone()),
        via: Set(e.via.clone()),
        outcome: Set(e.outcome.as_str().to_owned()),
        status: Set(i32::from(e.status)),
        request_id: Set(e.request_id.clone()),
        prev_hash: Set(e.prev_hash.clone()),
        hash: Set(e.hash.clone()),
    }
}

async fn newest_checkpoint(conn: &impl ConnectionTrait) -> StoreResult<Option<AuditCheckpoint>> {
    checkpoint::Entity::find()
        .order_by_desc(checkpoint::Column::Seq)
        .limit(1)
        .one(conn)
        .await
        .map_err(be)?
        .map(AuditCheckpoint::try_from)
        .transpose()
}

/// The chain head as the transaction sees it: the last entry, else the newest checkpoint,
/// else genesis.
async fn head(txn: &DatabaseTransaction) -> StoreResult<ChainHead> {
    let last = entity::Entity::find()
        .select_only()
        .column(A::Seq)
        .column(A::Hash)
        .order_by_desc(A::Seq)
        .limit(1)
        .into_tuple::<(i64, String)>()
        .one(txn)
        .await
        .map_err(be)?;
    if let Some((seq, hash)) = last {
        return Ok(ChainHead {
            seq: seq_of(seq, "audit_entries.seq")?,
            hash,
        });
    }
    Ok(newest_checkpoint(txn)
        .await?
        .map_or_else(ChainHead::genesis, |cp| cp.head()))
}

impl SqlStore {
    /// Serialises audit appends and pruning (PostgreSQL; SQLite's single writer already does).
    async fn lock_audit(&self, txn: &DatabaseTransaction) -> StoreResult<()> {
        self.serialize(txn, locks::AUDIT).await
    }

    /// Lets the transaction delete entries up to `upto` through the append-only trigger.
    async fn permit_prune(&self, txn: &DatabaseTransaction, upto: u64) -> StoreResult<()> {
        let stmt = match self.backend() {
            Backend::Sqlite => Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "INSERT INTO audit_prune_permit (upto) VALUES (?)",
                [seq_col(upto).into()],
            ),
            Backend::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('foreman.audit_prune_upto', $1, true)",
                [upto.to_string().into()],
            ),
        };
        txn.execute_raw(stmt).await.map_err(be)?;
        Ok(())
    }

    /// Withdraws the permit before the transaction commits (SQLite; PostgreSQL's ends with
    /// the transaction).
    async fn end_permit(&self, txn: &DatabaseTransaction) -> StoreResult<()> {
        if self.backend() == Backend::Sqlite {
            txn.execute_unprepared("DELETE FROM audit_prune_permit")
                .await
                .map_err(be)?;
        }
        Ok(())
    }
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> StoreResult<Vec<AuditEntry>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.write().await?;
        self.lock_audit(&txn).await?;
        let mut head = head(&txn).await?;
        let chained = AuditEntry::chain_all(entries, &mut head);
        entity::Entity::insert_many(chained.iter().map(row))
            .exec_without_returning(&txn)
            .await
            .map_err(be)?;
        // no cached read depends on the audit tables
        self.commit_events(txn).await?;
        Ok(chained)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let mut q = entity::Entity::find();
        if let Some(actor) = &filter.actor {
            q = q.filter(
                Condition::any()
                    .add(A::Actor.eq(actor.as_str()))
                    .add(A::TokenId.eq(actor.as_str())),
            );
        }
        if let Some((action, prefix)) = filter.action_match() {
            q = if prefix {
                // `LIKE` would treat `_` and `%` in the prefix as wildcards
                q.filter(A::Action.gte(action))
                    .filter(A::Action.lt(format!("{action}\u{10FFFF}")))
            } else {
                q.filter(A::Action.eq(action))
            };
        }
        if let Some(from) = filter.from {
            q = q.filter(A::At.gte(ts(from)));
        }
        if let Some(to) = filter.to {
            q = q.filter(A::At.lt(ts(to)));
        }
        if let Some(before) = filter.before_seq {
            q = q.filter(A::Seq.lt(seq_col(before)));
        }
        let rows = q
            .order_by_desc(A::Seq)
            .limit(u64::from(filter.page_size()))
            .all(self.reader())
            .await
            .map_err(be)?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }

    async fn audit_chain(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = entity::Entity::find()
            .filter(A::Seq.gt(seq_col(after_seq)))
            .order_by_asc(A::Seq)
            .limit(u64::from(limit.clamp(1, MAX_AUDIT_PAGE)))
            .all(self.reader())
            .await
            .map_err(be)?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }

    async fn latest_audit_checkpoint(&self) -> StoreResult<Option<AuditCheckpoint>> {
        newest_checkpoint(self.reader()).await
    }

    async fn prune_audit(
        &self,
        before: DateTime<Utc>,
        key: &AuditKey,
    ) -> StoreResult<Option<AuditCheckpoint>> {
        let txn = self.write().await?;
        self.lock_audit(&txn).await?;
        let head = head(&txn).await?;
        let current = newest_checkpoint(&txn).await?;
        // entries are appended in about time order, not exactly (a group commit orders them by
        // arrival): the run to remove is the prefix of the chain before the first entry
        // answered at or after the cut, so no hole is punched in the chain
        let keep_from = entity::Entity::find()
            .select_only()
            .column_as(A::Seq.min(), "seq")
            .filter(A::At.gte(ts(before)))
            .into_tuple::<Option<i64>>()
            .one(&txn)
            .await
            .map_err(be)?
            .flatten()
            .map_or(Ok(head.seq), |s| seq_of(s, "audit_entries.seq"))?
            .min(head.seq);
        let older: Vec<AuditEntry> = entity::Entity::find()
            .filter(A::Seq.lt(seq_col(keep_from)))
            .order_by_asc(A::Seq)
            .all(&txn)
            .await
            .map_err(be)?
            .into_iter()
            .map(AuditEntry::try_from)
            .collect::<StoreResult<_>>()?;
        let start = ChainCheck::start(current.as_ref(), Some(key)).map_err(|b| {
            StoreError::Invalid(format!(
                "audit checkpoint at seq {} does not verify ({}); not pruning",
                b.seq,
                b.reason.as_str()
            ))
        })?;
        let Some(last) = prune_cut(start, &older, head.seq)? else {
            return Ok(None);
        };
        let now = foreman_domain::now();
        let cp = AuditCheckpoint::sign(&last, before, now, key);
        checkpoint::Entity::insert(checkpoint::ActiveModel {
            seq: Set(seq_col(cp.seq)),
            hash: Set(cp.hash.clone()),
            pruned_before: Set(ts(cp.pruned_before)),
            created_at: Set(ts(cp.created_at)),
            signature: Set(cp.signature.clone()),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(be)?;
        self.permit_prune(&txn, last.seq).await?;
        entity::Entity::delete_many()
            .filter(A::Seq.lte(seq_col(last.seq)))
            .exec(&txn)
            .await
            .map_err(be)?;
        self.end_permit(&txn).await?;
        self.commit_events(txn).await?;
        Ok(Some(cp))
    }
}
