//! The contract of appends: read back as written, expected versions, idempotency
//! keys, and racing writers (on PostgreSQL, from two nodes on one database).

use std::collections::BTreeMap;
use std::sync::Arc;

use swarmdesk::store::{AppendOutcome, AppendRequest, ExpectedVersion, StoreError};
use tokio::sync::Barrier;

use super::harness::*;
use crate::common::*;

pub async fn appends_read_back_as_written(f: Fresh) {
    let store = f.store.clone();
    let a = store
        .append(request(
            "a",
            ExpectedVersion::Exact(0),
            vec![
                raw_event("a1", 40),
                raw_event("a2", 3000),
                raw_event("a3", 1),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(
        (
            a.first_version,
            a.last_version,
            a.first_position,
            a.last_position
        ),
        (1, 3, 1, 3)
    );
    assert!(!a.deduplicated);
    let b = store
        .append(request(
            "b",
            ExpectedVersion::Any,
            vec![raw_event("b1", 10)],
        ))
        .await
        .unwrap();
    assert_eq!((b.first_version, b.first_position), (1, 4));
    let mut req = request("a", ExpectedVersion::Exact(3), vec![raw_event("a4", 10)]);
    req.metadata.causation_id = Some(ulid::Ulid::new());
    let metadata = req.metadata.clone();
    store.append(req).await.unwrap();

    assert_eq!(store.head(), 5);
    assert_eq!(store.stream_version("a").await.unwrap(), 4);
    assert_eq!(store.stream_version("nobody").await.unwrap(), 0);
    let a_events = store.read_stream("a", 1, usize::MAX).await.unwrap();
    assert_eq!(
        a_events.iter().map(label_of).collect::<Vec<_>>(),
        ["a1", "a2", "a3", "a4"]
    );
    assert_eq!(
        a_events.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2, 3, 5]
    );
    assert_eq!(a_events[1].payload.len(), 3000);
    assert_eq!(a_events[3].metadata, metadata);
    let page = store.read_stream("a", 2, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.version).collect::<Vec<_>>(), [2, 3]);
    assert!(store.read_stream("nobody", 1, 10).await.unwrap().is_empty());

    let log = read_log(store.as_ref()).await;
    assert_gapless(&log);
    assert_eq!(log.len(), 5);
    assert_eq!(log[4], a_events[3]);
    assert_eq!(
        store
            .read_all(2, 2)
            .await
            .unwrap()
            .iter()
            .map(|e| e.position)
            .collect::<Vec<_>>(),
        [2, 3]
    );
    assert!(store.read_all(6, 10).await.unwrap().is_empty());
    let mut ids: Vec<_> = log.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "event ids are unique");

    let mut replayed = Vec::new();
    let visited = store
        .replay(2, &mut |e| {
            replayed.push((e.position, e.stream.to_string()));
            true
        })
        .await
        .unwrap();
    assert_eq!(visited, 4);
    assert_eq!(replayed[0], (2, "a".to_string()));

    assert!(matches!(
        store
            .append(request("a", ExpectedVersion::Any, Vec::new()))
            .await,
        Err(StoreError::EmptyAppend)
    ));
    assert_eq!(store.head(), 5);
}

pub async fn expected_versions_are_enforced_and_refusals_write_nothing(f: Fresh) {
    let store = f.store.clone();
    let one = vec![raw_event("x", 10)];
    store
        .append(request("s", ExpectedVersion::Exact(0), one.clone()))
        .await
        .unwrap();
    for (expected, current) in [(0, 1), (5, 1)] {
        match store
            .append(request("s", ExpectedVersion::Exact(expected), one.clone()))
            .await
        {
            Err(StoreError::VersionConflict {
                stream,
                expected: e,
                current: c,
            }) => assert_eq!((stream.as_str(), e, c), ("s", expected, current)),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    let refused = (0..4).map(|i| raw_event(&format!("r{i}"), 10)).collect();
    assert!(store
        .append(request("s", ExpectedVersion::Exact(7), refused))
        .await
        .is_err());
    assert_eq!(store.head(), 1);
    assert_eq!(read_log(store.as_ref()).await.len(), 1);
    assert_eq!(store.stream_version("s").await.unwrap(), 1);
    let o = store
        .append(request("s", ExpectedVersion::Exact(1), one))
        .await
        .unwrap();
    assert_eq!((o.first_version, o.first_position), (2, 2));
}

fn keyed(key: &str, fingerprint: u64, label: &str) -> AppendRequest {
    AppendRequest {
        idempotency_key: Some(key.into()),
        fingerprint,
        ..request("idem", ExpectedVersion::Any, vec![raw_event(label, 20)])
    }
}

pub async fn idempotency_keys_return_the_first_result(mut f: Fresh) {
    let store = f.store.clone();
    let first = store.append(keyed("k1", 11, "first")).await.unwrap();
    let again = store.append(keyed("k1", 11, "again")).await.unwrap();
    assert!(again.deduplicated);
    assert_eq!(
        AppendOutcome {
            deduplicated: false,
            ..again
        },
        first
    );
    assert!(matches!(
        store.append(keyed("k1", 12, "other")).await,
        Err(StoreError::IdempotencyKeyReused(k)) if k == "k1"
    ));
    let stored = store.idempotent_result("k1").await.unwrap().unwrap();
    assert_eq!((stored.fingerprint, &stored.outcome), (11, &first));
    assert!(store.idempotent_result("k2").await.unwrap().is_none());
    assert_eq!(read_log(store.as_ref()).await.len(), 1);

    // Sixteen tasks (on two nodes where the backend has them) send one key at once:
    // one append, fifteen copies of its result.
    let other = f.another_node().await.unwrap_or_else(|| store.clone());
    let barrier = Arc::new(Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let s = if i % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                s.append(keyed("k2", 22, &format!("t{i}"))).await.unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| !o.deduplicated).count(), 1);
    let winner = outcomes.iter().find(|o| !o.deduplicated).unwrap().clone();
    for o in &outcomes {
        assert_eq!(o.first_position, winner.first_position);
    }
    wait_head(store.as_ref(), 2).await;
    assert_eq!(read_log(store.as_ref()).await.len(), 2);

    f.reopen().await;
    let after = f.store.append(keyed("k1", 11, "later")).await.unwrap();
    assert!(after.deduplicated);
    assert_eq!(after.first_position, first.first_position);
}

/// Tasks race each round on one expected version: exactly one wins, the others are
/// told the winner's version; on PostgreSQL half of them write through a second node.
pub async fn racing_writers_have_exactly_one_winner_per_version(f: Fresh) {
    const TASKS: usize = 12;
    const ROUNDS: u64 = 6;
    let nodes = [
        f.store.clone(),
        f.another_node().await.unwrap_or_else(|| f.store.clone()),
    ];
    let barrier = Arc::new(Barrier::new(TASKS));
    let handles: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = nodes[task % 2].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mut results = Vec::new();
                for round in 0..ROUNDS {
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
            })
        })
        .collect();
    let mut winners: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for h in handles {
        let (task, results) = h.await.unwrap();
        for (round, result) in results {
            match result {
                Ok(o) => {
                    assert_eq!(o.first_version, round + 1);
                    winners.entry(round).or_default().push(task);
                }
                Err(StoreError::VersionConflict {
                    expected, current, ..
                }) => assert_eq!((expected, current), (round, round + 1)),
                Err(e) => panic!("round {round}: {e}"),
            }
        }
    }
    for round in 0..ROUNDS {
        assert_eq!(winners[&round].len(), 1, "round {round}: {winners:?}");
    }
    for node in &nodes {
        wait_head(node.as_ref(), ROUNDS).await;
        let events = node.read_stream("race", 1, usize::MAX).await.unwrap();
        assert_eq!(events.len() as u64, ROUNDS, "losers write nothing");
        for (round, e) in events.iter().enumerate() {
            let task = winners[&(round as u64)][0];
            assert_eq!(label_of(e), format!("task{task}-round{round}"));
        }
        assert_gapless(&read_log(node.as_ref()).await);
    }
}
