//! The rapid-responder rotation in the API: `setRapidRotation` (admins) replaces
//! who answers `SEVERITY_1` swarms first, by shift; `configuration { rapidRotation }`
//! shows it with the responder on call now.

use async_graphql::{Context, Object, Result, SimpleObject};

use super::{agent_id, change};
use crate::api::guard::Guard;
use crate::api::types::DateTime;
use crate::config::rotation::{RapidRotation, DEFAULT_START};
use crate::config::{Config, ConfigCommand};

/// Who answers a `SEVERITY_1` swarm first: shifts of `shiftHours` counted from
/// `rotationStart`, shift n held by `responders[n mod length]`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "RapidRotation")]
pub struct RapidRotationObj {
    /// The on-call order (empty: no rotation).
    pub responders: Vec<String>,
    pub shift_hours: u32,
    /// When shift 0 starts.
    pub rotation_start: DateTime,
    /// The responder on call now, by the server's clock.
    pub on_call: Option<String>,
}

pub(super) fn rapid_rotation(g: &Guard, config: &Config) -> RapidRotationObj {
    let r = &config.rapid_rotation;
    RapidRotationObj {
        responders: r.responders.iter().map(|a| a.to_string()).collect(),
        shift_hours: r.shift_hours,
        rotation_start: DateTime(r.start),
        on_call: r.on_call(g.now()).map(|a| a.to_string()),
    }
}

#[derive(Default)]
pub struct RapidRotationMutation;

#[Object]
impl RapidRotationMutation {
    /// Replaces the rapid-responder rotation: `responders` (agents in the directory,
    /// each once, at most 100; empty: no rotation) take shifts of `shiftHours` (1 to
    /// 8760, default 168: a week) in turn, counted from `rotationStart` (default
    /// Monday 1970-01-05 00:00 UTC). For a `SEVERITY_1` swarm, `suggestExperts`
    /// proposes the eligible responder on call first, else the next in rotation.
    /// Admins.
    async fn set_rapid_rotation(
        &self,
        ctx: &Context<'_>,
        responders: Vec<String>,
        #[graphql(default = 168)] shift_hours: u32,
        rotation_start: Option<DateTime>,
    ) -> Result<RapidRotationObj> {
        let rotation = RapidRotation {
            responders: responders
                .iter()
                .map(|r| agent_id(r))
                .collect::<Result<_>>()?,
            shift_hours,
            start: rotation_start.map_or(DEFAULT_START, |t| t.0),
        };
        let (g, config) = change(ctx, ConfigCommand::SetRapidRotation(rotation)).await?;
        Ok(rapid_rotation(&g, &config))
    }
}
