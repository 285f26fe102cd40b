//! Analysing one source's records as a worker reads them: each record is counted, routed to its
//! detector, skipped when that detector has analysed its position already, and run through
//! detection; the occurrences raised are pre-merged by finding and handed to the writer in chunks
//! with the progress they account for.
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use vedette_domain::detect::console_login::{self, LoginHistory};
use vedette_domain::detect::{self, DetectContext, Intel};
use vedette_domain::{Occurrence, aggregate};
use vedette_store::{Progress, StoreError};

use crate::discover;
use crate::progress::{
    self, COUNTER_BAD, COUNTER_BYTES, COUNTER_EVENTS, COUNTER_LINES, COUNTER_OCCURRENCES, Completed, DetectorPositions, SCOPE_COUNTER_PREFIX,
    detector_progress_key, scopes_seen,
};
use crate::reader::{self, Buffers, Flow, Item};
use crate::router::{Router, Target};
use crate::source::Identity;
use crate::state::Dirty;
use crate::work::{Chunk, Message, ReadKind, Shared, SourceOutcome};
use crate::{IngestError, Problem, SKIP_DETECTOR_DISABLED, SKIP_NO_DETECTOR};

/// Reads one source and sends its chunks. Returns false when the writer has gone away.
pub(crate) fn analyze_source(
    shared: &Shared<'_>,
    index: usize,
    router: &mut Router<'_>,
    bufs: &mut Buffers,
    tx: &mpsc::SyncSender<Message>,
) -> Result<bool, IngestError> {
    let source = shared.sources[index].as_ref();
    let name = source.name();
    let Identity { key, size } = source.identify()?;
    let metered = source.size_hint().is_some();
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
        if let Some(id) = router.enabled_detector(scope)? {
            start = start.min(detectors.get_or_load(shared.store, &id, &key)?);
        }
    }
    if prior.complete {
        let skip = match progress::completed(&counters, size, start >= scanned, source.can_grow()) {
            Completed::Read => None,
            Completed::Skip => Some(None),
            Completed::SkipChanged { bytes_then } => {
                Some(Some(format!("changed since it was ingested ({bytes_then} bytes then, {size} now); not read again")))
            }
        };
        if let Some(changed) = skip {
            if metered {
                shared.bytes_done.fetch_add(size, Ordering::Relaxed);
                shared.bytes_skipped.fetch_add(size, Ordering::Relaxed);
            }
            let mut chunk = Chunk { finished: Some(SourceOutcome::AlreadyIngested), ..Default::default() };
            if let Some(message) = changed {
                chunk.problems.push(Problem { source: name, position: 0, message });
                chunk.problems_total = 1;
            }
            return Ok(send(chunk));
        }
    }
    let kind = ReadKind { resumed: start > 0, reread: start < scanned };
    let opened = source.open().and_then(|raw| {
        let raw: Box<dyn Read + '_> = if metered { Box::new(Counting { inner: raw, counter: &shared.bytes_done }) } else { raw };
        reader::decompressed(raw)
    });
    let reader = match opened {
        Ok(r) => r,
        Err(e) => {
            // No progress recorded: a later run tries again.
            let problem = Problem { source: name, position: 0, message: format!("cannot read: {e}") };
            return Ok(send(Chunk { problems: vec![problem], problems_total: 1, finished: Some(SourceOutcome::Unreadable), ..Default::default() }));
        }
    };

    let ctx_source = name.clone();
    let delivery_region = source.location().and_then(discover::flow_delivery_region);
    let mut state = Analyzer {
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
        network_dirty: Dirty::default(),
        delivery_region: delivery_region.as_deref(),
    };
    let cancel = &shared.cancel;
    let abandoned = &shared.abandoned[index];
    let end = reader::read_records(reader, start, bufs, shared.options.flow_format.as_ref(), |position, item| -> Result<Flow, IngestError> {
        if position != state.last_position {
            // A position boundary: the only place a chunk may end, or a stop take effect.
            if cancel.is_cancelled() || state.writer_gone || abandoned.load(Ordering::Relaxed) {
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
    if end.truncated && shared.options.growing_files && source.can_grow() {
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
        if let Some(id) = router.enabled_detector(scope)? {
            state.detectors.get_or_load(shared.store, &id, &key)?;
        }
    }
    state.emit(true, Some(SourceOutcome::Read(kind)));
    Ok(!state.writer_gone)
}

/// One source being read by a worker.
pub(crate) struct Analyzer<'a, 's> {
    pub(crate) shared: &'a Shared<'s>,
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
    pub(crate) detectors: DetectorPositions,
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
    pub(crate) network_dirty: Dirty,
    /// The Region a flow-log object's S3 delivery key names (`AWSLogs/<acct>/vpcflowlogs/<region>/`).
    pub(crate) delivery_region: Option<&'a str>,
}

/// Per-source cap on listed problems (a garbage file is one line of the summary, not thousands).
const MAX_PROBLEMS_PER_SOURCE: usize = 20;

impl Analyzer<'_, '_> {
    fn problem(&mut self, position: u64, message: String) {
        self.chunk.problems_total += 1;
        if self.chunk.problems.len() < MAX_PROBLEMS_PER_SOURCE {
            self.chunk.problems.push(Problem { source: self.name.to_owned(), position, message });
        }
    }

    /// A record that is not usable: counted and reported the first time it is read.
    pub(crate) fn bad(&mut self, position: u64, message: impl FnOnce() -> String) {
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
        self.add_occurrences(occurrences);
        Ok(())
    }

    /// Counts a usable record and finds its enabled detector: None when it has none (counted as
    /// skipped) or the detector has analysed this position already.
    pub(crate) fn route_to(&mut self, position: u64, account: &str, region: &str, router: &mut Router<'_>) -> Result<Option<Arc<str>>, IngestError> {
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
    pub(crate) fn add_occurrences(&mut self, occurrences: Vec<Occurrence>) {
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
    fn console_login(
        &mut self,
        record: &vedette_domain::cloudtrail::CloudTrailRecord<'_>,
        ctx: &DetectContext<'_>,
        detector: &Arc<str>,
    ) -> Result<Vec<Occurrence>, StoreError> {
        let Some(ip) = record.source_ip_address.get().and_then(|s| s.parse().ok()) else { return Ok(Vec::new()) };
        let Some(login) = console_login::login_of(record, &ctx.intel.operator.geo(ip)) else { return Ok(Vec::new()) };
        let Some(user) = console_login::user_key(record) else { return Ok(Vec::new()) };
        let (journeys, change) = self.shared.logins.change(self.shared.store, detector, &user, |history: &mut LoginHistory| {
            // A record read again: nothing new.
            if history.contains(&login) { (Vec::new(), false) } else { (history.add(login), true) }
        })?;
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
        for (key, n) in [(COUNTER_EVENTS, self.fresh_events), (COUNTER_BAD, chunk.bad_records), (COUNTER_OCCURRENCES, chunk.occurrences_raised)] {
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

/// Counts the raw bytes read from a source, for the progress bar.
struct Counting<'c, R> {
    inner: R,
    counter: &'c AtomicU64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
