//! Domain tests: Golden fixture: events written by v1 stay readable forever.

use super::*;

const FIXTURE_V1: &str = include_str!("../../../tests/fixtures/case_events_v1.txt");

fn from_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd-length hex `{hex}`");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// (type, schema version, payload) per fixture line.
fn fixture_lines() -> Vec<(&'static str, u16, Vec<u8>)> {
    FIXTURE_V1
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "malformed fixture line `{line}`");
            let version = fields[1].parse().expect("a schema version");
            (fields[0], version, from_hex(fields[2]))
        })
        .collect()
}

#[test]
fn v1_fixture_decodes_to_the_frozen_values() {
    let golden = golden_v1_events();
    let lines = fixture_lines();
    assert_eq!(
        lines.len(),
        CaseEvent::TYPES.len(),
        "one line per event type"
    );
    for (event_type, version, payload) in lines {
        assert_eq!(version, 1, "{event_type}: this fixture holds v1 payloads");
        let expected = golden
            .iter()
            .find(|e| e.event_type() == event_type)
            .unwrap_or_else(|| panic!("no golden value for `{event_type}`"));
        let decoded = CaseEvent::decode(event_type, version, &payload)
            .unwrap_or_else(|e| panic!("v1 `{event_type}` is no longer readable: {e}"));
        assert_eq!(
            &decoded, expected,
            "v1 `{event_type}` decodes to something else"
        );
        // While v1 is still the version written, the writer must produce the same bytes.
        if expected.schema_version() == 1 {
            assert_eq!(
                to_hex(&expected.encode()),
                to_hex(&payload),
                "{event_type} v1 bytes changed"
            );
        }
    }
}

/// FROZEN: the values `tests/fixtures/case_events_v2.txt` holds, encoded by schema
/// version 2 (one line per event type that has a version 2).
fn golden_v2_events() -> Vec<CaseEvent> {
    vec![CaseEvent::Opened(CaseOpened {
        case_id: case_id(),
        subject: "Site down for everyone".into(),
        body: "Nobody can log in since 9:00".into(),
        channel: Channel::Portal,
        customer: Customer {
            id: "initech".into(),
            name: "Initech".into(),
            segment: Segment::B2b,
            key_account: true,
        },
        language: "fr".into(),
        priority: Priority::Normal,
        tags: vec!["login".into()],
        requested_priority: Some(Priority::Urgent),
    })]
}

const FIXTURE_V2: &str = "tests/fixtures/case_events_v2.txt";

/// Version 2 payloads stay readable, and while v2 is written the bytes do not change.
/// `SWARMDESK_WRITE_FIXTURES=1` writes the file (only ever when v2 is introduced).
#[test]
fn v2_fixture_decodes_to_the_frozen_values() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_V2);
    let golden = golden_v2_events();
    if std::env::var_os("SWARMDESK_WRITE_FIXTURES").is_some() {
        let lines: Vec<String> = golden
            .iter()
            .map(|e| format!("{}\t2\t{}", e.event_type(), to_hex(&e.encode())))
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), golden.len());
    for (line, expected) in lines.iter().zip(&golden) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "malformed fixture line `{line}`");
        assert_eq!((f[0], f[1]), (expected.event_type(), "2"));
        let decoded = CaseEvent::decode(f[0], 2, &from_hex(f[2]))
            .unwrap_or_else(|e| panic!("v2 `{}` is no longer readable: {e}", f[0]));
        assert_eq!(&decoded, expected);
        if expected.schema_version() == 2 {
            assert_eq!(
                to_hex(&expected.encode()),
                f[2],
                "{} v2 bytes changed",
                f[0]
            );
        }
    }
}

/// A v1 `CaseOpened` (JSON too) reads as v2 without a requested priority.
#[test]
fn case_opened_v1_is_upcast_to_v2() {
    let (_, _, payload) = fixture_lines()
        .into_iter()
        .find(|(t, _, _)| *t == "CaseOpened")
        .expect("an opening line");
    let Ok(CaseEvent::Opened(o)) = CaseEvent::decode("CaseOpened", 1, &payload) else {
        panic!("v1 CaseOpened unreadable");
    };
    assert_eq!(o.requested_priority, None);
    assert_eq!(o.subject, "Charged twice");
    let mut json = CaseEvent::Opened(o.clone()).to_json();
    json.as_object_mut().unwrap().remove("requestedPriority");
    assert_eq!(
        CaseEvent::from_json("CaseOpened", 1, json).ok(),
        Some(CaseEvent::Opened(o))
    );
}

/// Shows the fixture catches reordered fields: the same bytes read through a struct
/// whose `from` and `to` are swapped give a different (wrong) value.
#[test]
fn v1_fixture_detects_swapped_fields() {
    #[derive(serde::Deserialize)]
    struct Swapped {
        to: Tier,
        from: Tier,
        #[allow(dead_code)]
        reason: String,
    }
    let (_, _, payload) = fixture_lines()
        .into_iter()
        .find(|(t, _, _)| *t == "CaseEscalated")
        .expect("an escalation line");
    let swapped: Swapped = postcard::from_bytes(&payload).expect("same shape");
    assert_eq!((swapped.from, swapped.to), (tier("L2"), tier("L1")));
}

/// Prints the v1 fixture line of every event type the fixture lacks (run once, when
/// a type is added, and append the output to `case_events_v1.txt`).
#[test]
#[ignore]
fn print_missing_v1_fixture_lines() {
    let have: Vec<&str> = fixture_lines().iter().map(|(t, _, _)| *t).collect();
    for e in golden_v1_events() {
        if !have.contains(&e.event_type()) {
            println!("{}\t1\t{}", e.event_type(), to_hex(&e.encode()));
        }
    }
}
