//! Integration tests of the pipeline crate.

mod cancel;
mod instructions;
mod limits;
mod notify;
mod outbox;
mod retrospective;
mod rig;
