//! A bounded cache of parsed GraphQL documents by their text, so that the operations
//! clients send again and again (every `postMessage` of an agent's console) are parsed
//! and pre-checked once ([`super::limits::precheck`]), not on every request. Only
//! documents that passed the pre-checks are kept; a hit still has its variables
//! checked, and is validated and executed like any other request.

use async_graphql::parser::types::ExecutableDocument;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Longest document text kept (longer ones are parsed each time).
pub const MAX_CACHED_TEXT: usize = 4096;

/// Parsed documents by text, at most `capacity` of them.
#[derive(Debug)]
pub struct DocumentCache {
    capacity: usize,
    documents: Mutex<HashMap<Arc<str>, ExecutableDocument>>,
}

impl DocumentCache {
    pub fn new(capacity: usize) -> Self {
        DocumentCache {
            capacity,
            documents: Mutex::new(HashMap::with_capacity(capacity)),
        }
    }

    /// A copy of the document parsed from `text`, if kept.
    pub fn get(&self, text: &str) -> Option<ExecutableDocument> {
        let documents = self.documents.lock().unwrap_or_else(|p| p.into_inner());
        documents.get(text).cloned()
    }

    /// Keeps `doc`, parsed from `text`; when full, one kept document makes room
    /// (whichever the map yields first: cheap, and no order to maintain).
    pub fn insert(&self, text: &str, doc: ExecutableDocument) {
        if text.len() > MAX_CACHED_TEXT || self.capacity == 0 {
            return;
        }
        let mut documents = self.documents.lock().unwrap_or_else(|p| p.into_inner());
        if documents.len() >= self.capacity && !documents.contains_key(text) {
            if let Some(victim) = documents.keys().next().cloned() {
                documents.remove(&victim);
            }
        }
        documents.insert(Arc::from(text), doc);
    }

    pub fn len(&self) -> usize {
        self.documents.lock().map_or(0, |d| d.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    #[test]
    fn keeps_at_most_its_capacity_and_returns_what_was_parsed() {
        let cache = DocumentCache::new(2);
        let texts = ["{ a }", "{ b }", "{ c }"];
        for t in texts {
            cache.insert(t, parse_query(t).unwrap());
        }
        assert_eq!(cache.len(), 2);
        for t in texts {
            if let Some(doc) = cache.get(t) {
                // The copy is the document of that very text.
                assert_eq!(format!("{doc:?}"), format!("{:?}", parse_query(t).unwrap()));
            }
        }
        assert!(cache.get("{ d }").is_none());
        let long = format!("{{ {} }}", "a ".repeat(MAX_CACHED_TEXT));
        cache.insert(&long, parse_query(&long).unwrap());
        assert!(cache.get(&long).is_none(), "long documents are not kept");
    }
}
