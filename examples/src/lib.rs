//! Runnable examples of embedding Foreman's crates in another program; the code lives in
//! `examples/` (`cargo run -p foreman-examples --example embed`). This library is empty: it
//! exists because a package needs a target besides its examples.
//!
//! - `embed`: one ticket from a tracker written in the program itself, through the pipeline
//!   (scripted language model, built-in coding agent, real git, in-memory store), to a merged
//!   pull request on a local bare repository.
