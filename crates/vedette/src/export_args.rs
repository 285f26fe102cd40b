//! `vedette serve` export and observability: `--export` sinks (each fed by its own supervised
//! worker from the store's outbox), the log format shared by every subcommand, and serve's
//! `--watch` ingest with its counters in /metrics.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use vedette_export::pump::{self, PumpConfig, SinkPump};
use vedette_export::{Sink, SinkSpec};
use vedette_ingest::watch::{Watcher, sleep_unless_cancelled};
use vedette_ingest::{IngestOptions, Summary};
use vedette_remote::Remote;
use vedette_store::Store;
use vedette_supervisor::{CancellationToken, Supervisor};

/// How often the outbox's size is logged while something waits.
const OUTBOX_LOG_EVERY: Duration = Duration::from_secs(60);

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Deliver findings as EventBridge events ("GuardDuty Finding") to SINK; repeatable.
    /// SINK: `stdout`, `file:PATH` (JSON lines, appended, fsync'ed), `webhook:http://HOST[:PORT]/PATH`
    /// (one POST per event, retried), `s3://BUCKET[/PREFIX]` (gzipped JSON lines under
    /// AWSLogs/…, through --s3-endpoint). New findings go out at once, updates at the detector's
    /// findingPublishingFrequency, archived findings never; delivery is at-least-once.
    #[arg(long = "export", value_name = "SINK", value_parser = SinkSpec::parse)]
    pub export: Vec<SinkSpec>,
    /// Longest wait between retries of a failing sink (ms); the wait doubles from 500 ms per
    /// failure, with jitter.
    #[arg(long, env = "VEDETTE_EXPORT_MAX_BACKOFF_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub export_max_backoff_ms: u64,
    /// How often a sink that is up to date looks for new events (ms).
    #[arg(long, env = "VEDETTE_EXPORT_POLL_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub export_poll_ms: u64,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, message and fields).
    Json,
}

/// Logs to standard error (standard output stays for data: `--export stdout`, command output).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VEDETTE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        // Colour only on a terminal: logs redirected to a file stay plain text.
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
    }
}

/// Registers each sink's outbox consumer (forgetting sinks configured by an earlier start but not
/// this one) and starts its worker under `supervisor`, with the outbox logger. `remote` serves
/// `s3://` sinks. A stopped sink abandons the delivery in flight: unacknowledged events go out
/// after the next start.
pub async fn start_exports(
    args: &ExportArgs,
    store: Arc<dyn Store>,
    remote: Arc<Remote>,
    supervisor: &Supervisor,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // The recorder first: what the pumps count from now on is in /metrics.
    vedette_wire::metrics::prometheus();
    let mut specs: Vec<SinkSpec> = Vec::new();
    for spec in &args.export {
        if !specs.contains(spec) {
            specs.push(spec.clone());
        }
    }
    let wanted: Vec<String> = specs.iter().map(SinkSpec::consumer_name).collect();
    let registered = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.consumers()).await??
    };
    for (name, _) in registered.into_iter().filter(|(n, _)| n.starts_with("sink:") && !wanted.contains(n)) {
        // A sink dropped from the command line: its undelivered events are dropped with it.
        let store = store.clone();
        let consumer = name.clone();
        tokio::task::spawn_blocking(move || store.unregister_consumer(&consumer)).await??;
        tracing::info!(consumer = %name, "export: sink no longer configured; forgotten");
    }
    let config = PumpConfig {
        poll: Duration::from_millis(args.export_poll_ms),
        max_backoff: Duration::from_millis(args.export_max_backoff_ms),
        ..PumpConfig::default()
    };
    let mut pumps = Vec::new();
    for spec in specs {
        let sink = Sink::new(&spec, Some(remote.clone())).map_err(|e| format!("--export {spec}: {e}"))?;
        let pump = SinkPump::start(store.clone(), spec.clone(), sink, config.clone())
            .await
            .map_err(|e| format!("--export {spec}: cannot register the sink: {e}"))?;
        pumps.push((spec, pump));
    }
    // Every sink registered before any starts: a bad one fails the start with none running.
    for (spec, pump) in pumps {
        supervisor.spawn(format!("export {spec}"), move |stop| pump.run(stop))?;
    }
    supervisor.spawn("outbox log", move |stop| pump::log_outbox(store, OUTBOX_LOG_EVERY, stop))?;
    Ok(())
}

/// Counters of serve's `--watch` ingest (a `vedette ingest` process reports in its summary).
pub mod ingest_metrics {
    pub const EVENTS: &str = "vedette_ingest_events_total";
    /// Label `reason`.
    pub const SKIPPED: &str = "vedette_ingest_events_skipped_total";
    pub const BAD_RECORDS: &str = "vedette_ingest_bad_records_total";
    pub const FILES: &str = "vedette_ingest_files_total";
    pub const FINDINGS_CREATED: &str = "vedette_findings_created_total";
    pub const FINDINGS_UPDATED: &str = "vedette_findings_updated_total";
}

fn record_ingest(summary: &Summary) {
    use ingest_metrics::*;
    metrics::counter!(FILES).increment(summary.sources);
    metrics::counter!(EVENTS).increment(summary.events);
    metrics::counter!(BAD_RECORDS).increment(summary.bad_records);
    metrics::counter!(FINDINGS_CREATED).increment(summary.findings_created);
    metrics::counter!(FINDINGS_UPDATED).increment(summary.findings_updated);
    for (reason, n) in &summary.skipped {
        metrics::counter!(SKIPPED, "reason" => reason.clone()).increment(*n);
    }
    let no_detector: u64 = summary.skipped_scopes.values().sum();
    if no_detector > 0 {
        metrics::counter!(SKIPPED, "reason" => "no_enabled_detector").increment(no_detector);
    }
}

/// `vedette_ingest::watch::watch` with each run's counters recorded for /metrics: polls `dir`
/// every `interval` until `cancel` is cancelled.
pub fn watch_recording_metrics(store: &dyn Store, dir: &Path, options: &IngestOptions, interval: Duration, cancel: CancellationToken) {
    vedette_wire::metrics::prometheus();
    let options = IngestOptions { cancel: cancel.clone(), ..options.clone() };
    let mut watcher = Watcher::default();
    // Registered at zero so that a scrape before the first file shows them.
    for name in [ingest_metrics::EVENTS, ingest_metrics::FINDINGS_CREATED, ingest_metrics::FINDINGS_UPDATED] {
        metrics::counter!(name).absolute(0);
    }
    tracing::info!(dir = %dir.display(), interval_ms = interval.as_millis() as u64, "watch: started");
    while !cancel.is_cancelled() {
        match watcher.poll(store, dir, &options, interval) {
            Ok(Some(summary)) => record_ingest(&summary),
            Ok(None) => {}
            Err(e) => tracing::error!("watch: {e}; retrying on the next poll"),
        }
        sleep_unless_cancelled(interval, &cancel);
    }
    tracing::info!(dir = %dir.display(), "watch: stopped");
}
