//! `vedette serve`: the GuardDuty REST-JSON API over the embedded store.
//!
//! Every background worker (the `--watch` ingest, `--export` sinks, publishing destinations,
//! retention) runs under one [`Supervisor`]. On SIGINT or SIGTERM the HTTP server stops accepting
//! and lets requests in flight finish, then the supervisor cancels the workers and waits for
//! them; both within `--shutdown-timeout` of the signal. Workers still running then are logged and
//! abandoned: what they leave (ingest progress, outbox cursors) is resumed by the next start.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vedette_ingest::{IngestOptions, watch};
use vedette_store::{SqliteStore, Store};
use vedette_supervisor::{CancellationToken, ShutdownReport, Supervisor};
use vedette_wire::{AppState, AuthConfig, Credentials, ServerLimits, auth, server};

use crate::{CliResult, DEFAULT_LISTEN, DataDirArg};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthModeArg {
    /// Verify every request's SigV4 signature against --credentials.
    Sigv4,
    /// Local testing: accept any well-formed SigV4 request as --default-account; enables
    /// `POST /_vedette/reset` (alias `POST /moto-api/reset`), which wipes all state.
    Any,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// Address to listen on (port 0 picks a free port; the address is printed on stderr).
    #[arg(long, env = "VEDETTE_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// TOML credentials file: `[[credentials]]` tables of access_key_id, secret_access_key,
    /// account_id. Required with --auth sigv4.
    #[arg(long, env = "VEDETTE_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
    /// How callers are authenticated.
    #[arg(long, value_enum, env = "VEDETTE_AUTH", default_value = "sigv4")]
    pub auth: AuthModeArg,
    /// The account every caller is under --auth any.
    #[arg(long, env = "VEDETTE_DEFAULT_ACCOUNT", default_value = auth::DEFAULT_ACCOUNT)]
    pub default_account: String,
    /// Ingest CloudTrail logs under DIR continuously: new files, and JSON-lines files that grow,
    /// are picked up within a few seconds (the tree is polled). Files still being written are
    /// read once they stop changing, and read on if they grow.
    #[arg(long, value_name = "DIR")]
    pub watch: Option<PathBuf>,
    /// With --watch: create an enabled detector for every account and Region seen in the watched
    /// logs that has none.
    #[arg(long, requires = "watch")]
    pub watch_create_detectors: bool,
    /// With --watch: how often the tree is polled, in milliseconds.
    #[arg(long, requires = "watch", default_value_t = watch::DEFAULT_POLL.as_millis() as u64, value_parser = clap::value_parser!(u64).range(50..))]
    pub watch_interval_ms: u64,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub remote: crate::remote_args::RemoteArgs,
    /// Feeds, AWS ranges and GeoIP for the --watch ingest.
    #[command(flatten)]
    pub intel: crate::intel_args::IntelArgs,
    #[command(flatten)]
    pub export: crate::export_args::ExportArgs,
    /// Seconds from SIGINT/SIGTERM to exit: requests in flight finish, then background workers
    /// (watch, exports, publishing, retention) stop. Whatever is still running then is abandoned
    /// (and named in the log; the exit status is 1) and resumed at the next start.
    #[arg(long, env = "VEDETTE_SHUTDOWN_TIMEOUT", default_value_t = DEFAULT_SHUTDOWN_TIMEOUT.as_secs_f64(), value_parser = positive_seconds)]
    pub shutdown_timeout: f64,
}

/// Default `--shutdown-timeout`; set it below the time a service manager waits after SIGTERM
/// before it kills.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Connection limits: what one client may hold or send (see vedette_wire::server).
#[derive(clap::Args, Debug)]
pub struct LimitArgs {
    /// Largest request body in bytes (larger: 413).
    #[arg(long, env = "VEDETTE_MAX_BODY_BYTES", default_value_t = server::DEFAULT_BODY_LIMIT, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1024..))]
    pub max_body_bytes: usize,
    /// Largest request head (request line + headers) in bytes (larger: 431).
    #[arg(long, env = "VEDETTE_MAX_HEADER_BYTES", default_value_t = server::DEFAULT_MAX_HEADER_BYTES, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1024..=server::MAX_HEADER_BYTES_CEILING as u64))]
    pub max_header_bytes: usize,
    /// Most headers in one request (more: 431).
    #[arg(long, env = "VEDETTE_MAX_HEADERS", default_value_t = server::DEFAULT_MAX_HEADER_COUNT, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(8..=1000))]
    pub max_headers: usize,
    /// Seconds a client has to send a request head once it started (then the connection closes).
    #[arg(long, env = "VEDETTE_HEADER_TIMEOUT", default_value_t = server::DEFAULT_HEADER_READ_TIMEOUT.as_secs_f64(), value_parser = positive_seconds)]
    pub header_timeout: f64,
    /// Seconds a client has to send a request body after its head (then 408).
    #[arg(long, env = "VEDETTE_BODY_TIMEOUT", default_value_t = server::DEFAULT_BODY_READ_TIMEOUT.as_secs_f64(), value_parser = positive_seconds)]
    pub body_timeout: f64,
    /// Seconds a keep-alive connection may sit without a request before it is closed.
    #[arg(long, env = "VEDETTE_IDLE_TIMEOUT", default_value_t = server::DEFAULT_IDLE_TIMEOUT.as_secs_f64(), value_parser = positive_seconds)]
    pub idle_timeout: f64,
    /// Connections served at once; further clients wait to be accepted. Each takes a file
    /// descriptor: keep it below the open-file limit (`ulimit -n`).
    #[arg(long, env = "VEDETTE_MAX_CONNECTIONS", default_value_t = server::DEFAULT_MAX_CONNECTIONS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_connections: usize,
}

impl LimitArgs {
    pub fn limits(&self) -> ServerLimits {
        ServerLimits {
            max_body_bytes: self.max_body_bytes,
            max_header_bytes: self.max_header_bytes,
            max_header_count: self.max_headers,
            header_read_timeout: Duration::from_secs_f64(self.header_timeout),
            body_read_timeout: Duration::from_secs_f64(self.body_timeout),
            idle_timeout: Duration::from_secs_f64(self.idle_timeout),
            max_connections: self.max_connections,
        }
    }
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("expected seconds in (0, 86400], got {s:?}")),
    }
}

fn auth_config(args: &ServeArgs) -> Result<AuthConfig, Box<dyn std::error::Error + Send + Sync>> {
    match args.auth {
        AuthModeArg::Sigv4 => {
            let path = args.credentials.as_ref().ok_or("--auth sigv4 needs --credentials FILE (or use --auth any for local testing)")?;
            let credentials = Credentials::load(path)?;
            if credentials.is_empty() {
                return Err(format!("{}: no [[credentials]] entries: nobody could call the API", path.display()).into());
            }
            Ok(AuthConfig::sigv4(credentials))
        }
        AuthModeArg::Any => {
            if !auth::is_account_id(&args.default_account) {
                return Err(format!("--default-account must be 12 digits, got {:?}", args.default_account).into());
            }
            Ok(AuthConfig::any(args.default_account.clone()))
        }
    }
}

pub fn run(args: ServeArgs) -> CliResult {
    let auth = auth_config(&args)?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&args.data.data_dir).map_err(|e| format!("cannot open the store in {}: {e}", args.data.data_dir.display()))?);
    let remote = args.remote.remote()?;
    let supervisor = Supervisor::new();
    let state = AppState::with_limits(store.clone(), auth, args.limits.limits()).with_remote(remote).with_supervisor(supervisor.clone());
    // Feeds and databases are read (and their errors reported) before anything starts.
    let watch_options = match &args.watch {
        Some(_) => Some(args.intel.apply(IngestOptions { create_detectors: args.watch_create_detectors, ..Default::default() })?),
        None => None,
    };
    let bound = Duration::from_secs_f64(args.shutdown_timeout);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (served, report, deadline) = runtime.block_on(async {
        let served = serve(&args, watch_options, store, state, &supervisor, bound).await;
        // However serving ended (a signal, or a failure to start), every worker is stopped.
        let deadline = served.as_ref().map_or_else(|_| Instant::now() + bound, |signalled| *signalled + bound);
        let report = supervisor.shutdown(deadline.saturating_duration_since(Instant::now())).await;
        (served, report, deadline)
    });
    // Left on the runtime now: store calls of stopped workers finishing (each a short
    // transaction), tasks of abandoned workers. They get what remains of the bound.
    runtime.shutdown_timeout(deadline.saturating_duration_since(Instant::now()));
    served?;
    Ok(exit_code(&report))
}

/// Serves until SIGINT or SIGTERM and the HTTP server has drained (or `bound` has passed since
/// the signal); returns when the signal came. The workers are left to the caller to stop.
async fn serve(
    args: &ServeArgs,
    watch_options: Option<IngestOptions>,
    store: Arc<dyn Store>,
    state: AppState,
    supervisor: &Supervisor,
    bound: Duration,
) -> Result<Instant, Box<dyn std::error::Error + Send + Sync>> {
    let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    // Sinks are registered before anything raises findings (the watcher, the API): what happens
    // next is exported.
    crate::export_args::start_exports(&args.export, store.clone(), state.remote().clone(), supervisor).await?;
    if let (Some(dir), Some(options)) = (&args.watch, watch_options) {
        let (dir, store) = (dir.clone(), store.clone());
        let interval = Duration::from_millis(args.watch_interval_ms);
        // A thread of its own: ingest is blocking work that stops at its token between records,
        // commits and returns (the next start resumes there).
        supervisor.spawn_blocking_worker("vedette-watch", move |stop| {
            crate::export_args::watch_recording_metrics(store.as_ref(), &dir, &options, interval, stop)
        })?;
    }
    let mode = match args.auth {
        AuthModeArg::Sigv4 => "sigv4".to_string(),
        AuthModeArg::Any => format!("any (account {})", args.default_account),
    };
    let watching = args.watch.as_ref().map(|d| format!(", watching {}", d.display())).unwrap_or_default();
    eprintln!("vedette listening on http://{addr} (auth: {mode}, data: {}{watching})", args.data.data_dir.display());
    // IPSet / ThreatIntelSet transitions a previous run left unfinished.
    let resumed = state.service().resume_list_transitions().await?;
    if resumed > 0 {
        tracing::info!(lists = resumed, "resumed unfinished list transitions");
    }
    // Publishing destinations (CreatePublishingDestination): a write cut short by a stop goes out
    // after the next start.
    let publisher = vedette_export::destinations::DestinationPublisher::new(store.clone(), (**state.remote()).clone(), Default::default());
    supervisor.spawn("publishing destinations", move |stop| publisher.run(stop))?;
    // Findings past the 90-day retention.
    supervisor.spawn("retention", move |stop| crate::retention::run(store, stop))?;

    // The HTTP server's own stop: it drains before the workers are told to stop.
    let stop_serving = CancellationToken::new();
    let server = vedette_wire::run(listener, state, stop_serving.clone().cancelled_owned());
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => {
            served?;
            return Err("the HTTP server stopped by itself".into());
        }
        _ = shutdown_signal() => {}
    }
    let signalled = Instant::now();
    stop_serving.cancel();
    match tokio::time::timeout(bound, &mut server).await {
        Ok(served) => served?,
        Err(_) => {
            tracing::error!(bound_ms = bound.as_millis() as u64, "requests still in flight at the shutdown bound; their connections are dropped")
        }
    }
    Ok(signalled)
}

/// 0 when every worker ended by itself within the bound; 1 (and a log line naming them) when
/// some had to be abandoned or had failed while running.
fn exit_code(report: &ShutdownReport) -> std::process::ExitCode {
    for failed in &report.failed {
        tracing::error!(worker = %failed.name, "stopped; the worker had {}", failed.failure);
    }
    if report.is_clean() {
        tracing::info!(waited_ms = report.waited.as_millis() as u64, "stopped");
        std::process::ExitCode::SUCCESS
    } else {
        tracing::error!(abandoned = ?report.abandoned, failed = report.failed.len(), "stopped, not cleanly");
        std::process::ExitCode::FAILURE
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; stopping on SIGINT only");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => tracing::info!("SIGINT: shutting down"),
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
