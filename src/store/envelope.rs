//! The stored record. Every event is self-describing: type, schema version, stream,
//! stream version, global position, time, actor, correlation and causation, payload.
//!
//! On disk a record is one format byte followed by the record in that format. Every
//! format ever written stays readable; this build writes [`FORMAT_V3`].
//!
//! - [`FORMAT_V1`] (earlier builds): the postcard encoding of [`RecordedEvent`].
//! - [`FORMAT_V2`] (earlier builds): a fixed-size binary header, then stream, event
//!   type and actor in postcard, then the payload as the rest of the record (below).
//! - [`FORMAT_V3`]: the V2 layout with format byte 4, followed by a 32-byte link of
//!   the log's hash chain: SHA-256 of the previous record's link and of every byte of
//!   this record before the link (see [`chain`](super::chain)). The writer [`seal`]s
//!   each record as it assigns its position, so links follow the log's order. (Format
//!   byte 3 is not a record: it marks a page of records, see `sled_store::page`.)
//!
//! | bytes   | field                                                  |
//! |---------|--------------------------------------------------------|
//! | 0       | format: 2 (V3: 4)                                      |
//! | 1..9    | global position, u64 big-endian                        |
//! | 9..17   | stream version, u64 big-endian                         |
//! | 17..33  | event id, ULID as u128 big-endian                      |
//! | 33..35  | schema version, u16 big-endian                         |
//! | 35..43  | occurred at, i64 big-endian (µs since the Unix epoch)  |
//! | 43..59  | correlation id, u128 big-endian                        |
//! | 59      | 1 if a causation id follows, else 0                    |
//! | 60..76  | causation id, u128 big-endian (only if it follows)     |
//! | 60.. or 76.. | postcard of (stream, event type, actor), then payload |
//! | last 32 | V3 only: the link in the hash chain                    |
//!
//! Position, version and id sit at fixed offsets so that a record can be encoded
//! before the writer assigns them ([`assign`] patches them in), and every fixed field
//! is read without parsing. [`EventRef`] is a record decoded without copying: it
//! borrows its strings and payload from the stored bytes, which is what replays use.

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::StoreError;
use crate::domain::{Actor, Role, Timestamp};

/// The postcard layout of [`RecordedEvent`], written by earlier builds.
pub const FORMAT_V1: u8 = 1;
/// The binary layout without a hash, written by earlier builds.
pub const FORMAT_V2: u8 = 2;
/// The layout written by this build: V2's, then the record's link in the hash chain.
pub const FORMAT_V3: u8 = 4;
/// Bytes of a V3 record's link (SHA-256).
pub const LINK_BYTES: usize = 32;

mod v2 {
    pub const POSITION: usize = 1;
    pub const VERSION: usize = 9;
    pub const ID: usize = 17;
    pub const SCHEMA_VERSION: usize = 33;
    pub const OCCURRED_AT: usize = 35;
    pub const CORRELATION_ID: usize = 43;
    pub const HAS_CAUSATION: usize = 59;
    pub const CAUSATION_ID: usize = 60;
    /// The header without a causation id.
    pub const HEADER: usize = 60;
    /// The header with one.
    pub const HEADER_WITH_CAUSATION: usize = 76;
}

/// Metadata shared by the events of one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub actor: Actor,
    pub occurred_at: Timestamp,
    /// Ties together everything done for one request or workflow.
    pub correlation_id: Ulid,
    /// The event or command that caused this one, if any.
    pub causation_id: Option<Ulid>,
}

/// An event to append: its type, schema version and encoded payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: u16,
    pub payload: Vec<u8>,
}

/// An event as stored in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Gapless, strictly increasing across the whole log, from 1.
    pub position: u64,
    pub id: Ulid,
    pub stream: String,
    /// 1, 2, 3... within the stream.
    pub version: u64,
    pub event_type: String,
    pub schema_version: u16,
    pub metadata: Metadata,
    pub payload: Vec<u8>,
}

/// A stored record decoded without copying: strings and payload borrow from the
/// record's bytes (or from a [`RecordedEvent`], see [`RecordedEvent::view`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRef<'a> {
    pub position: u64,
    pub id: Ulid,
    pub stream: &'a str,
    pub version: u64,
    pub event_type: &'a str,
    pub schema_version: u16,
    pub actor_id: &'a str,
    pub role: Role,
    pub occurred_at: Timestamp,
    pub correlation_id: Ulid,
    pub causation_id: Option<Ulid>,
    pub payload: &'a [u8],
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("undecodable event record: {what}"))
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&bytes[at..at + N]);
    a
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(array(bytes, at))
}

fn ulid_at(bytes: &[u8], at: usize) -> Ulid {
    Ulid(u128::from_be_bytes(array(bytes, at)))
}

/// The V2 header's fields.
struct Header {
    position: u64,
    version: u64,
    id: Ulid,
    schema_version: u16,
    occurred_at: Timestamp,
    correlation_id: Ulid,
    causation_id: Option<Ulid>,
    /// Where the postcard part starts.
    len: usize,
}

impl Header {
    fn read(bytes: &[u8]) -> Result<Self, StoreError> {
        let len = match bytes.get(v2::HAS_CAUSATION) {
            Some(0) => v2::HEADER,
            Some(1) => v2::HEADER_WITH_CAUSATION,
            Some(b) => return Err(corrupt(format!("causation flag {b}"))),
            None => return Err(corrupt(format!("{} bytes", bytes.len()))),
        };
        if bytes.len() < len {
            return Err(corrupt(format!("{} bytes", bytes.len())));
        }
        Ok(Header {
            position: u64_at(bytes, v2::POSITION),
            version: u64_at(bytes, v2::VERSION),
            id: ulid_at(bytes, v2::ID),
            schema_version: u16::from_be_bytes(array(bytes, v2::SCHEMA_VERSION)),
            occurred_at: Timestamp(i64::from_be_bytes(array(bytes, v2::OCCURRED_AT))),
            correlation_id: ulid_at(bytes, v2::CORRELATION_ID),
            causation_id: (len == v2::HEADER_WITH_CAUSATION)
                .then(|| ulid_at(bytes, v2::CAUSATION_ID)),
            len,
        })
    }
}

/// The actor as a V2 record stores it, borrowed.
#[derive(Deserialize)]
struct ActorRef<'a> {
    id: &'a str,
    role: Role,
}

/// A V1 record, borrowed: the same fields in the same order as [`RecordedEvent`]
/// (postcard encodes `String` and `&str`, `Vec<u8>` and `&[u8]` alike; ULIDs are
/// stored as their 26-character text).
#[derive(Deserialize)]
struct V1Ref<'a> {
    position: u64,
    id: &'a str,
    stream: &'a str,
    version: u64,
    event_type: &'a str,
    schema_version: u16,
    #[serde(borrow)]
    metadata: V1MetadataRef<'a>,
    payload: &'a [u8],
}

#[derive(Deserialize)]
struct V1MetadataRef<'a> {
    #[serde(borrow)]
    actor: ActorRef<'a>,
    occurred_at: Timestamp,
    correlation_id: &'a str,
    #[serde(borrow)]
    causation_id: Option<&'a str>,
}

fn parse_ulid(text: &str) -> Result<Ulid, StoreError> {
    Ulid::from_string(text).map_err(|e| corrupt(format!("id `{text}`: {e}")))
}

impl<'a> EventRef<'a> {
    /// Decodes a stored record of any known format, borrowing from `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, StoreError> {
        match bytes.first() {
            Some(&FORMAT_V2) | Some(&FORMAT_V3) => {
                let bytes = without_link(bytes)?;
                let h = Header::read(bytes)?;
                let ((stream, event_type, actor), payload) =
                    postcard::take_from_bytes::<(&str, &str, ActorRef)>(&bytes[h.len..])
                        .map_err(corrupt)?;
                Ok(EventRef {
                    position: h.position,
                    id: h.id,
                    stream,
                    version: h.version,
                    event_type,
                    schema_version: h.schema_version,
                    actor_id: actor.id,
                    role: actor.role,
                    occurred_at: h.occurred_at,
                    correlation_id: h.correlation_id,
                    causation_id: h.causation_id,
                    payload,
                })
            }
            Some(&FORMAT_V1) => {
                let r: V1Ref = postcard::from_bytes(&bytes[1..]).map_err(corrupt)?;
                Ok(EventRef {
                    position: r.position,
                    id: parse_ulid(r.id)?,
                    stream: r.stream,
                    version: r.version,
                    event_type: r.event_type,
                    schema_version: r.schema_version,
                    actor_id: r.metadata.actor.id,
                    role: r.metadata.actor.role,
                    occurred_at: r.metadata.occurred_at,
                    correlation_id: parse_ulid(r.metadata.correlation_id)?,
                    causation_id: r.metadata.causation_id.map(parse_ulid).transpose()?,
                    payload: r.payload,
                })
            }
            Some(v) => Err(StoreError::Corrupt(format!("unknown record format {v}"))),
            None => Err(StoreError::Corrupt("empty event record".into())),
        }
    }
}

impl RecordedEvent {
    /// `event` stored as version `version` of `stream` at `position`, under `id`: the
    /// records of a log built without a store (benchmarks and tests).
    pub fn stored(
        position: u64,
        id: Ulid,
        stream: String,
        version: u64,
        metadata: Metadata,
        event: NewEvent,
    ) -> Self {
        let NewEvent {
            event_type,
            schema_version,
            payload,
        } = event;
        RecordedEvent {
            position,
            id,
            stream,
            version,
            event_type,
            schema_version,
            metadata,
            payload,
        }
    }

    /// The record in the current format, [`FORMAT_V3`], with a link of zeros: the
    /// writer [`seal`]s it once its position is assigned.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.to_bytes_as(FORMAT_V3);
        out.extend_from_slice(&[0u8; LINK_BYTES]);
        out
    }

    /// The record in [`FORMAT_V2`], as earlier builds wrote it (for tests of logs
    /// written by them).
    pub fn to_v2_bytes(&self) -> Vec<u8> {
        self.to_bytes_as(FORMAT_V2)
    }

    fn to_bytes_as(&self, format: u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            v2::HEADER_WITH_CAUSATION
                + 8
                + self.stream.len()
                + self.event_type.len()
                + self.metadata.actor.id.as_str().len()
                + self.payload.len()
                + LINK_BYTES,
        );
        out.push(format);
        out.extend_from_slice(&self.position.to_be_bytes());
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.id.0.to_be_bytes());
        out.extend_from_slice(&self.schema_version.to_be_bytes());
        let m = &self.metadata;
        out.extend_from_slice(&m.occurred_at.0.to_be_bytes());
        out.extend_from_slice(&m.correlation_id.0.to_be_bytes());
        out.push(m.causation_id.is_some() as u8);
        if let Some(c) = m.causation_id {
            out.extend_from_slice(&c.0.to_be_bytes());
        }
        // Serializing strings and a plain struct into a Vec cannot fail.
        let mut out = postcard::to_extend(&(&self.stream, &self.event_type, &m.actor), out)
            .unwrap_or_default();
        out.extend_from_slice(&self.payload);
        out
    }

    /// Decodes a stored record of any known format.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.first() {
            Some(&FORMAT_V2) | Some(&FORMAT_V3) => {
                let bytes = without_link(bytes)?;
                let h = Header::read(bytes)?;
                let ((stream, event_type, actor), payload) =
                    postcard::take_from_bytes::<(String, String, Actor)>(&bytes[h.len..])
                        .map_err(corrupt)?;
                Ok(RecordedEvent {
                    position: h.position,
                    id: h.id,
                    stream,
                    version: h.version,
                    event_type,
                    schema_version: h.schema_version,
                    metadata: Metadata {
                        actor,
                        occurred_at: h.occurred_at,
                        correlation_id: h.correlation_id,
                        causation_id: h.causation_id,
                    },
                    payload: payload.to_vec(),
                })
            }
            Some(&FORMAT_V1) => postcard::from_bytes(&bytes[1..]).map_err(corrupt),
            Some(v) => Err(StoreError::Corrupt(format!("unknown record format {v}"))),
            None => Err(StoreError::Corrupt("empty event record".into())),
        }
    }

    /// This event as an [`EventRef`], borrowing its strings and payload.
    pub fn view(&self) -> EventRef<'_> {
        let m = &self.metadata;
        EventRef {
            position: self.position,
            id: self.id,
            stream: &self.stream,
            version: self.version,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            actor_id: m.actor.id.as_str(),
            role: m.actor.role,
            occurred_at: m.occurred_at,
            correlation_id: m.correlation_id,
            causation_id: m.causation_id,
            payload: &self.payload,
        }
    }
}

/// A V2 or V3 record without its link (V3's last [`LINK_BYTES`]).
fn without_link(bytes: &[u8]) -> Result<&[u8], StoreError> {
    if bytes.first() != Some(&FORMAT_V3) {
        return Ok(bytes);
    }
    match bytes.len().checked_sub(LINK_BYTES) {
        Some(body) if body >= v2::HEADER => Ok(&bytes[..body]),
        _ => Err(corrupt(format!("{} bytes", bytes.len()))),
    }
}

/// A V3 record's body (everything its link covers) and its stored link.
pub type Linked<'a> = (&'a [u8], &'a [u8; LINK_BYTES]);

/// A V3 record's body and stored link; `None` for the formats without one.
pub fn link_of(bytes: &[u8]) -> Result<Option<Linked<'_>>, StoreError> {
    if bytes.first() != Some(&FORMAT_V3) {
        return Ok(None);
    }
    let body = without_link(bytes)?;
    let link = bytes[body.len()..]
        .try_into()
        .map_err(|_| corrupt("link"))?;
    Ok(Some((body, link)))
}

/// Computes the link of a V3 record encoded by [`RecordedEvent::to_bytes`] (position,
/// version and id already [`assign`]ed) after `previous`, writes it into the record and
/// returns it.
pub fn seal(bytes: &mut [u8], previous: &[u8; LINK_BYTES]) -> [u8; LINK_BYTES] {
    debug_assert!(bytes.len() >= v2::HEADER + LINK_BYTES && bytes[0] == FORMAT_V3);
    let (body, link) = bytes.split_at_mut(bytes.len() - LINK_BYTES);
    let computed = super::chain::link(previous, body);
    link.copy_from_slice(&computed);
    computed
}

/// Writes position, stream version and id into a record encoded by
/// [`RecordedEvent::to_bytes`], so it can be encoded before they are known.
pub fn assign(bytes: &mut [u8], position: u64, version: u64, id: Ulid) {
    debug_assert!(bytes.len() >= v2::HEADER && bytes[0] == FORMAT_V3);
    bytes[v2::POSITION..v2::VERSION].copy_from_slice(&position.to_be_bytes());
    bytes[v2::VERSION..v2::ID].copy_from_slice(&version.to_be_bytes());
    bytes[v2::ID..v2::SCHEMA_VERSION].copy_from_slice(&id.0.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn ulid(s: &str) -> Ulid {
        Ulid::from_string(s).unwrap()
    }

    /// The records frozen in `tests/fixtures/records_v1.txt`.
    fn fixture_records() -> Vec<RecordedEvent> {
        vec![
            RecordedEvent {
                position: 1,
                id: ulid("01JGZ8Y3K0M6W7X8Y9Z0ABCDEF"),
                stream: "case-01JGZ8Y2A7Q4T5V6W7X8Y9Z0AB".into(),
                version: 1,
                event_type: "MessagePosted".into(),
                schema_version: 1,
                metadata: Metadata {
                    actor: Actor::new("dara.okafor@example.com", Role::Agent).unwrap(),
                    occurred_at: Timestamp(1_767_603_600_000_001),
                    correlation_id: ulid("01JGZ8Y3K0M6W7X8Y9Z0ABCDEG"),
                    causation_id: None,
                },
                payload: [
                    &[0u8, 23][..],
                    b"dara.okafor@example.com",
                    &[31],
                    b"Thanks, we are looking into it.",
                ]
                .concat(),
            },
            RecordedEvent {
                position: 300,
                id: ulid("01JGZ8Y3K0M6W7X8Y9Z0ABCDEH"),
                stream: "tokens".into(),
                version: 70_000,
                event_type: "TokenRevoked".into(),
                schema_version: 1,
                metadata: Metadata {
                    actor: Actor::system(),
                    occurred_at: Timestamp(-5),
                    correlation_id: ulid("01JGZ8Y3K0M6W7X8Y9Z0ABCDEJ"),
                    causation_id: Some(ulid("01JGZ8Y3K0M6W7X8Y9Z0ABCDEK")),
                },
                payload: b"\x03abc".to_vec(),
            },
        ]
    }

    /// FORMAT_V1 bytes written by earlier builds decode, owned and borrowed, forever.
    #[test]
    fn v1_records_from_earlier_builds_stay_readable() {
        let fixture = include_str!("../../tests/fixtures/records_v1.txt");
        let lines: Vec<&str> = fixture
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        let expected = fixture_records();
        assert_eq!(lines.len(), expected.len());
        for (line, want) in lines.iter().zip(&expected) {
            let bytes = unhex(line.trim());
            assert_eq!(bytes[0], FORMAT_V1);
            assert_eq!(&RecordedEvent::from_bytes(&bytes).unwrap(), want);
            assert_eq!(EventRef::decode(&bytes).unwrap(), want.view());
        }
    }

    /// FORMAT_V2 bytes written by earlier builds (no link) decode, owned and borrowed,
    /// forever.
    #[test]
    fn v2_records_from_earlier_builds_stay_readable() {
        let fixture = include_str!("../../tests/fixtures/records_v2.txt");
        let lines: Vec<&str> = fixture
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        let expected = fixture_records();
        assert_eq!(lines.len(), expected.len());
        for (line, want) in lines.iter().zip(&expected) {
            let bytes = unhex(line.trim());
            assert_eq!(bytes[0], FORMAT_V2);
            assert_eq!(&RecordedEvent::from_bytes(&bytes).unwrap(), want);
            assert_eq!(EventRef::decode(&bytes).unwrap(), want.view());
            assert_eq!(link_of(&bytes).unwrap(), None);
            assert_eq!(bytes, want.to_v2_bytes());
        }
    }

    #[test]
    fn v3_round_trips_owned_and_borrowed() {
        for r in fixture_records() {
            let mut bytes = r.to_bytes();
            assert_eq!(bytes[0], FORMAT_V3);
            let link = seal(&mut bytes, &[7u8; LINK_BYTES]);
            assert_eq!(RecordedEvent::from_bytes(&bytes).unwrap(), r);
            assert_eq!(EventRef::decode(&bytes).unwrap(), r.view());
            let (body, stored) = link_of(&bytes).unwrap().unwrap();
            assert_eq!(stored, &link);
            // The body is V2's layout under the V3 format byte.
            let mut v2 = r.to_v2_bytes();
            v2[0] = FORMAT_V3;
            assert_eq!(body, &v2[..]);
            assert_eq!(link, crate::store::chain::link(&[7u8; LINK_BYTES], body));
        }
    }

    #[test]
    fn the_link_depends_on_every_byte_and_on_the_previous_link() {
        let r = fixture_records().remove(1);
        let mut bytes = r.to_bytes();
        let link = seal(&mut bytes, &[0u8; LINK_BYTES]);
        assert_ne!(link, seal(&mut bytes.clone(), &[1u8; LINK_BYTES]));
        let body = bytes.len() - LINK_BYTES;
        // Every byte after the format byte (another format byte is another format).
        for i in 1..body {
            let mut changed = bytes.clone();
            changed[i] ^= 1;
            assert_ne!(seal(&mut changed, &[0u8; LINK_BYTES]), link, "{i}");
        }
    }

    #[test]
    fn assign_patches_position_version_and_id() {
        let r = fixture_records().remove(0);
        let mut bytes = RecordedEvent {
            position: 0,
            version: 0,
            id: Ulid::nil(),
            ..r.clone()
        }
        .to_bytes();
        assign(&mut bytes, r.position, r.version, r.id);
        assert_eq!(bytes, r.to_bytes());
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let bytes = fixture_records()[1].to_bytes();
        for len in 0..bytes.len() - 4 - LINK_BYTES {
            // Any cut inside the header or the strings is detected (a cut inside the
            // payload or the link is not: the payload is the rest of the record before
            // the link; the payload decoder and the hash chain report it).
            assert!(RecordedEvent::from_bytes(&bytes[..len]).is_err(), "{len}");
            assert!(EventRef::decode(&bytes[..len]).is_err(), "{len}");
        }
        let mut unknown = bytes.clone();
        unknown[0] = 9;
        assert!(EventRef::decode(&unknown).is_err());
        let mut flag = bytes;
        flag[v2::HAS_CAUSATION] = 7;
        assert!(RecordedEvent::from_bytes(&flag).is_err());
    }
}
