//! Foreman's language-model providers and everything that happens around a call.
//!
//! This crate owns the adapters behind the [`foreman_domain::llm::LlmProvider`] port:
//! [`AnthropicProvider`] (Messages API), [`OpenAiProvider`] (Chat Completions, also serving
//! OpenRouter and local OpenAI-compatible servers) and [`ScriptedProvider`] (replays a script
//! file, for demos and end-to-end tests). Around any provider, [`MeteredProvider`] redacts
//! secrets from every outgoing request ([`redact_request`], with `foreman-secrets`' scanner)
//! and adds budget
//! admission through the `CostLedger` port, pricing ([`PricingTable`]), retries with backoff
//! ([`RetryPolicy`]), per-provider rate limits ([`RateLimiter`]), a circuit breaker
//! ([`CircuitBreaker`]), `llm_calls` records, events, metrics and audit bodies ([`AuditSink`]).
//! [`LlmRouter`] sends each pipeline role to its `provider:model` with fallbacks, and
//! [`build_stack`] assembles all of it from configuration.
//!
//! Cargo features (all on by default but `testing`): `anthropic` brings in
//! [`AnthropicProvider`] and `openai` brings in [`OpenAiProvider`], each with the HTTP client;
//! the scripted provider and everything around a call are always there, as are both adapters'
//! plain configuration types, so configuration parses the same in every build. With a
//! provider's feature off, [`build_stack`] refuses a model table that routes to it
//! ([`StackError::NotCompiled`]). `testing` adds the fake servers of the `testing` module for other
//! crates' tests.
//!
//! It must not know about the pipeline, the HTTP API, or how storage is implemented: it talks
//! to storage only through the domain ports and is configured with plain structs that the
//! config crate embeds.

pub mod anthropic;
pub mod audit;
pub mod breaker;
mod error;
#[cfg(any(feature = "anthropic", feature = "openai"))]
pub mod http;
pub mod metered;
pub mod metrics;
pub mod openai;
pub mod pricing;
pub mod ratelimit;
pub mod retry;
pub mod router;
pub mod scripted;
pub mod secret;
pub mod setup;
#[cfg(any(feature = "anthropic", feature = "openai"))]
mod sse;
#[cfg(feature = "testing")]
pub mod testing;
mod usage_pricer;
mod wire;

pub use anthropic::AnthropicConfig;
#[cfg(feature = "anthropic")]
pub use anthropic::AnthropicProvider;
pub use audit::{AuditRecord, AuditSink, MemoryAuditSink, Redactor};
pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use error::SetupError;
pub use metered::{EgressCounts, MeteredProvider, MeteredProviderBuilder, redact_request};
#[cfg(feature = "openai")]
pub use openai::OpenAiProvider;
pub use openai::{MaxTokensField, OpenAiConfig};
pub use pricing::{ModelPrice, PRICING_VERSION, PricingConfig, PricingTable};
pub use ratelimit::{RateLimitConfig, RateLimiter, RateLimits};
pub use retry::RetryPolicy;
pub use router::{LlmRouter, ModelRouter, ModelSpec, ModelSpecError};
pub use scripted::{Script, ScriptError, ScriptedProvider};
pub use secret::Secret;
pub use setup::{LlmConfig, LlmStack, StackError, StackInputs, build_stack};
