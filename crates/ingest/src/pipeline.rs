//! The workers and the channel: worker threads each take a whole source at a time and analyse it
//! ([`crate::analyze`]), sending chunks over a bounded channel; the calling thread is the writer,
//! which batches the chunks ([`crate::batch`]) and reports progress.
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use vedette_store::Store;

use crate::analyze::analyze_source;
use crate::batch::Batch;
use crate::reader::Buffers;
use crate::router::Router;
use crate::source::Source;
use crate::state::StateCache;
use crate::work::{Message, Shared};
use crate::{IngestError, IngestOptions, ProgressUpdate, Summary};

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
