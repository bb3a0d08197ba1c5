//! The `swarmdesk` command line: serve, replay, verify, export, import, demo, schema, token.

use clap::{Args, Parser, Subcommand};
use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::travel::{projections_until, Until};
use crate::config::ConfigSeed;
use crate::domain::{Actor, AgentId, Role, TierLadder, Timestamp};
use crate::projection::runner::{encode_snapshot, rebuild, SNAPSHOT_NAME};
use crate::server::{self, ServerOptions};
use crate::store::sled_store::{SledOptions, SledStore};
use crate::store::EventStore;

#[derive(Parser, Debug)]
#[command(
    name = "swarmdesk",
    version,
    about = "Event-sourced customer-support case management over GraphQL"
)]
pub struct Cli {
    /// Data directory of the embedded event log.
    #[arg(long, global = true, env = "SWARMDESK_DATA", default_value = "./data")]
    pub data: PathBuf,
    /// Keep the log in PostgreSQL instead of the data directory:
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`. Several servers may share one
    /// database (each keeps its projections in memory, fed from the shared log);
    /// `export`, `import`, `verify`, `replay`, `report`, `demo` and `token` work on it too.
    #[arg(long, global = true, env = "SWARMDESK_STORE", hide_env_values = true)]
    pub store: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the GraphQL API.
    Serve(ServeArgs),
    /// Rebuild all projections from the log and print counts and the time taken.
    Replay {
        /// Stop at this point of the log instead of its end: a position (every event
        /// up to and including it) or an RFC 3339 time (every event up to the first
        /// one after it). The counts are then those of that moment, and no snapshot
        /// is saved.
        #[arg(long, value_parser = parse_until)]
        until: Option<Until>,
    },
    /// Write all events (or one case's, or one customer's) to stdout as NDJSON: from
    /// the data directory, each line with the record's stored bytes, hash and previous
    /// hash; or with `--url` from a running server (the events the token may read,
    /// without hashes).
    Export {
        /// Only this case's events.
        #[arg(long)]
        case: Option<String>,
        /// Only this customer's: every case opened for them and their entries in the
        /// customer directory.
        #[arg(long, conflicts_with = "case")]
        customer: Option<String>,
        /// Only events at or after this position or RFC 3339 time.
        #[arg(long)]
        from: Option<crate::archive::Bound>,
        /// Only events at or before this position or RFC 3339 time.
        #[arg(long)]
        to: Option<crate::archive::Bound>,
        /// From the data directory: each line whose payload holds a customer's sealed
        /// personal fields also carries `opened`, the payload with them in clear (or
        /// `[erased]` once the customer was forgotten), read with the directory's keys.
        #[arg(long, conflicts_with = "url")]
        opened: bool,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Append events from NDJSON (a file, or stdin), all or nothing: every hash is
    /// recomputed and consecutive records must link; a file without hashes must
    /// continue the log's positions and versions.
    Import {
        /// The file to read; stdin when omitted.
        file: Option<PathBuf>,
    },
    /// Copy the log of a data directory (which no server may be using) into an empty
    /// PostgreSQL database, preserving positions, versions, ids and hashes; run again
    /// to finish a copy cut short. Then serve with `--store` on that database.
    Migrate {
        /// The data directory to copy (default: `--data`).
        #[arg(long)]
        from: Option<PathBuf>,
        /// The database: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
        #[arg(long, env = "SWARMDESK_STORE", hide_env_values = true)]
        to: String,
    },
    /// Append the realistic sample data.
    Demo {
        /// Ordinary cases to create besides the overnight example.
        #[arg(long, default_value_t = 300)]
        cases: usize,
        #[command(flatten)]
        routing: RoutingArgs,
    },
    /// Report on a period from the log (server stopped, or on a copy of the data
    /// directory): the same figures as the GraphQL `report`.
    Report {
        /// Start of the period (RFC 3339), inclusive.
        #[arg(long)]
        from: String,
        /// End of the period (RFC 3339), exclusive: later events are ignored.
        #[arg(long)]
        to: String,
        /// Only cases in these tiers (repeatable).
        #[arg(long)]
        tier: Vec<String>,
        /// Only cases of these teams (repeatable).
        #[arg(long)]
        team: Vec<String>,
        /// table, csv, json or html.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// Check the log in the data directory (which no server may be using): its hash
    /// chain, positions, each stream's versions and every record's decoding. Prints
    /// "ok, N events, head hash H", or the first position where it breaks and why.
    /// Exit code 0 when intact, 1 on a break, 2 when the log could not be checked
    /// (e.g. the directory is in use by a running server: ask it with the GraphQL
    /// query `verifyLog` instead).
    Verify,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Issue, revoke and list bearer tokens (with the server stopped: the store
    /// admits one process at a time).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

/// How `swarmdesk report` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
    /// One self-contained page with inline SVG charts.
    Html,
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Issue a token for a user; it is printed once and stored only as a hash.
    Create {
        /// admin, lead, agent, auditor or customer.
        #[arg(long)]
        role: String,
        /// The user (agent id, or customer id for customers).
        #[arg(long)]
        user: String,
        /// Tiers an agent or lead works when not in the agent directory, e.g. `L1,L2`.
        #[arg(long, value_delimiter = ',')]
        tiers: Vec<String>,
        /// When it stops working (RFC 3339).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke { id: String },
    /// List the tokens: ids, roles, users, tiers and expiry (never the tokens
    /// themselves); with `--url`, the active ones of a running server.
    List {
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// A running server to work through instead of the data directory, which it holds.
#[derive(Args, Debug, Clone)]
pub struct RemoteArgs {
    /// The server's URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "SWARMDESK_URL", requires = "token")]
    pub url: Option<String>,
    /// A bearer token for it (an auditor or admin reads the whole log).
    #[arg(long, env = "SWARMDESK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl RemoteArgs {
    fn remote(&self) -> anyhow::Result<Option<crate::client::Remote>> {
        match (&self.url, &self.token) {
            (Some(url), Some(token)) => Ok(Some(crate::client::Remote::new(url, token)?)),
            _ => Ok(None),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct RoutingArgs {
    /// The tiers, lowest first.
    #[arg(
        long,
        env = "SWARMDESK_TIERS",
        value_delimiter = ',',
        default_value = "L0,L1,L2,L3"
    )]
    pub tiers: Vec<String>,
    /// Tier for cases no rule matches.
    #[arg(long, env = "SWARMDESK_DEFAULT_TIER", default_value = "L1")]
    pub default_tier: String,
    /// Team for cases no rule matches.
    #[arg(long, env = "SWARMDESK_DEFAULT_TEAM", default_value = "general")]
    pub default_team: String,
    /// A `swarmdesk.toml` seeding the configuration (tiers, calendars, teams, agents,
    /// rules, SLA policies, customers, the skill map, the rapid-responder rotation) of a
    /// fresh store; ignored once the store has a configuration. See examples/swarmdesk.toml.
    #[arg(long, env = "SWARMDESK_CONFIG")]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SWARMDESK_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Load the sample data into an empty store first, and print demo tokens.
    #[arg(long)]
    pub demo: bool,
    /// An admin token accepted from start, for automation.
    #[arg(long, env = "SWARMDESK_BOOTSTRAP_TOKEN", hide_env_values = true)]
    pub bootstrap_token: Option<String>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "SWARMDESK_WORKERS", default_value_t = crate::server::default_workers())]
    pub workers: usize,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    pub max_body: usize,
    /// Sustained GraphQL requests per second per token.
    #[arg(long, env = "SWARMDESK_RATE_LIMIT", default_value_t = 500.0)]
    pub rate_limit: f64,
    /// WebSocket connections held at once; further upgrades get `503` (`UNAVAILABLE`).
    /// Keep it below the process's open-file limit.
    #[arg(long, env = "SWARMDESK_MAX_WEBSOCKETS", default_value_t = 50_000)]
    pub max_websockets: usize,
    /// The CPU priority (nice, 0-19) of the threads that write WebSocket frames
    /// (Linux): higher than 0 lets writes go first when subscribers keep the cores busy.
    #[arg(long, env = "SWARMDESK_WEBSOCKET_NICE",
          default_value_t = crate::http::takeover::DEFAULT_NICE,
          value_parser = clap::value_parser!(i32).range(0..=19))]
    pub websocket_nice: i32,
    /// Requests a token may burst above the sustained rate.
    #[arg(long, default_value_t = 1000.0)]
    pub rate_burst: f64,
    /// Deepest query nesting.
    #[arg(long, default_value_t = 12)]
    pub max_depth: usize,
    /// Highest query complexity (list fields count their `first`/`limit` times their
    /// selection); also the most fields a query may select with fragments expanded.
    #[arg(long, default_value_t = 5000)]
    pub max_complexity: usize,
    /// Seconds a query or mutation may run before it is answered with `TIMEOUT`.
    #[arg(long, default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds a client has to send a request's whole body (`408` beyond).
    #[arg(long, default_value_t = 10)]
    pub body_timeout: u64,
    /// An origin (`scheme://host[:port]`) whose pages may call the API from the
    /// browser (CORS). Repeat it, or separate origins with commas; none by default.
    #[arg(
        long = "cors-origin",
        env = "SWARMDESK_CORS_ORIGINS",
        value_delimiter = ',',
        value_parser = crate::http::cors::parse_origin
    )]
    pub cors_origins: Vec<String>,
    /// How log lines are written on stderr: `text`, or `json` (one object per line,
    /// each carrying its spans, so a request's lines carry its request id).
    #[arg(long, env = "SWARMDESK_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: crate::logging::LogFormat,
    /// Seconds after which an agent all of whose WebSocket connections are gone is
    /// marked AWAY (undone when they connect again).
    #[arg(long, env = "SWARMDESK_AWAY_AFTER", default_value_t = 300)]
    pub away_after: u64,
    /// Minutes a SEVERITY_1 swarm may go without a public reply to the customer
    /// before the scheduler records that a status update is due.
    #[arg(long, env = "SWARMDESK_STATUS_UPDATE_MINUTES", default_value_t = 30)]
    pub status_update_minutes: u64,
    #[command(flatten)]
    pub routing: RoutingArgs,
}

impl RoutingArgs {
    fn apply(&self, options: &mut ServerOptions) -> anyhow::Result<()> {
        let tiers = TierLadder::new(self.tiers.iter().cloned())?;
        let (tier, team) = (
            Some(self.default_tier.as_str()),
            Some(self.default_team.as_str()),
        );
        options.config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                crate::config::file::parse(&text, &tiers, tier, team)?
            }
            None => ConfigSeed::standard(tiers, tier, team),
        };
        // Fail at start, not at the first case, on a seed that does not hold together.
        options.config.events()?;
        Ok(())
    }
}

pub use crate::archive::ExportedEvent;

/// `--until`: a position, or an RFC 3339 time.
fn parse_until(s: &str) -> Result<Until, String> {
    if let Ok(p) = s.parse::<u64>() {
        return Ok(Until::Position(p));
    }
    Timestamp::parse_rfc3339(s)
        .map(Until::Time)
        .map_err(|e| format!("neither a position nor an RFC 3339 time ({e})"))
}

/// The log `--store` names (a PostgreSQL database), else the one in `--data`, opened
/// as `serve` opens it.
async fn open_store(
    data: &std::path::Path,
    store: Option<&str>,
) -> anyhow::Result<Arc<dyn EventStore>> {
    Ok(server::open_log(data, store).await?)
}

/// The sled data directory at `data`, whatever `--store` says (`migrate --from`).
fn open_sled(data: &PathBuf) -> anyhow::Result<Arc<dyn EventStore>> {
    Ok(Arc::new(SledStore::open(data, SledOptions::default())?))
}

impl Cli {
    /// `--store`, unless empty.
    fn store_url(&self) -> Option<&str> {
        self.store.as_deref().filter(|s| !s.is_empty())
    }

    /// The log the offline commands work on, for messages (no password).
    fn log_name(&self) -> String {
        match self.store_url() {
            Some(url) => crate::store::postgres::parse_url(url)
                .map(|c| crate::store::postgres::describe(&c))
                .unwrap_or_else(|_| "the PostgreSQL database".into()),
            None => self.data.display().to_string(),
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match execute(cli).await {
        // `swarmdesk export | head` closing the pipe early is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

async fn execute(cli: Cli) -> anyhow::Result<()> {
    let store_url = cli.store_url().map(str::to_string);
    let store = store_url.as_deref();
    let log_name = cli.log_name();
    match cli.command {
        Command::Serve(args) => {
            let mut options = ServerOptions::new(cli.data);
            args.routing.apply(&mut options)?;
            options.store = store_url;
            options.demo = args.demo;
            options.bootstrap_token = args.bootstrap_token.filter(|t| !t.is_empty());
            options.workers = args.workers;
            options.http_limits.body_bytes = args.max_body;
            options.http_limits.rate_per_second = args.rate_limit;
            options.http_limits.websocket_connections = args.max_websockets;
            options.http_limits.rate_burst = args.rate_burst;
            options.websocket_nice = args.websocket_nice;
            options.query_limits.depth = args.max_depth;
            options.query_limits.complexity = args.max_complexity;
            options.query_limits.timeout = Duration::from_secs(args.request_timeout.max(1));
            options.http_limits.body_timeout = Duration::from_secs(args.body_timeout.max(1));
            options.cors_origins = args.cors_origins;
            options.away_after = Duration::from_secs(args.away_after.max(1));
            options.status_update_interval =
                Duration::from_secs(args.status_update_minutes.max(1) * 60);
            let listener = TcpListener::bind(&args.addr)?;
            server::run(options, listener, server::signal()).await?;
        }
        Command::Verify => {
            let verified = match store {
                Some(_) => match open_store(&cli.data, store).await {
                    Ok(log) => {
                        let report = log.verify().await;
                        log.shutdown().await?;
                        report
                    }
                    Err(e) => {
                        eprintln!("cannot verify {log_name}: {e}");
                        std::process::exit(2);
                    }
                },
                None => {
                    let data = cli.data.clone();
                    tokio::task::spawn_blocking(move || crate::store::sled_store::verify_dir(&data))
                        .await?
                }
            };
            match verified {
                Ok(report) => {
                    println!("{}", report.summary());
                    if !report.is_ok() {
                        std::process::exit(1);
                    }
                }
                Err(e) => {
                    eprintln!("cannot verify {log_name}: {e}");
                    std::process::exit(2);
                }
            }
        }
        Command::Replay { until } => {
            let store = open_store(&cli.data, store).await?;
            let started = Instant::now();
            let p = match until {
                Some(until) => projections_until(store.as_ref(), until).await?,
                None => rebuild(store.as_ref()).await?,
            };
            let elapsed = started.elapsed();
            if until.is_none() {
                store
                    .save_snapshot(SNAPSHOT_NAME, encode_snapshot(&p))
                    .await?;
            } else {
                println!("as of position {}", p.position());
            }
            let s = p.stats();
            let rate = s.events as f64 / elapsed.as_secs_f64().max(1e-9);
            println!(
                "replayed {} events in {:.3} s ({:.0} events/s)",
                s.events,
                elapsed.as_secs_f64(),
                rate
            );
            println!(
                "cases {}  open {}  resolved {}  closed {}  active swarms {}",
                s.cases, s.open, s.resolved, s.closed, s.active_swarms
            );
            for (tier, len) in p.queue_lengths() {
                println!("queue {tier}: {len} open");
            }
            for (tier, n) in &s.resolved_by_tier {
                println!("resolved at {tier}: {n}");
            }
            store.shutdown().await?;
        }
        Command::Report {
            from,
            to,
            tier,
            team,
            format,
        } => {
            let time =
                |s: &str| Timestamp::parse_rfc3339(s).map_err(|e| anyhow::anyhow!("`{s}`: {e}"));
            let (from, to) = (time(&from)?, time(&to)?);
            if to <= from {
                anyhow::bail!("--to must be after --from");
            }
            let store = open_store(&cli.data, store).await?;
            let vault = crate::server::open_vault_of(&cli.data, store_url.as_deref())?;
            let tracks = crate::app::fold_log(store.as_ref(), from, to, Some(&vault)).await?;
            store.shutdown().await?;
            let scope = crate::report::Scope {
                tiers: (!tier.is_empty())
                    .then(|| tier.into_iter().map(crate::domain::Tier::new).collect()),
                teams: (!team.is_empty()).then(|| team.into_iter().collect()),
            };
            let targets = crate::report::default_targets();
            let r = crate::report::build(
                from,
                to,
                tracks,
                &scope,
                &targets,
                &|_| true,
                &crate::report::clear,
            );
            match format {
                ReportFormat::Table => print!("{}", crate::report::table::to_table(&r)),
                ReportFormat::Csv => print!("{}", crate::report::csv::to_csv(&r)),
                ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&r)?),
                ReportFormat::Html => print!("{}", crate::report::html::to_html(&r)),
            }
        }
        Command::Export {
            case,
            customer,
            from,
            to,
            opened,
            remote,
        } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            // Asked for, lines carry their personal fields opened too.
            let vault = match opened {
                true => Some(crate::server::open_vault_of(
                    &cli.data,
                    store_url.as_deref(),
                )?),
                false => None,
            };
            let mut write = |mut e: ExportedEvent| -> anyhow::Result<()> {
                if let Some(vault) = &vault {
                    e.open_personal(vault);
                }
                writeln!(out, "{}", serde_json::to_string(&e)?)?;
                Ok(())
            };
            if let Some(remote) = remote.remote()? {
                if customer.is_some() || from.is_some() || to.is_some() {
                    anyhow::bail!(
                        "--customer, --from and --to read a data directory; with --url, export \
                         the whole log or one --case"
                    );
                }
                remote.export(case.as_deref(), write).await?;
                out.flush()?;
                return Ok(());
            }
            let selection = crate::archive::Selection {
                case: case.as_deref().map(str::parse).transpose()?,
                customer,
                from,
                to,
            };
            let store = open_store(&cli.data, store).await?;
            let written = crate::archive::export(store.as_ref(), &selection, &mut write).await?;
            store.shutdown().await?;
            if written == 0 {
                if let Some(id) = selection.case {
                    anyhow::bail!("no case {id} in the log at {log_name}");
                }
                if let Some(id) = &selection.customer {
                    anyhow::bail!("no event of customer `{id}` in the log at {log_name}");
                }
            }
            out.flush()?;
        }
        Command::Import { file } => {
            let store = open_store(&cli.data, store).await?;
            let reader: Box<dyn BufRead> = match file {
                Some(f) => Box::new(std::io::BufReader::new(std::fs::File::open(f)?)),
                None => Box::new(std::io::BufReader::new(std::io::stdin())),
            };
            let done = crate::archive::import(store.as_ref(), reader, Timestamp::now()).await;
            store.shutdown().await?;
            let r = done?;
            println!(
                "imported {} events ({} hashes verified{})",
                r.imported,
                r.verified,
                if r.relocated {
                    "; written after this log's head, with their source positions and hashes \
                     kept in EventsImported events"
                } else {
                    ""
                }
            );
        }
        Command::Migrate { from, to } => {
            let from = from.unwrap_or(cli.data);
            let source = open_sled(&from)?;
            let target = crate::store::postgres::PgStore::open(
                &to,
                crate::store::postgres::PgOptions::default(),
            )
            .await?;
            let total = source.head();
            let copied = crate::store::copy::copy_log(source.as_ref(), &target, |head| {
                eprintln!("copied {head} of {total} events");
            })
            .await?;
            let keys = crate::store::copy::copy_idempotency_keys(source.as_ref(), &target).await?;
            // The customers' data keys go with the log, wrapped as they are.
            let data_keys = crate::shred::Vault::copy_keys_to_postgres(&from, &to, |name| {
                std::env::var(name).ok()
            })?;
            let head = target.log_head().await?;
            let hash = head
                .hash
                .as_ref()
                .map_or("none".into(), crate::store::chain::hex);
            target.shutdown().await?;
            source.shutdown().await?;
            println!(
                "copied {copied} events, {keys} idempotency keys and {data_keys} data keys from {} \
                 to {}; log head {} (hash {hash})",
                from.display(),
                crate::store::postgres::describe(&crate::store::postgres::parse_url(&to)?),
                head.position
            );
        }
        Command::Demo { cases, routing } => {
            let store = open_store(&cli.data, store).await?;
            let mut options = ServerOptions::new(cli.data.clone());
            routing.apply(&mut options)?;
            let before = store.head();
            let vault = server::open_vault_of(&cli.data, store_url.as_deref())?;
            server::load_demo(store.clone(), &options, cases, vault).await?;
            println!(
                "appended {} events (log head {})",
                store.head() - before,
                store.head()
            );
            store.shutdown().await?;
        }
        Command::Schema => print!("{}", crate::api::sdl()),
        Command::Token {
            action: TokenAction::List { remote },
        } if remote.url.is_some() => {
            let remote = remote.remote()?.expect("a URL and a token");
            print_token_header();
            for (id, role, user, tiers, expires) in remote.tokens().await? {
                print_token(
                    &id,
                    &role,
                    &user,
                    &tiers,
                    &expires.unwrap_or("never".into()),
                );
            }
        }
        Command::Token { action } => {
            let mut options = ServerOptions::new(cli.data);
            options.store = store_url;
            let app = server::open_app(&options).await?;
            let admin = Actor::new("cli", Role::Admin)?;
            let done = match action {
                TokenAction::Create {
                    role,
                    user,
                    tiers,
                    expires_at,
                } => {
                    let expires = expires_at
                        .map(|t| Timestamp::parse_rfc3339(&t))
                        .transpose()?;
                    let user = AgentId::new(user)?;
                    let role: Role = role.parse()?;
                    if role == Role::System {
                        anyhow::bail!("tokens cannot act as the system");
                    }
                    app.issue_token(&admin, user, role, tiers, expires)
                        .await
                        .map(|(token, id)| println!("token {id} {token}"))
                }
                TokenAction::Revoke { id } => app
                    .revoke_token(&admin, &id)
                    .await
                    .map(|()| println!("revoked {id}")),
                TokenAction::List { .. } => {
                    let now = app.clock().now();
                    print_token_header();
                    for t in app.tokens().list() {
                        let tiers: Vec<String> =
                            t.grant.tiers.iter().map(|t| t.to_string()).collect();
                        let expires = match t.grant.expires_at {
                            None => "never".to_string(),
                            Some(at) if at <= now => format!("{} (expired)", at.to_rfc3339()),
                            Some(at) => at.to_rfc3339(),
                        };
                        print_token(
                            &t.token_id,
                            t.grant.actor.role.as_str(),
                            t.grant.actor.id.as_str(),
                            &tiers,
                            &expires,
                        );
                    }
                    Ok(())
                }
            };
            server::close_app(app).await?;
            done?;
        }
    }
    Ok(())
}

fn print_token_header() {
    println!(
        "{:<26}  {:<8} {:<20} {:<12} EXPIRES",
        "ID", "ROLE", "USER", "TIERS"
    );
}

fn print_token(id: &str, role: &str, user: &str, tiers: &[String], expires: &str) {
    let tiers = if tiers.is_empty() {
        "-".to_string()
    } else {
        tiers.join(",")
    };
    println!("{id:<26}  {role:<8} {user:<20} {tiers:<12} {expires}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `serve --help` names every section a `swarmdesk.toml` may hold.
    #[test]
    fn config_help_lists_every_seed_section() {
        let mut cli = Cli::command();
        let serve = cli.find_subcommand_mut("serve").expect("a serve command");
        let help = serve.render_long_help().to_string();
        let after = help
            .split("--config")
            .nth(1)
            .expect("serve documents --config");
        // Its own entry only (up to the next option), with line breaks undone.
        let config = after
            .split("\n  -")
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for section in [
            "tiers",
            "calendars",
            "teams",
            "agents",
            "rules",
            "SLA policies",
            "customers",
            "skill map",
        ] {
            assert!(
                config.contains(section),
                "--config help does not mention {section}: {config}"
            );
        }
    }
}
