//! A cache of parsed GraphQL documents, keyed by their exact text, so that the
//! operations clients send again and again (every mutation of a busy desk is one of a
//! few texts, with variables) are parsed once. Only parsing is skipped: validation,
//! limits and execution run on every request as before. Bounded: at most `capacity`
//! documents of at most [`MAX_TEXT`] bytes each; when full, the cache is emptied and
//! fills again with what is hot (cheaper than tracking recency on every hit).

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Variables};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Longest document text kept.
pub const MAX_TEXT: usize = 16 * 1024;

/// The extension factory: one cache shared by every request.
pub struct ParseCache(Arc<Shared>);

struct Shared {
    capacity: usize,
    docs: RwLock<HashMap<Box<str>, ExecutableDocument>>,
}

impl ParseCache {
    pub fn new(capacity: usize) -> Self {
        ParseCache(Arc::new(Shared {
            capacity,
            docs: RwLock::new(HashMap::new()),
        }))
    }
}

impl ExtensionFactory for ParseCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ParseCacheExtension(self.0.clone()))
    }
}

struct ParseCacheExtension(Arc<Shared>);

#[async_trait::async_trait]
impl Extension for ParseCacheExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let cache = &self.0;
        let hit = {
            let docs = cache.docs.read().unwrap_or_else(|p| p.into_inner());
            docs.get(query).cloned()
        };
        if let Some(doc) = hit {
            return Ok(doc);
        }
        let doc = next.run(ctx, query, variables).await?;
        if query.len() <= MAX_TEXT {
            let mut docs = cache.docs.write().unwrap_or_else(|p| p.into_inner());
            if docs.len() >= cache.capacity {
                docs.clear();
            }
            docs.insert(query.into(), doc.clone());
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    struct Query;

    #[Object]
    impl Query {
        async fn echo(&self, v: i32) -> i32 {
            v
        }
    }

    #[tokio::test]
    async fn a_cached_document_answers_like_a_parsed_one_and_the_cache_stays_bounded() {
        let cache = ParseCache::new(2);
        let shared = cache.0.clone();
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(cache)
            .finish();
        let ask = |q: &str, v: i32| {
            let req = async_graphql::Request::new(q)
                .variables(Variables::from_json(serde_json::json!({ "v": v })));
            let schema = schema.clone();
            async move { schema.execute(req).await.into_result().unwrap().data }
        };
        let q = "query($v: Int!) { echo(v: $v) }";
        // The same text with other variables: one document, each answer its own.
        for v in [1, 2, 3] {
            assert_eq!(ask(q, v).await.to_string(), format!("{{echo: {v}}}"));
        }
        assert_eq!(shared.docs.read().unwrap().len(), 1);
        // A document that does not parse is refused every time and never kept.
        for _ in 0..2 {
            let r = schema.execute("{ echo(").await;
            assert!(!r.errors.is_empty());
        }
        assert_eq!(shared.docs.read().unwrap().len(), 1);
        // Validation still runs on a cached document.
        let wrong = "query($v: Int!) { echo(v: $v) nope }";
        for _ in 0..2 {
            let r = schema
                .execute(
                    async_graphql::Request::new(wrong)
                        .variables(Variables::from_json(serde_json::json!({ "v": 1 }))),
                )
                .await;
            assert!(r.errors.iter().any(|e| e.message.contains("nope")), "{r:?}");
        }
        // Never more than its capacity.
        for i in 0..5 {
            let q = format!("query($v: Int!) {{ a{i}: echo(v: $v) }}");
            assert_eq!(ask(&q, i).await.to_string(), format!("{{a{i}: {i}}}"));
            assert!(shared.docs.read().unwrap().len() <= 2);
        }
        let long = format!("query($v: Int!) {{ echo(v: $v) }}{}", " ".repeat(MAX_TEXT));
        assert_eq!(ask(&long, 7).await.to_string(), "{echo: 7}");
        assert!(!shared.docs.read().unwrap().contains_key(long.as_str()));
    }
}
