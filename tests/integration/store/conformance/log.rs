//! The contract of the log as a whole: gapless positions under concurrent writers,
//! catch-up subscriptions (history, then live, each event once and in order),
//! snapshots, durability across a reopen, the hash chain and imports.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use swarmdesk::store::chain::{link, GENESIS};
use swarmdesk::store::envelope::{link_of, seal};
use swarmdesk::store::feed::FeedEvent;
use swarmdesk::store::{
    subscribe_from, EventStore, ExpectedVersion, FeedStream, RecordedEvent, StoreError,
};

use super::harness::*;
use crate::common::*;

/// The next `n` events of `feed`, each within 10 s. Lag markers are skipped: the
/// callers check the positions, which show any gap.
async fn next_events(feed: &mut FeedStream, n: usize) -> Vec<Arc<RecordedEvent>> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), feed.next()).await {
            Ok(Some(Ok(FeedEvent::Event(e)))) => got.push(e),
            Ok(Some(Ok(FeedEvent::Lagged { .. }))) => {}
            other => panic!("feed stopped after {} events: {other:?}", got.len()),
        }
    }
    got
}

/// Writers on many streams (through two nodes where the backend has them): positions
/// are 1..N without gap, each append owns a contiguous range.
pub async fn positions_are_gapless_under_concurrent_writers(f: Fresh) {
    const WRITERS: usize = 16;
    const APPENDS: usize = 10;
    let nodes = [
        f.store.clone(),
        f.another_node().await.unwrap_or_else(|| f.store.clone()),
    ];
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = nodes[w % 2].clone();
            tokio::spawn(async move {
                let mut rng = Rng::new(w as u64 + 7);
                let mut out = Vec::new();
                for a in 0..APPENDS {
                    let n = 1 + rng.below(3);
                    let events = (0..n)
                        .map(|i| raw_event(&format!("w{w}-a{a}-e{i}"), 30 + rng.below(200)))
                        .collect();
                    let o = store
                        .append(request(&format!("s{w}"), ExpectedVersion::Any, events))
                        .await
                        .unwrap();
                    out.push((format!("w{w}-a{a}"), n as u64, o));
                }
                out
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.extend(h.await.unwrap());
    }
    let total: u64 = outcomes.iter().map(|(_, n, _)| n).sum();
    for node in &nodes {
        wait_head(node.as_ref(), total).await;
        assert_eq!(node.head(), total);
        let log = read_log(node.as_ref()).await;
        assert_gapless(&log);
        for (label, n, o) in &outcomes {
            assert_eq!(o.last_position - o.first_position + 1, *n);
            for i in 0..*n {
                let e = &log[(o.first_position + i - 1) as usize];
                assert_eq!(label_of(e), format!("{label}-e{i}"));
                assert_eq!(e.version, o.first_version + i);
            }
        }
    }
}

/// A subscriber from position 10 gets the history, then live events (written, on
/// PostgreSQL, by another node), each exactly once and in order.
pub async fn catch_up_subscriptions_see_every_event_once_in_order(f: Fresh) {
    let store = f.store.clone();
    for i in 0..30 {
        store
            .append(request(
                &format!("c{}", i % 3),
                ExpectedVersion::Any,
                vec![raw_event(&format!("h{i}"), 50)],
            ))
            .await
            .unwrap();
    }
    let writer = f.another_node().await.unwrap_or_else(|| store.clone());
    let mut feed = subscribe_from(store.clone(), 10);
    let live = tokio::spawn(async move {
        for i in 0..40 {
            writer
                .append(request(
                    &format!("c{}", i % 4),
                    ExpectedVersion::Any,
                    vec![raw_event(&format!("l{i}"), 50)],
                ))
                .await
                .unwrap();
        }
    });
    let got = next_events(&mut feed, 61).await;
    live.await.unwrap();
    assert_eq!(
        got.iter().map(|e| e.position).collect::<Vec<_>>(),
        (10..=70).collect::<Vec<_>>()
    );
    let log = read_log(store.as_ref()).await;
    for e in &got {
        assert_eq!(**e, log[e.position as usize - 1]);
    }
    // Nothing more arrives.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), feed.next())
            .await
            .is_err(),
        "no duplicate after the last event"
    );
}

pub async fn snapshots_are_saved_overwritten_and_kept(mut f: Fresh) {
    let store = f.store.clone();
    assert_eq!(store.load_snapshot("p").await.unwrap(), None);
    store.save_snapshot("p", vec![1, 2, 3]).await.unwrap();
    store.save_snapshot("q", vec![9; 100_000]).await.unwrap();
    store.save_snapshot("p", vec![4, 5]).await.unwrap();
    assert_eq!(store.load_snapshot("p").await.unwrap(), Some(vec![4, 5]));
    drop(store);
    f.reopen().await;
    assert_eq!(f.store.load_snapshot("p").await.unwrap(), Some(vec![4, 5]));
    assert_eq!(
        f.store.load_snapshot("q").await.unwrap().map(|b| b.len()),
        Some(100_000)
    );
}

pub async fn appends_are_durable_across_a_reopen(mut f: Fresh) {
    for i in 0..5u64 {
        f.store
            .append(request(
                "d",
                ExpectedVersion::Exact(i),
                vec![raw_event(&format!("d{i}"), 80)],
            ))
            .await
            .unwrap();
    }
    let before = read_log(f.store.as_ref()).await;
    f.reopen().await;
    assert_eq!(f.store.head(), 5);
    assert_eq!(read_log(f.store.as_ref()).await, before);
    let o = f
        .store
        .append(request(
            "d",
            ExpectedVersion::Exact(5),
            vec![raw_event("d5", 8)],
        ))
        .await
        .unwrap();
    assert_eq!((o.first_version, o.first_position), (6, 6));
    assert!(f.store.verify().await.unwrap().is_ok());
}

/// Each record's link is SHA-256 over the previous link and the record's bytes in the
/// shared format, computed here independently from what the store reads back; the
/// chain goes on across a reopen, and `verify` agrees.
pub async fn records_carry_one_hash_chain_in_the_shared_format(mut f: Fresh) {
    for i in 0..12 {
        f.store
            .append(request(
                &format!("h{}", i % 5),
                ExpectedVersion::Any,
                vec![raw_event(&format!("e{i}"), 100), raw_event("second", 7)],
            ))
            .await
            .unwrap();
        if i == 6 {
            f.reopen().await;
        }
    }
    let log = read_log(f.store.as_ref()).await;
    assert_eq!(log.len(), 24);
    let mut previous = GENESIS;
    for e in &log {
        let mut bytes = e.to_bytes();
        let expected = seal(&mut bytes, &previous);
        let (body, _) = link_of(&bytes).unwrap().unwrap();
        assert_eq!(expected, link(&previous, body));
        let stored = f.store.link_at(e.position).await.unwrap();
        assert_eq!(stored.position, e.position);
        assert_eq!(stored.hash, Some(expected), "link at {}", e.position);
        assert_eq!(stored.occurred_at, Some(e.metadata.occurred_at));
        previous = expected;
    }
    let head = f.store.log_head().await.unwrap();
    assert_eq!((head.position, head.hash), (24, Some(previous)));
    let report = f.store.verify().await.unwrap();
    assert!(report.is_ok(), "{}", report.summary());
    assert_eq!(
        (report.events, report.chain_start, report.head_hash),
        (24, Some(1), Some(previous))
    );
    assert_eq!(f.store.link_at(0).await.unwrap().position, 0);
    assert_eq!(f.store.link_at(99).await.unwrap().position, 0);
}

/// An import continues the log verbatim (positions, versions, ids) and joins the
/// chain; one with a gap or a wrong version is refused whole.
pub async fn imports_continue_the_log_verbatim_or_not_at_all(f: Fresh) {
    let source = Fresh::open(Backend::Sled).await.unwrap();
    for i in 0..6 {
        source
            .store
            .append(request(
                &format!("i{}", i % 2),
                ExpectedVersion::Any,
                vec![raw_event(&format!("i{i}"), 40)],
            ))
            .await
            .unwrap();
    }
    let events = read_log(source.store.as_ref()).await;
    let store = f.store.clone();

    let mut gap = events.clone();
    gap.remove(2);
    assert!(matches!(
        store.import(gap).await,
        Err(StoreError::InvalidImport(_))
    ));
    let mut version = events.clone();
    version[3].version = 9;
    assert!(matches!(
        store.import(version).await,
        Err(StoreError::InvalidImport(_))
    ));
    assert_eq!(store.head(), 0);
    assert!(read_log(store.as_ref()).await.is_empty());

    assert_eq!(store.import(events.clone()).await.unwrap(), 6);
    assert_eq!(read_log(store.as_ref()).await, events);
    assert_eq!(
        store.log_head().await.unwrap().hash,
        source.store.log_head().await.unwrap().hash,
        "the same events make the same chain on both backends"
    );
    let o = store
        .append(request(
            "i0",
            ExpectedVersion::Exact(3),
            vec![raw_event("after", 9)],
        ))
        .await
        .unwrap();
    assert_eq!((o.first_position, o.first_version), (7, 4));
    assert!(store.verify().await.unwrap().is_ok());
    let _: Arc<dyn EventStore> = store;
}

/// A replay long enough for the sled store to read ahead on a second thread
/// (`READ_AHEAD_AFTER`, 10,000 positions), after a reopen so the pages come from
/// disk: every event once and in order, from any position, and nothing after the
/// visitor says stop.
pub async fn a_long_replay_visits_every_event_once_in_order_and_stops_when_told(mut f: Fresh) {
    const EVENTS: u64 = 24_000;
    const BATCH: u64 = 400;
    for b in 0..EVENTS / BATCH {
        let events = (0..BATCH).map(|i| raw_event(&format!("e{}", b * BATCH + i), 40));
        f.store
            .append(request(
                &format!("s{}", b % 7),
                ExpectedVersion::Any,
                events.collect(),
            ))
            .await
            .unwrap();
    }
    f.reopen().await;
    assert_eq!(f.store.head(), EVENTS);
    for from in [1, 2, 9_999, 13_001] {
        let mut seen = Vec::new();
        let visited = f
            .store
            .replay(from, &mut |e| {
                seen.push(e.position);
                true
            })
            .await
            .unwrap();
        assert_eq!(visited, EVENTS - from + 1, "from {from}");
        assert!(
            seen.iter().copied().eq(from..=EVENTS),
            "every position once, in order, from {from}"
        );
    }
    let mut seen = Vec::new();
    let visited = f
        .store
        .replay(3, &mut |e| {
            seen.push(e.position);
            e.position < 17_500
        })
        .await
        .unwrap();
    assert_eq!(visited, 17_498);
    assert!(seen.iter().copied().eq(3..=17_500), "stops when told");
}

/// What a start does after a long replay (`release_read_state`: the sled store closes
/// sled and opens it again) changes nothing a reader or writer sees: a feed following
/// the log and a replay running across it see every event once and in order, the head
/// and the log are the same, and appends go on from where they were (each stream's
/// version too).
pub async fn releasing_the_read_state_keeps_the_log_its_readers_and_writers(f: Fresh) {
    const EVENTS: u64 = 3_000;
    for b in 0..EVENTS / 100 {
        let events = (0..100).map(|i| raw_event(&format!("r{}", b * 100 + i), 60));
        f.store
            .append(request(
                &format!("r{}", b % 5),
                ExpectedVersion::Any,
                events.collect(),
            ))
            .await
            .unwrap();
    }
    let before = read_log(f.store.as_ref()).await;
    let mut feed = subscribe_from(f.store.clone(), 1);
    let replaying = {
        let store = f.store.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            store
                .replay(1, &mut |e| {
                    seen.push(e.position);
                    true
                })
                .await
                .unwrap();
            seen
        })
    };
    f.store.release_read_state().await.unwrap();
    assert!(
        replaying.await.unwrap().into_iter().eq(1..=EVENTS),
        "a replay across the release"
    );
    assert_eq!(f.store.head(), EVENTS);
    assert_eq!(read_log(f.store.as_ref()).await, before);
    let o = f
        .store
        .append(request(
            "r0",
            ExpectedVersion::Exact(600),
            vec![raw_event("after", 60)],
        ))
        .await
        .unwrap();
    assert_eq!((o.first_position, o.first_version), (EVENTS + 1, 601));
    let got = next_events(&mut feed, EVENTS as usize + 1).await;
    assert!(
        got.iter().map(|e| e.position).eq(1..=EVENTS + 1),
        "the feed, once and in order"
    );
    assert!(f.store.verify().await.unwrap().is_ok());
}
