//! Positions and atomicity: gapless global positions under concurrency; multi-event appends are atomic.

use std::collections::BTreeSet;

use swarmdesk::store::{AppendOutcome, EventStore, ExpectedVersion, StoreError};
use ulid::Ulid;

use crate::common::*;

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
