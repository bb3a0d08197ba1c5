//! Where a fresh start from the projections snapshot spends its time: run on a data
//! directory (e.g. one `report_bench --keep DIR` built, started once so it holds a
//! snapshot), in a fresh process per run. Copy the directory first: a start may
//! rewrite the snapshot.
//!
//! `snapshot_phases DIR` times, as the server starts: opening the store (sled), mapping
//! the snapshot file (`--copied`: reading it), `decode_snapshot_for` (both parts and the
//! rest at once, with the listing; `--deferred`: as for a long catch-up, without), the
//! catch-up over the log after the snapshot, and `malloc_trim`.
//! `snapshot_phases DIR --parts` times the decode's pieces one after another on one
//! thread instead: each part's case views, each part's listing keys gathered, the rest
//! of the projections, the gathered keys joined and the listing's sets built.
//!
//! ```sh
//! cargo build --release --example snapshot_phases
//! cp -a DIR /tmp/copy && target/release/examples/snapshot_phases /tmp/copy --parts
//! ```

use std::sync::Arc;
use std::time::Instant;
use swarmdesk::domain::CaseId;
use swarmdesk::projection::listing::Gathered;
use swarmdesk::projection::runner::{catch_up, decode_snapshot_for, SNAPSHOT_NAME};
use swarmdesk::projection::{CaseView, Projections};
use swarmdesk::store::sled_store::{SledOptions, SledStore};
use swarmdesk::store::{EventStore, SnapshotBytes};

fn ms(t: Instant) -> String {
    format!("{:.1} ms", t.elapsed().as_secs_f64() * 1e3)
}

/// Splits a big-endian `u64` length and that many bytes off the front of `bytes`.
fn length_prefixed(bytes: &[u8]) -> (&[u8], &[u8]) {
    let (len, rest) = bytes.split_at(8);
    rest.split_at(u64::from_be_bytes(len.try_into().unwrap()) as usize)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: snapshot_phases DIR [--parts]");
    let parts = args.iter().any(|a| a == "--parts");
    let copied = args.iter().any(|a| a == "--copied");
    let deferred = args.iter().any(|a| a == "--deferred");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let t = Instant::now();
    let store = Arc::new(SledStore::open(dir, SledOptions::default()).unwrap());
    println!("open the store (sled): {}", ms(t));
    let t = Instant::now();
    let bytes = match copied {
        true => rt
            .block_on(store.load_snapshot(SNAPSHOT_NAME))
            .unwrap()
            .map(SnapshotBytes::Owned),
        false => rt
            .block_on(store.load_snapshot_mapped(SNAPSHOT_NAME))
            .unwrap(),
    }
    .expect("no snapshot");
    println!(
        "{} the snapshot file ({} MB): {}",
        if copied { "read" } else { "map" },
        bytes.len() >> 20,
        ms(t)
    );
    if parts {
        let (first, body) = length_prefixed(&bytes[4..]);
        let (second, rest) = length_prefixed(body);
        type Part = Vec<(CaseId, Box<CaseView>)>;
        let t = Instant::now();
        let a: Part = postcard::from_bytes(first).unwrap();
        println!("decode part 1 ({} case views): {}", a.len(), ms(t));
        let t = Instant::now();
        let b: Part = postcard::from_bytes(second).unwrap();
        println!("decode part 2 ({} case views): {}", b.len(), ms(t));
        let t = Instant::now();
        let p: Projections = postcard::from_bytes(rest).unwrap();
        println!("decode the rest (position {}): {}", p.position(), ms(t));
        let t = Instant::now();
        let mut ga = Gathered::of(a.iter().map(|(id, v)| (id, &**v)));
        println!("listing keys of part 1 gathered: {}", ms(t));
        let t = Instant::now();
        let gb = Gathered::of(b.iter().map(|(id, v)| (id, &**v)));
        println!("listing keys of part 2 gathered: {}", ms(t));
        let t = Instant::now();
        ga.append(gb);
        println!("the two joined: {}", ms(t));
        let t = Instant::now();
        let la = ga.build();
        println!("the listing's sets built: {}", ms(t));
        let t = Instant::now();
        let mut cases = std::collections::HashMap::with_capacity(a.len() + b.len());
        cases.extend(a);
        cases.extend(b);
        println!("case views into one map: {}", ms(t));
        let t = Instant::now();
        drop((cases, la, p));
        println!("drop it all: {}", ms(t));
        return;
    }
    let head = match deferred {
        // As if the log ran on past the snapshot: the catch-up then builds the listing.
        true => u64::MAX,
        false => store.head(),
    };
    let t = Instant::now();
    let mut p = decode_snapshot_for(&bytes, head).expect("cannot decode");
    println!(
        "decode_snapshot_for (two threads{}): {}",
        if deferred {
            ", the listing left to the catch-up"
        } else {
            ", with the listing"
        },
        ms(t)
    );
    let t = Instant::now();
    drop(bytes);
    println!("drop the snapshot's bytes: {}", ms(t));
    let tail = store.head() - p.position();
    let t = Instant::now();
    rt.block_on(catch_up(store.as_ref(), &mut p)).unwrap();
    println!(
        "catch up ({tail} events after the snapshot{}): {}",
        if deferred { ", every index built" } else { "" },
        ms(t)
    );
    let t = Instant::now();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    println!("malloc_trim: {}", ms(t));
    println!("total: {}", ms(start));
}
