//! Aggregation: a repeat of the same activity on the same resource updates the existing finding.
use crate::model;
use crate::Occurrence;

/// Merges `occ` into `existing` (same id): count grows, first/last seen widen, `updatedAt` moves
/// to `now`, and the action details become those of the latest occurrence by event time, so that
/// out-of-order input converges on the same result. A manually archived finding is unarchived.
pub fn merge(_existing: &mut model::Finding, _occ: &Occurrence, _now_ms: i64) {
    todo!("detection helper")
}
