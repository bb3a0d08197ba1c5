//! The standing swarms' indexes: the dispatch queue (open, unassigned cases of a
//! team, most urgent then oldest) and the backlog (open cases of a team, oldest
//! first) follow the events that move a case in or out, page by cursor, and a
//! projection rebuilt from the same log is identical; members fold from their stream.

use ulid::Ulid;

use super::{AgeKey, DispatchKey, Projections};
use crate::domain::event::{AgentRef, CaseOpened, CaseResolved, CaseRouted, PriorityChanged};
use crate::domain::standing::{standing_stream, StandingEvent, StandingKind, StandingMember};
use crate::domain::{
    Actor, AgentId, CaseEvent, CaseId, Channel, Customer, Priority, Segment, Tier, Timestamp,
};
use crate::store::{Metadata, RecordedEvent};

const DAY: i64 = 86_400;
const T0: Timestamp = Timestamp(1_767_571_200_000_000);

#[derive(Default)]
struct Log {
    records: Vec<RecordedEvent>,
    versions: std::collections::HashMap<String, u64>,
    live: Projections,
}

impl Log {
    fn push(
        &mut self,
        stream: String,
        event_type: &str,
        version: u16,
        payload: Vec<u8>,
        at: Timestamp,
    ) {
        let v = self.versions.entry(stream.clone()).or_default();
        *v += 1;
        let record = RecordedEvent {
            position: self.records.len() as u64 + 1,
            id: Ulid::new(),
            stream,
            version: *v,
            event_type: event_type.into(),
            schema_version: version,
            metadata: Metadata {
                actor: Actor::system(),
                occurred_at: at,
                correlation_id: Ulid::new(),
                causation_id: None,
            },
            payload,
        };
        self.live.apply(&record).expect("a known event");
        self.records.push(record);
    }

    fn case(&mut self, id: CaseId, e: CaseEvent, at: Timestamp) {
        self.push(
            id.stream(),
            e.event_type(),
            e.schema_version(),
            e.encode(),
            at,
        );
    }

    fn standing(&mut self, team: &str, e: StandingEvent) {
        let s = standing_stream(team, StandingKind::Dispatch);
        self.push(s, e.event_type(), e.schema_version(), e.encode(), T0);
    }

    /// Case `n`, opened `days` days after T0 with `priority`, routed to `team`.
    fn open(&mut self, n: u128, priority: Priority, days: i64, team: &str) -> CaseId {
        let id = CaseId(Ulid::from_parts(1_767_571_200_000, n));
        let at = T0.plus_secs(days * DAY);
        self.case(
            id,
            CaseEvent::Opened(CaseOpened {
                case_id: id,
                subject: format!("case {n}"),
                body: String::new(),
                channel: Channel::Email,
                customer: Customer {
                    id: "c".into(),
                    name: String::new(),
                    segment: Segment::B2c,
                    key_account: false,
                },
                language: "en".into(),
                priority,
                tags: vec![],
                requested_priority: None,
            }),
            at,
        );
        self.case(
            id,
            CaseEvent::Routed(CaseRouted {
                tier: Tier::new("L1"),
                team: Some(team.into()),
                priority: None,
                tags: vec![],
                sensitive: false,
                rule_id: None,
                rule_set_version: None,
            }),
            at,
        );
        id
    }

    fn rebuilt(&self) -> Projections {
        let mut p = Projections::new();
        for r in &self.records {
            p.apply(r).unwrap();
        }
        p
    }
}

fn dispatch(p: &Projections, team: &str, after: Option<DispatchKey>) -> Vec<CaseId> {
    p.dispatch_queue(team, after).map(|(k, _)| k.case).collect()
}

fn agent(a: &str) -> AgentId {
    AgentId::new(a).unwrap()
}

#[test]
fn the_dispatch_queue_holds_a_teams_unassigned_open_cases_most_urgent_then_oldest() {
    let mut log = Log::default();
    let a = log.open(1, Priority::Normal, 0, "billing");
    let b = log.open(2, Priority::Urgent, 1, "billing");
    let c = log.open(3, Priority::Normal, 2, "billing");
    let other = log.open(4, Priority::Urgent, 0, "general");
    // Urgent b first; then the normal ones, older a before c.
    assert_eq!(dispatch(&log.live, "billing", None), [b, a, c]);
    assert_eq!(dispatch(&log.live, "general", None), [other]);

    // Taken: b leaves at once. Raised to urgent: c moves ahead of a.
    log.case(
        b,
        CaseEvent::Assigned(AgentRef {
            agent: agent("ana"),
        }),
        T0,
    );
    log.case(
        c,
        CaseEvent::PriorityChanged(PriorityChanged {
            from: Priority::Normal,
            to: Priority::Urgent,
            reason: "angry".into(),
        }),
        T0,
    );
    assert_eq!(dispatch(&log.live, "billing", None), [c, a]);
    // Unassigned again: back in, in its place. Resolved: gone for good.
    log.case(
        b,
        CaseEvent::Unassigned(AgentRef {
            agent: agent("ana"),
        }),
        T0,
    );
    assert_eq!(dispatch(&log.live, "billing", None), [b, c, a]);
    log.case(
        a,
        CaseEvent::Resolved(CaseResolved {
            resolution: "done".into(),
            tier: None,
            by: agent("ana"),
        }),
        T0,
    );
    assert_eq!(dispatch(&log.live, "billing", None), [b, c]);

    // A page continues after its cursor, even when that case has left meanwhile.
    let (first, _) = log.live.dispatch_queue("billing", None).next().unwrap();
    let cursor = DispatchKey::from_cursor(&first.cursor()).unwrap();
    assert_eq!(cursor, first);
    log.case(b, CaseEvent::Assigned(AgentRef { agent: agent("bo") }), T0);
    assert_eq!(dispatch(&log.live, "billing", Some(cursor)), [c]);
    assert_eq!(DispatchKey::from_cursor("9.1.x"), None);

    assert_eq!(log.live, log.rebuilt(), "rebuilt from the log, identical");
}

#[test]
fn the_backlog_lists_a_teams_open_cases_opened_before_a_cutoff_oldest_first() {
    let mut log = Log::default();
    let old = log.open(1, Priority::Low, 0, "billing");
    let older_taken = log.open(2, Priority::High, -3, "billing");
    let fresh = log.open(3, Priority::Urgent, 9, "billing");
    log.case(
        older_taken,
        CaseEvent::Assigned(AgentRef {
            agent: agent("ana"),
        }),
        T0,
    );
    // Assigned cases age too: the backlog is every open case of the team.
    let cutoff = T0.plus_secs(5 * DAY);
    let ids: Vec<CaseId> = log
        .live
        .backlog("billing", cutoff, None)
        .map(|(k, _)| k.case)
        .collect();
    assert_eq!(ids, [older_taken, old]);
    let all: Vec<CaseId> = log
        .live
        .backlog("billing", T0.plus_secs(10 * DAY), None)
        .map(|(k, _)| k.case)
        .collect();
    assert_eq!(all, [older_taken, old, fresh]);
    let (k, _) = log.live.backlog("billing", cutoff, None).next().unwrap();
    let after = AgeKey::from_cursor(&k.cursor()).unwrap();
    let rest: Vec<CaseId> = log
        .live
        .backlog("billing", cutoff, Some(after))
        .map(|(k, _)| k.case)
        .collect();
    assert_eq!(rest, [old]);
    assert!(log.live.backlog("general", cutoff, None).next().is_none());
    assert_eq!(log.live, log.rebuilt());
}

#[test]
fn members_fold_from_the_standing_swarms_stream() {
    let mut log = Log::default();
    let member = |a: &str| StandingMember { agent: agent(a) };
    log.standing("billing", StandingEvent::StandingSwarmJoined(member("ana")));
    log.standing("billing", StandingEvent::StandingSwarmJoined(member("bo")));
    log.standing("billing", StandingEvent::StandingSwarmLeft(member("ana")));
    let p = &log.live;
    assert_eq!(
        p.standing_members("billing", StandingKind::Dispatch),
        [agent("bo")]
    );
    assert!(p.is_standing_member("billing", StandingKind::Dispatch, &agent("bo")));
    assert!(!p.is_standing_member("billing", StandingKind::Backlog, &agent("bo")));
    assert!(!p.is_standing_member("billing", StandingKind::Dispatch, &agent("ana")));
    assert_eq!(log.live, log.rebuilt());
}
