//! Where the load goes: the target server (started in this process or given by
//! `--url`, loopback only), the GraphQL client every run uses, and the cases it opens.

use super::clients;
use super::{
    Opts, CASE_VERSION, OPEN_CASE, POST_MESSAGE, POST_MESSAGE_KEYED, REQUEST_TIMEOUT, START_SWARM,
};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::net::{IpAddr, TcpListener};
use swarmdesk::server::{self, Running, ServerOptions};

/// Where the benchmark sends its requests, and the server it started, if any.
pub(crate) struct Target {
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) local: Option<(LocalServer, tempfile::TempDir)>,
}

/// A server started in this process, on a runtime of its own (threads `load-server`),
/// as `swarmdesk serve` runs on its main runtime: the generator's clients, on the
/// runtime of `main` (`load-gen`), do not share the server's threads, so the CPU each
/// side uses can be told apart (module `cpu`). (Until 2026-12-03 both shared one
/// runtime; the rates did not change with the split, see `docs/performance.md`.)
pub(crate) struct LocalServer {
    pub(crate) addr: std::net::SocketAddr,
    /// Both `Some` until stopped or dropped.
    running: Option<Running>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl LocalServer {
    /// Stops the server gracefully on its runtime, then the runtime.
    pub(crate) async fn stop(mut self) -> Result<(), String> {
        let (Some(running), Some(runtime)) = (self.running.take(), self.runtime.take()) else {
            return Ok(());
        };
        let stopped = joined(runtime.spawn(running.stop()).await);
        runtime.shutdown_background();
        stopped.map_err(|e| format!("stop: {e}"))
    }
}

/// What a task spawned on the server's runtime returned, its panic or cancellation
/// and its own error alike as text.
fn joined<T, E: std::fmt::Display>(
    task: Result<Result<T, E>, tokio::task::JoinError>,
) -> Result<T, String> {
    task.map_err(|e| e.to_string())?.map_err(|e| e.to_string())
}

impl Drop for LocalServer {
    /// A server dropped without [`stop`](Self::stop) (a run that failed early) stops
    /// with its runtime, in the background: dropping a runtime waits for its tasks,
    /// which async code, where this is dropped, may not.
    fn drop(&mut self) {
        drop(self.running.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Accepts only `http://` URLs on a loopback address.
pub(crate) fn loopback_base(url: &str) -> Result<String, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("bad --url `{url}`: {e}"))?;
    if u.scheme() != "http" {
        return Err(format!("--url must be http://, got `{}`", u.scheme()));
    }
    let host = u.host_str().ok_or("--url has no host")?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(format!(
            "refusing `{host}`: this benchmark only targets loopback"
        ));
    }
    let port = u.port_or_known_default().unwrap_or(80);
    Ok(format!("http://{host}:{port}"))
}

/// The options of a server this process starts: a temporary data directory, a new
/// bootstrap token, `--workers`, `--websocket-nice`; one token stands in for all the clients, so its
/// per-token rate limit is lifted.
pub(crate) fn bench_server(
    opts: &Opts,
) -> Result<(ServerOptions, String, tempfile::TempDir), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let token = swarmdesk::auth::generate_token().map_err(|e| format!("token: {e}"))?;
    let mut o = ServerOptions::new(dir.path().to_path_buf());
    o.bootstrap_token = Some(token.clone());
    o.workers = opts.workers.max(1);
    o.websocket_nice = opts.websocket_nice;
    o.http_limits.rate_per_second = 1e9;
    o.http_limits.rate_burst = 1e9;
    Ok((o, token, dir))
}

/// Starts the real server in this process on a free loopback port.
pub(crate) async fn start_local(o: ServerOptions) -> Result<LocalServer, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("load-server")
        .build()
        .map_err(|e| format!("the server's runtime: {e}"))?;
    let started = joined(runtime.spawn(server::start(o, listener)).await);
    match started {
        Ok(running) => Ok(LocalServer {
            addr: running.addr,
            running: Some(running),
            runtime: Some(runtime),
        }),
        Err(e) => {
            runtime.shutdown_background();
            Err(format!("start: {e}"))
        }
    }
}

pub(crate) async fn connect_target(opts: &Opts) -> Result<Target, String> {
    if let Some(url) = &opts.url {
        let base = loopback_base(url)?;
        let token = opts.token.clone().ok_or("--url needs --token")?;
        println!("server: external at {base}");
        return Ok(Target {
            base,
            token,
            local: None,
        });
    }
    let (o, token, dir) = bench_server(opts)?;
    let running = start_local(o).await?;
    let base = format!("http://{}", running.addr);
    println!(
        "server: in-process at {base}, {} HTTP worker(s), data in {} (temporary)",
        opts.workers.max(1),
        dir.path().display()
    );
    Ok(Target {
        base,
        token,
        local: Some((running, dir)),
    })
}

/// A GraphQL-over-HTTP client with one shared connection pool.
pub(crate) struct Gql {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
    pub(crate) token: String,
    /// With `--keyed`: the prefix of this process's idempotency keys, and their count.
    keys: Option<(String, std::sync::atomic::AtomicU64)>,
}

impl Gql {
    /// A client of `base`'s GraphQL endpoint with `token`, keeping up to `pool` idle
    /// connections (one per concurrent client, and some).
    pub(crate) fn connect(base: &str, token: String, pool: usize) -> Result<Gql, String> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Gql {
            http,
            url: format!("{base}/graphql"),
            token,
            keys: None,
        })
    }

    /// Whether `postMessage` sends an idempotency key, unique to this process and call.
    pub(crate) fn keyed(mut self, keyed: bool) -> Gql {
        self.keys = keyed.then(|| {
            let started = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            (
                format!("load-{}-{started}", std::process::id()),
                std::sync::atomic::AtomicU64::new(0),
            )
        });
        self
    }

    /// Sends one operation; returns `data`, or the HTTP or GraphQL error.
    pub(crate) async fn call(&self, query: &str, variables: Value) -> Result<Value, String> {
        clients::call(&self.http, &self.url, &self.token, query, variables).await
    }

    /// Opens a case; returns its id and version.
    pub(crate) async fn open_case(&self, subject: String) -> Result<BenchCase, String> {
        let d = self.call(OPEN_CASE, json!({ "s": subject })).await?;
        let id = d["openCase"]["id"]
            .as_str()
            .ok_or_else(|| format!("openCase returned no id: {d}"))?
            .to_string();
        let version = d["openCase"]["version"].as_u64();
        Ok(BenchCase { id, version })
    }

    /// Posts an internal note; returns the case's new version.
    pub(crate) async fn post_note(&self, case: &str, body: String) -> Result<u64, String> {
        self.post(case, body, "INTERNAL_NOTE").await
    }

    /// Posts a message of `kind`; returns the case's new version.
    pub(crate) async fn post(&self, case: &str, body: String, kind: &str) -> Result<u64, String> {
        let d = match &self.keys {
            None => {
                self.call(POST_MESSAGE, json!({ "id": case, "b": body, "k": kind }))
                    .await?
            }
            Some((prefix, count)) => {
                let n = count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let key = format!("{prefix}-{n}");
                let vars = json!({ "id": case, "b": body, "k": kind, "key": key });
                self.call(POST_MESSAGE_KEYED, vars).await?
            }
        };
        d["postMessage"]["version"]
            .as_u64()
            .ok_or_else(|| format!("postMessage returned no version: {d}"))
    }

    /// Starts a swarm on the case (the caller leads it); returns the case's tier.
    pub(crate) async fn start_swarm(&self, case: &str) -> Result<String, String> {
        let d = self.call(START_SWARM, json!({ "id": case })).await?;
        d["startSwarm"]["tier"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("startSwarm returned no tier: {d}"))
    }

    /// The case's current version.
    pub(crate) async fn case_version(&self, case: &str) -> Result<u64, String> {
        let d = self.call(CASE_VERSION, json!({ "id": case })).await?;
        d["case"]["version"]
            .as_u64()
            .ok_or_else(|| format!("case returned no version: {d}"))
    }

    /// The log head, from `/healthz` (no token needed).
    pub(crate) async fn head(&self) -> Result<u64, String> {
        let url = self.url.trim_end_matches("/graphql").to_string() + "/healthz";
        let v: Value = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("healthz: {e}"))?
            .json()
            .await
            .map_err(|e| format!("healthz body: {e}"))?;
        v["logHead"]
            .as_u64()
            .ok_or_else(|| format!("healthz has no logHead: {v}"))
    }
}

pub(crate) async fn open_cases(gql: &Gql, n: usize, label: &str) -> Result<Vec<BenchCase>, String> {
    let opened: Vec<Result<BenchCase, String>> = stream::iter(0..n)
        .map(|i| gql.open_case(format!("load bench {label} {i}")))
        .buffered(16)
        .collect()
        .await;
    opened.into_iter().collect()
}

#[derive(Clone, Debug)]
pub(crate) struct BenchCase {
    pub(crate) id: String,
    /// The version we last saw, None after an error (then any next version is fine).
    pub(crate) version: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        assert!(loopback_base("http://127.0.0.1:8080").is_ok());
        assert!(loopback_base("http://localhost:8080/").is_ok());
        assert!(loopback_base("http://[::1]:8080").is_ok());
        assert!(loopback_base("http://10.0.0.1:8080").is_err());
        assert!(loopback_base("http://example.com").is_err());
        assert!(loopback_base("https://127.0.0.1").is_err());
    }
}
