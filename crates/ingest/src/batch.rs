//! Group commit: the writer gathers the workers' chunks and commits them in batches, each one
//! transaction holding the findings, every source's progress and the detection state they came
//! from. [`commit`] is the only place ingest writes them.
//!
//! Batches are held by source: when another process has moved a source's progress meanwhile, the
//! store refuses the batch; that source's pending work is dropped (its worker told to stop, the
//! summary told) and the rest is committed.
use std::collections::{BTreeMap, HashMap, HashSet, hash_map};
use std::sync::atomic::Ordering;
use std::time::Instant;

use vedette_domain::{Occurrence, aggregate};
use vedette_store::{Commit, Progress, StateEntry, Store, StoreError, UpsertStats};

use crate::memory::release_freed_memory;
use crate::source::{Settled, Source};
use crate::state::{Dirty, OrderedState};
use crate::work::{Chunk, ReadKind, Shared, SourceOutcome};
use crate::{IngestOptions, MAX_LISTED_PROBLEMS, Problem, Summary};

/// Writes findings, progress and detection state in one transaction: all or nothing. Ingest's
/// only write; `StoreError::ProgressMoved` names the sources another process moved meanwhile.
pub(crate) fn commit(store: &dyn Store, occurrences: &[Occurrence], progress: &[Progress], state: &[StateEntry]) -> Result<UpsertStats, StoreError> {
    store.commit(&Commit { occurrences, progress, state })
}

/// What the writer holds until the next commit, by source.
#[derive(Default)]
pub(crate) struct Batch {
    sources: BTreeMap<usize, PendingSource>,
    /// Findings held, counted per source (one met in several sources counts for each).
    findings: usize,
    /// Every finding id this run has written: created + updated, each once.
    touched: HashSet<String>,
    records: u64,
    since: Option<Instant>,
    /// Detectors whose flow / DNS state the held chunks changed.
    network_dirty: Dirty,
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
    state: Vec<OrderedState>,
}

impl Batch {
    pub(crate) fn add(&mut self, mut chunk: Chunk, now_ms: i64) {
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

    pub(crate) fn due(&self, options: &IngestOptions) -> bool {
        self.records >= options.batch_records
            || self.findings >= options.batch_findings
            || self.since.is_some_and(|t| t.elapsed() >= options.max_batch_delay)
    }

    /// Commits what is held, without the sources another process has moved since.
    pub(crate) fn commit(&mut self, shared: &Shared<'_>, summary: &mut Summary) -> Result<(), StoreError> {
        // Flow and DNS state as it stands now: with every held chunk's records applied (and
        // possibly some records of chunks still in the workers' hands: see the crate docs).
        let network = self.network_dirty.snapshots(&shared.flow_state, &shared.dns_state);
        let stats = loop {
            let refused = match self.write(shared.store, shared.now_ms, &network) {
                Ok(stats) => break stats,
                Err(StoreError::ProgressMoved(keys)) => self.sources_holding(&keys),
                Err(e) => return Err(e),
            };
            if refused.is_empty() {
                return Err(StoreError::Backend("the store refused progress records this run did not write".into()));
            }
            for source in refused {
                if let Some(pending) = self.sources.remove(&source) {
                    self.findings -= pending.findings.len();
                }
                shared.abandoned[source].store(true, Ordering::Relaxed);
                summary.sources_ingested_elsewhere.push(shared.sources[source].name());
                shared.sources[source].settled(Settled::Elsewhere);
            }
        };
        summary.findings_created += stats.created;
        summary.findings_updated = (self.touched.len() as u64).saturating_sub(summary.findings_created);
        for (_, pending) in std::mem::take(&mut self.sources) {
            for chunk in pending.chunks {
                fold_into(summary, chunk, shared.sources);
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
        let keys: HashSet<&str> = keys.iter().map(String::as_str).collect();
        let holds = |p: &PendingSource| p.progress.iter().any(|r| keys.contains(r.source_key.as_str()));
        self.sources.iter().filter(|(_, p)| holds(p)).map(|(source, _)| *source).collect()
    }

    /// One transaction with every pending source's findings (repeats across sources merged) and
    /// progress. The findings are moved out for it and put back if the store refuses.
    fn write(&mut self, store: &dyn Store, now_ms: i64, network: &[OrderedState]) -> Result<UpsertStats, StoreError> {
        let progress: Vec<Progress> = self.sources.values().flat_map(|p| p.progress.iter().cloned()).collect();
        // The latest change of each key (workers change histories in a shared order).
        let mut latest: HashMap<(&str, &str), (u64, &StateEntry)> = HashMap::new();
        for (order, entry) in self.sources.values().flat_map(|p| p.state.iter()) {
            let slot = latest.entry((entry.detector_id.as_str(), entry.key.as_str())).or_insert((*order, entry));
            if *order > slot.0 {
                *slot = (*order, entry);
            }
        }
        let state: Vec<StateEntry> = latest.into_values().map(|(_, e)| e.clone()).chain(network.iter().map(|(_, e)| e.clone())).collect();
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
                    hash_map::Entry::Vacant(e) => {
                        e.insert(merged.len());
                        merged.push(occ);
                        owners.push(Some(source));
                    }
                    hash_map::Entry::Occupied(e) => {
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
        match commit(store, &merged, &progress, &state) {
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

pub(crate) fn note_problem(summary: &mut Summary, problem: Problem) {
    summary.problems_total += 1;
    if summary.problems.len() < MAX_LISTED_PROBLEMS {
        summary.problems.push(problem);
    }
}

/// Adds a committed chunk's counts, problems and outcome to the summary; tells the source its
/// outcome with its last chunk.
fn fold_into(summary: &mut Summary, chunk: Chunk, sources: &[Box<dyn Source>]) {
    if let Some(outcome) = chunk.finished {
        let mut count_read = |kind: ReadKind| {
            summary.sources += 1;
            summary.sources_resumed += u64::from(kind.resumed);
            summary.sources_reread += u64::from(kind.reread);
        };
        let settled = match outcome {
            SourceOutcome::Read(kind) => {
                count_read(kind);
                Settled::Complete
            }
            SourceOutcome::Interrupted(kind) => {
                count_read(kind);
                summary.interrupted = true;
                Settled::Partial
            }
            SourceOutcome::Incomplete(kind) => {
                count_read(kind);
                summary.sources_incomplete += 1;
                Settled::Partial
            }
            SourceOutcome::AlreadyIngested => {
                summary.sources_already_ingested += 1;
                Settled::Complete
            }
            SourceOutcome::Unreadable => Settled::Unreadable,
            // Counted, and told, when the store refused the source's progress.
            SourceOutcome::IngestedElsewhere => Settled::Elsewhere,
        };
        if outcome != SourceOutcome::IngestedElsewhere {
            sources[chunk.source].settled(settled);
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
