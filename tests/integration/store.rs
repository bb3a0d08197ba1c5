//! The sled event store: optimistic concurrency, idempotency, gapless positions,
//! atomic appends, durability across reopen and SIGKILL, imports, and the catch-up
//! feed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use futures_util::StreamExt;
use swarmdesk::store::feed::FeedEvent;
use swarmdesk::store::sled::SledOptions;
use swarmdesk::store::{
    subscribe_from, AppendOutcome, AppendRequest, EventStore, ExpectedVersion, IdempotentResult,
    RecordedEvent, StoreError,
};
use tokio::sync::Barrier;
use ulid::Ulid;

use crate::common::*;

// ---------------------------------------------------------------------------------
// Optimistic concurrency
// ---------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------

fn keyed(
    stream: &str,
    expected: ExpectedVersion,
    key: &str,
    fingerprint: u64,
    n: usize,
) -> AppendRequest {
    let events = (0..n)
        .map(|i| raw_event(&format!("{key}-{i}"), 100))
        .collect();
    AppendRequest {
        idempotency_key: Some(key.into()),
        fingerprint,
        ..request(stream, expected, events)
    }
}

#[tokio::test]
async fn idempotent_retry_writes_once_and_returns_the_first_outcome() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    // Something before it, so positions and versions are not trivially 1.
    store
        .append(request(
            "other",
            ExpectedVersion::Any,
            vec![raw_event("pre", 10)],
        ))
        .await
        .unwrap();

    let first = store
        .append(keyed("s", ExpectedVersion::Exact(0), "req-1", 42, 2))
        .await
        .unwrap();
    assert!(!first.deduplicated);
    assert_eq!((first.first_version, first.last_version), (1, 2));
    assert_eq!((first.first_position, first.last_position), (2, 3));

    // The same request again, even though its expected version is now stale.
    let again = store
        .append(keyed("s", ExpectedVersion::Exact(0), "req-1", 42, 2))
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!(
        AppendOutcome {
            deduplicated: false,
            ..again.clone()
        },
        first
    );

    // The key with a different meaning is refused.
    match store
        .append(keyed("s", ExpectedVersion::Exact(2), "req-1", 43, 1))
        .await
    {
        Err(StoreError::IdempotencyKeyReused(k)) => assert_eq!(k, "req-1"),
        other => panic!("expected IdempotencyKeyReused, got {other:?}"),
    }
    // ... also when aimed at another stream.
    assert!(matches!(
        store
            .append(keyed("elsewhere", ExpectedVersion::Any, "req-1", 7, 1))
            .await,
        Err(StoreError::IdempotencyKeyReused(_))
    ));

    let stored = store
        .idempotent_result("req-1")
        .await
        .unwrap()
        .expect("stored result");
    assert_eq!(stored.fingerprint, 42);
    assert_eq!(stored.outcome, first);
    assert!(store
        .idempotent_result("never-used")
        .await
        .unwrap()
        .is_none());

    let log = read_log(store.as_ref()).await;
    assert_eq!(log.len(), 3, "the retries wrote nothing");
    assert_eq!(store.head(), 3);
    assert_eq!(store.stream_version("s").await.unwrap(), 2);
    assert_eq!(store.stream_version("elsewhere").await.unwrap(), 0);
    assert_gapless(&log);

    // A new key appends normally after all that.
    let next = store
        .append(keyed("s", ExpectedVersion::Exact(2), "req-2", 42, 1))
        .await
        .unwrap();
    assert_eq!(
        (next.first_version, next.first_position, next.deduplicated),
        (3, 4, false)
    );
}

/// Many copies of one request in flight at once (they land in the same group-commit
/// batch or in consecutive ones): one write, identical outcomes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_idempotent_retries_write_once() {
    const COPIES: usize = 24;
    let dir = temp_dir();
    let store = open_store(dir.path());
    for round in 0..5u64 {
        let key = format!("concurrent-{round}");
        let barrier = Arc::new(Barrier::new(COPIES));
        let handles: Vec<_> = (0..COPIES)
            .map(|_| {
                let (store, barrier, key) = (store.clone(), barrier.clone(), key.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .append(keyed("dup", ExpectedVersion::Any, &key, 1000 + round, 3))
                        .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for h in handles {
            outcomes.push(h.await.unwrap().expect("every copy succeeds"));
        }
        let fresh: Vec<&AppendOutcome> = outcomes.iter().filter(|o| !o.deduplicated).collect();
        assert_eq!(fresh.len(), 1, "round {round}: exactly one copy writes");
        let first = fresh[0].clone();
        assert_eq!(first.last_version - first.first_version, 2);
        for o in &outcomes {
            assert_eq!(
                AppendOutcome {
                    deduplicated: false,
                    ..o.clone()
                },
                first,
                "every copy sees the same result"
            );
        }
    }
    let log = read_log(store.as_ref()).await;
    assert_eq!(
        log.len(),
        15,
        "5 requests of 3 events each, written once each"
    );
    assert_gapless(&log);
}

/// The same key with two meanings in flight at once: whichever lands first wins; the
/// copies with its fingerprint are deduplicated, the others refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_one_key_and_two_fingerprints() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16u64)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let fp = if i % 2 == 0 { 1 } else { 2 };
                (
                    fp,
                    store
                        .append(keyed(
                            "contested",
                            ExpectedVersion::Any,
                            "shared-key",
                            fp,
                            1,
                        ))
                        .await,
                )
            })
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await.unwrap());
    }
    let winner_fp = results
        .iter()
        .find(|(_, r)| matches!(r, Ok(o) if !o.deduplicated))
        .map(|(fp, _)| *fp)
        .unwrap();
    let mut fresh = 0;
    for (fp, r) in &results {
        match r {
            Ok(o) if !o.deduplicated => fresh += 1,
            Ok(_) => assert_eq!(
                *fp, winner_fp,
                "only the winner's fingerprint is deduplicated"
            ),
            Err(StoreError::IdempotencyKeyReused(_)) => assert_ne!(*fp, winner_fp),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(fresh, 1);
    assert_eq!(read_log(store.as_ref()).await.len(), 1);
    assert_eq!(
        store
            .idempotent_result("shared-key")
            .await
            .unwrap()
            .unwrap()
            .fingerprint,
        winner_fp
    );
}

// ---------------------------------------------------------------------------------
// Positions and atomicity
// ---------------------------------------------------------------------------------

/// 48 writers on 48 streams, with batches of 1-4 events: positions are 1..N with no
/// gap, each append owns a contiguous range, and every stream is gapless.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn global_positions_are_gapless_under_concurrent_appends_to_many_streams() {
    const WRITERS: usize = 48;
    const APPENDS: usize = 15;
    let dir = temp_dir();
    let store = open_store(dir.path());
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut rng = Rng::new(w as u64 + 1);
                let mut out = Vec::new();
                for a in 0..APPENDS {
                    let n = 1 + rng.below(4);
                    let events = (0..n)
                        .map(|i| raw_event(&format!("w{w}-a{a}-e{i}"), 50 + rng.below(250)))
                        .collect();
                    let expected = if a % 2 == 0 {
                        ExpectedVersion::Any
                    } else {
                        ExpectedVersion::Exact(out_version(&out))
                    };
                    let outcome = store
                        .append(request(&format!("stream-{w}"), expected, events))
                        .await
                        .unwrap();
                    out.push((a, n, outcome));
                }
                (w, out)
            })
        })
        .collect();

    fn out_version(out: &[(usize, usize, AppendOutcome)]) -> u64 {
        out.last().map(|(_, _, o)| o.last_version).unwrap_or(0)
    }

    let mut expected_total = 0u64;
    let mut outcomes = Vec::new();
    for h in handles {
        let (w, out) = h.await.unwrap();
        for (a, n, o) in out {
            expected_total += n as u64;
            outcomes.push((w, a, n, o));
        }
    }
    let log = read_log(store.as_ref()).await;
    assert_eq!(log.len() as u64, expected_total);
    assert_eq!(store.head(), expected_total);
    assert_eq!(
        log.iter().map(|e| e.position).collect::<Vec<_>>(),
        (1..=expected_total).collect::<Vec<_>>()
    );
    assert_gapless(&log);

    // Every append's events sit at its positions, in order, with consecutive versions.
    let mut covered = vec![false; expected_total as usize + 1];
    for (w, a, n, o) in &outcomes {
        assert_eq!(o.last_position - o.first_position + 1, *n as u64);
        assert_eq!(o.last_version - o.first_version + 1, *n as u64);
        for i in 0..*n as u64 {
            let e = &log[(o.first_position + i - 1) as usize];
            assert_eq!(e.stream, format!("stream-{w}"));
            assert_eq!(e.version, o.first_version + i);
            assert_eq!(label_of(e), format!("w{w}-a{a}-e{i}"));
            assert!(
                !covered[e.position as usize],
                "position {} handed out twice",
                e.position
            );
            covered[e.position as usize] = true;
        }
    }
    assert!(
        covered[1..].iter().all(|c| *c),
        "every position belongs to exactly one append"
    );
    // Event ids are unique too.
    assert_eq!(
        log.iter().map(|e| e.id).collect::<BTreeSet<Ulid>>().len(),
        log.len()
    );
}

/// A multi-event append is all or nothing: consecutive versions and positions even
/// while other writers interleave, and nothing at all when it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_multi_event_append_is_atomic() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    store
        .append(request(
            "atomic",
            ExpectedVersion::Any,
            vec![raw_event("seed", 10)],
        ))
        .await
        .unwrap();

    // Noise on other streams while the big appends go in.
    let noise: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..40 {
                    store
                        .append(request(
                            &format!("noise-{n}"),
                            ExpectedVersion::Any,
                            vec![raw_event(&format!("n{n}-{i}"), 20)],
                        ))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut big = Vec::new();
    for round in 0..10u64 {
        let events = (0..7)
            .map(|i| raw_event(&format!("big{round}-{i}"), 300))
            .collect();
        let o = store
            .append(request(
                "atomic",
                ExpectedVersion::Exact(1 + round * 7),
                events,
            ))
            .await
            .unwrap();
        assert_eq!(
            (o.first_version, o.last_version),
            (2 + round * 7, 8 + round * 7)
        );
        assert_eq!(o.last_position - o.first_position, 6);
        big.push(o);
    }
    for n in noise {
        n.await.unwrap();
    }
    let log = read_log(store.as_ref()).await;
    assert_gapless(&log);
    for (round, o) in big.iter().enumerate() {
        let slice = &log[(o.first_position - 1) as usize..o.last_position as usize];
        let labels: Vec<String> = slice.iter().map(label_of).collect();
        let expected: Vec<String> = (0..7).map(|i| format!("big{round}-{i}")).collect();
        assert_eq!(
            labels, expected,
            "an append's events are contiguous in the log"
        );
        assert!(slice.iter().all(|e| e.stream == "atomic"));
        // One command's events share metadata.
        assert!(slice.iter().all(|e| e.metadata == slice[0].metadata));
    }

    // Refused appends write none of their events.
    let head = store.head();
    let stale = (0..5)
        .map(|i| raw_event(&format!("stale-{i}"), 30))
        .collect();
    assert!(matches!(
        store
            .append(request("atomic", ExpectedVersion::Exact(3), stale))
            .await,
        Err(StoreError::VersionConflict {
            expected: 3,
            current: 71,
            ..
        })
    ));
    assert!(matches!(
        store
            .append(request("atomic", ExpectedVersion::Any, Vec::new()))
            .await,
        Err(StoreError::EmptyAppend)
    ));
    assert_eq!(store.head(), head);
    assert_eq!(read_log(store.as_ref()).await.len() as u64, head);
    assert_eq!(store.stream_version("atomic").await.unwrap(), 71);
}

// ---------------------------------------------------------------------------------
// Durability
// ---------------------------------------------------------------------------------

/// A process killed while sled 0.34.7 writes its start-up snapshot leaves a truncated
/// `snap.<lsn>.generating` behind, which sled's own open then reads and refuses ("Read
/// corrupted data"). The store sets it aside before opening and comes back whole.
#[tokio::test]
async fn an_unfinished_sled_snapshot_is_set_aside_and_the_store_opens() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    for i in 0..20 {
        let req = request(
            "snapshotted",
            ExpectedVersion::Any,
            vec![raw_event(&format!("e{i}"), 200)],
        );
        store.append(req).await.unwrap();
    }
    let before = read_log(store.as_ref()).await;
    close_store(store);

    let planted = dir.path().join("snap.FFFFFFFFFFFFFFFF.generating");
    std::fs::write(&planted, b"cut short").unwrap();
    let raw = sled::Config::new().path(dir.path()).open();
    assert!(
        raw.is_err(),
        "sled itself refuses a store with an unfinished snapshot, which is why we set it aside"
    );
    drop(raw);

    let store = open_store(dir.path());
    assert_eq!(
        read_log(store.as_ref()).await,
        before,
        "every event is back"
    );
    assert!(
        !planted.exists(),
        "the unfinished snapshot is out of sled's way"
    );
    let aside: Vec<_> = std::fs::read_dir(dir.path().join(swarmdesk::store::sled::SET_ASIDE_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(
        aside[0].starts_with("snap.FFFFFFFFFFFFFFFF.generating"),
        "{aside:?}"
    );
    let more = request(
        "snapshotted",
        ExpectedVersion::Exact(20),
        vec![raw_event("after", 200)],
    );
    assert_eq!(
        store.append(more).await.unwrap().last_version,
        21,
        "it takes writes again"
    );
}

/// A second process on a data directory in use is told so in words, not `WouldBlock`.
#[tokio::test]
async fn a_data_directory_in_use_is_named_as_such() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    let err = match swarmdesk::store::sled::SledStore::open(dir.path(), test_options()) {
        Ok(_) => panic!("two stores on one directory"),
        Err(e) => e,
    };
    assert!(matches!(err, StoreError::InUse(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("in use by another swarmdesk process"),
        "{text}"
    );
    assert!(text.contains("--url"), "{text}");
    close_store(store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reopening_the_store_finds_every_acknowledged_event() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    let handles: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut acks = Vec::new();
                for i in 0..25 {
                    let mut req = request(
                        &format!("durable-{}", w % 4),
                        ExpectedVersion::Any,
                        vec![raw_event(&format!("w{w}-{i}"), 300)],
                    );
                    if i % 5 == 0 {
                        req.idempotency_key = Some(format!("key-{w}-{i}"));
                        req.fingerprint = (w * 100 + i) as u64;
                    }
                    acks.push((
                        req.idempotency_key.clone(),
                        req.fingerprint,
                        store.append(req).await.unwrap(),
                    ));
                }
                acks
            })
        })
        .collect();
    let mut acks = Vec::new();
    for h in handles {
        acks.extend(h.await.unwrap());
    }
    store
        .save_snapshot("probe", b"snapshot bytes".to_vec())
        .await
        .unwrap();
    let before = read_log(store.as_ref()).await;
    let head = store.head();
    assert_eq!(head, 400);
    close_store(store);

    let store = open_store(dir.path());
    assert_eq!(store.head(), head, "the head is recovered");
    let after = read_log(store.as_ref()).await;
    assert_eq!(after, before, "every event comes back byte for byte");
    assert_gapless(&after);
    for (key, fp, outcome) in &acks {
        let e = &after[(outcome.first_position - 1) as usize];
        assert_eq!(
            (e.stream.as_str(), e.version),
            (outcome.stream.as_str(), outcome.first_version)
        );
        if let Some(k) = key {
            let r = store
                .idempotent_result(k)
                .await
                .unwrap()
                .expect("idempotency record survives");
            assert_eq!((&r.outcome, r.fingerprint), (outcome, *fp));
        }
    }
    for s in 0..4 {
        let stream = format!("durable-{s}");
        assert_eq!(store.stream_version(&stream).await.unwrap(), 100);
        assert_eq!(
            store
                .read_stream(&stream, 1, usize::MAX)
                .await
                .unwrap()
                .len(),
            100
        );
    }
    assert_eq!(
        store.load_snapshot("probe").await.unwrap().as_deref(),
        Some(&b"snapshot bytes"[..])
    );

    // A retry after the restart is still deduplicated, and new appends continue the
    // log and the streams without a gap.
    let (key, fp, outcome) = acks.iter().find(|(k, ..)| k.is_some()).unwrap();
    let mut retry = request(
        &outcome.stream,
        ExpectedVersion::Any,
        vec![raw_event("retry", 300)],
    );
    retry.idempotency_key = key.clone();
    retry.fingerprint = *fp;
    let replay = store.append(retry).await.unwrap();
    assert!(replay.deduplicated);
    assert_eq!(
        AppendOutcome {
            deduplicated: false,
            ..replay
        },
        *outcome
    );
    let next = store
        .append(request(
            "durable-0",
            ExpectedVersion::Exact(100),
            vec![raw_event("after", 300)],
        ))
        .await
        .unwrap();
    assert_eq!((next.first_position, next.first_version), (head + 1, 101));
    let fresh = store
        .append(request(
            "brand-new",
            ExpectedVersion::Exact(0),
            vec![raw_event("new", 10)],
        ))
        .await
        .unwrap();
    assert_eq!((fresh.first_position, fresh.first_version), (head + 2, 1));

    // A clean shutdown, then once more.
    store.shutdown().await.unwrap();
    assert!(matches!(
        store
            .append(request(
                "x",
                ExpectedVersion::Any,
                vec![raw_event("late", 1)]
            ))
            .await,
        Err(StoreError::Closed)
    ));
    close_store(store);
    let store = open_store(dir.path());
    assert_eq!(store.head(), head + 2);
    assert_gapless(&read_log(store.as_ref()).await);
}

/// Environment variable that turns [`crash_child_appends_until_killed`] into a writer.
const CRASH_DIR_VAR: &str = "SWARMDESK_CRASH_CHILD_DIR";
const CRASH_CHILD_TEST: &str = "store::crash_child_appends_until_killed";

/// Not a test on its own: the parent below runs the test binary with this one test
/// selected and the variable set. It appends forever and prints each acknowledged
/// append (`ACK stream version position`) only after `append` returned, i.e. after
/// the group commit's flush.
#[test]
#[ignore = "run as a child process by sigkill_never_loses_an_acknowledged_append"]
fn crash_child_appends_until_killed() {
    let Ok(dir) = std::env::var(CRASH_DIR_VAR) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = open_store(std::path::Path::new(&dir));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<AppendOutcome>();
        // Several writers, so group commits hold more than one request.
        for w in 0..4 {
            let (store, tx) = (store.clone(), tx.clone());
            tokio::spawn(async move {
                for i in 0u64.. {
                    let stream = format!("crash-{}", (w + i as usize) % 6);
                    let n = 1 + (i % 3) as usize;
                    let events = (0..n)
                        .map(|k| raw_event(&format!("w{w}-i{i}-k{k}"), 300))
                        .collect();
                    let o = store
                        .append(request(&stream, ExpectedVersion::Any, events))
                        .await
                        .expect("append");
                    if tx.send(o).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let stdout = std::io::stdout();
        while let Some(o) = rx.recv().await {
            let mut out = stdout.lock();
            for i in 0..=(o.last_version - o.first_version) {
                writeln!(
                    out,
                    "ACK {} {} {}",
                    o.stream,
                    o.first_version + i,
                    o.first_position + i
                )
                .unwrap();
            }
            out.flush().unwrap();
        }
    });
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Ack {
    position: u64,
    stream: String,
    version: u64,
}

/// Runs the writer child, reads `want` acknowledgements, then SIGKILLs it.
fn run_and_kill_child(dir: &std::path::Path, want: usize) -> Vec<Ack> {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            CRASH_CHILD_TEST,
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CRASH_DIR_VAR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().unwrap();
    let mut acks = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read child output");
        let Some(rest) = line.strip_prefix("ACK ") else {
            continue;
        };
        let mut parts = rest.split(' ');
        let stream = parts.next().unwrap().to_string();
        let version = parts.next().unwrap().parse().unwrap();
        let position = parts.next().unwrap().parse().unwrap();
        acks.push(Ack {
            position,
            stream,
            version,
        });
        if acks.len() >= want {
            break;
        }
    }
    // SIGKILL: no destructor, no final flush, no clean sled shutdown.
    child.kill().expect("kill child");
    let status = child.wait().expect("reap child");
    assert!(
        !status.success(),
        "the child must have been killed, not have finished: {status:?}"
    );
    assert!(
        acks.len() >= want,
        "the child stopped early after {} acknowledgements",
        acks.len()
    );
    acks
}

/// Kill -9 the writer mid-flight, three times over the same directory: every append it
/// acknowledged is there afterwards, and the log stays gapless (positions and
/// versions), so recovery never loses or tears a flushed batch.
#[test]
fn sigkill_never_loses_an_acknowledged_append() {
    let dir = temp_dir();
    let mut all_acks: Vec<Ack> = Vec::new();
    for cycle in 0..3 {
        let acks = run_and_kill_child(dir.path(), 300);
        all_acks.extend(acks);

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = open_store(dir.path());
            let log = read_log(store.as_ref()).await;
            assert_eq!(
                log.len() as u64,
                store.head(),
                "cycle {cycle}: head matches the log"
            );
            assert_gapless(&log);
            for ack in &all_acks {
                let e = log.get((ack.position - 1) as usize).unwrap_or_else(|| {
                    panic!(
                        "cycle {cycle}: acknowledged position {} is lost (head {})",
                        ack.position,
                        log.len()
                    )
                });
                assert_eq!(
                    (e.stream.as_str(), e.version),
                    (ack.stream.as_str(), ack.version),
                    "cycle {cycle}: {ack:?}"
                );
                if ack.stream.starts_with("crash-") {
                    assert_eq!(e.payload.len(), 300, "{ack:?} is intact");
                }
                let via_stream = store
                    .read_stream(&ack.stream, ack.version, 1)
                    .await
                    .unwrap();
                assert_eq!(
                    via_stream.first().map(|e| e.position),
                    Some(ack.position),
                    "stream index of {ack:?}"
                );
            }
            // The store takes writes again after recovery, right after the head.
            let o = store
                .append(request(
                    "after-crash",
                    ExpectedVersion::Any,
                    vec![raw_event("ok", 10)],
                ))
                .await
                .unwrap();
            assert_eq!(o.first_position, log.len() as u64 + 1);
            all_acks.push(Ack {
                position: o.first_position,
                stream: o.stream.clone(),
                version: o.first_version,
            });
            close_store(store);
        });
    }
    let distinct: BTreeSet<u64> = all_acks.iter().map(|a| a.position).collect();
    assert_eq!(
        distinct.len(),
        all_acks.len(),
        "no position was acknowledged twice"
    );
}

/// Every stream read every way (from each version, with limits) matches the log.
async fn assert_streams_match_log(store: &dyn EventStore, log: &[RecordedEvent], why: &str) {
    let mut streams: BTreeMap<&str, Vec<&RecordedEvent>> = BTreeMap::new();
    for e in log {
        streams.entry(e.stream.as_str()).or_default().push(e);
    }
    for (stream, events) in &streams {
        let n = events.len() as u64;
        assert_eq!(
            store.stream_version(stream).await.unwrap(),
            n,
            "{why}: {stream}"
        );
        for from in 1..=n + 1 {
            for limit in [1, 3, usize::MAX] {
                let got = store.read_stream(stream, from, limit).await.unwrap();
                let want: Vec<RecordedEvent> = events
                    .iter()
                    .skip(from as usize - 1)
                    .take(limit)
                    .map(|e| (*e).clone())
                    .collect();
                assert_eq!(got, want, "{why}: {stream} from {from} limit {limit}");
            }
        }
    }
    assert_eq!(store.stream_version("never-written").await.unwrap(), 0);
}

/// The stream index is written lazily (every 16 events in tests): streams read back
/// the same from the index on disk, from memory and from both, live and after
/// reopening. (After a crash, the SIGKILL test reads every acknowledged event back
/// through its stream too.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streams_read_the_same_from_the_lazy_index_across_reopens() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    // Multi-event appends over a few streams, so runs cross index writes.
    for i in 0..45u64 {
        let n = 1 + (i % 3) as usize;
        let events = (0..n).map(|k| raw_event(&format!("{i}-{k}"), 50)).collect();
        let stream = format!("lazy-{}", i % 4);
        store
            .append(request(&stream, ExpectedVersion::Any, events))
            .await
            .unwrap();
    }
    let log = read_log(store.as_ref()).await;
    assert_eq!(log.len(), 90);
    assert_gapless(&log);
    assert_streams_match_log(store.as_ref(), &log, "live").await;
    close_store(store);

    let store = open_store(dir.path());
    assert_streams_match_log(store.as_ref(), &log, "after a clean reopen").await;
    close_store(store);

    // A store whose threshold is never reached writes its index only when it closes;
    // reopening after a crash, before that, is the SIGKILL test's part.
    let store = open_store_with(
        dir.path(),
        SledOptions {
            index_every: usize::MAX,
            ..test_options()
        },
    );
    for i in 0..10 {
        store
            .append(request(
                &format!("lazy-{}", i % 5),
                ExpectedVersion::Any,
                vec![raw_event(&format!("more-{i}"), 50)],
            ))
            .await
            .unwrap();
    }
    let log = read_log(store.as_ref()).await;
    assert_streams_match_log(store.as_ref(), &log, "unindexed, live").await;
    close_store(store);
    let store = open_store(dir.path());
    assert_eq!(read_log(store.as_ref()).await, log);
    assert_streams_match_log(store.as_ref(), &log, "indexed at close, reopened").await;
    let o = store
        .append(request(
            "lazy-4",
            ExpectedVersion::Exact(2),
            vec![raw_event("last", 5)],
        ))
        .await
        .unwrap();
    assert_eq!((o.first_position, o.first_version), (101, 3));
}

/// A data directory written by builds before FORMAT_V2 and the lazy index (FORMAT_V1
/// records, one index key per event, no `x` key) opens, reads and continues.
#[tokio::test]
async fn a_log_written_by_earlier_builds_stays_readable_and_continues() {
    let dir = temp_dir();
    let log: Vec<RecordedEvent> = (1..=7)
        .map(|p| recorded(p, ["old-a", "old-b"][(p % 2) as usize], p.div_ceil(2)))
        .collect();
    let first_b = log.iter().find(|e| e.stream == "old-b").unwrap();
    let outcome = AppendOutcome {
        stream: "old-b".into(),
        first_version: 1,
        last_version: 1,
        first_position: first_b.position,
        last_position: first_b.position,
        deduplicated: false,
    };
    {
        // The layout those builds wrote, byte for byte.
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("log").unwrap();
        let mut batch = sled::Batch::default();
        for e in &log {
            let mut record = vec![1u8];
            record.extend(postcard::to_allocvec(e).unwrap());
            let mut key = vec![b'e'];
            key.extend(e.position.to_be_bytes());
            batch.insert(key, record);
            let mut index = vec![b's'];
            index.extend(e.stream.as_bytes());
            index.push(0xFF);
            index.extend(e.version.to_be_bytes());
            batch.insert(index, &e.position.to_be_bytes());
        }
        let first = IdempotentResult {
            fingerprint: 42,
            outcome: outcome.clone(),
        };
        batch.insert(&b"iold-key"[..], postcard::to_allocvec(&first).unwrap());
        tree.apply_batch(batch).unwrap();
        db.flush().unwrap();
    }
    let store = open_store(dir.path());
    assert_eq!(store.head(), 7);
    assert_eq!(read_log(store.as_ref()).await, log);
    assert_streams_match_log(store.as_ref(), &log, "old layout").await;
    let r = store.idempotent_result("old-key").await.unwrap().unwrap();
    assert_eq!((r.fingerprint, &r.outcome), (42, &outcome));
    let mut retry = request("old-b", ExpectedVersion::Any, vec![raw_event("r", 5)]);
    retry.idempotency_key = Some("old-key".into());
    retry.fingerprint = 42;
    assert!(store.append(retry).await.unwrap().deduplicated);
    let o = store
        .append(request(
            "old-b",
            ExpectedVersion::Exact(4),
            vec![raw_event("new", 5), raw_event("newer", 5)],
        ))
        .await
        .unwrap();
    assert_eq!(
        (o.first_position, o.first_version, o.last_version),
        (8, 5, 6)
    );
    let log = read_log(store.as_ref()).await;
    assert_gapless(&log);
    close_store(store);
    let store = open_store(dir.path());
    assert_streams_match_log(store.as_ref(), &log, "old layout, continued").await;
}

// ---------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------

fn recorded(position: u64, stream: &str, version: u64) -> RecordedEvent {
    let e = raw_event(&format!("imported-{position}"), 40);
    RecordedEvent {
        position,
        id: Ulid::new(),
        stream: stream.into(),
        version,
        event_type: e.event_type,
        schema_version: e.schema_version,
        metadata: metadata(),
        payload: e.payload,
    }
}

#[tokio::test]
async fn import_rejects_gaps_and_writes_nothing() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    let valid = vec![
        recorded(1, "a", 1),
        recorded(2, "b", 1),
        recorded(3, "a", 2),
    ];
    assert_eq!(store.import(valid.clone()).await.unwrap(), 3);
    assert_eq!(read_log(store.as_ref()).await, valid, "imported verbatim");

    let bad_batches: Vec<(&str, Vec<RecordedEvent>)> = vec![
        ("position gap at the start", vec![recorded(5, "a", 3)]),
        (
            "position gap in the middle",
            vec![recorded(4, "a", 3), recorded(6, "a", 4)],
        ),
        ("position reused", vec![recorded(3, "c", 1)]),
        (
            "version gap on an existing stream",
            vec![recorded(4, "b", 1), recorded(5, "a", 4)],
        ),
        (
            "version gap inside the batch",
            vec![recorded(4, "c", 1), recorded(5, "c", 3)],
        ),
        ("new stream not starting at 1", vec![recorded(4, "d", 2)]),
        (
            "valid prefix, bad tail",
            vec![
                recorded(4, "a", 3),
                recorded(5, "a", 4),
                recorded(6, "e", 1),
                recorded(8, "e", 2),
            ],
        ),
    ];
    for (why, batch) in bad_batches {
        match store.import(batch).await {
            Err(StoreError::InvalidImport(_)) => {}
            other => panic!("{why}: expected InvalidImport, got {other:?}"),
        }
        assert_eq!(store.head(), 3, "{why}: nothing written");
        assert_eq!(
            read_log(store.as_ref()).await,
            valid,
            "{why}: log unchanged"
        );
        assert_eq!(store.stream_version("a").await.unwrap(), 2, "{why}");
        assert_eq!(store.stream_version("c").await.unwrap(), 0, "{why}");
        assert_eq!(store.stream_version("e").await.unwrap(), 0, "{why}");
    }

    // A failed import leaves no trace in the writer's version cache either.
    let o = store
        .append(request(
            "a",
            ExpectedVersion::Exact(2),
            vec![raw_event("x", 5)],
        ))
        .await
        .unwrap();
    assert_eq!((o.first_position, o.first_version), (4, 3));
    let o = store
        .append(request(
            "c",
            ExpectedVersion::Exact(0),
            vec![raw_event("x", 5)],
        ))
        .await
        .unwrap();
    assert_eq!((o.first_position, o.first_version), (5, 1));
    assert_eq!(
        store
            .import(vec![recorded(6, "a", 4), recorded(7, "c", 2)])
            .await
            .unwrap(),
        2
    );
    assert_gapless(&read_log(store.as_ref()).await);
}

// ---------------------------------------------------------------------------------
// Catch-up subscriptions
// ---------------------------------------------------------------------------------

/// Appends `count` single-event requests round-robin over `streams` streams.
async fn append_many(store: Arc<dyn EventStore>, prefix: String, streams: usize, count: usize) {
    for i in 0..count {
        let req = request(
            &format!("{prefix}-{}", i % streams),
            ExpectedVersion::Any,
            vec![raw_event(&format!("{prefix}{i}"), 120)],
        );
        store.append(req).await.unwrap();
    }
}

/// Reads the feed until `total` events arrived; returns events and lag markers.
async fn collect_feed(
    feed: &mut swarmdesk::store::FeedStream,
    total: u64,
    mut pause: impl FnMut(u64) -> Option<std::time::Duration>,
) -> (Vec<Arc<RecordedEvent>>, Vec<u64>) {
    let mut events = Vec::new();
    let mut lagged = Vec::new();
    while (events.len() as u64) < total {
        match feed
            .next()
            .await
            .expect("feed ended early")
            .expect("feed error")
        {
            FeedEvent::Event(e) => {
                events.push(e);
                if let Some(d) = pause(events.len() as u64) {
                    tokio::time::sleep(d).await;
                }
            }
            FeedEvent::Lagged { last_position } => lagged.push(last_position),
        }
    }
    (events, lagged)
}

fn assert_exactly_once_in_order(events: &[Arc<RecordedEvent>], from: u64, log: &[RecordedEvent]) {
    let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
    let expected: Vec<u64> = (from..from + events.len() as u64).collect();
    assert_eq!(
        positions, expected,
        "every event exactly once, in position order"
    );
    for e in events {
        assert_eq!(
            **e,
            log[(e.position - 1) as usize],
            "the feed delivers what the log holds"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catch_up_subscription_switches_from_history_to_live_without_gap() {
    let dir = temp_dir();
    let store: Arc<dyn EventStore> = open_store(dir.path());
    append_many(store.clone(), "history".into(), 10, 1000).await;

    // Live writers keep going while the subscriber reads history.
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(append_many(store.clone(), format!("live{w}"), 3, 250)))
        .collect();
    let mut feed = subscribe_from(store.clone(), 0);
    let collect = tokio::time::timeout(HANG_GUARD, collect_feed(&mut feed, 2000, |_| None));
    let (events, lagged) = collect.await.expect("the feed delivered 2000 events");
    for w in writers {
        w.await.unwrap();
    }
    let log = read_log(store.as_ref()).await;
    assert_eq!(log.len(), 2000);
    assert_exactly_once_in_order(&events, 1, &log);
    assert!(
        lagged.is_empty(),
        "with a 16k live buffer nobody lags: {lagged:?}"
    );

    // Nothing more than that is delivered: the next event is the next append.
    let o = store
        .append(request(
            "tail",
            ExpectedVersion::Any,
            vec![raw_event("tail", 10)],
        ))
        .await
        .unwrap();
    let next = tokio::time::timeout(HANG_GUARD, feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match next {
        FeedEvent::Event(e) => assert_eq!(e.position, o.first_position),
        FeedEvent::Lagged { .. } => panic!("unexpected lag"),
    }

    // A subscription from the middle starts exactly there.
    let mut mid = subscribe_from(store.clone(), 1500);
    let (events, _) = tokio::time::timeout(HANG_GUARD, collect_feed(&mut mid, 502, |_| None))
        .await
        .unwrap();
    let log = read_log(store.as_ref()).await;
    assert_exactly_once_in_order(&events, 1500, &log);
}

/// What a subscriber saw, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Event(u64),
    Lagged(u64),
}

/// Polls the feed for as long as it has something ready, without waiting: it returns
/// once the subscriber is parked on the live channel with nothing left to read.
fn drain_ready(
    feed: &mut swarmdesk::store::FeedStream,
    events: &mut Vec<Arc<RecordedEvent>>,
    seen: &mut Vec<Seen>,
) {
    use futures_util::FutureExt;
    while let Some(item) = feed.next().now_or_never() {
        match item.expect("feed ended").expect("feed error") {
            FeedEvent::Event(e) => {
                seen.push(Seen::Event(e.position));
                events.push(e);
            }
            FeedEvent::Lagged { last_position } => seen.push(Seen::Lagged(last_position)),
        }
    }
}

/// Each lag marker names the last event delivered before it.
fn assert_lag_markers_are_exact(seen: &[Seen]) {
    let mut last = 0;
    for s in seen {
        match s {
            Seen::Event(p) => last = *p,
            Seen::Lagged(p) => assert_eq!(
                *p, last,
                "a lag marker resumes after the last delivered event"
            ),
        }
    }
}

/// A subscriber that stops reading while writers run: writers are not held up by it,
/// and when it reads again it is told it lagged and still gets everything once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_subscriber_does_not_block_writers_and_still_gets_everything() {
    let dir = temp_dir();
    let store: Arc<dyn EventStore> = open_store_with(
        dir.path(),
        SledOptions {
            live_buffer: 16,
            ..test_options()
        },
    );
    append_many(store.clone(), "pre".into(), 4, 20).await;
    let mut feed = subscribe_from(store.clone(), 0);
    let (mut events, mut seen) = (Vec::new(), Vec::new());
    // History, then parked on the live channel.
    drain_ready(&mut feed, &mut events, &mut seen);
    assert_eq!(events.len(), 20);
    // One event through the live channel proper.
    store
        .append(request(
            "pre-0",
            ExpectedVersion::Any,
            vec![raw_event("switch", 10)],
        ))
        .await
        .unwrap();
    drain_ready(&mut feed, &mut events, &mut seen);
    assert_eq!(events.len(), 21);

    // Now the subscriber does not read at all. If writers waited for it, this would
    // hang on the 17th event (the hang guard turns that into a failure).
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(append_many(store.clone(), format!("burst{w}"), 2, 250)))
        .collect();
    let all_written = async {
        for w in writers {
            w.await.unwrap();
        }
    };
    tokio::time::timeout(HANG_GUARD, all_written)
        .await
        .expect("writers finished while the subscriber was stalled");
    assert_eq!(store.head(), 1021);

    drain_ready(&mut feed, &mut events, &mut seen);
    assert_eq!(events.len(), 1021);
    let lagged: Vec<Seen> = seen
        .iter()
        .copied()
        .filter(|s| matches!(s, Seen::Lagged(_)))
        .collect();
    assert_eq!(
        lagged,
        vec![Seen::Lagged(21)],
        "one lag marker, at the last event delivered before it"
    );
    assert_lag_markers_are_exact(&seen);
    assert_exactly_once_in_order(&events, 1, &read_log(store.as_ref()).await);

    // Back on the live channel afterwards: the next append arrives, once.
    store
        .append(request(
            "pre-1",
            ExpectedVersion::Any,
            vec![raw_event("after", 10)],
        ))
        .await
        .unwrap();
    let (more, lag) = tokio::time::timeout(HANG_GUARD, collect_feed(&mut feed, 1, |_| None))
        .await
        .unwrap();
    assert_eq!((more[0].position, lag.len()), (1022, 0));
}

/// A subscriber that keeps stalling while writers run freely, with a live buffer of
/// 16: each time it has caught up and gone live, it stalls until the writers are 64
/// events ahead, so it overflows the live buffer again and again. It still sees every
/// event exactly once, in order, and the writers never wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_subscriber_with_a_small_live_buffer_receives_every_event_once() {
    const WRITERS: usize = 4;
    const PER_WRITER: usize = 300;
    let dir = temp_dir();
    let store: Arc<dyn EventStore> = open_store_with(
        dir.path(),
        SledOptions {
            live_buffer: 16,
            ..test_options()
        },
    );
    append_many(store.clone(), "history".into(), 5, 300).await;
    let total = 300 + (WRITERS * PER_WRITER) as u64;

    let mut feed = subscribe_from(store.clone(), 0);
    let (mut events, mut seen) = (Vec::new(), Vec::new());
    drain_ready(&mut feed, &mut events, &mut seen);
    assert_eq!(events.len(), 300);

    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    let req = request(
                        &format!("live{w}-{}", i % 4),
                        ExpectedVersion::Any,
                        vec![raw_event(&format!("l{w}-{i}"), 120)],
                    );
                    store.append(req).await.unwrap();
                    // Paced, so that the subscriber can catch up between its stalls.
                    if i % 8 == 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
        })
        .collect();

    let writers_done = || done.load(std::sync::atomic::Ordering::SeqCst) == WRITERS;
    let subscriber = async {
        while (events.len() as u64) < total {
            // Stalled: not reading, while the writers get 64 events ahead.
            let consumed = events.last().map(|e| e.position).unwrap_or(0);
            while store.head() < consumed + 64 && !writers_done() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            drain_ready(&mut feed, &mut events, &mut seen);
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(HANG_GUARD, subscriber)
        .await
        .expect("the subscriber finished");
    for w in writers {
        tokio::time::timeout(HANG_GUARD, w)
            .await
            .expect("writers were not blocked")
            .unwrap();
    }
    assert_eq!(store.head(), total);
    assert_exactly_once_in_order(&events, 1, &read_log(store.as_ref()).await);
    let lags = seen.iter().filter(|s| matches!(s, Seen::Lagged(_))).count();
    assert!(
        lags >= 1,
        "the subscriber must have overflowed the 16-event live buffer at least once"
    );
    assert_lag_markers_are_exact(&seen);
}
