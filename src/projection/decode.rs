//! Decoding case events for the projections. A posted message's body is read into a
//! string only where the projections keep it: a swarm's chat, or every message in
//! projections made [`with_messages`](super::Projections::with_messages). Elsewhere it
//! is checked as the full decode checks it (valid UTF-8, in place) but not copied: the
//! event then carries an empty body, which nothing of the live projections reads
//! (`Case::apply` counts the message, the report facts read its author and kind). A
//! replay is mostly messages: each body copied only to be dropped was an allocation,
//! a copy and a free per message.

use serde::Deserialize;

use crate::domain::event::MessagePosted;
use crate::domain::{AgentId, CaseEvent, CodecError, MessageKind};
use crate::store::EventRef;

/// The event type and schema version whose body may be left unread (any other
/// version takes the full decode, upcasting included).
const MESSAGE_POSTED: (&str, u16) = ("MessagePosted", 1);

/// [`MessagePosted`]'s fields in its encoded order, the body borrowed from the record.
#[derive(Deserialize)]
struct PostedRef<'a> {
    kind: MessageKind,
    author: AgentId,
    #[serde(borrow)]
    body: &'a str,
}

/// The case event `record` holds, as [`CaseEvent::decode`] reads it, except that a
/// posted message's body is left empty unless `keep_body` or the message is swarm chat.
pub(super) fn case_event(record: &EventRef<'_>, keep_body: bool) -> Result<CaseEvent, CodecError> {
    if keep_body || (record.event_type, record.schema_version) != MESSAGE_POSTED {
        return CaseEvent::decode(record.event_type, record.schema_version, record.payload);
    }
    let posted: PostedRef<'_> = postcard::from_bytes(record.payload).map_err(|e| {
        CodecError::Payload(
            record.event_type.into(),
            record.schema_version,
            e.to_string(),
        )
    })?;
    let body = match posted.kind {
        MessageKind::SwarmChat => posted.body.to_owned(),
        MessageKind::PublicReply | MessageKind::InternalNote => String::new(),
    };
    Ok(CaseEvent::MessagePosted(MessagePosted {
        kind: posted.kind,
        author: posted.author,
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, Role, Timestamp};
    use crate::store::{Metadata, RecordedEvent};
    use ulid::Ulid;

    fn record(event: &CaseEvent) -> RecordedEvent {
        RecordedEvent {
            position: 7,
            id: Ulid::nil(),
            stream: format!("case-{}", Ulid::nil()),
            version: 3,
            event_type: event.event_type().into(),
            schema_version: event.schema_version(),
            metadata: Metadata {
                actor: Actor::new("alice", Role::Agent).unwrap(),
                occurred_at: Timestamp(1),
                correlation_id: Ulid::nil(),
                causation_id: None,
            },
            payload: event.encode(),
        }
    }

    fn posted(kind: MessageKind, body: &str) -> CaseEvent {
        CaseEvent::MessagePosted(MessagePosted {
            kind,
            author: AgentId::new("alice").unwrap(),
            body: body.into(),
        })
    }

    #[test]
    fn a_message_decodes_as_the_full_decode_with_its_body_only_where_kept() {
        for kind in [
            MessageKind::PublicReply,
            MessageKind::InternalNote,
            MessageKind::SwarmChat,
        ] {
            let event = posted(kind, "the printer is on fire, é ✓");
            // The version this build writes is the one read without its body.
            assert_eq!((event.event_type(), event.schema_version()), MESSAGE_POSTED);
            let r = record(&event);
            let kept = case_event(&r.view(), true).unwrap();
            assert_eq!(kept, event, "{kind:?}, body kept");
            let lean = case_event(&r.view(), false).unwrap();
            let want = match kind {
                MessageKind::SwarmChat => event.clone(),
                _ => posted(kind, ""),
            };
            assert_eq!(lean, want, "{kind:?}, body left unread");
        }
    }

    #[test]
    fn a_message_whose_body_is_not_utf8_is_refused_either_way() {
        let mut r = record(&posted(MessageKind::PublicReply, "abc"));
        let last = r.payload.len() - 1;
        r.payload[last] = 0xff;
        let full = CaseEvent::decode(&r.event_type, r.schema_version, &r.payload).unwrap_err();
        let lean = case_event(&r.view(), false).unwrap_err();
        assert_eq!(lean.to_string(), full.to_string());
    }
}
