//! `TranscriptStore` on SQL: task transcripts, bounded per task by the domain's
//! [`fit_records`] inside the appending transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use foreman_domain::transcript::{
    NewTranscriptRecord, RecordKind, Transcript, TranscriptRecord, TranscriptStore, fit_records,
    is_full_marker,
};
use foreman_domain::{StoreError, StoreResult, TaskId, micros_to_time};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::convert::{from_json, to_json, ts};
use crate::rows::load_task;
use crate::{SqlStore, be};

/// The `task_transcripts` table (migration `m20261207_000014_rollback_transcripts`).
pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_transcripts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub task_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub ticket_id: String,
        pub attempt: i32,
        pub turn: i32,
        pub kind: String,
        pub tool: Option<String>,
        pub text: String,
        pub bytes: i64,
        pub truncated: bool,
        pub is_error: bool,
        pub details: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::Column as R;

impl TryFrom<entity::Model> for TranscriptRecord {
    type Error = StoreError;
    fn try_from(m: entity::Model) -> Result<Self, StoreError> {
        Ok(Self {
            kind: m
                .kind
                .parse::<RecordKind>()
                .map_err(|e| StoreError::corrupt("task_transcripts.kind", e))?,
            details: from_json("task_transcripts.details", &m.details)?,
            seq: m.seq,
            task_id: TaskId::from(m.task_id),
            ticket_id: m.ticket_id.into(),
            attempt: m.attempt,
            turn: m.turn,
            tool: m.tool,
            text: m.text,
            bytes: u64::try_from(m.bytes).unwrap_or(0),
            truncated: m.truncated,
            is_error: m.is_error,
            created_at: micros_to_time(m.created_at),
        })
    }
}

fn row(r: &TranscriptRecord) -> StoreResult<entity::ActiveModel> {
    Ok(entity::ActiveModel {
        task_id: Set(r.task_id.to_string()),
        seq: Set(r.seq),
        ticket_id: Set(r.ticket_id.to_string()),
        attempt: Set(r.attempt),
        turn: Set(r.turn),
        kind: Set(r.kind.as_str().to_owned()),
        tool: Set(r.tool.clone()),
        text: Set(r.text.clone()),
        bytes: Set(i64::try_from(r.bytes).unwrap_or(i64::MAX)),
        truncated: Set(r.truncated),
        is_error: Set(r.is_error),
        details: Set(to_json(&r.details)?),
        created_at: Set(ts(r.created_at)),
    })
}

async fn records(c: &impl ConnectionTrait, task: &str) -> StoreResult<Vec<TranscriptRecord>> {
    entity::Entity::find()
        .filter(R::TaskId.eq(task))
        .order_by_asc(R::Seq)
        .all(c)
        .await
        .map_err(be)?
        .into_iter()
        .map(TranscriptRecord::try_from)
        .collect()
}

#[async_trait]
impl TranscriptStore for SqlStore {
    async fn append_transcript(
        &self,
        new: Vec<NewTranscriptRecord>,
    ) -> StoreResult<Vec<TranscriptRecord>> {
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let now = foreman_domain::now();
        let mut by_task: BTreeMap<TaskId, Vec<NewTranscriptRecord>> = BTreeMap::new();
        for r in new {
            by_task.entry(r.task_id.clone()).or_default().push(r);
        }
        let txn = self.write().await?;
        let mut stored = Vec::new();
        for (task, batch) in by_task {
            if load_task(&txn, task.as_str()).await?.is_none() {
                return Err(StoreError::not_found("task", task.as_str()));
            }
            let existing = records(&txn, task.as_str()).await?;
            let used: u64 = existing.iter().map(|r| r.text.len() as u64).sum();
            let full = existing.last().is_some_and(is_full_marker);
            let next = existing.last().map_or(1, |r| r.seq + 1);
            let fitted = fit_records(used, full, next, batch, now);
            if !fitted.is_empty() {
                let rows = fitted.iter().map(row).collect::<StoreResult<Vec<_>>>()?;
                entity::Entity::insert_many(rows)
                    .exec_without_returning(&txn)
                    .await
                    .map_err(be)?;
            }
            stored.extend(fitted);
        }
        self.commit(txn).await?;
        Ok(stored)
    }

    async fn transcript(&self, task_id: &TaskId) -> StoreResult<Transcript> {
        if load_task(self.reader(), task_id.as_str()).await?.is_none() {
            return Err(StoreError::not_found("task", task_id.as_str()));
        }
        let records = records(self.reader(), task_id.as_str()).await?;
        let full = records.last().is_some_and(is_full_marker);
        Ok(Transcript { records, full })
    }
}
