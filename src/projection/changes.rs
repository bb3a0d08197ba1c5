//! What applying one case event changed, as the projections saw it: the event's
//! position and version, how the case moved in the tier queues, what happened in its
//! swarm room (with the room exactly as it was after), and whether the event ends the
//! command's append. [`Projections::apply_with`](super::Projections::apply_with)
//! computes it, for the live runner (which publishes it) and for a local fold of a
//! case's history alike, so history and live cannot differ. Subscriptions filter it
//! by visibility instead of reading the log again.

use std::sync::Arc;

use super::{CaseView, Message};
use crate::domain::{AgentId, CaseEvent, CaseId, MessageKind, Tier};
use crate::store::{EventRef, RecordedEvent};
use ulid::Ulid;

/// How a case's event affected a swarm room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomChangeKind {
    Started,
    Joined,
    Left,
    LeadChanged,
    Chat,
    Ended,
}

/// A change to a case's swarm room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomChange {
    pub kind: RoomChangeKind,
    /// Who started (leads), joined, left or now leads; the chat's author.
    pub agent: Option<AgentId>,
    /// The chat message, for [`RoomChangeKind::Chat`].
    pub message: Option<Message>,
    /// The case after the event, with the current swarm's chat (`None` once the
    /// swarm ended): what a room update shows.
    pub room: Option<Arc<CaseView>>,
}

/// One applied case event's effect on the read models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub position: u64,
    pub case: CaseId,
    pub version: u64,
    pub event_type: String,
    /// The tier whose queue held the case before and after the event.
    pub queue_before: Option<Tier>,
    pub queue_after: Option<Tier>,
    /// The case's place in its queue changed (deadline, priority...).
    pub queue_moved: bool,
    pub room: Option<RoomChange>,
    /// Ties the events of one command's append together (with stream and version).
    pub correlation_id: Ulid,
    /// Whether the event is the last of its append (one update per command is sent
    /// for it). Set by whoever knows the next event: the runner, or a history fold.
    pub ends_append: bool,
}

/// How a change moved a case relative to one tier's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueEffect {
    Entered,
    Left,
    /// Still in the queue: moved within it, or changed otherwise.
    Within,
}

impl Change {
    /// The change's effect on `tier`'s queue, `None` if the case is in it neither
    /// before nor after.
    pub fn queue_effect(&self, tier: &Tier) -> Option<QueueEffect> {
        let before = self.queue_before.as_ref() == Some(tier);
        let after = self.queue_after.as_ref() == Some(tier);
        match (before, after) {
            (false, true) => Some(QueueEffect::Entered),
            (true, false) => Some(QueueEffect::Left),
            (true, true) => Some(QueueEffect::Within),
            (false, false) => None,
        }
    }

    /// Whether `next` (the event right after this one in the log) continues the
    /// same append: same stream, next version, same correlation.
    pub fn continued_by(&self, next: &RecordedEvent) -> bool {
        next.position == self.position + 1
            && CaseId::from_stream(&next.stream) == Some(self.case)
            && next.version == self.version + 1
            && next.metadata.correlation_id == self.correlation_id
    }
}

/// The room part of a change: what happened (from the event alone), with the room
/// after it taken from `view` (the case already folded with the event).
/// `posted` is the message the event posted, if it did.
pub(super) fn room_change(
    event: &CaseEvent,
    view: &CaseView,
    posted: Option<&Message>,
) -> Option<RoomChange> {
    let (kind, agent) = match event {
        CaseEvent::SwarmStarted(s) => (RoomChangeKind::Started, Some(s.lead.clone())),
        CaseEvent::SwarmJoined(a) => (RoomChangeKind::Joined, Some(a.agent.clone())),
        CaseEvent::SwarmLeft(a) => (RoomChangeKind::Left, Some(a.agent.clone())),
        CaseEvent::SwarmLeadChanged(l) => (RoomChangeKind::LeadChanged, Some(l.to.clone())),
        CaseEvent::SwarmEnded(_) => (RoomChangeKind::Ended, None),
        CaseEvent::MessagePosted(m) if m.kind == MessageKind::SwarmChat => {
            (RoomChangeKind::Chat, Some(m.author.clone()))
        }
        _ => return None,
    };
    let message = (kind == RoomChangeKind::Chat)
        .then(|| posted.cloned())
        .flatten();
    let room = view.case.swarm.as_ref().map(|_| {
        Arc::new(CaseView {
            case: view.case.clone(),
            messages: Vec::new(),
            chat: view.chat.clone(),
            last_position: view.last_position,
        })
    });
    Some(RoomChange {
        kind,
        agent,
        message,
        room,
    })
}

/// A change before its effects are known: the event's identity.
pub(super) fn change_of(id: CaseId, record: &EventRef<'_>) -> Change {
    Change {
        position: record.position,
        case: id,
        version: record.version,
        event_type: record.event_type.to_string(),
        queue_before: None,
        queue_after: None,
        queue_moved: false,
        room: None,
        correlation_id: record.correlation_id,
        ends_append: true,
    }
}

/// Marks which changes end their append, given the events that follow them in the
/// same run of the log (`events`, in log order). Returns the indexes of the changes
/// whose next event is not in `events` (the run's last, typically): the caller must
/// look it up (or knows nothing follows).
pub fn mark_append_ends(changes: &mut [Change], events: &[Arc<RecordedEvent>]) -> Vec<usize> {
    let first = events.first().map_or(0, |e| e.position);
    let mut unknown = Vec::new();
    for (i, c) in changes.iter_mut().enumerate() {
        let next = c
            .position
            .checked_sub(first)
            .and_then(|k| events.get(k as usize + 1))
            .filter(|n| n.position == c.position + 1);
        match next {
            Some(n) => c.ends_append = !c.continued_by(n),
            None => unknown.push(i),
        }
    }
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::MessagePosted;
    use crate::domain::{Actor, Timestamp};
    use crate::store::Metadata;

    /// A swarm-chat message on `case` at `position`/`version`, in the append `append`.
    fn chat(case: CaseId, position: u64, version: u64, append: Ulid) -> Arc<RecordedEvent> {
        let event = CaseEvent::MessagePosted(MessagePosted {
            kind: MessageKind::SwarmChat,
            author: AgentId::new("dana").unwrap(),
            body: format!("message {version}"),
        });
        Arc::new(RecordedEvent {
            position,
            id: Ulid::new(),
            stream: case.stream(),
            version,
            event_type: event.event_type().into(),
            schema_version: event.schema_version(),
            metadata: Metadata {
                actor: Actor::system(),
                occurred_at: Timestamp(1_789_376_400_000_000),
                correlation_id: append,
                causation_id: None,
            },
            payload: event.encode(),
        })
    }

    #[test]
    fn an_append_ends_where_the_next_event_is_of_another_append_or_case() {
        let (a, b) = (CaseId(Ulid::new()), CaseId(Ulid::new()));
        let (one, two, three) = (Ulid::new(), Ulid::new(), Ulid::new());
        // a: two events of one append, then one of another; then b's; then a's again
        // in a third append. The last event's successor is not in the run.
        let events = vec![
            chat(a, 1, 1, one),
            chat(a, 2, 2, one),
            chat(a, 3, 3, two),
            chat(b, 4, 1, two),
            chat(a, 5, 4, three),
        ];
        let mut changes: Vec<Change> = events
            .iter()
            .map(|e| {
                let id = CaseId::from_stream(&e.stream).unwrap();
                change_of(id, &e.view())
            })
            .collect();
        let unknown = mark_append_ends(&mut changes, &events);
        let ends: Vec<bool> = changes.iter().map(|c| c.ends_append).collect();
        // Same correlation but another case (b's event) still ends a's append.
        assert_eq!(ends, [false, true, true, true, true]);
        assert_eq!(unknown, [4], "only the last event's successor is unknown");
    }
}
