//! Integration tests of the HTTP API: a real server on a loopback port per test.

mod auth;
mod claude_code;
mod errors;
mod live;
mod metrics;
mod openapi;
mod ops;
mod panics;
mod routes;
mod search;
mod snapshots;
mod sql;
mod submit_load;
mod support;
mod tls;
mod validation;
mod webhooks;
