//! Integration tests of the event hub over the in-memory store.

mod follow;
mod publishing;
