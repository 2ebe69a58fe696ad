//! Task transcripts: what the agent did turn by turn, the red and green test runs and the
//! review verdicts, kept for people (`GET /api/tasks/{id}/transcript`).
//!
//! Records are written by the pipeline through [`TranscriptStore`] as each step finishes,
//! after their text passed the secret scanner (model output and tool output are hostile input).
//! Each record's text is clipped to [`MAX_RECORD_TEXT`] bytes (its full size is kept in
//! [`TranscriptRecord::bytes`]), and a task's transcript holds at most
//! [`MAX_TASK_TRANSCRIPT_BYTES`] of text: past that, one marker record says so and later records
//! are dropped. The rules are the pure functions here, applied by every store.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::ids::{TaskId, TicketId};
use crate::status::{UnknownStatus, string_enum};

/// Most bytes of one record's text; longer text is clipped with a note.
pub const MAX_RECORD_TEXT: usize = 8 * 1024;

/// Most bytes of text a task's transcript holds.
pub const MAX_TASK_TRANSCRIPT_BYTES: u64 = 512 * 1024;

string_enum!(
    /// What a transcript record is.
    RecordKind, "transcript record" {
        /// The instructions an agent run started with.
        Prompt = "prompt",
        /// Model text.
        Assistant = "assistant",
        /// A tool call; the text is its input.
        ToolCall = "tool_call",
        /// A tool's result (command output clipped, with its full size in `bytes`).
        ToolResult = "tool_result",
        /// Something the runner noted (guards, compaction), or the end of a full transcript.
        Note = "note",
        /// A run of the tests: `details.phase` is `red` or `green`, `details.outcome` what
        /// they did.
        TestRun = "test_run",
        /// The linter's run.
        Lint = "lint",
        /// A reviewer's verdict: `details.review`, `details.approved`, `details.issues`.
        Review = "review",
    }
);

/// A record to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTranscriptRecord {
    /// The task.
    pub task_id: TaskId,
    /// Its ticket.
    pub ticket_id: TicketId,
    /// The task's implementation attempt it belongs to.
    pub attempt: i32,
    /// The agent's turn (0 outside an agent run).
    pub turn: i32,
    /// What it is.
    pub kind: RecordKind,
    /// The tool, for calls and results.
    pub tool: Option<String>,
    /// The text (redacted by the writer).
    pub text: String,
    /// A failed tool call, failed tests, a rejection.
    pub is_error: bool,
    /// Structured facts (test outcome, review issues).
    pub details: serde_json::Value,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptRecord {
    /// 1-based position in the task's transcript.
    pub seq: i64,
    /// The task.
    pub task_id: TaskId,
    /// Its ticket.
    pub ticket_id: TicketId,
    /// Implementation attempt.
    pub attempt: i32,
    /// Agent turn (0 outside an agent run).
    pub turn: i32,
    /// What it is.
    pub kind: RecordKind,
    /// The tool.
    pub tool: Option<String>,
    /// The text, at most [`MAX_RECORD_TEXT`] bytes.
    pub text: String,
    /// The size of the text before clipping.
    pub bytes: u64,
    /// Whether the text was clipped.
    pub truncated: bool,
    /// Error flag.
    pub is_error: bool,
    /// Structured facts.
    pub details: serde_json::Value,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// A task's transcript.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Transcript {
    /// Records, oldest first.
    pub records: Vec<TranscriptRecord>,
    /// Whether the size cap was reached (records after the marker were dropped).
    pub full: bool,
}

/// `text` clipped to `max` bytes at a character boundary, and whether it was cut.
#[must_use]
pub fn clip_text(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_owned(), false);
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    (
        format!(
            "{}\n[... {} of {} bytes shown]",
            &text[..cut],
            cut,
            text.len()
        ),
        true,
    )
}

/// The marker stored once when a task's transcript is full.
pub const FULL_MARKER: &str = "transcript full: later records were dropped";

/// Fits new records into a task transcript holding `stored_bytes` of text (`full` once the
/// marker is stored), numbering them from `next_seq` at `now`: each text clipped to
/// [`MAX_RECORD_TEXT`]; a record that would pass [`MAX_TASK_TRANSCRIPT_BYTES`] is replaced by
/// the marker (once) and the rest dropped. Returns the records to store.
#[must_use]
pub fn fit_records(
    stored_bytes: u64,
    full: bool,
    next_seq: i64,
    new: Vec<NewTranscriptRecord>,
    now: DateTime<Utc>,
) -> Vec<TranscriptRecord> {
    let mut out = Vec::new();
    if full {
        return out;
    }
    let mut used = stored_bytes;
    for (seq, r) in (next_seq..).zip(new) {
        let (text, truncated) = clip_text(&r.text, MAX_RECORD_TEXT);
        let len = text.len() as u64;
        let record = |kind, text: String, truncated, details, seq| TranscriptRecord {
            seq,
            task_id: r.task_id.clone(),
            ticket_id: r.ticket_id.clone(),
            attempt: r.attempt,
            turn: r.turn,
            kind,
            tool: if kind == RecordKind::Note {
                None
            } else {
                r.tool.clone()
            },
            bytes: r.text.len() as u64,
            text,
            truncated,
            is_error: r.is_error,
            details,
            created_at: now,
        };
        if used + len > MAX_TASK_TRANSCRIPT_BYTES {
            out.push(record(
                RecordKind::Note,
                FULL_MARKER.to_owned(),
                false,
                serde_json::json!({"transcript_full": true}),
                seq,
            ));
            return out;
        }
        used += len;
        out.push(record(r.kind, text, truncated, r.details.clone(), seq));
    }
    out
}

/// Whether a stored record is the full marker.
#[must_use]
pub fn is_full_marker(r: &TranscriptRecord) -> bool {
    r.kind == RecordKind::Note && r.details.get("transcript_full") == Some(&true.into())
}

/// Task transcripts.
#[async_trait]
pub trait TranscriptStore: Send + Sync {
    /// Appends records to their tasks' transcripts (one transaction per call), applying
    /// [`fit_records`]; returns what was stored. Unknown tasks are
    /// [`crate::StoreError::NotFound`].
    async fn append_transcript(
        &self,
        records: Vec<NewTranscriptRecord>,
    ) -> StoreResult<Vec<TranscriptRecord>>;

    /// A task's transcript, oldest first. [`crate::StoreError::NotFound`] for an unknown task.
    async fn transcript(&self, task_id: &TaskId) -> StoreResult<Transcript>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(text: &str) -> NewTranscriptRecord {
        NewTranscriptRecord {
            task_id: TaskId::from("t"),
            ticket_id: TicketId::from("k"),
            attempt: 1,
            turn: 1,
            kind: RecordKind::ToolResult,
            tool: Some("run_command".into()),
            text: text.to_owned(),
            is_error: false,
            details: serde_json::Value::Null,
        }
    }

    #[test]
    fn long_text_is_clipped_with_its_size_kept() {
        let long = "é".repeat(MAX_RECORD_TEXT); // two bytes each
        let out = fit_records(0, false, 1, vec![new(&long)], crate::now());
        assert_eq!(out.len(), 1);
        assert!(out[0].truncated);
        assert_eq!(out[0].bytes, long.len() as u64);
        assert!(out[0].text.len() < MAX_RECORD_TEXT + 64);
        assert!(
            out[0]
                .text
                .ends_with(&format!("of {} bytes shown]", long.len()))
        );
    }

    #[test]
    fn a_full_transcript_gets_one_marker_then_nothing() {
        let out = fit_records(
            MAX_TASK_TRANSCRIPT_BYTES - 3,
            false,
            7,
            vec![new("ab"), new("cd"), new("ef")],
            crate::now(),
        );
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].seq, out[0].text.as_str()), (7, "ab"));
        assert!(is_full_marker(&out[1]));
        assert_eq!(out[1].seq, 8);
        assert!(fit_records(0, true, 9, vec![new("x")], crate::now()).is_empty());
    }
}
