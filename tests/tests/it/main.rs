//! End-to-end tests: the real binaries, a fresh data directory each.

mod cli;
mod cli_ops;
mod cli_skills;
mod cli_webhooks;
mod crash;
mod escape_e2e;
mod external_runner;
mod faults;
mod mcp_client;
mod metrics_contract;
mod pipeline;
mod rig;
mod secrets_e2e;
mod server;
mod support;
mod webhook_crash;
