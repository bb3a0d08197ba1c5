//! Pre-checks on every GraphQL document, run before async-graphql parses, validates or
//! executes it, each in time linear in the document's size and without recursion over
//! client input:
//!
//! - **Nesting.** The query text's `{`, `[` and `(` nesting (outside strings and
//!   comments) and the variables' nesting are bounded ([`MAX_NESTING`]), so neither
//!   the parser nor the conversion of recursive inputs (routing conditions) can run
//!   out of stack.
//! - **Expanded size.** The number of fields and fragment spreads the document
//!   selects once every fragment spread is expanded, counted with one memoised pass per fragment (cycles refused),
//!   is bounded by the complexity limit, so a small document of fragments that each
//!   spread the previous one twice is refused before anything walks it 2^k times.
//! - **Depth.** Selections nest at most `--max-depth` fields deep, introspection
//!   at most its own allowance ([`super::depth`]).
//! - **Variables.** The variables fit the operation's definitions
//!   ([`super::variables`]).
//! - **Items.** A request may return at most as many list items as the complexity
//!   limit ([`ItemBudget`]), however its lists are sized (complexity counts the
//!   `first`/`limit` asked for; the budget counts what is actually returned, e.g. a
//!   whole case history).
//! - **Deadline.** Every query and mutation must finish within the request timeout
//!   (`TIMEOUT` beyond).
//!
//! [`Position`] bounds log positions given as arguments to what JSON carries exactly.
//!
//! Refusals are `BAD_USER_INPUT` (`TIMEOUT` for the deadline). [`DocumentGuard`] runs
//! them as an async-graphql extension, so HTTP, WebSocket and in-process callers all
//! go through them.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::ValidationResult;
use async_graphql::{Request, Response, ServerError, ServerResult, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::error::{coded, BAD_USER_INPUT, TIMEOUT};

/// Deepest nesting of brackets in a query text, and of lists and objects in its
/// variables. Generous for any real query (selection sets are limited to a depth of
/// 12, routing conditions to [`MAX_CONDITION_DEPTH`](crate::routing::MAX_CONDITION_DEPTH)
/// levels, two brackets each at most), and far below what would exhaust a thread's stack.
pub const MAX_NESTING: usize = 128;

/// The limits [`DocumentGuard`] enforces.
#[derive(Clone, Debug)]
pub struct DocumentLimits {
    /// See [`MAX_NESTING`].
    pub nesting: usize,
    /// Most fields and spreads a document may select with its fragments expanded.
    pub fields: usize,
    /// Deadline of one query or mutation.
    pub timeout: Duration,
    /// Deepest selection (`--max-depth`); introspection has its own allowance
    /// ([`super::depth`]).
    pub depth: usize,
    /// Documents that passed these checks, by text (none kept without it).
    pub documents: Option<Arc<super::documents::DocumentCache>>,
}

fn refuse(message: String) -> ServerError {
    coded(BAD_USER_INPUT, message).into_server_error(Default::default())
}

/// Whether `query`'s brackets (`{`, `[`, `(`, outside strings, block strings and
/// comments) nest at most `max` deep. One pass, no recursion.
pub fn text_nesting_within(query: &str, max: usize) -> bool {
    let bytes = query.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                // A block string ends at the next `"""` not escaped as `\"""`.
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    true
}

/// Whether the lists and objects of `value` nest at most `max` deep (a scalar is
/// depth 0). Iterative, so any value can be checked.
pub fn value_nesting_within(value: &Value, max: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::List(items) => Box::new(items.iter()),
            Value::Object(fields) => Box::new(fields.values()),
            _ => continue,
        };
        if depth + 1 > max {
            return false;
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    true
}

/// Why a document's expanded size was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SizeError {
    /// More than the cap of fields, fragments expanded.
    TooLarge { cap: usize },
    /// A fragment spreads itself, directly or through others.
    Cycle(String),
}

impl std::fmt::Display for SizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SizeError::TooLarge { cap } => write!(
                f,
                "the query is too complex: it selects more than {cap} fields and fragment \
                 spreads once its fragments are expanded"
            ),
            SizeError::Cycle(name) => write!(f, "fragment `{name}` spreads itself"),
        }
    }
}

/// Fields and spreads selected by `set` directly (fragments not expanded), and the
/// fragments it spreads, once per spread.
fn direct_size<'a>(set: &'a SelectionSet, spreads: &mut Vec<&'a str>) -> usize {
    let mut fields = 0usize;
    let mut stack = vec![set];
    while let Some(set) = stack.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    fields += 1;
                    stack.push(&f.node.selection_set.node);
                }
                Selection::InlineFragment(i) => stack.push(&i.node.selection_set.node),
                Selection::FragmentSpread(s) => {
                    // The spread itself is walked too (async-graphql's checks visit it).
                    fields += 1;
                    spreads.push(s.node.fragment_name.node.as_str())
                }
            }
        }
    }
    fields
}

/// The fields and spreads `doc` selects over all its operations with every fragment
/// spread expanded, computed once per fragment (linear in the document's size); refused
/// above `cap` or on a cycle of fragments. Unknown fragments count as empty (the
/// validation refuses them later).
pub fn expanded_size(doc: &ExecutableDocument, cap: usize) -> Result<usize, SizeError> {
    // Each fragment's own fields and spreads.
    let mut direct: HashMap<&str, (usize, Vec<&str>)> = HashMap::new();
    for (name, fragment) in &doc.fragments {
        let mut spreads = Vec::new();
        let own = direct_size(&fragment.node.selection_set.node, &mut spreads);
        direct.insert(name.as_str(), (own, spreads));
    }
    // Expanded size per fragment: an iterative depth-first post-order, so that long
    // chains of fragments cannot exhaust the stack. `None` = being expanded (a spread
    // reaching it again is a cycle).
    let mut expanded: HashMap<&str, Option<usize>> = HashMap::new();
    let names: Vec<&str> = direct.keys().copied().collect();
    for root in names {
        if expanded.contains_key(root) {
            continue;
        }
        expanded.insert(root, None);
        let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
        while let Some((name, next)) = stack.pop() {
            let (own, spreads) = &direct[name];
            if let Some(child) = spreads.get(next) {
                stack.push((name, next + 1));
                match expanded.get(child) {
                    Some(None) => return Err(SizeError::Cycle(child.to_string())),
                    Some(Some(_)) => {}
                    None if direct.contains_key(child) => {
                        expanded.insert(child, None);
                        stack.push((child, 0));
                    }
                    None => {}
                }
                continue;
            }
            let mut total = *own;
            for s in spreads {
                total = total.saturating_add(expanded.get(s).copied().flatten().unwrap_or(0));
            }
            // Capped, so sums of huge sizes cannot overflow.
            expanded.insert(name, Some(total.min(cap.saturating_add(1))));
        }
    }
    let mut total = 0usize;
    for (_, op) in doc.operations.iter() {
        let mut spreads = Vec::new();
        total = total.saturating_add(direct_size(&op.node.selection_set.node, &mut spreads));
        for s in spreads {
            total = total.saturating_add(expanded.get(s).copied().flatten().unwrap_or(0));
        }
    }
    if total > cap {
        return Err(SizeError::TooLarge { cap });
    }
    Ok(total)
}

/// The list items one request may still return; list resolvers take from it.
pub struct ItemBudget(std::sync::atomic::AtomicUsize);

impl ItemBudget {
    pub fn new(items: usize) -> Self {
        ItemBudget(std::sync::atomic::AtomicUsize::new(items))
    }
}

/// Items the current request may still return (unbounded outside a request that
/// went through [`DocumentGuard`]).
pub(crate) fn items_left(ctx: &async_graphql::Context<'_>) -> usize {
    ctx.data_opt::<ItemBudget>().map_or(usize::MAX, |b| {
        b.0.load(std::sync::atomic::Ordering::Acquire)
    })
}

/// Takes `n` items from the current request's budget; `BAD_USER_INPUT` when it
/// holds fewer.
pub(crate) fn take_items(ctx: &async_graphql::Context<'_>, n: usize) -> async_graphql::Result<()> {
    let Some(budget) = ctx.data_opt::<ItemBudget>() else {
        return Ok(());
    };
    use std::sync::atomic::Ordering;
    budget
        .0
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
            left.checked_sub(n)
        })
        .map(|_| ())
        .map_err(|_| {
            coded(
                BAD_USER_INPUT,
                "this request would return more list items than the complexity limit \
                 allows; ask for fewer (`first`, `limit`) and page",
            )
        })
}

/// Runs every pre-check on `request`, leaving it parsed (async-graphql then uses the
/// parsed document instead of parsing again). A document kept by text
/// ([`DocumentLimits::documents`]) passed the checks on its text before: only the
/// variables are checked again.
pub fn precheck(request: &mut Request, limits: &DocumentLimits) -> ServerResult<()> {
    // A document kept by text passed the checks on its text before.
    let cached = limits
        .documents
        .as_ref()
        .and_then(|c| c.get(&request.query));
    if cached.is_none() && !text_nesting_within(&request.query, limits.nesting) {
        return Err(refuse(format!(
            "the query nests brackets more than {} deep",
            limits.nesting
        )));
    }
    // The variables object itself is one level.
    let within = request
        .variables
        .iter()
        .all(|(_, v)| value_nesting_within(v, limits.nesting));
    if !within {
        return Err(refuse(format!(
            "the variables nest more than {} deep",
            limits.nesting
        )));
    }
    if let Some(doc) = cached {
        let validation = validation_of(limits, request, &doc);
        request.data.insert(validation);
        request.set_parsed_query(doc);
        return Ok(());
    }
    let doc = request.parsed_query().map_err(|mut e| {
        // Parse errors are the client's: give them the code every refusal has.
        if e.extensions.is_none() {
            e = coded(BAD_USER_INPUT, e.message)
                .into_server_error(e.locations.first().copied().unwrap_or_default());
        }
        e
    })?;
    expanded_size(doc, limits.fields).map_err(|e| refuse(e.to_string()))?;
    super::depth::check(doc, limits.depth).map_err(refuse)?;
    if let Some(cache) = &limits.documents {
        let doc = doc.clone();
        let validation = validation_of(limits, request, &doc);
        cache.insert(&request.query, doc);
        request.data.insert(validation);
    }
    Ok(())
}

/// A request's validation as the document cache knows it.
enum KnownValidation {
    /// The document passed validation for requests like this one.
    Valid(ValidationResult),
    /// Not known yet: once it passes, kept under this key.
    Unknown { text: String, key: String },
    /// Not kept: validated every time.
    Uncached,
}

fn validation_of(
    limits: &DocumentLimits,
    request: &Request,
    doc: &ExecutableDocument,
) -> KnownValidation {
    let Some(cache) = &limits.documents else {
        return KnownValidation::Uncached;
    };
    let key = super::documents::validation_key(
        doc,
        request.operation_name.as_deref(),
        &request.variables,
    );
    let Some(key) = key else {
        return KnownValidation::Uncached;
    };
    match cache.validated(&request.query, &key) {
        Some(valid) => KnownValidation::Valid(valid),
        None => KnownValidation::Unknown {
            text: request.query.clone(),
            key,
        },
    }
}

/// The async-graphql extension that runs [`precheck`] on every request and puts a
/// deadline on its execution.
pub struct DocumentGuard(pub Arc<DocumentLimits>);

impl ExtensionFactory for DocumentGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentGuardExtension(self.0.clone()))
    }
}

struct DocumentGuardExtension(Arc<DocumentLimits>);

/// Gives `BAD_USER_INPUT` to errors that have no code: those async-graphql raises
/// itself on a document or arguments it refuses (syntax, validation, depth,
/// complexity, argument types). Our own errors always carry a code.
pub fn code_uncoded(errors: &mut [ServerError]) {
    for e in errors {
        let coded = e
            .extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some());
        if !coded {
            e.extensions
                .get_or_insert_with(Default::default)
                .set("code", BAD_USER_INPUT.name());
        }
    }
}

#[async_trait::async_trait]
impl Extension for DocumentGuardExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        match tokio::time::timeout(self.0.timeout, next.run(ctx)).await {
            Ok(mut response) => {
                code_uncoded(&mut response.errors);
                response
            }
            Err(_) => Response::from_errors(vec![coded(
                TIMEOUT,
                format!(
                    "the request did not finish within {} s; a mutation may still have \
                     been applied (retry it with the same idempotencyKey)",
                    self.0.timeout.as_secs_f64()
                ),
            )
            .into_server_error(Default::default())]),
        }
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let known = ctx.data_opt::<KnownValidation>();
        if let Some(KnownValidation::Valid(valid)) = known {
            return Ok(*valid);
        }
        let valid = next.run(ctx).await.map_err(|mut errors| {
            code_uncoded(&mut errors);
            errors
        })?;
        if let (Some(KnownValidation::Unknown { text, key }), Some(cache)) =
            (known, &self.0.documents)
        {
            cache.remember_valid(text, key.clone(), valid);
        }
        Ok(valid)
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let mut request = request;
        precheck(&mut request, &self.0)?;
        let operation_name = request.operation_name.clone();
        let variables = std::mem::take(&mut request.variables);
        let checked = super::variables::check(
            &ctx.schema_env.registry,
            request.parsed_query()?,
            operation_name.as_deref(),
            &variables,
        );
        request.variables = variables;
        checked?;
        let request = request.data(ItemBudget::new(self.0.fields));
        next.run(ctx, request).await
    }
}

/// Largest [`Position`]: 2^53 - 1, the largest integer every JSON implementation
/// represents exactly.
pub const MAX_POSITION: u64 = (1 << 53) - 1;

/// A position in the log (1 = its first event), as an argument: a whole number
/// from 0 to 2^53 - 1, written as a JSON number. Positions are 64-bit in the log;
/// GraphQL's `Int` is 32-bit, so they have a scalar of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position(pub u64);

/// A position in the log: a whole number from 0 to 2^53 - 1 (9007199254740991).
#[async_graphql::Scalar(name = "Position")]
impl async_graphql::ScalarType for Position {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        if let Value::Number(n) = &value {
            if let Some(p) = n.as_u64().filter(|p| *p <= MAX_POSITION) {
                return Ok(Position(p));
            }
        }
        Err(async_graphql::InputValueError::custom(format!(
            "a position is a whole number from 0 to {MAX_POSITION}, got {value}"
        )))
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::Number(n) if n.as_u64().is_some_and(|p| p <= MAX_POSITION))
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        assert!(text_nesting_within("{ a { b } }", 2));
        assert!(!text_nesting_within("{ a { b } }", 1));
        assert!(text_nesting_within(r#"{ a(s: "{{{{[[[") }"#, 2));
        assert!(text_nesting_within(r#"{ a(s: "\"{{{{") }"#, 2));
        assert!(text_nesting_within("{ a # {{{{{\n }", 1));
        assert!(text_nesting_within(r#"{ a(s: """ {{{ \""" {{{ """) }"#, 2));
        let deep = "{".repeat(100_000);
        assert!(!text_nesting_within(&deep, MAX_NESTING));
        let wide = "{a}".repeat(100_000);
        assert!(text_nesting_within(&wide, 1));
    }

    #[test]
    fn nesting_of_values_is_checked_without_recursion() {
        let mut v = Value::Null;
        for _ in 0..200_000 {
            v = Value::List(vec![v]);
        }
        assert!(!value_nesting_within(&v, MAX_NESTING));
        assert!(value_nesting_within(&v, 200_000));
        // Dropping a deep value recurses; leak it rather than overflow the test thread.
        std::mem::forget(v);
        assert!(value_nesting_within(&Value::from(1), 0));
    }

    /// `k` fragments, each spreading the previous one twice: 2^k fields expanded.
    pub(crate) fn fragment_bomb(k: usize) -> String {
        let mut q = format!(
            "query {{ ...f{} }}\nfragment f0 on Query {{ __typename }}\n",
            k
        );
        for i in 1..=k {
            let p = i - 1;
            q.push_str(&format!("fragment f{i} on Query {{ ...f{p} ...f{p} }}\n"));
        }
        q
    }

    #[test]
    fn fragment_bombs_are_counted_without_expanding_them() {
        let doc = parse_query(fragment_bomb(10)).unwrap();
        // 3 * 2^10 - 2 in the fragments, and the query's own spread.
        assert_eq!(expanded_size(&doc, 10_000), Ok(3071));
        let doc = parse_query(fragment_bomb(60)).unwrap();
        assert_eq!(
            expanded_size(&doc, 5_000),
            Err(SizeError::TooLarge { cap: 5_000 })
        );
    }

    #[test]
    fn fragment_cycles_and_long_chains() {
        let doc =
            parse_query("{ ...a } fragment a on Q { x ...b } fragment b on Q { ...a }").unwrap();
        assert!(matches!(expanded_size(&doc, 100), Err(SizeError::Cycle(_))));
        // A chain of 20,000 fragments: no recursion, so no stack overflow.
        let mut q = String::from("{ ...f0 }\n");
        for i in 0..20_000 {
            q.push_str(&format!("fragment f{i} on Q {{ x{i} ...f{} }}\n", i + 1));
        }
        q.push_str("fragment f20000 on Q { y }\n");
        let doc = parse_query(q).unwrap();
        assert_eq!(expanded_size(&doc, 100_000), Ok(40_002));
    }

    #[test]
    fn positions_are_whole_numbers_up_to_2_pow_53() {
        use async_graphql::ScalarType;
        assert_eq!(Position::parse(Value::from(7u64)).unwrap(), Position(7));
        assert_eq!(
            Position::parse(Value::from(MAX_POSITION)).unwrap(),
            Position(MAX_POSITION)
        );
        for bad in [
            Value::from(MAX_POSITION + 1),
            Value::from(-1),
            Value::from(1.5),
            Value::from("12"),
        ] {
            assert!(Position::parse(bad.clone()).is_err(), "{bad}");
            assert!(!Position::is_valid(&bad), "{bad}");
        }
    }

    /// A schema with a resolver that never finishes, behind the guard.
    fn slow_schema(
        timeout: Duration,
    ) -> async_graphql::Schema<Slow, async_graphql::EmptyMutation, async_graphql::EmptySubscription>
    {
        async_graphql::Schema::build(
            Slow,
            async_graphql::EmptyMutation,
            async_graphql::EmptySubscription,
        )
        .extension(DocumentGuard(Arc::new(DocumentLimits {
            nesting: MAX_NESTING,
            fields: 100,
            timeout,
            depth: 12,
            documents: None,
        })))
        .limit_complexity(100)
        .finish()
    }

    struct Slow;

    #[async_graphql::Object]
    impl Slow {
        async fn forever(&self) -> i32 {
            std::future::pending::<()>().await;
            0
        }
        async fn now(&self) -> i32 {
            1
        }
    }

    #[tokio::test]
    async fn requests_past_the_deadline_get_timeout() {
        let schema = slow_schema(Duration::from_millis(50));
        let r = schema.execute("{ forever }").await;
        let code = r.errors[0]
            .extensions
            .as_ref()
            .and_then(|x| x.get("code").cloned());
        assert_eq!(code, Some(Value::from(TIMEOUT.name())), "{:?}", r.errors);
        let r = schema.execute("{ now }").await;
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        // Errors async-graphql raises itself get a code too.
        let r = schema.execute("{ nope }").await;
        let code = r.errors[0]
            .extensions
            .as_ref()
            .and_then(|x| x.get("code").cloned());
        assert_eq!(
            code,
            Some(Value::from(BAD_USER_INPUT.name())),
            "{:?}",
            r.errors
        );
        let r = schema.execute("{ now ").await;
        let code = r.errors[0]
            .extensions
            .as_ref()
            .and_then(|x| x.get("code").cloned());
        assert_eq!(
            code,
            Some(Value::from(BAD_USER_INPUT.name())),
            "{:?}",
            r.errors
        );
    }

    #[test]
    fn plain_queries_count_their_fields() {
        let doc = parse_query("{ a { b c } d ... on Q { e } }").unwrap();
        assert_eq!(expanded_size(&doc, 100), Ok(5));
    }
}
