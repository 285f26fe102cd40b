//! Persistence behind the `Store` trait. The embedded SQLite store is the default; a PostgreSQL
//! store can implement the same trait. Filtering, sorting and paging run inside the store.
use std::collections::BTreeMap;

use vedette_domain::criteria::{Criteria, Sort};
use vedette_domain::{model, Detector, DetectorConfig, Occurrence, Scope};

pub mod destinations;
pub mod export;
pub mod filters;
pub mod lists;
pub mod sqlite;
pub mod state;

pub use destinations::DestinationStore;
pub use export::ExportStore;
pub use filters::FilterStore;
pub use lists::{ActiveList, ActiveListHead, ListKind, ListStore};
pub use state::{StateEntry, StateStore};

pub use sqlite::SqliteStore;

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The detector (or other resource) does not exist in this scope. GuardDuty answers 400.
    #[error("not found")]
    NotFound,
    /// A one-per-scope resource already exists (e.g. a second detector).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input cannot be served (e.g. a malformed or foreign pagination token; unknown finding ids).
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

/// Start of the `Conflict` message of a write whose progress rows were not where it expected
/// (see [`Progress::expected_position`]); the keys follow as a JSON array.
const PROGRESS_MOVED: &str = "progress moved: ";

impl StoreError {
    /// The write was refused because these progress records no longer hold the expected
    /// position: another writer (usually another process) got there first.
    pub fn progress_moved(source_keys: &[String]) -> Self {
        let keys = serde_json::to_string(source_keys).unwrap_or_default();
        StoreError::Conflict(format!("{PROGRESS_MOVED}{keys}"))
    }

    /// The progress keys of a [`StoreError::progress_moved`] error; None for any other error.
    // A message format rather than a new variant: callers outside this crate match the variants.
    pub fn moved_progress_keys(&self) -> Option<Vec<String>> {
        match self {
            StoreError::Conflict(message) => serde_json::from_str(message.strip_prefix(PROGRESS_MOVED)?).ok(),
            _ => None,
        }
    }
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
    /// differs, the store writes nothing of it and answers [`StoreError::progress_moved`].
    /// Ignored when reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_position: Option<u64>,
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
    /// id; a different (or no) token when one exists is `Conflict`.
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
    /// Applies occurrences (insert new findings, merge repeats with `aggregate::merge`) and
    /// records `progress`, all in one transaction — provided the stored progress is at
    /// `progress.expected_position`, checked atomically with the write (else `progress_moved`
    /// and nothing is written).
    fn apply(&self, occurrences: &[Occurrence], progress: Option<&Progress>) -> Result<UpsertStats>;
    fn progress(&self, source_key: &str) -> Result<Option<Progress>>;
    /// `apply` recording several sources' progress in the same transaction: ingest commits many
    /// small CloudTrail files together (one commit per batch, not per file). Every record's
    /// `expected_position` must hold, or nothing is written (`progress_moved` names all that
    /// differ); a key appears at most once. Stores should override this; the default handles at
    /// most one progress record.
    // Added for ingest (detection helper): SqliteStore, please override with one transaction.
    fn apply_batch(&self, occurrences: &[Occurrence], progress: &[Progress]) -> Result<UpsertStats> {
        self.apply_with_state(occurrences, progress, &[])
    }
    /// `apply_batch` that also writes detection state ([`StateEntry`]) in the same transaction.
    fn apply_with_state(&self, occurrences: &[Occurrence], progress: &[Progress], state: &[StateEntry]) -> Result<UpsertStats> {
        if !state.is_empty() {
            return Err(StoreError::Invalid("this store keeps no detection state".into()));
        }
        match progress {
            [] => self.apply(occurrences, None),
            [one] => self.apply(occurrences, Some(one)),
            _ => Err(StoreError::Invalid("this store records one source's progress per transaction".into())),
        }
    }
    /// The finding with this id in whichever detector holds it, with that detector's id
    /// (`vedette explain` has no scope to start from).
    // Added for explain (detection helper): SqliteStore, please override.
    fn find_finding(&self, _finding_id: &str) -> Result<Option<(String, model::Finding)>> {
        Err(StoreError::Backend("find_finding is not supported by this store".into()))
    }

    fn list_findings(&self, detector_id: &str, criteria: &Criteria, sort: &Sort, max_results: usize, next_token: Option<&str>) -> Result<Page<String>>;
    /// Unknown ids are omitted. Without `sort`, findings come in the order of `ids`.
    fn get_findings(&self, detector_id: &str, ids: &[String], sort: Option<&Sort>) -> Result<Vec<model::Finding>>;
    /// `Invalid` naming the ids that are not this detector's; nothing is changed then.
    fn set_archived(&self, detector_id: &str, ids: &[String], archived: bool) -> Result<()>;
    fn set_feedback(&self, detector_id: &str, ids: &[String], feedback: &str, comments: Option<&str>) -> Result<()>;
    /// COUNT_BY_SEVERITY: severity value printed as a double (`"8.0"`) → count.
    fn count_by_severity(&self, detector_id: &str, criteria: &Criteria) -> Result<BTreeMap<String, i64>>;
    fn group_findings(&self, detector_id: &str, criteria: &Criteria, group_by: GroupBy, descending: bool, max_results: usize) -> Result<Vec<Group>>;

    /// Deletes at most `max` findings last updated before `updated_before_ms` (retention, spec
    /// §3.6), with everything kept beside them (attribute rows, pending export events); returns
    /// how many went. Callers repeat while it returns `max`.
    fn expire_findings(&self, _updated_before_ms: i64, _max: usize) -> Result<u64> {
        Err(StoreError::Backend("expire_findings is not supported by this store".into()))
    }

    /// Wipes everything (`--auth any` test mode only).
    fn reset(&self) -> Result<()>;
}
