//! Catch-up subscriptions: history then live without gap or duplicate; slow and stalled subscribers.

use std::sync::Arc;

use futures_util::StreamExt;
use swarmdesk::store::feed::FeedEvent;
use swarmdesk::store::sled_store::SledOptions;
use swarmdesk::store::{subscribe_from, EventStore, ExpectedVersion, RecordedEvent};

use crate::common::*;

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

/// The live channel carries every durable event once, in log order, whichever thread
/// commits it: the writer commits a lone group itself, the flusher the groups that
/// queue up behind one in flight; lone writes and bursts by turns use both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_events_come_once_in_log_order_from_lone_and_queued_commits() {
    let dir = temp_dir();
    let store: Arc<dyn EventStore> = open_store(dir.path());
    let mut live = store.subscribe();
    let mut total = 0;
    for round in 0..20 {
        append_many(store.clone(), format!("lone{round}"), 1, 3).await;
        let burst: Vec<_> = (0..8)
            .map(|w| {
                tokio::spawn(append_many(
                    store.clone(),
                    format!("burst{round}-{w}"),
                    1,
                    5,
                ))
            })
            .collect();
        for b in burst {
            b.await.unwrap();
        }
        total += 3 + 8 * 5;
    }
    // Every append was answered, and a commit publishes before it answers.
    let mut positions = Vec::new();
    while let Ok(e) = live.try_recv() {
        positions.push(e.position);
    }
    let expected: Vec<u64> = (1..=total).collect();
    if let Some(i) = (0..expected.len()).find(|&i| positions.get(i) != Some(&expected[i])) {
        let around = &positions[i.saturating_sub(3)..(i + 4).min(positions.len())];
        panic!(
            "{} events published; position {} expected at index {i}, found {around:?} around it",
            positions.len(),
            expected[i]
        );
    }
    assert_eq!(positions.len(), expected.len(), "nothing published twice");
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
    // Published right after the append is answered: wait for it, then nothing more.
    let (live, lag) = tokio::time::timeout(HANG_GUARD, collect_feed(&mut feed, 1, |_| None))
        .await
        .expect("the live event arrives");
    assert_eq!(lag, Vec::<u64>::new(), "unexpected lag");
    seen.extend(live.iter().map(|e| Seen::Event(e.position)));
    events.extend(live);
    drain_ready(&mut feed, &mut events, &mut seen);
    assert_eq!(events.len(), 21);

    // Now the subscriber does not read at all. If writers waited for it, this would
    // hang on the 17th event (the hang guard turns that into a failure).
    let mut published = store.subscribe();
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
    // The store answers a group's appends before it publishes their events: wait until
    // the last one is published, so that the subscriber reads again once the live
    // channel is settled (else its catch-up can meet the last publishes and lag twice).
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            match published.recv().await {
                Ok(e) if e.position == 1021 => break,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("the live channel closed: {e}"),
            }
        }
    })
    .await
    .expect("the last event is published");

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
