//! Captured knowledge in the API: `captureKnowledge` (at or after a case's
//! resolution, by those who worked it), `knowledge(query)` (ranked full-text search
//! by words and tags), and each case's `relatedArticles` (resolved in `types`).

use async_graphql::{Context, Object, Result, SimpleObject, ID};

use super::guard::{Guard, SeenArticle};
use super::mutation::opts;
use super::parse_case_id;
use super::types::DateTime;

/// What a swarm learned on a case, written up for reuse.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Article")]
pub struct ArticleObj {
    /// Stable and unique (the log position of its capture).
    pub id: ID,
    /// The case it was captured on; null for a caller who may not read that case.
    pub case_id: Option<ID>,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    /// Who captured it.
    pub by: String,
    pub captured_at: DateTime,
    /// How well it matched the search (higher is better; 0 outside a search).
    pub score: f64,
}

impl From<SeenArticle> for ArticleObj {
    fn from(s: SeenArticle) -> Self {
        let a = s.article;
        ArticleObj {
            id: ID(a.id.to_string()),
            case_id: s.case.map(|c| ID(c.to_string())),
            title: a.title,
            body: a.body,
            tags: a.tags,
            by: a.by.to_string(),
            captured_at: DateTime(a.at),
            score: f64::from(s.score),
        }
    }
}

/// Knowledge queries.
#[derive(Default)]
pub struct KnowledgeQuery;

#[Object]
impl KnowledgeQuery {
    /// Articles matching the words of `query` (in titles, which count most, bodies and
    /// tags) and carrying every tag of `tags`, best first. Staff only; an article of a
    /// private case only for those who may read that case.
    async fn knowledge(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] query: String,
        #[graphql(default)] tags: Vec<String>,
        #[graphql(default = 10)] first: u32,
    ) -> Result<Vec<ArticleObj>> {
        let g = Guard::of(ctx)?;
        let first = usize::try_from(first).unwrap_or(usize::MAX);
        Ok(g.knowledge(&query, &tags, first)?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// Knowledge mutations.
#[derive(Default)]
pub struct KnowledgeMutation;

#[Object]
impl KnowledgeMutation {
    /// Writes up what solved the case, for reuse: on a resolved or closed case, by
    /// its owner, whoever resolved it, a member of its swarm (an accepted invitee or
    /// helper) or a lead. Tags are normalised like case tags.
    #[allow(clippy::too_many_arguments)]
    async fn capture_knowledge(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        title: String,
        body: String,
        #[graphql(default)] tags: Vec<String>,
        expected_version: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Result<ArticleObj> {
        let g = Guard::of(ctx)?;
        let id = parse_case_id(&case_id)?;
        let seen = g
            .capture_knowledge(
                id,
                title,
                body,
                tags,
                opts(expected_version, idempotency_key),
            )
            .await?;
        Ok(seen.into())
    }
}

/// A case's related articles (the `relatedArticles` field of `Case`; empty for
/// customers).
pub(super) fn related(ctx: &Context<'_>, case_id: &ID, first: u32) -> Result<Vec<ArticleObj>> {
    let g = Guard::of(ctx)?;
    let id = parse_case_id(case_id)?;
    let first = usize::try_from(first).unwrap_or(usize::MAX);
    Ok(g.related_articles(id, first)?
        .into_iter()
        .map(Into::into)
        .collect())
}
