//! Pages: what is stored under the `e` keys.
//!
//! A page holds the records of consecutive positions, the first of which is its key:
//! the format byte [`PAGE`], then each record as a u32 big-endian length and the
//! record's bytes (see [`envelope`](crate::store::envelope)). The writer fills pages
//! of about [`TARGET_BYTES`] from each group it commits, so a group of appends costs
//! sled a few inserts instead of one per event, and a scan reads many events per sled
//! entry. Builds before pages stored one record per key; such a value (a record's own
//! format byte first) reads as a page of one.
//!
//! A group that is one page and idempotency keys stores the keys in its page, so that
//! the group stays one sled key (one `insert`, no batch: see module `writes`): the
//! format byte [`KEYED_PAGE`], the records' section's length as a u32 big-endian, the
//! records' section as in a page, the number of keys as a u32 big-endian, then each
//! key and its value as a u32 big-endian length and its bytes. Readers of records read
//! past the keys; the keys wait in the pending index until it is written, when they get
//! their own `i` entries, and an open reads them back from the pages after the index
//! (module `index`).

use crate::store::envelope::{FORMAT_V1, FORMAT_V2, FORMAT_V3};
use crate::store::StoreError;

use super::writes::Sink;

/// Format byte of a page.
pub const PAGE: u8 = 3;
/// Format byte of a page that also carries idempotency keys.
pub const KEYED_PAGE: u8 = 4;

/// An idempotency key carried in a page: its full `i` key and its stored value.
pub type CarriedKey = (Vec<u8>, Vec<u8>);
/// A page is closed once it holds this many bytes.
pub const TARGET_BYTES: usize = 4096;

/// The records in a stored value, in position order.
pub fn records(value: &[u8]) -> Records<'_> {
    match value.first() {
        Some(&PAGE) => Records::Page(&value[1..]),
        Some(&KEYED_PAGE) => match sections(value) {
            Some((records, _)) => Records::Page(records),
            None => Records::Broken(true),
        },
        _ => Records::Single(Some(value)),
    }
}

/// Appends `bytes` with its length as a u32 big-endian before it: how a page holds
/// each record, and a keyed page each key and value.
fn put_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Takes the next length-prefixed field (see [`put_prefixed`]) off `rest`; `None` if
/// it is cut short.
fn take_prefixed<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, tail) = rest.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*len) as usize;
    let (field, tail) = (len <= tail.len()).then(|| tail.split_at(len))?;
    *rest = tail;
    Some(field)
}

/// A keyed page's records' section and keys' section.
fn sections(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut rest = value.get(1..)?;
    let records = take_prefixed(&mut rest)?;
    Some((records, rest))
}

/// The idempotency keys a stored value carries (full `i` keys and their values):
/// none unless it is a keyed page.
pub fn carried_keys(value: &[u8]) -> Result<Vec<CarriedKey>, StoreError> {
    if value.first() != Some(&KEYED_PAGE) {
        return Ok(Vec::new());
    }
    let truncated = || StoreError::Corrupt("truncated keyed page".into());
    let (_, rest) = sections(value).ok_or_else(truncated)?;
    let (count, mut rest) = rest.split_first_chunk::<4>().ok_or_else(truncated)?;
    let count = u32::from_be_bytes(*count) as usize;
    let mut keys = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let key = take_prefixed(&mut rest).ok_or_else(truncated)?;
        let value = take_prefixed(&mut rest).ok_or_else(truncated)?;
        keys.push((key.to_vec(), value.to_vec()));
    }
    if !rest.is_empty() {
        return Err(StoreError::Corrupt(
            "bytes after a keyed page's keys".into(),
        ));
    }
    Ok(keys)
}

/// `page` (format [`PAGE`]) carrying `keys` as well (format [`KEYED_PAGE`]).
pub fn with_keys(page: &[u8], keys: &[CarriedKey]) -> Vec<u8> {
    let records = page.get(1..).unwrap_or_default();
    let extra: usize = keys.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(9 + records.len() + extra);
    out.push(KEYED_PAGE);
    put_prefixed(&mut out, records);
    out.extend_from_slice(&(keys.len() as u32).to_be_bytes());
    for (k, v) in keys {
        put_prefixed(&mut out, k);
        put_prefixed(&mut out, v);
    }
    out
}

pub enum Records<'a> {
    Page(&'a [u8]),
    Single(Option<&'a [u8]>),
    /// A keyed page cut short: one error.
    Broken(bool),
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<&'a [u8], StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Records::Single(record) => record.take().map(Ok),
            Records::Broken(once) => std::mem::take(once)
                .then(|| Err(StoreError::Corrupt("truncated keyed page".into()))),
            Records::Page([]) => None,
            Records::Page(rest) => match take_prefixed(rest) {
                Some(record) => Some(Ok(record)),
                None => {
                    *rest = &[];
                    Some(Err(StoreError::Corrupt("truncated page".into())))
                }
            },
        }
    }
}

/// The position of an encoded record, read without decoding the rest of it when the
/// format allows.
pub fn position_of(record: &[u8]) -> Result<u64, StoreError> {
    match record.first() {
        Some(&FORMAT_V2) | Some(&FORMAT_V3) if record.len() >= 9 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&record[1..9]);
            Ok(u64::from_be_bytes(b))
        }
        Some(&FORMAT_V1) | Some(&FORMAT_V2) | Some(&FORMAT_V3) => {
            crate::store::EventRef::decode(record).map(|e| e.position)
        }
        _ => Err(StoreError::Corrupt("unknown record format".into())),
    }
}

/// Fills pages from records of consecutive positions.
#[derive(Default)]
pub struct Pages {
    /// The open page's first position and bytes.
    open: Option<(u64, Vec<u8>)>,
}

impl Pages {
    /// Adds the record at `position`, the one after the previous record added.
    pub fn push(&mut self, batch: &mut impl Sink, position: u64, record: &[u8]) {
        let (_, page) = self.open.get_or_insert_with(|| {
            let mut page = Vec::with_capacity(TARGET_BYTES + 512);
            page.push(PAGE);
            (position, page)
        });
        put_prefixed(page, record);
        if page.len() >= TARGET_BYTES {
            self.close(batch);
        }
    }

    /// Writes the open page, if any.
    pub fn close(&mut self, batch: &mut impl Sink) {
        if let Some((first, page)) = self.open.take() {
            batch.put(super::keys::event(first), page);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_of(records: &[&[u8]]) -> Vec<u8> {
        let mut batch = sled::Batch::default();
        let mut pages = Pages::default();
        for (i, r) in records.iter().enumerate() {
            pages.push(&mut batch, i as u64 + 1, r);
        }
        pages.open.take().map(|(_, page)| page).unwrap_or_default()
    }

    #[test]
    fn a_page_yields_its_records_in_order() {
        let page = page_of(&[b"\x02one", b"", b"\x02three"]);
        let got: Vec<&[u8]> = records(&page).map(Result::unwrap).collect();
        assert_eq!(got, vec![&b"\x02one"[..], b"", b"\x02three"]);
    }

    #[test]
    fn a_record_stored_alone_reads_as_a_page_of_one() {
        let got: Vec<&[u8]> = records(b"\x01v1 record").map(Result::unwrap).collect();
        assert_eq!(got, vec![&b"\x01v1 record"[..]]);
    }

    #[test]
    fn a_truncated_page_is_an_error_not_a_panic() {
        let page = page_of(&[b"\x02one", b"\x02two"]);
        for len in 2..page.len() {
            let cut = &page[..len];
            let results: Vec<_> = records(cut).collect();
            if len != 1 + 4 + 4 {
                assert!(results.last().unwrap().is_err(), "{len}");
            }
        }
    }

    #[test]
    fn a_keyed_page_yields_its_records_and_carries_its_keys() {
        let page = page_of(&[b"\x02one", b"\x02two"]);
        let keys = vec![
            (b"ik1".to_vec(), b"result one".to_vec()),
            (b"ik2".to_vec(), Vec::new()),
        ];
        let keyed = with_keys(&page, &keys);
        assert_eq!(keyed[0], KEYED_PAGE);
        let got: Vec<&[u8]> = records(&keyed).map(Result::unwrap).collect();
        assert_eq!(got, vec![&b"\x02one"[..], b"\x02two"]);
        assert_eq!(carried_keys(&keyed).unwrap(), keys);
        assert!(
            carried_keys(&page).unwrap().is_empty(),
            "a plain page carries none"
        );
        // Cut anywhere, it is an error, never a panic.
        for len in 1..keyed.len() {
            let cut = &keyed[..len];
            let records_ok = records(cut).all(|r| r.is_ok());
            let keys_ok = carried_keys(cut).is_ok();
            assert!(!(records_ok && keys_ok), "cut at {len} read as whole");
        }
    }

    #[test]
    fn a_full_page_is_closed_into_the_batch() {
        let mut batch = sled::Batch::default();
        let mut pages = Pages::default();
        let record = vec![FORMAT_V2; 1020];
        for p in 1..=5 {
            pages.push(&mut batch, p, &record);
        }
        // Four records reach the target size; the fifth opens the next page.
        assert_eq!(pages.open.as_ref().map(|(first, _)| *first), Some(5));
    }
}
