//! swarmdesk: event-sourced customer-support case management.
//!
//! # Layout
//! Pure core (no I/O, no clock, no randomness):
//! - [`domain`]: the case model: commands, events, `decide` and the fold; the
//!   canonical request encoding idempotency keys are fingerprinted by.
//! - [`routing`]: ordered routing rules: the first matching rule routes a new case.
//! - [`config`]: the event-sourced configuration (tiers, calendars, teams, agents,
//!   rules, SLA policies, customers, the skill map, the rapid-responder rotation) and
//!   the seed file's format.
//! - [`policy`]: who may see and do what, decided in this one place.
//! - [`swarming`]: the expert finder (who could help on a case).
//! - [`code`]: the one table of error codes.
//!
//! Storage and read models:
//! - [`store`]: the event log behind the [`store::EventStore`] trait; sled
//!   (`store::sled_store`) is the default backend, `store::postgres` the one several
//!   nodes share; `store::chain` is the hash chain over the log and its verification.
//! - [`projection`]: read models folded from the log: case views, tier queues, swarm
//!   rooms, workload, standing swarms with their dispatch and backlog indexes; each
//!   case's report facts and the timeline time travel reads; and what each applied
//!   case event changed in them.
//! - [`events`]: every event family's JSON form, for exports and the API.
//! - [`archive`]: exports of the log (all, a case, a customer, a range) with each
//!   record's hash and previous hash, and imports that verify them first.
//! - [`report`]: leads' reports for any past period (tier shares, escalation vs
//!   swarming, SLAs, recurring problems, load), folded from the log (the scan) or read
//!   from the facts projection (the server).
//!
//! Services:
//! - [`app`]: the command service: load, authorize, decide, append, wait for
//!   projections; the commands on one case take turns (`app::turns`).
//! - [`auth`]: bearer tokens and the [`auth::Principal`] they authenticate.
//! - [`scheduler`]: the SLA scheduler, appending breaches and escalations as they
//!   fall due.
//! - [`presence`]: agents' open connections; marks an agent away when all are gone
//!   for a while, and back when they return.
//! - [`clock`]: the system clock, and a manual one for tests.
//! - [`demo`]: the realistic sample data of `serve --demo`.
//! - [`metrics`]: Prometheus metrics; [`logging`]: text or JSON log lines.
//! - [`allocator`]: the process's memory allocator (mimalloc), its settings, and the memory a
//!   start hands back.
//! - [`shred`]: crypto-shredding (the right to erasure): per-customer data keys wrapped
//!   by a master key, outside the log; customers' personal fields sealed with them
//!   before they are appended and opened where read; forgetting destroys the key.
//!
//! Edges:
//! - [`api`]: the GraphQL schema (queries, mutations, subscriptions), its limits
//!   and the conversion of errors to codes; resolvers reach the service only
//!   through `api::guard`.
//! - [`http`]: actix-web serving the schema over HTTP and WebSocket, `/healthz`,
//!   `/loghead`, `/metrics`, CORS, and the web console and GraphiQL embedded from `console/`.
//! - [`server`]: starts and stops everything `serve` runs.
//! - [`cli`]: the command line; [`client`]: the commands that work through a running
//!   server's API (`--url`, `--token`).

pub mod allocator;
pub mod api;
pub mod app;
pub mod archive;
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
pub mod logging;
pub mod metrics;
pub mod policy;
pub mod presence;
pub mod projection;
pub mod report;
pub mod routing;
pub mod scheduler;
pub mod server;
pub mod shred;
pub mod store;
pub mod swarming;
