//! The directory in the API: teams and agents (inputs, their conversion to the
//! configuration's records, the objects read back with members and current load)
//! and the customer record an admin sets.

use async_graphql::{InputObject, Result, SimpleObject};

use crate::api::error::{bad_input, not_found};
use crate::api::guard::Guard;
use crate::api::types::CustomerInput;
use crate::config::{Agent, Config, Team};
use crate::domain::{AgentId, Customer};

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

pub(crate) fn agent_id(id: &str) -> Result<AgentId> {
    AgentId::new(id).map_err(|e| bad_input(e.to_string()))
}

impl AgentInput {
    pub(super) fn into_agent(self) -> Result<Agent> {
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

/// A team of agents working one tier.
#[derive(SimpleObject)]
pub struct TeamObj {
    pub name: String,
    pub tier: String,
    pub description: String,
    /// Agents listing the team.
    pub members: Vec<String>,
}

pub(super) fn team_obj(config: &Config, t: &Team) -> TeamObj {
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

pub(super) fn agent_obj(g: &Guard, config: &Config, a: &Agent) -> AgentObj {
    // Counted among the cases the caller may see.
    let load = g.visible_workload(&a.id);
    let (open_cases, swarms) = (load.assigned.len() as u32, load.swarms.len() as u32);
    AgentObj {
        id: a.id.to_string(),
        name: a.name.clone(),
        tiers: a.tiers.clone(),
        teams: a.teams.clone(),
        works_tiers: config
            .agent_tiers(&a.id)
            .into_iter()
            .map(|t| t.0.into())
            .collect(),
        skills: a.skills.clone(),
        languages: a.languages.clone(),
        max_cases: a.max_cases,
        open_cases,
        swarms,
    }
}

pub(super) fn team_of(config: &Config, name: &str) -> Result<TeamObj> {
    let name = name.trim();
    config
        .teams
        .get(name)
        .map(|t| team_obj(config, t))
        .ok_or_else(|| not_found(format!("team {name}")))
}

/// The directory's record of a customer, from the API's input.
pub(super) fn customer(input: CustomerInput) -> Customer {
    Customer {
        id: input.id,
        name: input.name,
        segment: input.segment.into(),
        key_account: input.key_account,
    }
}
