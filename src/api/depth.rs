//! The depth limit on selections (`--max-depth`), with introspection's own allowance.
//!
//! async-graphql's `limit_depth` counts introspection like any other selection, so the
//! standard introspection query every tool sends (graphql-js `getIntrospectionQuery()`,
//! 15 fields deep through `__type`'s `ofType` chain) was refused at the default depth
//! of 12. Here the fields under `__schema` and `__type` are measured apart and may go
//! [`INTROSPECTION_DEPTH`] deep (or `--max-depth`, if that is more); every other
//! selection keeps `--max-depth`.
//!
//! Depths are counted as async-graphql counts them (a root field is 1; fragments and
//! inline fragments add nothing), with fragment spreads expanded by one memoised,
//! iterative pass per fragment, so no client document can make this recurse or repeat
//! work. It runs after the expanded-size check, which refuses fragment cycles.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use std::collections::{HashMap, HashSet};

/// How deep an introspection selection may go: graphql-js's `getIntrospectionQuery()`
/// needs 15 (`__schema` `types` `fields` `args` `type`, nine `ofType` and the last
/// one's `name`); two more leave room for tools that ask for a deeper type reference.
pub const INTROSPECTION_DEPTH: usize = 17;

/// The depths of a document's selections, the deepest of each kind over all its
/// operations.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Depths {
    /// Everything but introspection.
    pub ordinary: usize,
    /// Root fields `__schema` and `__type` and what they select.
    pub introspection: usize,
}

/// Why a document is refused: the kind of selection and the limit it exceeds.
pub fn check(doc: &ExecutableDocument, max_depth: usize) -> Result<Depths, String> {
    let depths = depths(doc);
    if depths.ordinary > max_depth {
        return Err(format!(
            "the query's fields are nested {} deep; at most {max_depth} are allowed",
            depths.ordinary
        ));
    }
    let introspection_max = max_depth.max(INTROSPECTION_DEPTH);
    if depths.introspection > introspection_max {
        return Err(format!(
            "the introspection query's fields are nested {} deep; at most {introspection_max} are allowed",
            depths.introspection
        ));
    }
    Ok(depths)
}

/// Fragments spread in a selection set, each with the field depth it is spread at.
type Spreads<'a> = Vec<(&'a str, usize)>;

/// The fields `set` nests (a field is 1, its subfields 2, ...), not counting
/// fragments it spreads, which it collects with the depth they are spread at.
fn direct_depth<'a>(set: &'a SelectionSet, spreads: &mut Spreads<'a>) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(set, 0usize)];
    while let Some((set, level)) = stack.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    deepest = deepest.max(level + 1);
                    stack.push((&f.node.selection_set.node, level + 1));
                }
                Selection::InlineFragment(i) => stack.push((&i.node.selection_set.node, level)),
                Selection::FragmentSpread(s) => {
                    spreads.push((s.node.fragment_name.node.as_str(), level))
                }
            }
        }
    }
    deepest
}

/// Each fragment's depth with its own spreads expanded: an iterative post-order, one
/// visit per fragment. Unknown fragments (refused by validation) and cycles (refused
/// before) count as 0.
fn fragment_depths(doc: &ExecutableDocument) -> HashMap<&str, usize> {
    let mut direct: HashMap<&str, (usize, Spreads)> = HashMap::new();
    for (name, fragment) in &doc.fragments {
        let mut spreads = Vec::new();
        let own = direct_depth(&fragment.node.selection_set.node, &mut spreads);
        direct.insert(name.as_str(), (own, spreads));
    }
    let mut done: HashMap<&str, Option<usize>> = HashMap::new();
    let names: Vec<&str> = direct.keys().copied().collect();
    for root in names {
        if done.contains_key(root) {
            continue;
        }
        done.insert(root, None);
        let mut stack = vec![(root, 0usize)];
        while let Some((name, next)) = stack.pop() {
            let (own, spreads) = &direct[name];
            if let Some((child, _)) = spreads.get(next) {
                stack.push((name, next + 1));
                if !done.contains_key(child) && direct.contains_key(child) {
                    done.insert(child, None);
                    stack.push((child, 0));
                }
                continue;
            }
            let depth = spreads.iter().fold(*own, |deepest, (s, level)| {
                deepest.max(level + done.get(s).copied().flatten().unwrap_or(0))
            });
            done.insert(name, Some(depth));
        }
    }
    done.into_iter()
        .map(|(name, depth)| (name, depth.unwrap_or(0)))
        .collect()
}

/// The depths of `doc`'s operations, introspection apart from the rest.
pub fn depths(doc: &ExecutableDocument) -> Depths {
    let fragments = fragment_depths(doc);
    let depth_of = |set: &SelectionSet| {
        let mut spreads = Vec::new();
        let own = direct_depth(set, &mut spreads);
        spreads.iter().fold(own, |deepest, (s, level)| {
            deepest.max(level + fragments.get(s).copied().unwrap_or(0))
        })
    };
    let mut out = Depths::default();
    for (_, op) in doc.operations.iter() {
        // The root fields, through the fragments the root level spreads (each once).
        let mut seen = HashSet::new();
        let mut stack = vec![&op.node.selection_set.node];
        while let Some(set) = stack.pop() {
            for item in &set.items {
                match &item.node {
                    Selection::Field(f) => {
                        let depth = 1 + depth_of(&f.node.selection_set.node);
                        let name = f.node.name.node.as_str();
                        if name == "__schema" || name == "__type" {
                            out.introspection = out.introspection.max(depth);
                        } else {
                            out.ordinary = out.ordinary.max(depth);
                        }
                    }
                    Selection::InlineFragment(i) => stack.push(&i.node.selection_set.node),
                    Selection::FragmentSpread(s) => {
                        let name = s.node.fragment_name.node.as_str();
                        if let Some(f) = doc.fragments.get(name).filter(|_| seen.insert(name)) {
                            stack.push(&f.node.selection_set.node);
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn depths_of(query: &str) -> Depths {
        depths(&parse_query(query).unwrap())
    }

    /// `n` fields nested in each other.
    fn nested(n: usize) -> String {
        let mut q = String::new();
        for i in 0..n {
            q.push_str(&format!("f{i} {{ "));
        }
        q.push_str("leaf");
        q.push_str(&" }".repeat(n));
        format!("{{ {q} }}")
    }

    #[test]
    fn fields_count_fragments_do_not() {
        assert_eq!(depths_of("{ a }").ordinary, 1);
        assert_eq!(depths_of("{ a { b { c } } d }").ordinary, 3);
        assert_eq!(depths_of(&nested(12)).ordinary, 13);
        assert_eq!(
            depths_of("{ a { ... on T { b { ...F } } } } fragment F on T { c { d } }").ordinary,
            4
        );
        // A fragment spread at the root, and the same fragment spread twice.
        assert_eq!(
            depths_of("{ ...R ...R } fragment R on Query { x { y } }").ordinary,
            2
        );
    }

    #[test]
    fn introspection_is_measured_apart() {
        let fixture = include_str!("../../tests/fixtures/introspection_query.graphql");
        let d = depths_of(fixture);
        assert_eq!(
            d,
            Depths {
                ordinary: 0,
                introspection: 15
            }
        );
        assert!(check(&parse_query(fixture).unwrap(), 12).is_ok());
        // A root field next to introspection keeps the ordinary limit.
        let q = nested(12).replacen('{', "{ __schema { types { name } } ", 1);
        let d = depths_of(&q);
        assert_eq!((d.ordinary, d.introspection), (13, 3));
        assert!(check(&parse_query(&q).unwrap(), 12).is_err());
        // Introspection deeper than its allowance is refused too.
        let mut deep = String::from("{ __type(name: \"Query\") { ");
        deep.push_str(&"ofType { ".repeat(INTROSPECTION_DEPTH));
        deep.push_str("name");
        deep.push_str(&" }".repeat(INTROSPECTION_DEPTH + 2));
        let err = check(&parse_query(&deep).unwrap(), 12).unwrap_err();
        assert!(err.contains("introspection"), "{err}");
    }

    #[test]
    fn long_fragment_chains_do_not_recurse() {
        let mut q = String::from("{ ...f0 }\n");
        for i in 0..20_000 {
            q.push_str(&format!(
                "fragment f{i} on Q {{ x{i} {{ ...f{} }} }}\n",
                i + 1
            ));
        }
        q.push_str("fragment f20000 on Q { y }\n");
        assert_eq!(depths_of(&q).ordinary, 20_001);
    }
}
