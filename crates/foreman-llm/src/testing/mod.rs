//! In-process fake Anthropic and OpenAI servers for tests (the `testing` feature).
//!
//! Each fake listens on `127.0.0.1:0`, validates requests the way the real API does (headers,
//! required fields, message alternation, tool-use pairing, ...) and rejects malformed ones
//! with the real error shape and status. Valid requests are answered from a queue of
//! [`FakeReply`] values (a plain "ok" message when the queue is empty), as JSON or as an SSE
//! stream when the request asked for one. Usage counts are derived from the request size, and
//! prompt caching is simulated: a cacheable prefix is written on first sight and read after.

mod anthropic;
mod openai;
mod server;

pub use anthropic::FakeAnthropic;
pub use openai::FakeOpenAi;
pub use server::{FakeReply, FakeServer, ReceivedRequest};
