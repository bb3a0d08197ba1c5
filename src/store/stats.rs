//! What a store's write path measures for `/metrics`: how long an append waits for its
//! answer (durable, or refused), and how many events each durable commit (one flush
//! covering one or more groups) makes durable. The histograms are shared handles: the
//! store observes, the metrics registry encodes.

use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// The write path's histograms (cheap to clone: clones observe into the same one).
#[derive(Clone, Debug)]
pub struct WriteStats {
    /// Seconds from an append's call to its answer.
    pub append_seconds: Histogram,
    /// Events made durable by one flush (the group commit's size).
    pub commit_events: Histogram,
}

impl Default for WriteStats {
    fn default() -> Self {
        WriteStats {
            // 50 µs .. 1.6 s.
            append_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            // 1 .. 4,096 events.
            commit_events: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
        }
    }
}
