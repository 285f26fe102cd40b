//! Log readers: CloudTrail as CloudTrail delivers it, JSON lines, stdin; detection; store writes.
//!
//! [`ingest_paths`] runs a small pipeline: worker threads (two by default) each take a whole
//! source, parse and route its records, run detection and pre-merge repeats of a finding; one
//! writer (the calling thread) gathers their chunks and commits them in batches — findings and
//! every source's progress in the same transaction (`Store::apply_with_state`, with the detection
//! state the findings came from).
//!
//! Exactly-once, per detector: each detector consumes each source once. Sources are identified by
//! canonical path (`file:/abs/path`) or, for stdin, by content hash. The store holds two kinds of
//! progress record, written in the same transaction as the findings they account for:
//!
//! * the source's own (its key): how far it has been read (record or line number), whether to the
//!   end, its size, and how many records each `account/Region` had in it (`scope:` counters);
//! * one per detector that has analysed it ([`detector_progress_key`]): up to which position.
//!
//! A run reads a source from the lowest position that some detector still lacks: an interrupted
//! run (crash, stop flag) resumes after its last commit; a detector created since for an
//! account/Region seen in a source makes the next run read that source again and apply its records
//! to that detector only (records whose detector already has them are counted in
//! [`Summary::events_already_analysed`]). A completed source whose detectors are all up to date is
//! skipped without being opened. A completed file whose size changed is read on when it is JSON
//! lines (appended) and reported otherwise.
//!
//! Several processes at once (`serve --watch` and `vedette ingest`, two `ingest` runs): every
//! progress record written carries the position this run expects the store to hold (what it read,
//! then what it committed), and the store checks them in the write transaction. When another
//! process has moved a source meanwhile, the store refuses the batch; the writer drops that
//! source's pending work, tells its worker to stop and commits the rest. The source is listed in
//! [`Summary::sources_ingested_elsewhere`]; a later run (the watcher's next poll) reads whatever
//! the other process leaves.
//!
//! Routing: a record goes to the enabled detector of its (`recipientAccountId`, `awsRegion`);
//! records without one are skipped and counted by reason (see `vedette_domain::detect`), unless
//! [`IngestOptions::create_detectors`] creates the missing detectors first.
//!
//! Detection state (flow and DNS windows, console-login histories) is written in the same
//! transaction as the findings and progress, as it stands at that commit. Workers keep running
//! meanwhile, so it may already count a few records of chunks not yet committed: after a crash
//! those records are read again and counted twice in their window. The effect is bounded by what
//! the workers hold (a chunk each) and can only bring a windowed finding forward, never lose one.
//!
//! Threat intelligence ([`intel`]): each detector's ACTIVE trusted and threat lists are checked
//! for changes whenever a source starts and whenever a chunk is handed over, and rebuilt only when
//! they changed; the operator's feeds, AWS ranges and GeoIP come in [`IngestOptions::intel`].
//! Console-login velocity keeps each user's recent logins as detection state, loaded from the
//! store when a detector first needs it and written back with the findings.
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use vedette_domain::aggregate;
use vedette_domain::detect::console_login::{self, LoginHistory};
use vedette_domain::detect::{self, DetectContext, DetectorLists, Intel};
use vedette_domain::{DetectorConfig, Occurrence, Scope};
use vedette_store::{Progress, StateEntry, Store, StoreError};

pub mod discover;
pub mod intel;
mod dns;
mod flow;
mod reader;
pub mod watch;

pub use discover::{discover, SourceInput};
pub use intel::{IntelConfig, Intelligence};
use reader::{Buffers, Flow, Item};
#[doc(hidden)]
pub use reader::{read_bytes_for_fuzzing, read_items_for_fuzzing, FuzzItem, ReadEnd};

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
    /// Set to stop early: sources stop at the next record, what was read is committed and the
    /// next run resumes there.
    pub stop: Option<CancellationToken>,
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
            stop: None,
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
    /// Stopped before the end (see [`IngestOptions::stop`]).
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

/// A piece of a source's work, from a worker to the writer.
#[derive(Default)]
struct Chunk {
    /// The source's index in the run's list.
    source: usize,
    occurrences: Vec<Occurrence>,
    /// The source's progress and its detectors' (empty: nothing to record).
    progress: Vec<Progress>,
    events: u64,
    already_analysed: u64,
    bad_records: u64,
    occurrences_raised: u64,
    skipped: BTreeMap<&'static str, u64>,
    skipped_scopes: HashMap<Arc<str>, u64>,
    problems: Vec<Problem>,
    problems_total: u64,
    /// Detection state to write with the chunk, each with its place in the order the workers
    /// changed it (the writer keeps the latest of a key).
    state: Vec<(u64, StateEntry)>,
    /// Detectors whose flow / DNS state the chunk's records changed: the writer serializes that
    /// state once per commit, not once per chunk (it can weigh megabytes).
    network_dirty: flow::Dirty,
    /// Set on a source's last chunk.
    finished: Option<SourceOutcome>,
}

/// How a source was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct ReadKind {
    /// Started after the beginning.
    resumed: bool,
    /// Went over records an earlier run had read (for detectors that lacked them).
    reread: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceOutcome {
    Read(ReadKind),
    /// Stopped part way (see [`IngestOptions::stop`]).
    Interrupted(ReadKind),
    /// Ends inside a record; left open ([`IngestOptions::growing_files`]).
    Incomplete(ReadKind),
    AlreadyIngested,
    Unreadable,
    /// Another process moved the source's progress meanwhile: left to it.
    IngestedElsewhere,
}

// One message per chunk of thousands of records: the size of the enum does not matter.
#[allow(clippy::large_enum_variant)]
enum Message {
    Chunk(Chunk),
    Fatal(IngestError),
}

/// Where each record goes: cached per (account, Region) for the run.
#[derive(Clone)]
struct Route {
    /// `account/Region`.
    scope: Arc<str>,
    target: Target,
}

#[derive(Clone)]
enum Target {
    /// The enabled detector's id.
    Enabled(Arc<str>),
    Disabled,
    Missing,
}

struct Router<'s> {
    store: &'s dyn Store,
    /// With [`IngestOptions::create_detectors`]: where created detectors are noted (shared by
    /// the workers).
    created: Option<&'s Mutex<BTreeMap<String, String>>>,
    /// Every route looked up, for [`Summary::scopes`] (shared by the workers).
    looked_up: &'s Mutex<BTreeMap<String, Option<String>>>,
    routes: HashMap<String, HashMap<String, Route>>,
    /// The last (account, Region) looked up: a CloudTrail file holds one account and Region, so
    /// this answers nearly every record without hashing.
    last: Option<(String, String, Route)>,
}

impl<'s> Router<'s> {
    fn route(&mut self, account: &str, region: &str) -> Result<&Route, StoreError> {
        let hit = self.last.as_ref().is_some_and(|(a, r, _)| a == account && r == region);
        if !hit {
            let route = self.lookup(account, region)?.clone();
            self.last = Some((account.to_owned(), region.to_owned(), route));
        }
        Ok(&self.last.as_ref().expect("set above").2)
    }

    fn lookup(&mut self, account: &str, region: &str) -> Result<&Route, StoreError> {
        let cached = self.routes.get(account).is_some_and(|r| r.contains_key(region));
        if !cached {
            let scope = Scope::new(account, region);
            let mut detector = self.store.detector_for(&scope)?;
            if detector.is_none()
                && let Some(created) = self.created
                && is_plausible_scope(account, region)
            {
                detector = create_detector(self.store, &scope, created)?;
            }
            let target = match detector {
                Some(d) if d.config.enabled => Target::Enabled(Arc::from(d.id.as_str())),
                Some(_) => Target::Disabled,
                None => Target::Missing,
            };
            let route = Route { scope: Arc::from(format!("{account}/{region}")), target };
            let detector = match &route.target {
                Target::Enabled(id) => Some(id.to_string()),
                Target::Disabled | Target::Missing => None,
            };
            self.looked_up.lock().unwrap_or_else(|e| e.into_inner()).insert(route.scope.to_string(), detector);
            self.routes.entry(account.to_owned()).or_default().insert(region.to_owned(), route);
        }
        Ok(&self.routes[account][region])
    }
}

/// Creates the scope's detector (enabled, default configuration) and notes it in `created`.
fn create_detector(store: &dyn Store, scope: &Scope, created: &Mutex<BTreeMap<String, String>>) -> Result<Option<vedette_domain::Detector>, StoreError> {
    match store.create_detector(scope, DetectorConfig::default(), BTreeMap::new(), None) {
        Ok(detector) => {
            let name = format!("{}/{}", scope.account_id, scope.region);
            created.lock().unwrap_or_else(|e| e.into_inner()).insert(name, detector.id.clone());
            Ok(Some(detector))
        }
        // Another worker, or the API, created it meanwhile.
        Err(StoreError::Conflict(_)) => store.detector_for(scope),
        Err(e) => Err(e),
    }
}

/// A 12-digit account and a Region-shaped name (`us-east-1`, `us-gov-west-1`): records with
/// anything else in these fields do not get a detector created for them.
fn is_plausible_scope(account: &str, region: &str) -> bool {
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let region_ok = (4..=32).contains(&region.len())
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region.as_bytes()[0].is_ascii_lowercase()
        && region.bytes().last().is_some_and(|b| b.is_ascii_digit())
        && region.contains('-');
    account_ok && region_ok
}

/// The key of a detector's progress through a source: how far the detector has analysed it.
pub fn detector_progress_key(detector_id: &str, source_key: &str) -> String {
    format!("detector:{detector_id}|{source_key}")
}

/// Counter of a source's progress: records seen for `account/Region` (prefix + scope).
const SCOPE_COUNTER_PREFIX: &str = "scope:";

/// The `account/Region`s a source's progress says it holds.
fn scopes_seen(counters: &BTreeMap<String, u64>) -> impl Iterator<Item = &str> {
    counters.keys().filter_map(|k| k.strip_prefix(SCOPE_COUNTER_PREFIX))
}

/// Everything the workers share.
struct Shared<'a> {
    store: &'a dyn Store,
    sources: &'a [SourceInput],
    next: AtomicUsize,
    bytes_done: AtomicU64,
    /// Of `bytes_done`, the files not read again (already ingested).
    bytes_skipped: AtomicU64,
    events: AtomicU64,
    stop: CancellationToken,
    options: &'a IngestOptions,
    now_ms: i64,
    created: Mutex<BTreeMap<String, String>>,
    scopes: Mutex<BTreeMap<String, Option<String>>>,
    /// Per source: another process got there first (set by the writer); its worker stops.
    abandoned: Vec<AtomicBool>,
    logins: Logins,
    /// Per detector: flow and DNS detection state.
    network_state: flow::NetworkState,
}

/// A state entry with its place in the order the workers changed state (see [`Chunk::state`]).
type OrderedState = (u64, StateEntry);

/// The console-login histories of the run, per (detector, user key): shared by the workers so
/// that logins of one user in different files meet.
#[derive(Default)]
struct Logins {
    inner: Mutex<LoginsInner>,
}

#[derive(Default)]
struct LoginsInner {
    /// Detectors whose stored histories have been read.
    loaded: std::collections::HashSet<Arc<str>>,
    histories: HashMap<(Arc<str>, String), LoginHistory>,
    /// Order of changes (see [`Chunk::state`]).
    changes: u64,
}

impl Logins {
    /// Adds a login to its user's history: the impossible journeys it reveals, and the state
    /// entry to write.
    fn add(
        &self,
        store: &dyn Store,
        detector: &Arc<str>,
        user_key: String,
        login: console_login::Login,
    ) -> Result<(Vec<console_login::Journey>, Option<OrderedState>), StoreError> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.loaded.contains(detector) {
            for (key, value) in store.load_state(detector, console_login::STATE_PREFIX)? {
                inner.histories.insert((detector.clone(), key), LoginHistory::from_json(&value));
            }
            inner.loaded.insert(detector.clone());
        }
        let history = inner.histories.entry((detector.clone(), user_key.clone())).or_default();
        if history.contains(&login) {
            // A record read again: nothing new.
            return Ok((Vec::new(), None));
        }
        let journeys = history.add(login);
        let value = Some(history.to_json());
        inner.changes += 1;
        let entry = StateEntry { detector_id: detector.to_string(), key: user_key, value };
        Ok((journeys, Some((inner.changes, entry))))
    }
}

/// Ingests `paths` (files, directories, `-` for stdin) into `store`. Returns an error only for
/// failures that stop the whole run (the store); bad input is counted in the summary.
pub fn ingest_paths(
    store: &dyn Store,
    paths: &[PathBuf],
    options: &IngestOptions,
    on_progress: &mut dyn FnMut(&ProgressUpdate),
) -> Result<Summary, IngestError> {
    let (sources, discover_problems, digests) = discover(paths);
    let mut summary = Summary { digest_files_skipped: digests, ..Default::default() };
    for p in discover_problems {
        note_problem(&mut summary, Problem { source: p.path.display().to_string(), position: 0, message: p.message });
    }
    let bytes_total = sources.iter().map(|s| if let SourceInput::File { size, .. } = s { *size } else { 0 }).sum();
    let shared = Shared {
        store,
        sources: &sources,
        next: AtomicUsize::new(0),
        bytes_done: AtomicU64::new(0),
        bytes_skipped: AtomicU64::new(0),
        events: AtomicU64::new(0),
        // A child: a fatal error stops this run's workers, not the caller's token.
        stop: options.stop.as_ref().map(CancellationToken::child_token).unwrap_or_default(),
        options,
        now_ms: options.now_ms.unwrap_or_else(vedette_domain::time::now_ms),
        created: Mutex::new(BTreeMap::new()),
        scopes: Mutex::new(BTreeMap::new()),
        abandoned: sources.iter().map(|_| AtomicBool::new(false)).collect(),
        logins: Logins::default(),
        network_state: flow::NetworkState::default(),
    };
    let mut update = ProgressUpdate { bytes_total, sources_total: sources.len() as u64, ..Default::default() };
    let (tx, rx) = mpsc::sync_channel::<Message>(4);
    let mut fatal: Option<IngestError> = None;
    std::thread::scope(|scope| {
        for _ in 0..options.threads.max(1).min(sources.len().max(1)) {
            let tx = tx.clone();
            let shared = &shared;
            scope.spawn(move || {
                if let Err(e) = worker(shared, &tx) {
                    shared.stop.cancel();
                    let _ = tx.send(Message::Fatal(e));
                }
            });
        }
        drop(tx);
        let mut batch = Batch::default();
        loop {
            let message = rx.recv_timeout(Duration::from_millis(200));
            match message {
                Ok(Message::Chunk(chunk)) => {
                    update.sources_done += u64::from(chunk.finished.is_some());
                    // What is still on its way from a source left to another process is dropped.
                    if !shared.abandoned[chunk.source].load(Ordering::Relaxed) {
                        batch.add(chunk, shared.now_ms);
                    }
                }
                Ok(Message::Fatal(e)) => {
                    fatal.get_or_insert(e);
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if fatal.is_none()
                && batch.due(options)
                && let Err(e) = batch.commit(&shared, &mut summary)
            {
                shared.stop.cancel();
                fatal = Some(e.into());
            }
            update.bytes_done = shared.bytes_done.load(Ordering::Relaxed);
            update.events = shared.events.load(Ordering::Relaxed);
            on_progress(&update);
        }
        if fatal.is_none()
            && let Err(e) = batch.commit(&shared, &mut summary)
        {
            fatal = Some(e.into());
        }
    });
    if let Some(e) = fatal {
        return Err(e);
    }
    summary.detectors_created = shared.created.into_inner().unwrap_or_else(|e| e.into_inner());
    summary.scopes = shared.scopes.into_inner().unwrap_or_else(|e| e.into_inner());
    update.bytes_done = shared.bytes_done.load(Ordering::Relaxed);
    summary.bytes = update.bytes_done - shared.bytes_skipped.load(Ordering::Relaxed);
    summary.interrupted |= update.sources_done < update.sources_total;
    on_progress(&update);
    Ok(summary)
}

fn note_problem(summary: &mut Summary, problem: Problem) {
    summary.problems_total += 1;
    if summary.problems.len() < MAX_LISTED_PROBLEMS {
        summary.problems.push(problem);
    }
}

/// Adds a committed chunk's counts, problems and outcome to the summary.
fn fold_into(summary: &mut Summary, chunk: Chunk) {
    if let Some(outcome) = chunk.finished {
        let mut count_read = |kind: ReadKind| {
            summary.sources += 1;
            summary.sources_resumed += u64::from(kind.resumed);
            summary.sources_reread += u64::from(kind.reread);
        };
        match outcome {
            SourceOutcome::Read(kind) => count_read(kind),
            SourceOutcome::Interrupted(kind) => {
                count_read(kind);
                summary.interrupted = true;
            }
            SourceOutcome::Incomplete(kind) => {
                count_read(kind);
                summary.sources_incomplete += 1;
            }
            SourceOutcome::AlreadyIngested => summary.sources_already_ingested += 1,
            // Counted when the store refused the source's progress.
            SourceOutcome::Unreadable | SourceOutcome::IngestedElsewhere => {}
        }
    }
    summary.events += chunk.events;
    summary.events_already_analysed += chunk.already_analysed;
    summary.bad_records += chunk.bad_records;
    summary.occurrences += chunk.occurrences_raised;
    for (reason, n) in &chunk.skipped {
        *summary.skipped.entry((*reason).to_owned()).or_default() += n;
    }
    for (scope, n) in &chunk.skipped_scopes {
        *summary.skipped_scopes.entry(scope.to_string()).or_default() += n;
    }
    summary.problems_total += chunk.problems_total - chunk.problems.len() as u64;
    for p in chunk.problems {
        note_problem(summary, p);
    }
}

/// Hands the pages a commit freed back to the OS. Each batch's findings, their merged copies and
/// the store's statements are freed between long-lived allocations (the store's page cache grows
/// meanwhile), so glibc's heaps keep the holes resident and peak RSS would ratchet up with every
/// batch, i.e. with the input size. `malloc_trim` releases whole free pages anywhere in the heaps;
/// it costs a few milliseconds per commit.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only returns unused heap pages to the OS; it has no preconditions.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// What the writer holds until the next commit, by source: the store may refuse one source's
/// progress (another process moved it), and then the rest is committed without that source.
#[derive(Default)]
struct Batch {
    sources: BTreeMap<usize, PendingSource>,
    /// Findings held, counted per source (one met in several sources counts for each).
    findings: usize,
    /// Every finding id this run has written: created + updated, each once.
    touched: std::collections::HashSet<String>,
    records: u64,
    since: Option<Instant>,
    /// Detectors whose flow / DNS state the held chunks changed.
    network_dirty: flow::Dirty,
}

#[derive(Default)]
struct PendingSource {
    /// Repeats pre-merged.
    findings: HashMap<String, Occurrence>,
    /// The source's record and its detectors', each expecting what the store held before the
    /// first of the chunks.
    progress: Vec<Progress>,
    /// The chunks without their findings and progress: counted in the summary once committed.
    chunks: Vec<Chunk>,
    state: Vec<(u64, StateEntry)>,
}

impl Batch {
    fn add(&mut self, mut chunk: Chunk, now_ms: i64) {
        let pending = self.sources.entry(chunk.source).or_default();
        for occ in std::mem::take(&mut chunk.occurrences) {
            match pending.findings.get_mut(occ.finding_id()) {
                Some(existing) => aggregate::merge_occurrence_deferred(existing, &occ, now_ms),
                None => {
                    pending.findings.insert(occ.finding_id().to_owned(), occ);
                    self.findings += 1;
                }
            }
        }
        for p in std::mem::take(&mut chunk.progress) {
            // A later chunk of the same source supersedes the earlier one; what the store is
            // expected to hold is still what the earlier one expected.
            match pending.progress.iter_mut().find(|q| q.source_key == p.source_key) {
                Some(q) => *q = Progress { expected_position: q.expected_position, ..p },
                None => pending.progress.push(p),
            }
        }
        self.records += chunk.events + chunk.bad_records;
        pending.state.append(&mut chunk.state);
        self.network_dirty.absorb(std::mem::take(&mut chunk.network_dirty));
        pending.chunks.push(chunk);
        self.since.get_or_insert_with(Instant::now);
    }

    fn due(&self, options: &IngestOptions) -> bool {
        self.records >= options.batch_records
            || self.findings >= options.batch_findings
            || self.since.is_some_and(|t| t.elapsed() >= options.max_batch_delay)
    }

    /// Commits what is held. Sources whose progress another process has moved since are
    /// dropped (their workers told to stop, the summary told) and the rest is committed.
    fn commit(&mut self, shared: &Shared<'_>, summary: &mut Summary) -> Result<(), StoreError> {
        // Flow and DNS state as it stands now: with every held chunk's records applied (and
        // possibly some records of chunks still in the workers' hands: see the crate docs).
        let network = shared.network_state.snapshots(&mut self.network_dirty);
        let stats = loop {
            let refused = match self.write(shared.store, shared.now_ms, &network) {
                Ok(stats) => break stats,
                Err(e) => match e.moved_progress_keys() {
                    Some(keys) => self.sources_holding(&keys),
                    None => return Err(e),
                },
            };
            if refused.is_empty() {
                return Err(StoreError::Backend("the store refused progress records this run did not write".into()));
            }
            for source in refused {
                if let Some(pending) = self.sources.remove(&source) {
                    self.findings -= pending.findings.len();
                }
                shared.abandoned[source].store(true, Ordering::Relaxed);
                summary.sources_ingested_elsewhere.push(shared.sources[source].display_name());
            }
        };
        summary.findings_created += stats.created;
        summary.findings_updated = (self.touched.len() as u64).saturating_sub(summary.findings_created);
        for (_, pending) in std::mem::take(&mut self.sources) {
            for chunk in pending.chunks {
                fold_into(summary, chunk);
            }
        }
        self.findings = 0;
        self.records = 0;
        self.since = None;
        release_freed_memory();
        Ok(())
    }

    /// The sources of the pending progress records with these keys.
    fn sources_holding(&self, keys: &[String]) -> Vec<usize> {
        let keys: std::collections::HashSet<&str> = keys.iter().map(String::as_str).collect();
        let holds = |p: &PendingSource| p.progress.iter().any(|r| keys.contains(r.source_key.as_str()));
        self.sources.iter().filter(|(_, p)| holds(p)).map(|(source, _)| *source).collect()
    }

    /// One transaction with every pending source's findings (repeats across sources merged) and
    /// progress. The findings are moved out for it and put back if the store refuses.
    fn write(&mut self, store: &dyn Store, now_ms: i64, network: &[OrderedState]) -> Result<vedette_store::UpsertStats, StoreError> {
        let progress: Vec<Progress> = self.sources.values().flat_map(|p| p.progress.iter().cloned()).collect();
        // The latest change of each key (workers change histories in a shared order).
        let mut latest: HashMap<(&str, &str), (u64, &StateEntry)> = HashMap::new();
        for (order, entry) in self.sources.values().flat_map(|p| p.state.iter()) {
            let slot = latest.entry((entry.detector_id.as_str(), entry.key.as_str())).or_insert((*order, entry));
            if *order > slot.0 {
                *slot = (*order, entry);
            }
        }
        let state: Vec<StateEntry> =
            latest.into_values().map(|(_, e)| e.clone()).chain(network.iter().map(|(_, e)| e.clone())).collect();
        if progress.is_empty() && self.findings == 0 && state.is_empty() {
            return Ok(Default::default());
        }
        let mut merged: Vec<Occurrence> = Vec::with_capacity(self.findings);
        // The source each merged occurrence came from; None when several sources' went into it
        // (their originals are then in `parts`).
        let mut owners: Vec<Option<usize>> = Vec::with_capacity(self.findings);
        let mut parts: Vec<(usize, Occurrence)> = Vec::new();
        let mut slot: HashMap<String, usize> = HashMap::with_capacity(self.findings);
        for (&source, pending) in &mut self.sources {
            for (id, occ) in pending.findings.drain() {
                match slot.entry(id) {
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(merged.len());
                        merged.push(occ);
                        owners.push(Some(source));
                    }
                    std::collections::hash_map::Entry::Occupied(e) => {
                        let i = *e.get();
                        if let Some(first) = owners[i].take() {
                            parts.push((first, merged[i].clone()));
                        }
                        aggregate::merge_occurrence_deferred(&mut merged[i], &occ, now_ms);
                        parts.push((source, occ));
                    }
                }
            }
        }
        for occ in &mut merged {
            occ.sync_evidence();
        }
        match store.apply_with_state(&merged, &progress, &state) {
            Ok(stats) => {
                self.touched.extend(slot.into_keys());
                Ok(stats)
            }
            Err(e) => {
                let back = merged.into_iter().zip(owners).filter_map(|(occ, owner)| Some((owner?, occ)));
                for (source, occ) in back.chain(parts) {
                    if let Some(pending) = self.sources.get_mut(&source) {
                        pending.findings.insert(occ.finding_id().to_owned(), occ);
                    }
                }
                Err(e)
            }
        }
    }
}

fn worker(shared: &Shared<'_>, tx: &mpsc::SyncSender<Message>) -> Result<(), IngestError> {
    let created = shared.options.create_detectors.then_some(&shared.created);
    let mut router = Router { store: shared.store, created, looked_up: &shared.scopes, routes: HashMap::new(), last: None };
    let mut bufs = Buffers::default();
    loop {
        if shared.stop.is_cancelled() {
            return Ok(());
        }
        let index = shared.next.fetch_add(1, Ordering::Relaxed);
        if index >= shared.sources.len() {
            return Ok(());
        }
        if !ingest_source(shared, index, &mut router, &mut bufs, tx)? {
            return Ok(()); // the writer is gone
        }
    }
}

/// Counters kept in a source's progress record (cumulative over runs; records counted once,
/// when first read).
const COUNTER_BYTES: &str = "bytes";
const COUNTER_LINES: &str = "jsonLines";
const COUNTER_EVENTS: &str = "events";
const COUNTER_BAD: &str = "badRecords";
const COUNTER_OCCURRENCES: &str = "occurrences";

/// How far a detector met in a source has analysed it.
struct DetectorPosition {
    detector: Arc<str>,
    /// Analysed up to here (in this run: sent to the writer).
    position: u64,
    /// The position its progress record holds once what was sent is committed (None: no record):
    /// the next write expects it there ([`Progress::expected_position`]).
    stored: Option<u64>,
    /// Its ACTIVE lists, fetched when a record is first analysed for it and dropped with every
    /// chunk handed over (the next record checks the store's version of them again).
    lists: Option<Arc<DetectorLists>>,
}

/// The detectors met in a source. A source concerns one or a few detectors: a list compared by
/// pointer first (the router hands out the same `Arc`) is cheaper than a map on the per-record
/// path.
#[derive(Default)]
struct DetectorPositions(Vec<DetectorPosition>);

impl DetectorPositions {
    fn get_or_load(&mut self, store: &dyn Store, detector: &Arc<str>, source_key: &str) -> Result<u64, StoreError> {
        if let Some(d) = self.0.iter().find(|d| Arc::ptr_eq(&d.detector, detector) || *d.detector == **detector) {
            return Ok(d.position);
        }
        let stored = store.progress(&detector_progress_key(detector, source_key))?.map(|p| p.position);
        self.0.push(DetectorPosition { detector: detector.clone(), position: stored.unwrap_or(0), stored, lists: None });
        Ok(stored.unwrap_or(0))
    }

    /// The lists of a detector met before (through [`Self::get_or_load`]).
    fn lists(&mut self, store: &dyn Store, intel: &Intelligence, detector: &Arc<str>) -> Result<&Arc<DetectorLists>, StoreError> {
        let Some(d) = self.0.iter_mut().find(|d| Arc::ptr_eq(&d.detector, detector) || *d.detector == **detector) else {
            return Err(StoreError::Backend(format!("detector {detector} was not looked up before its lists")));
        };
        if d.lists.is_none() {
            d.lists = Some(intel.lists(store, detector)?);
        }
        Ok(d.lists.as_ref().expect("set above"))
    }
}

/// Reads one source and sends its chunks. Returns false when the writer has gone away.
fn ingest_source(
    shared: &Shared<'_>,
    index: usize,
    router: &mut Router<'_>,
    bufs: &mut Buffers,
    tx: &mpsc::SyncSender<Message>,
) -> Result<bool, IngestError> {
    let input = &shared.sources[index];
    let name = input.display_name();
    let mut stdin_data = Vec::new();
    let (key, size) = match input {
        SourceInput::File { path, size } => (format!("file:{}", path.display()), *size),
        SourceInput::Stdin => {
            std::io::stdin().lock().read_to_end(&mut stdin_data).map_err(IngestError::Stdin)?;
            (format!("stdin:sha256:{}", hex::encode(Sha256::digest(&stdin_data))), stdin_data.len() as u64)
        }
    };
    let send = |chunk: Chunk| tx.send(Message::Chunk(Chunk { source: index, ..chunk })).is_ok();
    let prior = shared.store.progress(&key)?;
    let stored = prior.as_ref().map(|p| p.position);
    let prior = prior.unwrap_or_default();
    let scanned = prior.position;
    let counters = prior.counters;
    // The enabled detectors of the account/Regions seen so far, and the lowest position one of
    // them has analysed up to: reading starts there.
    let mut detectors = DetectorPositions::default();
    let mut start = scanned;
    for scope in scopes_seen(&counters) {
        let Some((account, region)) = scope.split_once('/') else { continue };
        if let Target::Enabled(id) = &router.route(account, region)?.target {
            let id = id.clone();
            start = start.min(detectors.get_or_load(shared.store, &id, &key)?);
        }
    }
    if prior.complete {
        let bytes_then = counters.get(COUNTER_BYTES).copied().unwrap_or(0);
        let same_size = bytes_then == size;
        let appended_lines = counters.get(COUNTER_LINES) == Some(&1) && size > bytes_then;
        if (same_size && start >= scanned) || (!same_size && !appended_lines) {
            shared.bytes_done.fetch_add(size, Ordering::Relaxed);
            shared.bytes_skipped.fetch_add(size, Ordering::Relaxed);
            let mut chunk = Chunk { finished: Some(SourceOutcome::AlreadyIngested), ..Default::default() };
            if !same_size {
                let message = format!("changed since it was ingested ({bytes_then} bytes then, {size} now); not read again");
                chunk.problems.push(Problem { source: name, position: 0, message });
                chunk.problems_total = 1;
            }
            return Ok(send(chunk));
        }
    }
    let kind = ReadKind { resumed: start > 0, reread: start < scanned };
    let reader = match reader::open(input, &stdin_data, &shared.bytes_done) {
        Ok(r) => r,
        Err(e) => {
            // No progress recorded: a later run tries again.
            let problem = Problem { source: name, position: 0, message: format!("cannot read: {e}") };
            return Ok(send(Chunk { problems: vec![problem], problems_total: 1, finished: Some(SourceOutcome::Unreadable), ..Default::default() }));
        }
    };

    let ctx_source = name.clone();
    let delivery_region = match input {
        SourceInput::File { path, .. } => discover::flow_delivery_region(path),
        SourceInput::Stdin => None,
    };
    let mut state = SourceState {
        shared,
        index,
        tx,
        name: &name,
        key: &key,
        counters,
        scanned,
        stored,
        prior_complete: prior.complete,
        size,
        detectors,
        scopes_new: Vec::new(),
        fresh_events: 0,
        chunk: Chunk::default(),
        findings: HashMap::new(),
        records_in_chunk: 0,
        last_position: start,
        writer_gone: false,
        network_dirty: flow::Dirty::default(),
        delivery_region: delivery_region.as_deref(),
    };
    let stop = &shared.stop;
    let abandoned = &shared.abandoned[index];
    let end = reader::read_records(reader, start, bufs, shared.options.flow_format.as_ref(), |position, item| -> Result<Flow, IngestError> {
        if position != state.last_position {
            // A position boundary: the only place a chunk may end, or a stop take effect.
            if stop.is_cancelled() || state.writer_gone || abandoned.load(Ordering::Relaxed) {
                return Ok(Flow::Stop);
            }
            if state.records_in_chunk >= shared.options.chunk_records {
                state.emit(false, None);
            }
            state.last_position = position;
        }
        state.take(position, item, router, &ctx_source)?;
        Ok(Flow::Continue)
    })?;
    if state.writer_gone {
        return Ok(false);
    }
    state.last_position = end.position;
    if abandoned.load(Ordering::Relaxed) {
        state.emit_nothing(SourceOutcome::IngestedElsewhere);
        return Ok(!state.writer_gone);
    }
    if end.stopped {
        state.emit(false, Some(SourceOutcome::Interrupted(kind)));
        return Ok(!state.writer_gone);
    }
    if end.empty {
        // Nothing to record: a file created empty may be written later.
        state.emit_nothing(SourceOutcome::Read(kind));
        return Ok(!state.writer_gone);
    }
    if end.truncated && shared.options.growing_files {
        if let Some(problem) = end.problem {
            state.problem(end.position + 1, format!("{problem} (still being written? read on from here next time)"));
        }
        state.emit(false, Some(SourceOutcome::Incomplete(kind)));
        return Ok(!state.writer_gone);
    }
    if let Some(problem) = end.problem {
        state.problem(end.position + 1, problem);
    }
    state.counters.insert(COUNTER_LINES.into(), u64::from(end.json_lines));
    // Every enabled detector of the account/Regions in the source has now analysed all of it.
    state.fold_scopes();
    let scopes: Vec<String> = scopes_seen(&state.counters).map(str::to_owned).collect();
    for scope in &scopes {
        let Some((account, region)) = scope.split_once('/') else { continue };
        if let Target::Enabled(id) = &router.route(account, region)?.target {
            let id = id.clone();
            state.detectors.get_or_load(shared.store, &id, &key)?;
        }
    }
    state.emit(true, Some(SourceOutcome::Read(kind)));
    Ok(!state.writer_gone)
}

/// One source being read by a worker.
struct SourceState<'a, 's> {
    shared: &'a Shared<'s>,
    /// The source's index in the run's list.
    index: usize,
    tx: &'a mpsc::SyncSender<Message>,
    name: &'a str,
    key: &'a str,
    counters: BTreeMap<String, u64>,
    /// Position up to which earlier runs had read the source: records after it are read for the
    /// first time (counted, reported); records up to it are read again for detectors that lack
    /// them.
    scanned: u64,
    /// The position the source's progress record holds once what was sent is committed (None:
    /// no record): the next write expects it there.
    stored: Option<u64>,
    /// An earlier run read the source to its end (as it was then).
    prior_complete: bool,
    size: u64,
    detectors: DetectorPositions,
    /// Records per `account/Region` read for the first time, since the last chunk.
    scopes_new: Vec<(Arc<str>, u64)>,
    /// Usable records read for the first time, since the last chunk.
    fresh_events: u64,
    chunk: Chunk,
    /// The chunk's occurrences, repeats pre-merged.
    findings: HashMap<String, Occurrence>,
    records_in_chunk: u64,
    last_position: u64,
    writer_gone: bool,
    /// Flow / DNS detection state this source changed since its last chunk.
    network_dirty: flow::Dirty,
    /// The Region a flow-log object's S3 delivery key names (`AWSLogs/<acct>/vpcflowlogs/<region>/`).
    delivery_region: Option<&'a str>,
}

/// Per-source cap on listed problems (a garbage file is one line of the summary, not thousands).
const MAX_PROBLEMS_PER_SOURCE: usize = 20;

impl SourceState<'_, '_> {
    fn problem(&mut self, position: u64, message: String) {
        self.chunk.problems_total += 1;
        if self.chunk.problems.len() < MAX_PROBLEMS_PER_SOURCE {
            self.chunk.problems.push(Problem { source: self.name.to_owned(), position, message });
        }
    }

    /// A record that is not usable: counted and reported the first time it is read.
    fn bad(&mut self, position: u64, message: impl FnOnce() -> String) {
        if position > self.scanned {
            self.chunk.bad_records += 1;
            self.problem(position, message());
        }
    }

    fn take(&mut self, position: u64, item: Item<'_, '_>, router: &mut Router<'_>, source: &str) -> Result<(), IngestError> {
        self.records_in_chunk += 1;
        let record = match item {
            Item::Record(record) => record,
            Item::Flow(record) => return self.take_flow(position, record, router, source),
            Item::Query(record) => return self.take_query(position, record, router, source),
            Item::Bad(why) => {
                self.bad(position, || why);
                return Ok(());
            }
        };
        if let Some(field) = detect::missing_field(record) {
            self.bad(position, || format!("not a CloudTrail record: no {field}"));
            return Ok(());
        }
        let fresh = position > self.scanned;
        let Some(detector_id) = self.route_to(position, record.recipient_account_id.as_str(), record.aws_region.as_str(), router)? else {
            return Ok(());
        };
        let intel = &self.shared.options.intel;
        let hits = {
            let lists = self.detectors.lists(self.shared.store, intel, &detector_id)?;
            detect::hits_with(record, &Intel { operator: &intel.operator, lists })
        };
        // Console-login velocity needs locations: only with a GeoIP database.
        let login = intel.operator.geo.is_some()
            && record.event_name.as_str() == "ConsoleLogin"
            && detect::is_management_event(record)
            && console_login::is_successful_login(record);
        if hits.is_empty() && !login {
            return Ok(());
        }
        if detect::event_time_ms(record).is_none() {
            // Reported whenever a detector meets it (once per detector).
            self.chunk.bad_records += 1;
            self.chunk.events -= 1;
            self.fresh_events -= u64::from(fresh);
            self.problem(position, format!("eventTime {:?} is not an ISO-8601 time", record.event_time.as_str()));
            return Ok(());
        }
        let lists = self.detectors.lists(self.shared.store, intel, &detector_id)?.clone();
        let ctx = DetectContext {
            detector_id: &detector_id,
            now_ms: self.shared.now_ms,
            source,
            position,
            intel: Intel { operator: &intel.operator, lists: &lists },
        };
        let mut occurrences = detect::build_occurrences(record, &ctx, hits);
        if login {
            occurrences.extend(self.console_login(record, &ctx, &detector_id)?);
        }
        for occ in occurrences {
            self.chunk.occurrences_raised += 1;
            match self.findings.get_mut(occ.finding_id()) {
                Some(existing) => aggregate::merge_occurrence_deferred(existing, &occ, self.shared.now_ms),
                None => {
                    self.findings.insert(occ.finding_id().to_owned(), occ);
                }
            }
        }
        Ok(())
    }

    /// Counts a usable record and finds its enabled detector: None when it has none (counted as
    /// skipped) or the detector has analysed this position already.
    fn route_to(&mut self, position: u64, account: &str, region: &str, router: &mut Router<'_>) -> Result<Option<Arc<str>>, IngestError> {
        self.chunk.events += 1;
        let route = router.route(account, region)?;
        if position > self.scanned {
            self.fresh_events += 1;
            match self.scopes_new.iter_mut().find(|(s, _)| Arc::ptr_eq(s, &route.scope)) {
                Some((_, n)) => *n += 1,
                None => self.scopes_new.push((route.scope.clone(), 1)),
            }
        }
        let detector_id = match &route.target {
            Target::Enabled(id) => id.clone(),
            Target::Disabled | Target::Missing => {
                let reason = if matches!(route.target, Target::Disabled) { SKIP_DETECTOR_DISABLED } else { SKIP_NO_DETECTOR };
                *self.chunk.skipped.entry(reason).or_default() += 1;
                *self.chunk.skipped_scopes.entry(route.scope.clone()).or_default() += 1;
                return Ok(None);
            }
        };
        if position <= self.detectors.get_or_load(self.shared.store, &detector_id, self.key)? {
            self.chunk.already_analysed += 1;
            return Ok(None);
        }
        Ok(Some(detector_id))
    }

    /// Pre-merges occurrences into the chunk's findings.
    fn add_occurrences(&mut self, occurrences: Vec<Occurrence>) {
        for occ in occurrences {
            self.chunk.occurrences_raised += 1;
            match self.findings.get_mut(occ.finding_id()) {
                Some(existing) => aggregate::merge_occurrence_deferred(existing, &occ, self.shared.now_ms),
                None => {
                    self.findings.insert(occ.finding_id().to_owned(), occ);
                }
            }
        }
    }

    /// Adds a successful console login to its user's history; the occurrences of the impossible
    /// journeys it reveals.
    fn console_login(&mut self, record: &vedette_domain::cloudtrail::CloudTrailRecord<'_>, ctx: &DetectContext<'_>, detector: &Arc<str>) -> Result<Vec<Occurrence>, StoreError> {
        let Some(ip) = record.source_ip_address.get().and_then(|s| s.parse().ok()) else { return Ok(Vec::new()) };
        let Some(login) = console_login::login_of(record, &ctx.intel.operator.geo(ip)) else { return Ok(Vec::new()) };
        let Some(user) = console_login::user_key(record) else { return Ok(Vec::new()) };
        let (journeys, change) = self.shared.logins.add(self.shared.store, detector, user, login)?;
        self.chunk.state.extend(change);
        Ok(journeys.iter().filter_map(|j| console_login::occurrence(record, ctx, j)).collect())
    }

    /// Moves the per-scope record counts of the chunk into the source's counters.
    fn fold_scopes(&mut self) {
        for (scope, n) in self.scopes_new.drain(..) {
            *self.counters.entry(format!("{SCOPE_COUNTER_PREFIX}{scope}")).or_default() += n;
        }
    }

    /// Sends the chunk so far with the source's and its detectors' progress at `last_position`
    /// (`complete`: the whole source has been read). `outcome` marks the source's last chunk.
    fn emit(&mut self, complete: bool, outcome: Option<SourceOutcome>) {
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.occurrences = self.findings.drain().map(|(_, o)| o).collect();
        self.fold_scopes();
        for (key, n) in [
            (COUNTER_EVENTS, self.fresh_events),
            (COUNTER_BAD, chunk.bad_records),
            (COUNTER_OCCURRENCES, chunk.occurrences_raised),
        ] {
            *self.counters.entry(key.into()).or_default() += n;
        }
        self.fresh_events = 0;
        // Going over records read before leaves the source's own state as it was (complete, at
        // the size it had then) until the read passes where the earlier runs stopped.
        let keeps_prior_state = !complete && self.prior_complete && self.last_position <= self.scanned;
        if !keeps_prior_state {
            self.counters.insert(COUNTER_BYTES.into(), self.size);
        }
        let position = self.last_position.max(self.scanned);
        chunk.progress.push(Progress {
            source_key: self.key.to_owned(),
            position,
            complete: complete || keeps_prior_state,
            counters: self.counters.clone(),
            expected_position: self.stored.replace(position),
        });
        for d in &mut self.detectors.0 {
            if self.last_position > d.position {
                d.position = self.last_position;
                chunk.progress.push(Progress {
                    source_key: detector_progress_key(&d.detector, self.key),
                    position: self.last_position,
                    complete,
                    counters: BTreeMap::new(),
                    expected_position: d.stored.replace(self.last_position),
                });
            }
        }
        // Which flow and DNS state this chunk's records changed (the writer snapshots it).
        chunk.network_dirty = std::mem::take(&mut self.network_dirty);
        chunk.finished = outcome;
        self.send(chunk);
        // The next chunk checks whether the detectors' lists changed meanwhile.
        for d in &mut self.detectors.0 {
            d.lists = None;
        }
    }

    /// Ends the source without recording progress.
    fn emit_nothing(&mut self, outcome: SourceOutcome) {
        let chunk = Chunk { finished: Some(outcome), ..std::mem::take(&mut self.chunk) };
        self.send(chunk);
    }

    fn send(&mut self, mut chunk: Chunk) {
        chunk.source = self.index;
        self.shared.events.fetch_add(chunk.events + chunk.bad_records, Ordering::Relaxed);
        self.records_in_chunk = 0;
        self.writer_gone |= self.tx.send(Message::Chunk(chunk)).is_err();
    }
}
