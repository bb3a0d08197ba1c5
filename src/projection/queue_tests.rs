//! Tier queue order: by breach risk (nearest pending SLA deadline, cases without one
//! last), then priority, then age, then id; keys follow the events that move them.

use ulid::Ulid;

use super::{Change, Projections, QueueEffect};
use crate::domain::event::{CaseOpened, CaseRouted, FirstResponded, MessagePosted, Reason};
use crate::domain::{
    Actor, AgentId, Calendar, CaseEvent, CaseId, Channel, Customer, MessageKind, Priority, Segment,
    SlaPolicy, Tier, Timestamp,
};
use crate::store::{Metadata, RecordedEvent};

const T0: i64 = 1_789_376_400_000_000;

fn at(mins: i64) -> Timestamp {
    Timestamp(T0).plus_secs(mins * 60)
}

struct Log {
    position: u64,
    projections: Projections,
    /// The same events applied with their changes described: it must not differ.
    described: Projections,
    changes: Vec<Change>,
}

impl Log {
    fn append(&mut self, id: CaseId, event: CaseEvent, now: Timestamp) {
        self.position += 1;
        let version = self.projections.case(id).map_or(0, |v| v.case.version) + 1;
        let record = RecordedEvent {
            position: self.position,
            id: Ulid::new(),
            stream: id.stream(),
            version,
            event_type: event.event_type().into(),
            schema_version: event.schema_version(),
            metadata: Metadata {
                actor: Actor::system(),
                occurred_at: now,
                correlation_id: Ulid::new(),
                causation_id: None,
            },
            payload: event.encode(),
        };
        self.projections.apply(&record).expect("a known event");
        self.described
            .apply_with(record.view(), Some(&mut self.changes))
            .expect("a known event");
        assert_eq!(
            self.projections, self.described,
            "describing changes changed a fold"
        );
    }

    /// Opens a case at `opened` minutes, routes it to L1 and, with `sla` as
    /// (first-response, resolution) minutes, puts it under a 24x7 policy.
    fn open(
        &mut self,
        n: u128,
        priority: Priority,
        opened: i64,
        sla: Option<(u32, u32)>,
    ) -> CaseId {
        let id = CaseId(Ulid::from_parts(1_789_376_400_000, n));
        let now = at(opened);
        self.append(
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
            now,
        );
        self.append(
            id,
            CaseEvent::Routed(CaseRouted {
                tier: Tier::new("L1"),
                team: None,
                priority: None,
                tags: vec![],
                sensitive: false,
                rule_id: None,
                rule_set_version: None,
            }),
            now,
        );
        if let Some((first, resolution)) = sla {
            let policy = SlaPolicy {
                id: "p".into(),
                name: "p".into(),
                priorities: vec![],
                segments: vec![],
                first_response_mins: Some(first),
                resolution_mins: Some(resolution),
                calendar: None,
                escalation: vec![],
            };
            self.append(
                id,
                CaseEvent::SlaApplied(policy.applied(Calendar::always())),
                now,
            );
        }
        id
    }

    fn queue(&self) -> Vec<CaseId> {
        self.projections
            .tier_queue(&Tier::new("L1"))
            .map(|v| v.case.id.expect("an opened case"))
            .collect()
    }
}

#[test]
fn tier_queues_order_by_breach_risk_then_priority_then_age() {
    let mut log = Log {
        position: 0,
        projections: Projections::new(),
        described: Projections::new(),
        changes: Vec::new(),
    };
    let old_normal = log.open(1, Priority::Normal, 0, None);
    // Opening leaves the queues alone; routing puts the case in L1's.
    let l1 = Tier::new("L1");
    let effects: Vec<_> = log.changes.iter().map(|c| c.queue_effect(&l1)).collect();
    assert_eq!(effects, [None, Some(QueueEffect::Entered)]);
    assert!(log
        .changes
        .iter()
        .all(|c| c.case == old_normal && c.room.is_none()));
    let far_low = log.open(2, Priority::Low, 10, Some((480, 960)));
    let near_normal = log.open(3, Priority::Normal, 20, Some((60, 480)));
    let urgent_no_sla = log.open(4, Priority::Urgent, 30, None);
    // Due at the same instant as `near_normal` (80 min), but more urgent.
    let near_high = log.open(5, Priority::High, 50, Some((30, 480)));
    let young_normal = log.open(6, Priority::Normal, 40, None);
    assert_eq!(
        log.queue(),
        vec![
            near_high,
            near_normal,
            far_low,
            urgent_no_sla,
            old_normal,
            young_normal
        ]
    );

    // The first response moves `near_normal` to its resolution deadline (500 min),
    // behind `far_low` (490 min).
    log.append(
        near_normal,
        CaseEvent::MessagePosted(MessagePosted {
            kind: MessageKind::PublicReply,
            author: AgentId::new("bob").unwrap(),
            body: "on it".into(),
        }),
        at(25),
    );
    log.append(
        near_normal,
        CaseEvent::FirstResponded(FirstResponded {
            by: AgentId::new("bob").unwrap(),
        }),
        at(25),
    );
    assert_eq!(
        log.queue(),
        vec![
            near_high,
            far_low,
            near_normal,
            urgent_no_sla,
            old_normal,
            young_normal
        ]
    );

    // Waiting on the customer pauses the clocks: no pending deadline, so it joins
    // the cases without one, by priority.
    log.append(
        near_high,
        CaseEvent::AwaitingCustomer(Reason {
            reason: "logs?".into(),
        }),
        at(55),
    );
    assert_eq!(
        log.queue(),
        vec![
            far_low,
            near_normal,
            urgent_no_sla,
            near_high,
            old_normal,
            young_normal
        ]
    );
    // Resumed 100 minutes later: its deadline moved by 100 minutes (to 180).
    log.append(
        near_high,
        CaseEvent::Resumed(Reason {
            reason: "resumed".into(),
        }),
        at(155),
    );
    assert_eq!(
        log.projections
            .case(near_high)
            .unwrap()
            .case
            .next_deadline(),
        Some(at(180))
    );
    assert_eq!(
        log.queue(),
        vec![
            near_high,
            far_low,
            near_normal,
            urgent_no_sla,
            old_normal,
            young_normal
        ]
    );
}
