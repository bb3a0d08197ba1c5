//! Events in the form the store takes and gives back: any event family the log holds
//! made into an append request, and a recorded case event decoded.

use ulid::Ulid;

use super::AppError;
use crate::config::ConfigEvent;
use crate::domain::access::AccessEvent;
use crate::domain::presence::AgentEvent;
use crate::domain::standing::StandingEvent;
use crate::domain::{Actor, CaseEvent, CodecError, Timestamp};
use crate::store::{AppendRequest, ExpectedVersion, Metadata, NewEvent, RecordedEvent};

/// Decodes one recorded case event.
pub fn decode(record: &RecordedEvent) -> Result<CaseEvent, AppError> {
    Ok(CaseEvent::from_record(record)?)
}

/// Any event family the log holds, in the form the store takes and gives back.
pub trait Recordable: Sized {
    /// The event as a new record to append.
    fn record(&self) -> NewEvent;
    /// The event a stored record holds (old schema versions upcast).
    fn from_record(record: &RecordedEvent) -> Result<Self, CodecError>;
}

macro_rules! recordable {
    ($($family:ty),*) => {$(
        impl Recordable for $family {
            fn record(&self) -> NewEvent {
                NewEvent {
                    event_type: self.event_type().into(),
                    schema_version: self.schema_version(),
                    payload: self.encode(),
                }
            }

            fn from_record(r: &RecordedEvent) -> Result<Self, CodecError> {
                <$family>::decode(&r.event_type, r.schema_version, &r.payload)
            }
        }
    )*};
}

recordable!(
    CaseEvent,
    AccessEvent,
    AgentEvent,
    StandingEvent,
    ConfigEvent
);

/// An append of `events` by `actor` at `at`, in a new correlation, without an
/// idempotency key.
pub(super) fn append_request(
    stream: &str,
    expected: ExpectedVersion,
    actor: &Actor,
    at: Timestamp,
    events: &[impl Recordable],
) -> AppendRequest {
    AppendRequest {
        stream: stream.into(),
        expected,
        idempotency_key: None,
        fingerprint: 0,
        metadata: Metadata {
            actor: actor.clone(),
            occurred_at: at,
            correlation_id: Ulid::new(),
            causation_id: None,
        },
        events: events.iter().map(Recordable::record).collect(),
    }
}
