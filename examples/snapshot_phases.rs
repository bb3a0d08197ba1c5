//! Where a fresh start from the projections snapshot spends its time: run on a data
//! directory (e.g. one `report_bench --keep DIR` built, started once so it holds a
//! snapshot), in a fresh process per run. Copy the directory first: a start may
//! rewrite the snapshot.
//!
//! `snapshot_phases DIR` times, as the server starts: opening the store (sled), mapping
//! the snapshot file (`--copied`: reading it), `decode_snapshot_for` (both parts and the
//! rest at once, with the listing; `--deferred`: as for a long catch-up, without), the
//! catch-up over the log after the snapshot, and handing the freed memory back
//! (`allocator::release_freed_memory`).
//! `snapshot_phases DIR --parts` times the decode's pieces one after another on one
//! thread instead: each part's case views, each part's listing keys gathered, the rest
//! of the projections, the gathered keys joined and the listing's sets built.
//!
//! ```sh
//! cargo build --release --example snapshot_phases
//! cp -a DIR /tmp/copy && sync && target/release/examples/snapshot_phases /tmp/copy --parts
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use swarmdesk::domain::CaseId;
use swarmdesk::projection::listing::Gathered;
use swarmdesk::projection::runner::{
    catch_up, decode_snapshot_for, snapshot_sections, SNAPSHOT_NAME,
};
use swarmdesk::projection::{CaseView, Projections};
use swarmdesk::store::sled_store::{SledOptions, SledStore};
use swarmdesk::store::{EventStore, SnapshotBytes};

#[path = "common/allocator.rs"]
mod allocator;

/// What to time (see the module header).
#[derive(Clone, Copy, Debug, Default)]
pub struct Mode {
    pub parts: bool,
    pub copied: bool,
    pub deferred: bool,
}

/// The phases timed, each as it was printed, and the position the projections reached.
pub struct Phases {
    pub lines: Vec<String>,
    pub position: u64,
}

pub fn run(dir: &Path, mode: Mode) -> Phases {
    let mut lines = Vec::new();
    let mut note = |what: String, t: Instant| {
        let line = format!("{what}: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        println!("{line}");
        lines.push(line);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let t = Instant::now();
    let store = Arc::new(SledStore::open(dir, SledOptions::default()).unwrap());
    note("open the store (sled)".into(), t);
    let t = Instant::now();
    let bytes = match mode.copied {
        true => rt
            .block_on(store.load_snapshot(SNAPSHOT_NAME))
            .unwrap()
            .map(SnapshotBytes::Owned),
        false => rt
            .block_on(store.load_snapshot_mapped(SNAPSHOT_NAME))
            .unwrap(),
    }
    .expect("no snapshot");
    let how = if mode.copied { "read" } else { "map" };
    note(
        format!("{how} the snapshot file ({} MB)", bytes.len() >> 20),
        t,
    );
    let position = if mode.parts {
        let [first, second, rest] = snapshot_sections(&bytes).expect("not a snapshot");
        type Part = Vec<(CaseId, Box<CaseView>)>;
        let t = Instant::now();
        let a: Part = postcard::from_bytes(first).unwrap();
        note(format!("decode part 1 ({} case views)", a.len()), t);
        let t = Instant::now();
        let b: Part = postcard::from_bytes(second).unwrap();
        note(format!("decode part 2 ({} case views)", b.len()), t);
        let t = Instant::now();
        let p: Projections = postcard::from_bytes(rest).unwrap();
        note(format!("decode the rest (position {})", p.position()), t);
        let t = Instant::now();
        let mut ga = Gathered::of(a.iter().map(|(id, v)| (id, &**v)));
        note("listing keys of part 1 gathered".into(), t);
        let t = Instant::now();
        let gb = Gathered::of(b.iter().map(|(id, v)| (id, &**v)));
        note("listing keys of part 2 gathered".into(), t);
        let t = Instant::now();
        ga.append(gb);
        note("the two joined".into(), t);
        let t = Instant::now();
        let listing = ga.build();
        note(
            format!("the listing's sets built ({} cases)", listing.len()),
            t,
        );
        let t = Instant::now();
        let mut cases = std::collections::HashMap::with_capacity(a.len() + b.len());
        cases.extend(a);
        cases.extend(b);
        note("case views into one map".into(), t);
        p.position()
    } else {
        let head = match mode.deferred {
            // As if the log ran on past the snapshot: the catch-up builds the listing.
            true => u64::MAX,
            false => store.head(),
        };
        let t = Instant::now();
        let mut p = decode_snapshot_for(&bytes, head).expect("cannot decode");
        let listing = match mode.deferred {
            true => "the listing left to the catch-up",
            false => "with the listing",
        };
        note(format!("decode_snapshot_for (two threads, {listing})"), t);
        let t = Instant::now();
        drop(bytes);
        note("drop the snapshot's bytes".into(), t);
        let tail = store.head() - p.position();
        let t = Instant::now();
        rt.block_on(catch_up(store.as_ref(), &mut p)).unwrap();
        let built = if mode.deferred {
            ", every index built"
        } else {
            ""
        };
        note(
            format!("catch up ({tail} events after the snapshot{built})"),
            t,
        );
        let t = Instant::now();
        swarmdesk::allocator::release_freed_memory();
        note("freed memory released".into(), t);
        note("total".into(), start);
        p.position()
    };
    rt.block_on(store.shutdown()).unwrap();
    Phases { lines, position }
}

fn main() {
    swarmdesk::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .expect("usage: snapshot_phases DIR [--parts | --copied | --deferred]");
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let mode = Mode {
        parts: has("--parts"),
        copied: has("--copied"),
        deferred: has("--deferred"),
    };
    run(Path::new(dir), mode);
}
