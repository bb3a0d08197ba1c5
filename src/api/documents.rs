//! A bounded cache of parsed GraphQL documents by their text, so that the operations
//! clients send again and again (every `postMessage` of an agent's console) are parsed,
//! pre-checked ([`super::limits::precheck`]) and validated once, not on every request.
//! Only documents that passed the pre-checks are kept; a hit still has its variables
//! checked ([`super::variables`]) and is executed like any other request.
//!
//! Validation depends on the document, and on the variables only through the values
//! that complexity is computed from (`first`, `limit`, `@skip(if:)`) and through the
//! variables' types, which [`super::variables::check`] checks on every request. So a
//! document's validation is kept per [`validation_key`]: the operation's name and
//! the values of its variables that are neither `String` nor `ID` (text never
//! weighs in complexity). A new complexity rule that reads a text argument must
//! change that key.

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ValidationResult, Variables};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

/// Longest document text kept (longer ones are parsed each time).
pub const MAX_CACHED_TEXT: usize = 4096;

/// Validations kept per document, one per distinct [`validation_key`] (the oldest
/// makes room).
pub const MAX_VALIDATIONS: usize = 16;

/// Longest [`validation_key`] kept: a request whose non-text variables say more
/// (a large input object) is validated every time, so that the kept keys stay
/// within `capacity` x [`MAX_VALIDATIONS`] x this many bytes.
pub const MAX_KEY: usize = 512;

/// Parsed documents by text, at most `capacity` of them.
#[derive(Debug)]
pub struct DocumentCache {
    capacity: usize,
    documents: Mutex<HashMap<Arc<str>, Kept>>,
}

/// A kept document, and the validations it passed by [`validation_key`].
#[derive(Debug)]
struct Kept {
    doc: ExecutableDocument,
    valid: Vec<(String, ValidationResult)>,
}

/// What a document's validation depends on besides its text, or `None` when the
/// request names no operation of the document or the key would be longer than
/// [`MAX_KEY`] (it is then validated every time).
pub fn validation_key(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Option<String> {
    let op = super::variables::operation(doc, operation_name)?;
    let mut key = operation_name.unwrap_or_default().to_string();
    for def in &op.node.variable_definitions {
        let mut ty = &def.node.var_type.node.base;
        while let async_graphql::parser::types::BaseType::List(inner) = ty {
            ty = &inner.base;
        }
        let async_graphql::parser::types::BaseType::Named(name) = ty else {
            continue;
        };
        if matches!(name.as_str(), "String" | "ID") {
            continue;
        }
        let name = def.node.name.node.as_str();
        match variables.get(name) {
            Some(value) => {
                let _ = write!(key, "\u{0}{name}={value}");
            }
            None => {
                let _ = write!(key, "\u{0}{name}");
            }
        }
        if key.len() > MAX_KEY {
            return None;
        }
    }
    Some(key)
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
        documents.get(text).map(|kept| kept.doc.clone())
    }

    /// What validating the document of `text` gave, for requests of `key`, if it
    /// passed and was kept.
    pub fn validated(&self, text: &str, key: &str) -> Option<ValidationResult> {
        let documents = self.documents.lock().unwrap_or_else(|p| p.into_inner());
        let kept = documents.get(text)?;
        kept.valid.iter().find(|(k, _)| k == key).map(|(_, r)| *r)
    }

    /// Keeps that the document of `text` passed validation for requests of `key`
    /// (nothing if the document itself is not kept).
    pub fn remember_valid(&self, text: &str, key: String, result: ValidationResult) {
        let mut documents = self.documents.lock().unwrap_or_else(|p| p.into_inner());
        let Some(kept) = documents.get_mut(text) else {
            return;
        };
        if kept.valid.iter().any(|(k, _)| *k == key) {
            return;
        }
        if kept.valid.len() >= MAX_VALIDATIONS {
            kept.valid.remove(0);
        }
        kept.valid.push((key, result));
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
        documents.insert(
            Arc::from(text),
            Kept {
                doc,
                valid: Vec::new(),
            },
        );
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

    fn valid(complexity: usize) -> ValidationResult {
        ValidationResult {
            cache_control: Default::default(),
            complexity,
            depth: 1,
        }
    }

    #[test]
    fn validations_are_kept_per_key_for_kept_documents_only_and_bounded() {
        let cache = DocumentCache::new(4);
        cache.remember_valid("{ a }", "k".into(), valid(1));
        assert!(
            cache.validated("{ a }", "k").is_none(),
            "not a kept document"
        );
        cache.insert("{ a }", parse_query("{ a }").unwrap());
        assert!(cache.validated("{ a }", "k").is_none());
        cache.remember_valid("{ a }", "k".into(), valid(1));
        cache.remember_valid("{ a }", "j".into(), valid(2));
        assert_eq!(cache.validated("{ a }", "k").map(|v| v.complexity), Some(1));
        assert_eq!(cache.validated("{ a }", "j").map(|v| v.complexity), Some(2));
        assert!(cache.validated("{ a }", "other").is_none());
        for i in 0..MAX_VALIDATIONS {
            cache.remember_valid("{ a }", format!("n{i}"), valid(3));
        }
        // The oldest made room.
        assert!(cache.validated("{ a }", "k").is_none());
        let kept = MAX_VALIDATIONS - 1;
        assert!(cache.validated("{ a }", &format!("n{kept}")).is_some());
    }

    #[test]
    fn the_validation_key_holds_the_operation_and_its_non_text_variables() {
        let text = "query Q($id: ID!, $b: String, $n: Int, $l: [Int!], $s: Status) { a }";
        let doc = parse_query(text).unwrap();
        let vars = |v: serde_json::Value| Variables::from_json(v);
        let key = |v| validation_key(&doc, Some("Q"), &vars(v)).unwrap();
        let base = key(serde_json::json!({ "id": "1", "b": "x", "n": 5, "l": [1], "s": "OPEN" }));
        // Text does not change it; numbers, lists of them and enums do.
        assert_eq!(
            base,
            key(serde_json::json!({ "id": "2", "b": "y", "n": 5, "l": [1], "s": "OPEN" }))
        );
        for other in [
            serde_json::json!({ "n": 6, "l": [1], "s": "OPEN" }),
            serde_json::json!({ "n": 5, "l": [1, 2], "s": "OPEN" }),
            serde_json::json!({ "n": 5, "l": [1], "s": "CLOSED" }),
            serde_json::json!({ "l": [1], "s": "OPEN" }),
        ] {
            assert_ne!(base, key(other.clone()), "{other}");
        }
        // Too much to key on: none.
        let long = vec![1; MAX_KEY];
        assert!(validation_key(
            &doc,
            Some("Q"),
            &vars(serde_json::json!({ "n": 5, "l": long, "s": "OPEN" }))
        )
        .is_none());
        // No operation of that name: nothing to key on.
        assert!(validation_key(&doc, Some("R"), &vars(serde_json::json!({}))).is_none());
    }
}
