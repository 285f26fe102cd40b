//! VPC flow-log records in the pipeline, and the flow / DNS detection state of each detector.
//!
//! Routing: a flow record goes to the detector of its `account-id` and Region. The Region is the
//! record's own v4+ `region` field when the layout has one, else the Region of the object's S3
//! delivery key (`AWSLogs/<account>/vpcflowlogs/<region>/…`), else [`IngestOptions::flow_region`]
//! (`--flow-region`): v2/v3 records do not say where they were logged, and guessing would route
//! them to a detector of the wrong Region. A record with none of these is a bad record.
//!
//! State: brute-force counts, scan fan-out and probe lists ([`FlowState`]) and the DNS heuristics'
//! windows ([`DnsHeuristics`]) are kept per detector, shared by the workers (so records of one
//! instance in different files meet), loaded from the store the first time a detector needs them
//! and written back with every chunk that changed them (`Store::commit`, in the same
//! transaction as the findings and progress): a day of logs as one file or many, or across a
//! restart, meets the same state.
//!
//! [`IngestOptions::flow_region`]: crate::IngestOptions::flow_region
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use vedette_domain::Scope;
use vedette_domain::detect::Intel;
use vedette_domain::dns::DnsHeuristics;
use vedette_domain::flow::{self, FlowContext, FlowRecord, FlowState};
use vedette_store::{StateEntry, Store, StoreError};

use crate::{IngestError, OrderedState, Router, SourceState};

/// State keys (one entry per detector each).
pub(crate) const FLOW_STATE_KEY: &str = "flow:state";
pub(crate) const DNS_STATE_KEY: &str = "dns:heuristics";

/// Every detector's flow and DNS state in this run.
#[derive(Default)]
pub(crate) struct NetworkState {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    flow: HashMap<Arc<str>, FlowState>,
    dns: HashMap<Arc<str>, DnsHeuristics>,
    /// Order of snapshots (see `Chunk::state`: the writer keeps the latest of a key).
    changes: u64,
}

/// The detectors whose state a source changed since its last chunk.
#[derive(Default)]
pub(crate) struct Dirty {
    flow: Vec<Arc<str>>,
    dns: Vec<Arc<str>>,
}

impl Dirty {
    /// Adds what `other` names.
    pub(crate) fn absorb(&mut self, other: Dirty) {
        for d in &other.flow {
            mark(&mut self.flow, d);
        }
        for d in &other.dns {
            mark(&mut self.dns, d);
        }
    }
}

fn mark(list: &mut Vec<Arc<str>>, detector: &Arc<str>) {
    if !list.iter().any(|d| d == detector) {
        list.push(detector.clone());
    }
}

/// The stored state of `key`, or a fresh one (nothing stored, or written by an incompatible
/// version: windowed state is worth less than a failed run).
fn load<T: DeserializeOwned + Default>(store: &dyn Store, detector: &str, key: &str) -> Result<T, StoreError> {
    let stored = store.load_state(detector, key)?.into_iter().find(|(k, _)| k == key);
    Ok(stored.and_then(|(_, value)| serde_json::from_str(&value).ok()).unwrap_or_default())
}

fn entry<T: Serialize>(detector: &Arc<str>, key: &str, state: &T, order: u64) -> Option<OrderedState> {
    let value = serde_json::to_string(state).ok()?;
    Some((order, StateEntry { detector_id: detector.to_string(), key: key.to_owned(), value: Some(value) }))
}

impl NetworkState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn with_flow<T>(&self, store: &dyn Store, detector: &Arc<str>, f: impl FnOnce(&mut FlowState) -> T) -> Result<T, StoreError> {
        let mut inner = self.lock();
        if !inner.flow.contains_key(detector) {
            let state = load(store, detector, FLOW_STATE_KEY)?;
            inner.flow.insert(detector.clone(), state);
        }
        Ok(f(inner.flow.get_mut(detector).expect("inserted above")))
    }

    pub(crate) fn with_dns<T>(&self, store: &dyn Store, detector: &Arc<str>, f: impl FnOnce(&mut DnsHeuristics) -> T) -> Result<T, StoreError> {
        let mut inner = self.lock();
        if !inner.dns.contains_key(detector) {
            let state = load(store, detector, DNS_STATE_KEY)?;
            inner.dns.insert(detector.clone(), state);
        }
        Ok(f(inner.dns.get_mut(detector).expect("inserted above")))
    }

    /// The state entries to write for what `dirty` names (which it then forgets).
    pub(crate) fn snapshots(&self, dirty: &mut Dirty) -> Vec<OrderedState> {
        if dirty.flow.is_empty() && dirty.dns.is_empty() {
            return Vec::new();
        }
        let mut inner = self.lock();
        let mut out = Vec::new();
        for detector in dirty.flow.drain(..) {
            inner.changes += 1;
            let order = inner.changes;
            out.extend(inner.flow.get(&detector).and_then(|s| entry(&detector, FLOW_STATE_KEY, s, order)));
        }
        for detector in dirty.dns.drain(..) {
            inner.changes += 1;
            let order = inner.changes;
            out.extend(inner.dns.get(&detector).and_then(|s| entry(&detector, DNS_STATE_KEY, s, order)));
        }
        out
    }
}

impl SourceState<'_, '_> {
    /// Runs for every enabled detector whatever its configuration: flow logs are one of GuardDuty's
    /// foundational sources, which an enabled detector always analyses (UpdateDetector's
    /// `DataSources` and `Features` cannot name FLOW_LOGS, DNS_LOGS or CLOUD_TRAIL; GetDetector
    /// reports them ENABLED), so there is no setting to honour.
    pub(crate) fn take_flow(&mut self, position: u64, record: &FlowRecord<'_>, router: &mut Router<'_>, source: &str) -> Result<(), IngestError> {
        let Some(account) = record.account_id else {
            self.bad(position, || "not a usable flow-log record: no account-id".into());
            return Ok(());
        };
        let region = record.region.or(self.delivery_region).or(self.shared.options.flow_region.as_deref());
        let Some(region) = region else {
            self.bad(position, || "flow-log record without a Region: no v4 region field, no AWSLogs/<account>/vpcflowlogs/<region>/ path and no --flow-region".into());
            return Ok(());
        };
        let Some(detector_id) = self.route_to(position, account, region, router)? else { return Ok(()) };
        let store = self.shared.store;
        let intel = &self.shared.options.intel;
        let lists = self.detectors.lists(store, intel, &detector_id)?.clone();
        let scope = Scope::new(account, region);
        let ctx = FlowContext {
            detector_id: &detector_id,
            scope: &scope,
            now_ms: self.shared.now_ms,
            source,
            position,
            intel: Intel { operator: &intel.operator, lists: &lists },
            inventory: self.shared.options.inventory.as_deref(),
        };
        let occurrences = self.shared.network_state.with_flow(store, &detector_id, |state| flow::detect(record, &ctx, state))?;
        mark(&mut self.network_dirty.flow, &detector_id);
        self.add_occurrences(occurrences);
        Ok(())
    }

    pub(crate) fn mark_dns_dirty(&mut self, detector: &Arc<str>) {
        mark(&mut self.network_dirty.dns, detector);
    }
}
