//! A task's transcript as the steps happen: each agent run's turns (its tool calls with their
//! inputs, the results, the commands it ran with their output sizes), the red and green test
//! runs, the linter and the review verdicts, appended through the `TranscriptStore` port.
//!
//! Everything in a record has come from a model or from a command the model chose, so it is
//! hostile input: its text and details pass the secret scanner
//! (`foreman_secrets::redact_default`) here, whatever the runner already redacted, before they
//! are stored and served. Recording is best effort: a failed write is logged and the task goes
//! on (the transcript is for people; the work and its checkpoint are what count).

use foreman_domain::Task;
use foreman_domain::agent::{AgentOutcome, TranscriptKind};
use foreman_domain::transcript::{NewTranscriptRecord, RecordKind};
use serde_json::{Value, json};

use super::context::Ctx;

/// Most bytes of a test or lint run's output kept in the transcript (its tail).
pub(super) const MAX_TRANSCRIPT_OUTPUT: usize = 6 * 1024;

/// `text` with its secrets redacted.
fn redacted(text: &str) -> String {
    foreman_secrets::redact_default(text).into_owned()
}

/// `details` with the secrets of every string in it redacted.
fn redacted_value(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(redacted(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(redacted_value).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, redacted_value(v)))
                .collect(),
        ),
        other => other,
    }
}

/// One record of `task`'s current attempt, redacted.
pub(super) fn record(
    task: &Task,
    turn: i32,
    kind: RecordKind,
    tool: Option<&str>,
    text: &str,
    is_error: bool,
    details: Value,
) -> NewTranscriptRecord {
    NewTranscriptRecord {
        task_id: task.id.clone(),
        ticket_id: task.ticket_id.clone(),
        attempt: task.implementation_attempts,
        turn,
        kind,
        tool: tool.map(str::to_owned),
        text: redacted(text),
        is_error,
        details: redacted_value(details),
    }
}

/// The records of an agent run: its transcript, then the commands it ran (with the size of
/// their output before it was clipped for the model).
pub(super) fn agent_records(
    task: &Task,
    phase: &str,
    outcome: &AgentOutcome,
) -> Vec<NewTranscriptRecord> {
    let mut out: Vec<NewTranscriptRecord> = outcome
        .transcript
        .iter()
        .map(|e| {
            let kind = match e.kind {
                TranscriptKind::Prompt => RecordKind::Prompt,
                TranscriptKind::Assistant => RecordKind::Assistant,
                TranscriptKind::ToolCall => RecordKind::ToolCall,
                TranscriptKind::ToolResult => RecordKind::ToolResult,
                TranscriptKind::Note => RecordKind::Note,
            };
            record(
                task,
                i32::try_from(e.turn).unwrap_or(i32::MAX),
                kind,
                e.tool.as_deref(),
                &e.text,
                e.is_error,
                json!({"phase": phase, "runner": outcome.runner}),
            )
        })
        .collect();
    let commands: Vec<Value> = outcome
        .commands
        .iter()
        .map(|c| {
            json!({
                "command": c.command,
                "allowed": c.allowed,
                "exit_code": c.exit_code,
                "timed_out": c.timed_out,
                "duration_ms": c.duration_ms,
                "output_bytes": c.output_bytes,
                "truncated": c.truncated,
            })
        })
        .collect();
    out.push(record(
        task,
        i32::try_from(outcome.turns).unwrap_or(i32::MAX),
        RecordKind::Note,
        None,
        &format!(
            "{} run ({phase}) stopped: {} after {} turn(s), {} command(s), {} file(s) changed",
            outcome.runner,
            outcome.stop_reason,
            outcome.turns,
            outcome.commands.len(),
            outcome.files_changed.len()
        ),
        !outcome.is_completed(),
        json!({
            "phase": phase,
            "runner": outcome.runner,
            "stop_reason": outcome.stop_reason.to_string(),
            "error": outcome.error,
            "commands": commands,
            "files_changed": outcome.files_changed.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
        }),
    ));
    out
}

impl Ctx {
    /// Appends records to their task's transcript (best effort).
    pub(super) async fn transcribe(&self, records: Vec<NewTranscriptRecord>) {
        if records.is_empty() {
            return;
        }
        if let Err(e) = self.store().append_transcript(records).await {
            tracing::warn!(error = %e, code = e.code(), "cannot record a task transcript");
        }
    }
}

#[cfg(test)]
mod tests {
    use foreman_domain::agent::{AgentStopReason, TranscriptEntry};
    use foreman_domain::{NewTask, TicketId};

    use super::*;

    #[test]
    fn secrets_in_tool_output_and_details_are_redacted() {
        let secret = "AKIAZZZZZZZZZZZZZZZ7";
        let task = Task::from_new(
            TicketId::new(),
            NewTask {
                sequence: 1,
                ..NewTask::default()
            },
            foreman_domain::now(),
        );
        let mut outcome = AgentOutcome::empty("builtin", AgentStopReason::Completed);
        outcome.transcript.push(TranscriptEntry {
            turn: 1,
            kind: TranscriptKind::ToolResult,
            tool: Some("run_command".into()),
            text: format!("aws_access_key_id = {secret}\n"),
            is_error: false,
        });
        // control: the outcome carries the secret as the hostile output put it there
        assert!(serde_json::to_string(&outcome).unwrap().contains(secret));
        let records = agent_records(&task, "implement", &outcome);
        let stored = serde_json::to_string(&records).unwrap();
        assert!(!stored.contains(secret), "{stored}");
        assert!(stored.contains("[REDACTED:"), "{stored}");
        let nested = record(
            &task,
            0,
            RecordKind::Review,
            None,
            "issues",
            true,
            json!({"issues": [format!("key {secret} is committed")]}),
        );
        assert!(!nested.details.to_string().contains(secret));
    }
}
