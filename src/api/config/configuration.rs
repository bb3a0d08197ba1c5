//! The configuration as a whole, as staff read it: version, tier ladder, teams,
//! agents, rules, calendars, SLA policies, the skill map and the rapid-responder rotation.

use async_graphql::SimpleObject;

use super::directory::{agent_obj, team_obj, AgentObj, TeamObj};
use super::rules::RuleSetObj;
use super::sla::{CalendarObj, SlaPolicyObj};
use crate::api::guard::Guard;
use crate::config::Config;

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
    /// Tags and keywords to the skills a new case with them needs, by term.
    pub skill_map: Vec<super::skills::SkillMappingObj>,
    /// Who answers `SEVERITY_1` swarms first, by shift.
    pub rapid_rotation: super::rotation::RapidRotationObj,
}

pub(super) fn configuration(g: &Guard, config: &Config) -> ConfigurationObj {
    ConfigurationObj {
        version: config.version,
        tiers: config
            .tiers
            .tiers()
            .iter()
            .map(|t| t.0.to_string())
            .collect(),
        teams: config.teams.values().map(|t| team_obj(config, t)).collect(),
        agents: config
            .agents
            .values()
            .map(|a| agent_obj(g, config, a))
            .collect(),
        rules: config.rule_set().into(),
        calendars: config.sla.calendars.values().map(Into::into).collect(),
        sla_policies: config.sla.policies.iter().map(Into::into).collect(),
        skill_map: super::skills::skill_map(config),
        rapid_rotation: super::rotation::rapid_rotation(g, config),
    }
}
