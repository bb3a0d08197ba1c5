//! All integration tests in one binary, so the crate is linked once:
//! - `store`, `projections`: the event store, the catch-up feed and the projections,
//!   against a real sled store in a temporary directory;
//! - `api`: the real server on a loopback port, over HTTP and WebSocket.

mod api;
mod common;
mod projections;
mod store;
