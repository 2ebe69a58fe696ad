//! End-to-end tests: the real binaries, a fresh data directory each.

mod cli;
mod crash;
mod external_runner;
mod pipeline;
mod rig;
mod server;
mod support;
