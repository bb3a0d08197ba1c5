//! Starting and stopping the server: open the log, bring projections up to date, build
//! the schema once, serve HTTP on the given listener, and on shutdown finish in-flight
//! requests, end subscriptions, snapshot projections and flush the log.

use actix_web::dev::ServerHandle;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::watch;
use tracing::info;

use crate::api::{build_measured_schema, QueryLimits, Shutdown};
use crate::app::{AppError, Desk};
use crate::auth::{generate_token, Grant};
use crate::clock::{Clock, ManualClock};
use crate::config::ConfigSeed;
use crate::domain::{Actor, Role, TierLadder};
use crate::http::takeover::Sockets;
use crate::http::{HttpLimits, HttpState};
use crate::metrics::Metrics;
use crate::presence::{AwaySweeper, ConnectionWatch};
use crate::projection::runner::ProjectionError;
use crate::projection::ProjectionRunner;
use crate::scheduler::SlaScheduler;
use crate::store::postgres::{PgOptions, PgStore};
use crate::store::sled_store::{SledOptions, SledStore};
use crate::store::{EventStore, StoreError};

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    #[error("projections: {0}")]
    Projection(#[from] ProjectionError),
    #[error("loading the demo data: {0}")]
    Demo(#[from] AppError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Keys(#[from] crate::shred::ShredError),
}

/// Everything `serve` needs.
#[derive(Clone)]
pub struct ServerOptions {
    pub data: PathBuf,
    /// A PostgreSQL connection string: the log is kept there instead of in `data`.
    pub store: Option<String>,
    /// The configuration a fresh store is seeded with (tiers, teams, agents, rules);
    /// a store that has one keeps its own.
    pub config: ConfigSeed,
    /// Load the sample data into an empty store first, and issue demo tokens.
    pub demo: bool,
    /// An admin token accepted from start (e.g. `SWARMDESK_BOOTSTRAP_TOKEN`).
    pub bootstrap_token: Option<String>,
    /// Further tokens accepted from start, each bound to a user, role and tiers.
    pub tokens: Vec<(String, Grant)>,
    pub query_limits: QueryLimits,
    pub http_limits: HttpLimits,
    pub clock: Arc<dyn Clock>,
    pub workers: usize,
    /// Where GraphQL operations over HTTP execute: on the HTTP workers by default.
    pub execution: crate::http::Execution,
    /// The nice value of the threads that write WebSocket frames (Linux), so that a
    /// write preempts the delivery of earlier events on a busy machine; 0 runs them
    /// like the other threads.
    pub websocket_nice: i32,
    /// The embedded store's tunables (without `store`).
    pub sled: SledOptions,
    /// How often the SLA scheduler sweeps for breaches and escalations due.
    pub sla_interval: std::time::Duration,
    /// How long all of an agent's WebSocket connections must have been gone before
    /// the server marks them `AWAY`.
    pub away_after: std::time::Duration,
    /// How long a `SEVERITY_1` swarm may go without a public reply to the customer
    /// before the scheduler records `StatusUpdateDue`.
    pub status_update_interval: std::time::Duration,
    /// Origins (`scheme://host[:port]`) whose pages may call the API (CORS); none
    /// by default.
    pub cors_origins: Vec<String>,
}

/// HTTP workers by default: one per core the process may use (2 if unknown).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl ServerOptions {
    pub fn new(data: PathBuf) -> Self {
        ServerOptions {
            data,
            store: None,
            config: ConfigSeed::standard(TierLadder::standard(), None, None),
            demo: false,
            bootstrap_token: None,
            tokens: Vec::new(),
            query_limits: QueryLimits::default(),
            http_limits: HttpLimits::default(),
            clock: Arc::new(crate::clock::SystemClock),
            workers: default_workers(),
            execution: Default::default(),
            websocket_nice: crate::http::takeover::DEFAULT_NICE,
            sled: SledOptions::default(),
            sla_interval: std::time::Duration::from_secs(5),
            away_after: crate::presence::DEFAULT_AWAY_AFTER,
            status_update_interval: std::time::Duration::from_secs(u64::from(
                crate::app::DEFAULT_STATUS_UPDATE_SECS,
            )),
            cors_origins: Vec::new(),
        }
    }
}

/// A demo token, printed at start with `--demo`.
#[derive(Clone, Debug)]
pub struct DemoToken {
    pub role: Role,
    pub user: String,
    pub token: String,
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub app: Arc<Desk>,
    pub demo_tokens: Vec<DemoToken>,
    handle: ServerHandle,
    /// The runtime of the WebSocket connections.
    sockets: Sockets,
    sla: SlaScheduler,
    away: AwaySweeper,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Opens the store (in `options.data`, or the PostgreSQL database of
/// `options.store`), loads the demo if asked, and brings projections up.
pub async fn open_app(options: &ServerOptions) -> Result<Arc<Desk>, ServerError> {
    let seed_config = options
        .config
        .config()
        .map_err(|e| ServerError::Config(e.to_string()))?;
    let store: Arc<dyn EventStore> = match &options.store {
        Some(url) => {
            let store = open_log(&options.data, Some(url)).await?;
            // Into an empty log only (several nodes may start on one database).
            if options.demo && store.head() == 0 {
                let vault = open_vault_of(&options.data, Some(url))?;
                load_demo(store.clone(), options, 300, vault).await?;
            }
            store
        }
        None => {
            if options.demo {
                load_demo_all_or_nothing(options).await?;
            }
            Arc::new(SledStore::open(&options.data, options.sled.clone())?)
        }
    };
    let vault = open_vault_of(&options.data, options.store.as_deref())?;
    if options.store.is_some() {
        // Keys forgotten through another node are dropped from this one's memory.
        crate::shred::follow::evict_forgotten(&vault, store.clone());
    }
    match vault.source() {
        crate::shred::MasterSource::Development(path) => tracing::warn!(
            file = %path.display(),
            "no master key configured (SWARMDESK_MASTER_KEY or SWARMDESK_MASTER_KEY_FILE): \
             customers' data keys are wrapped by a development key kept next to them, which \
             protects nothing from whoever can read the data directory"
        ),
        crate::shred::MasterSource::DevelopmentInDatabase => tracing::warn!(
            "no master key configured (SWARMDESK_MASTER_KEY or SWARMDESK_MASTER_KEY_FILE): \
             customers' data keys are wrapped by a development key kept next to them in the \
             database (table data_key_dev_master), which protects nothing from whoever can \
             read the database or its backups"
        ),
        _ => {}
    }
    let projections = ProjectionRunner::start(store.clone()).await?;
    let app = Desk::new(store, projections, options.clock.clone(), seed_config).with_vault(vault);
    if let Err(e) = app.load_config(Some(&options.config)).await {
        // Nodes starting together on an empty database: one seeds the configuration,
        // the others' seed conflicts with it; they read the winner's.
        if options.store.is_none() {
            return Err(e.into());
        }
        tracing::info!(error = %e, "another node seeded the configuration; reading it");
        app.load_config(None).await?;
    }
    app.load_tokens().await?;
    Ok(Arc::new(app))
}

/// Opens the log: in the PostgreSQL database `store` names, else in the data directory
/// `data`. `serve` and the commands that work on the log (`export`, `import`,
/// `verify`, `replay`, ...) open it through here.
pub async fn open_log(
    data: &std::path::Path,
    store: Option<&str>,
) -> Result<Arc<dyn EventStore>, StoreError> {
    Ok(match store {
        Some(url) => Arc::new(PgStore::open(url, PgOptions::default()).await?),
        None => Arc::new(SledStore::open(data, SledOptions::default())?),
    })
}

/// Loads the sample into a data directory that holds no store yet, all or nothing: it
/// is written in a sibling directory (`<data>.demo-loading`) that replaces the data
/// directory only once complete, so a process stopped mid-way leaves no partial
/// sample behind (the next start clears the unfinished one and loads again).
async fn load_demo_all_or_nothing(options: &ServerOptions) -> Result<(), ServerError> {
    let data = &options.data;
    let holds_store = data.join("db").exists() || data.join("conf").exists();
    if holds_store {
        return Ok(());
    }
    let mut loading = data.as_os_str().to_owned();
    loading.push(".demo-loading");
    let loading = PathBuf::from(loading);
    if loading.exists() {
        tracing::warn!(dir = %loading.display(), "clearing an unfinished demo load");
        std::fs::remove_dir_all(&loading)?;
    }
    let store: Arc<dyn EventStore> = Arc::new(SledStore::open(&loading, SledOptions::default())?);
    // Its keys are made in the directory being loaded, and move with it.
    load_demo(store.clone(), options, 300, open_vault(&loading)?).await?;
    store.shutdown().await?;
    drop(store);
    // The data directory may exist, empty (created by hand or by a container volume).
    if data.exists() {
        std::fs::remove_dir(data)?;
    }
    std::fs::rename(&loading, data)?;
    Ok(())
}

/// The key store of the data directory `data`, with the master key the environment
/// names (or the development key: see [`crate::shred`]).
pub fn open_vault(data: &std::path::Path) -> Result<Arc<crate::shred::Vault>, ServerError> {
    open_vault_of(data, None)
}

/// [`open_vault`], or with `store` (a PostgreSQL connection string) the key store in
/// that database, shared by every node on it.
pub fn open_vault_of(
    data: &std::path::Path,
    store: Option<&str>,
) -> Result<Arc<crate::shred::Vault>, ServerError> {
    Ok(Arc::new(match store {
        Some(url) => crate::shred::Vault::load_postgres(url, |name| std::env::var(name).ok())?,
        None => crate::shred::Vault::from_env(data)?,
    }))
}

/// Appends the sample data: about three days of ordinary cases, then the overnight
/// example, ending a minute before now; customers' personal fields sealed by `vault`.
pub async fn load_demo(
    store: Arc<dyn EventStore>,
    options: &ServerOptions,
    cases: usize,
    vault: Arc<crate::shred::Vault>,
) -> Result<(), ServerError> {
    // The ordinary cases start three and a half days ago (one clock, cases one after
    // another); the overnight example ends just before now.
    let clock = ManualClock::new(options.clock.now().plus_secs(-(3 * 24 + 12) * 3600));
    let runner = ProjectionRunner::start(store.clone()).await?;
    let seed = crate::demo::seed(&options.config);
    let config = seed
        .config()
        .map_err(|e| ServerError::Config(e.to_string()))?;
    let app = Desk::new(store, runner, Arc::new(clock.clone()), config).with_vault(vault);
    app.set_status_update_interval(options.status_update_interval);
    app.load_config(Some(&seed)).await?;
    let summary = crate::demo::load(&app, &clock, cases, options.clock.now()).await?;
    info!(
        cases = summary.cases,
        swarms = summary.swarms,
        events = summary.events,
        "demo data loaded"
    );
    app.into_projections().stop().await?;
    Ok(())
}

/// Starts serving on `listener`. Stop it with [`Running::stop`].
pub async fn start(options: ServerOptions, listener: TcpListener) -> Result<Running, ServerError> {
    let app = open_app(&options).await?;
    let tokens = app.tokens().clone();
    if let Some(t) = &options.bootstrap_token {
        let actor = Actor::new("bootstrap-admin", Role::Admin)
            .map_err(|e| ServerError::Config(e.to_string()))?;
        tokens.insert(
            t,
            Grant {
                actor,
                tiers: Vec::new(),
                expires_at: None,
            },
        );
    }
    for (token, grant) in &options.tokens {
        tokens.insert(token, grant.clone());
    }
    let mut demo_tokens = Vec::new();
    if options.demo {
        for (user, role, tiers) in [
            ("admin", Role::Admin, vec![]),
            ("dana", Role::Lead, vec!["L2"]),
            ("alice", Role::Agent, vec!["L1"]),
            ("audrey", Role::Auditor, vec![]),
            ("sam.okafor", Role::Customer, vec![]),
        ] {
            let token =
                generate_token().map_err(|e| ServerError::Config(format!("no randomness: {e}")))?;
            let actor = Actor::new(user, role).map_err(|e| ServerError::Config(e.to_string()))?;
            let tiers = tiers
                .into_iter()
                .filter_map(|t| app.tiers().get(t).ok())
                .collect();
            tokens.insert(
                &token,
                Grant {
                    actor,
                    tiers,
                    expires_at: None,
                },
            );
            demo_tokens.push(DemoToken {
                role,
                user: user.into(),
                token,
            });
        }
    }
    app.set_status_update_interval(options.status_update_interval);
    let mut metrics = Metrics::new();
    if let Some(stats) = app.store().write_stats() {
        metrics.register_store(stats);
    }
    let metrics = Arc::new(metrics);
    let (shutdown_tx, shutdown) = Shutdown::new();
    let connections = ConnectionWatch::new(options.away_after);
    let away = AwaySweeper::start(app.clone(), connections.clone());
    let sockets = Sockets::start(
        options.workers,
        options.http_limits.websocket_connections,
        options.websocket_nice,
    )?;
    let state = actix_web::web::Data::new(HttpState {
        connections,
        schema: build_measured_schema(
            app.clone(),
            shutdown.clone(),
            &options.query_limits,
            metrics.clone(),
        ),
        shutdown,
        app: app.clone(),
        metrics: metrics.clone(),
        limits: options.http_limits.clone(),
        rate: Default::default(),
        runtime: tokio::runtime::Handle::current(),
        execution: options.execution,
        fanout: Default::default(),
    });
    let addr = listener.local_addr()?;
    let server = crate::http::workers::server(
        listener,
        options.workers,
        state,
        options.cors_origins.clone(),
        sockets.handle(),
    )?;
    let handle = server.handle();
    let server = tokio::spawn(server);
    let sla = SlaScheduler::start(app.clone(), options.sla_interval, metrics);
    info!(%addr, head = app.store().head(), "swarmdesk listening");
    // Read the whole log back in the background: streams that cannot be read refuse
    // writes from then on, and `/healthz` reports them. A check cut short (e.g. while
    // the store reopens after a full disk) starts again later; a closed store ends it.
    let store = std::sync::Arc::downgrade(app.store());
    tokio::spawn(async move {
        while let Some(store) = store.upgrade() {
            match store.check_integrity().await {
                Ok(_) | Err(crate::store::StoreError::Closed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "the log's integrity check did not finish; it starts again in 30 s");
                }
            }
            drop(store);
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        }
    });
    Ok(Running {
        addr,
        app,
        demo_tokens,
        handle,
        sockets,
        sla,
        away,
        shutdown: shutdown_tx,
        server,
    })
}

impl Running {
    /// Runs an SLA sweep that starts now and returns how many SLA events it appended
    /// (tests move a manual clock, then await this).
    pub async fn sweep_sla(&self) -> Result<usize, String> {
        self.sla.sweep().await
    }

    /// Resolves once the SLA scheduler's first pass (at start) has finished: what a
    /// client sees from then on already includes whatever fell due while the server
    /// was down.
    pub async fn sla_first_pass(&self) {
        self.sla.first_pass().await
    }

    /// Graceful stop: subscriptions end, in-flight requests finish (their writes are
    /// durable), projections are snapshotted and the log is flushed.
    pub async fn stop(self) -> Result<(), ServerError> {
        self.sla.stop().await;
        self.away.stop().await;
        let _ = self.shutdown.send(true);
        // Graceful first: in-flight requests finish. WebSocket sessions that outlive
        // their subscriptions do not hold the stop up for long.
        let graceful =
            tokio::time::timeout(std::time::Duration::from_secs(10), self.handle.stop(true));
        if graceful.await.is_err() {
            tracing::warn!("graceful stop timed out; closing remaining connections");
            self.handle.stop(false).await;
        }
        let _ = self.server.await;
        // The connections close on the shutdown signal; one whose client stopped
        // reading is dropped after a while.
        self.sockets.stop(std::time::Duration::from_secs(5)).await;
        close_app(self.app).await?;
        info!("swarmdesk stopped");
        Ok(())
    }
}

/// Closes an application: waits until nothing else holds it (workers and WebSocket
/// sessions release their handles as they wind down), snapshots the projections,
/// then flushes and closes the log, releasing its file lock.
pub async fn close_app(app: Arc<Desk>) -> Result<(), ServerError> {
    let mut app = app;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let app = loop {
        match Arc::try_unwrap(app) {
            Ok(app) => break app,
            Err(shared) if tokio::time::Instant::now() < deadline => {
                app = shared;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(_) => {
                return Err(ServerError::Config(
                    "the server did not release the store in time".into(),
                ))
            }
        }
    };
    let store = app.store().clone();
    app.into_projections().stop().await?;
    store.shutdown().await?;
    drop(store);
    Ok(())
}

/// Serves until `shutdown` resolves.
pub async fn run(
    options: ServerOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let running = start(options, listener).await?;
    for t in &running.demo_tokens {
        println!(
            "demo token  {:<9} {:<11} {}",
            t.role.as_str(),
            t.user,
            t.token
        );
    }
    shutdown.await;
    info!("shutting down");
    running.stop().await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
