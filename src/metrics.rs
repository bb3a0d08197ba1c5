//! Prometheus metrics, served at `GET /metrics` in the text exposition format.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    /// Set at scrape time from the store and projections.
    pub log_head: Gauge,
    pub projection_position: Gauge,
    pub websocket_connections: Gauge,
    sla_events: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("swarmdesk");
        let requests = Family::<Labels, Counter>::default();
        let latency = Family::<Labels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        let log_head = Gauge::default();
        let projection_position = Gauge::default();
        let websocket_connections = Gauge::default();
        let sla_events = Family::<Labels, Counter>::default();
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
            "websocket_connections",
            "Open GraphQL WebSocket connections",
            websocket_connections.clone(),
        );
        registry.register(
            "sla_events",
            "SLA breaches and escalation steps appended by the scheduler, by kind",
            sla_events.clone(),
        );
        Metrics {
            sla_events,
            registry,
            requests,
            latency,
            log_head,
            projection_position,
            websocket_connections,
        }
    }

    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&vec![
                ("route", route.to_string()),
                ("status", status.to_string()),
            ])
            .inc();
        self.latency
            .get_or_create(&vec![("route", route.to_string())])
            .observe(seconds);
    }

    /// Counts an SLA event the scheduler appended: `breach` or `escalation`.
    pub fn sla_event(&self, kind: &'static str) {
        self.sla_events
            .get_or_create(&vec![("kind", kind.to_string())])
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
