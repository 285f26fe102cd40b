//! The floor for flow-log and query-log ingest: read each file, gunzip it (flate2, zlib-rs
//! backend, into one buffer reused per thread), split it into lines and parse every line into
//! Vedette's own record type — `vedette_domain::flow::FlowReader` (header lines set the layout,
//! records become `FlowRecord`s) or `vedette_domain::dns::parse_query_record` (`QueryLogRecord`).
//! No routing, detection or store. One worker thread per `--threads`; prints one JSON line.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use clap::{Parser, ValueEnum};
use flate2::read::MultiGzDecoder;
use vedette_domain::dns::parse_query_record;
use vedette_domain::flow::{FlowLine, FlowReader, ReadLine};

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Flow,
    Dns,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    kind: Kind,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Files, or directories walked for `*.log.gz` / `*.log`.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// Every `.log.gz` / `.log` file under `paths`, sorted.
pub fn log_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                walk(&path, out);
            } else if name.ends_with(".log.gz") || name.ends_with(".log") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out);
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out
}

fn main() {
    let args = Args::parse();
    let files = log_files(&args.paths);
    let next = AtomicUsize::new(0);
    let (events, bad, raw_bytes, gz_bytes) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    // NODATA / SKIPDATA rows: parsed (and counted in `events`), but Vedette does not count them.
    let no_data_rows = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.threads.max(1) {
            scope.spawn(|| {
                let mut text = Vec::with_capacity(16 << 20);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let compressed = std::fs::read(path).expect("read object");
                    text.clear();
                    if compressed.starts_with(&[0x1f, 0x8b]) {
                        MultiGzDecoder::new(&compressed[..]).read_to_end(&mut text).expect("gunzip");
                    } else {
                        text.extend_from_slice(&compressed);
                    }
                    let (mut n, mut wrong, mut no_data) = (0u64, 0u64, 0u64);
                    let mut reader = FlowReader::default();
                    for line in text.split(|b| *b == b'\n') {
                        match args.kind {
                            Kind::Flow => match reader.read_bytes(line) {
                                Ok(ReadLine::Line(record)) => {
                                    no_data += u64::from(matches!(record, FlowLine::Skipped(_)));
                                    std::hint::black_box(&record);
                                    n += 1;
                                }
                                Ok(ReadLine::Header | ReadLine::Blank) => {}
                                Err(_) => wrong += 1,
                            },
                            Kind::Dns => {
                                if line.iter().all(u8::is_ascii_whitespace) {
                                    continue;
                                }
                                match parse_query_record(line) {
                                    Ok(record) => {
                                        std::hint::black_box(&record);
                                        n += 1;
                                    }
                                    Err(_) => wrong += 1,
                                }
                            }
                        }
                    }
                    events.fetch_add(n, Ordering::Relaxed);
                    bad.fetch_add(wrong, Ordering::Relaxed);
                    no_data_rows.fetch_add(no_data, Ordering::Relaxed);
                    raw_bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
                    gz_bytes.fetch_add(compressed.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let events = events.into_inner();
    let raw = raw_bytes.into_inner();
    println!(
        "{}",
        serde_json::json!({
            "files": files.len(),
            "threads": args.threads,
            "events": events,
            "bad": bad.into_inner(),
            "noDataRows": no_data_rows.into_inner(),
            "uncompressedBytes": raw,
            "compressedBytes": gz_bytes.into_inner(),
            "seconds": secs,
            "eventsPerSec": events as f64 / secs,
            "uncompressedMBPerSec": raw as f64 / 1e6 / secs,
            "peakRssKiB": vedette_bench::own_peak_rss_kib(),
        })
    );
}
