//! The text index behind `cases(filter: {text})`: the trigrams (every run of three
//! characters) of each case's subject and body in clear and lower-cased, in a tantivy
//! index held in memory.
//!
//! A text of three characters or more is in a subject or body only if each of its
//! trigrams is, so the cases holding all of them are the only candidates
//! ([`CaseText::candidates`]); every candidate is still checked against the whole
//! filter, the text included, so the index narrows the walk without changing an
//! answer. Shorter texts have no trigram and walk the listing as before.
//!
//! Derived, never stored, and built only when a text search asks for it: the subjects
//! and bodies are gathered under the projections' lock ([`CaseText::begin`]), opened
//! and indexed off it ([`Build::run`]), then installed ([`CaseText::finish`]); text
//! searches meanwhile walk as before. Cases opened after the gathering are candidates
//! as they are (checked like the others) until [`PENDING`] of them are written to the
//! index at once.
//!
//! The index holds personal fields in clear, so it must not outlive a customer's
//! erasure: it is dropped whole as the key is destroyed here (`forgetCustomer`), as
//! the projections apply a `CustomerForgotten` (written through any node), and, should
//! a search come first, when the vault's [`erasures`](crate::shred::Vault::erasures)
//! differ from those it was built under (a key destroyed here, or one another node
//! destroyed evicted); it is built again at the next text search from the fields as
//! they open then (`[erased]`). With a vault that cannot tell (its live feed lost) no
//! index is built.

use std::collections::BTreeSet;
use std::sync::Mutex;

use foldhash::HashMap;
use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::directory::RamDirectory;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::tokenizer::NgramTokenizer;
use tantivy::{DocId, Index, IndexReader, IndexSettings, ReloadPolicy, TantivyDocument, Term};
use tracing::error;

use super::CaseView;
use crate::domain::CaseId;
use crate::shred::Vault;

/// Cases opened since the index was written that are candidates as they are; at this
/// many they are written to it.
pub const PENDING: usize = 256;
/// Most trigrams of a text a search uses (the first ones; the filter checks the rest).
pub const MAX_TRIGRAMS: usize = 64;
/// A text held by more than one case in this many is common: a page of it fills fast
/// walking the listing, faster than collecting its candidates.
pub const COMMON: u64 = 4;
/// The tokenizer's name in the index.
const TRIGRAMS: &str = "trigrams";
/// The index writer's memory budget while building (freed when done).
const BUILD_BUDGET: usize = 64_000_000;
/// The budget while writing a batch of pending cases (tantivy's minimum).
const BATCH_BUDGET: usize = 15_000_000;

/// The live projections' text index and its state.
#[derive(Default)]
pub struct CaseText {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    state: State,
    /// Numbers each build, so an abandoned one is never installed.
    builds: u64,
}

#[derive(Default)]
enum State {
    #[default]
    None,
    /// Gathered and being built; the cases opened since.
    Building { build: u64, pending: Vec<CaseId> },
    Built {
        index: TextIndex,
        /// The vault's erasures it was built under.
        erasures: u64,
        /// Cases opened since it was last written.
        pending: Vec<CaseId>,
    },
}

/// The subjects and bodies of every case, sealed as the views hold them, to be
/// indexed off the projections' lock.
pub struct Build {
    build: u64,
    erasures: u64,
    cases: Vec<(CaseId, String, String)>,
}

/// An index built from a [`Build`], for [`CaseText::finish`].
pub struct Built {
    build: u64,
    erasures: u64,
    index: TextIndex,
}

/// What the index holds, for benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextStats {
    pub cases: u64,
    /// Bytes of the index's files (in memory).
    pub bytes: u64,
}

impl CaseText {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a case just opened (its subject and body are set once, when it opens).
    pub fn opened(&mut self, id: CaseId) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        match &mut inner.state {
            State::None => {}
            State::Building { pending, .. } | State::Built { pending, .. } => pending.push(id),
        }
    }

    /// The cases to index, if no index is built or being built: from then on the
    /// cases opened are noted. `erasures` is the vault's now.
    pub fn begin<'a>(
        &self,
        cases: impl ExactSizeIterator<Item = (&'a CaseId, &'a CaseView)>,
        erasures: u64,
    ) -> Option<Build> {
        let mut inner = self.lock();
        if !matches!(inner.state, State::None) {
            return None;
        }
        inner.builds += 1;
        let build = inner.builds;
        inner.state = State::Building {
            build,
            pending: Vec::new(),
        };
        let mut gathered = Vec::with_capacity(cases.len());
        for (id, view) in cases {
            gathered.push((*id, view.case.subject.clone(), view.case.body.clone()));
        }
        Some(Build {
            build,
            erasures,
            cases: gathered,
        })
    }

    /// Installs `built` if it is the build under way and no key was destroyed since it
    /// began (`erasures` is the vault's now); otherwise drops it.
    pub fn finish(&self, built: Built, erasures: Option<u64>) {
        let mut inner = self.lock();
        let State::Building { build, pending } = &mut inner.state else {
            return;
        };
        if *build != built.build {
            return;
        }
        inner.state = if erasures == Some(built.erasures) {
            State::Built {
                index: built.index,
                erasures: built.erasures,
                pending: std::mem::take(pending),
            }
        } else {
            State::None
        };
    }

    /// Gives up the build numbered as `build`'s, if it is the one under way (it failed
    /// or its caller went away), so the next text search begins another.
    pub fn abandon(&self, build: u64) {
        let mut inner = self.lock();
        if matches!(inner.state, State::Building { build: b, .. } if b == build) {
            inner.state = State::None;
        }
    }

    /// Drops the index (a customer was forgotten); the next text search builds it again.
    pub fn forget(&self) {
        self.lock().state = State::None;
    }

    /// The only cases whose subject or body may hold `text` (case-insensitive): those
    /// holding all its trigrams, and those opened since the index was written. `None`
    /// when there is no index to ask (not built, or dropped now because a key was
    /// destroyed since it was built), when `text` has no trigram, or when more than one
    /// case in [`COMMON`] holds them all: then every case is one.
    pub fn candidates(
        &self,
        text: &str,
        vault: Option<&Vault>,
        cases: &HashMap<CaseId, Box<CaseView>>,
    ) -> Option<BTreeSet<CaseId>> {
        let mut inner = self.lock();
        let State::Built {
            index,
            erasures,
            pending,
        } = &mut inner.state
        else {
            return None;
        };
        if vault_erasures(vault) != Some(*erasures) {
            inner.state = State::None;
            return None;
        }
        let grams = index.trigrams(&text.to_lowercase());
        if grams.is_empty() {
            return None;
        }
        if pending.len() >= PENDING {
            let batch = pending
                .iter()
                .filter_map(|id| cases.get(id).map(|v| (*id, &v.case.subject, &v.case.body)));
            match index.write(batch, vault, BATCH_BUDGET) {
                Ok(()) => pending.clear(),
                // Searched as it is; the next search tries again.
                Err(e) => log(e),
            }
        }
        match index.search(&grams) {
            Ok(Some(found)) => Some(found.into_iter().chain(pending.iter().copied()).collect()),
            Ok(None) => None,
            Err(e) => {
                log(e);
                None
            }
        }
    }

    /// The index's size, if it is built.
    pub fn stats(&self) -> Option<TextStats> {
        match &self.lock().state {
            State::Built { index, .. } => Some(index.stats()),
            _ => None,
        }
    }
}

/// The vault's erasures; with no vault nothing is sealed, so nothing is ever erased.
pub fn vault_erasures(vault: Option<&Vault>) -> Option<u64> {
    vault.map_or(Some(0), Vault::erasures)
}

impl Build {
    /// Which build this is (for [`CaseText::abandon`]).
    pub fn number(&self) -> u64 {
        self.build
    }

    /// Opens the gathered fields with `vault` and indexes them.
    pub fn run(self, vault: Option<&Vault>) -> tantivy::Result<Built> {
        let mut index = TextIndex::new()?;
        index.write(
            self.cases.iter().map(|(id, s, b)| (*id, s, b)),
            vault,
            BUILD_BUDGET,
        )?;
        Ok(Built {
            build: self.build,
            erasures: self.erasures,
            index,
        })
    }
}

fn log(e: tantivy::TantivyError) {
    error!(error = %e, "case text index");
}

/// The tantivy index: one document per case, its subject and body as two values of
/// one trigram field, and its id in two fast fields.
struct TextIndex {
    index: Index,
    reader: IndexReader,
    directory: RamDirectory,
    text: Field,
    high: Field,
    low: Field,
    cases: u64,
}

impl TextIndex {
    fn new() -> tantivy::Result<Self> {
        let mut schema = Schema::builder();
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(TRIGRAMS)
            .set_index_option(IndexRecordOption::Basic);
        let text = schema.add_text_field(
            "text",
            TextOptions::default().set_indexing_options(indexing),
        );
        let high = schema.add_u64_field("high", FAST);
        let low = schema.add_u64_field("low", FAST);
        let directory = RamDirectory::create();
        let index = Index::create(directory.clone(), schema.build(), IndexSettings::default())?;
        index
            .tokenizers()
            .register(TRIGRAMS, NgramTokenizer::all_ngrams(3, 3)?);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(TextIndex {
            index,
            reader,
            directory,
            text,
            high,
            low,
            cases: 0,
        })
    }

    /// Adds each case's subject and body, opened and lower-cased, and makes them
    /// searchable.
    fn write<'a>(
        &mut self,
        cases: impl Iterator<Item = (CaseId, &'a String, &'a String)>,
        vault: Option<&Vault>,
        budget: usize,
    ) -> tantivy::Result<()> {
        let mut writer = self.index.writer_with_num_threads(1, budget)?;
        let mut added = 0;
        for (id, subject, body) in cases {
            let id = id.0 .0;
            let mut doc = TantivyDocument::default();
            doc.add_text(self.text, super::searchable(vault, subject));
            doc.add_text(self.text, super::searchable(vault, body));
            doc.add_u64(self.high, (id >> 64) as u64);
            doc.add_u64(self.low, id as u64);
            writer.add_document(doc)?;
            added += 1;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        self.cases += added;
        self.reader.reload()
    }

    /// The distinct trigrams of `text` (lower-cased already), as the index's own
    /// tokenizer cuts them, at most [`MAX_TRIGRAMS`].
    fn trigrams(&self, text: &str) -> Vec<String> {
        super::knowledge::distinct_tokens(&self.index, self.text, text, MAX_TRIGRAMS)
    }

    /// The cases holding every one of `grams`; `None` if more than one in [`COMMON`]
    /// do (counted only when each gram is that common).
    fn search(&self, grams: &[String]) -> tantivy::Result<Option<Vec<CaseId>>> {
        let searcher = self.reader.searcher();
        let terms: Vec<Term> = grams
            .iter()
            .map(|g| Term::from_field_text(self.text, g))
            .collect();
        let mut rarest = u64::MAX;
        for t in &terms {
            rarest = rarest.min(searcher.doc_freq(t)?);
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .into_iter()
            .map(|t| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(t, IndexRecordOption::Basic));
                (Occur::Must, q)
            })
            .collect();
        let query = BooleanQuery::new(clauses);
        let common = self.cases / COMMON;
        if rarest > common && searcher.search(&query, &Count)? as u64 > common {
            return Ok(None);
        }
        searcher.search(&query, &Ids).map(Some)
    }

    fn stats(&self) -> TextStats {
        TextStats {
            cases: self.cases,
            bytes: self.directory.total_mem_usage() as u64,
        }
    }
}

/// Collects the case ids of the matching documents.
struct Ids;

struct SegmentIds {
    high: Column<u64>,
    low: Column<u64>,
    found: Vec<CaseId>,
}

impl Collector for Ids {
    type Fruit = Vec<CaseId>;
    type Child = SegmentIds;

    fn for_segment(
        &self,
        _segment: tantivy::SegmentOrdinal,
        reader: &tantivy::SegmentReader,
    ) -> tantivy::Result<SegmentIds> {
        Ok(SegmentIds {
            high: reader.fast_fields().u64("high")?,
            low: reader.fast_fields().u64("low")?,
            found: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, parts: Vec<Vec<CaseId>>) -> tantivy::Result<Vec<CaseId>> {
        Ok(parts.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentIds {
    type Fruit = Vec<CaseId>;

    fn collect(&mut self, doc: DocId, _score: tantivy::Score) {
        if let (Some(high), Some(low)) = (self.high.first(doc), self.low.first(doc)) {
            let id = (u128::from(high) << 64) | u128::from(low);
            self.found.push(CaseId(ulid::Ulid(id)));
        }
    }

    fn harvest(self) -> Vec<CaseId> {
        self.found
    }
}

impl Clone for CaseText {
    /// A copy builds its own index if asked (past and simulated projections never are).
    fn clone(&self) -> Self {
        CaseText::default()
    }
}

impl PartialEq for CaseText {
    /// Derived from the case views, which the projections compare.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CaseText {}

impl std::fmt::Debug for CaseText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseText")
            .field("stats", &self.stats())
            .finish()
    }
}
