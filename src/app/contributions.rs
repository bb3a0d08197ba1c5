//! An agent's contributions over a period ([`crate::swarming::contributions`]),
//! folded from the log up to the end of the period, counting only the cases the
//! caller may see.

use super::{AppError, Desk};
use crate::domain::{AgentId, CaseEvent, CaseId, Timestamp};
use crate::swarming::contributions::{Contribution, Tally};

impl Desk {
    /// `agent`'s contribution in `[from, to)`: every case event before `to` is folded;
    /// only cases `visible` accepts are counted.
    pub async fn contributions(
        &self,
        agent: AgentId,
        from: Timestamp,
        to: Timestamp,
        visible: &(dyn Fn(CaseId) -> bool + Sync),
    ) -> Result<Contribution, AppError> {
        let mut tally = Tally::new(agent, from, to);
        let mut seen: std::collections::HashMap<CaseId, bool> = Default::default();
        let mut failed = None;
        self.store()
            .replay(1, &mut |e| {
                let Some(id) = CaseId::from_stream(e.stream) else {
                    return true;
                };
                match CaseEvent::decode(e.event_type, e.schema_version, e.payload) {
                    Ok(event) => {
                        let counts = *seen.entry(id).or_insert_with(|| visible(id));
                        tally.apply(id, &event, e.version, e.occurred_at, counts);
                        true
                    }
                    Err(err) => {
                        failed = Some(err);
                        false
                    }
                }
            })
            .await?;
        if let Some(err) = failed {
            return Err(err.into());
        }
        Ok(tally.finish())
    }
}
