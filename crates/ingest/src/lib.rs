//! Log readers: CloudTrail as CloudTrail delivers it, VPC flow logs, Route 53 Resolver query logs,
//! JSON lines, stdin; detection; store writes.
//!
//! A run reads [`Source`]s (files and stdin today, found by [`discover()`] from the paths given)
//! through a small pipeline (`pipeline`): worker threads (two by default) each take a whole
//! source, parse its records (`reader`), route them to detectors (`router`), run detection
//! and pre-merge repeats of a finding (`analyze`); one writer (the calling thread) gathers
//! their chunks and commits them in batches (`batch`): findings, every source's progress and the
//! detection state the findings came from in one transaction.
//!
//! Exactly-once, per detector: each detector consumes each source once. The store holds how far
//! each source has been read and how far each detector has analysed it (`progress`), written
//! in the same transaction as the findings they account for. A run reads a source from the lowest
//! position that some detector still lacks: a run that was interrupted (crash, cancellation)
//! resumes after its last commit; a detector created since for an account/Region seen in a source
//! makes the next run read that source again and apply its records to that detector only
//! (records whose detector already has them are counted in [`Summary::events_already_analysed`]).
//! A completed source whose detectors are all up to date is skipped without being opened. A
//! completed file whose size changed is read on when it is JSON lines (appended) and reported
//! otherwise.
//!
//! Several processes at once (`serve --watch` and `vedette ingest`, two `ingest` runs): every
//! progress record written carries the position this run expects the store to hold, and the store
//! checks them in the write transaction. When another process has moved a source meanwhile, the
//! store refuses the batch; the writer drops that source's pending work, tells its worker to stop
//! and commits the rest. The source is listed in [`Summary::sources_ingested_elsewhere`]; a later
//! run (the watcher's next poll) reads whatever the other process leaves.
//!
//! Routing: a record goes to the enabled detector of its (`recipientAccountId`, `awsRegion`);
//! records without one are skipped and counted by reason (see `vedette_domain::detect`), unless
//! [`IngestOptions::create_detectors`] creates the missing detectors first.
//!
//! Detection state (flow and DNS windows, console-login histories; `state`) is written in the
//! same transaction as the findings and progress. Login histories are written as the committed
//! records left them. Flow and DNS state is written as it stands at that commit: workers keep
//! running meanwhile, so it may already count a few records of chunks not yet committed, and after
//! a crash those records are read again and counted twice in their window. The effect is bounded
//! by what the workers hold (a chunk each) and can only bring a windowed finding forward, never
//! lose one.
//!
//! Threat intelligence ([`intel`]): each detector's ACTIVE trusted and threat lists are checked
//! for changes whenever a source starts and whenever a chunk is handed over, and rebuilt only when
//! they changed; the operator's feeds, AWS ranges and GeoIP come in [`IngestOptions::intel`].
//!
//! Cancellation: [`IngestOptions::cancel`]; sources stop at the next record, what was read is
//! committed, and the next run resumes there.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vedette_store::{Store, StoreError};

mod analyze;
mod batch;
pub mod discover;
mod dns;
mod flow;
pub mod intel;
mod memory;
mod pipeline;
mod progress;
mod reader;
mod router;
pub mod source;
mod state;
pub mod watch;
mod work;

pub use discover::{SourceInput, discover};
pub use intel::{IntelConfig, Intelligence};
pub use progress::detector_progress_key;
#[doc(hidden)]
pub use reader::{FuzzItem, ReadEnd, read_bytes_for_fuzzing, read_items_for_fuzzing};
pub use source::{FileSource, Identity, Settled, Source, StdinSource};

/// Reasons a record is skipped (keys of [`Summary::skipped`]).
pub const SKIP_NO_DETECTOR: &str = "no detector for the account and Region";
pub const SKIP_DETECTOR_DISABLED: &str = "detector suspended";

/// How many problems a summary lists (all are counted).
pub const MAX_LISTED_PROBLEMS: usize = 100;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Parse/detect threads (the writer is the calling thread).
    pub threads: usize,
    /// Commit once this many records are pending...
    pub batch_records: u64,
    /// ...or this many distinct findings (per source; they are what a batch's memory is made
    /// of, a few KB each with their merged copies, so this bounds the writer's memory)...
    pub batch_findings: usize,
    /// ...or this long after the first pending change.
    pub max_batch_delay: Duration,
    /// A worker hands over a large source in chunks of this many records (its progress moves
    /// with each chunk, so a crash loses at most that much work).
    pub chunk_records: u64,
    /// Cancel to stop early: sources stop at the next record, what was read is committed and the
    /// next run resumes there. A run cancels only its own child of it (on a fatal error), never
    /// this one.
    pub cancel: CancellationToken,
    /// `createdAt` / `updatedAt` of new findings (default: now).
    pub now_ms: Option<i64>,
    /// Create an enabled detector (default configuration) for every account and Region seen in
    /// the input that has none, before its records are routed (so this run analyses them).
    pub create_detectors: bool,
    /// Files may still be being written (watch mode): a source whose input ends inside a record
    /// (gzip stream cut short, JSON document or last JSON line unfinished) keeps its progress open
    /// after the last whole record, and the next run reads on from there; without this it is
    /// reported and completed.
    pub growing_files: bool,
    /// Feeds, AWS ranges, GeoIP, and the cache of each detector's lists (kept across runs when
    /// the same options are reused, as `serve --watch` does).
    pub intel: Arc<Intelligence>,
    /// The Region of flow records that carry none (versions 2-3 have no `region` field; a v4+
    /// `region` field wins). Without either, a flow record cannot be routed: a bad record.
    pub flow_region: Option<String>,
    /// The field order of flow-log files that have no header line (`--flow-format`: a custom
    /// format's records exported from CloudWatch Logs). Default: AWS's default v2 order. A
    /// header line in a file always wins.
    pub flow_format: Option<vedette_domain::flow::FlowLayout>,
    /// The operator's EC2 inventory (`aws ec2 describe-instances` JSON): instance details of
    /// flow and DNS findings.
    pub inventory: Option<Arc<vedette_domain::inventory::Inventory>>,
    /// The operator's domain feeds (DNS findings).
    pub dns_intel: Arc<vedette_domain::dns::DnsIntel>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            threads: 2,
            batch_records: 200_000,
            batch_findings: 1_000,
            max_batch_delay: Duration::from_secs(1),
            chunk_records: 50_000,
            cancel: CancellationToken::new(),
            now_ms: None,
            create_detectors: false,
            growing_files: false,
            intel: Arc::default(),
            flow_region: None,
            flow_format: None,
            inventory: None,
            dns_intel: Arc::default(),
        }
    }
}

/// Handed to the progress callback after each chunk (and periodically).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgressUpdate {
    /// Bytes of the files read so far (compressed size for gzip files); stdin not included.
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub events: u64,
    pub sources_done: u64,
    pub sources_total: u64,
}

/// Input that could not be used, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File path (or `stdin`).
    pub source: String,
    /// Record number in a CloudTrail file / line number in JSON lines; 0 = the whole source.
    pub position: u64,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.position, self.message)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Sources read in this run (started or resumed).
    pub sources: u64,
    pub sources_resumed: u64,
    /// Of `sources`, those read again (at least in part) for detectors that had not analysed
    /// them yet (created since, or resumed).
    pub sources_reread: u64,
    /// Sources skipped because earlier runs completed them for every detector they concern.
    pub sources_already_ingested: u64,
    /// Sources ending inside a record, left open ([`IngestOptions::growing_files`]).
    pub sources_incomplete: u64,
    /// Sources another process was ingesting at the same time (it committed progress on them
    /// first): this run stopped reading them and wrote nothing more of them. By name, as in
    /// [`Problem::source`]; a later run picks up whatever the other leaves.
    pub sources_ingested_elsewhere: Vec<String>,
    pub digest_files_skipped: u64,
    /// Compressed bytes of the files read.
    pub bytes: u64,
    /// Records read in this run (bad ones included).
    pub events: u64,
    /// Of `events`, records read again whose detector had already analysed them (not applied
    /// twice).
    pub events_already_analysed: u64,
    /// Records not considered, by reason ([`SKIP_NO_DETECTOR`], [`SKIP_DETECTOR_DISABLED`]).
    pub skipped: BTreeMap<String, u64>,
    /// The same records by `account/Region` (where a detector would have to be created).
    pub skipped_scopes: BTreeMap<String, u64>,
    /// Records that are not usable CloudTrail (malformed, not an object, missing members).
    pub bad_records: u64,
    /// Finding occurrences raised (before merging repeats).
    pub occurrences: u64,
    pub findings_created: u64,
    /// Findings from earlier runs that got new occurrences (each counted once).
    pub findings_updated: u64,
    /// The first [`MAX_LISTED_PROBLEMS`] problems.
    pub problems: Vec<Problem>,
    pub problems_total: u64,
    /// Stopped before the end (see [`IngestOptions::cancel`]).
    pub interrupted: bool,
    /// Detectors created by [`IngestOptions::create_detectors`]: `account/Region` → detector id.
    pub detectors_created: BTreeMap<String, String>,
    /// Every `account/Region` the run routed records of (or checked an ingested source for),
    /// with its enabled detector then (None: missing or suspended).
    pub scopes: BTreeMap<String, Option<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("reading standard input: {0}")]
    Stdin(std::io::Error),
}

/// Ingests `paths` (files, directories, `-` for stdin) into `store`. Returns an error only for
/// failures that stop the whole run (the store); bad input is counted in the summary.
pub fn ingest_paths(
    store: &dyn Store,
    paths: &[PathBuf],
    options: &IngestOptions,
    on_progress: &mut dyn FnMut(&ProgressUpdate),
) -> Result<Summary, IngestError> {
    let (inputs, discover_problems, digests) = discover(paths);
    let mut summary = Summary { digest_files_skipped: digests, ..Default::default() };
    for p in discover_problems {
        batch::note_problem(&mut summary, Problem { source: p.path.display().to_string(), position: 0, message: p.message });
    }
    let sources: Vec<Box<dyn Source>> = inputs.into_iter().map(source::of_input).collect();
    pipeline::run(store, &sources, summary, options, on_progress)
}

/// Ingests `sources`, in order (several at once, one per worker), into `store`: as
/// [`ingest_paths`] does for the sources it finds.
pub fn ingest_sources(
    store: &dyn Store,
    sources: &[Box<dyn Source>],
    options: &IngestOptions,
    on_progress: &mut dyn FnMut(&ProgressUpdate),
) -> Result<Summary, IngestError> {
    pipeline::run(store, sources, Summary::default(), options, on_progress)
}
