//! Events in the form the store takes and gives back: any event family the log holds
//! made into an append request, and a recorded case event decoded.

use ulid::Ulid;

use super::AppError;
use crate::config::ConfigEvent;
use crate::domain::access::AccessEvent;
use crate::domain::{Actor, CaseEvent, Timestamp};
use crate::store::{AppendRequest, ExpectedVersion, Metadata, NewEvent, RecordedEvent};

/// Decodes one recorded case event.
pub fn decode(record: &RecordedEvent) -> Result<CaseEvent, AppError> {
    Ok(CaseEvent::decode(
        &record.event_type,
        record.schema_version,
        &record.payload,
    )?)
}

/// Any event family the log holds, in the form the store takes.
pub(super) trait Recordable {
    fn record(&self) -> NewEvent;
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
        }
    )*};
}

recordable!(CaseEvent, AccessEvent, ConfigEvent);

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
