//! `RunStore` and `LogStore` in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::runs::{
    LogFilter, LogLine, LogStore, MAX_RUN_PAGE, NewLogLine, NewRun, Run, RunId, RunStart,
    RunStatus, RunStore, RunTotals, log_page_size,
};
use foreman_domain::{Micros, Page, StoreError, StoreResult, TicketStatus};

use super::{MemoryStore, State};

/// Work recorded in `[from, to]`.
fn totals(s: &State, from: DateTime<Utc>, to: DateTime<Utc>) -> RunTotals {
    let inside = |t: DateTime<Utc>| t >= from && t <= to;
    let finished = |of: &[TicketStatus]| {
        s.tickets
            .values()
            .filter(|t| t.completed_at.is_some_and(inside) && of.contains(&t.status))
            .count() as i64
    };
    let calls: Vec<_> = s.calls.iter().filter(|c| inside(c.created_at)).collect();
    RunTotals {
        tickets_done: finished(&[TicketStatus::Merged, TicketStatus::Done]),
        tickets_failed: finished(&[TicketStatus::Failed, TicketStatus::Blocked]),
        llm_calls: calls.len() as i64,
        cost: Micros(calls.iter().map(|c| c.cost.0).sum()),
    }
}

fn close(s: &mut State, at: usize, status: RunStatus, end: DateTime<Utc>) -> Run {
    let t = totals(s, s.runs.runs[at].started_at, end);
    let run = &mut s.runs.runs[at];
    run.status = status;
    run.stopped_at = Some(end);
    run.totals = t;
    run.clone()
}

fn read(s: &State, run: &Run) -> Run {
    let mut run = run.clone();
    if run.stopped_at.is_none() {
        run.totals = totals(s, run.started_at, foreman_domain::now());
    }
    run
}

#[async_trait]
impl RunStore for MemoryStore {
    async fn start_run(&self, new: NewRun) -> StoreResult<RunStart> {
        if new.node_id.trim().is_empty() {
            return Err(StoreError::Invalid("node_id must not be empty".into()));
        }
        let mut s = self.lock();
        let open: Vec<usize> = (0..s.runs.runs.len())
            .filter(|&i| {
                let r = &s.runs.runs[i];
                r.node_id == new.node_id && r.stopped_at.is_none()
            })
            .collect();
        let crashed = open
            .into_iter()
            .map(|i| {
                let end = s.runs.runs[i].last_seen_at;
                close(&mut s, i, RunStatus::Crashed, end)
            })
            .collect();
        let now = foreman_domain::now();
        let run = Run {
            id: RunId::new(),
            node_id: new.node_id,
            version: new.version,
            status: RunStatus::Running,
            started_at: now,
            last_seen_at: now,
            stopped_at: None,
            totals: RunTotals::default(),
        };
        s.runs.runs.push(run.clone());
        Ok(RunStart { run, crashed })
    }

    async fn touch_run(&self, id: &RunId) -> StoreResult<()> {
        let mut s = self.lock();
        let run = s
            .runs
            .runs
            .iter_mut()
            .find(|r| &r.id == id)
            .ok_or_else(|| StoreError::not_found("run", id.as_str()))?;
        run.last_seen_at = foreman_domain::now();
        Ok(())
    }

    async fn finish_run(&self, id: &RunId, status: RunStatus) -> StoreResult<Run> {
        if status == RunStatus::Running {
            return Err(StoreError::Invalid("a run cannot finish as running".into()));
        }
        let mut s = self.lock();
        let at = s
            .runs
            .runs
            .iter()
            .position(|r| &r.id == id)
            .ok_or_else(|| StoreError::not_found("run", id.as_str()))?;
        if s.runs.runs[at].stopped_at.is_some() {
            return Err(StoreError::Conflict {
                entity: "run",
                id: id.as_str().to_owned(),
                current: "closed".to_owned(),
                expected: RunStatus::Running.as_str().to_owned(),
            });
        }
        Ok(close(&mut s, at, status, foreman_domain::now()))
    }

    async fn get_run(&self, id: &RunId) -> StoreResult<Option<Run>> {
        let s = self.lock();
        Ok(s.runs
            .runs
            .iter()
            .find(|r| &r.id == id)
            .map(|r| read(&s, r)))
    }

    async fn list_runs(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<Run>> {
        let limit = match limit {
            0 => 20,
            n => n.min(MAX_RUN_PAGE),
        } as usize;
        if let Some(c) = cursor
            && !(c.len() == 36 && c.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        {
            return Err(StoreError::Invalid(format!(
                "cursor {c:?} is not a run cursor"
            )));
        }
        let s = self.lock();
        let mut all: Vec<&Run> = s
            .runs
            .runs
            .iter()
            .filter(|r| cursor.is_none_or(|c| r.id.as_str() < c))
            .collect();
        all.sort_by(|a, b| b.id.cmp(&a.id));
        let more = all.len() > limit;
        let items: Vec<Run> = all.into_iter().take(limit).map(|r| read(&s, r)).collect();
        let next_cursor = more
            .then(|| items.last().map(|r| r.id.as_str().to_owned()))
            .flatten();
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl LogStore for MemoryStore {
    async fn append_logs(&self, lines: Vec<NewLogLine>) -> StoreResult<Vec<LogLine>> {
        let mut s = self.lock();
        let mut out = Vec::with_capacity(lines.len());
        for l in lines {
            let l = l.bounded();
            s.runs.last_log_id += 1;
            let line = LogLine {
                id: s.runs.last_log_id,
                at: l.at,
                level: l.level,
                target: l.target,
                message: l.message,
                fields: l.fields,
                ticket_id: l.ticket_id,
                run_id: l.run_id,
            };
            s.runs.logs.push(line.clone());
            out.push(line);
        }
        Ok(out)
    }

    async fn list_logs(&self, filter: &LogFilter) -> StoreResult<Vec<LogLine>> {
        let s = self.lock();
        let keep = |l: &&LogLine| {
            l.matches(filter)
                && filter.before_id.is_none_or(|b| l.id < b)
                && filter.after_id.is_none_or(|a| l.id > a)
        };
        let n = log_page_size(filter.limit) as usize;
        Ok(if filter.newest_first {
            s.runs
                .logs
                .iter()
                .rev()
                .filter(keep)
                .take(n)
                .cloned()
                .collect()
        } else {
            s.runs.logs.iter().filter(keep).take(n).cloned().collect()
        })
    }

    async fn prune_logs(&self, keep: u64, older_than: DateTime<Utc>) -> StoreResult<u64> {
        let mut s = self.lock();
        let before = s.runs.logs.len();
        s.runs.logs.retain(|l| l.at >= older_than);
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        let excess = s.runs.logs.len().saturating_sub(keep);
        s.runs.logs.drain(..excess);
        Ok((before - s.runs.logs.len()) as u64)
    }
}
