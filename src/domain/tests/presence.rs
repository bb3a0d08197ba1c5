//! Presence scenarios: an agent's stream folded (given), one of the three rules run
//! (when), and the event it decides, or that it decides nothing (then).

use super::super::presence::{
    mark_away, restore, set_by_agent, AgentEvent, AgentPresence, Presence, PresenceSet,
    PresenceSource,
};
use super::at;

use Presence::{Available, Away, Busy};
use PresenceSource::{Agent, Disconnected, Reconnected};

fn set(presence: Presence, source: PresenceSource) -> PresenceSet {
    PresenceSet { presence, source }
}

/// The agent's presence after `history` (versions 1..n, one second apart).
fn given(history: &[PresenceSet]) -> AgentPresence {
    let mut state = AgentPresence::default();
    for (n, e) in history.iter().enumerate() {
        let version = n as u64 + 1;
        state.apply(
            &AgentEvent::PresenceSet(e.clone()),
            version,
            at(version as i64),
        );
    }
    state
}

#[test]
fn an_agent_without_events_is_available() {
    let s = given(&[]);
    assert_eq!(s.presence, Available);
    assert_eq!(s.since, None);
    assert!(!s.is_automatic_away());
}

#[test]
fn an_agent_sets_busy_then_available() {
    let s = given(&[]);
    assert_eq!(set_by_agent(&s, Busy), Some(set(Busy, Agent)));
    let s = given(&[set(Busy, Agent)]);
    assert_eq!(s.presence, Busy);
    assert_eq!(s.since, Some(at(1)));
    assert_eq!(set_by_agent(&s, Available), Some(set(Available, Agent)));
}

#[test]
fn setting_the_presence_one_already_chose_writes_nothing() {
    assert_eq!(set_by_agent(&given(&[set(Busy, Agent)]), Busy), None);
    // Before any event every agent is available already.
    assert_eq!(set_by_agent(&given(&[]), Available), None);
    // Back from an automatic AWAY: the restored presence is theirs to keep.
    let s = given(&[
        set(Busy, Agent),
        set(Away, Disconnected),
        set(Busy, Reconnected),
    ]);
    assert_eq!(set_by_agent(&s, Busy), None);
}

#[test]
fn a_disconnected_agent_is_marked_away_once() {
    let s = given(&[set(Busy, Agent)]);
    assert_eq!(mark_away(&s), Some(set(Away, Disconnected)));
    let s = given(&[set(Busy, Agent), set(Away, Disconnected)]);
    assert!(s.is_automatic_away());
    assert_eq!(s.before_away, Some(Busy));
    // The next sweep finds them away already: nothing more.
    assert_eq!(mark_away(&s), None);
}

#[test]
fn an_agent_who_chose_away_is_not_marked_again() {
    let s = given(&[set(Away, Agent)]);
    assert_eq!(mark_away(&s), None);
}

#[test]
fn reconnecting_after_an_automatic_away_returns_to_what_it_was() {
    let s = given(&[set(Busy, Agent), set(Away, Disconnected)]);
    assert_eq!(restore(&s), Some(set(Busy, Reconnected)));
    let s = given(&[
        set(Busy, Agent),
        set(Away, Disconnected),
        set(Busy, Reconnected),
    ]);
    assert_eq!(s.presence, Busy);
    assert_eq!(s.before_away, None);
    // Restored once: a second connection changes nothing.
    assert_eq!(restore(&s), None);
    // Never set before: back to available.
    let s = given(&[set(Away, Disconnected)]);
    assert_eq!(restore(&s), Some(set(Available, Reconnected)));
}

#[test]
fn reconnecting_keeps_an_away_the_agent_chose() {
    assert_eq!(restore(&given(&[set(Away, Agent)])), None);
    assert_eq!(restore(&given(&[set(Busy, Agent)])), None);
    // Choosing AWAY while automatically away makes it the agent's own.
    let s = given(&[set(Available, Agent), set(Away, Disconnected)]);
    assert_eq!(set_by_agent(&s, Away), Some(set(Away, Agent)));
    let s = given(&[
        set(Available, Agent),
        set(Away, Disconnected),
        set(Away, Agent),
    ]);
    assert_eq!(restore(&s), None);
}

#[test]
fn presence_events_round_trip_through_the_codec() {
    for p in Presence::ALL {
        for source in [Agent, Disconnected, Reconnected] {
            let e = AgentEvent::PresenceSet(set(*p, source));
            let back = AgentEvent::decode(e.event_type(), e.schema_version(), &e.encode());
            assert_eq!(back.ok(), Some(e.clone()));
            let json = AgentEvent::from_json(e.event_type(), e.schema_version(), e.to_json());
            assert_eq!(json.ok(), Some(e));
        }
    }
    assert_eq!("busy".parse::<Presence>().ok(), Some(Busy));
    assert!("asleep".parse::<Presence>().is_err());
}
