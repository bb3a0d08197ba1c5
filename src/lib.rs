//! swarmdesk: event-sourced customer-support case management.
//!
//! # Layout
//! - [`domain`]: pure case model: commands, events, `decide` and the fold. No I/O.
//! - [`store`]: the event log behind the [`store::EventStore`] trait; sled is the default backend.
//! - [`projection`]: read models folded from the log: case views, tier queues, swarm rooms, workload.
//! - [`app`]: the command service: load, decide, append, wait for projections.

pub mod app;
pub mod clock;
pub mod domain;
pub mod projection;
pub mod store;
