//! The configuration in force: folded from the config stream at start (seeded when
//! empty), changed by decided configuration commands, checked against by case
//! commands (routes, assignees, swarm members), and past rule sets read back.

use std::sync::Arc;
use tracing::{info_span, Instrument};

use super::record::append_request;
use super::record::Recordable;
use super::{AppError, Desk, MAX_RETRIES};
use crate::config::{self, Config, ConfigCommand, ConfigEvent, ConfigSeed};
use crate::domain::{Actor, Case, Command};
use crate::policy;
use crate::routing::RuleSet;
use crate::store::ExpectedVersion;

impl Desk {
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
    pub(super) async fn reload_config(&self) -> Result<(), AppError> {
        let records = self
            .store
            .read_stream(config::CONFIG_STREAM, 1, usize::MAX)
            .await?;
        let mut state = Config::empty();
        for r in &records {
            state.apply(&ConfigEvent::from_record(r)?, r.version);
        }
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(state);
        Ok(())
    }

    /// Appends decided configuration events after `expected` and puts the new
    /// configuration in force.
    pub(super) async fn append_config(
        &self,
        by: &Actor,
        expected: u64,
        events: &[ConfigEvent],
    ) -> Result<Arc<Config>, AppError> {
        let mut events = events.to_vec();
        if let Some(vault) = &self.vault {
            for e in &mut events {
                crate::shred::personal::seal_config_event(vault, e)?;
            }
        }
        let events = &events[..];
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

    /// The rule set with `version`, as it was recorded on the config stream.
    pub async fn rule_set_at(&self, version: u64) -> Result<Option<RuleSet>, AppError> {
        for r in self
            .store
            .read_stream(config::CONFIG_STREAM, 1, usize::MAX)
            .await?
        {
            if let ConfigEvent::RulesSet(rules) = ConfigEvent::from_record(&r)? {
                if rules.version == version {
                    return Ok(Some(rules));
                }
            }
        }
        Ok(None)
    }

    /// Checks a command against the configuration: a hand-made route names a team
    /// that works its tier; an assignee works the case's tier and has room; nobody is
    /// assigned, made a swarm's lead or pulled into its swarm who could not read the
    /// case ([`policy::could_hold`]).
    pub(super) fn check_config(&self, case: &Case, command: &Command) -> Result<(), AppError> {
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
        let config = self.config();
        if !policy::could_hold(&self.principal_of(target), case, &config.tiers) {
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
}
