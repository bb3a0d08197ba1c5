//! The flusher thread: makes applied groups durable (sled's `flush`, which uses
//! `sync_file_range`, then an `fdatasync` of sled's data file when
//! [`SledOptions::sync_data`] is set), then advances the head, publishes and answers,
//! in order; on a failed flush it writes the fence.

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

    /// Publishes the events, then answers.
    pub(super) fn complete(self, live: &broadcast::Sender<Arc<RecordedEvent>>) {
        let (Staged::Append(_, _, events) | Staged::Import(_, _, events)) = &self;
        for e in events {
            // No receivers is fine: nobody is listening.
            let _ = live.send(e.clone());
        }
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

/// The flusher thread: makes groups durable, in order, then publishes and answers.
/// It alone advances the head, so once it has failed a group the head is final, and it
/// writes the fence (see the module documentation).
pub(super) fn flush_groups(shared: Arc<Shared>, groups: std_mpsc::Receiver<Group>) {
    let common = &shared.common;
    let mut ready = Vec::new();
    let mut fenced = false;
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
                for group in ready.drain(..) {
                    for s in group.staged {
                        s.complete(&common.live);
                    }
                }
            }
            Err(e) => {
                common.fail(&e, "flush");
                if !fenced {
                    fenced = true;
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
}
