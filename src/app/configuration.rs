//! The configuration in force: folded from the config stream at start (seeded when
//! empty), then kept current from the projection runner's live feed (so a change
//! made on another node sharing the log is in force here once the feed brings it),
//! changed by decided configuration commands, checked against by case commands
//! (routes, assignees, swarm members), and past rule sets read back.

use std::sync::{Arc, Mutex, RwLock};
use tracing::{info_span, Instrument};

use super::record::append_request;
use super::record::Recordable;
use super::{AppError, Desk, MAX_RETRIES};
use crate::config::{self, Config, ConfigCommand, ConfigEvent, ConfigSeed};
use crate::domain::{Actor, Case, Command};
use crate::policy;
use crate::projection::runner::Observer;
use crate::routing::RuleSet;
use crate::store::in_order::InOrder;
use crate::store::{ExpectedVersion, RecordedEvent};

/// The configuration in force and where its fold stands in the config stream.
pub(super) struct InForce {
    /// Replaced whole on every change; readers keep the `Arc` they took.
    current: RwLock<Arc<Config>>,
    /// Held while a change is applied, so events from a read of the stream and from
    /// the live feed apply once, in stream order.
    folded: Mutex<InOrder<ConfigEvent>>,
}

impl InForce {
    pub(super) fn new(config: Config) -> Self {
        InForce {
            current: RwLock::new(Arc::new(config)),
            folded: Mutex::default(),
        }
    }

    pub(super) fn current(&self) -> Arc<Config> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Applies the event at `version` of the config stream once, in order.
    fn offer(&self, version: u64, event: ConfigEvent) {
        let mut folded = self.folded.lock().unwrap_or_else(|p| p.into_inner());
        let ready = folded.offer(version, event);
        self.apply(ready);
    }

    /// Puts a whole fold of the stream in force, unless what is in force is as new.
    fn replace(&self, config: Config) {
        let mut folded = self.folded.lock().unwrap_or_else(|p| p.into_inner());
        if config.version <= folded.applied() {
            return;
        }
        let version = config.version;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        let ready = folded.skip_to(version);
        self.apply(ready);
    }

    /// Applies events ready in order (the caller holds `folded`).
    fn apply(&self, ready: Vec<(u64, ConfigEvent)>) {
        if ready.is_empty() {
            return;
        }
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        // The stream's first event starts from nothing, not from the seed given at
        // construction.
        let mut next = if ready[0].0 == 1 {
            Config::empty()
        } else {
            (**current).clone()
        };
        for (version, e) in &ready {
            next.apply(e, *version);
        }
        *current = Arc::new(next);
    }
}

/// Applies the config events of the live feed (every node's) to `in_force`.
pub(super) fn follow_config(in_force: Arc<InForce>) -> Observer {
    Arc::new(move |r: &RecordedEvent| {
        if r.stream != config::CONFIG_STREAM {
            return;
        }
        match ConfigEvent::from_record(r) {
            Ok(e) => in_force.offer(r.version, e),
            Err(e) => tracing::error!(error = %e, position = r.position, "unreadable config event"),
        }
    })
}

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
        self.config.replace(state);
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
        for (i, e) in events.iter().enumerate() {
            self.config
                .offer(outcome.first_version + i as u64, e.clone());
        }
        // The live feed has applied everything up to these events once the
        // projections show them (another node's change that got in first included).
        self.projections.wait_for(outcome.last_position).await?;
        Ok(self.config())
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
    /// that works its tier; an assignee works the case's tier (their room is claimed
    /// on their stream before the case is written, see `capacity`); nobody is
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
            // The agent's room is checked when their slot is claimed (`capacity`).
            config.check_assignable(agent, case.tier.as_ref(), 0)?;
        }
        Ok(())
    }
}
