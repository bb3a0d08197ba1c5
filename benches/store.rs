//! Store benchmarks.
//!
//! 1. `sled_raw`: sled 0.34.7 alone on this machine, the ceiling for everything else:
//!    a 300-byte insert + flush one at a time, 64 inserts in one batch + flush, a scan.
//! 2. `append_durable`: `EventStore::append` of one ~300-byte event, acknowledged only
//!    once flushed, with 1, 8 and 64 concurrent writers (group commit at work).
//! 3. `replay`: decoding (in place, as `rebuild` does) and applying pre-written,
//!    realistic case events into `Projections`, from memory and from the sled log
//!    (`rebuild`).
//! 4. `codec`: encode + decode of a typical event, the store's record format (V3:
//!    binary header, postcard strings and payload, hash-chain link; the link itself is
//!    computed by the writer, so `append_durable` includes it and this does not)
//!    against serde_json.
//!
//! Run short: `cargo bench --bench store -- --warm-up-time 1 --measurement-time 3`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde::{Deserialize, Serialize};
use swarmdesk::app::Recordable;
use swarmdesk::domain::{
    decide_all, Actor, AgentId, Case, CaseEvent, CaseId, Channel, Command, Context, Customer,
    MessageKind, OpenCase, Priority, Role, RouteCase, Segment, SlaConfig, Tier, TierLadder,
    Timestamp,
};
use swarmdesk::projection::runner::rebuild;
use swarmdesk::projection::Projections;
use swarmdesk::store::sled_store::{SledOptions, SledStore};
use swarmdesk::store::{
    AppendRequest, EventRef, EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent,
};
use ulid::Ulid;

const VALUE_BYTES: usize = 300;
const SCAN_VALUES: u64 = 20_000;
const REPLAY_CASES: usize = 250;

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("swarmdesk-bench-")
        .tempdir()
        .expect("temp dir")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn options() -> SledOptions {
    SledOptions {
        cache_bytes: 64 * 1024 * 1024,
        ..SledOptions::default()
    }
}

// ---------------------------------------------------------------------------------
// 1. sled alone
// ---------------------------------------------------------------------------------

fn sled_raw(c: &mut Criterion) {
    let dir = temp_dir();
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(64 * 1024 * 1024)
        .mode(sled::Mode::HighThroughput)
        .open()
        .expect("open sled");
    let tree = db.open_tree("bench").expect("tree");
    let value = vec![0xA5u8; VALUE_BYTES];
    let mut key: u64 = 0;

    let mut group = c.benchmark_group("sled_raw");
    group.throughput(Throughput::Elements(1));
    group.bench_function("insert_flush_1x300B", |b| {
        b.iter(|| {
            key += 1;
            tree.insert(key.to_be_bytes(), value.as_slice()).unwrap();
            db.flush().unwrap();
        })
    });
    group.throughput(Throughput::Elements(64));
    group.bench_function("batch_64x300B_flush", |b| {
        b.iter(|| {
            let mut batch = sled::Batch::default();
            for _ in 0..64 {
                key += 1;
                batch.insert(&key.to_be_bytes(), value.as_slice());
            }
            tree.apply_batch(batch).unwrap();
            db.flush().unwrap();
        })
    });

    // The same with the extra `fdatasync` our store does by default (sled's own flush
    // uses `sync_file_range`, which does not flush the disk cache).
    let data_file = std::fs::File::open(dir.path().join("db")).expect("sled data file");
    group.bench_function("batch_64x300B_flush_fdatasync", |b| {
        b.iter(|| {
            let mut batch = sled::Batch::default();
            for _ in 0..64 {
                key += 1;
                batch.insert(&key.to_be_bytes(), value.as_slice());
            }
            tree.apply_batch(batch).unwrap();
            db.flush().unwrap();
            data_file.sync_data().unwrap();
        })
    });

    let scan = db.open_tree("scan").expect("tree");
    let mut batch = sled::Batch::default();
    for k in 0..SCAN_VALUES {
        batch.insert(&k.to_be_bytes(), value.as_slice());
    }
    scan.apply_batch(batch).unwrap();
    db.flush().unwrap();
    group.throughput(Throughput::Elements(SCAN_VALUES));
    group.bench_function("full_scan_20k_x300B", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for kv in scan.iter() {
                bytes += kv.unwrap().1.len();
            }
            assert_eq!(bytes, SCAN_VALUES as usize * VALUE_BYTES);
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------
// 2. durable appends
// ---------------------------------------------------------------------------------

fn metadata(at: Timestamp) -> Metadata {
    Metadata {
        actor: Actor::system(),
        occurred_at: at,
        correlation_id: Ulid::new(),
        causation_id: None,
    }
}

/// A message on a case: the most common event, sized so that the stored record is
/// about 300 bytes.
fn typical_event() -> CaseEvent {
    CaseEvent::MessagePosted(swarmdesk::domain::event::MessagePosted {
        kind: MessageKind::PublicReply,
        author: AgentId::new("dara.okafor@example.com").unwrap(),
        body: "Thanks for the details. We reproduced the failed invoice export on our side and \
               raised the job timeout; please retry the export and tell us whether the file now completes."
            .into(),
    })
}

fn typical_record(position: u64) -> RecordedEvent {
    RecordedEvent::stored(
        position,
        Ulid::new(),
        CaseId(Ulid::new()).stream(),
        7,
        metadata(Timestamp(1_767_603_600_000_000)),
        typical_event().record(),
    )
}

fn append_durable(c: &mut Criterion) {
    let rt = runtime();
    let dir = temp_dir();
    let store = Arc::new(SledStore::open(dir.path(), options()).expect("open store"));
    let event = typical_event();
    let new_event = NewEvent {
        event_type: event.event_type().into(),
        schema_version: event.schema_version(),
        payload: event.encode(),
    };
    eprintln!(
        "append_durable: stored record of one event = {} bytes",
        typical_record(1).to_bytes().len()
    );

    // The same store without the extra `fdatasync`, as durable as raw sled's flush.
    let dir_nosync = temp_dir();
    let store_nosync = Arc::new(
        SledStore::open(
            dir_nosync.path(),
            SledOptions {
                sync_data: false,
                ..options()
            },
        )
        .expect("open store"),
    );
    let mut group = c.benchmark_group("append_durable");
    let runs = [
        ("writers", 1usize, &store),
        ("writers", 8, &store),
        ("writers", 64, &store),
        ("writers_sled_flush_only", 64, &store_nosync),
    ];
    for (name, writers, store) in runs {
        group.throughput(Throughput::Elements(writers as u64));
        group.bench_with_input(BenchmarkId::new(name, writers), &writers, |b, &writers| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    let handles: Vec<_> = (0..writers)
                        .map(|_| {
                            let store = store.clone();
                            let new_event = new_event.clone();
                            let stream = CaseId(Ulid::new()).stream();
                            tokio::spawn(async move {
                                for _ in 0..iters {
                                    let request = AppendRequest {
                                        stream: stream.clone(),
                                        expected: ExpectedVersion::Any,
                                        idempotency_key: None,
                                        fingerprint: 0,
                                        metadata: metadata(Timestamp::now()),
                                        events: vec![new_event.clone()],
                                    };
                                    store.append(request).await.expect("append");
                                }
                            })
                        })
                        .collect();
                    for h in handles {
                        h.await.expect("writer");
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------------
// 3. replay
// ---------------------------------------------------------------------------------

/// A case, its state so far, and the commands still to run (last first).
type Script = (CaseId, Case, Vec<(Actor, Command)>);

/// Realistic case histories (open + route, assignment, replies, an escalation, a
/// swarm with chat and a lead change, a priority change, resolve, close), decided by
/// the domain itself, interleaved across cases as a busy desk would write them.
fn realistic_log(cases: usize) -> Vec<RecordedEvent> {
    let tiers = TierLadder::standard();
    let agents: Vec<AgentId> = ["ana", "bo", "chen", "dara", "eli"]
        .iter()
        .map(|a| AgentId::new(*a).unwrap())
        .collect();
    let mut scripts: Vec<Script> = Vec::new();
    for i in 0..cases {
        let id = CaseId(Ulid::new());
        let a = |k: usize| agents[(i + k) % agents.len()].clone();
        let as_actor = |k: usize| Actor {
            id: a(k),
            role: Role::Agent,
        };
        let say = |k: usize, kind: MessageKind, body: &str| {
            let body = body.to_string();
            (as_actor(k), Command::PostMessage { kind, body })
        };
        let open = OpenCase {
            case_id: id,
            subject: format!("Invoice export fails for workspace {i}"),
            body: "Since this morning the CSV export of invoices stops at 50%; \
                   the browser shows a timeout."
                .into(),
            channel: Channel::Email,
            customer: Customer {
                id: format!("cust-{}", i % 40),
                name: "Northwind".into(),
                segment: Segment::B2b,
                key_account: i % 9 == 0,
            },
            language: "en".into(),
            priority: Priority::Normal,
            tags: vec!["billing".into()],
            requested_priority: None,
        };
        let route = RouteCase {
            tier: Tier::new("L1"),
            team: Some("billing".into()),
            priority: None,
            tags: vec![],
            sensitive: false,
            rule_id: Some("r-billing".into()),
            rule_set_version: Some(3),
        };
        let reason = |r: &str| r.to_string();
        let mut script = vec![
            (Actor::system(), Command::Open(open)),
            (Actor::system(), Command::Route(route)),
            (as_actor(0), Command::Assign { agent: a(0) }),
            say(
                0,
                MessageKind::PublicReply,
                "Thanks, we are looking into it.",
            ),
            (
                as_actor(0),
                Command::Escalate {
                    to: None,
                    reason: reason("export internals"),
                },
            ),
            (
                as_actor(1),
                Command::StartSwarm {
                    lead: a(1),
                    reason: reason("many affected"),
                },
            ),
            (as_actor(2), Command::JoinSwarm { agent: a(2) }),
            (as_actor(3), Command::JoinSwarm { agent: a(3) }),
            say(1, MessageKind::SwarmChat, "timeouts start at the PDF step"),
            say(
                2,
                MessageKind::SwarmChat,
                "job queue is saturated since 08:00",
            ),
            (
                as_actor(1),
                Command::ChangePriority {
                    priority: Priority::High,
                    reason: reason("key accounts"),
                },
            ),
            (as_actor(1), Command::SetSwarmLead { agent: a(2) }),
            (as_actor(3), Command::LeaveSwarm { agent: a(3) }),
            say(
                0,
                MessageKind::InternalNote,
                "fix deployed to the export workers",
            ),
            say(
                0,
                MessageKind::PublicReply,
                "A fix is deployed; please retry the export.",
            ),
            (
                as_actor(0),
                Command::Resolve {
                    resolution: reason("Raised the export job timeout."),
                },
            ),
        ];
        if i % 3 == 0 {
            script.push((
                as_actor(0),
                Command::Close {
                    reason: "confirmed by customer".into(),
                },
            ));
        }
        script.reverse();
        scripts.push((id, Case::default(), script));
    }
    let mut log = Vec::new();
    let mut now = Timestamp(1_767_603_600_000_000);
    let mut position = 0;
    loop {
        let mut progressed = false;
        for (id, case, script) in scripts.iter_mut() {
            let Some((actor, command)) = script.pop() else {
                continue;
            };
            progressed = true;
            now = now.plus_secs(7);
            let commands = match command {
                // Open and route are one command service write.
                Command::Open(o) => vec![Command::Open(o), script.pop().unwrap().1],
                other => vec![other],
            };
            let ctx = Context {
                tiers: &tiers,
                teams: &Default::default(),
                sla: &SlaConfig::default(),
                actor: &actor,
                now,
            };
            let events = decide_all(case, commands, &ctx).expect("scripted commands are valid");
            let meta = Metadata {
                actor: actor.clone(),
                occurred_at: now,
                correlation_id: Ulid::new(),
                causation_id: None,
            };
            for e in events {
                position += 1;
                let version = case.version + 1;
                case.apply(&e, version, now);
                log.push(RecordedEvent::stored(
                    position,
                    Ulid::new(),
                    id.stream(),
                    version,
                    meta.clone(),
                    e.record(),
                ));
            }
        }
        if !progressed {
            return log;
        }
    }
}

fn replay(c: &mut Criterion) {
    let rt = runtime();
    let log = realistic_log(REPLAY_CASES);
    let n = log.len() as u64;
    let encoded: Vec<Vec<u8>> = log.iter().map(|r| r.to_bytes()).collect();
    let avg = encoded.iter().map(|b| b.len()).sum::<usize>() / encoded.len();
    eprintln!(
        "replay: {n} events over {REPLAY_CASES} cases, {avg} bytes per stored record on average"
    );

    let dir = temp_dir();
    let store = SledStore::open(dir.path(), options()).expect("open store");
    rt.block_on(store.import(log)).expect("import");

    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::new("decode_apply_in_memory", n), |b| {
        b.iter(|| {
            let mut p = Projections::new();
            for bytes in &encoded {
                p.apply_ref(EventRef::decode(bytes).unwrap()).unwrap();
            }
            assert_eq!(p.position(), n);
            p
        })
    });
    group.bench_function(BenchmarkId::new("rebuild_from_sled", n), |b| {
        b.iter(|| {
            let p = rt.block_on(rebuild(&store)).unwrap();
            assert_eq!(p.position(), n);
            p
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------
// 4. codec
// ---------------------------------------------------------------------------------

/// The same record with its payload as a JSON value: what storing JSON would mean.
#[derive(Serialize, Deserialize)]
struct JsonRecord {
    position: u64,
    id: Ulid,
    stream: String,
    version: u64,
    event_type: String,
    schema_version: u16,
    metadata: Metadata,
    payload: serde_json::Value,
}

fn codec(c: &mut Criterion) {
    let record = typical_record(12_345);
    let event = typical_event();
    let record_size = record.to_bytes().len();
    let as_json = |r: &RecordedEvent| JsonRecord {
        position: r.position,
        id: r.id,
        stream: r.stream.clone(),
        version: r.version,
        event_type: r.event_type.clone(),
        schema_version: r.schema_version,
        metadata: r.metadata.clone(),
        payload: event.to_json(),
    };
    let json_size = serde_json::to_vec(&as_json(&record)).unwrap().len();
    eprintln!(
        "codec: typical record is {record_size} bytes in our format, {json_size} bytes as JSON"
    );

    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));
    group.bench_function("record_encode_decode", |b| {
        b.iter(|| {
            let r = RecordedEvent {
                payload: event.encode(),
                ..record.clone()
            };
            let bytes = r.to_bytes();
            let back = RecordedEvent::from_bytes(&bytes).unwrap();
            let e =
                CaseEvent::decode(&back.event_type, back.schema_version, &back.payload).unwrap();
            assert_eq!(e, event);
        })
    });
    group.bench_function("json_encode_decode", |b| {
        b.iter(|| {
            let bytes = serde_json::to_vec(&as_json(&record)).unwrap();
            let back: JsonRecord = serde_json::from_slice(&bytes).unwrap();
            let e =
                CaseEvent::from_json(&back.event_type, back.schema_version, back.payload).unwrap();
            assert_eq!(e, event);
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = sled_raw, append_durable, replay, codec
}
criterion_main!(benches);
