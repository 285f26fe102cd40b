//! The workers and the channel: worker threads each take a whole source at a time and analyse it
//! ([`crate::analyze`]), sending chunks over a bounded channel; the calling thread is the writer,
//! which batches the chunks ([`crate::batch`]) and reports progress.
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vedette_domain::Occurrence;
use vedette_domain::detect::console_login::LoginHistory;
use vedette_domain::dns::DnsHeuristics;
use vedette_domain::flow::FlowState;
use vedette_store::{Progress, Store};

use crate::analyze::analyze_source;
use crate::batch::Batch;
use crate::flow::Dirty;
use crate::reader::Buffers;
use crate::router::Router;
use crate::source::Source;
use crate::state::{OrderedState, StateCache};
use crate::{IngestError, IngestOptions, Problem, ProgressUpdate, Summary};

/// Everything the workers share.
pub(crate) struct Shared<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) sources: &'a [Box<dyn Source>],
    next: AtomicUsize,
    pub(crate) bytes_done: AtomicU64,
    /// Of `bytes_done`, the sources not read again (already ingested).
    pub(crate) bytes_skipped: AtomicU64,
    pub(crate) events: AtomicU64,
    /// A child of the caller's token: a fatal error stops this run's workers, not the caller.
    pub(crate) cancel: CancellationToken,
    pub(crate) options: &'a IngestOptions,
    pub(crate) now_ms: i64,
    created: Mutex<BTreeMap<String, String>>,
    scopes: Mutex<BTreeMap<String, Option<String>>>,
    /// Per source: another process got there first (set by the writer); its worker stops.
    pub(crate) abandoned: Vec<AtomicBool>,
    /// Console-login histories, per (detector, user).
    pub(crate) logins: StateCache<LoginHistory>,
    pub(crate) flow_state: StateCache<FlowState>,
    pub(crate) dns_state: StateCache<DnsHeuristics>,
}

/// A piece of a source's work, from a worker to the writer.
#[derive(Default)]
pub(crate) struct Chunk {
    /// The source's index in the run's list.
    pub(crate) source: usize,
    pub(crate) occurrences: Vec<Occurrence>,
    /// The source's progress and its detectors' (empty: nothing to record).
    pub(crate) progress: Vec<Progress>,
    pub(crate) events: u64,
    pub(crate) already_analysed: u64,
    pub(crate) bad_records: u64,
    pub(crate) occurrences_raised: u64,
    pub(crate) skipped: BTreeMap<&'static str, u64>,
    pub(crate) skipped_scopes: HashMap<Arc<str>, u64>,
    pub(crate) problems: Vec<Problem>,
    pub(crate) problems_total: u64,
    /// Detection state to write with the chunk, each as it was when the chunk's records changed it.
    pub(crate) state: Vec<OrderedState>,
    /// Detectors whose flow / DNS state the chunk's records changed (written as of the commit).
    pub(crate) network_dirty: Dirty,
    /// Set on a source's last chunk.
    pub(crate) finished: Option<SourceOutcome>,
}

/// How a source was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ReadKind {
    /// Started after the beginning.
    pub(crate) resumed: bool,
    /// Went over records an earlier run had read (for detectors that lacked them).
    pub(crate) reread: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceOutcome {
    Read(ReadKind),
    /// Stopped part way (cancelled).
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
pub(crate) enum Message {
    Chunk(Chunk),
    Fatal(IngestError),
}

/// Runs the pipeline over `sources`, adding to `summary`.
pub(crate) fn run(
    store: &dyn Store,
    sources: &[Box<dyn Source>],
    mut summary: Summary,
    options: &IngestOptions,
    on_progress: &mut dyn FnMut(&ProgressUpdate),
) -> Result<Summary, IngestError> {
    let bytes_total = sources.iter().filter_map(|s| s.size_hint()).sum();
    let shared = Shared {
        store,
        sources,
        next: AtomicUsize::new(0),
        bytes_done: AtomicU64::new(0),
        bytes_skipped: AtomicU64::new(0),
        events: AtomicU64::new(0),
        cancel: options.cancel.child_token(),
        options,
        now_ms: options.now_ms.unwrap_or_else(vedette_domain::time::now_ms),
        created: Mutex::new(BTreeMap::new()),
        scopes: Mutex::new(BTreeMap::new()),
        abandoned: sources.iter().map(|_| AtomicBool::new(false)).collect(),
        logins: StateCache::default(),
        flow_state: StateCache::default(),
        dns_state: StateCache::default(),
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
                    shared.cancel.cancel();
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
                shared.cancel.cancel();
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

fn worker(shared: &Shared<'_>, tx: &mpsc::SyncSender<Message>) -> Result<(), IngestError> {
    let created = shared.options.create_detectors.then_some(&shared.created);
    let mut router = Router::new(shared.store, created, &shared.scopes);
    let mut bufs = Buffers::default();
    loop {
        if shared.cancel.is_cancelled() {
            return Ok(());
        }
        let index = shared.next.fetch_add(1, Ordering::Relaxed);
        if index >= shared.sources.len() {
            return Ok(());
        }
        if !analyze_source(shared, index, &mut router, &mut bufs, tx)? {
            return Ok(()); // the writer is gone
        }
    }
}
