//! Persistence behind the `Store` trait. The embedded SQLite store is the default; a PostgreSQL
//! store implements the same trait. Filtering, sorting and paging run inside the store.
//!
//! A store persists; it does not decide. What a write does to a finding (merge, retention,
//! suppression, the outbox event) is `vedette_domain::commit`'s decision, applied by every
//! store inside its write transaction. Errors are typed ([`StoreError`]); GuardDuty's wording
//! for them lives in `vedette-service`.
//!
//! The trait is synchronous. Ingest runs on OS threads doing CPU-bound parsing and calls the
//! store between chunks; the API's service layer calls it through one `spawn_blocking` helper.
//! A synchronous trait keeps a transaction a plain scope (nothing held across an `.await`), and
//! is what both backends can offer: SQLite is synchronous, and a PostgreSQL backend drives its
//! async client on its own runtime inside those blocking threads. Every method is required: a
//! backend that compiles implements all of them.
use std::collections::BTreeMap;

use vedette_domain::criteria::{Criteria, Sort};
use vedette_domain::{Detector, DetectorConfig, Occurrence, Scope, model};

pub mod destinations;
pub mod export;
pub mod filters;
pub mod lists;
pub mod sqlite;
pub mod state;
pub mod testing;

pub use destinations::DestinationStore;
pub use export::ExportStore;
pub use filters::FilterStore;
pub use lists::{ActiveList, ActiveListHead, ListKind, ListStore};
pub use state::{StateEntry, StateStore};

pub use sqlite::SqliteStore;

pub type Result<T> = std::result::Result<T, StoreError>;

/// What a [`StoreError`] is about. The store names the thing; the service words the answer
/// (GuardDuty's message for it) once, at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Detector,
    Filter,
    IpSet,
    ThreatIntelSet,
    PublishingDestination,
    /// An outbox consumer (an export sink or a publishing destination's writer).
    Consumer,
    Finding,
}

/// Why a store call did not do what it was asked. Typed, so that callers decide on variants,
/// never on message text.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The resource does not exist in this scope (unknown, deleted, or another scope's).
    #[error("{0:?} not found")]
    NotFound(Resource),
    /// A resource that must be unique already exists: a second detector in a scope, a filter
    /// name taken, a second publishing destination of one type.
    #[error("{0:?} already exists")]
    AlreadyExists(Resource),
    /// A client token that created one resource was presented again for a different one.
    #[error("the client token already created another {0:?}")]
    TokenReused(Resource),
    /// Creating one more would exceed the per-detector quota of `max`.
    #[error("at most {max} of {resource:?} per detector")]
    QuotaExceeded { resource: Resource, max: usize },
    /// A pagination token that this store did not issue for this query.
    #[error("bad pagination token")]
    BadToken,
    /// Ids named by the caller that are not the detector's findings; nothing was changed.
    #[error("unknown finding ids: {0:?}")]
    UnknownFindings(Vec<String>),
    /// A filter rank that would leave a gap among the detector's filters.
    #[error("filter rank out of bounds")]
    RankOutOfBounds,
    /// A write whose progress records were not at the positions it expected (see
    /// [`Progress::expected_position`]): another writer got there first. Nothing was written.
    #[error("progress moved for {0:?}")]
    ProgressMoved(Vec<String>),
    /// A request the store cannot serve as asked (e.g. sorting by a multi-valued attribute).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The storage itself failed (I/O, corruption, a lost connection).
    #[error("storage failure: {0}")]
    Backend(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present only when there is more.
    pub next_token: Option<String>,
}

/// Progress of one ingest source, written in the same transaction as the findings it produced.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// Identifies the source (e.g. absolute path + size, or a content hash for stdin).
    pub source_key: String,
    /// Records consumed so far (the next record to read on resume).
    pub position: u64,
    pub complete: bool,
    /// Free-form counters the ingester keeps (events, skipped by reason, ...), JSON.
    pub counters: BTreeMap<String, u64>,
    /// Compare-and-set on writes: the position the writer expects to find stored for this
    /// source (what it read, or last committed); None = no record yet. If any record of a write
    /// differs, the store writes nothing of it and answers [`StoreError::ProgressMoved`].
    /// Ignored when reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_position: Option<u64>,
}

/// One transaction of [`Store::commit`]: what ingest found, how far it read, and the detection
/// state that led there. Written together or not at all, so a crash never splits them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Commit<'a> {
    pub occurrences: &'a [Occurrence],
    pub progress: &'a [Progress],
    pub state: &'a [StateEntry],
}

impl<'a> Commit<'a> {
    pub fn occurrences(occurrences: &'a [Occurrence]) -> Self {
        Commit { occurrences, ..Default::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpsertStats {
    pub created: u64,
    pub updated: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Account,
    Date,
    FindingType,
    Resource,
    Severity,
}

/// One row of GetFindingsStatistics' `groupBy` form.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// accountId, `YYYY-MM-DD`, finding type, resource id, or severity as text.
    pub key: String,
    /// Resource type for GroupBy::Resource; the account for Resource too.
    pub resource_type: Option<String>,
    pub account_id: Option<String>,
    pub total: i64,
    pub last_generated_ms: i64,
    /// Highest severity in the group (GroupBy::Date).
    pub severity: Option<f64>,
}

/// Everything a Vedette store keeps. The resource families beyond detectors and findings live in
/// their own traits (one file each) so that each can grow without touching the others.
pub trait Store: ListStore + FilterStore + ExportStore + DestinationStore + StateStore + Send + Sync + 'static {
    // --- detectors -------------------------------------------------------------------------
    /// Creates the scope's detector. Idempotent on `client_token`: the same token returns the same
    /// id; a different (or no) token when one exists is `AlreadyExists(Detector)`.
    fn create_detector(&self, scope: &Scope, config: DetectorConfig, tags: BTreeMap<String, String>, client_token: Option<&str>) -> Result<Detector>;
    /// `NotFound` for an unknown id and for another scope's detector.
    fn get_detector(&self, scope: &Scope, detector_id: &str) -> Result<Detector>;
    fn list_detectors(&self, scope: &Scope, max_results: usize, next_token: Option<&str>) -> Result<Page<String>>;
    fn update_detector(&self, scope: &Scope, detector_id: &str, config: DetectorConfig) -> Result<()>;
    /// Deletes the detector with its findings, tags and configuration.
    fn delete_detector(&self, scope: &Scope, detector_id: &str) -> Result<()>;
    /// The scope's detector, if any (ingest routing).
    fn detector_for(&self, scope: &Scope) -> Result<Option<Detector>>;

    // --- tags (by ARN; the caller checks the ARN names a resource of the scope) ---------------
    fn tag_resource(&self, scope: &Scope, arn: &str, tags: &BTreeMap<String, String>) -> Result<()>;
    fn untag_resource(&self, scope: &Scope, arn: &str, keys: &[String]) -> Result<()>;
    fn list_tags(&self, scope: &Scope, arn: &str) -> Result<BTreeMap<String, String>>;

    // --- findings ----------------------------------------------------------------------------
    /// The one write path of ingest: applies `commit.occurrences` (new findings inserted, repeats
    /// merged as [`vedette_domain::commit::resolve`] decides, ARCHIVE filters applied, export
    /// events queued), records every `commit.progress` record and writes `commit.state`, all in
    /// one transaction. Every progress record's `expected_position` must hold, checked atomically
    /// with the write; otherwise nothing is written and the answer is
    /// [`StoreError::ProgressMoved`] naming every record that differs. A key appears at most once.
    fn commit(&self, commit: &Commit<'_>) -> Result<UpsertStats>;
    fn progress(&self, source_key: &str) -> Result<Option<Progress>>;
    /// The finding with this id in whichever detector holds it, with that detector's id
    /// (`vedette explain` has no scope to start from).
    fn find_finding(&self, finding_id: &str) -> Result<Option<(String, model::Finding)>>;

    fn list_findings(
        &self,
        detector_id: &str,
        criteria: &Criteria,
        sort: &Sort,
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<Page<String>>;
    /// Unknown ids are omitted. Without `sort`, findings come in the order of `ids`.
    fn get_findings(&self, detector_id: &str, ids: &[String], sort: Option<&Sort>) -> Result<Vec<model::Finding>>;
    /// `UnknownFindings` naming the ids that are not this detector's; nothing is changed then.
    fn set_archived(&self, detector_id: &str, ids: &[String], archived: bool) -> Result<()>;
    fn set_feedback(&self, detector_id: &str, ids: &[String], feedback: &str, comments: Option<&str>) -> Result<()>;
    /// COUNT_BY_SEVERITY: severity value printed as a double (`"8.0"`) → count.
    fn count_by_severity(&self, detector_id: &str, criteria: &Criteria) -> Result<BTreeMap<String, i64>>;
    fn group_findings(&self, detector_id: &str, criteria: &Criteria, group_by: GroupBy, descending: bool, max_results: usize) -> Result<Vec<Group>>;

    /// Deletes at most `max` findings last updated before `updated_before_ms` (retention: see
    /// [`vedette_domain::aggregate::FINDING_RETENTION_MS`]), with everything kept beside them (attribute
    /// rows, pending export events); returns how many went. Callers repeat while it returns `max`.
    fn expire_findings(&self, updated_before_ms: i64, max: usize) -> Result<u64>;

    /// Wipes everything (`--auth any` test mode only).
    fn reset(&self) -> Result<()>;
}
