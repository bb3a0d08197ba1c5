//! Agents' presence: whether an agent can take work now (`AVAILABLE`, `BUSY`, `AWAY`).
//!
//! Presence is an event on the agent's own stream (`agent-<id>`), never on a case:
//! [`PresenceSet`] says what the agent's presence became and who decided it
//! ([`PresenceSource`]). This module owns that event family ([`AgentEvent`]), the
//! state it folds into ([`AgentPresence`]) and the rules of the three ways presence
//! changes (pure, like `decide`):
//!
//! - [`set_by_agent`]: the agent says so (`setPresence`); nothing is written when it
//!   would change nothing.
//! - [`mark_away`]: the server saw all the agent's connections gone for a while;
//!   written only when the agent is not already `AWAY`, so a sweep that runs again
//!   appends nothing.
//! - [`restore`]: the agent is back; only an automatic `AWAY` is undone, to what the
//!   agent's presence was before it. An `AWAY` the agent chose stays.
//!
//! The agent's stream also holds [`CaseClaimed`]: a slot of the agent's capacity
//! taken by an assignment about to be written (see `app::capacity`), appended at the
//! stream's version so that two nodes cannot both give away the last slot. Presence
//! ignores it.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

use super::error::DomainError;
use super::ids::{AgentId, CaseId, Timestamp};

/// The prefix of every agent's stream.
pub const AGENT_STREAM_PREFIX: &str = "agent-";

/// The stream holding `agent`'s presence events.
pub fn agent_stream(agent: &AgentId) -> String {
    format!("{AGENT_STREAM_PREFIX}{agent}")
}

/// The agent whose stream `stream` is, if it is an agent's stream.
pub fn agent_of_stream(stream: &str) -> Option<AgentId> {
    stream
        .strip_prefix(AGENT_STREAM_PREFIX)
        .and_then(|id| AgentId::new(id).ok())
}

/// Whether an agent can take work now.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Presence {
    /// Ready for work (also every agent's presence before their first event).
    #[default]
    Available,
    Busy,
    Away,
}

impl Presence {
    pub const ALL: &'static [Presence] = &[Presence::Available, Presence::Busy, Presence::Away];

    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Available => "AVAILABLE",
            Presence::Busy => "BUSY",
            Presence::Away => "AWAY",
        }
    }
}

impl FromStr for Presence {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Presence::ALL
            .iter()
            .copied()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| DomainError::Invalid(format!("unknown presence `{s}`")))
    }
}

/// Who changed an agent's presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PresenceSource {
    /// The agent, with `setPresence`.
    Agent,
    /// The server: every connection of the agent was gone for the configured time.
    Disconnected,
    /// The server: the agent connected again after an automatic `AWAY`.
    Reconnected,
}

impl PresenceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceSource::Agent => "AGENT",
            PresenceSource::Disconnected => "DISCONNECTED",
            PresenceSource::Reconnected => "RECONNECTED",
        }
    }
}

/// An agent's presence became `presence`, decided by `source`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceSet {
    pub presence: Presence,
    pub source: PresenceSource,
}

/// An assignment of `case_id` to the agent, decided on the case at `case_version`,
/// takes one of the agent's slots. It is written to the case next; until the case
/// shows it (or moves past `case_version` without it), the slot counts as taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseClaimed {
    pub case_id: CaseId,
    pub case_version: u64,
}

/// Every event an agent's stream can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentEvent {
    PresenceSet(PresenceSet),
    CaseClaimed(CaseClaimed),
}

crate::event_registry! {
    AgentEvent {
        PresenceSet = "PresenceSet" v 1,
        CaseClaimed = "CaseClaimed" v 1,
    }
}

/// An agent's presence as their stream folds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPresence {
    pub presence: Presence,
    pub source: Option<PresenceSource>,
    /// When it last changed (`None`: never set).
    pub since: Option<Timestamp>,
    /// While `AWAY` was set by the server: the presence to return to on reconnect.
    pub before_away: Option<Presence>,
    /// The agent's stream version (0: no event yet).
    pub version: u64,
}

impl AgentPresence {
    /// Folds one event, recorded at `at` as stream version `version`.
    pub fn apply(&mut self, event: &AgentEvent, version: u64, at: Timestamp) {
        match event {
            AgentEvent::PresenceSet(e) => {
                self.before_away = match e.source {
                    PresenceSource::Disconnected => Some(self.presence),
                    _ => None,
                };
                self.presence = e.presence;
                self.source = Some(e.source);
                self.since = Some(at);
            }
            AgentEvent::CaseClaimed(_) => {}
        }
        self.version = version;
    }

    /// Whether the current `AWAY` was set by the server (and is undone on reconnect).
    pub fn is_automatic_away(&self) -> bool {
        self.presence == Presence::Away && self.source == Some(PresenceSource::Disconnected)
    }
}

/// The agent sets their presence. Nothing when it already is that (every agent starts
/// `AVAILABLE`); choosing `AWAY` while automatically away makes it the agent's own
/// (a reconnect no longer undoes it).
pub fn set_by_agent(state: &AgentPresence, presence: Presence) -> Option<PresenceSet> {
    let unchanged = state.presence == presence && !state.is_automatic_away();
    (!unchanged).then_some(PresenceSet {
        presence,
        source: PresenceSource::Agent,
    })
}

/// The server marks a disconnected agent away, unless they already are.
pub fn mark_away(state: &AgentPresence) -> Option<PresenceSet> {
    (state.presence != Presence::Away).then_some(PresenceSet {
        presence: Presence::Away,
        source: PresenceSource::Disconnected,
    })
}

/// The agent connected again: an automatic `AWAY` returns to what it replaced.
pub fn restore(state: &AgentPresence) -> Option<PresenceSet> {
    if !state.is_automatic_away() {
        return None;
    }
    Some(PresenceSet {
        presence: state.before_away.unwrap_or_default(),
        source: PresenceSource::Reconnected,
    })
}
