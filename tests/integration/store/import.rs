//! Import: positions and versions must continue the log; a rejected import writes nothing.

use swarmdesk::store::{EventStore, ExpectedVersion, RecordedEvent, StoreError};
use ulid::Ulid;

use crate::common::*;

pub(super) fn recorded(position: u64, stream: &str, version: u64) -> RecordedEvent {
    let e = raw_event(&format!("imported-{position}"), 40);
    RecordedEvent {
        position,
        id: Ulid::new(),
        stream: stream.into(),
        version,
        event_type: e.event_type,
        schema_version: e.schema_version,
        metadata: metadata(),
        payload: e.payload,
    }
}

#[tokio::test]
async fn import_rejects_gaps_and_writes_nothing() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    let valid = vec![
        recorded(1, "a", 1),
        recorded(2, "b", 1),
        recorded(3, "a", 2),
    ];
    assert_eq!(store.import(valid.clone()).await.unwrap(), 3);
    assert_eq!(read_log(store.as_ref()).await, valid, "imported verbatim");

    let bad_batches: Vec<(&str, Vec<RecordedEvent>)> = vec![
        ("position gap at the start", vec![recorded(5, "a", 3)]),
        (
            "position gap in the middle",
            vec![recorded(4, "a", 3), recorded(6, "a", 4)],
        ),
        ("position reused", vec![recorded(3, "c", 1)]),
        (
            "version gap on an existing stream",
            vec![recorded(4, "b", 1), recorded(5, "a", 4)],
        ),
        (
            "version gap inside the batch",
            vec![recorded(4, "c", 1), recorded(5, "c", 3)],
        ),
        ("new stream not starting at 1", vec![recorded(4, "d", 2)]),
        (
            "valid prefix, bad tail",
            vec![
                recorded(4, "a", 3),
                recorded(5, "a", 4),
                recorded(6, "e", 1),
                recorded(8, "e", 2),
            ],
        ),
    ];
    for (why, batch) in bad_batches {
        match store.import(batch).await {
            Err(StoreError::InvalidImport(_)) => {}
            other => panic!("{why}: expected InvalidImport, got {other:?}"),
        }
        assert_eq!(store.head(), 3, "{why}: nothing written");
        assert_eq!(
            read_log(store.as_ref()).await,
            valid,
            "{why}: log unchanged"
        );
        assert_eq!(store.stream_version("a").await.unwrap(), 2, "{why}");
        assert_eq!(store.stream_version("c").await.unwrap(), 0, "{why}");
        assert_eq!(store.stream_version("e").await.unwrap(), 0, "{why}");
    }

    // A failed import leaves no trace in the writer's version cache either.
    let o = store
        .append(request(
            "a",
            ExpectedVersion::Exact(2),
            vec![raw_event("x", 5)],
        ))
        .await
        .unwrap();
    assert_eq!((o.first_position, o.first_version), (4, 3));
    let o = store
        .append(request(
            "c",
            ExpectedVersion::Exact(0),
            vec![raw_event("x", 5)],
        ))
        .await
        .unwrap();
    assert_eq!((o.first_position, o.first_version), (5, 1));
    assert_eq!(
        store
            .import(vec![recorded(6, "a", 4), recorded(7, "c", 2)])
            .await
            .unwrap(),
        2
    );
    assert_gapless(&read_log(store.as_ref()).await);
}
