//! Configuration, routing tools and tokens through the guard: staff read the
//! configuration, leads and admins preview and simulate routing, admins change the
//! configuration and manage tokens. Who may do which is [`crate::policy`]'s.

use async_graphql::Result;
use std::sync::Arc;

use super::Guard;
use crate::api::error::gql;
use crate::auth::TokenInfo;
use crate::config::{Config, ConfigCommand};
use crate::domain::{AgentId, Role, Timestamp};
use crate::policy;
use crate::routing::simulate::Simulation;
use crate::routing::RuleSet;

impl Guard {
    /// The configuration in force (staff).
    pub fn config(&self) -> Result<Arc<Config>> {
        self.require_staff()?;
        Ok(self.app.config())
    }

    /// The configuration for routing previews (leads and admins).
    pub fn config_for_routing(&self) -> Result<Arc<Config>> {
        self.require_lead()?;
        Ok(self.app.config())
    }

    /// The rule set of a past version (staff).
    pub async fn rule_set_at(&self, version: u64) -> Result<Option<RuleSet>> {
        self.require_staff()?;
        self.app.rule_set_at(version).await.map_err(gql)
    }

    /// Replays the visible cases opened in `[from, to)` through `rules` (leads and
    /// admins); the others are only counted. Visibility is judged on each case's
    /// current state: a rule's condition over hidden bodies would otherwise be an oracle.
    pub async fn simulate_rules(
        &self,
        rules: RuleSet,
        from: Timestamp,
        to: Timestamp,
        max_changes: usize,
    ) -> Result<Simulation> {
        self.require_lead()?;
        let ladder = self.app.tiers();
        let who = &self.principal;
        let visible = |c: &crate::domain::Case| policy::can_read(who, c, &ladder);
        self.app
            .simulate_rules(rules, from, to, max_changes, &visible)
            .await
            .map_err(gql)
    }

    /// Changes the configuration (routing rules: leads and admins; the rest: admins);
    /// returns the configuration now in force.
    pub async fn configure(&self, command: ConfigCommand) -> Result<Arc<Config>> {
        policy::can_configure(&self.principal, &command).map_err(super::forbidden)?;
        self.app
            .configure(&self.principal.actor, command)
            .await
            .map_err(gql)
    }

    /// The accepted tokens, each with whether it has expired (admins).
    pub fn tokens(&self) -> Result<Vec<(TokenInfo, bool)>> {
        self.require_admin()?;
        let now = self.now();
        Ok(self
            .app
            .tokens()
            .list()
            .into_iter()
            .map(|t| {
                let expired = t.grant.expires_at.is_some_and(|e| e <= now);
                (t, expired)
            })
            .collect())
    }

    /// Issues a token (admins): the token, shown once, and its id.
    pub async fn issue_token(
        &self,
        user: AgentId,
        role: Role,
        tiers: Vec<String>,
        expires_at: Option<Timestamp>,
    ) -> Result<(String, String)> {
        self.require_admin()?;
        self.app
            .issue_token(&self.principal.actor, user, role, tiers, expires_at)
            .await
            .map_err(gql)
    }

    /// Revokes a token (admins).
    pub async fn revoke_token(&self, token_id: &str) -> Result<()> {
        self.require_admin()?;
        self.app
            .revoke_token(&self.principal.actor, token_id)
            .await
            .map_err(gql)
    }
}
