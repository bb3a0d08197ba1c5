//! All integration tests in one binary, so the crate is linked once:
//! - `store`, `projections`: the event store, the catch-up feed and the projections,
//!   against a real sled store in a temporary directory;
//! - `faults`: a full disk and a damaged log page under the sled store;
//! - `api`: the real server on a loopback port, over HTTP and WebSocket;
//! - `browser`: the web console in headless Chromium against the real server.

mod api;
mod browser;
mod common;
mod faults;
mod projections;
mod store;
