//! The configuration API: tiers, teams, agents and routing rules (read by staff,
//! changed by admins, each change an event on the config stream), plus the routing
//! tools: `previewRoute` (which rule would match a case, and why) and
//! `simulateRules` (how a proposed rule set would have routed past cases).
//!
//! One file per concern; the two roots here stay thin and call into them:
//! - `rules.rs`: routing rule-set inputs and objects, and their conversions
//! - `directory.rs`: teams, agents and customer records
//! - `sla.rs`: business-hours calendars and SLA policies
//! - `configuration.rs`: the whole configuration as read by staff
//! - `skills.rs`, `rotation.rs`: the skill map and the rapid-responder rotation
//! - `routing_tools.rs`: `previewRoute`, `simulateRules` and the case-to-route conversion

mod configuration;
mod directory;
pub mod rotation;
mod routing_tools;
mod rules;
pub mod skills;
mod sla;

use async_graphql::{Context, Object, Result};
use std::sync::Arc;

use super::error::bad_input;
use super::guard::Guard;
use super::types::{CustomerInput, CustomerObj, DateTime, OpenCaseInput};
use crate::config::{Config, ConfigCommand};

pub use configuration::ConfigurationObj;
pub use directory::{AgentInput, AgentObj, TeamInput, TeamObj};
pub(crate) use routing_tools::open_case;
pub use routing_tools::{
    ChangedCaseObj, PlacementObj, RoutePreview, RoutingCount, SimulationReport,
};
pub use rules::{
    ConditionInput, RegexInput, RuleActionsInput, RuleActionsObj, RuleInput, RuleObj, RuleSetInput,
    RuleSetObj, TextMatchInput,
};
pub use sla::{
    CalendarInput, CalendarObj, EscalationStepObj, SlaPolicyInput, SlaPolicyObj, Weekday,
    WorkingHoursObj,
};

use configuration::configuration;
pub(crate) use directory::agent_id;
use directory::{agent_obj, team_of};
use routing_tools::{preview, MAX_CHANGES};

#[derive(Default)]
pub struct ConfigQuery;

#[Object]
impl ConfigQuery {
    /// The configuration in force: tiers, teams, agents and routing rules (staff).
    async fn configuration(&self, ctx: &Context<'_>) -> Result<ConfigurationObj> {
        let g = Guard::of(ctx)?;
        let config = g.config()?;
        Ok(configuration(&g, &config))
    }

    /// The rule set of a given version, as recorded when it came into force (every
    /// routed case records the version that routed it). Staff only.
    async fn rule_set(&self, ctx: &Context<'_>, version: u64) -> Result<Option<RuleSetObj>> {
        let found = Guard::of(ctx)?.rule_set_at(version).await?;
        Ok(found.as_ref().map(Into::into))
    }

    /// The customer directory: each customer's segment and key-account status, which
    /// routing uses instead of anything a customer says about themselves. Staff.
    async fn customers(&self, ctx: &Context<'_>) -> Result<Vec<CustomerObj>> {
        let config = Guard::of(ctx)?.config()?;
        Ok(config.customers.values().map(Into::into).collect())
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
        let config = Guard::of(ctx)?.config_for_routing()?;
        let customer = input.customer.id.clone();
        let open = open_case(input, customer);
        preview(&config, &open, rules)
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
        let g = Guard::of(ctx)?;
        g.require_lead()?;
        if to.0 <= from.0 {
            return Err(bad_input("`to` must be after `from`"));
        }
        let sim = g
            .simulate_rules(rules.into(), from.0, to.0, MAX_CHANGES)
            .await?;
        Ok(sim.into())
    }
}

#[derive(Default)]
pub struct ConfigMutation;

async fn change(ctx: &Context<'_>, command: ConfigCommand) -> Result<(Guard, Arc<Config>)> {
    let g = Guard::of(ctx)?;
    let config = g.configure(command).await?;
    Ok((g, config))
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
    /// Leads and admins.
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

    /// Moves a rule to a 0-based position in the order. Leads and admins.
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
        let customer = directory::customer(input);
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

    /// Switches a rule on or off. Leads and admins.
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
