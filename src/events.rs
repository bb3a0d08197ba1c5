//! Every event family the log holds (cases, access, agents, standing swarms, configuration,
//! imports), seen together:
//! the JSON form of any stored payload, for exports and the API's `payload` field,
//! and back, for imports.

use crate::archive::provenance::ImportEvent;
use crate::config::ConfigEvent;
use crate::domain::access::AccessEvent;
use crate::domain::presence::AgentEvent;
use crate::domain::standing::StandingEvent;
use crate::domain::{CaseEvent, CaseId, CodecError};
use crate::store::RecordedEvent;

/// The payload of any known event type as JSON.
pub fn payload_json(
    event_type: &str,
    version: u16,
    payload: &[u8],
) -> Result<serde_json::Value, CodecError> {
    match CaseEvent::decode(event_type, version, payload) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| e.to_json()),
    }
    match AccessEvent::decode(event_type, version, payload) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| e.to_json()),
    }
    match ImportEvent::decode(event_type, version, payload) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| e.to_json()),
    }
    match AgentEvent::decode(event_type, version, payload) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| e.to_json()),
    }
    match StandingEvent::decode(event_type, version, payload) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| e.to_json()),
    }
    ConfigEvent::decode(event_type, version, payload).map(|e| e.to_json())
}

/// The case an event is about: its stream's case, or for an auditor's read of one
/// case (`CaseViewed`, in the access log) the case read.
pub fn case_of(r: &RecordedEvent) -> Option<CaseId> {
    if let Some(id) = CaseId::from_stream(&r.stream) {
        return Some(id);
    }
    match AccessEvent::decode(&r.event_type, r.schema_version, &r.payload) {
        Ok(AccessEvent::CaseViewed(v)) => Some(v.case_id),
        _ => None,
    }
}

/// Encodes any known event type from its JSON payload, returning the type, schema
/// version and binary payload this build writes.
pub fn payload_from_json(
    event_type: &str,
    version: u16,
    payload: serde_json::Value,
) -> Result<(&'static str, u16, Vec<u8>), CodecError> {
    match CaseEvent::from_json(event_type, version, payload.clone()) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| (e.event_type(), e.schema_version(), e.encode())),
    }
    match AccessEvent::from_json(event_type, version, payload.clone()) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| (e.event_type(), e.schema_version(), e.encode())),
    }
    match ImportEvent::from_json(event_type, version, payload.clone()) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| (e.event_type(), e.schema_version(), e.encode())),
    }
    match AgentEvent::from_json(event_type, version, payload.clone()) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| (e.event_type(), e.schema_version(), e.encode())),
    }
    match StandingEvent::from_json(event_type, version, payload.clone()) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| (e.event_type(), e.schema_version(), e.encode())),
    }
    ConfigEvent::from_json(event_type, version, payload)
        .map(|e| (e.event_type(), e.schema_version(), e.encode()))
}

/// The one check behind every frozen event-family fixture (`tests/fixtures/*_events_v1.txt`).
#[cfg(test)]
pub(crate) mod frozen {
    use std::fmt::{Debug, Display};
    use std::path::Path;

    /// One fixture line as read back: type, version, payload bytes, and that build's JSON.
    pub(crate) struct Line {
        pub event_type: String,
        pub version: u16,
        pub bytes: Vec<u8>,
        pub json: serde_json::Value,
    }

    pub(crate) fn to_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) fn from_hex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
            .collect()
    }

    /// `tests/fixtures/<name>` holds `type \t version \t payload hex \t JSON` of
    /// `events`, one per line, as the first build with these types wrote them (with
    /// `SWARMDESK_WRITE_FIXTURES` set, this writes it from `record`). Every line must
    /// decode (`decode`) to the event beside it and encode to the same bytes, and its
    /// JSON must still be read (`from_json`) as the same event; there is a line for
    /// each of the family's `types`. Returns the lines for a family's own checks.
    pub(crate) fn check<E: PartialEq + Debug, Er: Display>(
        name: &str,
        events: &[E],
        types: usize,
        record: impl Fn(&E) -> (&'static str, u16, Vec<u8>, serde_json::Value),
        decode: impl Fn(&str, u16, &[u8]) -> Result<E, Er>,
        from_json: impl Fn(&str, u16, serde_json::Value) -> Result<E, Er>,
    ) -> Vec<Line> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        if std::env::var_os("SWARMDESK_WRITE_FIXTURES").is_some() {
            let lines: Vec<String> = events
                .iter()
                .map(|e| {
                    let (t, v, bytes, json) = record(e);
                    format!("{t}\t{v}\t{}\t{json}", to_hex(&bytes))
                })
                .collect();
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), types);
        let mut read = Vec::new();
        for (line, expected) in lines.iter().zip(events) {
            let f: Vec<&str> = line.splitn(4, '\t').collect();
            assert_eq!(f.len(), 4, "malformed fixture line `{line}`");
            let version: u16 = f[1].parse().unwrap();
            let bytes = from_hex(f[2]);
            let decoded = decode(f[0], version, &bytes)
                .unwrap_or_else(|e| panic!("`{}` is no longer readable: {e}", f[0]));
            assert_eq!(&decoded, expected);
            assert_eq!(to_hex(&record(&decoded).2), f[2], "{} bytes changed", f[0]);
            let json: serde_json::Value = serde_json::from_str(f[3]).unwrap();
            assert_eq!(
                from_json(f[0], version, json.clone()).ok().as_ref(),
                Some(expected),
                "{}: the old JSON is no longer read",
                f[0]
            );
            read.push(Line {
                event_type: f[0].to_string(),
                version,
                bytes,
                json,
            });
        }
        read
    }
}

#[cfg(test)]
mod tests {
    //! Frozen forms: the binary payloads and projection snapshots this build writes
    //! must not change, and JSON written by earlier builds (exports) must stay readable.

    use super::*;
    use crate::cli::ExportedEvent;
    use crate::domain::access::{CaseViewed, CasesViewed, TokenIssued, TokenRevoked};
    use crate::domain::{AgentId, Role, Timestamp};
    use crate::projection::Projections;
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    fn writing() -> bool {
        std::env::var_os("SWARMDESK_WRITE_FIXTURES").is_some()
    }

    use super::frozen::{from_hex, to_hex};

    fn case_id() -> CaseId {
        "01JGZ8Y2A7Q4T5V6W7X8Y9Z0AB".parse().unwrap()
    }

    /// One of every access event type, with every field set.
    fn every_access_event() -> Vec<AccessEvent> {
        vec![
            AccessEvent::TokenIssued(TokenIssued {
                token_id: "1a2b3c4d5e6f".into(),
                hash: "9f".repeat(32),
                user: AgentId::new("audrey").unwrap(),
                role: Role::Auditor,
                tiers: vec!["L1".into(), "L2".into()],
                expires_at: Some(Timestamp::from_unix_micros(1_798_761_600_000_001)),
            }),
            AccessEvent::TokenRevoked(TokenRevoked {
                token_id: "1a2b3c4d5e6f".into(),
            }),
            AccessEvent::CaseViewed(CaseViewed {
                case_id: case_id(),
                what: "history".into(),
            }),
            AccessEvent::CasesViewed(CasesViewed {
                case_ids: vec![case_id(), "01JGZ8Y3K0M6W7X8Y9Z0ABCDEF".parse().unwrap()],
                what: "cases".into(),
            }),
        ]
    }

    /// FROZEN: `access_events_v1.txt` holds `type \t version \t payload hex \t JSON` of
    /// [`every_access_event`] as the first build with these types wrote them. The bytes
    /// must decode to the same values and be written unchanged; the JSON (that build's
    /// spelling) must still be read as the same event.
    #[test]
    fn access_events_keep_their_bytes_and_old_json_stays_readable() {
        super::frozen::check(
            "access_events_v1.txt",
            &every_access_event(),
            AccessEvent::TYPES.len(),
            |e| (e.event_type(), e.schema_version(), e.encode(), e.to_json()),
            AccessEvent::decode,
            AccessEvent::from_json,
        );
    }

    /// One of every agent event type, with every field set.
    fn every_agent_event() -> Vec<AgentEvent> {
        use crate::domain::presence::{CaseClaimed, Presence, PresenceSet, PresenceSource};
        vec![
            AgentEvent::PresenceSet(PresenceSet {
                presence: Presence::Away,
                source: PresenceSource::Disconnected,
            }),
            AgentEvent::CaseClaimed(CaseClaimed {
                case_id: case_id(),
                case_version: 3,
            }),
        ]
    }

    /// FROZEN: `agent_events_v1.txt` holds `type \t version \t payload hex \t JSON` of
    /// [`every_agent_event`] as the first build with these types wrote them.
    #[test]
    fn agent_events_keep_their_bytes_and_old_json_stays_readable() {
        let lines = super::frozen::check(
            "agent_events_v1.txt",
            &every_agent_event(),
            AgentEvent::TYPES.len(),
            |e| (e.event_type(), e.schema_version(), e.encode(), e.to_json()),
            AgentEvent::decode,
            AgentEvent::from_json,
        );
        for l in lines {
            assert_eq!(
                payload_json(&l.event_type, l.version, &l.bytes).ok(),
                Some(l.json)
            );
        }
    }

    /// One of every standing-swarm event type, with every field set.
    fn every_standing_event() -> Vec<StandingEvent> {
        use crate::domain::standing::StandingMember;
        let agent = AgentId::new("dana").unwrap();
        vec![
            StandingEvent::StandingSwarmJoined(StandingMember {
                agent: agent.clone(),
            }),
            StandingEvent::StandingSwarmLeft(StandingMember { agent }),
        ]
    }

    /// FROZEN: `standing_events_v1.txt` holds `type \t version \t payload hex \t JSON`
    /// of [`every_standing_event`] as the first build with these types wrote them.
    #[test]
    fn standing_events_keep_their_bytes_and_old_json_stays_readable() {
        let lines = super::frozen::check(
            "standing_events_v1.txt",
            &every_standing_event(),
            StandingEvent::TYPES.len(),
            |e| (e.event_type(), e.schema_version(), e.encode(), e.to_json()),
            StandingEvent::decode,
            StandingEvent::from_json,
        );
        for l in lines {
            assert_eq!(
                payload_json(&l.event_type, l.version, &l.bytes).ok(),
                Some(l.json)
            );
        }
    }

    /// The events of `export_v1.ndjson`, an export written by an earlier build.
    fn exported_v1() -> Vec<crate::store::RecordedEvent> {
        std::fs::read_to_string(fixture("export_v1.ndjson"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(n, line)| {
                serde_json::from_str::<ExportedEvent>(line)
                    .unwrap_or_else(|e| panic!("line {}: {e}", n + 1))
                    .into_record()
                    .unwrap_or_else(|e| panic!("line {}: {e}", n + 1))
            })
            .collect()
    }

    /// FROZEN: `snapshot_v1.txt` holds, per case of `export_v1.ndjson` (by id), the
    /// postcard bytes of its projected view, as stored in projection snapshots. What
    /// JSON looks like must never change them. (Snapshot format 4 appended each case's
    /// swarming state, hence the trailing default bytes; format 10 holds no messages
    /// in the live views but the current swarm's chat after them.)
    #[test]
    fn projection_snapshot_bytes_do_not_change() {
        let mut p = Projections::new();
        let records = exported_v1();
        for r in &records {
            p.apply(r).unwrap();
        }
        let mut ids: Vec<CaseId> = records
            .iter()
            .filter_map(|r| CaseId::from_stream(&r.stream))
            .collect();
        ids.sort();
        ids.dedup();
        let lines: Vec<String> = ids
            .iter()
            .map(|id| {
                let view = p.case(*id).expect("a projected case");
                format!("{id}\t{}", to_hex(&postcard::to_allocvec(view).unwrap()))
            })
            .collect();
        let path = fixture("snapshot_v1.txt");
        if writing() {
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let frozen: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(frozen, lines, "projected case views encode differently");
    }

    /// FROZEN: `case_events_json_v1.txt` holds the JSON an earlier build exported for
    /// every line of the binary fixtures `case_events_v1.txt` and `case_events_v2.txt`
    /// (same order): it must still be read as the event those bytes hold.
    #[test]
    fn old_json_of_every_case_event_reads_as_the_same_event() {
        let mut binary = Vec::new();
        for name in ["case_events_v1.txt", "case_events_v2.txt"] {
            let text = std::fs::read_to_string(fixture(name)).unwrap();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let f: Vec<&str> = line.split('\t').collect();
                let version: u16 = f[1].parse().unwrap();
                let event = CaseEvent::decode(f[0], version, &from_hex(f[2])).unwrap();
                binary.push((f[0].to_string(), version, event));
            }
        }
        // Event types added after the JSON fixture was frozen have no old JSON.
        const NEWER_THAN_THE_JSON_FIXTURE: &[&str] = &[
            "CaseTeamChanged",
            "CaseSkillsSet",
            "SwarmInvited",
            "InvitationAccepted",
            "InvitationDeclined",
            "InvitationExpired",
            "HelpRequested",
            "HelpOffered",
            "HelpAccepted",
            "HelpRequestClosed",
            "SwarmTypeSet",
            "SwarmRoleSet",
            "KnowledgeCaptured",
            "StatusUpdateDue",
        ];
        binary.retain(|(t, _, _)| !NEWER_THAN_THE_JSON_FIXTURE.contains(&t.as_str()));
        let path = fixture("case_events_json_v1.txt");
        if writing() {
            let lines: Vec<String> = binary
                .iter()
                .map(|(t, v, e)| format!("{t}\t{v}\t{}", e.to_json()))
                .collect();
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), binary.len());
        for (line, (t, v, expected)) in lines.iter().zip(&binary) {
            let f: Vec<&str> = line.splitn(3, '\t').collect();
            assert_eq!((f[0], f[1]), (t.as_str(), v.to_string().as_str()));
            let old: serde_json::Value = serde_json::from_str(f[2]).unwrap();
            let read = CaseEvent::from_json(t, *v, old)
                .unwrap_or_else(|e| panic!("{t} v{v}: the old JSON is no longer read: {e}"));
            assert_eq!(&read, expected, "{t} v{v}");
        }
    }

    /// Every stored event of every family, from the frozen binary fixtures (case and
    /// configuration events) and [`every_access_event`].
    fn every_event_json() -> Vec<(String, serde_json::Value)> {
        let mut out = Vec::new();
        for name in [
            "case_events_v1.txt",
            "case_events_v2.txt",
            "config_events_v1.txt",
            "config_events_v2.txt",
            "config_events_erasure_v1.txt",
        ] {
            let text = std::fs::read_to_string(fixture(name)).unwrap();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let f: Vec<&str> = line.split('\t').collect();
                let version: u16 = f[1].parse().unwrap();
                let json = payload_json(f[0], version, &from_hex(f[2]))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                out.push((f[0].to_string(), json));
            }
        }
        for e in every_access_event() {
            out.push((e.event_type().to_string(), e.to_json()));
        }
        out
    }

    /// The values of `enum NAME { ... }` in the committed `schema.graphql`.
    fn schema_enum(name: &str) -> Vec<String> {
        let sdl = include_str!("../schema.graphql");
        let start = sdl
            .find(&format!("enum {name} {{"))
            .unwrap_or_else(|| panic!("schema.graphql has no enum {name}"));
        let body = &sdl[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
        let mut values = Vec::new();
        let mut in_doc = false;
        for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if line.starts_with("\"\"\"") {
                // A lone `"""` opens or closes a description; `"""text"""` is whole.
                let one_line = line.len() > 3 && line.ends_with("\"\"\"");
                if !one_line {
                    in_doc = !in_doc;
                }
                continue;
            }
            if !in_doc {
                values.push(line.to_string());
            }
        }
        values
    }

    /// The string at `path` (object keys) of `json`.
    fn at<'a>(json: &'a serde_json::Value, path: &[&str]) -> &'a serde_json::Value {
        path.iter().fold(json, |v, k| &v[*k])
    }

    /// Payloads read as the API does: camelCase keys, enum values as in
    /// `schema.graphql` (`SOCIAL_DM`, `B2B`, `FIRST_RESPONSE`), times in RFC 3339.
    #[test]
    fn every_event_kind_is_shown_in_the_api_spellings() {
        let events = every_event_json();
        let types: std::collections::BTreeSet<&str> =
            events.iter().map(|(t, _)| t.as_str()).collect();
        for t in CaseEvent::TYPES
            .iter()
            .chain(AccessEvent::TYPES)
            .chain(ConfigEvent::TYPES)
        {
            assert!(types.contains(t), "no {t} among the fixtures");
        }
        fn keys_are_camel_case(t: &str, v: &serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        assert!(
                            !k.contains('_') && k.starts_with(|c: char| c.is_ascii_lowercase()),
                            "{t}: key `{k}` is not camelCase"
                        );
                        keys_are_camel_case(t, v);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| keys_are_camel_case(t, v)),
                _ => {}
            }
        }
        // Where each enum appears: (event type, path, schema enum).
        let enums: &[(&str, &[&str], &str)] = &[
            ("CaseOpened", &["channel"], "Channel"),
            ("CaseOpened", &["priority"], "Priority"),
            ("CaseOpened", &["customer", "segment"], "Segment"),
            ("CaseRouted", &["priority"], "Priority"),
            ("MessagePosted", &["kind"], "MessageKind"),
            ("PriorityChanged", &["from"], "Priority"),
            ("PriorityChanged", &["to"], "Priority"),
            ("SlaBreached", &["kind"], "SlaKind"),
            ("SlaEscalated", &["clock"], "SlaKind"),
            ("TokenIssued", &["role"], "Role"),
            ("CustomerSaved", &["segment"], "Segment"),
            ("SwarmTypeSet", &["swarmType"], "SwarmType"),
            ("SwarmRoleSet", &["role"], "SwarmRole"),
        ];
        let mut seen = 0;
        for (t, json) in &events {
            keys_are_camel_case(t, json);
            for (_, path, name) in enums.iter().filter(|(et, ..)| et == t) {
                let value = at(json, path).as_str().unwrap_or_else(|| {
                    panic!("{t}: no string at {path:?}: {json}");
                });
                assert!(
                    schema_enum(name).iter().any(|v| v == value),
                    "{t}: {path:?} is `{value}`, not a value of the API's {name}"
                );
                seen += 1;
            }
            // And it reads back as the same event.
            let version = if t == "CaseOpened" { 2 } else { 1 };
            let back = payload_from_json(t, version, json.clone());
            assert!(back.is_ok(), "{t}: {json} does not read back: {back:?}");
        }
        assert!(seen >= enums.len(), "every enum position was checked");

        let first = |t: &str| &events.iter().find(|(et, _)| et == t).unwrap().1;
        let opened = first("CaseOpened");
        assert_eq!(opened["channel"], "SOCIAL_DM");
        assert_eq!(opened["priority"], "HIGH");
        assert_eq!(opened["customer"]["segment"], "B2C");
        assert_eq!(opened["customer"]["keyAccount"], true);
        assert_eq!(opened["caseId"], "01HZX3N8Q4T5V6W7X8Y9Z0ABCD");
        assert_eq!(first("CaseRouted")["ruleSetVersion"], 300);
        // Times: RFC 3339, to the microsecond, as the API's DateTime.
        assert_eq!(
            first("SlaBreached")["deadline"],
            Timestamp::from_unix_micros(1_789_500_123_456_789).to_rfc3339()
        );
        assert!(first("SlaBreached")["deadline"]
            .as_str()
            .is_some_and(|d| d.starts_with("2026-09-15T") && d.ends_with('Z')));
        assert_eq!(
            first("TokenIssued")["expiresAt"],
            Timestamp::from_unix_micros(1_798_761_600_000_001).to_rfc3339()
        );
        // Working hours as the API's WorkingHoursInput: weekday name, HH:MM.
        assert_eq!(
            first("CalendarSaved")["hours"][0],
            serde_json::json!({ "weekday": "MONDAY", "start": "09:00", "end": "17:00" })
        );
        assert_eq!(first("CalendarSaved")["utcOffsetMinutes"], 60);
        let policy = &first("SlaPoliciesSet")["policies"][0];
        assert_eq!(policy["firstResponseMinutes"], 30);
        assert_eq!(policy["segments"], serde_json::json!(["B2B"]));
        assert_eq!(policy["escalation"][0]["afterMinutes"], 15);
        assert_eq!(policy["escalation"][0]["clock"], "FIRST_RESPONSE");
        let applied = first("SlaApplied");
        assert_eq!(applied["calendar"]["hours"][0]["weekday"], "MONDAY");
        assert_eq!(applied["escalation"][1]["escalateTier"], true);
        assert_eq!(first("CaseViewed")["caseId"], case_id().to_string());
        // The README shows these two as they are.
        let readme = include_str!("../README.md");
        for t in ["CaseOpened", "SlaBreached"] {
            let line = first(t).to_string();
            assert!(readme.contains(&line), "README.md should show {line}");
        }
        assert_eq!(first("CasesViewed")["caseIds"][0], case_id().to_string());
    }

    /// An export of an earlier build imports, and exported again it reads in the API's
    /// spellings and imports to the very same records (bytes included).
    #[test]
    fn an_old_export_imports_and_reexports_in_the_api_spellings() {
        let records = exported_v1();
        assert!(records.len() > 50);
        for r in &records {
            let line = serde_json::to_string(&ExportedEvent::from_record(r).unwrap()).unwrap();
            for old in [
                "\"SocialDm\"",
                "\"B2b\"",
                "\"System\"",
                "key_account",
                "case_id",
            ] {
                assert!(!line.contains(old), "{old} in {line}");
            }
            let back = serde_json::from_str::<ExportedEvent>(&line)
                .unwrap()
                .into_record()
                .unwrap();
            assert_eq!(&back, r);
        }
    }

    /// The access log's `CaseViewed` names the case read although its stream is not
    /// the case's.
    #[test]
    fn the_case_of_a_case_viewed_event_is_the_case_read() {
        let viewed = &every_access_event()[2];
        let r = crate::store::RecordedEvent {
            position: 1,
            id: ulid::Ulid::new(),
            stream: crate::domain::access::ACCESS_LOG_STREAM.into(),
            version: 1,
            event_type: viewed.event_type().into(),
            schema_version: viewed.schema_version(),
            metadata: crate::store::Metadata {
                actor: crate::domain::Actor::new("audrey", Role::Auditor).unwrap(),
                occurred_at: Timestamp::from_unix_micros(0),
                correlation_id: ulid::Ulid::new(),
                causation_id: None,
            },
            payload: viewed.encode(),
        };
        assert_eq!(case_of(&r), Some(case_id()));
    }
}
