//! The GraphQL schema: queries, mutations and subscriptions, and nothing of HTTP.
//! [`crate::http`] serves it; tests and `swarmdesk schema` use it directly.
//!
//! - [`types`]: the GraphQL objects, enums and inputs.
//! - [`query`], [`mutation`], [`subscription`]: the three roots; [`config`] and
//!   [`report`] add the configuration API and leads' reports to them.
//! - [`swarming`]: intelligent swarming's queries and mutations (merged into the roots).
//! - [`presence`]: agents' presence (`setPresence`, `presence`).
//! - [`knowledge`]: captured knowledge: `captureKnowledge`, `knowledge(query)`.
//! - [`contributions`]: an agent's contributions to swarming over a period.
//! - [`standing`]: standing swarms (`DISPATCH`, `BACKLOG`) and their queues.
//! - [`audit`]: auditors' queries: log verification and head, case diffs, time travel.
//! - [`error`]: the stable error codes and the one conversion from [`AppError`](crate::app::AppError).
//! - [`limits`]: pre-checks on every document (nesting, expanded size, depth) and the request deadline.
//! - [`depth`]: the depth limit, with introspection's own allowance.
//! - [`documents`]: parsed documents kept by text, parsed once.
//! - [`measure`]: operation latency by type and running subscriptions, for `/metrics`.
//! - [`variables`]: variables coerced to their definitions before execution.
//! - [`opened`]: customers' sealed personal fields opened in every answer.
//! - [`erasure`]: `forgetCustomer`, the right to erasure (admins).

pub mod audit;
pub mod config;
pub mod contributions;
pub mod depth;
pub mod documents;
pub mod erasure;
pub mod error;
pub mod guard;
pub mod knowledge;
pub mod limits;
pub mod measure;
pub mod mutation;
pub mod opened;
pub mod presence;
pub mod query;
pub mod report;
pub mod standing;
pub mod subscription;
pub mod swarming;
pub mod types;
pub mod variables;
pub mod wallboard;

use async_graphql::{Context, Result, Schema, ID};
use std::sync::Arc;
use tokio::sync::watch;

use crate::app::Desk;
use crate::domain::CaseId;
use error::{bad_input, coded, UNAUTHENTICATED};

pub use crate::auth::Principal;
pub use subscription::SubscriptionRoot;

/// Every query: cases, queues, swarms and the log; configuration and routing tools.
#[derive(async_graphql::MergedObject, Default)]
pub struct QueryRoot(
    query::CaseQuery,
    config::ConfigQuery,
    report::ReportQuery,
    swarming::SwarmingQuery,
    audit::AuditQuery,
    presence::PresenceQuery,
    knowledge::KnowledgeQuery,
    contributions::ContributionsQuery,
    standing::StandingQuery,
);

/// Every mutation: commands on cases; configuration changes.
#[derive(async_graphql::MergedObject, Default)]
pub struct MutationRoot(
    mutation::CaseMutation,
    config::ConfigMutation,
    swarming::SwarmingMutation,
    presence::PresenceMutation,
    config::skills::SkillMapMutation,
    config::rotation::RapidRotationMutation,
    knowledge::KnowledgeMutation,
    erasure::ErasureMutation,
    standing::StandingMutation,
);

pub type SwarmSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Limits on what one GraphQL operation may ask for.
#[derive(Clone, Debug)]
pub struct QueryLimits {
    pub depth: usize,
    /// Also bounds the fields a document may select with its fragments expanded.
    pub complexity: usize,
    /// Deadline of one query or mutation (`TIMEOUT` beyond).
    pub timeout: std::time::Duration,
    /// Parsed documents kept by text ([`documents`]); 0 parses every request.
    pub document_cache: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            depth: 12,
            complexity: 5_000,
            timeout: std::time::Duration::from_secs(30),
            document_cache: 256,
        }
    }
}

/// Resolves when the server is shutting down; subscriptions end on it.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|down| *down).await;
    }
}

/// The schema, built once and shared by every worker.
pub fn build_schema(app: Arc<Desk>, shutdown: Shutdown, limits: &QueryLimits) -> SwarmSchema {
    schema_builder(app, shutdown, limits).finish()
}

/// [`build_schema`], also measuring every operation into `metrics` (the server's).
pub fn build_measured_schema(
    app: Arc<Desk>,
    shutdown: Shutdown,
    limits: &QueryLimits,
    metrics: Arc<crate::metrics::Metrics>,
) -> SwarmSchema {
    schema_builder(app, shutdown, limits)
        .extension(measure::Measure(metrics))
        .finish()
}

fn schema_builder(
    app: Arc<Desk>,
    shutdown: Shutdown,
    limits: &QueryLimits,
) -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    let vault = app.vault().cloned();
    let builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    );
    let builder = match vault {
        Some(vault) => builder.extension(opened::OpenPersonal(vault)),
        None => builder,
    };
    builder
        .data(app)
        .data(shutdown)
        .extension(limits::DocumentGuard(Arc::new(limits::DocumentLimits {
            nesting: limits::MAX_NESTING,
            fields: limits.complexity,
            timeout: limits.timeout,
            depth: limits.depth,
            documents: (limits.document_cache > 0)
                .then(|| Arc::new(documents::DocumentCache::new(limits.document_cache))),
        })))
        .limit_complexity(limits.complexity)
}

/// The schema's SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .finish()
    .sdl()
}

pub(crate) fn app<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Desk>> {
    ctx.data::<Arc<Desk>>()
}

pub(crate) fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal> {
    let p = ctx
        .data_opt::<Principal>()
        .ok_or_else(|| coded(UNAUTHENTICATED, "missing or invalid bearer token"))?;
    // A token revoked while a WebSocket stays open stops working at once.
    if let Some(id) = &p.token_id {
        let app = app(ctx)?;
        if !app.tokens().is_active(id, app.clock().now()) {
            return Err(coded(
                UNAUTHENTICATED,
                "the token was revoked or has expired",
            ));
        }
    }
    Ok(p)
}

pub(crate) fn parse_case_id(id: &ID) -> Result<CaseId> {
    id.parse::<CaseId>().map_err(|e| bad_input(e.to_string()))
}

/// Caps the subscriptions one WebSocket connection may hold at once.
#[derive(Clone)]
pub struct SubscriptionSlots {
    used: Arc<std::sync::atomic::AtomicUsize>,
    max: usize,
}

/// A held subscription slot, released when the subscription's stream is dropped.
pub struct Slot(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl SubscriptionSlots {
    pub fn new(max: usize) -> Self {
        SubscriptionSlots {
            used: Arc::default(),
            max,
        }
    }

    pub(crate) fn acquire(&self) -> Result<Slot> {
        let used = self.used.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let slot = Slot(self.used.clone());
        if used >= self.max {
            return Err(coded(
                error::RATE_LIMITED,
                format!("at most {} subscriptions per connection", self.max),
            ));
        }
        Ok(slot)
    }
}
