//! Progress records: how far each source has been read, and how far each detector has analysed
//! it. Both are written in the same transaction as the findings they account for.
//!
//! * The source's own record (its [`crate::source::Identity::key`]): the last position read
//!   (record or line number), whether to the end, and cumulative counters, each record counted
//!   once, when first read: its size then, whether it is JSON lines, records, bad records,
//!   occurrences, and records per `account/Region` ([`SCOPE_COUNTER_PREFIX`]).
//! * One record per detector that has analysed it ([`detector_progress_key`]): up to which position.
//!
//! Every record written carries the position this run expects the store to hold (what it read,
//! then what it committed): the store refuses the write when another process moved it meanwhile.
use std::collections::BTreeMap;
use std::sync::Arc;

use vedette_domain::detect::DetectorLists;
use vedette_store::{Store, StoreError};

use crate::intel::Intelligence;

/// The key of a detector's progress through a source: how far the detector has analysed it.
pub fn detector_progress_key(detector_id: &str, source_key: &str) -> String {
    format!("detector:{detector_id}|{source_key}")
}

/// Counters of a source's progress record.
pub(crate) const COUNTER_BYTES: &str = "bytes";
pub(crate) const COUNTER_LINES: &str = "jsonLines";
pub(crate) const COUNTER_EVENTS: &str = "events";
pub(crate) const COUNTER_BAD: &str = "badRecords";
pub(crate) const COUNTER_OCCURRENCES: &str = "occurrences";
/// Records seen for `account/Region`: this prefix + the scope.
pub(crate) const SCOPE_COUNTER_PREFIX: &str = "scope:";

/// The `account/Region`s a source's progress says it holds.
pub(crate) fn scopes_seen(counters: &BTreeMap<String, u64>) -> impl Iterator<Item = &str> {
    counters.keys().filter_map(|k| k.strip_prefix(SCOPE_COUNTER_PREFIX))
}

/// What to do with a source an earlier run read to its end.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Completed {
    /// Read it (again): a detector lacks some of it, or JSON lines were appended.
    Read,
    /// Nothing to do.
    Skip,
    /// It changed in a way that cannot be read on (a rewritten document): reported, not read.
    SkipChanged { bytes_then: u64 },
}

/// `up_to_date`: every enabled detector of its account/Regions has analysed all of it.
pub(crate) fn completed(counters: &BTreeMap<String, u64>, size: u64, up_to_date: bool, can_grow: bool) -> Completed {
    let bytes_then = counters.get(COUNTER_BYTES).copied().unwrap_or(0);
    let same_size = bytes_then == size;
    let appended_lines = can_grow && counters.get(COUNTER_LINES) == Some(&1) && size > bytes_then;
    match (same_size, up_to_date) {
        (true, true) => Completed::Skip,
        (true, false) => Completed::Read,
        (false, _) if appended_lines => Completed::Read,
        (false, _) => Completed::SkipChanged { bytes_then },
    }
}

/// How far a detector met in a source has analysed it.
pub(crate) struct DetectorPosition {
    pub(crate) detector: Arc<str>,
    /// Analysed up to here (in this run: sent to the writer).
    pub(crate) position: u64,
    /// The position its progress record holds once what was sent is committed (None: no record):
    /// the next write expects it there.
    pub(crate) stored: Option<u64>,
    /// Its ACTIVE lists, fetched when a record is first analysed for it and dropped with every
    /// chunk handed over (the next record checks the store's version of them again).
    pub(crate) lists: Option<Arc<DetectorLists>>,
}

/// The detectors met in a source. A source concerns one or a few detectors: a list compared by
/// pointer first (the router hands out the same `Arc`) is cheaper than a map on the per-record
/// path.
#[derive(Default)]
pub(crate) struct DetectorPositions(pub(crate) Vec<DetectorPosition>);

impl DetectorPositions {
    pub(crate) fn get_or_load(&mut self, store: &dyn Store, detector: &Arc<str>, source_key: &str) -> Result<u64, StoreError> {
        if let Some(d) = self.0.iter().find(|d| Arc::ptr_eq(&d.detector, detector) || *d.detector == **detector) {
            return Ok(d.position);
        }
        let stored = store.progress(&detector_progress_key(detector, source_key))?.map(|p| p.position);
        self.0.push(DetectorPosition { detector: detector.clone(), position: stored.unwrap_or(0), stored, lists: None });
        Ok(stored.unwrap_or(0))
    }

    /// The lists of a detector met before (through [`Self::get_or_load`]).
    pub(crate) fn lists(&mut self, store: &dyn Store, intel: &Intelligence, detector: &Arc<str>) -> Result<&Arc<DetectorLists>, StoreError> {
        let Some(d) = self.0.iter_mut().find(|d| Arc::ptr_eq(&d.detector, detector) || *d.detector == **detector) else {
            return Err(StoreError::Backend(format!("detector {detector} was not looked up before its lists")));
        };
        if d.lists.is_none() {
            d.lists = Some(intel.lists(store, detector)?);
        }
        Ok(d.lists.as_ref().expect("set above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(bytes: u64, json_lines: bool) -> BTreeMap<String, u64> {
        BTreeMap::from([(COUNTER_BYTES.to_owned(), bytes), (COUNTER_LINES.to_owned(), u64::from(json_lines))])
    }

    #[test]
    fn a_completed_source_is_read_again_only_for_a_detector_or_appended_lines() {
        assert_eq!(completed(&counters(100, false), 100, true, true), Completed::Skip);
        assert_eq!(completed(&counters(100, false), 100, false, true), Completed::Read, "a detector lacks it");
        assert_eq!(completed(&counters(100, true), 150, true, true), Completed::Read, "lines appended");
        assert_eq!(completed(&counters(100, true), 150, true, false), Completed::SkipChanged { bytes_then: 100 }, "cannot grow");
        assert_eq!(completed(&counters(100, true), 50, true, true), Completed::SkipChanged { bytes_then: 100 }, "shrunk");
        assert_eq!(completed(&counters(100, false), 150, false, true), Completed::SkipChanged { bytes_then: 100 }, "a document rewritten");
    }
}
