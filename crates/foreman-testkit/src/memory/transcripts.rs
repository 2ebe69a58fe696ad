//! `TranscriptStore` in memory, bounded by the domain's `fit_records` like the SQL store.

use std::collections::BTreeMap;

use async_trait::async_trait;
use foreman_domain::transcript::{
    NewTranscriptRecord, Transcript, TranscriptRecord, TranscriptStore, fit_records, is_full_marker,
};
use foreman_domain::{StoreResult, TaskId};

use super::MemoryStore;

#[async_trait]
impl TranscriptStore for MemoryStore {
    async fn append_transcript(
        &self,
        new: Vec<NewTranscriptRecord>,
    ) -> StoreResult<Vec<TranscriptRecord>> {
        let now = foreman_domain::now();
        let mut by_task: BTreeMap<TaskId, Vec<NewTranscriptRecord>> = BTreeMap::new();
        for r in new {
            by_task.entry(r.task_id.clone()).or_default().push(r);
        }
        let mut s = self.lock();
        for task in by_task.keys() {
            s.task(task)?;
        }
        let mut stored = Vec::new();
        for (task, batch) in by_task {
            let existing = s.transcripts.entry(task).or_default();
            let used: u64 = existing.iter().map(|r| r.text.len() as u64).sum();
            let full = existing.last().is_some_and(is_full_marker);
            let next = existing.last().map_or(1, |r| r.seq + 1);
            let fitted = fit_records(used, full, next, batch, now);
            existing.extend(fitted.iter().cloned());
            stored.extend(fitted);
        }
        Ok(stored)
    }

    async fn transcript(&self, task_id: &TaskId) -> StoreResult<Transcript> {
        let s = self.lock();
        s.task(task_id)?;
        let records = s.transcripts.get(task_id).cloned().unwrap_or_default();
        let full = records.last().is_some_and(is_full_marker);
        Ok(Transcript { records, full })
    }
}
