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

mod turns;

use std::sync::{Arc, RwLock};
use thiserror::Error;
use tracing::{info_span, Instrument};
use ulid::Ulid;

use crate::auth::{generate_token, hash_token, hex, token_id, Principal, TokenRegistry};
use crate::clock::Clock;
use crate::code::Code;
use crate::config::{self, Config, ConfigCommand, ConfigError, ConfigEvent, ConfigSeed};
use crate::domain::access::{
    AccessEvent, CaseViewed, CasesViewed, TokenIssued, TokenRevoked, ACCESS_LOG_STREAM,
    TOKENS_STREAM,
};
use crate::domain::request;
use crate::domain::{
    decide_all, Actor, AgentId, Case, CaseEvent, CaseId, Command, Context, DomainError, OpenCase,
    Role, TierLadder, Timestamp,
};
use crate::policy;
use crate::projection::runner::ProjectionError;
use crate::projection::ProjectionRunner;
use crate::routing::simulate::{simulate, Placement, Simulation};
use crate::routing::RuleSet;
use crate::store::{
    fingerprint, AppendOutcome, AppendRequest, EventStore, ExpectedVersion, Metadata, NewEvent,
    RecordedEvent, StoreError,
};

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

/// Decodes one recorded case event.
pub fn decode(record: &RecordedEvent) -> Result<CaseEvent, AppError> {
    Ok(CaseEvent::decode(
        &record.event_type,
        record.schema_version,
        &record.payload,
    )?)
}

/// Any event family the log holds, in the form the store takes.
trait Recordable {
    fn record(&self) -> NewEvent;
}

macro_rules! recordable {
    ($($family:ty),*) => {$(
        impl Recordable for $family {
            fn record(&self) -> NewEvent {
                NewEvent {
                    event_type: self.event_type().into(),
                    schema_version: self.schema_version(),
                    payload: self.encode(),
                }
            }
        }
    )*};
}

recordable!(CaseEvent, AccessEvent, ConfigEvent);

/// An append of `events` by `actor` at `at`, in a new correlation, without an
/// idempotency key.
fn append_request(
    stream: &str,
    expected: ExpectedVersion,
    actor: &Actor,
    at: Timestamp,
    events: &[impl Recordable],
) -> AppendRequest {
    AppendRequest {
        stream: stream.into(),
        expected,
        idempotency_key: None,
        fingerprint: 0,
        metadata: Metadata {
            actor: actor.clone(),
            occurred_at: at,
            correlation_id: Ulid::new(),
            causation_id: None,
        },
        events: events.iter().map(Recordable::record).collect(),
    }
}

/// The policy's verdict on `commands` by `p`, on the state they are decided against.
/// A case the principal may not see is "not found", as at the API edge.
fn authorize(
    p: &Principal,
    state: &Case,
    commands: &[Command],
    ladder: &TierLadder,
) -> Result<(), AppError> {
    let hidden = !state.exists() || !policy::can_read(p, state, ladder);
    if hidden && p.actor.role != Role::Auditor {
        let id = state.id.map(|i| i.to_string()).unwrap_or_default();
        return Err(AppError::NotFound(format!("case {id}")));
    }
    for command in commands {
        policy::can_execute(p, state, command, ladder).map_err(AppError::Forbidden)?;
    }
    Ok(())
}

/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// Separates the parts of a stored idempotency key; refused in clients' keys, so a
/// scoped key can never be spelled by a client.
const KEY_SEPARATOR: char = '\u{1f}';

/// The key an idempotency key is stored under: scoped to the principal (role and id),
/// so one principal's keys never find, or reveal, another's results.
fn scoped_key(actor: &Actor, key: &str) -> String {
    format!(
        "{KEY_SEPARATOR}{}{KEY_SEPARATOR}{}{KEY_SEPARATOR}{key}",
        actor.role.as_str(),
        actor.id
    )
}

pub struct App {
    store: Arc<dyn EventStore>,
    projections: ProjectionRunner,
    clock: Arc<dyn Clock>,
    /// The configuration in force (tiers, teams, agents, rules), folded from the
    /// config stream; replaced whole on every change.
    config: RwLock<Arc<Config>>,
    tokens: Arc<TokenRegistry>,
    /// Held from reading an agent's load until an assignment to them is projected,
    /// so concurrent assignments cannot exceed the agent's capacity.
    assigning: tokio::sync::Mutex<()>,
    /// Held by a command from loading its case until its events are appended, so the
    /// commands on one case are decided one after another (taken after `assigning`).
    turns: turns::CaseTurns,
}

impl App {
    pub fn new(
        store: Arc<dyn EventStore>,
        projections: ProjectionRunner,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Self {
        App {
            store,
            projections,
            clock,
            config: RwLock::new(Arc::new(config)),
            tokens: Arc::default(),
            assigning: tokio::sync::Mutex::new(()),
            turns: turns::CaseTurns::default(),
        }
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

    /// Folds the `tokens` stream into the registry (at start).
    pub async fn load_tokens(&self) -> Result<(), AppError> {
        for r in self.store.read_stream(TOKENS_STREAM, 1, usize::MAX).await? {
            self.tokens.apply(&AccessEvent::decode(
                &r.event_type,
                r.schema_version,
                &r.payload,
            )?);
        }
        Ok(())
    }

    async fn append_access(
        &self,
        by: &Actor,
        stream: &str,
        event: &AccessEvent,
    ) -> Result<(), AppError> {
        let request = append_request(
            stream,
            ExpectedVersion::Any,
            by,
            self.clock.now(),
            std::slice::from_ref(event),
        );
        let outcome = self.store.append(request).await?;
        self.projections.wait_for(outcome.last_position).await?;
        Ok(())
    }

    /// Issues a new token for `user`; returns the token (shown once) and its id.
    pub async fn issue_token(
        &self,
        by: &Actor,
        user: AgentId,
        role: Role,
        tiers: Vec<String>,
        expires_at: Option<Timestamp>,
    ) -> Result<(String, String), AppError> {
        // The SLA scheduler's identity is the server's alone: a SYSTEM token would let
        // its holder record breaches and escalations as if the scheduler had.
        if role == Role::System {
            return Err(AppError::Forbidden(
                "tokens cannot act as the system (the SLA scheduler's identity is the \
                 server's alone)"
                    .into(),
            ));
        }
        let ladder = self.tiers();
        for t in &tiers {
            ladder.get(t)?;
        }
        let token = generate_token()
            .map_err(|e| AppError::Internal(format!("no randomness available: {e}")))?;
        let hash = hash_token(&token);
        let event = AccessEvent::TokenIssued(TokenIssued {
            token_id: token_id(&hash),
            hash: hex(&hash),
            user,
            role,
            tiers,
            expires_at,
        });
        self.append_access(by, TOKENS_STREAM, &event).await?;
        self.tokens.apply(&event);
        Ok((token, token_id(&hash)))
    }

    /// Revokes a token by id; it stops working at once, on open connections too.
    pub async fn revoke_token(&self, by: &Actor, id: &str) -> Result<(), AppError> {
        if !self.tokens.list().iter().any(|t| t.token_id == id) {
            return Err(AppError::NotFound(format!("token {id}")));
        }
        let event = AccessEvent::TokenRevoked(TokenRevoked {
            token_id: id.into(),
        });
        self.append_access(by, TOKENS_STREAM, &event).await?;
        self.tokens.apply(&event);
        Ok(())
    }

    /// Records that an auditor read a case.
    pub async fn record_view(
        &self,
        by: &Actor,
        case_id: CaseId,
        what: &str,
    ) -> Result<(), AppError> {
        let event = AccessEvent::CaseViewed(CaseViewed {
            case_id,
            what: what.into(),
        });
        self.append_access(by, ACCESS_LOG_STREAM, &event).await
    }

    /// Records an auditor's read of several cases in one request (nothing if none).
    pub async fn record_views(
        &self,
        by: &Actor,
        case_ids: Vec<CaseId>,
        what: &str,
    ) -> Result<(), AppError> {
        if case_ids.is_empty() {
            return Ok(());
        }
        let event = AccessEvent::CasesViewed(CasesViewed {
            case_ids,
            what: what.into(),
        });
        self.append_access(by, ACCESS_LOG_STREAM, &event).await
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn tiers(&self) -> TierLadder {
        self.config().tiers.clone()
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Folds the config stream (at start). An empty stream is seeded with `seed`,
    /// appended as the system's first configuration events, so the log records the
    /// configuration every case was routed under.
    pub async fn load_config(&self, seed: Option<&ConfigSeed>) -> Result<(), AppError> {
        if self.store.stream_version(config::CONFIG_STREAM).await? == 0 {
            if let Some(seed) = seed {
                let events = seed.events()?;
                self.append_config(&Actor::system(), 0, &events).await?;
            }
            return Ok(());
        }
        self.reload_config().await
    }

    /// Folds the config stream into the configuration in force.
    async fn reload_config(&self) -> Result<(), AppError> {
        let records = self
            .store
            .read_stream(config::CONFIG_STREAM, 1, usize::MAX)
            .await?;
        let mut state = Config::empty();
        for r in &records {
            state.apply(
                &ConfigEvent::decode(&r.event_type, r.schema_version, &r.payload)?,
                r.version,
            );
        }
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(state);
        Ok(())
    }

    /// Appends decided configuration events after `expected` and puts the new
    /// configuration in force.
    async fn append_config(
        &self,
        by: &Actor,
        expected: u64,
        events: &[ConfigEvent],
    ) -> Result<Arc<Config>, AppError> {
        let request = append_request(
            config::CONFIG_STREAM,
            ExpectedVersion::Exact(expected),
            by,
            self.clock.now(),
            events,
        );
        let outcome = self.store.append(request).await?;
        let applied = {
            let mut guard = self.config.write().unwrap_or_else(|p| p.into_inner());
            // Only on top of the state the decision saw; if another change got in
            // first (possible only between stream and memory), re-read the stream.
            (expected == 0 || guard.version == expected).then(|| {
                let mut next = if expected == 0 {
                    Config::empty()
                } else {
                    (**guard).clone()
                };
                for (i, e) in events.iter().enumerate() {
                    next.apply(e, outcome.first_version + i as u64);
                }
                *guard = Arc::new(next);
            })
        };
        if applied.is_none() {
            self.reload_config().await?;
        }
        let next = self.config();
        self.projections.wait_for(outcome.last_position).await?;
        Ok(next)
    }

    /// Decides and applies one configuration change. Changes are serialised by the
    /// config stream's version: one that lost a race is decided again.
    pub async fn configure(
        &self,
        by: &Actor,
        command: ConfigCommand,
    ) -> Result<Arc<Config>, AppError> {
        let span = info_span!("configure", actor = %by.id);
        async move {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let current = self.config();
                let events = config::decide(&current, command.clone())?;
                match self.append_config(by, current.version, &events).await {
                    Err(AppError::VersionConflict { .. }) if attempt < MAX_RETRIES => {
                        self.reload_config().await?;
                    }
                    other => return other,
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Opens a case and routes it, as one atomic append.
    pub async fn open_case(
        &self,
        actor: &Actor,
        mut open: OpenCase,
        opts: WriteOptions,
    ) -> Result<Written, AppError> {
        // The fingerprint must not depend on the id this attempt happens to draw.
        let fp = fingerprint(&request::open_request(&open));
        open.case_id = CaseId(Ulid::nil());
        let legacy = fingerprint(format!("open {open:?}").as_bytes());
        if let Some(done) = self.replayed(actor, &opts, fp, legacy).await? {
            return Ok(done);
        }
        open.case_id = CaseId(Ulid::new());
        let open = self.trusted(actor, open);
        // Held until `write` has waited for the projections, so the next assignment
        // sees this one's load.
        let (commands, _turn) = self.routed(&open).await?;
        let turn = self.turns.take(open.case_id).await;
        self.write(
            turn,
            actor,
            None,
            open.case_id,
            commands,
            fp,
            WriteOptions {
                expected_version: Some(0),
                ..opts
            },
        )
        .await
    }

    /// What routing may trust of a new case. The customer directory decides a listed
    /// customer's segment and key-account status, whoever opens the case (staff
    /// may state them only for customers not in the directory). A customer opening
    /// their own case states neither: an unlisted customer is B2C, not a key
    /// account; and the priority they pick is kept as `requested_priority` while
    /// the case starts at `Normal`, for rules and staff to raise.
    fn trusted(&self, actor: &Actor, mut open: OpenCase) -> OpenCase {
        let config = self.config();
        let listed = config.customers.contains_key(open.customer.id.trim());
        if actor.role == Role::Customer {
            if !listed {
                open.customer.segment = crate::domain::Segment::B2c;
                open.customer.key_account = false;
            }
            open.requested_priority = Some(open.priority);
            open.priority = crate::domain::Priority::Normal;
        } else {
            open.requested_priority = None;
        }
        OpenCase {
            customer: config.known_customer(open.customer.clone()),
            ..open
        }
    }

    /// The commands that open and route a new case: the first matching rule decides
    /// the route. Its `auto_assign` action assigns the least loaded eligible agent of
    /// the routed team; `start_swarm` starts a swarm led by that agent (both are
    /// skipped when no agent is free).
    /// Returns the assignment turn when an agent was picked, to hold until written.
    async fn routed(
        &self,
        open: &OpenCase,
    ) -> Result<(Vec<Command>, Option<tokio::sync::MutexGuard<'_, ()>>), AppError> {
        let config = self.config();
        let decision = config.route(open);
        let route = decision.to_route_case().map_err(ConfigError::from)?;
        let actions = &decision.actions;
        let mut turn = None;
        let agent = if actions.auto_assign || actions.start_swarm {
            turn = Some(self.assigning.lock().await);
            let p = self.projections.read();
            let load = |a: &AgentId| p.workload(a).map_or(0, |w| w.assigned.len());
            config.least_loaded(&route.tier, route.team.as_deref(), &open.language, load)
        } else {
            None
        };
        let mut commands = vec![Command::Open(open.clone()), Command::Route(route)];
        let agent_picked = agent.is_some();
        if let Some(agent) = agent {
            if actions.auto_assign {
                commands.push(Command::Assign {
                    agent: agent.clone(),
                });
            }
            if actions.start_swarm {
                commands.push(Command::StartSwarm {
                    lead: agent,
                    reason: format!(
                        "routing rule `{}`",
                        decision.rule_id.as_deref().unwrap_or("default")
                    ),
                });
            }
        }
        Ok((commands, turn.filter(|_| agent_picked)))
    }

    /// The rule set with `version`, as it was recorded on the config stream.
    pub async fn rule_set_at(&self, version: u64) -> Result<Option<RuleSet>, AppError> {
        for r in self
            .store
            .read_stream(config::CONFIG_STREAM, 1, usize::MAX)
            .await?
        {
            if let ConfigEvent::RulesSet(rules) =
                ConfigEvent::decode(&r.event_type, r.schema_version, &r.payload)?
            {
                if rules.version == version {
                    return Ok(Some(rules));
                }
            }
        }
        Ok(None)
    }

    /// Replays the cases opened in `[from, to)` through a proposed rule set (which
    /// must be valid for the configuration in force) and reports how their routing
    /// would have differed from how they were first routed. Only the cases for which
    /// `visible` holds (on their current state) are replayed; the others are only
    /// counted, as `hidden`, so neither their subjects nor their bodies (through a
    /// rule's condition) reach the caller. Writes nothing.
    pub async fn simulate_rules(
        &self,
        rules: RuleSet,
        from: Timestamp,
        to: Timestamp,
        max_changes: usize,
        visible: &(dyn Fn(&Case) -> bool + Sync),
    ) -> Result<Simulation, AppError> {
        let config = self.config();
        rules
            .validate(&config.tiers, Some(&config.team_names()))
            .map_err(ConfigError::from)?;
        config.check_rule_teams(&rules)?;
        let compiled = rules.compile().map_err(ConfigError::from)?;
        let (mut ids, hidden) = {
            let p = self.projections.read();
            let (shown, hidden): (Vec<CaseId>, Vec<CaseId>) = p
                .cases_opened_between(from, to)
                .into_iter()
                .partition(|id| p.case(*id).is_some_and(|v| visible(&v.case)));
            (shown, hidden.len() as u64)
        };
        ids.sort_unstable();
        let mut cases = Vec::with_capacity(ids.len());
        for id in ids {
            let mut opened = None;
            let mut placement = None;
            for r in self.store.read_stream(&id.stream(), 1, 4).await? {
                match decode(&r)? {
                    CaseEvent::Opened(o) => opened = Some(o),
                    CaseEvent::Routed(route) if placement.is_none() => {
                        placement = Some(Placement {
                            tier: route.tier.0,
                            team: route.team,
                            rule_id: route.rule_id,
                        })
                    }
                    _ => {}
                }
            }
            if let (Some(o), Some(p)) = (opened, placement) {
                let open = OpenCase {
                    case_id: o.case_id,
                    subject: o.subject,
                    body: o.body,
                    channel: o.channel,
                    customer: o.customer,
                    language: o.language,
                    priority: o.priority,
                    tags: o.tags,
                    requested_priority: o.requested_priority,
                };
                cases.push((id, open, p));
            }
        }
        let mut sim = simulate(
            |open| config.route_with(&compiled, open),
            cases.iter().map(|(id, o, p)| (*id, o, p.clone())),
            max_changes,
        );
        sim.hidden = hidden;
        Ok(sim)
    }

    /// Checks a command against the configuration: a hand-made route names a team
    /// that works its tier; an assignee works the case's tier and has room; nobody is
    /// assigned, made a swarm's lead or pulled into its swarm who could not read the
    /// case ([`policy::could_hold`]).
    async fn check_config(&self, case_id: CaseId, command: &Command) -> Result<(), AppError> {
        let target = match command {
            Command::Route(r) => {
                return Ok(self.config().check_route(&r.tier, r.team.as_deref())?)
            }
            Command::Assign { agent }
            | Command::StartSwarm { lead: agent, .. }
            | Command::JoinSwarm { agent }
            | Command::SetSwarmLead { agent } => agent,
            _ => return Ok(()),
        };
        let case = self.load(case_id).await?;
        let config = self.config();
        if !policy::could_hold(&self.principal_of(target), &case, &config.tiers) {
            return Err(AppError::Forbidden(format!(
                "`{target}` could not read this case: their tiers do not reach the tier of \
                 a private case"
            )));
        }
        if let Command::Assign { agent } = command {
            let load = self
                .projections
                .read()
                .workload(agent)
                .map_or(0, |w| w.assigned.len());
            config.check_assignable(agent, case.tier.as_ref(), load)?;
        }
        Ok(())
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

    /// Runs one command on an existing case, for an actor already authorized (the
    /// server's own callers: scheduler, demo, imports).
    pub async fn execute(
        &self,
        actor: &Actor,
        case_id: CaseId,
        command: Command,
        opts: WriteOptions,
    ) -> Result<Written, AppError> {
        self.execute_with(actor, None, case_id, command, opts).await
    }

    /// Runs one command for `principal`, asking [`policy::can_execute`] again on the
    /// very state each attempt decides on: a case that became private (or otherwise
    /// out of reach) between the caller's check and a retry after a lost race is
    /// refused, not written.
    pub async fn execute_as(
        &self,
        principal: &Principal,
        case_id: CaseId,
        command: Command,
        opts: WriteOptions,
    ) -> Result<Written, AppError> {
        self.execute_with(&principal.actor, Some(principal), case_id, command, opts)
            .await
    }

    async fn execute_with(
        &self,
        actor: &Actor,
        principal: Option<&Principal>,
        case_id: CaseId,
        command: Command,
        opts: WriteOptions,
    ) -> Result<Written, AppError> {
        let fp = fingerprint(&request::case_request(case_id, &command));
        let legacy = fingerprint(format!("{case_id} {command:?}").as_bytes());
        if let Some(done) = self.replayed(actor, &opts, fp, legacy).await? {
            return Ok(done);
        }
        let _assigning = match command {
            Command::Assign { .. } => Some(self.assigning.lock().await),
            _ => None,
        };
        let turn = self.turns.take(case_id).await;
        // The same request sent twice at once: the second, in its turn, finds the first.
        if let Some(done) = self.replayed(actor, &opts, fp, legacy).await? {
            return Ok(done);
        }
        self.check_config(case_id, &command).await?;
        self.write(turn, actor, principal, case_id, vec![command], fp, opts)
            .await
    }

    /// Cases with a command holding or awaiting their turn (for tests and metrics).
    pub fn busy_cases(&self) -> usize {
        self.turns.busy()
    }

    /// The stored result of an earlier request by `actor` with the same idempotency
    /// key. Keys are scoped to the principal: another principal's key is not found.
    async fn replayed(
        &self,
        actor: &Actor,
        opts: &WriteOptions,
        fp: u64,
        legacy_fp: u64,
    ) -> Result<Option<Written>, AppError> {
        let Some(key) = &opts.idempotency_key else {
            return Ok(None);
        };
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || key.chars().any(char::is_control) {
            return Err(AppError::Invalid(format!(
                "idempotency keys have 1-{MAX_IDEMPOTENCY_KEY} bytes and no control characters"
            )));
        }
        match self
            .store
            .idempotent_result(&scoped_key(actor, key))
            .await?
        {
            None => Ok(None),
            // Keys stored by releases before the canonical encoding carry the hash of
            // the request's `Debug` form; they still match the same request.
            Some(r) if r.fingerprint != fp && r.fingerprint != legacy_fp => {
                Err(AppError::IdempotencyKeyReused(key.clone()))
            }
            Some(r) => Ok(Some(
                self.written(AppendOutcome {
                    deduplicated: true,
                    ..r.outcome
                })
                .await?,
            )),
        }
    }

    async fn written(&self, outcome: AppendOutcome) -> Result<Written, AppError> {
        let id = CaseId::from_stream(&outcome.stream)
            .ok_or_else(|| AppError::NotFound(outcome.stream.clone()))?;
        self.projections.wait_for(outcome.last_position).await?;
        let case = self.case_at_version(id, outcome.last_version).await?;
        Ok(Written { case, outcome })
    }

    /// Decides and appends `commands` in the case's `turn`, given back once the events
    /// are appended (before waiting for the projections), so the next command on the
    /// case is decided while this one's response is prepared.
    #[allow(clippy::too_many_arguments)]
    async fn write(
        &self,
        turn: turns::Turn<'_>,
        actor: &Actor,
        principal: Option<&Principal>,
        case_id: CaseId,
        commands: Vec<Command>,
        fp: u64,
        opts: WriteOptions,
    ) -> Result<Written, AppError> {
        let span =
            info_span!("command", case = %case_id, command = commands[0].name(), actor = %actor.id);
        async move {
            // A fresh random id: `Ulid::default()` would be the all-zero id.
            #[allow(clippy::unwrap_or_default)]
            let correlation_id = opts.correlation_id.unwrap_or_else(Ulid::new);
            let mut turn = Some(turn);
            let mut attempt = 0;
            loop {
                attempt += 1;
                let state = self.load(case_id).await?;
                if let Some(expected) = opts.expected_version {
                    if expected != state.version {
                        return Err(AppError::VersionConflict {
                            expected,
                            current: state.version,
                        });
                    }
                }
                let now = self.clock.now();
                let config = self.config();
                if let Some(p) = principal {
                    authorize(p, &state, &commands, &config.tiers)?;
                }
                let teams = config.tier_teams();
                let ctx = Context {
                    tiers: &config.tiers,
                    teams: &teams,
                    actor,
                    now,
                    sla: &config.sla,
                };
                let events = decide_all(&state, commands.clone(), &ctx)?;
                let mut request = append_request(
                    &case_id.stream(),
                    ExpectedVersion::Exact(state.version),
                    actor,
                    now,
                    &events,
                );
                request.idempotency_key = opts
                    .idempotency_key
                    .as_deref()
                    .map(|k| scoped_key(actor, k));
                request.fingerprint = fp;
                request.metadata.correlation_id = correlation_id;
                let appended = self.store.append(request).await;
                if appended.is_ok() {
                    // Durable and readable: the next command may load the case.
                    turn.take();
                }
                match appended {
                    Ok(outcome) if outcome.deduplicated => return self.written(outcome).await,
                    Ok(outcome) => {
                        let mut case = state;
                        for (i, e) in events.iter().enumerate() {
                            case.apply(e, outcome.first_version + i as u64, now);
                        }
                        self.projections.wait_for(outcome.last_position).await?;
                        return Ok(Written { case, outcome });
                    }
                    Err(StoreError::VersionConflict { .. })
                        if opts.expected_version.is_none() && attempt < MAX_RETRIES =>
                    {
                        continue
                    }
                    // Name the key the caller sent, not the scoped one it is stored under.
                    Err(StoreError::IdempotencyKeyReused(_)) => {
                        let key = opts.idempotency_key.clone().unwrap_or_default();
                        return Err(AppError::IdempotencyKeyReused(key));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        .instrument(span)
        .await
    }

    /// The case's current state: its projected view, topped up from its stream.
    pub async fn load(&self, id: CaseId) -> Result<Case, AppError> {
        let mut case = self
            .projections
            .read()
            .case(id)
            .map(|v| v.case.clone())
            .unwrap_or_default();
        for record in self
            .store
            .read_stream(&id.stream(), case.version + 1, usize::MAX)
            .await?
        {
            case.apply(
                &decode(&record)?,
                record.version,
                record.metadata.occurred_at,
            );
        }
        Ok(case)
    }

    /// The case's stream from `from_version`, at most `limit` events.
    pub async fn history(
        &self,
        id: CaseId,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, AppError> {
        Ok(self
            .store
            .read_stream(&id.stream(), from_version, limit)
            .await?)
    }

    /// The case exactly as it was after stream version `version`.
    pub async fn case_at_version(&self, id: CaseId, version: u64) -> Result<Case, AppError> {
        self.fold_until(id, |r| r.version <= version).await
    }

    /// The case's full view (with messages) built from the events `keep` accepts, or
    /// `None` if none of them opened it: the past state auditors and subscriptions need.
    pub async fn view_where(
        &self,
        id: CaseId,
        keep: impl Fn(&RecordedEvent) -> bool,
    ) -> Result<Option<crate::projection::CaseView>, AppError> {
        let mut past = crate::projection::Projections::new();
        for record in self.store.read_stream(&id.stream(), 1, usize::MAX).await? {
            if keep(&record) {
                past.apply(&record)?;
            }
        }
        Ok(past.case(id).cloned())
    }

    /// The case's full view exactly as it was after `version`.
    pub async fn view_at_version(
        &self,
        id: CaseId,
        version: u64,
    ) -> Result<crate::projection::CaseView, AppError> {
        self.view_where(id, |r| r.version <= version)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("case {id}")))
    }

    /// Whether the event is followed, in the same atomic append, by another one.
    /// Appends are durable before they are published, so the whole append is readable.
    pub async fn continues_in_same_append(&self, record: &RecordedEvent) -> Result<bool, AppError> {
        let next = self.store.read_all(record.position + 1, 1).await?;
        Ok(next.first().is_some_and(|n| {
            n.stream == record.stream
                && n.version == record.version + 1
                && n.metadata.correlation_id == record.metadata.correlation_id
        }))
    }

    async fn fold_until(
        &self,
        id: CaseId,
        keep: impl Fn(&RecordedEvent) -> bool,
    ) -> Result<Case, AppError> {
        let mut case = Case::default();
        for record in self.store.read_stream(&id.stream(), 1, usize::MAX).await? {
            if !keep(&record) {
                break;
            }
            case.apply(
                &decode(&record)?,
                record.version,
                record.metadata.occurred_at,
            );
        }
        if !case.exists() {
            return Err(AppError::NotFound(format!("case {id}")));
        }
        Ok(case)
    }
}
