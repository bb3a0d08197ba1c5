//! Pages: what is stored under the `e` keys.
//!
//! A page holds the records of consecutive positions, the first of which is its key:
//! the format byte [`PAGE`], then each record as a u32 big-endian length and the
//! record's bytes (see [`envelope`](crate::store::envelope)). The writer fills pages
//! of about [`TARGET_BYTES`] from each group it commits, so a group of appends costs
//! sled a few inserts instead of one per event, and a scan reads many events per sled
//! entry. Builds before pages stored one record per key; such a value (a record's own
//! format byte first) reads as a page of one.

use crate::store::envelope::{FORMAT_V1, FORMAT_V2, FORMAT_V3};
use crate::store::StoreError;

use super::writes::Sink;

/// Format byte of a page.
pub const PAGE: u8 = 3;
/// A page is closed once it holds this many bytes.
pub const TARGET_BYTES: usize = 4096;

/// The records in a stored value, in position order.
pub fn records(value: &[u8]) -> Records<'_> {
    match value.first() {
        Some(&PAGE) => Records::Page(&value[1..]),
        _ => Records::Single(Some(value)),
    }
}

pub enum Records<'a> {
    Page(&'a [u8]),
    Single(Option<&'a [u8]>),
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<&'a [u8], StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Records::Single(record) => record.take().map(Ok),
            Records::Page([]) => None,
            Records::Page(rest) => {
                let record = rest
                    .split_first_chunk::<4>()
                    .map(|(len, tail)| (u32::from_be_bytes(*len) as usize, tail))
                    .filter(|(len, tail)| *len <= tail.len())
                    .map(|(len, tail)| tail.split_at(len));
                match record {
                    Some((record, tail)) => {
                        *rest = tail;
                        Some(Ok(record))
                    }
                    None => {
                        *rest = &[];
                        Some(Err(StoreError::Corrupt("truncated page".into())))
                    }
                }
            }
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
        page.extend_from_slice(&(record.len() as u32).to_be_bytes());
        page.extend_from_slice(record);
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
