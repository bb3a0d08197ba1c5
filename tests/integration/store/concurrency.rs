//! Optimistic concurrency: one winner per expected version; retrying writers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use swarmdesk::store::{AppendOutcome, EventStore, ExpectedVersion, StoreError};
use tokio::sync::Barrier;

use crate::common::*;

/// 32 tasks race each round on the same expected version of one stream: exactly one
/// wins, every other one is told the version the winner produced.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_to_one_stream_have_exactly_one_winner_per_version() {
    const TASKS: usize = 32;
    const ROUNDS: u64 = 12;
    let dir = temp_dir();
    let store = open_store(dir.path());
    let barrier = Arc::new(Barrier::new(TASKS));

    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let mut results: Vec<(u64, Result<AppendOutcome, StoreError>)> = Vec::new();
            for round in 0..ROUNDS {
                // Everyone starts the round after the previous one fully finished, so
                // the stream is at version `round` for all of them.
                barrier.wait().await;
                let req = request(
                    "race",
                    ExpectedVersion::Exact(round),
                    vec![raw_event(&format!("task{task}-round{round}"), 64)],
                );
                results.push((round, store.append(req).await));
                barrier.wait().await;
            }
            (task, results)
        }));
    }

    let mut winners: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut losers: BTreeMap<u64, usize> = BTreeMap::new();
    for h in handles {
        let (task, results) = h.await.expect("task");
        for (round, result) in results {
            match result {
                Ok(outcome) => {
                    assert_eq!(outcome.stream, "race");
                    assert_eq!(outcome.first_version, round + 1);
                    assert_eq!(outcome.last_version, round + 1);
                    assert_eq!(outcome.first_position, outcome.last_position);
                    assert!(!outcome.deduplicated);
                    winners.entry(round).or_default().push(task);
                }
                Err(StoreError::VersionConflict {
                    stream,
                    expected,
                    current,
                }) => {
                    assert_eq!(stream, "race");
                    assert_eq!(expected, round);
                    assert_eq!(current, round + 1, "a loser must see the winner's version");
                    *losers.entry(round).or_default() += 1;
                }
                Err(e) => panic!("unexpected error in round {round}: {e}"),
            }
        }
    }
    for round in 0..ROUNDS {
        let w = winners.get(&round).cloned().unwrap_or_default();
        assert_eq!(
            w.len(),
            1,
            "round {round} must have exactly one winner, got {w:?}"
        );
        assert_eq!(
            losers.get(&round).copied().unwrap_or(0),
            TASKS - 1,
            "round {round} losers"
        );
    }

    let events = store.read_stream("race", 1, usize::MAX).await.unwrap();
    let versions: Vec<u64> = events.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=ROUNDS).collect::<Vec<_>>());
    for (round, e) in events.iter().enumerate() {
        let task = winners[&(round as u64)][0];
        assert_eq!(
            label_of(e),
            format!("task{task}-round{round}"),
            "the stored event is the winner's"
        );
    }
    assert_eq!(store.stream_version("race").await.unwrap(), ROUNDS);
    let log = read_log(store.as_ref()).await;
    assert_eq!(log.len() as u64, ROUNDS, "losers must write nothing");
    assert_gapless(&log);
}

/// Free-running writers that re-read the version and retry on conflict: every write
/// lands exactly once and the stream's versions are 1..n with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retrying_writers_on_one_stream_produce_a_gapless_stream() {
    const TASKS: usize = 32;
    const PER_TASK: usize = 6;
    let dir = temp_dir();
    let store = open_store(dir.path());

    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for n in 0..PER_TASK {
                loop {
                    let v = store.stream_version("hot").await.unwrap();
                    let req = request(
                        "hot",
                        ExpectedVersion::Exact(v),
                        vec![raw_event(&format!("t{task}-n{n}"), 32)],
                    );
                    match store.append(req).await {
                        Ok(o) => {
                            assert_eq!(o.first_version, v + 1);
                            break;
                        }
                        Err(StoreError::VersionConflict {
                            expected, current, ..
                        }) => {
                            assert_eq!(expected, v);
                            assert!(
                                current > v,
                                "a conflict reports a newer version ({current} vs {v})"
                            );
                            conflicts += 1;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            conflicts
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let events = store.read_stream("hot", 1, usize::MAX).await.unwrap();
    assert_eq!(events.len(), TASKS * PER_TASK);
    assert_eq!(
        events.iter().map(|e| e.version).collect::<Vec<_>>(),
        (1..=(TASKS * PER_TASK) as u64).collect::<Vec<_>>()
    );
    let labels: BTreeSet<String> = events.iter().map(label_of).collect();
    assert_eq!(
        labels.len(),
        TASKS * PER_TASK,
        "every write is stored exactly once"
    );
    // Each task's own writes keep their order.
    for task in 0..TASKS {
        let mine: Vec<String> = events
            .iter()
            .map(label_of)
            .filter(|l| l.starts_with(&format!("t{task}-")))
            .collect();
        let expected: Vec<String> = (0..PER_TASK).map(|n| format!("t{task}-n{n}")).collect();
        assert_eq!(mine, expected);
    }
    assert_gapless(&read_log(store.as_ref()).await);
}
