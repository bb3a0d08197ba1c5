//! Standing swarms: a team's `DISPATCH` swarm (triaging its new, unassigned cases)
//! and its `BACKLOG` swarm (working its ageing open cases). Unlike a case's swarm,
//! a standing swarm is not on a case: each is its own stream,
//! `standing-<team>-dispatch` or `standing-<team>-backlog`, holding who joined and
//! left it ([`StandingEvent`]). This module owns that event family, the membership
//! it folds into ([`StandingSwarm`]) and the rules of joining and leaving (pure):
//! joining as a member, or leaving as a non-member, writes nothing.
//!
//! The queues the members work are not here: they are indexes the projections keep
//! as case events arrive (`Projections::dispatch_queue`, `Projections::backlog`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::ids::AgentId;

/// The prefix of every standing swarm's stream.
pub const STANDING_STREAM_PREFIX: &str = "standing-";

/// What a standing swarm works.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StandingKind {
    /// The team's new, unassigned open cases.
    Dispatch,
    /// The team's open cases older than some days.
    Backlog,
}

impl StandingKind {
    pub const ALL: &'static [StandingKind] = &[StandingKind::Dispatch, StandingKind::Backlog];

    /// Its name in a stream name: `dispatch` or `backlog`.
    pub fn stream_suffix(self) -> &'static str {
        match self {
            StandingKind::Dispatch => "dispatch",
            StandingKind::Backlog => "backlog",
        }
    }

    /// Its name in the API: `DISPATCH` or `BACKLOG`.
    pub fn as_str(self) -> &'static str {
        match self {
            StandingKind::Dispatch => "DISPATCH",
            StandingKind::Backlog => "BACKLOG",
        }
    }
}

/// The stream of `team`'s standing swarm of `kind`.
pub fn standing_stream(team: &str, kind: StandingKind) -> String {
    format!("{STANDING_STREAM_PREFIX}{team}-{}", kind.stream_suffix())
}

/// The team and kind whose standing swarm `stream` is, if it is one.
pub fn standing_of_stream(stream: &str) -> Option<(String, StandingKind)> {
    let rest = stream.strip_prefix(STANDING_STREAM_PREFIX)?;
    let (team, suffix) = rest.rsplit_once('-')?;
    let kind = StandingKind::ALL
        .iter()
        .copied()
        .find(|k| k.stream_suffix() == suffix)?;
    (!team.is_empty()).then(|| (team.to_string(), kind))
}

/// An agent joined or left a standing swarm (themselves: the actor is in the
/// metadata).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StandingMember {
    pub agent: AgentId,
}

/// Every event a standing swarm's stream can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StandingEvent {
    StandingSwarmJoined(StandingMember),
    StandingSwarmLeft(StandingMember),
}

crate::event_registry! {
    StandingEvent {
        StandingSwarmJoined = "StandingSwarmJoined" v 1,
        StandingSwarmLeft = "StandingSwarmLeft" v 1,
    }
}

/// A standing swarm's members as its stream folds them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingSwarm {
    pub members: BTreeSet<AgentId>,
    /// The stream's version (0: no event yet).
    pub version: u64,
}

impl StandingSwarm {
    /// Folds one event recorded as stream version `version`.
    pub fn apply(&mut self, event: &StandingEvent, version: u64) {
        match event {
            StandingEvent::StandingSwarmJoined(m) => {
                self.members.insert(m.agent.clone());
            }
            StandingEvent::StandingSwarmLeft(m) => {
                self.members.remove(&m.agent);
            }
        }
        self.version = version;
    }
}

/// `agent` joins: nothing when they already are a member.
pub fn join(state: &StandingSwarm, agent: &AgentId) -> Option<StandingEvent> {
    (!state.members.contains(agent)).then(|| {
        StandingEvent::StandingSwarmJoined(StandingMember {
            agent: agent.clone(),
        })
    })
}

/// `agent` leaves: nothing when they are not a member.
pub fn leave(state: &StandingSwarm, agent: &AgentId) -> Option<StandingEvent> {
    state.members.contains(agent).then(|| {
        StandingEvent::StandingSwarmLeft(StandingMember {
            agent: agent.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standing_stream_names_its_team_and_kind() {
        let s = standing_stream("key-accounts", StandingKind::Dispatch);
        assert_eq!(s, "standing-key-accounts-dispatch");
        assert_eq!(
            standing_of_stream(&s),
            Some(("key-accounts".into(), StandingKind::Dispatch))
        );
        assert_eq!(
            standing_of_stream("standing-billing-backlog"),
            Some(("billing".into(), StandingKind::Backlog))
        );
        for other in [
            "standing-billing",
            "standing--dispatch",
            "agent-ana",
            "config",
        ] {
            assert_eq!(standing_of_stream(other), None, "{other}");
        }
    }

    #[test]
    fn joining_twice_or_leaving_unjoined_writes_nothing() {
        let ana = AgentId::new("ana").unwrap();
        let mut s = StandingSwarm::default();
        assert_eq!(leave(&s, &ana), None);
        let joined = join(&s, &ana).unwrap();
        s.apply(&joined, 1);
        assert!(s.members.contains(&ana));
        assert_eq!(join(&s, &ana), None);
        let left = leave(&s, &ana).unwrap();
        s.apply(&left, 2);
        assert!(s.members.is_empty());
        assert_eq!(s.version, 2);
    }
}
