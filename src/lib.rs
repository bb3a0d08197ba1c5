//! swarmdesk: event-sourced customer-support case management.
//!
//! # Layout
//! - [`domain`]: pure case model: commands, events, `decide` and the fold. No I/O.
//! - [`store`]: the event log behind the [`store::EventStore`] trait; sled is the default backend.
//! - [`projection`]: read models folded from the log: case views, tier queues, swarm rooms, workload.
//! - [`app`]: the command service: load, decide, append, wait for projections; the
//!   commands on one case take turns (`app::turns`).
//! - [`routing`]: pure ordered routing rules: the first matching rule routes a new case.
//! - [`config`]: the event-sourced configuration (tiers, calendars, teams, agents, rules, SLA policies, customers) and its seed.
//! - [`scheduler`]: the SLA scheduler, appending breaches and escalations as they fall due.
//! - [`events`]: every event family's JSON form, for exports and the API.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod client;
pub mod clock;
pub mod code;
pub mod config;
pub mod demo;
pub mod domain;
pub mod events;
pub mod http;
pub mod metrics;
pub mod policy;
pub mod projection;
pub mod routing;
pub mod scheduler;
pub mod server;
pub mod store;
