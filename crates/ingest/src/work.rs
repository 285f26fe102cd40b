//! What the workers and the writer share and exchange: the run's shared state, and the chunks
//! of analysed records (with how each source ended) sent from workers to the writer. Kept apart
//! from both so that each depends on it and neither on the other.
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use vedette_domain::Occurrence;
use vedette_domain::detect::console_login::LoginHistory;
use vedette_domain::dns::DnsHeuristics;
use vedette_domain::flow::FlowState;
use vedette_store::{Progress, Store};

use crate::source::Source;
use crate::state::{Dirty, OrderedState, StateCache};
use crate::{IngestError, IngestOptions, Problem};

/// Everything the workers share.
pub(crate) struct Shared<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) sources: &'a [Box<dyn Source>],
    pub(crate) next: AtomicUsize,
    pub(crate) bytes_done: AtomicU64,
    /// Of `bytes_done`, the sources not read again (already ingested).
    pub(crate) bytes_skipped: AtomicU64,
    pub(crate) events: AtomicU64,
    /// A child of the caller's token: a fatal error stops this run's workers, not the caller.
    pub(crate) cancel: CancellationToken,
    pub(crate) options: &'a IngestOptions,
    pub(crate) now_ms: i64,
    pub(crate) created: Mutex<BTreeMap<String, String>>,
    pub(crate) scopes: Mutex<BTreeMap<String, Option<String>>>,
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
