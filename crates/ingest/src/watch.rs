//! Continuous ingest of a directory tree (`vedette serve --watch DIR`): the tree is polled, and
//! files that are new or changed since they were last ingested go through [`ingest_paths`].
//!
//! * Each poll walks the tree and stats its log files. A file is handed to ingest once its size
//!   and mtime have held for one poll interval (seen unchanged by the previous poll, or an mtime
//!   already that old): a file still being copied in is left for a later poll.
//! * Files handed to a run that finished are remembered with their (size, mtime), in memory: an
//!   unchanged file is not checked against the store again, so a big tree costs one `stat` per
//!   file per poll. A file that changes (a JSON-lines file growing, a `.gz` still being written)
//!   is handed again and the store's progress decides what is new.
//! * Ingest runs with [`IngestOptions::growing_files`]: a file that ends inside a record (a `.gz`
//!   cut short, an unfinished last line) keeps its progress open after its last whole record and
//!   is read on when it changes; it is logged once per change, not marked bad for good.
//! * A file another process is ingesting at the same time (its progress moved under this run) is
//!   not remembered as done: the next poll checks it again.
//! * The detectors of every account/Region met are checked each poll (a few indexed lookups):
//!   when one appears, is re-created, enabled or deleted (API, reset), the in-memory set is
//!   dropped, so files whose records a detector has not analysed yet are read again for it.
//!
//! Every run with something in it is logged (tracing, target `vedette_ingest::watch`) with its
//! counts; problems are logged as warnings.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use vedette_domain::Scope;
use vedette_store::Store;

use crate::discover::{SourceInput, discover};
use crate::{IngestOptions, Summary, ingest_paths};

/// Default poll interval.
pub const DEFAULT_POLL: Duration = Duration::from_secs(2);

/// What identifies a version of a file between polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    modified: Option<SystemTime>,
}

/// The watcher's memory between polls.
#[derive(Default)]
pub struct Watcher {
    /// Files a finished run has taken, as they were then.
    done: HashMap<PathBuf, Stamp>,
    /// Every log file of the previous poll.
    last_seen: HashMap<PathBuf, Stamp>,
    /// The enabled detector of each account/Region met so far (None: missing or suspended).
    scopes: BTreeMap<String, Option<String>>,
    /// Walk problems already logged (a missing directory is logged once, not every poll).
    reported: HashSet<String>,
}

impl Watcher {
    /// One poll: walks `dir`, ingests what is ready, returns the run's summary if there was one.
    pub fn poll(
        &mut self,
        store: &dyn Store,
        dir: &Path,
        options: &IngestOptions,
        interval: Duration,
    ) -> Result<Option<Summary>, crate::IngestError> {
        self.forget_done_if_detectors_changed(store)?;
        let (sources, problems, _) = discover(&[dir.to_owned()]);
        for p in problems {
            let text = format!("{}: {}", p.path.display(), p.message);
            if self.reported.insert(text.clone()) {
                tracing::warn!("watch: cannot read {text}");
            }
        }
        let now = SystemTime::now();
        let mut seen = HashMap::with_capacity(sources.len());
        let mut ready = Vec::new();
        for source in sources {
            let SourceInput::File { path, size } = source else { continue };
            let modified = std::fs::metadata(&path).ok().and_then(|m| m.modified().ok());
            let stamp = Stamp { size, modified };
            let settled =
                self.last_seen.get(&path) == Some(&stamp) || modified.is_some_and(|m| now.duration_since(m).is_ok_and(|age| age >= interval));
            if settled && self.done.get(&path) != Some(&stamp) {
                ready.push((path.clone(), stamp));
            }
            seen.insert(path, stamp);
        }
        // Files gone from the tree are forgotten.
        self.done.retain(|path, _| seen.contains_key(path));
        self.last_seen = seen;
        if ready.is_empty() {
            return Ok(None);
        }
        let paths: Vec<PathBuf> = ready.iter().map(|(p, _)| p.clone()).collect();
        let options = IngestOptions { growing_files: true, ..options.clone() };
        let summary = ingest_paths(store, &paths, &options, &mut |_| {})?;
        if !summary.interrupted {
            // Files another process was ingesting are tried again next poll: whatever it has
            // not read by then is read here.
            let elsewhere: HashSet<&str> = summary.sources_ingested_elsewhere.iter().map(String::as_str).collect();
            self.done.extend(ready.into_iter().filter(|(path, _)| !elsewhere.contains(path.display().to_string().as_str())));
        }
        self.scopes.extend(summary.scopes.clone());
        log_run(&summary);
        Ok(Some(summary))
    }

    /// Drops the in-memory set when the detector of an account/Region met so far has changed.
    fn forget_done_if_detectors_changed(&mut self, store: &dyn Store) -> Result<(), crate::IngestError> {
        let mut changed = false;
        for (scope, known) in &mut self.scopes {
            let Some((account, region)) = scope.split_once('/') else { continue };
            let now = store.detector_for(&Scope::new(account, region))?.filter(|d| d.config.enabled).map(|d| d.id);
            if now != *known {
                tracing::info!(scope = %scope, detector = now.as_deref().unwrap_or("none"), "watch: detector changed; files will be checked again");
                *known = now;
                changed = true;
            }
        }
        if changed {
            self.done.clear();
        }
        Ok(())
    }
}

fn log_run(s: &Summary) {
    for (scope, id) in &s.detectors_created {
        tracing::info!(scope = %scope, detector = %id, "watch: detector created");
    }
    if s.sources > 0 || s.problems_total > 0 {
        let skipped: u64 = s.skipped.values().sum();
        tracing::info!(
            files = s.sources,
            events = s.events,
            findings_created = s.findings_created,
            findings_updated = s.findings_updated,
            skipped,
            bad_records = s.bad_records,
            incomplete = s.sources_incomplete,
            "watch: ingested batch"
        );
    }
    for (scope, n) in &s.skipped_scopes {
        tracing::info!(scope = %scope, events = n, "watch: events skipped: no enabled detector for the account and Region");
    }
    for source in &s.sources_ingested_elsewhere {
        tracing::info!(source = %source, "watch: being ingested by another process; checked again on a later poll");
    }
    for p in &s.problems {
        tracing::warn!(source = %p.source, position = p.position, "watch: {}", p.message);
    }
    if s.problems_total > s.problems.len() as u64 {
        tracing::warn!("watch: {} more problems", s.problems_total - s.problems.len() as u64);
    }
}

/// Polls `dir` every `interval` until `cancel` is cancelled; the run in progress then stops at the
/// next record, commits what it has read, and this returns. Store failures are logged and retried
/// on the next poll (the server keeps serving).
pub fn watch(store: &dyn Store, dir: &Path, options: &IngestOptions, interval: Duration, cancel: CancellationToken) {
    let options = IngestOptions { cancel: cancel.clone(), ..options.clone() };
    let mut watcher = Watcher::default();
    tracing::info!(dir = %dir.display(), interval_ms = interval.as_millis() as u64, "watch: started");
    while !cancel.is_cancelled() {
        if let Err(e) = watcher.poll(store, dir, &options, interval) {
            tracing::error!("watch: {e}; retrying on the next poll");
        }
        sleep_unless_cancelled(interval, &cancel);
    }
    tracing::info!(dir = %dir.display(), "watch: stopped");
}

/// Sleeps for `interval`, in small steps so that a cancellation is seen quickly.
pub fn sleep_unless_cancelled(interval: Duration, cancel: &CancellationToken) {
    let mut slept = Duration::ZERO;
    while slept < interval && !cancel.is_cancelled() {
        let step = Duration::from_millis(100).min(interval - slept);
        std::thread::sleep(step);
        slept += step;
    }
}
