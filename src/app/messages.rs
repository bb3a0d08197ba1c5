//! A live case's messages, read from its stream in the log when asked: the live
//! projections do not hold them (see [`crate::projection::CaseView`]).

use super::{AppError, Desk};
use crate::domain::{CaseEvent, CaseId};
use crate::projection::Message;

/// The stored type of the events that post a message.
const MESSAGE_POSTED: &str = "MessagePosted";

impl Desk {
    /// The case's messages up to stream version `version`, oldest first: exactly
    /// what a fold of those events keeps (see `Projections::with_messages`).
    pub async fn messages(&self, id: CaseId, version: u64) -> Result<Vec<Message>, AppError> {
        let limit = usize::try_from(version).unwrap_or(usize::MAX);
        let records = self.store.read_stream(&id.stream(), 1, limit).await?;
        let mut out = Vec::new();
        for r in records.iter().filter(|r| r.event_type == MESSAGE_POSTED) {
            if let CaseEvent::MessagePosted(m) =
                CaseEvent::decode(&r.event_type, r.schema_version, &r.payload)?
            {
                out.push(Message {
                    id: r.version,
                    kind: m.kind,
                    author: m.author,
                    body: m.body,
                    at: r.metadata.occurred_at,
                });
            }
        }
        Ok(out)
    }
}
