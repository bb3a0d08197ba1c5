//! Prometheus metrics, served at `GET /metrics` in the text exposition format.
//!
//! Three sources: what the HTTP layer and the GraphQL extension observe as requests
//! run (per process), what the store's write path measures ([`WriteStats`], per
//! process), and totals of events the projections counted ([`EventCounts`]: over
//! the whole log, so they survive a restart), copied in at scrape time.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex};

use crate::projection::EventCounts;
use crate::store::WriteStats;

type Labels = Vec<(&'static str, String)>;

/// The labels of an HTTP request's count: known when the server is built, so that
/// counting a request builds no string.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: &'static str,
    status: u16,
}

/// The label of an HTTP request's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: &'static str,
}

/// What a GraphQL operation was, as a bounded label value (never the operation's text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    Mutation,
    Subscription,
    /// The document did not parse, or named no operation it holds.
    Invalid,
}

impl OperationKind {
    pub const ALL: [OperationKind; 4] = [
        OperationKind::Query,
        OperationKind::Mutation,
        OperationKind::Subscription,
        OperationKind::Invalid,
    ];

    pub fn label(self) -> &'static str {
        match self {
            OperationKind::Query => "query",
            OperationKind::Mutation => "mutation",
            OperationKind::Subscription => "subscription",
            OperationKind::Invalid => "invalid",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    latency: Family<Route, Histogram>,
    /// One per [`OperationKind`], in the order of [`OperationKind::ALL`]: made once,
    /// so that timing an operation takes no label to build and look up.
    operations: [Histogram; OperationKind::ALL.len()],
    /// Set at scrape time from the store and projections.
    pub log_head: Gauge,
    pub projection_position: Gauge,
    pub projection_lag: Gauge,
    pub websocket_connections: Gauge,
    /// Subscriptions running now, over every WebSocket connection.
    pub subscriptions: Gauge,
    sla_events: Family<Labels, Counter>,
    /// The projections' totals as of the last scrape.
    counts: Arc<Mutex<EventCounts>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("swarmdesk");
        let requests = Family::<RouteStatus, Counter>::default();
        let latency = Family::<Route, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        let family = Family::<Labels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_1, 2.0, 18))
        });
        let log_head = Gauge::default();
        let projection_position = Gauge::default();
        let projection_lag = Gauge::default();
        let websocket_connections = Gauge::default();
        let subscriptions = Gauge::default();
        let sla_events = Family::<Labels, Counter>::default();
        let counts = Arc::new(Mutex::new(EventCounts::default()));
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let operations = OperationKind::ALL.map(|kind| {
            family
                .get_or_create(&vec![("operation", kind.label().to_string())])
                .clone()
        });
        registry.register(
            "graphql_operation_duration_seconds",
            "GraphQL operation latency by operation type (query, mutation, subscription: \
             until its first message; invalid: did not parse)",
            family,
        );
        registry.register(
            "log_head_position",
            "Global position of the last durable event",
            log_head.clone(),
        );
        registry.register(
            "projection_position",
            "Last log position applied to the projections",
            projection_position.clone(),
        );
        registry.register(
            "projection_lag_events",
            "Durable events the projections have not applied yet",
            projection_lag.clone(),
        );
        registry.register(
            "websocket_connections",
            "Open GraphQL WebSocket connections",
            websocket_connections.clone(),
        );
        registry.register(
            "graphql_subscriptions",
            "GraphQL subscriptions running now",
            subscriptions.clone(),
        );
        registry.register(
            "sla_events",
            "SLA breaches and escalation steps appended by this process's scheduler, by kind",
            sla_events.clone(),
        );
        registry.register_collector(Box::new(CountsCollector(counts.clone())));
        Metrics {
            sla_events,
            registry,
            requests,
            latency,
            operations,
            log_head,
            projection_position,
            projection_lag,
            websocket_connections,
            subscriptions,
            counts,
        }
    }

    /// Adds the store's write-path histograms to the exposition.
    pub fn register_store(&mut self, stats: WriteStats) {
        self.registry.register(
            "store_append_duration_seconds",
            "Time from an append's call to its answer (durable, or refused)",
            stats.append_seconds,
        );
        self.registry.register(
            "store_commit_events",
            "Events made durable by one group commit (one flush)",
            stats.commit_events,
        );
    }

    pub fn observe_request(&self, route: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RouteStatus { route, status })
            .inc();
        self.latency
            .get_or_create(&Route { route })
            .observe(seconds);
    }

    /// Times one GraphQL operation.
    pub fn observe_operation(&self, kind: OperationKind, seconds: f64) {
        // `ALL` lists the kinds in their declaration order (a test checks).
        self.operations[kind as usize].observe(seconds);
    }

    /// Counts an SLA event the scheduler appended: `breach` or `escalation`.
    pub fn sla_event(&self, kind: &'static str) {
        self.sla_events
            .get_or_create(&vec![("kind", kind.to_string())])
            .inc();
    }

    /// The projections' totals, to be shown from now on.
    pub fn set_event_counts(&self, counts: &EventCounts) {
        let mut latest = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        latest.clone_from(counts);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Encodes the projections' totals as counters.
#[derive(Debug)]
struct CountsCollector(Arc<Mutex<EventCounts>>);

impl Collector for CountsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let counter = MetricType::Counter;
        let mut breaches = encoder.encode_descriptor(
            "sla_breaches",
            "SLA breaches in the log, by SLA clock",
            None,
            counter,
        )?;
        for kind in crate::domain::SlaKind::ALL {
            let n = counts.sla_breaches.get(&kind).copied().unwrap_or(0);
            let label = kind.as_str().to_ascii_lowercase();
            ConstCounter::new(n).encode(breaches.encode_family(&vec![("kind", label)])?)?;
        }
        let steps = encoder.encode_descriptor(
            "sla_escalation_steps",
            "Time-based SLA escalation steps in the log",
            None,
            counter,
        )?;
        ConstCounter::new(counts.sla_escalation_steps).encode(steps)?;
        let mut escalations = encoder.encode_descriptor(
            "escalations",
            "Tier escalations in the log, by tier pair",
            None,
            counter,
        )?;
        for ((from, to), n) in &counts.escalations {
            let labels = vec![("from", from.clone()), ("to", to.clone())];
            ConstCounter::new(*n).encode(escalations.encode_family(&labels)?)?;
        }
        let swarms = encoder.encode_descriptor(
            "swarms_started",
            "Swarms started in the log",
            None,
            counter,
        )?;
        ConstCounter::new(counts.swarms_started).encode(swarms)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_kind_is_timed_in_its_own_series() {
        for (i, kind) in OperationKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, i);
        }
        let m = Metrics::new();
        m.observe_operation(OperationKind::Mutation, 0.001);
        m.observe_operation(OperationKind::Mutation, 0.001);
        m.observe_operation(OperationKind::Invalid, 0.001);
        let text = m.render();
        for (kind, n) in [
            ("query", 0),
            ("mutation", 2),
            ("subscription", 0),
            ("invalid", 1),
        ] {
            let series = format!(
                "swarmdesk_graphql_operation_duration_seconds_count{{operation=\"{kind}\"}} {n}"
            );
            assert!(text.contains(&series), "{series} in\n{text}");
        }
    }

    #[test]
    fn requests_are_counted_by_route_and_status_and_timed_by_route() {
        let m = Metrics::new();
        m.observe_request("graphql", 200, 0.001);
        m.observe_request("graphql", 200, 0.001);
        m.observe_request("graphql", 400, 0.001);
        let text = m.render();
        for series in [
            "swarmdesk_http_requests_total{route=\"graphql\",status=\"200\"} 2",
            "swarmdesk_http_requests_total{route=\"graphql\",status=\"400\"} 1",
            "swarmdesk_http_request_duration_seconds_count{route=\"graphql\"} 3",
        ] {
            assert!(text.contains(series), "{series} in\n{text}");
        }
    }
}
