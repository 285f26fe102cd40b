//! Saved filters (GuardDuty's CreateFilter family). ARCHIVE filters are suppression rules,
//! judged for every finding as it is created or updated, never retroactively
//! (`vedette_domain::commit`).
//!
//! Ranks are positions: a detector's filters always hold ranks 1..=n without gaps (GuardDuty
//! answers "rank is out-of-bounds" for a gap). A new filter without a rank goes last; one with a
//! rank is inserted there and the filters at or after it move down one; updating a rank moves the
//! filter and closes up behind it; deleting one closes the gap.
use std::collections::BTreeMap;

use vedette_domain::{Scope, model};

use crate::{Page, Result};

/// At most this many filters per detector (GuardDuty's quota per account and Region).
pub const MAX_FILTERS_PER_DETECTOR: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterAction {
    /// A saved view only.
    Noop,
    /// A suppression rule: matching findings are stored archived as they are created or updated.
    Archive,
}

impl FilterAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterAction::Noop => "NOOP",
            FilterAction::Archive => "ARCHIVE",
        }
    }

    pub fn parse(text: &str) -> Option<FilterAction> {
        match text {
            "NOOP" => Some(FilterAction::Noop),
            "ARCHIVE" => Some(FilterAction::Archive),
            _ => None,
        }
    }
}

/// A stored filter, as GetFilter shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub name: String,
    pub description: Option<String>,
    pub action: FilterAction,
    /// 1-based position among the detector's filters.
    pub rank: u32,
    pub criteria: model::FindingCriteria,
    pub tags: BTreeMap<String, String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// 1 at creation, +1 on every update.
    pub version: i64,
}

/// CreateFilter's input, already validated by the caller (name charset, criteria language).
#[derive(Debug, Clone, PartialEq)]
pub struct NewFilter {
    pub name: String,
    pub description: Option<String>,
    pub action: FilterAction,
    /// None: after the existing filters.
    pub rank: Option<u32>,
    pub criteria: model::FindingCriteria,
    pub tags: BTreeMap<String, String>,
}

/// UpdateFilter's input: None leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilterUpdate {
    pub description: Option<String>,
    pub action: Option<FilterAction>,
    pub rank: Option<u32>,
    pub criteria: Option<model::FindingCriteria>,
}

/// The ARN a filter is tagged under.
pub fn filter_arn(scope: &Scope, detector_id: &str, name: &str) -> String {
    format!("{}/filter/{name}", scope.detector_arn(detector_id))
}

/// Persistence of filters. Every operation answers `NotFound(Detector)` for an unknown or
/// foreign detector and `NotFound(Filter)` for an unknown filter name.
pub trait FilterStore {
    /// Creates the filter and returns its name. A repeated `client_token` (for the same name)
    /// returns the name without creating anything; the same token for another name is
    /// `TokenReused`; an existing name is `AlreadyExists`; a 101st filter is `QuotaExceeded`; a
    /// rank past `n + 1` is `RankOutOfBounds`.
    fn create_filter(&self, scope: &Scope, detector_id: &str, filter: NewFilter, client_token: Option<&str>) -> Result<String>;

    fn get_filter(&self, scope: &Scope, detector_id: &str, name: &str) -> Result<Filter>;

    /// Names in name order (stable under concurrent changes).
    fn list_filters(&self, scope: &Scope, detector_id: &str, max_results: usize, next_token: Option<&str>) -> Result<Page<String>>;

    /// A rank past `n` is `RankOutOfBounds`.
    fn update_filter(&self, scope: &Scope, detector_id: &str, name: &str, update: FilterUpdate) -> Result<()>;

    /// Removes the filter and its tags.
    fn delete_filter(&self, scope: &Scope, detector_id: &str, name: &str) -> Result<()>;
}
