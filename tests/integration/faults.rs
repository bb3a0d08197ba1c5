//! Faults of the disk under the sled store: a full disk (writes refused, then resumed
//! without a restart, nothing lost, duplicated or half-written) on a real small
//! filesystem, and a damaged log page found by the integrity check.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use swarmdesk::store::sled_store::{SledOptions, FENCE_FILE, RESERVE_BYTES, RESERVE_FILE};
use swarmdesk::store::{EventStore, ExpectedVersion, IntegrityCheck, StoreError, WriteState};

use crate::common::*;

/// A small tmpfs mounted for one test (CI runs as root), unmounted on drop.
pub struct SmallDisk {
    mount: tempfile::TempDir,
}

impl SmallDisk {
    /// A filesystem of `mib` MiB, or `None` (with the reason printed) where mounting
    /// is impossible, e.g. without root: the caller then skips its test, loudly. In CI
    /// (`CI=true`, which runs as root) a failed mount fails the test instead, so a
    /// broken mount can never pass as a skipped test there.
    pub fn mount(mib: u64) -> Option<Self> {
        let mount = temp_dir();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(mount.path())
            .output();
        let why = match out {
            Ok(o) if o.status.success() => return Some(SmallDisk { mount }),
            Ok(o) => format!(
                "cannot mount a small tmpfs to fill ({})",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => format!("cannot run mount ({e})"),
        };
        assert!(!in_ci(), "{why}: CI runs as root and must test a full disk");
        eprintln!("SKIPPED: {why}; run as root to test a full disk");
        None
    }

    pub fn path(&self) -> &Path {
        self.mount.path()
    }

    /// Fills the filesystem with a ballast file until it is full; returns its path.
    pub fn fill(&self) -> PathBuf {
        let path = self.path().join("ballast");
        let mut f = std::fs::File::create(&path).expect("create ballast");
        let chunk = vec![0xA5u8; 64 * 1024];
        loop {
            if f.write_all(&chunk).is_err() {
                break;
            }
        }
        // Whatever is left is smaller than a page; take it too.
        let _ = f.write_all(&[0xA5u8; 1024]);
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.mount.path())
            .status();
    }
}

/// Whether this runs in CI (`CI=true`, as GitHub Actions and most CI services set).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Waits (bounded by the hang guard) until `cond` holds.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fast_retry() -> SledOptions {
    SledOptions {
        retry_first: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        ..test_options()
    }
}

/// Appends one labelled event to `stream`; the label if acknowledged.
async fn append_one(store: &dyn EventStore, stream: &str, label: &str) -> Result<(), StoreError> {
    store
        .append(request(
            stream,
            ExpectedVersion::Any,
            vec![raw_event(label, 2000)],
        ))
        .await
        .map(|_| ())
}

/// One event labelled `label` on `stream`, with the idempotency key `k-<label>`.
fn keyed(stream: &str, label: &str) -> swarmdesk::store::AppendRequest {
    let mut r = request(stream, ExpectedVersion::Any, vec![raw_event(label, 2000)]);
    r.idempotency_key = Some(format!("k-{label}"));
    r.fingerprint = 7;
    r
}

/// A full disk refuses writes (coded `Unavailable`, health `Refusing`); once space is
/// freed the store writes again without a restart, and the log holds every
/// acknowledged event exactly once, no refused one, without a gap, across a reopen; a
/// keyed request refused while full and retried after is written once. Reads go on
/// while the disk is full (sled is reopened for them in the released space reserve,
/// which is back once writes resume).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_refuses_writes_then_resumes_without_loss_or_duplicate() {
    let Some(disk) = SmallDisk::mount(12) else {
        return;
    };
    let dir = disk.path().join("store");
    let store = open_store_with(&dir, fast_retry());
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for i in 0..20 {
        let label = format!("before-{i}");
        append_one(&*store, &format!("s-{}", i % 3), &label)
            .await
            .unwrap();
        acked.push(label);
    }
    let ballast = disk.fill();
    // Write until the disk refuses (sled buffers a little in memory first).
    let mut i = 0;
    loop {
        let label = format!("full-{i}");
        match append_one(&*store, &format!("s-{}", i % 3), &label).await {
            Ok(()) => acked.push(label),
            Err(e) => {
                assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
                refused.push(label);
                break;
            }
        }
        i += 1;
        assert!(i < 100_000, "the full disk never refused a write");
    }
    // Refused from now on, and said so, while the disk stays full.
    let WriteState::Refusing { reason, .. } = store.health().writes else {
        panic!("health must say writes are refused: {:?}", store.health());
    };
    assert!(!reason.is_empty());
    for j in 0..5 {
        let label = format!("refused-{j}");
        let e = append_one(&*store, "s-0", &label).await.unwrap_err();
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
        refused.push(label);
    }
    // A keyed request refused now and retried with the same key after resuming must
    // be written exactly once (the refused attempt left no key behind).
    let e = store.append(keyed("s-1", "keyed")).await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    let head_while_full = store.head();
    assert_eq!(read_log(&*store).await.len() as u64, head_while_full);
    assert!(
        !dir.join(RESERVE_FILE).exists(),
        "the space reserve is released for the reads"
    );

    std::fs::remove_file(&ballast).unwrap();
    let s = store.clone();
    until("writes resume", move || {
        s.health().writes == WriteState::Writable
    })
    .await;
    assert_eq!(
        store.head(),
        head_while_full,
        "refused events must not appear"
    );
    let reserve = std::fs::metadata(dir.join(RESERVE_FILE)).unwrap().len();
    assert_eq!(reserve, RESERVE_BYTES as u64, "the reserve is back");
    let first = store.append(keyed("s-1", "keyed")).await.unwrap();
    let again = store.append(keyed("s-1", "keyed")).await.unwrap();
    assert_eq!(
        first.last_position, again.last_position,
        "the retry is replayed"
    );
    acked.push("keyed".into());
    for j in 0..20 {
        let label = format!("after-{j}");
        append_one(&*store, &format!("s-{}", j % 4), &label)
            .await
            .unwrap();
        acked.push(label);
    }

    let check = |log: &[swarmdesk::store::RecordedEvent], why: &str| {
        assert_gapless(log);
        let labels: Vec<String> = log.iter().map(label_of).collect();
        let unique: BTreeSet<&String> = labels.iter().collect();
        assert_eq!(unique.len(), labels.len(), "{why}: an event appears twice");
        let want: BTreeSet<&String> = acked.iter().collect();
        assert_eq!(unique, want, "{why}: exactly the acknowledged events");
        for r in &refused {
            assert!(!unique.contains(r), "{why}: refused `{r}` is in the log");
        }
    };
    check(&read_log(&*store).await, "after resuming");
    // Streams read the same as the log.
    for s in ["s-0", "s-1", "s-2", "s-3"] {
        let stream = store.read_stream(s, 1, usize::MAX).await.unwrap();
        assert!(stream.windows(2).all(|w| w[1].version == w[0].version + 1));
        assert_eq!(stream.len() as u64, store.stream_version(s).await.unwrap());
    }
    store.shutdown().await.unwrap();
    close_store(store);
    let store = open_store_with(&dir, fast_retry());
    check(&read_log(&*store).await, "after a reopen");
    let fence = std::fs::read(dir.join(FENCE_FILE)).unwrap();
    assert_eq!(fence, u64::MAX.to_be_bytes(), "the fence is cleared");
}

/// A process that stops while writes are refused leaves the fence: the next open
/// removes whatever refused writes reached the disk, so none becomes readable.
#[tokio::test]
async fn the_fence_removes_refused_writes_at_the_next_open() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    for i in 0..10 {
        append_one(&*store, &format!("s-{}", i % 2), &format!("acked-{i}"))
            .await
            .unwrap();
    }
    let acked_head = store.head();
    // As if these had reached the disk although their flush failed and they were
    // refused: written, then the fence set to the acknowledged head.
    for i in 0..5 {
        append_one(&*store, &format!("s-{}", i % 3), &format!("refused-{i}"))
            .await
            .unwrap();
    }
    store
        .append({
            let mut r = request(
                "s-0",
                ExpectedVersion::Any,
                vec![raw_event("refused-keyed", 10)],
            );
            r.idempotency_key = Some("k-refused".into());
            r
        })
        .await
        .unwrap();
    store.shutdown().await.unwrap();
    close_store(store);
    std::fs::write(dir.path().join(FENCE_FILE), acked_head.to_be_bytes()).unwrap();

    let store = open_store(dir.path());
    assert_eq!(store.head(), acked_head);
    let log = read_log(&*store).await;
    assert_gapless(&log);
    assert!(log.iter().all(|e| label_of(e).starts_with("acked-")));
    assert_eq!(store.idempotent_result("k-refused").await.unwrap(), None);
    assert_eq!(store.stream_version("s-2").await.unwrap(), 0);
    assert_eq!(store.stream_version("s-0").await.unwrap(), 5);
    // Writing goes on at the next position, and the stream versions continue.
    append_one(&*store, "s-2", "acked-after").await.unwrap();
    let again = store.read_stream("s-2", 1, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].version, again[0].position), (1, acked_head + 1));
    store.shutdown().await.unwrap();
    close_store(store);
    // Cleared: a second open removes nothing.
    let store = open_store(dir.path());
    assert_eq!(store.head(), acked_head + 1);
}

/// Overwrites the page holding `position` with garbage, in the closed store at `dir`.
pub fn damage_page_holding(dir: &Path, position: u64) {
    let db = sled::open(dir).expect("open sled directly");
    let log = db.open_tree("log").unwrap();
    let mut k = [b'e'; 9];
    k[1..].copy_from_slice(&position.to_be_bytes());
    let (page, _) = log
        .range(&[b'e'][..]..=&k[..])
        .next_back()
        .expect("a page at or before the position")
        .unwrap();
    log.insert(page, &b"\x03\xff\xff\xff\xffnot a page any more"[..])
        .unwrap();
    db.flush().unwrap();
}

/// A damaged page is found by the integrity check: its streams refuse writes and
/// reads with `Damaged`, the others go on.
#[tokio::test]
async fn the_integrity_check_finds_a_damaged_page_and_its_streams_refuse_writes() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    for i in 0..40 {
        append_one(&*store, &format!("s-{}", i % 4), &format!("e-{i}"))
            .await
            .unwrap();
    }
    let victim = store.read_stream("s-1", 3, 1).await.unwrap()[0].position;
    store.shutdown().await.unwrap();
    close_store(store);
    damage_page_holding(dir.path(), victim);

    let store = open_store(dir.path());
    let found = store.check_integrity().await.unwrap();
    let IntegrityCheck::Done {
        unreadable_events,
        checked,
    } = found
    else {
        panic!("{found:?}");
    };
    assert_eq!(checked, 40);
    assert!(unreadable_events >= 1);
    assert!(store.health().damaged_streams >= 1);
    let e = append_one(&*store, "s-1", "more").await.unwrap_err();
    assert!(matches!(e, StoreError::Damaged { .. }), "{e:?}");
    let e = store.read_stream("s-1", 1, 100).await.unwrap_err();
    assert!(matches!(e, StoreError::Damaged { .. }), "{e:?}");
    assert_eq!(store.head(), 40, "a refused write writes nothing");
    // A stream whose events are all readable still takes writes.
    append_one(&*store, "fresh", "ok").await.unwrap();
    let _ = Arc::strong_count(&store);
}

/// Before the integrity check has run (or reached the page), a stream's first write
/// reads the stream back: a damaged one is refused with `Damaged` at once, not
/// acknowledged until the check gets there.
#[tokio::test]
async fn a_damaged_stream_refuses_its_first_write_before_the_check_reaches_it() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    for i in 0..40 {
        append_one(&*store, &format!("s-{}", i % 4), &format!("e-{i}"))
            .await
            .unwrap();
    }
    let victim = store.read_stream("s-1", 3, 1).await.unwrap()[0].position;
    store.shutdown().await.unwrap();
    close_store(store);
    damage_page_holding(dir.path(), victim);

    let store = open_store(dir.path());
    assert_eq!(store.health().integrity, IntegrityCheck::NotStarted);
    let e = append_one(&*store, "s-1", "too early").await.unwrap_err();
    assert!(matches!(e, StoreError::Damaged { .. }), "{e:?}");
    assert_eq!(store.head(), 40, "a refused write writes nothing");
    assert_eq!(store.health().damaged_streams, 1);
    // Refused again without reading (it is known now), and other streams write.
    let e = append_one(&*store, "s-1", "again").await.unwrap_err();
    assert!(matches!(e, StoreError::Damaged { .. }), "{e:?}");
    append_one(&*store, "fresh", "ok").await.unwrap();
    append_one(&*store, "fresh", "ok again").await.unwrap();
    assert_eq!(store.stream_version("fresh").await.unwrap(), 2);
}

/// Damage in the newest page, which every open reads to find the head, stops the open
/// with `Corrupt` (the server does not start) rather than guess where the log ends.
#[tokio::test]
async fn damage_in_the_newest_page_stops_the_open() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    for i in 0..10 {
        append_one(&*store, "s-0", &format!("e-{i}")).await.unwrap();
    }
    let head = store.head();
    store.shutdown().await.unwrap();
    close_store(store);
    damage_page_holding(dir.path(), head);
    let e = swarmdesk::store::sled_store::SledStore::open(dir.path(), test_options())
        .err()
        .expect("the open must fail");
    assert!(matches!(e, StoreError::Corrupt(_)), "{e:?}");
    assert!(e.to_string().contains("stored data is corrupt"), "{e}");
}
