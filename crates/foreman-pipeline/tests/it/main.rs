//! Integration tests of the pipeline crate.

mod cancel;
mod hooks;
mod instructions;
mod limits;
mod notify;
mod outbox;
mod retrospective;
mod rig;
mod rules;
