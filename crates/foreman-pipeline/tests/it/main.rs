//! Integration tests of the pipeline crate.

mod instructions;
mod outbox;
