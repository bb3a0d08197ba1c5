//! Writing cases: opening and routing a new case, and running commands on an existing
//! one. Each write takes its case's turn, is authorized and decided against the
//! current state, appended at the version it was decided on, and retried after
//! losing a race to a writer outside this process (an assignment first claims a slot
//! of the agent's capacity on their stream, see `capacity`). Idempotency keys (scoped to the
//! principal) return the first result of a repeated request. Also loads a case and
//! reads its history.

use tracing::{info_span, Instrument};
use ulid::Ulid;

use super::record::{append_request, decode};
use super::{turns, AppError, Desk, WriteOptions, Written, MAX_RETRIES};
use crate::auth::Principal;
use crate::config::ConfigError;
use crate::domain::request;
use crate::domain::{
    decide_all, Actor, AgentId, Case, CaseEvent, CaseId, Command, Context, OpenCase, TierLadder,
};
use crate::policy;
use crate::store::{fingerprint, AppendOutcome, ExpectedVersion, RecordedEvent, StoreError};

/// The policy's verdict on `commands` by `p`, on the state they are decided against.
/// A case the principal may not see is "not found", as at the API edge.
fn authorize(
    p: &Principal,
    id: CaseId,
    state: &Case,
    commands: &[Command],
    ladder: &TierLadder,
) -> Result<(), AppError> {
    let hidden = !state.exists() || !policy::can_read(p, state, ladder);
    if hidden && !policy::is_read_only(p) {
        return Err(AppError::NotFound(format!("case {id}")));
    }
    for command in commands {
        policy::can_execute(p, state, command, ladder).map_err(AppError::Forbidden)?;
    }
    Ok(())
}

/// Who a write is for, and which checks it gets before `decide`.
struct Caller<'a> {
    actor: &'a Actor,
    /// Authorized by [`policy`] on the very state each attempt decides on; `None` for
    /// the server's own callers.
    principal: Option<&'a Principal>,
    /// Whether the commands are checked against the configuration (assignees,
    /// swarm members, hand-made routes); a new case's routing is already, but its
    /// auto-assignment still claims the agent's slot, and is dropped (the case opens
    /// unassigned) when the agent has none left.
    check_config: bool,
    /// The request's idempotency key was used for another request: refused once the
    /// caller is authorized.
    key_reused: bool,
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

/// The fingerprint of a request's canonical form, which only a request with an
/// idempotency key stores and compares (see `replayed`); 0 for a request without
/// one, so that it does not pay for copying and hashing its message.
fn keyed_fingerprint(opts: &WriteOptions, canonical: impl FnOnce() -> Vec<u8>) -> u64 {
    match opts.idempotency_key {
        Some(_) => fingerprint(&canonical()),
        None => 0,
    }
}

impl Desk {
    /// Opens a case and routes it, as one atomic append.
    pub async fn open_case(
        &self,
        actor: &Actor,
        mut open: OpenCase,
        opts: WriteOptions,
    ) -> Result<Written, AppError> {
        // The fingerprint must not depend on the id this attempt happens to draw.
        let fp = keyed_fingerprint(&opts, || request::open_request(&open));
        let legacy = || {
            let nil = OpenCase {
                case_id: CaseId(Ulid::nil()),
                ..open.clone()
            };
            fingerprint(format!("open {nil:?}").as_bytes())
        };
        if let Some(done) = self.replayed(actor, &opts, fp, legacy).await? {
            return Ok(done);
        }
        open.case_id = CaseId(Ulid::new());
        let open = self.trusted(actor, open);
        // Held until `write` has waited for the projections, so the next assignment
        // sees this one's load.
        let (commands, _turn) = self.routed(&open).await?;
        let turn = self.turns.take(open.case_id).await;
        let caller = Caller {
            actor,
            principal: None,
            check_config: false,
            key_reused: false,
        };
        self.write(
            turn,
            caller,
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
        if policy::self_service(actor) {
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
        // Needed skills: the rule's, and the skill map's for the case's tags and words.
        let mapped = config.mapped_skills(
            open.tags.iter().chain(&actions.tags),
            &[&open.subject, &open.body],
        );
        let mut all: Vec<String> = actions
            .needs_skills
            .iter()
            .chain(&mapped)
            .map(|s| s.trim().to_lowercase())
            .collect();
        all.sort();
        all.dedup();
        all.truncate(crate::domain::swarming::MAX_SKILLS);
        if let Ok(skills) = crate::domain::swarming::decide::skills(&all) {
            if !skills.is_empty() {
                let by_rule = !actions.needs_skills.is_empty();
                commands.push(Command::SetCaseSkills {
                    skills,
                    source: if by_rule {
                        crate::domain::swarming::SkillSource::Rule
                    } else {
                        crate::domain::swarming::SkillSource::Keywords
                    },
                    rule_id: decision.rule_id.clone().filter(|_| by_rule),
                });
            }
        }
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
        let fp = keyed_fingerprint(&opts, || request::case_request(case_id, &command));
        let legacy = || fingerprint(format!("{case_id} {command:?}").as_bytes());
        // A key reused for another request is told only to a caller who may act on
        // the case (after `authorize`); others learn nothing of it but `NOT_FOUND`.
        let mut key_reused = false;
        let mut replay = async || match self.replayed(actor, &opts, fp, legacy).await {
            Err(AppError::IdempotencyKeyReused(_)) if principal.is_some() => {
                key_reused = true;
                Ok(None)
            }
            other => other,
        };
        if let Some(done) = replay().await? {
            return Ok(done);
        }
        let _assigning = match command {
            Command::Assign { .. } => Some(self.assigning.lock().await),
            _ => None,
        };
        let turn = self.turns.take(case_id).await;
        // The same request sent twice at once: the second, in its turn, finds the first.
        if let Some(done) = replay().await? {
            return Ok(done);
        }
        let caller = Caller {
            actor,
            principal,
            check_config: true,
            key_reused,
        };
        self.write(turn, caller, case_id, vec![command], fp, opts)
            .await
    }

    /// Cases with a command holding or awaiting their turn (for tests and metrics).
    pub fn busy_cases(&self) -> usize {
        self.turns.busy()
    }

    /// The stored result of an earlier request by `actor` with the same idempotency
    /// key. Keys are scoped to the principal: another principal's key is not found.
    /// `legacy_fp` (the fingerprint earlier releases stored) is computed only for a
    /// stored key whose fingerprint differs from `fp`, so no request pays for it.
    async fn replayed(
        &self,
        actor: &Actor,
        opts: &WriteOptions,
        fp: u64,
        legacy_fp: impl Fn() -> u64,
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
            Some(r) if r.fingerprint != fp && r.fingerprint != legacy_fp() => {
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
        caller: Caller<'_>,
        case_id: CaseId,
        mut commands: Vec<Command>,
        fp: u64,
        opts: WriteOptions,
    ) -> Result<Written, AppError> {
        let Caller {
            actor,
            principal,
            check_config,
            key_reused,
        } = caller;
        let span =
            info_span!("command", case = %case_id, command = commands[0].name(), actor = %actor.id);
        async move {
            // A fresh random id: `Ulid::default()` would be the all-zero id.
            #[allow(clippy::unwrap_or_default)]
            let correlation_id = opts.correlation_id.unwrap_or_else(Ulid::new);
            let mut turn = Some(turn);
            let mut attempt = 0;
            'attempt: loop {
                attempt += 1;
                let state = self.load(case_id).await?;
                let config = self.config();
                // First who may act on it: nothing else is told about a case the
                // caller may not see, not even its version.
                if let Some(p) = principal {
                    authorize(p, case_id, &state, &commands, &config.tiers)?;
                }
                if key_reused {
                    let key = opts.idempotency_key.clone().unwrap_or_default();
                    return Err(AppError::IdempotencyKeyReused(key));
                }
                if let Some(expected) = opts.expected_version {
                    if expected != state.version {
                        return Err(AppError::VersionConflict {
                            expected,
                            current: state.version,
                        });
                    }
                }
                let now = self.clock.now();
                if check_config {
                    for command in &commands {
                        self.check_config(&state, command)?;
                    }
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
                let mut unassign = false;
                for command in &commands {
                    let Command::Assign { agent } = command else {
                        continue;
                    };
                    match self
                        .claim_slot(actor, agent, case_id, &state, &config)
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) if attempt >= MAX_RETRIES => {
                            return Err(AppError::Store(StoreError::Unavailable(format!(
                                "`{agent}` is being assigned too often at once; try again"
                            ))));
                        }
                        Ok(false) => continue 'attempt,
                        // Routing picked the agent from this node's projections, and
                        // another node gave away their last slot meanwhile: the case
                        // opens unassigned, in its tier's queue.
                        Err(AppError::Config(_)) if !check_config => unassign = true,
                        Err(e) => return Err(e),
                    }
                }
                if unassign {
                    commands.retain(|c| !matches!(c, Command::Assign { .. }));
                    continue 'attempt;
                }
                let stored = self.sealed(&state, &events)?;
                let mut request = append_request(
                    &case_id.stream(),
                    ExpectedVersion::Exact(state.version),
                    actor,
                    now,
                    stored.as_deref().unwrap_or(&events),
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

    /// `events` of the case `state` (or opening it) with their personal fields sealed
    /// with its customer's key, the one place case events are sealed; `None` when
    /// there is nothing to seal (or no vault).
    fn sealed(
        &self,
        state: &Case,
        events: &[CaseEvent],
    ) -> Result<Option<Vec<CaseEvent>>, AppError> {
        let Some(vault) = &self.vault else {
            return Ok(None);
        };
        let customer = state.customer.as_ref().map(|c| c.id.clone()).or_else(|| {
            events.iter().find_map(|e| match e {
                CaseEvent::Opened(o) => Some(o.customer.id.clone()),
                _ => None,
            })
        });
        let Some(customer) = customer else {
            return Ok(None);
        };
        let mut sealed = events.to_vec();
        for e in &mut sealed {
            crate::shred::personal::seal_case_event(vault, &customer, e)?;
        }
        Ok(Some(sealed))
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
}
