//! Foreman's domain model.
//!
//! This crate owns the vocabulary every other crate speaks: tickets, tasks, events, LLM calls,
//! API tokens, money and budgets, file reservations, the ticket and task status machines, and
//! the storage port traits (`TicketStore`, `EventLog`, `CostLedger`, `FileReservationStore`, ...,
//! in [`storage`]) that adapters implement, and the rules every store applies (fences,
//! status guards, requeues, budget windows, LLM call records) as pure functions.
//!
//! It must not know about I/O: no async runtime, no database, no HTTP. A tidy test in
//! `xtask` fails the build if tokio, sea-orm, sqlx, axum, hyper or reqwest ever enter its
//! dependency tree.

pub mod agent;
pub mod audit;
pub mod budget;
pub mod budget_window;
pub mod channel;
pub mod checkpoint;
pub mod clock;
pub mod commit_policy;
pub mod cost_report;
pub mod error;
pub mod event;
pub mod exec;
pub mod fence;
pub mod file_reservation;
pub mod git;
pub mod ids;
pub mod llm;
pub mod llm_call;
pub mod mcp;
pub mod money;
pub mod notification;
pub mod pipeline;
pub mod project;
pub mod prompt;
pub mod remote;
pub mod retrospective;
pub mod rules;
pub mod runs;
pub mod search;
pub mod settings;
pub mod skill;
pub mod status;
pub mod storage;
pub mod subscription;
pub mod task;
pub mod ticket;
pub mod ticket_submission;
pub mod token;
pub mod tracker;
pub mod transcript;
pub mod transition;
pub mod usage_ingest;
pub mod usage_source;
pub mod webhook;
mod wire;
pub mod workers;

pub use budget::{
    BudgetExceeded, BudgetLimits, BudgetScope, DailySpend, Reservation, ReservationRequest,
};
pub use checkpoint::{
    BranchRewind, Checkpoint, CheckpointStore, DiffSource, NewCheckpoint, Rollback,
};
pub use clock::{micros_to_time, now, time_to_micros};
pub use error::{StoreError, StoreResult};
pub use event::{Event, EventFilter, EventType, NewEvent, Severity};
pub use file_reservation::{
    FileReservation, FileReservationOutcome, FileReservationStore, normalise_path,
};
pub use ids::{EventId, LlmCallId, ReservationId, TaskId, TicketId, TokenId};
pub use llm_call::{LlmCall, LlmCallStatus, NewLlmCall};
pub use money::Micros;
pub use project::{DEFAULT_PROJECT, Project};
pub use search::{SearchHit, SearchQuery, SnippetPart, TicketSearch};
pub use status::{TaskStatus, TicketStatus, UnknownStatus};
pub use storage::{
    CostLedger, DAEMON_STATE_KEY, DaemonState, EventLog, Outbox, OutboxEntry, SettingsStore, Store,
    TaskStore, TicketStore, TokenStore, UsageKey, UsageRow, daemon_state,
};
pub use task::{
    NewTask, Task, TaskCheckpoint, TaskContextStats, TaskFeedback, TaskPatch, TaskPhase,
};
pub use ticket::{
    Claim, ClaimRequest, FencingToken, MAX_PAGE_LIMIT, NewTicket, Page, Ticket, TicketCursor,
    TicketFilter, TicketPatch, TicketSort,
};
pub use ticket_submission::{
    PriorityName, QueueSnapshot, Submission, SubmissionStore, TicketOptions,
};
pub use token::{ApiToken, NewApiToken, Scope, TokenSecret, hash_token, hashes_match};
pub use transcript::{
    NewTranscriptRecord, RecordKind, Transcript, TranscriptRecord, TranscriptStore,
};
pub use transition::{TaskRequeue, TicketRequeue};
pub use workers::{SlotSnapshot, WorkerSlots};
