//! The command service: the one path by which anything is written.
//!
//! For each command: load the case (its projected state, topped up from its stream, so
//! it is always current), `decide`, append the events with the version the decision
//! was based on, then wait until the projections show them (read-your-writes).
//!
//! Concurrency: the commands on one case take turns ([`turns`]): each holds its case's
//! turn from loading the case until its events are appended, so it is decided against
//! everything written before it and never loses a race to a command of this process.
//! A client that sends `expected_version` gets `VersionConflict` when the case moved
//! on. One that does not cannot fail because others wrote first; should a writer
//! outside this process (an import) get in between, the command is decided again
//! against the new state, so it can never overwrite a change it did not see.
//! Idempotency keys make retries of a whole request safe: the first
//! result is returned and nothing is written twice. Keys are scoped to the principal
//! (role and id) before they reach the store, so replaying someone else's key finds
//! nothing and reveals nothing; the API also hides a replayed result the caller may
//! no longer see.
//!
//! Files, one concern each (all add methods to [`Desk`]):
//! - this file: [`Desk`] itself (construction, accessors, who a user is for the
//!   policy), [`AppError`] and its stable codes, [`WriteOptions`] and [`Written`].
//! - [`cases`]: opening and routing a new case, running commands on a case (turns,
//!   authorization, decide, append, retries), idempotency, loading a case and its history.
//! - [`capacity`]: agents' capacity, claimed on their own streams so that nodes
//!   sharing a log cannot over-assign them.
//! - [`turns`]: per-case turns, so the commands on one case are decided one after another.
//! - [`configuration`]: loading and changing the configuration (kept current from
//!   the live feed, so every node sharing the log has it), checking commands
//!   against it, past rule sets.
//! - [`tokens`]: issuing, revoking and loading bearer tokens (kept current from the
//!   live feed too); the auditors' access log.
//! - [`simulation`]: replaying past cases through a proposed rule set.
//! - [`past`]: a case (or its full view) as it was at an earlier version.
//! - [`messages`]: a live case's messages, read from its stream when asked.
//! - [`reports`]: the log folded up to the end of a period for [`crate::report`].
//! - [`swarming`]: the expert finder's inputs, expiring invitations, auto-replacement.
//! - [`presence`]: agents' presence on their own streams (set by them, or by the
//!   server when their connections go and come back).
//! - [`standing`]: agents joining and leaving a team's standing swarm, on its own stream.
//! - [`contributions`]: an agent's contributions over a period, folded from the log.
//! - [`cadence`]: severity-1 swarms' status-update reminders, on the scheduler's sweep.
//! - [`travel`]: the projections as they were at a past position or moment; what
//!   changed in a case between two versions.
//! - [`record`]: events in the form the store takes and gives back (append requests, decoding).
//! - [`erasure`]: forgetting a customer (crypto-shredding: their data key destroyed).
//! - [`search`]: building the case text index off the projections' lock, when a text
//!   search first needs it.

mod cadence;
mod capacity;
mod cases;
mod configuration;
mod contributions;
mod erasure;
mod messages;
mod past;
mod presence;
mod record;
mod reports;
mod search;
mod simulation;
mod standing;
mod swarming;
mod tokens;
pub mod travel;
mod turns;

pub use cadence::DEFAULT_STATUS_UPDATE_SECS;
pub use cases::MAX_IDEMPOTENCY_KEY;
pub use record::{decode, Recordable};
pub use reports::{fold_log, Visible};

use std::sync::Arc;
use thiserror::Error;

use crate::auth::{Principal, TokenRegistry};
use crate::clock::Clock;
use crate::code::Code;
use crate::config::{Config, ConfigError};
use crate::domain::{Actor, AgentId, Case, DomainError, Role, TierLadder};
use crate::policy;
use crate::projection::runner::ProjectionError;
use crate::projection::ProjectionRunner;
use crate::shred::{ShredError, Vault};
use crate::store::{AppendOutcome, EventStore, StoreError};
use ulid::Ulid;

/// How often a command without `expected_version` is re-decided after losing a race
/// (only to a writer outside this process: this one's commands take turns per case).
const MAX_RETRIES: usize = 8;

#[derive(Debug, Clone, Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Config(ConfigError),
    #[error("case is at version {current}, expected {expected}")]
    VersionConflict { expected: u64, current: u64 },
    #[error("idempotency key `{0}` was already used for a different request")]
    IdempotencyKeyReused(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("storage: {0}")]
    Store(StoreError),
    #[error("projections: {0}")]
    Projection(#[from] ProjectionError),
    #[error("unreadable event: {0}")]
    Codec(String),
    /// A failure of the server's own (no randomness, a broken invariant): never the
    /// client's fault, never shown to it.
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    /// The stable API code.
    pub fn code(&self) -> Code {
        match self {
            AppError::Domain(d) => d.code(),
            AppError::Config(c) => c.code(),
            AppError::VersionConflict { .. } => Code::VersionConflict,
            AppError::IdempotencyKeyReused(_) | AppError::Invalid(_) => Code::BadUserInput,
            AppError::NotFound(_) => Code::NotFound,
            AppError::Forbidden(_) => Code::Forbidden,
            AppError::Store(StoreError::Unavailable(_)) => Code::Unavailable,
            AppError::Store(StoreError::Damaged { .. }) => Code::Damaged,
            AppError::Store(_)
            | AppError::Projection(_)
            | AppError::Codec(_)
            | AppError::Internal(_) => Code::Internal,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict {
                expected, current, ..
            } => AppError::VersionConflict { expected, current },
            StoreError::IdempotencyKeyReused(k) => AppError::IdempotencyKeyReused(k),
            StoreError::InvalidImport(m) => AppError::Invalid(m),
            other => AppError::Store(other),
        }
    }
}

impl From<ConfigError> for AppError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::VersionConflict { expected, current } => {
                AppError::VersionConflict { expected, current }
            }
            other => AppError::Config(other),
        }
    }
}

impl From<ShredError> for AppError {
    fn from(e: ShredError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<crate::domain::CodecError> for AppError {
    fn from(e: crate::domain::CodecError) -> Self {
        AppError::Codec(e.to_string())
    }
}

/// Per-request options of a write.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// Refuse the write unless the case is at this version.
    pub expected_version: Option<u64>,
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<Ulid>,
}

/// The result of a successful write: the case after it, and where its events landed.
#[derive(Clone, Debug)]
pub struct Written {
    pub case: Case,
    pub outcome: AppendOutcome,
}

/// The command service of the help desk (named `Desk`, not `App`, so it is never
/// confused with actix-web's `App`): every write goes through it.
pub struct Desk {
    store: Arc<dyn EventStore>,
    projections: ProjectionRunner,
    clock: Arc<dyn Clock>,
    /// The configuration in force (tiers, teams, agents, rules), folded from the
    /// config stream and kept current from the live feed.
    config: Arc<configuration::InForce>,
    tokens: Arc<TokenRegistry>,
    /// Held from reading an agent's load until an assignment to them is projected,
    /// so concurrent assignments cannot exceed the agent's capacity.
    assigning: tokio::sync::Mutex<()>,
    /// Held by a command from loading its case until its events are appended, so the
    /// commands on one case are decided one after another (taken after `assigning`).
    turns: turns::CaseTurns,
    /// Seconds a `SEVERITY_1` swarm may go without a public reply before the
    /// scheduler records `StatusUpdateDue` (see [`cadence`]).
    status_update_secs: std::sync::atomic::AtomicU32,
    /// Seals customers' personal fields before they reach the log and opens them when
    /// read (see [`crate::shred`]); `None` stores them as given (tests in memory).
    vault: Option<Arc<Vault>>,
}

impl Desk {
    pub fn new(
        store: Arc<dyn EventStore>,
        projections: ProjectionRunner,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Self {
        let config = Arc::new(configuration::InForce::new(config));
        let tokens: Arc<TokenRegistry> = Arc::default();
        // Every node's token and configuration changes, as the live feed brings them.
        projections.observe(tokens::follow_tokens(tokens.clone()));
        projections.observe(configuration::follow_config(config.clone()));
        Desk {
            store,
            projections,
            clock,
            config,
            tokens,
            assigning: tokio::sync::Mutex::new(()),
            turns: turns::CaseTurns::default(),
            status_update_secs: std::sync::atomic::AtomicU32::new(DEFAULT_STATUS_UPDATE_SECS),
            vault: None,
        }
    }

    /// The desk sealing customers' personal fields with `vault`.
    pub fn with_vault(mut self, vault: Arc<Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The vault that seals and opens personal fields, if any.
    pub fn vault(&self) -> Option<&Arc<Vault>> {
        self.vault.as_ref()
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    pub fn projections(&self) -> &ProjectionRunner {
        &self.projections
    }

    /// Hands over the projection runner, e.g. to stop it at shutdown.
    pub fn into_projections(self) -> ProjectionRunner {
        self.projections
    }

    /// The accepted bearer tokens.
    pub fn tokens(&self) -> &Arc<TokenRegistry> {
        &self.tokens
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn tiers(&self) -> TierLadder {
        self.config().tiers.clone()
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config.current()
    }

    /// Who `user` is for the policy: the role of their most powerful active token
    /// (an agent when they have none), working the tiers the agent directory gives
    /// them, else their tokens' tiers.
    pub fn principal_of(&self, user: &AgentId) -> Principal {
        let mut p = self
            .tokens
            .grant_of(user, self.clock.now())
            .unwrap_or_else(|| {
                Principal::internal(Actor {
                    id: user.clone(),
                    role: Role::Agent,
                })
            });
        if let Some(tiers) = policy::directory_tiers(&self.config(), &p) {
            p.tiers = tiers;
        }
        p
    }
}
