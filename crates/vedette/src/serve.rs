//! `vedette serve`: the GuardDuty REST-JSON API over the embedded store.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use vedette_ingest::{watch, IngestOptions};
use vedette_store::{SqliteStore, Store};
use vedette_wire::{AppState, AuthConfig, Credentials, auth};

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
    pub remote: crate::remote_args::RemoteArgs,
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
    let state = AppState::new(store.clone(), auth).with_remote(remote);
    // Set when the server is told to stop: the watcher finishes its current record, commits and
    // returns (the next start resumes there).
    let stop = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let watcher = match &args.watch {
        Some(dir) => {
            let (dir, stop, store) = (dir.clone(), stop.clone(), store.clone());
            let options = IngestOptions { create_detectors: args.watch_create_detectors, ..Default::default() };
            let interval = std::time::Duration::from_millis(args.watch_interval_ms);
            Some(
                std::thread::Builder::new()
                    .name("vedette-watch".into())
                    .spawn(move || watch::watch(store.as_ref(), &dir, &options, interval, stop))?,
            )
        }
        None => None,
    };
    let signal_stop = stop.clone();
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener.local_addr()?;
        let mode = match args.auth {
            AuthModeArg::Sigv4 => "sigv4".to_string(),
            AuthModeArg::Any => format!("any (account {})", args.default_account),
        };
        let watching = args.watch.as_ref().map(|d| format!(", watching {}", d.display())).unwrap_or_default();
        eprintln!("vedette listening on http://{addr} (auth: {mode}, data: {}{watching})", args.data.data_dir.display());
        // IPSet / ThreatIntelSet transitions a previous run left unfinished.
        let resumed = vedette_wire::ops::lists::resume_pending(&state).await?;
        if resumed > 0 {
            tracing::info!(lists = resumed, "resumed unfinished list transitions");
        }
        let shutdown = async move {
            shutdown_signal().await;
            signal_stop.store(true, Ordering::Relaxed);
        };
        vedette_wire::run(listener, state, shutdown).await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    });
    // However the server ended, the watcher stops with it.
    stop.store(true, Ordering::Relaxed);
    if let Some(watcher) = watcher
        && watcher.join().is_err()
    {
        tracing::error!("the watch thread panicked");
    }
    served?;
    tracing::info!("stopped");
    Ok(std::process::ExitCode::SUCCESS)
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
