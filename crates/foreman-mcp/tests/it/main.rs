//! The MCP client against real MCP server processes (the crate's own stdio test server) and a
//! Streamable HTTP server speaking the protocol, and the built-in agent calling their tools.

mod agent;
mod http;
mod sandbox;
mod stdio;
mod support;
