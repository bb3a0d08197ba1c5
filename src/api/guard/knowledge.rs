//! The guarded operations of captured knowledge: capturing an article (a command on
//! its case, so the policy decides on the state being written), searching articles
//! and a case's related articles. What a caller reads is limited by
//! [`policy::can_read_article`]; the case an article came from is named only to
//! callers who may read that case.

use async_graphql::Result;

use super::{forbidden, Guard};
use crate::api::error::{bad_input, not_found};
use crate::app::WriteOptions;
use crate::domain::{CaseId, Command};
use crate::policy;
use crate::projection::knowledge::{Article, Search, MAX_QUERY};

/// Most articles one search returns.
pub const MAX_ARTICLES: usize = 50;

/// An article as one caller may see it.
#[derive(Clone, Debug)]
pub struct SeenArticle {
    pub article: Article,
    /// The case it was captured on, when the caller may read that case.
    pub case: Option<CaseId>,
    /// How well it matched (higher is better).
    pub score: f32,
}

impl Guard {
    /// Captures knowledge on the case; returns the article.
    pub async fn capture_knowledge(
        &self,
        id: CaseId,
        title: String,
        body: String,
        tags: Vec<String>,
        opts: WriteOptions,
    ) -> Result<SeenArticle> {
        let w = self
            .execute(id, Command::CaptureKnowledge { title, body, tags }, opts)
            .await?;
        if w.outcome.deduplicated {
            self.require_visible(id)?;
        }
        let p = self.app.projections().read();
        let article = p
            .knowledge()
            .article(w.outcome.last_position)
            .ok_or_else(|| not_found(format!("article {}", w.outcome.last_position)))?;
        Ok(SeenArticle {
            article: article.clone(),
            case: Some(id),
            score: 0.0,
        })
    }

    /// Articles matching `words` (in titles, bodies and tags) that have every tag of
    /// `tags`, best first, at most `first`; staff only.
    pub fn knowledge(
        &self,
        words: &str,
        tags: &[String],
        first: usize,
    ) -> Result<Vec<SeenArticle>> {
        policy::require_staff(&self.principal).map_err(forbidden)?;
        if words.len() > MAX_QUERY {
            return Err(bad_input(format!("query is longer than {MAX_QUERY} bytes")));
        }
        if first > MAX_ARTICLES {
            return Err(bad_input(format!("first is at most {MAX_ARTICLES}")));
        }
        let tags = crate::domain::command::tags(tags).map_err(|e| bad_input(e.to_string()))?;
        if words.trim().is_empty() && tags.is_empty() {
            return Err(bad_input("give words to look for, tags, or both"));
        }
        let search = Search {
            words,
            all_tags: &tags,
            limit: first,
            ..Search::default()
        };
        Ok(self.found(&search))
    }

    /// Articles captured on other cases that share the case's tags or the words of
    /// its subject, best first, at most `first`. None for customers (whose view of
    /// their case shows this field empty rather than failing).
    pub fn related_articles(&self, id: CaseId, first: usize) -> Result<Vec<SeenArticle>> {
        if policy::require_staff(&self.principal).is_err() {
            return Ok(Vec::new());
        }
        if first > MAX_ARTICLES {
            return Err(bad_input(format!("first is at most {MAX_ARTICLES}")));
        }
        let (subject, tags) = {
            let p = self.app.projections().read();
            let Some(v) = p.case(id).filter(|v| self.can_read(&v.case)) else {
                return Err(not_found(format!("case {id}")));
            };
            let tags: Vec<String> = v.case.tags.to_vec();
            let subject = match self.app.vault() {
                Some(vault) => vault.open(&v.case.subject).into_owned(),
                None => v.case.subject.clone(),
            };
            (subject, tags)
        };
        let search = Search {
            words: &subject,
            any_tags: &tags,
            except_case: Some(id),
            limit: first,
            ..Search::default()
        };
        Ok(self.found(&search))
    }

    fn found(&self, search: &Search<'_>) -> Vec<SeenArticle> {
        let p = self.app.projections().read();
        let ladder = self.app.tiers();
        let case_of = |a: &Article| p.case(a.case).map(|v| &v.case);
        let visible = |a: &Article| {
            case_of(a).is_some_and(|c| policy::can_read_article(&self.principal, c, &ladder))
        };
        p.knowledge()
            .search(search, &visible)
            .into_iter()
            .map(|hit| SeenArticle {
                article: hit.article.clone(),
                case: case_of(hit.article)
                    .filter(|c| self.can_read(c))
                    .and(Some(hit.article.case)),
                score: hit.score,
            })
            .collect()
    }
}
