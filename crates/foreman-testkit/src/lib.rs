//! Test support for Foreman.
//!
//! This crate owns the test doubles and shared test suites the other crates use:
//! - [`MemoryStore`]: an in-memory implementation of every storage port with the same semantics
//!   as the SQL store (a real implementation, not a mock);
//! - [`contract`]: one contract test suite for the storage ports, run against every backend
//!   through [`store_contract_tests!`];
//! - [`pg`]: a per-test PostgreSQL schema, created on demand and dropped afterwards.
//!
//! It is a dev-dependency only: no production crate may depend on it. It knows the port traits
//! of `foreman-domain` but none of the adapters; backends plug in through a factory.

pub mod contract;
pub mod corpus;
pub mod memory;
pub mod pg;

pub use memory::MemoryStore;
