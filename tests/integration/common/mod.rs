//! Helpers shared by the integration tests: temporary sled stores, raw append
//! requests, log checks, and an `Desk` wired to a manual clock.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use swarmdesk::app::Desk;
use swarmdesk::clock::ManualClock;
use swarmdesk::config::ConfigSeed;
use swarmdesk::domain::{
    Actor, AgentId, Channel, Customer, OpenCase, Priority, Role, RouteCase, Segment, Tier,
    TierLadder, Timestamp,
};
use swarmdesk::projection::ProjectionRunner;
use swarmdesk::store::sled_store::{SledOptions, SledStore};
use swarmdesk::store::{
    AppendRequest, EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent,
};
use tempfile::TempDir;
use ulid::Ulid;

/// A hang guard for awaits that must finish: generous, never a performance claim.
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// 2026-01-05T09:00:00Z, the manual clock's start.
pub const START: Timestamp = Timestamp(1_767_603_600_000_000);

pub fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("swarmdesk-it-")
        .tempdir()
        .expect("create temp dir")
}

/// Options for tests: a modest page cache, the default live buffer, and a stream
/// index written every 16 events, so that tests read streams from the index on disk,
/// from memory, and from both (the server's default waits for thousands).
pub fn test_options() -> SledOptions {
    SledOptions {
        cache_bytes: 32 * 1024 * 1024,
        index_every: 16,
        ..SledOptions::default()
    }
}

pub fn open_store(path: &Path) -> Arc<SledStore> {
    open_store_with(path, test_options())
}

pub fn open_store_with(path: &Path, options: SledOptions) -> Arc<SledStore> {
    Arc::new(SledStore::open(path, options).expect("open sled store"))
}

/// Copies a directory tree (a store's files, say: a copy taken while it is open is
/// what a crash would leave of it).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Drops the last handle on a store and checks it really was the last one, so the
/// directory can be opened again.
pub fn close_store(store: Arc<SledStore>) {
    let store = Arc::try_unwrap(store).unwrap_or_else(|_| panic!("someone still holds the store"));
    drop(store);
}

pub fn metadata() -> Metadata {
    Metadata {
        actor: Actor::system(),
        occurred_at: START,
        correlation_id: Ulid::new(),
        causation_id: None,
    }
}

/// An opaque event whose payload starts with `label` and is padded to `size` bytes.
pub fn raw_event(label: &str, size: usize) -> NewEvent {
    let mut payload = label.as_bytes().to_vec();
    if payload.len() < size {
        payload.push(b'|');
        payload.resize(size, b'x');
    }
    NewEvent {
        event_type: "TestEvent".into(),
        schema_version: 1,
        payload,
    }
}

/// The label a [`raw_event`] was made with.
pub fn label_of(record: &RecordedEvent) -> String {
    let end = record
        .payload
        .iter()
        .position(|b| *b == b'|')
        .unwrap_or(record.payload.len());
    String::from_utf8(record.payload[..end].to_vec()).expect("utf-8 label")
}

pub fn request(stream: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> AppendRequest {
    AppendRequest {
        stream: stream.to_string(),
        expected,
        idempotency_key: None,
        fingerprint: 0,
        metadata: metadata(),
        events,
    }
}

/// The whole log, read in pages so paging is exercised too.
pub async fn read_log(store: &dyn EventStore) -> Vec<RecordedEvent> {
    let mut out: Vec<RecordedEvent> = Vec::new();
    loop {
        let page = store
            .read_all(out.len() as u64 + 1, 700)
            .await
            .expect("read_all");
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Positions are exactly 1..=n in order, and every stream's versions are 1..=k in
/// position order.
pub fn assert_gapless(log: &[RecordedEvent]) {
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for (i, e) in log.iter().enumerate() {
        assert_eq!(
            e.position,
            i as u64 + 1,
            "log positions must be 1..=n without gaps"
        );
        let v = versions.entry(e.stream.as_str()).or_insert(0);
        assert_eq!(
            e.version,
            *v + 1,
            "stream `{}` must have gapless versions (at position {})",
            e.stream,
            e.position
        );
        *v = e.version;
    }
}

pub fn agent(name: &str) -> AgentId {
    AgentId::new(name).expect("valid agent id")
}

pub fn actor(name: &str, role: Role) -> Actor {
    Actor::new(name, role).expect("valid actor")
}

pub fn tier(name: &str) -> Tier {
    Tier::new(name)
}

/// The default route of the test app: tier L1, no team.
pub fn default_route() -> RouteCase {
    RouteCase {
        tier: tier("L1"),
        team: None,
        priority: None,
        tags: Vec::new(),
        sensitive: false,
        rule_id: None,
        rule_set_version: None,
    }
}

/// A valid `OpenCase`; `i` varies the customer, channel and priority.
pub fn open_case(i: usize) -> OpenCase {
    const CHANNELS: [Channel; 5] = [
        Channel::Email,
        Channel::Chat,
        Channel::Phone,
        Channel::Portal,
        Channel::SocialDm,
    ];
    const PRIORITIES: [Priority; 4] = [
        Priority::Normal,
        Priority::High,
        Priority::Low,
        Priority::Urgent,
    ];
    OpenCase {
        case_id: swarmdesk::domain::CaseId(Ulid::nil()),
        subject: format!("Invoice export fails for workspace {i}"),
        body: format!(
            "Since this morning the CSV export of invoices stops at 50% for workspace {i}; \
             the browser shows a timeout and the file is never produced."
        ),
        channel: CHANNELS[i % CHANNELS.len()],
        customer: Customer {
            id: format!("cust-{}", i % 17),
            name: format!("Customer {}", i % 17),
            segment: if i.is_multiple_of(3) {
                Segment::B2b
            } else {
                Segment::B2c
            },
            key_account: i.is_multiple_of(5),
        },
        language: "en".into(),
        priority: PRIORITIES[i % PRIORITIES.len()],
        tags: vec!["billing".into(), format!("ws-{}", i % 7)],
        requested_priority: None,
    }
}

/// An `Desk` over `store` with a manual clock at [`START`], the standard ladder, and a
/// default route to L1.
pub async fn build_app(store: Arc<dyn EventStore>) -> (Arc<Desk>, ManualClock) {
    let clock = ManualClock::new(START);
    let runner = ProjectionRunner::start(store.clone())
        .await
        .expect("start projections");
    let app = Desk::new(
        store,
        runner,
        Arc::new(clock.clone()),
        ConfigSeed::minimal(TierLadder::standard(), "L1")
            .config()
            .expect("valid config"),
    );
    (Arc::new(app), clock)
}

pub use swarmdesk::demo::Rng;
