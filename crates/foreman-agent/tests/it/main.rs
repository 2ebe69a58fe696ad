//! Integration tests of foreman-agent (one binary, one module per area).

mod builtin;
mod escape;
mod external;
mod external_metering;
mod mcp;
mod prompts;
mod sandbox;
mod secrets;
mod support;
mod tools;
mod wire;
