//! The knowledge read model: every article captured on a case (`KnowledgeCaptured`),
//! and a full-text index over them (tantivy, in RAM) that ranks articles by words
//! and tags (BM25; a word in the title counts more than one in the body).
//!
//! The articles are the projection's state: folded from the log, snapshotted with
//! the other projections, compared by tests. The index is derived from them and is
//! never stored: it is built from the articles the first time it is searched (so at
//! start it comes from the log, through the fold or the snapshot), and after that
//! each newly captured article is added to it before the next search. Holding no
//! index writer between searches keeps an idle server from paying for one.
//!
//! Who may read which article is not decided here: searches take a `visible` filter
//! (see `policy::can_read_article`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, Value, FAST, INDEXED, STORED, STRING, TEXT,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tracing::error;

use crate::domain::event::KnowledgeCaptured;
use crate::domain::{AgentId, CaseId, Timestamp};

/// Longest search text, in bytes.
pub const MAX_QUERY: usize = 500;
/// Most distinct words a search uses (the rest are ignored).
pub const MAX_QUERY_WORDS: usize = 32;
/// How much more a word in the title counts than one in the body.
const TITLE_BOOST: f32 = 2.0;
/// How much a matching tag counts.
const TAG_BOOST: f32 = 1.5;
/// The index writer's memory budget (tantivy's minimum), held only while writing.
const WRITER_BUDGET: usize = 15_000_000;

/// One captured article. Its id is the log position of its `KnowledgeCaptured`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    pub id: u64,
    pub case: CaseId,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub by: AgentId,
    pub at: Timestamp,
}

/// An article found by a search, with its score (higher is better).
#[derive(Clone, Debug, PartialEq)]
pub struct Hit<'a> {
    pub article: &'a Article,
    pub score: f32,
}

/// What to look for: words (in titles, bodies and tags), tags an article must all
/// have, and tags that only raise an article's rank.
#[derive(Clone, Debug, Default)]
pub struct Search<'a> {
    pub words: &'a str,
    pub all_tags: &'a [String],
    pub any_tags: &'a [String],
    /// Leave out the articles of this case (a case's related articles).
    pub except_case: Option<CaseId>,
    pub limit: usize,
}

/// Every captured article, and the index over them.
#[derive(Default)]
pub struct Knowledge {
    articles: BTreeMap<u64, Article>,
    /// Built on the first search; `None` until then.
    index: Mutex<Option<SearchIndex>>,
}

struct Fields {
    id: Field,
    title: Field,
    body: Field,
    tags: Field,
}

struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Articles captured since the index was last written, added before the next search.
    pending: Vec<u64>,
}

impl Knowledge {
    /// Folds one `KnowledgeCaptured` recorded at log `position`.
    pub fn capture(&mut self, position: u64, case: CaseId, at: Timestamp, e: &KnowledgeCaptured) {
        self.articles.insert(
            position,
            Article {
                id: position,
                case,
                title: e.title.clone(),
                body: e.body.clone(),
                tags: e.tags.clone(),
                by: e.by.clone(),
                at,
            },
        );
        if let Some(index) = self.index.get_mut().unwrap_or_else(|p| p.into_inner()) {
            index.pending.push(position);
        }
    }

    pub fn article(&self, id: u64) -> Option<&Article> {
        self.articles.get(&id)
    }

    /// Every article, oldest first.
    pub fn articles(&self) -> impl Iterator<Item = &Article> {
        self.articles.values()
    }

    pub fn len(&self) -> usize {
        self.articles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.articles.is_empty()
    }

    /// The articles `visible` accepts that match `search`, best first (ties: newest
    /// first), at most `search.limit`. Nothing to look for finds nothing.
    pub fn search(&self, search: &Search<'_>, visible: &dyn Fn(&Article) -> bool) -> Vec<Hit<'_>> {
        if self.articles.is_empty() || search.limit == 0 {
            return Vec::new();
        }
        let mut guard = self.index.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = SearchIndex::build(self.articles.values()).map_err(log).ok();
        }
        let Some(index) = guard.as_mut() else {
            return Vec::new();
        };
        if !index.pending.is_empty() {
            let pending: Vec<&Article> = index
                .pending
                .iter()
                .filter_map(|id| self.articles.get(id))
                .collect();
            match index.write(pending) {
                Ok(()) => index.pending.clear(),
                Err(e) => {
                    // Searched as it is; the next search tries again.
                    log(e);
                }
            }
        }
        let Some(query) = index.query(search) else {
            return Vec::new();
        };
        let searcher = index.reader.searcher();
        let found = match searcher.search(
            &query,
            &TopDocs::with_limit(self.articles.len()).order_by_score(),
        ) {
            Ok(found) => found,
            Err(e) => {
                log(e);
                return Vec::new();
            }
        };
        let mut hits: Vec<Hit<'_>> = found
            .into_iter()
            .filter_map(|(score, address)| {
                let doc: TantivyDocument = searcher.doc(address).ok()?;
                let id = doc.get_first(index.fields.id)?.as_u64()?;
                let article = self.articles.get(&id)?;
                Some(Hit { article, score })
            })
            .filter(|h| search.except_case != Some(h.article.case) && visible(h.article))
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.article.id.cmp(&a.article.id))
        });
        hits.truncate(search.limit);
        hits
    }
}

fn log(e: tantivy::TantivyError) {
    error!(error = %e, "knowledge index");
}

/// The tokens of `text` as `index` cuts `field`'s values, without repeats, in order, at
/// most `most`: what a search looks up (here, and in the case text index).
pub(super) fn distinct_tokens(index: &Index, field: Field, text: &str, most: usize) -> Vec<String> {
    let Ok(mut analyzer) = index.tokenizer_for_field(field) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() && out.len() < most {
        let token = &stream.token().text;
        if !out.contains(token) {
            out.push(token.clone());
        }
    }
    out
}

impl SearchIndex {
    fn build<'a>(articles: impl Iterator<Item = &'a Article>) -> tantivy::Result<Self> {
        let mut schema = Schema::builder();
        let fields = Fields {
            id: schema.add_u64_field("id", INDEXED | STORED | FAST),
            title: schema.add_text_field("title", TEXT),
            body: schema.add_text_field("body", TEXT),
            tags: schema.add_text_field("tags", STRING),
        };
        let index = Index::create_in_ram(schema.build());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let mut built = SearchIndex {
            index,
            reader,
            fields,
            pending: Vec::new(),
        };
        built.write(articles.collect())?;
        Ok(built)
    }

    /// Adds `articles` and makes them searchable.
    fn write(&mut self, articles: Vec<&Article>) -> tantivy::Result<()> {
        let mut writer: IndexWriter = self.index.writer_with_num_threads(1, WRITER_BUDGET)?;
        for a in articles {
            let mut doc = TantivyDocument::default();
            doc.add_u64(self.fields.id, a.id);
            doc.add_text(self.fields.title, &a.title);
            doc.add_text(self.fields.body, &a.body);
            for t in &a.tags {
                doc.add_text(self.fields.tags, t);
            }
            writer.add_document(doc)?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        self.reader.reload()
    }

    /// The words of `text` as the title and body were indexed (the index's own
    /// tokenizer: split on non-alphanumerics, lower-cased), without repeats.
    fn words(&self, text: &str) -> Vec<String> {
        distinct_tokens(&self.index, self.fields.title, text, MAX_QUERY_WORDS)
    }

    fn query(&self, search: &Search<'_>) -> Option<BooleanQuery> {
        let f = &self.fields;
        let term = |field: Field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::WithFreqs,
            ))
        };
        let boosted =
            |q: Box<dyn Query>, by: f32| -> Box<dyn Query> { Box::new(BoostQuery::new(q, by)) };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in self.words(search.words) {
            clauses.push((Occur::Should, boosted(term(f.title, &word), TITLE_BOOST)));
            clauses.push((Occur::Should, term(f.body, &word)));
            clauses.push((Occur::Should, boosted(term(f.tags, &word), TAG_BOOST)));
        }
        // A whole word may be a tag with punctuation in it (`sso-login`).
        for raw in search.words.split_whitespace().take(MAX_QUERY_WORDS) {
            let raw = raw.to_lowercase();
            if raw.contains(|c: char| !c.is_alphanumeric()) {
                clauses.push((Occur::Should, boosted(term(f.tags, &raw), TAG_BOOST)));
            }
        }
        for t in search.any_tags {
            clauses.push((Occur::Should, boosted(term(f.tags, t), TAG_BOOST)));
        }
        for t in search.all_tags {
            clauses.push((Occur::Must, boosted(term(f.tags, t), TAG_BOOST)));
        }
        (!clauses.is_empty()).then(|| BooleanQuery::new(clauses))
    }
}

impl Clone for Knowledge {
    /// The articles; the copy builds its own index when first searched.
    fn clone(&self) -> Self {
        Knowledge {
            articles: self.articles.clone(),
            index: Mutex::new(None),
        }
    }
}

impl PartialEq for Knowledge {
    fn eq(&self, other: &Self) -> bool {
        self.articles == other.articles
    }
}

impl Eq for Knowledge {}

impl std::fmt::Debug for Knowledge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knowledge")
            .field("articles", &self.articles)
            .finish()
    }
}

/// Only the articles are stored; the index is derived from them.
impl Serialize for Knowledge {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.articles.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Knowledge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Knowledge {
            articles: BTreeMap::deserialize(d)?,
            index: Mutex::new(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    fn case(n: u128) -> CaseId {
        CaseId(Ulid(n))
    }

    fn captured(title: &str, body: &str, tags: &[&str]) -> KnowledgeCaptured {
        KnowledgeCaptured {
            title: title.into(),
            body: body.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            by: AgentId::new("wen").unwrap(),
        }
    }

    fn sample() -> Knowledge {
        let mut k = Knowledge::default();
        k.capture(
            10,
            case(1),
            Timestamp(1),
            &captured(
                "SAML login loops after certificate rotation",
                "Re-import the IdP metadata, then clear the session cache.",
                &["saml", "sso"],
            ),
        );
        k.capture(
            20,
            case(2),
            Timestamp(2),
            &captured(
                "Charged twice for one order",
                "Refund the second capture; the payment provider retried after a timeout \
                 during login.",
                &["billing"],
            ),
        );
        k.capture(
            30,
            case(3),
            Timestamp(3),
            &captured(
                "Exporting invoices",
                "Use the billing page's export.",
                &["billing", "export-csv"],
            ),
        );
        k
    }

    fn ids(hits: &[Hit<'_>]) -> Vec<u64> {
        hits.iter().map(|h| h.article.id).collect()
    }

    fn find(k: &Knowledge, words: &str, all_tags: &[&str]) -> Vec<u64> {
        let all: Vec<String> = all_tags.iter().map(|t| t.to_string()).collect();
        let s = Search {
            words,
            all_tags: &all,
            limit: 10,
            ..Search::default()
        };
        ids(&k.search(&s, &|_| true))
    }

    #[test]
    fn words_rank_title_matches_above_body_matches() {
        let k = sample();
        // "login" is in article 10's title and in article 20's body.
        assert_eq!(find(&k, "Login", &[]), [10, 20]);
        assert_eq!(find(&k, "refund", &[]), [20]);
        assert_eq!(find(&k, "nothing like this", &[]), Vec::<u64>::new());
    }

    #[test]
    fn tags_match_as_words_and_filter_when_required() {
        let k = sample();
        assert_eq!(find(&k, "sso", &[]), [10]);
        assert_eq!(find(&k, "export-csv", &[]), [30]);
        // Every required tag; the words then only rank.
        // (BM25 favours the article with fewer tags when nothing else differs.)
        assert_eq!(find(&k, "", &["billing"]), [20, 30]);
        assert_eq!(find(&k, "refund", &["billing"]), [20, 30]);
        assert_eq!(find(&k, "login", &["billing", "sso"]), Vec::<u64>::new());
    }

    #[test]
    fn articles_captured_after_the_first_search_are_found() {
        let mut k = sample();
        assert_eq!(find(&k, "outage", &[]), Vec::<u64>::new());
        k.capture(
            40,
            case(4),
            Timestamp(4),
            &captured("Outage runbook", "Page the on-call.", &[]),
        );
        assert_eq!(find(&k, "outage", &[]), [40]);
    }

    #[test]
    fn visibility_limit_and_excluded_case_apply_after_ranking() {
        let k = sample();
        let s = Search {
            words: "login billing",
            limit: 1,
            ..Search::default()
        };
        let all = ids(&k.search(&s, &|_| true));
        assert_eq!(all.len(), 1);
        let not_20 = ids(&k.search(&s, &|a| a.id != 20));
        assert!(!not_20.contains(&20));
        let s = Search {
            words: "login",
            except_case: Some(case(1)),
            limit: 10,
            ..Search::default()
        };
        assert_eq!(ids(&k.search(&s, &|_| true)), [20]);
    }

    #[test]
    fn a_copy_and_a_decoded_snapshot_search_the_same() {
        let k = sample();
        let _ = find(&k, "login", &[]);
        let copy = k.clone();
        let decoded: Knowledge = postcard::from_bytes(&postcard::to_allocvec(&k).unwrap()).unwrap();
        assert_eq!(copy, k);
        assert_eq!(decoded, k);
        assert_eq!(find(&copy, "login", &[]), [10, 20]);
        assert_eq!(find(&decoded, "login", &[]), [10, 20]);
    }
}
