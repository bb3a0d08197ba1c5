//! Idempotency: a keyed retry writes once and returns the first outcome; one key with two fingerprints.

use std::sync::Arc;

use swarmdesk::store::sled_store::SledOptions;
use swarmdesk::store::{AppendOutcome, AppendRequest, EventStore, ExpectedVersion, StoreError};
use tokio::sync::Barrier;

use crate::common::*;

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

/// Sends `request` again and checks it is answered with `first`, marked deduplicated.
async fn assert_replays(store: &dyn EventStore, request: AppendRequest, first: &AppendOutcome) {
    let again = store.append(request).await.unwrap();
    assert!(again.deduplicated);
    assert_eq!(
        &AppendOutcome {
            deduplicated: false,
            ..again
        },
        first
    );
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
    let request = keyed("s", ExpectedVersion::Exact(0), "req-1", 42, 2);
    assert_replays(store.as_ref(), request, &first).await;

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

/// A group of one page carries its keys in the page (one sled key written): they are
/// found and listed while only the page holds them, in a copy taken while the store
/// was open (what a crash leaves: no index written), and after a clean close, which
/// gives them entries of their own.
#[tokio::test]
async fn keys_carried_in_pages_are_found_after_a_crash_and_after_the_index() {
    let dir = temp_dir();
    let options = SledOptions {
        index_every: 1_000_000,
        ..test_options()
    };
    let store = open_store_with(dir.path(), options.clone());
    let mut first = Vec::new();
    for i in 0..5u64 {
        let outcome = store
            .append(keyed("s", ExpectedVersion::Any, &format!("k{i}"), i, 2))
            .await
            .unwrap();
        first.push(outcome);
    }
    let check = |store: Arc<swarmdesk::store::sled_store::SledStore>, first: Vec<AppendOutcome>| async move {
        for (i, outcome) in first.iter().enumerate() {
            let r = store
                .idempotent_result(&format!("k{i}"))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("k{i} is found"));
            assert_eq!((r.fingerprint, &r.outcome), (i as u64, outcome));
        }
        let all: Vec<String> = store
            .idempotency_keys(None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(all, ["k0", "k1", "k2", "k3", "k4"]);
        let second_page: Vec<String> = store
            .idempotency_keys(Some("k1"), 2)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(second_page, ["k2", "k3"]);
        // A retry writes nothing and answers the first outcome.
        let request = keyed("s", ExpectedVersion::Exact(0), "k2", 2, 2);
        assert_replays(store.as_ref(), request, &first[2]).await;
        assert_eq!(store.head(), 10, "the retry wrote nothing");
        store
    };
    let store = check(store, first.clone()).await;

    // What a crash would leave: the pages, no index (it waits for a million events).
    let crashed = temp_dir();
    copy_dir(dir.path(), crashed.path());
    let copy = open_store_with(crashed.path(), options.clone());
    close_store(check(copy, first.clone()).await);

    // A clean close writes the index: the keys get entries of their own.
    close_store(store);
    let reopened = open_store_with(dir.path(), options);
    close_store(check(reopened, first).await);
}
