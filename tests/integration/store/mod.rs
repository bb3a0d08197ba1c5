//! The sled event store: optimistic concurrency, idempotency, gapless positions,
//! atomic appends, durability across reopen and SIGKILL, imports, the catch-up feed,
//! and the hash chain with `verify`; `conformance`: the `EventStore` contract run
//! against both backends (sled and PostgreSQL); `postgres`: migrations.
//!
//! One file per concern, all in the one integration test binary.

mod chain;
mod concurrency;
pub mod conformance;
mod durability;
mod idempotency;
mod import;
mod positions;
mod postgres;
mod subscriptions;
