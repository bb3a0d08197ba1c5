//! The pure domain: what a support case is, which commands it accepts, which events
//! those commands produce, and how events fold back into state.
//!
//! Nothing here performs I/O, reads a clock or draws randomness: `decide` gets the
//! current time and actor in a [`Context`], and the same inputs always give the same
//! events. Every invariant of a case is enforced here and tested without a store.
//!
//! - [`access`]: token and access-log events (who may act, who looked).
//! - [`ids`]: identifiers, timestamps and actors shared by every layer.
//! - [`tier`]: the configurable tier ladder (L0..L3, optionally L4, or fewer).
//! - [`calendar`]: business-hours calendars and their time arithmetic.
//! - [`sla`]: SLA policies, the case's SLA clocks, and which SLA commands are due.
//! - [`case`]: case state and its value types; `Case::apply` is the fold.
//! - [`event`]: the events, their stable type names, schema versions and codec.
//! - [`command`]: the commands and `decide`.
//! - [`presence`]: agents' presence (available, busy, away), on their own streams.
//! - [`standing`]: standing swarms (a team's `DISPATCH` and `BACKLOG`), on their own
//!   streams: who joined and left.
//! - [`swarming`]: intelligent swarming: needed skills, invitations, help requests,
//!   swarm types and roles (state, fold, and its commands' rules).
//! - [`error`]: why a command was refused.
//! - [`sparse`]: a part of a case most cases leave at its default, boxed only once it
//!   differs (what keeps every case the projections hold small).
//! - [`request`]: the canonical, versioned encoding of a request that idempotency
//!   fingerprints hash.

pub mod access;
pub mod calendar;
pub mod case;
pub mod command;
pub mod error;
pub mod event;
pub mod ids;
pub mod presence;
pub mod request;
pub mod sla;
pub mod sparse;
pub mod standing;
pub mod swarming;
pub mod tier;

#[cfg(test)]
mod tests;

pub use calendar::{Calendar, CalendarError, WorkingHours};
pub use case::{Case, Channel, Customer, MessageKind, Priority, Segment, Status, Swarm};
pub use command::{decide, decide_all, Command, Context, OpenCase, RouteCase};
pub use error::DomainError;
pub use event::{CaseEvent, CodecError};
pub use ids::{Actor, AgentId, CaseId, Role, Timestamp};
pub use sla::{
    sla_due, EscalationStep, SlaClock, SlaConfig, SlaError, SlaKind, SlaPolicy, SlaRefusal,
};
pub use tier::{Tier, TierLadder, TierTeams};
