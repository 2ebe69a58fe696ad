//! End-to-end tests: the real binaries, a fresh data directory each.

mod cli;
mod server;
mod support;
