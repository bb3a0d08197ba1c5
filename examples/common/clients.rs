//! What the benchmark examples' HTTP clients share (`load` and `pg_nodes`): one
//! GraphQL-over-HTTP call, a closed loop of clients timing each operation, and the
//! nearest-rank summary of their latencies. An example includes this file with
//! `#[path = "common/clients.rs"] mod clients;`.

use serde_json::{json, Value};
use std::future::Future;
use std::time::{Duration, Instant};

/// Sends one operation to the GraphQL endpoint `url` as the bearer of `token`;
/// returns `data`, or the HTTP or GraphQL error.
pub async fn call(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Result<Value, String> {
    let res = http
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let status = res.status();
    let body: Value = res.json().await.map_err(|e| format!("body: {e}"))?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {body}"));
    }
    if let Some(errors) = body.get("errors") {
        return Err(format!("GraphQL errors: {errors}"));
    }
    Ok(body["data"].clone())
}

/// Nearest-rank percentile of an ascending slice (0 if empty).
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds as milliseconds.
pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// p50, p90, p99 and max of microsecond samples, sorted in place.
pub struct Summary {
    pub n: usize,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Summary {
    pub fn of(samples: &mut [u64]) -> Summary {
        samples.sort_unstable();
        Summary {
            n: samples.len(),
            p50: percentile(samples, 50.0),
            p90: percentile(samples, 90.0),
            p99: percentile(samples, 99.0),
            max: samples.last().copied().unwrap_or(0),
        }
    }
}

/// The errors of a run's clients: how many, and the first.
#[derive(Default)]
pub struct Errors {
    pub count: usize,
    pub first: Option<String>,
}

impl Errors {
    /// Counts one error (kept if it is the first).
    pub fn one(&mut self, e: String) {
        self.count += 1;
        self.first.get_or_insert(e);
    }

    /// Adds a client's errors.
    pub fn merge(&mut self, client: Errors) {
        self.count += client.count;
        if let Some(e) = client.first {
            self.first.get_or_insert(e);
        }
    }

    /// Counts a client task that did not finish.
    pub fn lost(&mut self, e: tokio::task::JoinError) {
        self.one(format!("client task: {e}"));
    }
}

/// What a closed loop of clients did: every client sends its next operation as soon
/// as the last one was answered.
pub struct Looped {
    pub done: usize,
    pub elapsed: Duration,
    pub latency: Summary,
    pub errors: usize,
    pub first_error: Option<String>,
}

impl Looped {
    pub fn per_sec(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `op(client, n)` from `clients` concurrent clients in a closed loop for
/// `seconds` (`n` counts a client's operations from 0); only successful operations
/// count and are timed, and a client pauses 10 ms after a failed one.
pub async fn closed_loop<F, Fut>(clients: usize, seconds: f64, op: F) -> Looped
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(4096);
                let mut errors = Errors::default();
                let mut n = 0;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    match op(c, n).await {
                        Ok(()) => latencies.push(t0.elapsed().as_micros() as u64),
                        Err(e) => {
                            errors.one(e);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                    n += 1;
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = Errors::default();
    for t in tasks {
        match t.await {
            Ok((l, e)) => {
                all.extend(l);
                errors.merge(e);
            }
            Err(e) => errors.lost(e),
        }
    }
    Looped {
        done: all.len(),
        elapsed: start.elapsed(),
        latency: Summary::of(&mut all),
        errors: errors.count,
        first_error: errors.first,
    }
}
