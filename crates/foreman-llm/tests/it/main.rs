//! Integration tests of foreman-llm: the adapters against in-process servers speaking the real
//! wire formats, the scripted provider, the metered wrapper against the in-memory store, and
//! routing.

mod anthropic;
mod budget;
mod egress;
mod metered;
mod openai;
mod router;
mod scripted;
mod stack;
mod support;
