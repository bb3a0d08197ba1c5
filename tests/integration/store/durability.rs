//! Durability: reopen, unfinished sled snapshots, a directory in use, SIGKILL, the lazy stream index, logs of earlier builds, projection snapshots kept as files.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use swarmdesk::store::sled_store::SledOptions;
use swarmdesk::store::{
    AppendOutcome, EventStore, ExpectedVersion, IdempotentResult, RecordedEvent, StoreError,
};

use super::import::recorded;

use crate::common::*;

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
    let aside: Vec<_> =
        std::fs::read_dir(dir.path().join(swarmdesk::store::sled_store::SET_ASIDE_DIR))
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

/// Projection snapshots are files (sled would keep every one it read or wrote in
/// memory); one an earlier build wrote into sled's `snapshots` tree is still read,
/// and leaves sled once a file replaces it.
#[tokio::test]
async fn projection_snapshots_are_files_and_earlier_builds_snapshots_still_load() {
    let dir = tempfile::tempdir().unwrap();
    close_store(open_store(dir.path()));
    {
        // As an earlier build left it.
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("snapshots").unwrap();
        tree.insert("projections", &b"from sled"[..]).unwrap();
        db.flush().unwrap();
    }
    let store = open_store(dir.path());
    assert_eq!(
        store.load_snapshot("projections").await.unwrap().as_deref(),
        Some(&b"from sled"[..]),
        "an earlier build's snapshot loads"
    );
    store
        .save_snapshot("projections", b"from a file".to_vec())
        .await
        .unwrap();
    close_store(store);
    let file = dir
        .path()
        .join(swarmdesk::store::sled_store::SNAPSHOTS_DIR)
        .join("projections");
    assert_eq!(std::fs::read(&file).unwrap(), b"from a file");
    {
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("snapshots").unwrap();
        assert_eq!(
            tree.get("projections").unwrap(),
            None,
            "sled no longer holds it"
        );
    }
    let store = open_store(dir.path());
    assert_eq!(
        store.load_snapshot("projections").await.unwrap().as_deref(),
        Some(&b"from a file"[..])
    );
    close_store(store);
}

/// A second process on a data directory in use is told so in words, not `WouldBlock`.
#[tokio::test]
async fn a_data_directory_in_use_is_named_as_such() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    let err = match swarmdesk::store::sled_store::SledStore::open(dir.path(), test_options()) {
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
const CRASH_CHILD_TEST: &str = "store::durability::crash_child_appends_until_killed";

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
