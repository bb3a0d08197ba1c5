//! Committing applied groups: making them durable (sled's `flush`, which uses
//! `sync_file_range`, then an `fdatasync` of sled's data file when
//! [`SledOptions::sync_data`] is set), then advancing the head, publishing and
//! answering, in order; on a failed flush, writing the fence. The flusher thread
//! commits the groups the writer hands it; the writer commits a lone group itself.

use super::*;

/// One request's answer, sent once the flush after it succeeded.
pub(super) enum Staged {
    Append(
        Reply<AppendOutcome>,
        Result<AppendOutcome, StoreError>,
        Vec<Arc<RecordedEvent>>,
    ),
    Import(Reply<u64>, Result<u64, StoreError>, Vec<Arc<RecordedEvent>>),
}

impl Staged {
    pub(super) fn events(&self) -> &[Arc<RecordedEvent>] {
        match self {
            Staged::Append(_, _, events) | Staged::Import(_, _, events) => events,
        }
    }

    /// Answers the request.
    fn answer(self) {
        match self {
            Staged::Append(reply, result, _) => drop(reply.send(result)),
            Staged::Import(reply, result, _) => drop(reply.send(result)),
        }
    }

    pub(super) fn fail(self, error: &StoreError) {
        match self {
            Staged::Append(reply, ..) => drop(reply.send(Err(error.clone()))),
            Staged::Import(reply, ..) => drop(reply.send(Err(error.clone()))),
        }
    }
}

/// Requests applied with one `apply_batch`, waiting for the flush.
pub(super) struct Group {
    /// The head once the group is durable.
    pub(super) last_position: u64,
    pub(super) staged: Vec<Staged>,
}

impl Shared {
    /// Makes everything applied so far durable: sled's flush, then (if configured)
    /// an `fdatasync` of its data file.
    pub(super) fn flush(&self) -> Result<usize, StoreError> {
        let flushed = self.db.flush()?;
        if let Some(f) = &self.data_file {
            f.sync_data()
                .map_err(|e| StoreError::Io(format!("fdatasync: {e}")))?;
        }
        Ok(flushed)
    }
}

/// Publishes the events of the durable `groups` in log order, then answers every
/// request of them. Publishing first starts the projections on the events while the
/// requests' tasks wake, so a mutation's wait for the projections to apply them
/// (every mutation answers its caller only after that) is mostly over when its task
/// runs: measured at one client as 10-15% more mutations/s, with neither 64 clients
/// nor writes under a 5,000-subscriber fan-out worse (docs/performance.md, "Publishing
/// before answering"). Nothing becomes visible earlier: the head already covers the
/// events. (The reverse order was kept while requests executed on the runtime the
/// projections and the subscriptions' runs share, where the answer then queued
/// behind them; requests now execute on the HTTP workers.)
fn publish_then_answer(
    groups: impl Iterator<Item = Group>,
    mut publish: impl FnMut(Arc<RecordedEvent>),
) {
    let staged: Vec<Staged> = groups.flat_map(|g| g.staged).collect();
    for e in staged.iter().flat_map(Staged::events) {
        publish(e.clone());
    }
    for s in staged {
        s.answer();
    }
}

/// Commits the groups in `ready`, applied in this order: makes them durable with one
/// flush, advances the head, publishes and answers; on a failed flush refuses them all
/// and writes the fence (once per open of sled). One thread commits at a time, so the
/// head, the publications and the answers follow the log's order: the flusher, or the
/// writer itself while no group is in flight ([`Shared::in_flight`]). Leaves `ready`
/// empty.
pub(super) fn commit(shared: &Shared, ready: &mut Vec<Group>) {
    let common = &shared.common;
    let durable = if common.failed.load(Ordering::Acquire) {
        Err(failed_error())
    } else {
        shared.flush()
    };
    match durable {
        Ok(_) => {
            let head = ready.last().map_or(0, |g| g.last_position);
            common.head.fetch_max(head, Ordering::AcqRel);
            debug!(head, groups = ready.len(), "group committed");
            let events: usize = ready
                .iter()
                .flat_map(|g| &g.staged)
                .map(|s| s.events().len())
                .sum();
            if events > 0 {
                common.stats.commit_events.observe(events as f64);
            }
            publish_then_answer(ready.drain(..), |e| {
                // No receivers is fine: nobody is listening.
                let _ = common.live.send(e);
            });
        }
        Err(e) => {
            common.fail(&e, "flush");
            // The head is final now (nothing commits after a failure): record it once.
            if !shared.fenced.swap(true, Ordering::AcqRel) {
                common.write_fence(common.head.load(Ordering::Acquire));
            }
            let answer = refused(&e);
            for group in ready.drain(..) {
                for s in group.staged {
                    s.fail(&answer);
                }
            }
        }
    }
}

/// The flusher thread: commits the groups the writer hands it, in order, several with
/// one flush when they wait together. It and the writer are the only threads that
/// advance the head, one at a time, so once a group has failed the head is final, and
/// the fence is written (see the module documentation).
pub(super) fn flush_groups(shared: Arc<Shared>, groups: std_mpsc::Receiver<Group>) {
    let mut ready = Vec::new();
    while let Ok(first) = groups.recv() {
        ready.push(first);
        // One flush covers every group applied before it. If the writer is applying
        // one right now, wait for it too: one flush for both costs less than two.
        ready.extend(groups.try_iter());
        if shared.staging.load(Ordering::Acquire) {
            if let Ok(group) = groups.recv_timeout(STAGING_WAIT) {
                ready.push(group);
                ready.extend(groups.try_iter());
            }
        }
        let committed = ready.len();
        commit(&shared, &mut ready);
        // Only now may the writer commit a group itself: these are answered.
        shared.in_flight.fetch_sub(committed, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, Role};
    use crate::store::envelope::Metadata;

    fn event(position: u64) -> Arc<RecordedEvent> {
        Arc::new(RecordedEvent {
            position,
            id: ulid::Ulid(position as u128),
            stream: "case-C-1".into(),
            version: position,
            event_type: "Noted".into(),
            schema_version: 1,
            metadata: Metadata {
                actor: Actor::new("dara", Role::Agent).unwrap(),
                occurred_at: Timestamp(position as i64 * 1000),
                correlation_id: ulid::Ulid(7),
                causation_id: None,
            },
            payload: vec![position as u8; 4],
        })
    }

    fn append(
        positions: std::ops::RangeInclusive<u64>,
    ) -> (Staged, oneshot::Receiver<Result<AppendOutcome, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let outcome = AppendOutcome {
            stream: "case-C-1".into(),
            first_version: *positions.start(),
            last_version: *positions.end(),
            first_position: *positions.start(),
            last_position: *positions.end(),
            deduplicated: false,
        };
        let events = positions.map(event).collect();
        (Staged::Append(reply, Ok(outcome), events), answer)
    }

    /// Every event of the durable groups is published, once, in log order, before the
    /// first of their requests is answered (so the projections start on them while the
    /// requests' tasks wake).
    #[test]
    fn a_commit_publishes_its_events_before_it_answers_every_request() {
        let (first, mut first_answer) = append(1..=2);
        let (second, mut second_answer) = append(3..=3);
        let (third, mut third_answer) = append(4..=5);
        let groups = vec![
            Group {
                last_position: 3,
                staged: vec![first, second],
            },
            Group {
                last_position: 5,
                staged: vec![third],
            },
        ];
        let mut published = Vec::new();
        // Whether any request had its answer when each event was published.
        let mut answered_by_then = Vec::new();
        publish_then_answer(groups.into_iter(), |e| {
            let answers = [&mut first_answer, &mut second_answer, &mut third_answer];
            answered_by_then.push(
                answers.map(|a| !matches!(a.try_recv(), Err(oneshot::error::TryRecvError::Empty))),
            );
            published.push(e.position);
        });
        assert!(
            answered_by_then.iter().all(|a| a == &[false; 3]),
            "{answered_by_then:?}"
        );
        let answers = [first_answer, second_answer, third_answer];
        assert!(answers
            .into_iter()
            .all(|mut a| matches!(a.try_recv(), Ok(Ok(_)))));
        assert_eq!(published, [1, 2, 3, 4, 5]);
    }
}
