//! A long replay from the store (more than `DEFER_INDEXES_AFTER` events: read ahead,
//! the indexes built at its end, message bodies left unread) gives the projections
//! applying each event in turn gives, with and without every message kept; and what
//! `index_all` may pass over.

use super::history_tests::{history, projections_of};
use super::runner::{self, catch_up, rebuild, DEFER_INDEXES_AFTER};
use super::*;
use crate::store::sled_store::{SledOptions, SledStore};
use crate::store::EventStore;

/// A log long enough that a replay of all of it (or of most of it) decodes ahead.
fn long_log() -> Vec<RecordedEvent> {
    let log = history(17, 25_000, false);
    assert!(
        log.len() as u64 > 2 * DEFER_INDEXES_AFTER,
        "too short a log: {}",
        log.len()
    );
    log
}

#[tokio::test]
async fn a_long_replay_equals_the_events_applied_one_by_one() {
    let log = long_log();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), SledOptions::default()).unwrap();
    store.import(log.clone()).await.unwrap();
    let one_by_one = projections_of(&log);
    let mut rebuilt = rebuild(&store).await.unwrap();
    assert_eq!(rebuilt, one_by_one);
    // A start gives back the room the replay's growth left: the same projections.
    rebuilt.shrink_to_fit();
    assert_eq!(rebuilt, one_by_one);
    // From a snapshot far behind the log, decoded for the catch-up that defers.
    let early = projections_of(&log[..log.len() / 10]);
    let bytes = runner::encode_snapshot(&early);
    let mut resumed = runner::decode_snapshot_for(&bytes, store.head()).expect("a snapshot");
    catch_up(&store, &mut resumed).await.unwrap();
    assert_eq!(resumed, one_by_one);
    // Past views keep every message's body, which the replay then reads.
    let mut held = Projections::with_messages();
    for r in &log {
        held.apply(r).unwrap();
    }
    let mut replayed = Projections::with_messages();
    catch_up(&store, &mut replayed).await.unwrap();
    assert_eq!(replayed, held);
    assert!(
        held.cases.values().any(|v| !v.messages.is_empty()),
        "the history posts messages"
    );
    store.shutdown().await.unwrap();
}

/// What `index_all` passes over: a case neither open nor with a swarm has no entry in
/// any index, after every event of the histories.
#[test]
fn only_an_open_case_or_one_with_a_swarm_has_index_entries() {
    let mut passed_over = 0;
    for seed in 1..=6u64 {
        let log = history(seed, 400, false);
        let mut p = Projections::new();
        for r in &log {
            p.apply(r).unwrap();
            let Some(id) = CaseId::from_stream(&r.stream) else {
                continue;
            };
            let c = &p.cases[&id].case;
            if c.status != Status::Open && c.swarm.is_none() {
                assert!(IndexEntries::of(c, id) == IndexEntries::none(), "{id}");
                passed_over += 1;
            }
        }
    }
    assert!(passed_over > 100, "too few closed cases: {passed_over}");
}

/// A start that replays a long log (then shrinks what it grew and has the store drop
/// what the replay left in it: sled reopened) serves the same projections, and goes on
/// following the log and taking appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_after_a_long_replay_follows_the_log_as_before() {
    let log = long_log();
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SledStore::open(dir.path(), SledOptions::default()).unwrap());
    let (before, after) = log.split_at(log.len() - 50);
    store.import(before.to_vec()).await.unwrap();
    let runner = runner::ProjectionRunner::start(store.clone())
        .await
        .unwrap();
    assert_eq!(*runner.read(), projections_of(before));
    store.import(after.to_vec()).await.unwrap();
    runner.wait_for(store.head()).await.unwrap();
    assert_eq!(*runner.read(), projections_of(&log));
    runner.stop().await.unwrap();
    store.shutdown().await.unwrap();
}
