//! The hash chain: `swarmdesk verify` finds a changed byte, a deleted event and two
//! swapped events at the right position in a copy of a real store edited with sled
//! directly; the chain starts after the records of earlier builds; the open store's
//! `verify` and `log_head` agree with the command.

use std::path::Path;
use std::process::Command;

use swarmdesk::store::chain::hex;
use swarmdesk::store::sled_store::verify_dir;
use swarmdesk::store::{EventStore, ExpectedVersion, StoreError};

use super::import::recorded;
use crate::common::*;

const EVENTS: u64 = 60;

/// A closed store of [`EVENTS`] events of 200 bytes over three streams, written in
/// several appends (several pages, several groups); returns its head hash.
async fn written_store(dir: &Path) -> String {
    let store = open_store(dir);
    for i in 0..EVENTS / 2 {
        let stream = ["chain-a", "chain-b", "chain-c"][i as usize % 3];
        let req = request(
            stream,
            ExpectedVersion::Any,
            vec![
                raw_event(&format!("e{i}-1"), 200),
                raw_event(&format!("e{i}-2"), 200),
            ],
        );
        store.append(req).await.unwrap();
    }
    let head = store.log_head().await.unwrap();
    assert_eq!(head.position, EVENTS);
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events, EVENTS);
    assert_eq!(report.head_hash, head.hash, "verify and logHead agree");
    close_store(store);
    hex(&head.hash.expect("a new log is hashed"))
}

/// A page as the store writes it: format byte 3, then length-prefixed records.
fn split_page(value: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(value[0], 3, "a page");
    let mut rest = &value[1..];
    let mut records = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        records.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
    records
}

fn join_page(records: &[Vec<u8>]) -> Vec<u8> {
    let mut page = vec![3u8];
    for r in records {
        page.extend((r.len() as u32).to_be_bytes());
        page.extend(r);
    }
    page
}

fn position_of(record: &[u8]) -> u64 {
    u64::from_be_bytes(record[1..9].try_into().unwrap())
}

/// Opens a copy of the store with sled itself, lets `edit` change the records (in
/// position order, as stored) and writes them back into the same pages.
fn tampered_copy(original: &Path, edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> tempfile::TempDir {
    let copy = temp_dir();
    copy_dir(original, copy.path());
    let db = sled::open(copy.path()).unwrap();
    let log = db.open_tree("log").unwrap();
    let mut pages: Vec<(sled::IVec, usize)> = Vec::new();
    let mut records = Vec::new();
    for kv in log.scan_prefix(b"e") {
        let (k, v) = kv.unwrap();
        let page = split_page(&v);
        pages.push((k, page.len()));
        records.extend(page);
    }
    assert!(pages.len() > 2, "the log spans several pages");
    assert_eq!(records.len() as u64, EVENTS);
    edit(&mut records);
    // The same pages, each with as many records as before (the last takes the rest).
    let mut rest = records.as_slice();
    let last = pages.len() - 1;
    for (i, (key, n)) in pages.into_iter().enumerate() {
        let take = if i == last {
            rest.len()
        } else {
            n.min(rest.len())
        };
        let (page, tail) = rest.split_at(take);
        log.insert(key, join_page(page)).unwrap();
        rest = tail;
    }
    db.flush().unwrap();
    drop(log);
    drop(db);
    copy
}

fn verify_command(dir: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
        .args(["verify", "--data"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run swarmdesk verify");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn verify_names_the_position_of_a_changed_byte_a_deleted_event_and_a_swap() {
    let dir = temp_dir();
    let head_hash = written_store(dir.path()).await;

    let (code, out, err) = verify_command(dir.path());
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out.trim(),
        format!("ok, {EVENTS} events, head hash {head_hash}")
    );

    // One byte of the payload of the event at position 23.
    let changed = tampered_copy(dir.path(), |records| {
        let r = &mut records[22];
        assert_eq!(position_of(r), 23);
        let n = r.len();
        r[n - 40] ^= 0x01;
    });
    let (code, out, _) = verify_command(changed.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("broken at position 23: the hash does not match"),
        "{out}"
    );
    assert!(out.contains("22 events before it are intact"), "{out}");

    // The same byte, with the record's hash recomputed by someone who knows the scheme
    // but not what came after: the next record's link no longer follows.
    let relinked = tampered_copy(dir.path(), |records| {
        let previous: [u8; 32] = records[21][records[21].len() - 32..].try_into().unwrap();
        let r = &mut records[22];
        let n = r.len();
        r[n - 40] ^= 0x01;
        swarmdesk::store::envelope::seal(r, &previous);
    });
    let (code, out, _) = verify_command(relinked.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("broken at position 24: the hash does not match"),
        "{out}"
    );

    // The event at position 31, removed.
    let deleted = tampered_copy(dir.path(), |records| {
        assert_eq!(position_of(&records[30]), 31);
        records.remove(30);
    });
    let (code, out, _) = verify_command(deleted.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("broken at position 31: the record stored here has position 32"),
        "{out}"
    );

    // The events at positions 40 and 45, swapped.
    let swapped = tampered_copy(dir.path(), |records| records.swap(39, 44));
    let (code, out, _) = verify_command(swapped.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("broken at position 40: the record stored here has position 45"),
        "{out}"
    );

    // The original is untouched by all of this.
    assert!(verify_dir(dir.path()).unwrap().is_ok());
}

/// A log of an earlier build (records without a hash) gets its chain from the first
/// event this build writes; `verify` says where it starts.
#[tokio::test]
async fn the_chain_starts_at_the_first_event_this_build_writes() {
    let dir = temp_dir();
    {
        // FORMAT_V2 records in a page, as the build before the chain wrote them.
        let db = sled::open(dir.path()).unwrap();
        let log = db.open_tree("log").unwrap();
        let old: Vec<Vec<u8>> = (1..=5)
            .map(|p| recorded(p, "old", p).to_v2_bytes())
            .collect();
        log.insert(b"e\0\0\0\0\0\0\0\x01", join_page(&old)).unwrap();
        // The lazy stream index of that build: nothing indexed on disk yet.
        log.insert(b"x", &0u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let store = open_store(dir.path());
    let report = store.verify().await.unwrap();
    assert_eq!(
        (
            report.is_ok(),
            report.events,
            report.chain_start,
            report.head_hash
        ),
        (true, 5, None, None)
    );
    assert_eq!(store.log_head().await.unwrap().hash, None);
    store
        .append(request(
            "old",
            ExpectedVersion::Exact(5),
            vec![raw_event("new-1", 50), raw_event("new-2", 50)],
        ))
        .await
        .unwrap();
    let head = store.log_head().await.unwrap();
    assert_eq!(head.position, 7);
    close_store(store);

    let report = verify_dir(dir.path()).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(
        (report.events, report.chain_start, report.head_hash),
        (7, Some(6), head.hash)
    );
    let (code, out, _) = verify_command(dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("the chain starts at position 6"), "{out}");

    // Reopened, the writer continues the chain from the last link on disk.
    let store = open_store(dir.path());
    store
        .append(request(
            "new",
            ExpectedVersion::Any,
            vec![raw_event("n", 9)],
        ))
        .await
        .unwrap();
    let report = store.verify().await.unwrap();
    assert_eq!((report.is_ok(), report.events), (true, 8), "{report:?}");
    close_store(store);
}

/// `verify` on a directory a running store holds waits a few seconds for sled's lock,
/// then says the directory is in use and exits with 2 (not 1: nothing was found
/// broken).
#[tokio::test]
async fn verify_of_a_directory_in_use_says_so_and_exits_with_2() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    store
        .append(request(
            "held",
            ExpectedVersion::Any,
            vec![raw_event("x", 9)],
        ))
        .await
        .unwrap();
    let (code, out, err) = verify_command(dir.path());
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("in use by another swarmdesk process"), "{err}");
    assert!(matches!(verify_dir(dir.path()), Err(StoreError::InUse(_))));
    close_store(store);
}
