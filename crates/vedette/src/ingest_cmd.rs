//! `vedette ingest`: one-shot ingestion of CloudTrail logs into the data directory. Safe while
//! `vedette serve` runs on the same directory (SQLite WAL): new findings show up in the API.
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use vedette_ingest::{IngestOptions, Summary, ingest_paths};
use vedette_store::SqliteStore;

use crate::{CliResult, DataDirArg};

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// CloudTrail log files (.json, .json.gz, JSON lines), directories to walk (an AWSLogs/
    /// tree as delivered to S3), or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Parse and detection threads (one more thread writes to the store).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: u16,
    /// Records per store transaction (tuning; smaller = progress recorded more often).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_records: u64,
    /// Create an enabled detector (default configuration) for every account and Region seen in
    /// the input that has none, before its records are analysed.
    #[arg(long)]
    pub create_detectors: bool,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub intel: crate::intel_args::IntelArgs,
}

pub fn run(args: IngestArgs) -> CliResult {
    let data_dir = &args.data.data_dir;
    let store = SqliteStore::open(data_dir).map_err(|e| format!("cannot open the store in {}: {e}", data_dir.display()))?;
    let options = args.intel.apply(IngestOptions {
        threads: args.threads.into(),
        batch_records: args.batch_records,
        chunk_records: args.batch_records.min(IngestOptions::default().chunk_records),
        create_detectors: args.create_detectors,
        ..Default::default()
    })?;
    let bar = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let started = Instant::now();
    let summary = ingest_paths(&store, &args.paths, &options, &mut |p| {
        if let Some(bar) = &bar {
            bar.set_length(p.bytes_total);
            bar.set_position(p.bytes_done);
            bar.set_message(format!("{} events, {}/{} files", p.events, p.sources_done, p.sources_total));
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = summary?;
    let elapsed = started.elapsed();
    // The run's counters as one structured log record (`--log-format json`), beside the summary.
    tracing::info!(
        files = summary.sources,
        events = summary.events,
        skipped = summary.skipped.values().sum::<u64>() + summary.skipped_scopes.values().sum::<u64>(),
        bad_records = summary.bad_records,
        findings_created = summary.findings_created,
        findings_updated = summary.findings_updated,
        problems = summary.problems_total,
        seconds = elapsed.as_secs_f64(),
        "ingest: done"
    );
    if args.json {
        let _ = writeln!(std::io::stdout().lock(), "{}", summary_json(&summary, elapsed));
    } else {
        print_summary(&summary, elapsed);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn summary_json(s: &Summary, elapsed: Duration) -> serde_json::Value {
    serde_json::json!({
        "files": s.sources,
        "filesResumed": s.sources_resumed,
        "filesReread": s.sources_reread,
        "filesAlreadyIngested": s.sources_already_ingested,
        "filesIncomplete": s.sources_incomplete,
        "filesIngestedElsewhere": s.sources_ingested_elsewhere,
        "digestFilesSkipped": s.digest_files_skipped,
        "bytes": s.bytes,
        "events": s.events,
        "eventsAlreadyAnalysed": s.events_already_analysed,
        "skipped": s.skipped,
        "skippedByScope": s.skipped_scopes,
        "badRecords": s.bad_records,
        "occurrences": s.occurrences,
        "findingsCreated": s.findings_created,
        "findingsUpdated": s.findings_updated,
        "problems": s.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "problemsTotal": s.problems_total,
        "interrupted": s.interrupted,
        "detectorsCreated": s.detectors_created,
        "seconds": elapsed.as_secs_f64(),
    })
}

fn print_summary(s: &Summary, elapsed: Duration) {
    // A closed stdout (`| head`) is not an error worth a panic: write errors are ignored.
    let mut out = std::io::stdout().lock();
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { s.events as f64 / secs } else { 0.0 };
    let _ = writeln!(out, "ingested {} file(s), {:.1} MB, {} events in {secs:.2} s ({rate:.0} events/s)", s.sources, s.bytes as f64 / 1e6, s.events);
    if s.sources_resumed > 0 {
        let _ = writeln!(out, "  resumed where an earlier run stopped: {} file(s)", s.sources_resumed);
    }
    if s.sources_reread > 0 {
        let _ = writeln!(
            out,
            "  read again for detectors that had not analysed them: {} file(s) ({} events their detector already had)",
            s.sources_reread, s.events_already_analysed
        );
    }
    if s.sources_already_ingested > 0 {
        let _ = writeln!(out, "  already ingested (unchanged, not read again): {} file(s)", s.sources_already_ingested);
    }
    if s.sources_incomplete > 0 {
        let _ = writeln!(out, "  ending inside a record (still being written?), read on next time: {} file(s)", s.sources_incomplete);
    }
    if !s.sources_ingested_elsewhere.is_empty() {
        let _ = writeln!(
            out,
            "  {} source(s) being ingested by another process, skipped (run again once it has finished: what it leaves is read then)",
            s.sources_ingested_elsewhere.len()
        );
        for source in &s.sources_ingested_elsewhere {
            let _ = writeln!(out, "    {source}");
        }
    }
    if s.digest_files_skipped > 0 {
        let _ = writeln!(out, "  CloudTrail digest files skipped: {}", s.digest_files_skipped);
    }
    for (scope, id) in &s.detectors_created {
        let _ = writeln!(out, "  detector created for {scope}: {id}");
    }
    for (reason, n) in &s.skipped {
        let _ = writeln!(out, "  events skipped, {reason}: {n}");
    }
    for (scope, n) in &s.skipped_scopes {
        let _ = writeln!(out, "    {scope}: {n} (create a detector there to analyse them)");
    }
    if s.bad_records > 0 {
        let _ = writeln!(out, "  bad records (not usable CloudTrail): {}", s.bad_records);
    }
    let _ = writeln!(out, "  findings: {} created, {} updated ({} occurrences)", s.findings_created, s.findings_updated, s.occurrences);
    if s.problems_total > 0 {
        let _ = writeln!(out, "problems ({}):", s.problems_total);
        for p in &s.problems {
            let _ = writeln!(out, "  {p}");
        }
        if s.problems_total > s.problems.len() as u64 {
            let _ = writeln!(out, "  ... and {} more", s.problems_total - s.problems.len() as u64);
        }
    }
    if s.interrupted {
        let _ = writeln!(out, "interrupted: run the same command again to continue where it stopped");
    }
}
