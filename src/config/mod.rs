//! The event-sourced configuration: tiers, teams, agents, the routing rules, SLA
//! policies with their business-hours calendars, and the customer directory (each
//! customer's segment and key-account status, which routing trusts instead of what a
//! customer says about themselves).
//!
//! Configuration lives in the same log as cases, on the stream [`CONFIG_STREAM`], so an
//! auditor can tell which rule set was in force when any case was routed
//! (`CaseRouted` records the rule set's version) and who changed what, when. Like a
//! case, it is an aggregate: [`Config::apply`] folds its events, and
//! [`decide`] turns a [`ConfigCommand`] into events or refuses it with a
//! [`ConfigError`], checking every cross-reference (a team's tier exists, an agent's
//! teams exist, the rules name only configured tiers and known teams...). A refused
//! change writes nothing, so the previous configuration stays in force.
//!
//! At first start the configuration is seeded from a [`ConfigSeed`] (the command
//! line, or a `swarmdesk.toml` read by [`file`]); after that admins change it through
//! the API, each change an event. Nothing here does I/O: the command line reads the
//! seed file and hands its text to [`file::parse`].
//!
//! - [`file`]: the `swarmdesk.toml` seed format.
//! - [`skills`]: the skill map; [`rotation`]: the rapid-responder rotation.
//!
//! Over 600 lines: the configuration aggregate (its commands, events, `decide` and
//! fold, with every cross-reference check) is one stream's model, like `domain` is a
//! case's; the seed format is in `file`.

pub mod file;
pub mod rotation;
pub mod skills;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

use crate::domain::calendar::Calendar;
use crate::domain::{
    AgentId, Customer, DomainError, SlaConfig, SlaError, SlaPolicy, Tier, TierLadder, TierTeams,
};
use crate::routing::{
    front_line, sensitive_floor, CompiledRuleSet, RouteDecision, RuleError, RuleSet, STANDARD_TEAMS,
};

/// The stream holding every configuration event.
pub const CONFIG_STREAM: &str = "config";
/// Most concurrent cases an agent may be configured for.
pub const MAX_CAPACITY: u32 = 1000;

/// A team of agents working one tier, e.g. `billing` at L2. Members are the agents
/// that list the team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    pub name: String,
    pub tier: String,
    pub description: String,
    /// The business-hours calendar its SLA clocks follow (unless a policy names
    /// one); 24x7 when unset.
    pub calendar: Option<String>,
}

/// An agent in the directory: what they work on and how much at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    /// Tiers the agent works in directly (besides their teams' tiers).
    pub tiers: Vec<String>,
    pub teams: Vec<String>,
    pub skills: Vec<String>,
    /// Languages the agent speaks (e.g. `en`, `de`).
    pub languages: Vec<String>,
    /// Most open cases assigned to the agent at once.
    #[serde(alias = "max_cases")]
    pub max_cases: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TiersSet {
    pub tiers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamRemoved {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRemoved {
    pub id: AgentId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarRemoved {
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRemoved {
    pub id: String,
}

/// A customer's personal data was erased (crypto-shredding, [`crate::shred`]): their
/// data key was destroyed (`key_destroyed`: there was one), so every field sealed
/// with it reads as erased; the log, its hashes and this record stay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerForgotten {
    pub id: String,
    pub reason: String,
    #[serde(alias = "key_destroyed")]
    pub key_destroyed: bool,
}

/// Longest reason for forgetting a customer, in characters.
pub const MAX_FORGET_REASON: usize = 500;

impl CustomerForgotten {
    /// The event, its id and reason checked (both required; the reason at most
    /// [`MAX_FORGET_REASON`] characters).
    pub fn checked(id: &str, reason: &str, key_destroyed: bool) -> Result<Self, ConfigError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_FORGET_REASON {
            return Err(ConfigError::Invalid(format!(
                "a reason of 1-{MAX_FORGET_REASON} characters is required"
            )));
        }
        Ok(CustomerForgotten {
            id: name("customer id", id, 128)?,
            reason: reason.into(),
            key_destroyed,
        })
    }
}

/// The SLA policies in force, in order (the first matching one applies).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlaPoliciesSet {
    pub policies: Vec<SlaPolicy>,
}

/// Every event the configuration stream can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigEvent {
    TiersSet(TiersSet),
    /// A team was created or changed (the whole new definition).
    TeamSaved(Team),
    TeamRemoved(TeamRemoved),
    /// An agent was added or changed (the whole new definition).
    AgentSaved(Agent),
    AgentRemoved(AgentRemoved),
    /// A new rule set (with its new version) is in force.
    RulesSet(RuleSet),
    /// A calendar was created or changed.
    CalendarSaved(Calendar),
    CalendarRemoved(CalendarRemoved),
    SlaPoliciesSet(SlaPoliciesSet),
    /// A customer was added to the directory or changed (the whole new record).
    CustomerSaved(Customer),
    CustomerRemoved(CustomerRemoved),
    /// A customer's personal data was erased (their data key destroyed).
    CustomerForgotten(CustomerForgotten),
    /// The map of tags and keywords to needed skills (the whole new map).
    SkillMapSet(skills::SkillMapSet),
    /// The rapid-responder rotation for `SEVERITY_1` swarms (the whole new rotation).
    RapidRotationSet(rotation::RapidRotation),
}

crate::event_registry! {
    ConfigEvent {
        TiersSet = "TiersSet" v 1,
        TeamSaved = "TeamSaved" v 1,
        TeamRemoved = "TeamRemoved" v 1,
        AgentSaved = "AgentSaved" v 1,
        AgentRemoved = "AgentRemoved" v 1,
        RulesSet = "RulesSet" v 2 (1 => crate::routing::rule::v1::RuleSet),
        CalendarSaved = "CalendarSaved" v 1,
        CalendarRemoved = "CalendarRemoved" v 1,
        SlaPoliciesSet = "SlaPoliciesSet" v 1,
        CustomerSaved = "CustomerSaved" v 1,
        CustomerRemoved = "CustomerRemoved" v 1,
        SkillMapSet = "SkillMapSet" v 1,
        CustomerForgotten = "CustomerForgotten" v 1,
        RapidRotationSet = "RapidRotationSet" v 1,
    }
}

/// A change an admin asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigCommand {
    SetTiers(Vec<String>),
    /// Create a team; refused if it exists.
    CreateTeam(Team),
    /// Change an existing team.
    UpdateTeam(Team),
    RemoveTeam(String),
    /// Add an agent; refused if they exist.
    AddAgent(Agent),
    /// Change an existing agent.
    UpdateAgent(Agent),
    RemoveAgent(AgentId),
    /// Replace the rules and the default route; the version is assigned here.
    /// With `expected_version`, refused unless that rule set is the one in force.
    SetRules {
        rules: RuleSet,
        expected_version: Option<u64>,
    },
    /// Move a rule to a 0-based position in the order.
    MoveRule {
        rule_id: String,
        position: usize,
    },
    EnableRule {
        rule_id: String,
        enabled: bool,
    },
    /// Create or change a business-hours calendar.
    SaveCalendar(Calendar),
    /// Remove a calendar no team or policy uses.
    RemoveCalendar(String),
    /// Create a policy (appended last) or change one in place.
    SetSlaPolicy(SlaPolicy),
    RemoveSlaPolicy(String),
    /// Add a customer to the directory, or change their record.
    SetCustomer(Customer),
    RemoveCustomer(String),
    /// Replace the map of tags and keywords to needed skills.
    SetSkillMap(Vec<skills::SkillMapping>),
    /// Replace the rapid-responder rotation (no responders: none).
    SetRapidRotation(rotation::RapidRotation),
}

/// Why a configuration change was refused. Nothing is written.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("invalid rule set: {0}")]
    Rules(#[from] RuleError),
    #[error("invalid SLA configuration: {0}")]
    Sla(#[from] SlaError),
    #[error("the rule set in force is version {current}, expected {expected}")]
    VersionConflict { expected: u64, current: u64 },
}

impl From<DomainError> for ConfigError {
    fn from(e: DomainError) -> Self {
        ConfigError::Invalid(e.to_string())
    }
}

impl ConfigError {
    /// The stable API code.
    pub fn code(&self) -> crate::code::Code {
        use crate::code::Code;
        match self {
            ConfigError::NotFound(_) => Code::NotFound,
            ConfigError::Exists(_) => Code::InvalidTransition,
            ConfigError::VersionConflict { .. } => Code::VersionConflict,
            ConfigError::Invalid(_) | ConfigError::Rules(_) | ConfigError::Sla(_) => {
                Code::BadUserInput
            }
        }
    }
}

/// The configuration in force: the fold of the config stream.
#[derive(Clone, Debug)]
pub struct Config {
    /// The config stream's version (0 before the first event).
    pub version: u64,
    pub tiers: TierLadder,
    pub teams: BTreeMap<String, Team>,
    pub agents: BTreeMap<AgentId, Agent>,
    /// The rules, compiled once for routing.
    pub rules: CompiledRuleSet,
    /// SLA policies, calendars, and the teams' calendars.
    pub sla: SlaConfig,
    /// The customer directory: who is B2B, who is a key account. Routing reads a
    /// customer's segment and key-account status from here, never from their input.
    pub customers: BTreeMap<String, Customer>,
    /// Tags and keywords (lower case) to the skills a new case with them needs.
    pub skill_map: BTreeMap<String, Vec<String>>,
    /// Who answers `SEVERITY_1` swarms first, by shift.
    pub rapid_rotation: rotation::RapidRotation,
}

impl Default for Config {
    /// The standard ladder and rule set, before any event: what a fresh store routes
    /// with until it is seeded.
    fn default() -> Self {
        ConfigSeed::standard(TierLadder::standard(), None, None)
            .config()
            .expect("the standard configuration is valid")
    }
}

impl Config {
    /// Folds one configuration event recorded at stream `version`. Events were
    /// validated when decided; an invalid one (only possible in a hand-edited import)
    /// is skipped rather than breaking the fold.
    pub fn apply(&mut self, event: &ConfigEvent, version: u64) {
        self.version = version;
        match event {
            ConfigEvent::TiersSet(t) => {
                if let Ok(l) = TierLadder::new(t.tiers.iter().cloned()) {
                    self.tiers = l;
                }
            }
            ConfigEvent::TeamSaved(t) => {
                self.teams.insert(t.name.clone(), t.clone());
                match &t.calendar {
                    Some(c) => self.sla.team_calendars.insert(t.name.clone(), c.clone()),
                    None => self.sla.team_calendars.remove(&t.name),
                };
            }
            ConfigEvent::TeamRemoved(t) => {
                self.teams.remove(&t.name);
                self.sla.team_calendars.remove(&t.name);
            }
            ConfigEvent::AgentSaved(a) => {
                self.agents.insert(a.id.clone(), a.clone());
            }
            ConfigEvent::AgentRemoved(a) => {
                self.agents.remove(&a.id);
            }
            ConfigEvent::RulesSet(r) => {
                if let Ok(c) = CompiledRuleSet::new(r.clone()) {
                    self.rules = c;
                }
            }
            ConfigEvent::CalendarSaved(c) => {
                self.sla.calendars.insert(c.id.clone(), c.clone());
            }
            ConfigEvent::CalendarRemoved(c) => {
                self.sla.calendars.remove(&c.id);
            }
            ConfigEvent::SlaPoliciesSet(p) => self.sla.policies = p.policies.clone(),
            ConfigEvent::CustomerSaved(c) => {
                self.customers.insert(c.id.clone(), c.clone());
            }
            ConfigEvent::CustomerRemoved(c) => {
                self.customers.remove(&c.id);
            }
            // The entry stays (segment, key account); its name is gone, even one
            // written in clear before names were sealed.
            ConfigEvent::CustomerForgotten(f) => {
                if let Some(c) = self.customers.get_mut(&f.id) {
                    c.name = crate::shred::ERASED.into();
                }
            }
            ConfigEvent::SkillMapSet(m) => {
                self.skill_map = m
                    .entries
                    .iter()
                    .map(|e| (e.term.clone(), e.skills.clone()))
                    .collect();
            }
            ConfigEvent::RapidRotationSet(r) => self.rapid_rotation = r.clone(),
        }
    }

    /// The skills the skill map gives a new case with these tags, subject and body.
    pub fn mapped_skills<'a>(
        &self,
        tags: impl IntoIterator<Item = &'a String>,
        texts: &[&str],
    ) -> Vec<String> {
        skills::mapped_skills(&self.skill_map, tags, texts)
    }

    /// `customer` as the directory knows them: a listed customer's name, segment and
    /// key-account status replace whatever was sent; an unlisted one is returned as
    /// given.
    pub fn known_customer(&self, customer: Customer) -> Customer {
        match self.customers.get(customer.id.trim()) {
            Some(c) => c.clone(),
            None => customer,
        }
    }

    pub fn rule_set(&self) -> &RuleSet {
        self.rules.rule_set()
    }

    pub fn team_names(&self) -> Vec<String> {
        self.teams.keys().cloned().collect()
    }

    /// Which tier each team works, for `decide`. A tier's default team (where a case
    /// moved to that tier goes) is the team the rules' default route names, if it
    /// works that tier, else the first team of the tier by name.
    pub fn tier_teams(&self) -> TierTeams {
        let preferred = self
            .rule_set()
            .default
            .team
            .as_deref()
            .and_then(|t| self.teams.get(t.trim()));
        TierTeams::new(
            preferred
                .into_iter()
                .chain(self.teams.values())
                .map(|t| (t.name.clone(), Tier::new(t.tier.clone()))),
        )
    }

    /// The tiers an agent works in: their own and their teams'. Empty for agents not
    /// in the directory.
    pub fn agent_tiers(&self, id: &AgentId) -> Vec<Tier> {
        let Some(agent) = self.agents.get(id) else {
            return Vec::new();
        };
        let mut tiers: Vec<Tier> = agent.tiers.iter().map(|t| Tier::new(t.clone())).collect();
        for team in &agent.teams {
            if let Some(t) = self.teams.get(team) {
                let tier = Tier::new(t.tier.clone());
                if !tiers.contains(&tier) {
                    tiers.push(tier);
                }
            }
        }
        tiers
    }

    /// Members of a team, by id.
    pub fn team_members(&self, team: &str) -> impl Iterator<Item = &Agent> {
        let team = team.to_string();
        self.agents
            .values()
            .filter(move |a| a.teams.contains(&team))
    }
}

impl Config {
    /// Checks that `agent` may be assigned a case at `tier` while holding `load` open
    /// cases: the agent is in the directory, works that tier, and has room. With an
    /// empty directory (a fresh install) anyone may be assigned.
    pub fn check_assignable(
        &self,
        agent: &AgentId,
        tier: Option<&Tier>,
        load: usize,
    ) -> Result<(), ConfigError> {
        if self.agents.is_empty() {
            return Ok(());
        }
        let a = self
            .agents
            .get(agent)
            .ok_or_else(|| ConfigError::NotFound(format!("agent `{agent}`")))?;
        if let Some(tier) = tier {
            if !self.agent_tiers(agent).contains(tier) {
                return Err(ConfigError::Invalid(format!(
                    "agent `{agent}` does not work tier `{tier}`"
                )));
            }
        }
        if load >= a.max_cases as usize {
            return Err(ConfigError::Invalid(format!(
                "agent `{agent}` is at capacity ({} open cases)",
                a.max_cases
            )));
        }
        Ok(())
    }

    /// The agent to auto-assign a new case to: among the agents of `team` (or, with
    /// no team, of the directory) who work `tier` and have room, those speaking the
    /// case's language first, then the least loaded, then by id. A blank language is
    /// `en`, as the domain records it.
    pub fn least_loaded(
        &self,
        tier: &Tier,
        team: Option<&str>,
        language: &str,
        load: impl Fn(&AgentId) -> usize,
    ) -> Option<AgentId> {
        let language = match language.trim() {
            "" => "en",
            l => l,
        };
        let primary = language
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_lowercase();
        self.agents
            .values()
            .filter(|a| team.is_none_or(|t| a.teams.iter().any(|x| x == t)))
            .filter(|a| {
                self.check_assignable(&a.id, Some(tier), load(&a.id))
                    .is_ok()
            })
            .min_by_key(|a| {
                let speaks = a.languages.is_empty() || a.languages.contains(&primary);
                (!speaks, load(&a.id), a.id.clone())
            })
            .map(|a| a.id.clone())
    }

    /// Routes a new case with `rules` (the rules in force, or a draft), then applies
    /// the sensitive floor the domain requires whatever the rules' order.
    pub fn route_with(
        &self,
        rules: &CompiledRuleSet,
        case: &crate::domain::OpenCase,
    ) -> RouteDecision {
        let mut decision = rules.route(case);
        crate::routing::enforce_sensitive_floor(&mut decision, case, &self.tiers);
        // A sensitive case routed without a team (`sensitive-social`, or moved up to
        // the floor) goes to its tier's default team, so it is in some team's queue.
        if let (true, None, Some(tier)) = (
            decision.actions.sensitive,
            &decision.actions.team,
            &decision.actions.tier,
        ) {
            if let Some(team) = self.tier_teams().default_for(&Tier::new(tier.clone())) {
                decision.actions.team = Some(team.to_string());
                decision.explanation.push(format!(
                    "no team named: sent to team `{team}`, the default team of tier {tier}"
                ));
            }
        }
        decision
    }

    /// Routes a new case with the rules in force; see [`route_with`](Self::route_with).
    pub fn route(&self, case: &crate::domain::OpenCase) -> RouteDecision {
        self.route_with(&self.rules, case)
    }

    /// A draft rule set checked as `setRules` would check it (tiers, teams and their
    /// tiers, patterns) and compiled, for trying it out without saving it.
    pub fn compile_draft(&self, rules: &RuleSet) -> Result<CompiledRuleSet, ConfigError> {
        rules.validate(&self.tiers, Some(&self.team_names()))?;
        self.check_rule_teams(rules)?;
        Ok(rules.compile()?)
    }

    /// Checks that every rule (and the default route) that names a team routes to
    /// that team's tier.
    pub fn check_rule_teams(&self, rules: &RuleSet) -> Result<(), ConfigError> {
        let default_tier = rules.default.tier.as_deref().unwrap_or_default();
        let origins = std::iter::once(("the default route".to_string(), &rules.default)).chain(
            rules
                .rules
                .iter()
                .map(|r| (format!("rule `{}`", r.id), &r.actions)),
        );
        for (origin, actions) in origins {
            let (Some(team), tier) = (
                &actions.team,
                actions.tier.as_deref().unwrap_or(default_tier),
            ) else {
                continue;
            };
            if let Some(t) = self.teams.get(team.trim()) {
                if t.tier != tier {
                    return Err(ConfigError::Invalid(format!(
                        "{origin} routes to team `{team}` at tier `{tier}`, but the team works `{}`",
                        t.tier
                    )));
                }
            }
        }
        Ok(())
    }

    /// Checks a hand-made route's team: it must exist and work the routed tier.
    pub fn check_route(&self, tier: &Tier, team: Option<&str>) -> Result<(), ConfigError> {
        let Some(team) = team else {
            return Ok(());
        };
        let t = self
            .teams
            .get(team)
            .ok_or_else(|| ConfigError::NotFound(format!("team `{team}`")))?;
        if t.tier != tier.0 {
            return Err(ConfigError::Invalid(format!(
                "team `{team}` works tier `{}`, not `{tier}`",
                t.tier
            )));
        }
        Ok(())
    }
}

/// Decides one configuration change against the configuration in force.
pub fn decide(config: &Config, command: ConfigCommand) -> Result<Vec<ConfigEvent>, ConfigError> {
    let event = match command {
        ConfigCommand::SetTiers(names) => {
            let ladder = TierLadder::new(names)?;
            for team in config.teams.values() {
                if ladder.get(&team.tier).is_err() {
                    return Err(ConfigError::Invalid(format!(
                        "team `{}` works tier `{}`, which the new tiers drop",
                        team.name, team.tier
                    )));
                }
            }
            for agent in config.agents.values() {
                if let Some(t) = agent.tiers.iter().find(|t| ladder.get(t).is_err()) {
                    return Err(ConfigError::Invalid(format!(
                        "agent `{}` works tier `{t}`, which the new tiers drop",
                        agent.id
                    )));
                }
            }
            // Before the first rule set (seeding), there are no rules to keep valid.
            if config.rule_set().version > 0 {
                config
                    .rule_set()
                    .validate(&ladder, Some(&config.team_names()))?;
            }
            ConfigEvent::TiersSet(TiersSet {
                tiers: ladder.tiers().iter().map(|t| t.0.to_string()).collect(),
            })
        }
        ConfigCommand::CreateTeam(team) => {
            let team = team_checked(config, team)?;
            if config.teams.contains_key(&team.name) {
                return Err(ConfigError::Exists(format!("team `{}`", team.name)));
            }
            ConfigEvent::TeamSaved(team)
        }
        ConfigCommand::UpdateTeam(team) => {
            let team = team_checked(config, team)?;
            if !config.teams.contains_key(&team.name) {
                return Err(ConfigError::NotFound(format!("team `{}`", team.name)));
            }
            // Moving a team to another tier must not break a sensitive rule's floor.
            let mut after = config.clone();
            after.teams.insert(team.name.clone(), team.clone());
            after
                .rule_set()
                .validate(&after.tiers, Some(&after.team_names()))?;
            after.check_rule_teams(after.rule_set())?;
            ConfigEvent::TeamSaved(team)
        }
        ConfigCommand::RemoveTeam(name) => {
            if !config.teams.contains_key(&name) {
                return Err(ConfigError::NotFound(format!("team `{name}`")));
            }
            if let Some(a) = config.team_members(&name).next() {
                return Err(ConfigError::Invalid(format!(
                    "team `{name}` still has members (e.g. `{}`); move them first",
                    a.id
                )));
            }
            let rules = config.rule_set();
            let routed_here = |t: &Option<String>| t.as_deref() == Some(name.as_str());
            if let Some(r) = rules.rules.iter().find(|r| routed_here(&r.actions.team)) {
                return Err(ConfigError::Invalid(format!(
                    "rule `{}` routes to team `{name}`; change the rules first",
                    r.id
                )));
            }
            if routed_here(&rules.default.team) {
                return Err(ConfigError::Invalid(format!(
                    "the default route goes to team `{name}`; change the rules first"
                )));
            }
            ConfigEvent::TeamRemoved(TeamRemoved { name })
        }
        ConfigCommand::AddAgent(agent) => {
            let agent = agent_checked(config, agent)?;
            if config.agents.contains_key(&agent.id) {
                return Err(ConfigError::Exists(format!("agent `{}`", agent.id)));
            }
            ConfigEvent::AgentSaved(agent)
        }
        ConfigCommand::UpdateAgent(agent) => {
            let agent = agent_checked(config, agent)?;
            if !config.agents.contains_key(&agent.id) {
                return Err(ConfigError::NotFound(format!("agent `{}`", agent.id)));
            }
            ConfigEvent::AgentSaved(agent)
        }
        ConfigCommand::RemoveAgent(id) => {
            if !config.agents.contains_key(&id) {
                return Err(ConfigError::NotFound(format!("agent `{id}`")));
            }
            if config.rapid_rotation.responders.contains(&id) {
                return Err(ConfigError::Invalid(format!(
                    "agent `{id}` is in the rapid-responder rotation; change it first"
                )));
            }
            ConfigEvent::AgentRemoved(AgentRemoved { id })
        }
        ConfigCommand::SetRules {
            rules,
            expected_version,
        } => {
            let current = config.rule_set().version;
            if let Some(expected) = expected_version.filter(|e| *e != current) {
                return Err(ConfigError::VersionConflict { expected, current });
            }
            rules_event(config, rules)?
        }
        ConfigCommand::MoveRule { rule_id, position } => {
            let mut rules = config.rule_set().clone();
            let from = rule_index(&rules, &rule_id)?;
            if position >= rules.rules.len() {
                return Err(ConfigError::Invalid(format!(
                    "position {position} is past the last rule (0-{})",
                    rules.rules.len() - 1
                )));
            }
            let rule = rules.rules.remove(from);
            rules.rules.insert(position, rule);
            rules_event(config, rules)?
        }
        ConfigCommand::EnableRule { rule_id, enabled } => {
            let mut rules = config.rule_set().clone();
            let i = rule_index(&rules, &rule_id)?;
            rules.rules[i].enabled = enabled;
            rules_event(config, rules)?
        }
        ConfigCommand::SaveCalendar(calendar) => {
            let mut sla = config.sla.clone();
            sla.calendars.insert(calendar.id.clone(), calendar.clone());
            sla.validate()?;
            ConfigEvent::CalendarSaved(calendar)
        }
        ConfigCommand::RemoveCalendar(id) => {
            if !config.sla.calendars.contains_key(&id) {
                return Err(ConfigError::NotFound(format!("calendar `{id}`")));
            }
            let mut sla = config.sla.clone();
            sla.calendars.remove(&id);
            sla.validate()?;
            ConfigEvent::CalendarRemoved(CalendarRemoved { id })
        }
        ConfigCommand::SetSlaPolicy(policy) => {
            let mut policies = config.sla.policies.clone();
            match policies.iter_mut().find(|p| p.id == policy.id) {
                Some(p) => *p = policy,
                None => policies.push(policy),
            }
            sla_event(config, policies)?
        }
        ConfigCommand::SetCustomer(customer) => {
            ConfigEvent::CustomerSaved(customer_checked(customer)?)
        }
        ConfigCommand::RemoveCustomer(id) => {
            if !config.customers.contains_key(&id) {
                return Err(ConfigError::NotFound(format!("customer `{id}`")));
            }
            ConfigEvent::CustomerRemoved(CustomerRemoved { id })
        }
        ConfigCommand::SetSkillMap(entries) => ConfigEvent::SkillMapSet(skills::checked(entries)?),
        ConfigCommand::SetRapidRotation(r) => {
            ConfigEvent::RapidRotationSet(rotation::checked(config, r)?)
        }
        ConfigCommand::RemoveSlaPolicy(id) => {
            let mut policies = config.sla.policies.clone();
            let before = policies.len();
            policies.retain(|p| p.id != id);
            if policies.len() == before {
                return Err(ConfigError::NotFound(format!("SLA policy `{id}`")));
            }
            sla_event(config, policies)?
        }
    };
    Ok(vec![event])
}

fn sla_event(config: &Config, policies: Vec<SlaPolicy>) -> Result<ConfigEvent, ConfigError> {
    let sla = SlaConfig {
        policies,
        ..config.sla.clone()
    };
    sla.validate()?;
    Ok(ConfigEvent::SlaPoliciesSet(SlaPoliciesSet {
        policies: sla.policies,
    }))
}

fn rule_index(rules: &RuleSet, id: &str) -> Result<usize, ConfigError> {
    rules
        .rules
        .iter()
        .position(|r| r.id == id)
        .ok_or_else(|| ConfigError::NotFound(format!("rule `{id}`")))
}

/// Validates a new rule set and gives it the next version.
fn rules_event(config: &Config, mut rules: RuleSet) -> Result<ConfigEvent, ConfigError> {
    rules.validate(&config.tiers, Some(&config.team_names()))?;
    config.check_rule_teams(&rules)?;
    rules.version = config.rule_set().version + 1;
    Ok(ConfigEvent::RulesSet(rules))
}

fn name(field: &str, value: &str, max: usize) -> Result<String, ConfigError> {
    let v = value.trim();
    if v.is_empty() || v.len() > max {
        return Err(ConfigError::Invalid(format!(
            "{field} must have 1-{max} bytes"
        )));
    }
    Ok(v.to_string())
}

fn list(field: &str, values: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let v = name(field, &v, 64)?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.len() > 64 {
        return Err(ConfigError::Invalid(format!("at most 64 {field}s")));
    }
    Ok(out)
}

fn team_checked(config: &Config, team: Team) -> Result<Team, ConfigError> {
    let team = Team {
        name: name("team name", &team.name, crate::routing::rule::MAX_TEAM)?,
        tier: config.tiers.get(team.tier.trim())?.0.into(),
        description: team.description.trim().chars().take(500).collect(),
        calendar: team.calendar.map(|c| c.trim().to_string()),
    };
    if let Some(c) = &team.calendar {
        if config.sla.calendar(c).is_none() {
            return Err(ConfigError::NotFound(format!("calendar `{c}`")));
        }
    }
    Ok(team)
}

fn customer_checked(customer: Customer) -> Result<Customer, ConfigError> {
    Ok(Customer {
        id: name("customer id", &customer.id, 128)?,
        name: customer.name.trim().chars().take(200).collect(),
        ..customer
    })
}

fn agent_checked(config: &Config, agent: Agent) -> Result<Agent, ConfigError> {
    let tiers = list("tier", agent.tiers)?;
    for t in &tiers {
        config.tiers.get(t)?;
    }
    let teams = list("team", agent.teams)?;
    if let Some(t) = teams.iter().find(|t| !config.teams.contains_key(*t)) {
        return Err(ConfigError::NotFound(format!("team `{t}`")));
    }
    if tiers.is_empty() && teams.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "agent `{}` needs at least one tier or team",
            agent.id
        )));
    }
    if agent.max_cases == 0 || agent.max_cases > MAX_CAPACITY {
        return Err(ConfigError::Invalid(format!(
            "maxCases must be 1-{MAX_CAPACITY}"
        )));
    }
    Ok(Agent {
        name: name("agent name", &agent.name, 200)?,
        tiers,
        teams,
        skills: list("skill", agent.skills)?
            .into_iter()
            .map(|s| s.to_lowercase())
            .collect(),
        languages: list("language", agent.languages)?
            .into_iter()
            .map(|s| s.to_lowercase())
            .collect(),
        ..agent
    })
}

/// What a fresh store's configuration starts from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigSeed {
    pub tiers: Vec<String>,
    pub teams: Vec<Team>,
    pub agents: Vec<Agent>,
    pub rules: RuleSet,
    pub calendars: Vec<Calendar>,
    pub sla_policies: Vec<SlaPolicy>,
    /// The customer directory (segment, key account) to start with.
    #[serde(default)]
    pub customers: Vec<Customer>,
    /// Tags and keywords to the skills a case with them needs.
    #[serde(default)]
    pub skill_map: Vec<skills::SkillMapping>,
    /// The rapid-responder rotation (none when it has no responders).
    #[serde(default)]
    pub rapid_rotation: rotation::RapidRotation,
}

impl ConfigSeed {
    /// The standard setup for a ladder: the standard rule set and its teams
    /// (`general` at the front line, `key-accounts` and `incident` at the sensitive
    /// floor), with the default route sent to `default_tier`/`default_team` if given.
    pub fn standard(
        tiers: TierLadder,
        default_tier: Option<&str>,
        default_team: Option<&str>,
    ) -> ConfigSeed {
        let mut rules = RuleSet::standard(&tiers);
        if let Some(t) = default_tier {
            rules.default.tier = Some(t.to_string());
        }
        if let Some(t) = default_team {
            rules.default.team = Some(t.to_string());
        }
        let floor = sensitive_floor(&tiers).0;
        let mut teams: Vec<Team> = STANDARD_TEAMS
            .iter()
            .map(|name| Team {
                name: name.to_string(),
                tier: if *name == "general" {
                    front_line(&tiers).0.into()
                } else {
                    floor.to_string()
                },
                description: String::new(),
                calendar: None,
            })
            .collect();
        if let (Some(team), Some(tier)) = (&rules.default.team, &rules.default.tier) {
            if let Some(t) = teams.iter_mut().find(|t| &t.name == team) {
                t.tier = tier.clone();
            } else {
                teams.push(Team {
                    name: team.clone(),
                    tier: tier.clone(),
                    description: String::new(),
                    calendar: None,
                });
            }
        }
        ConfigSeed {
            tiers: tiers.tiers().iter().map(|t| t.0.to_string()).collect(),
            teams,
            agents: Vec::new(),
            rules,
            calendars: Vec::new(),
            sla_policies: Vec::new(),
            customers: Vec::new(),
            skill_map: Vec::new(),
            rapid_rotation: rotation::RapidRotation::default(),
        }
    }

    /// Just a ladder and a default route to `tier`: no rules, teams or agents.
    pub fn minimal(tiers: TierLadder, tier: &str) -> ConfigSeed {
        ConfigSeed {
            tiers: tiers.tiers().iter().map(|t| t.0.to_string()).collect(),
            teams: Vec::new(),
            agents: Vec::new(),
            rules: RuleSet {
                version: 1,
                rules: Vec::new(),
                default: crate::routing::Actions {
                    tier: Some(tier.to_string()),
                    ..Default::default()
                },
            },
            calendars: Vec::new(),
            sla_policies: Vec::new(),
            customers: Vec::new(),
            skill_map: Vec::new(),
            rapid_rotation: rotation::RapidRotation::default(),
        }
    }

    /// The commands that build this seed from nothing, in order.
    pub fn commands(&self) -> Vec<ConfigCommand> {
        let mut out = vec![ConfigCommand::SetTiers(self.tiers.clone())];
        out.extend(
            self.calendars
                .iter()
                .cloned()
                .map(ConfigCommand::SaveCalendar),
        );
        out.extend(self.teams.iter().cloned().map(ConfigCommand::CreateTeam));
        out.extend(self.agents.iter().cloned().map(ConfigCommand::AddAgent));
        out.push(ConfigCommand::SetRules {
            rules: self.rules.clone(),
            expected_version: None,
        });
        out.extend(
            self.sla_policies
                .iter()
                .cloned()
                .map(ConfigCommand::SetSlaPolicy),
        );
        out.extend(
            self.customers
                .iter()
                .cloned()
                .map(ConfigCommand::SetCustomer),
        );
        if !self.skill_map.is_empty() {
            out.push(ConfigCommand::SetSkillMap(self.skill_map.clone()));
        }
        if !self.rapid_rotation.responders.is_empty() {
            out.push(ConfigCommand::SetRapidRotation(self.rapid_rotation.clone()));
        }
        out
    }

    /// Decides the whole seed against an empty configuration: the events to append,
    /// or the first problem. The rule set keeps the seed's version (at least 1).
    pub fn events(&self) -> Result<Vec<ConfigEvent>, ConfigError> {
        let mut state = Config::empty();
        let mut events = Vec::new();
        for command in self.commands() {
            let mut decided = decide(&state, command)?;
            for e in &mut decided {
                if let ConfigEvent::RulesSet(r) = e {
                    r.version = self.rules.version.max(1);
                }
                state.apply(e, state.version + 1);
            }
            events.extend(decided);
        }
        Ok(events)
    }

    /// The configuration this seed gives.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let mut state = Config::empty();
        for (i, e) in self.events()?.iter().enumerate() {
            state.apply(e, i as u64 + 1);
        }
        Ok(state)
    }
}

impl Config {
    /// Nothing configured yet: one placeholder tier, no teams, no rules. Only the
    /// starting point of a fold; it routes everything to the placeholder.
    pub fn empty() -> Config {
        let tiers = TierLadder::new(["L1"]).expect("static ladder is valid");
        let rules = RuleSet {
            version: 0,
            rules: Vec::new(),
            default: crate::routing::Actions {
                tier: Some("L1".into()),
                ..Default::default()
            },
        };
        Config {
            version: 0,
            tiers,
            teams: BTreeMap::new(),
            agents: BTreeMap::new(),
            rules: CompiledRuleSet::new(rules).expect("static rule set is valid"),
            sla: SlaConfig::default(),
            customers: BTreeMap::new(),
            skill_map: BTreeMap::new(),
            rapid_rotation: rotation::RapidRotation::default(),
        }
    }
}

#[cfg(test)]
mod tests;
