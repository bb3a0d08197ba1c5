//! The sled event store: optimistic concurrency, idempotency, gapless positions,
//! atomic appends, durability across reopen and SIGKILL, imports, and the catch-up
//! feed.
//!
//! One file per concern, all in the one integration test binary.

mod concurrency;
mod durability;
mod idempotency;
mod import;
mod positions;
mod subscriptions;
