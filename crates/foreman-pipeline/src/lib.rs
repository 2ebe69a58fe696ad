//! The pipeline engine: takes a claimed ticket through clarification, planning, test-first
//! implementation of its tasks, reviews, integration and the pull request, to merge.
//!
//! It knows the port traits of `foreman-domain` only — never an adapter crate (checked by
//! `cargo xtask tidy`). The binaries build [`Ports`] from adapters and run a [`Daemon`].

pub mod chat;
mod clarification;
pub mod classify;
pub mod daemon;
pub mod dag;
pub mod engine;
pub mod error;
pub mod hooks;
pub mod intake;
pub mod notify;
pub mod outbox;
pub mod plan;
pub mod pr_body;
pub mod reservations;
pub mod retrospective;
pub mod settings;
pub mod skills;
pub mod slots;

pub use daemon::{CLAIMABLE, Daemon, DaemonWaker, WorkGate, wakes_daemon};
pub use engine::Engine;
pub use error::{PipelineError, PipelineResult};
pub use settings::{PipelineSettings, Ports, ProjectRuntime, detect_test_command};
