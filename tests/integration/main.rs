//! Integration tests of the event store, the catch-up feed and the projections, all
//! against a real sled store in a temporary directory. One test binary, so the crate
//! is linked once.

mod common;
mod projections;
mod store;
