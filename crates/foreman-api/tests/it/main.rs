//! Integration tests of the HTTP API: a real server on a loopback port per test.

mod audit;
mod auth;
mod claude_code;
mod errors;
mod live;
mod mcp;
mod metrics;
mod openapi;
mod ops;
mod panics;
mod routes;
mod rules;
mod search;
mod skills;
mod snapshots;
mod sql;
mod submit_load;
mod subscriptions;
mod support;
mod tls;
mod usage_ingest;
mod validation;
mod webhooks;
