//! The configuration API: tiers, teams, agents and routing rules (read by staff,
//! changed by admins, each change an event on the config stream), plus the routing
//! tools: `previewRoute` (which rule would match a case, and why) and
//! `simulateRules` (how a proposed rule set would have routed past cases).

use async_graphql::{Context, InputObject, Json, Object, OneofObject, Result, SimpleObject, ID};
use std::sync::Arc;

use super::error::{bad_input, gql};
use super::guard;
use super::types::{
    Channel, CustomerInput, CustomerObj, DateTime, OpenCaseInput, Priority, Segment,
};
use crate::config::{Agent, Config, ConfigCommand, Team};
use crate::domain::{
    self, AgentId, Calendar, CaseId, Customer, EscalationStep, OpenCase, SlaPolicy, WorkingHours,
};
use crate::routing::simulate::{Counts, Placement, Simulation};
use crate::routing::{Actions, Condition, Rule, RuleSet};

/// Most changed cases a simulation lists.
const MAX_CHANGES: usize = 200;

// ---------------------------------------------------------------- inputs

/// A routing condition: set exactly one field. `all`/`any`/`not` combine others.
#[derive(OneofObject)]
pub enum ConditionInput {
    /// Every condition holds.
    All(Vec<ConditionInput>),
    /// At least one condition holds.
    Any(Vec<ConditionInput>),
    /// The condition does not hold.
    Not(Box<ConditionInput>),
    /// The case arrived on one of these channels.
    Channel(Vec<Channel>),
    /// One of these words occurs (case-insensitive, whole words).
    Keywords(TextMatchInput),
    /// The regular expression (Rust syntax) matches; add `(?i)` to ignore case.
    Regex(RegexInput),
    Segment(Segment),
    KeyAccount(bool),
    /// The case's language is one of these (`de` also matches `de-AT`).
    Language(Vec<String>),
    /// The case was opened with this tag.
    HasTag(String),
    /// The case was opened with one of these priorities.
    Priority(Vec<Priority>),
}

#[derive(InputObject)]
pub struct TextMatchInput {
    pub words: Vec<String>,
    #[graphql(default = true)]
    pub in_subject: bool,
    #[graphql(default = true)]
    pub in_body: bool,
}

#[derive(InputObject)]
pub struct RegexInput {
    pub pattern: String,
    #[graphql(default = true)]
    pub in_subject: bool,
    #[graphql(default = true)]
    pub in_body: bool,
}

/// What a matching rule does. Unset fields leave the case as opened; a rule without
/// a tier gets the default route's.
#[derive(InputObject)]
pub struct RuleActionsInput {
    pub tier: Option<String>,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    #[graphql(default)]
    pub tags: Vec<String>,
    /// Billing, account or health data: private channel, at least the sensitive tier.
    #[graphql(default)]
    pub sensitive: bool,
    /// Start a swarm led by the least loaded eligible agent of the team.
    #[graphql(default)]
    pub start_swarm: bool,
    /// Assign the least loaded eligible agent of the team.
    #[graphql(default)]
    pub auto_assign: bool,
}

#[derive(InputObject)]
pub struct RuleInput {
    pub id: String,
    #[graphql(default)]
    pub name: String,
    #[graphql(default = true)]
    pub enabled: bool,
    pub condition: ConditionInput,
    pub actions: RuleActionsInput,
}

/// An ordered rule set: the first enabled rule that matches routes the case; none
/// matching, the default route applies.
#[derive(InputObject)]
pub struct RuleSetInput {
    pub rules: Vec<RuleInput>,
    pub default: RuleActionsInput,
}

#[derive(InputObject)]
pub struct TeamInput {
    pub name: String,
    pub tier: String,
    #[graphql(default)]
    pub description: String,
    /// The business-hours calendar of its SLA clocks (24x7 when unset).
    pub calendar: Option<String>,
}

#[derive(InputObject)]
pub struct AgentInput {
    pub id: String,
    /// Display name; the id when empty.
    #[graphql(default)]
    pub name: String,
    /// Tiers worked directly, besides the teams' tiers.
    #[graphql(default)]
    pub tiers: Vec<String>,
    #[graphql(default)]
    pub teams: Vec<String>,
    #[graphql(default)]
    pub skills: Vec<String>,
    #[graphql(default)]
    pub languages: Vec<String>,
    /// Most open cases assigned at once.
    #[graphql(default = 10)]
    pub max_cases: u32,
}

impl From<ConditionInput> for Condition {
    fn from(c: ConditionInput) -> Self {
        let many = |cs: Vec<ConditionInput>| cs.into_iter().map(Into::into).collect();
        match c {
            ConditionInput::All(cs) => Condition::All(many(cs)),
            ConditionInput::Any(cs) => Condition::Any(many(cs)),
            ConditionInput::Not(c) => Condition::Not(Box::new((*c).into())),
            ConditionInput::Channel(cs) => {
                Condition::Channel(cs.into_iter().map(Into::into).collect())
            }
            ConditionInput::Keywords(k) => Condition::Keywords {
                words: k.words,
                in_subject: k.in_subject,
                in_body: k.in_body,
            },
            ConditionInput::Regex(r) => Condition::Regex {
                pattern: r.pattern,
                in_subject: r.in_subject,
                in_body: r.in_body,
            },
            ConditionInput::Segment(s) => Condition::Segment(s.into()),
            ConditionInput::KeyAccount(k) => Condition::KeyAccount(k),
            ConditionInput::Language(l) => Condition::Language(l),
            ConditionInput::HasTag(t) => Condition::HasTag(t),
            ConditionInput::Priority(ps) => {
                Condition::Priority(ps.into_iter().map(Into::into).collect())
            }
        }
    }
}

impl From<RuleActionsInput> for Actions {
    fn from(a: RuleActionsInput) -> Self {
        Actions {
            tier: a.tier,
            team: a.team,
            priority: a.priority.map(Into::into),
            tags: a.tags,
            sensitive: a.sensitive,
            start_swarm: a.start_swarm,
            auto_assign: a.auto_assign,
        }
    }
}

impl From<RuleSetInput> for RuleSet {
    fn from(r: RuleSetInput) -> Self {
        RuleSet {
            version: 0,
            rules: r
                .rules
                .into_iter()
                .map(|r| Rule {
                    name: if r.name.trim().is_empty() {
                        r.id.clone()
                    } else {
                        r.name
                    },
                    id: r.id,
                    enabled: r.enabled,
                    condition: r.condition.into(),
                    actions: r.actions.into(),
                })
                .collect(),
            default: r.default.into(),
        }
    }
}

fn agent_id(id: &str) -> Result<AgentId> {
    AgentId::new(id).map_err(|e| bad_input(e.to_string()))
}

impl AgentInput {
    fn into_agent(self) -> Result<Agent> {
        Ok(Agent {
            id: agent_id(&self.id)?,
            name: if self.name.trim().is_empty() {
                self.id.clone()
            } else {
                self.name
            },
            tiers: self.tiers,
            teams: self.teams,
            skills: self.skills,
            languages: self.languages,
            max_cases: self.max_cases,
        })
    }
}

impl From<TeamInput> for Team {
    fn from(t: TeamInput) -> Self {
        Team {
            name: t.name,
            tier: t.tier,
            description: t.description,
            calendar: t.calendar,
        }
    }
}

/// The domain's view of a case to route, from the API's input.
pub(crate) fn open_case(input: OpenCaseInput, customer_id: String) -> OpenCase {
    OpenCase {
        case_id: CaseId(ulid::Ulid::nil()),
        subject: input.subject,
        body: input.body,
        channel: input.channel.into(),
        customer: Customer {
            id: customer_id,
            name: input.customer.name,
            segment: input.customer.segment.into(),
            key_account: input.customer.key_account,
        },
        language: input.language,
        priority: input.priority.into(),
        tags: input.tags,
        requested_priority: None,
    }
}

#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// Working time on one weekday, local `HH:MM` to `HH:MM` (end exclusive; `24:00` is
/// midnight at the end of the day).
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "WorkingHoursInput")]
pub struct WorkingHoursObj {
    pub weekday: Weekday,
    pub start: String,
    pub end: String,
}

/// A business-hours calendar: weekly hours and holidays in a fixed UTC offset
/// (daylight saving time is not modelled).
#[derive(InputObject)]
pub struct CalendarInput {
    pub id: String,
    /// Local time minus UTC, in minutes (60 for UTC+01:00).
    #[graphql(default)]
    pub utc_offset_minutes: i32,
    pub hours: Vec<WorkingHoursObj>,
    /// Local dates (`YYYY-MM-DD`) without working time.
    #[graphql(default)]
    pub holidays: Vec<String>,
}

/// One step of a time-based escalation chain: when a clock has run this long
/// (business minutes) without its target met, these actions happen once.
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "EscalationStepInput")]
pub struct EscalationStepObj {
    pub after_minutes: u32,
    pub clock: super::types::SlaKind,
    #[graphql(default)]
    pub raise_priority: bool,
    #[graphql(default)]
    pub notify_lead: bool,
    #[graphql(default)]
    pub escalate_tier: bool,
}

/// An SLA policy: targets for cases of some priorities and segments. Policies are
/// checked in order; the first that matches a case applies.
#[derive(InputObject)]
pub struct SlaPolicyInput {
    pub id: String,
    #[graphql(default)]
    pub name: String,
    /// Empty: any priority.
    #[graphql(default)]
    pub priorities: Vec<Priority>,
    /// Empty: any segment.
    #[graphql(default)]
    pub segments: Vec<Segment>,
    pub first_response_minutes: Option<u32>,
    pub resolution_minutes: Option<u32>,
    /// A calendar id; unset: the routed team's calendar, else 24x7.
    pub calendar: Option<String>,
    #[graphql(default)]
    pub escalation: Vec<EscalationStepObj>,
}

fn hhmm(s: &str) -> Result<u16> {
    let bad = || bad_input(format!("`{s}` is not a time of day (HH:MM)"));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn fmt_hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl CalendarInput {
    fn into_calendar(self) -> Result<Calendar> {
        let mut hours = Vec::with_capacity(self.hours.len());
        for h in self.hours {
            hours.push(WorkingHours {
                weekday: WEEKDAYS.iter().position(|d| *d == h.weekday).unwrap_or(0) as u8,
                start_minute: hhmm(&h.start)?,
                end_minute: hhmm(&h.end)?,
            });
        }
        Ok(Calendar {
            id: self.id.trim().to_string(),
            utc_offset_minutes: self.utc_offset_minutes,
            hours,
            holidays: self.holidays,
        })
    }
}

impl From<SlaPolicyInput> for SlaPolicy {
    fn from(p: SlaPolicyInput) -> Self {
        SlaPolicy {
            name: if p.name.trim().is_empty() {
                p.id.clone()
            } else {
                p.name
            },
            id: p.id,
            priorities: p.priorities.into_iter().map(Into::into).collect(),
            segments: p.segments.into_iter().map(Into::into).collect(),
            first_response_mins: p.first_response_minutes,
            resolution_mins: p.resolution_minutes,
            calendar: p.calendar,
            escalation: p
                .escalation
                .into_iter()
                .map(|s| EscalationStep {
                    after_mins: s.after_minutes,
                    clock: s.clock.into(),
                    raise_priority: s.raise_priority,
                    notify_lead: s.notify_lead,
                    escalate_tier: s.escalate_tier,
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------- outputs

#[derive(SimpleObject)]
pub struct CalendarObj {
    pub id: String,
    pub utc_offset_minutes: i32,
    pub hours: Vec<WorkingHoursObj>,
    pub holidays: Vec<String>,
}

impl From<&Calendar> for CalendarObj {
    fn from(c: &Calendar) -> Self {
        CalendarObj {
            id: c.id.clone(),
            utc_offset_minutes: c.utc_offset_minutes,
            hours: c
                .hours
                .iter()
                .map(|h| WorkingHoursObj {
                    weekday: WEEKDAYS[(h.weekday as usize).min(6)],
                    start: fmt_hhmm(h.start_minute),
                    end: fmt_hhmm(h.end_minute),
                })
                .collect(),
            holidays: c.holidays.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub struct SlaPolicyObj {
    pub id: String,
    pub name: String,
    pub priorities: Vec<Priority>,
    pub segments: Vec<Segment>,
    pub first_response_minutes: Option<u32>,
    pub resolution_minutes: Option<u32>,
    pub calendar: Option<String>,
    pub escalation: Vec<EscalationStepObj>,
}

impl From<&SlaPolicy> for SlaPolicyObj {
    fn from(p: &SlaPolicy) -> Self {
        SlaPolicyObj {
            id: p.id.clone(),
            name: p.name.clone(),
            priorities: p.priorities.iter().map(|x| (*x).into()).collect(),
            segments: p.segments.iter().map(|x| (*x).into()).collect(),
            first_response_minutes: p.first_response_mins,
            resolution_minutes: p.resolution_mins,
            calendar: p.calendar.clone(),
            escalation: p
                .escalation
                .iter()
                .map(|s| EscalationStepObj {
                    after_minutes: s.after_mins,
                    clock: s.clock.into(),
                    raise_priority: s.raise_priority,
                    notify_lead: s.notify_lead,
                    escalate_tier: s.escalate_tier,
                })
                .collect(),
        }
    }
}

/// A routing condition, as JSON in the shape of `ConditionInput` (so it can be sent
/// back as is), e.g. `{"all": [{"channel": ["SOCIAL_DM"]}, {"keywords": {...}}]}`.
fn condition_json(c: &Condition) -> serde_json::Value {
    use serde_json::json;
    let many = |cs: &[Condition]| cs.iter().map(condition_json).collect::<Vec<_>>();
    match c {
        Condition::All(cs) => json!({ "all": many(cs) }),
        Condition::Any(cs) => json!({ "any": many(cs) }),
        Condition::Not(c) => json!({ "not": condition_json(c) }),
        Condition::Channel(cs) => {
            json!({ "channel": cs.iter().map(|c| c.as_str()).collect::<Vec<_>>() })
        }
        Condition::Keywords {
            words,
            in_subject,
            in_body,
        } => json!({ "keywords": { "words": words, "inSubject": in_subject, "inBody": in_body } }),
        Condition::Regex {
            pattern,
            in_subject,
            in_body,
        } => json!({ "regex": { "pattern": pattern, "inSubject": in_subject, "inBody": in_body } }),
        Condition::Segment(s) => json!({ "segment": s.as_str() }),
        Condition::KeyAccount(k) => json!({ "keyAccount": k }),
        Condition::Language(l) => json!({ "language": l }),
        Condition::HasTag(t) => json!({ "hasTag": t }),
        Condition::Priority(ps) => {
            json!({ "priority": ps.iter().map(|p| p.as_str()).collect::<Vec<_>>() })
        }
    }
}

/// What a rule (or the default route) does.
#[derive(SimpleObject)]
pub struct RuleActionsObj {
    pub tier: Option<String>,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub sensitive: bool,
    pub start_swarm: bool,
    pub auto_assign: bool,
}

impl From<&Actions> for RuleActionsObj {
    fn from(a: &Actions) -> Self {
        RuleActionsObj {
            tier: a.tier.clone(),
            team: a.team.clone(),
            priority: a.priority.map(Into::into),
            tags: a.tags.clone(),
            sensitive: a.sensitive,
            start_swarm: a.start_swarm,
            auto_assign: a.auto_assign,
        }
    }
}

#[derive(SimpleObject)]
pub struct RuleObj {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// In the shape of `ConditionInput`.
    pub condition: Json<serde_json::Value>,
    pub actions: RuleActionsObj,
}

/// An ordered rule set and its version (recorded on every case it routed).
#[derive(SimpleObject)]
pub struct RuleSetObj {
    pub version: u64,
    pub rules: Vec<RuleObj>,
    pub default: RuleActionsObj,
}

impl From<&RuleSet> for RuleSetObj {
    fn from(r: &RuleSet) -> Self {
        RuleSetObj {
            version: r.version,
            rules: r
                .rules
                .iter()
                .map(|r| RuleObj {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    enabled: r.enabled,
                    condition: Json(condition_json(&r.condition)),
                    actions: (&r.actions).into(),
                })
                .collect(),
            default: (&r.default).into(),
        }
    }
}

/// A team of agents working one tier.
#[derive(SimpleObject)]
pub struct TeamObj {
    pub name: String,
    pub tier: String,
    pub description: String,
    /// Agents listing the team.
    pub members: Vec<String>,
}

fn team_obj(config: &Config, t: &Team) -> TeamObj {
    TeamObj {
        name: t.name.clone(),
        tier: t.tier.clone(),
        description: t.description.clone(),
        members: config
            .team_members(&t.name)
            .map(|a| a.id.to_string())
            .collect(),
    }
}

/// An agent in the directory, with their current load.
#[derive(SimpleObject)]
pub struct AgentObj {
    pub id: String,
    pub name: String,
    pub tiers: Vec<String>,
    pub teams: Vec<String>,
    /// Every tier the agent works: their own and their teams'.
    pub works_tiers: Vec<String>,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub max_cases: u32,
    /// Open cases assigned to them now.
    pub open_cases: u32,
    /// Active swarms they are in now.
    pub swarms: u32,
}

fn agent_obj(g: &guard::Guard, config: &Config, a: &Agent) -> AgentObj {
    let (open_cases, swarms) = g
        .app
        .projections()
        .read()
        .workload(&a.id)
        .map_or((0, 0), |w| (w.assigned.len() as u32, w.swarms.len() as u32));
    AgentObj {
        id: a.id.to_string(),
        name: a.name.clone(),
        tiers: a.tiers.clone(),
        teams: a.teams.clone(),
        works_tiers: config.agent_tiers(&a.id).into_iter().map(|t| t.0).collect(),
        skills: a.skills.clone(),
        languages: a.languages.clone(),
        max_cases: a.max_cases,
        open_cases,
        swarms,
    }
}

/// The configuration in force.
#[derive(SimpleObject)]
pub struct ConfigurationObj {
    /// The config stream's version: it grows with every change.
    pub version: u64,
    /// Lowest first.
    pub tiers: Vec<String>,
    pub teams: Vec<TeamObj>,
    pub agents: Vec<AgentObj>,
    pub rules: RuleSetObj,
    pub calendars: Vec<CalendarObj>,
    /// In order: the first matching policy applies to a routed case.
    pub sla_policies: Vec<SlaPolicyObj>,
}

fn configuration(g: &guard::Guard, config: &Config) -> ConfigurationObj {
    ConfigurationObj {
        version: config.version,
        tiers: config.tiers.tiers().iter().map(|t| t.0.clone()).collect(),
        teams: config.teams.values().map(|t| team_obj(config, t)).collect(),
        agents: config
            .agents
            .values()
            .map(|a| agent_obj(g, config, a))
            .collect(),
        rules: config.rule_set().into(),
        calendars: config.sla.calendars.values().map(Into::into).collect(),
        sla_policies: config.sla.policies.iter().map(Into::into).collect(),
    }
}

/// Which rule would route a case, and why.
#[derive(SimpleObject)]
pub struct RoutePreview {
    /// The matching rule; null when the default route applies.
    pub rule_id: Option<String>,
    pub rule_name: Option<String>,
    pub rule_set_version: u64,
    pub actions: RuleActionsObj,
    /// One line per rule checked, in order, then the route taken.
    pub explanation: Vec<String>,
}

/// Where a case went, or would go.
#[derive(SimpleObject)]
pub struct PlacementObj {
    pub tier: String,
    pub team: Option<String>,
    pub rule_id: Option<String>,
}

impl From<&Placement> for PlacementObj {
    fn from(p: &Placement) -> Self {
        PlacementObj {
            tier: p.tier.clone(),
            team: p.team.clone(),
            rule_id: p.rule_id.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub struct ChangedCaseObj {
    pub case_id: ID,
    pub subject: String,
    pub before: PlacementObj,
    pub after: PlacementObj,
}

/// Cases per tier or team: as routed, and as the proposed rules would route them.
#[derive(SimpleObject)]
pub struct RoutingCount {
    /// A tier or team name (`""` for cases without a team).
    pub name: String,
    pub before: u64,
    pub after: u64,
}

fn counts(m: &std::collections::BTreeMap<String, Counts>) -> Vec<RoutingCount> {
    m.iter()
        .map(|(name, c)| RoutingCount {
            name: name.clone(),
            before: c.before,
            after: c.after,
        })
        .collect()
}

/// How a proposed rule set would have routed the cases of a past period.
#[derive(SimpleObject)]
pub struct SimulationReport {
    /// Cases replayed: those opened in the period that you may see.
    pub cases: u64,
    /// Cases opened in the period that you may not see: not replayed, and counted
    /// nowhere else in this report.
    pub hidden_cases: u64,
    /// Cases whose tier, team or deciding rule would differ.
    pub changed: u64,
    pub by_tier: Vec<RoutingCount>,
    pub by_team: Vec<RoutingCount>,
    /// The changed cases, oldest first (at most 200).
    pub changes: Vec<ChangedCaseObj>,
}

impl From<Simulation> for SimulationReport {
    fn from(s: Simulation) -> Self {
        SimulationReport {
            cases: s.cases,
            hidden_cases: s.hidden,
            changed: s.changed,
            by_tier: counts(&s.by_tier),
            by_team: counts(&s.by_team),
            changes: s
                .changes
                .iter()
                .map(|c| ChangedCaseObj {
                    case_id: ID(c.case_id.to_string()),
                    subject: c.subject.clone(),
                    before: (&c.before).into(),
                    after: (&c.after).into(),
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------- roots

#[derive(Default)]
pub struct ConfigQuery;

#[Object]
impl ConfigQuery {
    /// The configuration in force: tiers, teams, agents and routing rules (staff).
    async fn configuration(&self, ctx: &Context<'_>) -> Result<ConfigurationObj> {
        let g = guard(ctx)?;
        g.require_staff()?;
        Ok(configuration(&g, &g.app.config()))
    }

    /// The rule set of a given version, as recorded when it came into force (every
    /// routed case records the version that routed it). Staff only.
    async fn rule_set(&self, ctx: &Context<'_>, version: u64) -> Result<Option<RuleSetObj>> {
        let g = guard(ctx)?;
        g.require_staff()?;
        let found = g.app.rule_set_at(version).await.map_err(gql)?;
        Ok(found.as_ref().map(Into::into))
    }

    /// The customer directory: each customer's segment and key-account status, which
    /// routing uses instead of anything a customer says about themselves. Staff.
    async fn customers(&self, ctx: &Context<'_>) -> Result<Vec<CustomerObj>> {
        let g = guard(ctx)?;
        g.require_staff()?;
        Ok(g.app.config().customers.values().map(Into::into).collect())
    }

    /// Which rule would route this case, and why, without writing anything. With
    /// `rules`, a draft rule set is previewed instead of the one in force. Leads and
    /// admins.
    async fn preview_route(
        &self,
        ctx: &Context<'_>,
        input: OpenCaseInput,
        rules: Option<RuleSetInput>,
    ) -> Result<RoutePreview> {
        let g = guard(ctx)?;
        g.require_lead()?;
        let customer = input.customer.id.clone();
        let open = open_case(input, customer);
        let config = g.app.config();
        let decision = match rules {
            Some(r) => {
                let draft = RuleSet::from(r);
                draft
                    .validate(&config.tiers, Some(&config.team_names()))
                    .map_err(|e| bad_input(e.to_string()))?;
                config
                    .check_rule_teams(&draft)
                    .map_err(|e| bad_input(e.to_string()))?;
                let compiled = draft.compile().map_err(|e| bad_input(e.to_string()))?;
                config.route_with(&compiled, &open)
            }
            None => config.route(&open),
        };
        Ok(RoutePreview {
            rule_id: decision.rule_id,
            rule_name: decision.rule_name,
            rule_set_version: decision.rule_set_version,
            actions: (&decision.actions).into(),
            explanation: decision.explanation,
        })
    }

    /// Replays the cases opened in `[from, to)` that you may see through a proposed
    /// rule set and reports how their routing would have differed; the others are
    /// only counted (`hiddenCases`). Writes nothing. Leads and admins.
    async fn simulate_rules(
        &self,
        ctx: &Context<'_>,
        rules: RuleSetInput,
        from: DateTime,
        to: DateTime,
    ) -> Result<SimulationReport> {
        let g = guard(ctx)?;
        g.require_lead()?;
        if to.0 <= from.0 {
            return Err(bad_input("`to` must be after `from`"));
        }
        // Only the cases the caller may read, judged on their current state: a
        // rule's condition over hidden bodies would otherwise be an oracle.
        let ladder = g.app.tiers();
        let who = &g.principal;
        let visible = |c: &domain::Case| crate::policy::can_read(who, c, &ladder);
        let sim = g
            .app
            .simulate_rules(rules.into(), from.0, to.0, MAX_CHANGES, &visible)
            .await
            .map_err(gql)?;
        Ok(sim.into())
    }
}

#[derive(Default)]
pub struct ConfigMutation;

async fn change(ctx: &Context<'_>, command: ConfigCommand) -> Result<(guard::Guard, Arc<Config>)> {
    let g = guard(ctx)?;
    g.require_admin()?;
    let config = g
        .app
        .configure(&g.principal.actor, command)
        .await
        .map_err(gql)?;
    Ok((g, config))
}

fn team_of(config: &Config, name: &str) -> Result<TeamObj> {
    let name = name.trim();
    config
        .teams
        .get(name)
        .map(|t| team_obj(config, t))
        .ok_or_else(|| super::error::not_found(format!("team {name}")))
}

#[Object]
impl ConfigMutation {
    /// Replaces the tier ladder (lowest first). Refused if a team, agent or rule
    /// still uses a tier it drops. Admins.
    async fn set_tiers(&self, ctx: &Context<'_>, tiers: Vec<String>) -> Result<ConfigurationObj> {
        let (g, config) = change(ctx, ConfigCommand::SetTiers(tiers)).await?;
        Ok(configuration(&g, &config))
    }

    /// Creates a team working one tier. Admins.
    async fn create_team(&self, ctx: &Context<'_>, input: TeamInput) -> Result<TeamObj> {
        let name = input.name.clone();
        let (_, config) = change(ctx, ConfigCommand::CreateTeam(input.into())).await?;
        team_of(&config, &name)
    }

    /// Changes a team's tier or description. Admins.
    async fn update_team(&self, ctx: &Context<'_>, input: TeamInput) -> Result<TeamObj> {
        let name = input.name.clone();
        let (_, config) = change(ctx, ConfigCommand::UpdateTeam(input.into())).await?;
        team_of(&config, &name)
    }

    /// Removes a team without members that no rule routes to. Admins.
    async fn remove_team(&self, ctx: &Context<'_>, name: String) -> Result<bool> {
        change(ctx, ConfigCommand::RemoveTeam(name)).await?;
        Ok(true)
    }

    /// Adds an agent to the directory. Admins.
    async fn add_agent(&self, ctx: &Context<'_>, input: AgentInput) -> Result<AgentObj> {
        let agent = input.into_agent()?;
        let id = agent.id.clone();
        let (g, config) = change(ctx, ConfigCommand::AddAgent(agent)).await?;
        Ok(agent_obj(&g, &config, &config.agents[&id]))
    }

    /// Replaces an agent's tiers, teams, skills, languages or capacity. Admins.
    async fn update_agent(&self, ctx: &Context<'_>, input: AgentInput) -> Result<AgentObj> {
        let agent = input.into_agent()?;
        let id = agent.id.clone();
        let (g, config) = change(ctx, ConfigCommand::UpdateAgent(agent)).await?;
        Ok(agent_obj(&g, &config, &config.agents[&id]))
    }

    /// Removes an agent from the directory (their cases stay assigned). Admins.
    async fn remove_agent(&self, ctx: &Context<'_>, id: String) -> Result<bool> {
        change(ctx, ConfigCommand::RemoveAgent(agent_id(&id)?)).await?;
        Ok(true)
    }

    /// Puts a new rule set in force for cases opened from now on (earlier cases keep
    /// their routing). With `expectedVersion`, refused with `VERSION_CONFLICT` unless
    /// that version is in force. Invalid rules are refused and the old set stays.
    /// Admins.
    async fn set_rules(
        &self,
        ctx: &Context<'_>,
        rules: RuleSetInput,
        expected_version: Option<u64>,
    ) -> Result<RuleSetObj> {
        let command = ConfigCommand::SetRules {
            rules: rules.into(),
            expected_version,
        };
        let (_, config) = change(ctx, command).await?;
        Ok(config.rule_set().into())
    }

    /// Moves a rule to a 0-based position in the order. Admins.
    async fn move_rule(
        &self,
        ctx: &Context<'_>,
        rule_id: String,
        position: u32,
    ) -> Result<RuleSetObj> {
        let command = ConfigCommand::MoveRule {
            rule_id,
            position: position as usize,
        };
        let (_, config) = change(ctx, command).await?;
        Ok(config.rule_set().into())
    }

    /// Creates or replaces a business-hours calendar. Admins.
    async fn set_calendar(&self, ctx: &Context<'_>, input: CalendarInput) -> Result<CalendarObj> {
        let calendar = input.into_calendar()?;
        let id = calendar.id.clone();
        let (_, config) = change(ctx, ConfigCommand::SaveCalendar(calendar)).await?;
        Ok((&config.sla.calendars[&id]).into())
    }

    /// Removes a calendar no team or policy uses. Admins.
    async fn remove_calendar(&self, ctx: &Context<'_>, id: String) -> Result<bool> {
        change(ctx, ConfigCommand::RemoveCalendar(id)).await?;
        Ok(true)
    }

    /// Creates an SLA policy (checked after the existing ones) or replaces the one
    /// with the same id in place. Applies to cases routed or re-prioritised from now
    /// on; cases keep the copy they got. Admins.
    async fn set_sla_policy(
        &self,
        ctx: &Context<'_>,
        input: SlaPolicyInput,
    ) -> Result<Vec<SlaPolicyObj>> {
        let (_, config) = change(ctx, ConfigCommand::SetSlaPolicy(input.into())).await?;
        Ok(config.sla.policies.iter().map(Into::into).collect())
    }

    /// Removes an SLA policy. Admins.
    async fn remove_sla_policy(&self, ctx: &Context<'_>, id: String) -> Result<bool> {
        change(ctx, ConfigCommand::RemoveSlaPolicy(id)).await?;
        Ok(true)
    }

    /// Adds a customer to the directory or changes their record (segment, key
    /// account, name). Cases opened afterwards are routed with it. Admins.
    async fn set_customer(&self, ctx: &Context<'_>, input: CustomerInput) -> Result<CustomerObj> {
        let customer = Customer {
            id: input.id,
            name: input.name,
            segment: input.segment.into(),
            key_account: input.key_account,
        };
        let (_, config) = change(ctx, ConfigCommand::SetCustomer(customer.clone())).await?;
        let saved = config
            .customers
            .get(customer.id.trim())
            .unwrap_or(&customer);
        Ok(saved.into())
    }

    /// Removes a customer from the directory: their later cases are routed as an
    /// unlisted customer's. Admins.
    async fn remove_customer(&self, ctx: &Context<'_>, id: String) -> Result<bool> {
        change(ctx, ConfigCommand::RemoveCustomer(id)).await?;
        Ok(true)
    }

    /// Switches a rule on or off. Admins.
    async fn enable_rule(
        &self,
        ctx: &Context<'_>,
        rule_id: String,
        enabled: bool,
    ) -> Result<RuleSetObj> {
        let (_, config) = change(ctx, ConfigCommand::EnableRule { rule_id, enabled }).await?;
        Ok(config.rule_set().into())
    }
}
