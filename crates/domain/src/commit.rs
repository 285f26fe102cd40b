//! What writing a batch of occurrences does to the stored findings: which repeats merge, when an
//! old finding is past retention and starts afresh, when an ARCHIVE filter archives it, and what
//! the export outbox must hear of it. Every store applies these decisions inside its own write
//! transaction and only persists the result, so that two backends cannot disagree on GuardDuty's
//! rules.
use std::collections::HashMap;

use crate::Occurrence;
use crate::aggregate;
use crate::model;
use crate::time;

/// An occurrence arrived without a finding id: detection always sets one, so this is a bug in
/// the caller, refused before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an occurrence's finding has no id")]
pub struct MissingFindingId;

/// Occurrences of one finding (same detector, same id), in arrival order.
pub type Group<'a> = Vec<&'a Occurrence>;

/// Groups `occurrences` by (detector, finding id), groups in order of first arrival: repeats
/// within one batch become one write.
pub fn group_by_finding(occurrences: &[Occurrence]) -> Result<Vec<Group<'_>>, MissingFindingId> {
    let mut group_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut groups: Vec<Group<'_>> = Vec::new();
    for occ in occurrences {
        let id = occ.finding_id();
        if id.is_empty() {
            return Err(MissingFindingId);
        }
        let index = *group_of.entry((occ.detector_id.as_str(), id)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[index].push(occ);
    }
    Ok(groups)
}

/// The stored finding a group lands on.
pub struct Stored {
    pub finding: model::Finding,
    /// When it was last updated; None when the store does not know (treated as current).
    pub updated_at_ms: Option<i64>,
}

/// How the stored finding changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// No finding had this id: insert.
    Created,
    /// The stored finding absorbed the group: update it in place.
    Updated,
    /// The stored finding was past retention when this activity was seen: delete it (with
    /// everything kept beside it) and insert the new one under the same id, which derives from
    /// the aggregation key.
    Replaced,
}

impl Change {
    pub fn is_new(self) -> bool {
        !matches!(self, Change::Updated)
    }
}

/// What the export outbox must record for a written finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportEvent {
    /// A new finding: due at once.
    New,
    /// An update: coalesced with any pending one, due at the detector's next publishing boundary.
    Update,
    /// An existing finding that is now archived: drop whatever is pending for it, since archived
    /// findings are never exported.
    Withdraw,
    /// A new finding stored archived: nothing is pending and nothing goes out.
    Nothing,
}

/// The decision for one group.
pub struct Resolution {
    pub finding: model::Finding,
    pub change: Change,
    /// Occurrences that created the finding (0 or 1) and that updated it, for ingest statistics.
    pub created: u64,
    pub updated: u64,
    pub export: ExportEvent,
}

/// Resolves one group (see [`group_by_finding`]) against the stored finding, if any, at `now_ms`.
/// `archives` says whether an ARCHIVE filter of the detector matches a finding; filters are
/// suppression rules, so they judge every finding as it is written, never retroactively.
pub fn resolve(existing: Option<Stored>, group: &[&Occurrence], now_ms: i64, archives: impl Fn(&model::Finding) -> bool) -> Resolution {
    let first = group.first().expect("a group holds at least one occurrence");
    // Retention is judged at the activity's own time, not the clock's, so that ingest with a
    // fixed `now` stays deterministic.
    let seen_ms = first.finding.updated_at.as_deref().and_then(time::parse_iso_ms).unwrap_or(now_ms);
    let (existing, expired) = match existing {
        Some(Stored { updated_at_ms: Some(updated), .. }) if aggregate::is_expired(updated, seen_ms) => (None, true),
        other => (other, false),
    };
    let n = group.len() as u64;
    let (mut finding, change, created, updated) = match existing {
        Some(stored) => {
            let mut finding = stored.finding;
            for occ in group {
                aggregate::merge(&mut finding, occ, now_ms);
            }
            (finding, Change::Updated, 0, n)
        }
        None => {
            let mut finding = first.finding.clone();
            for occ in &group[1..] {
                aggregate::merge(&mut finding, occ, now_ms);
            }
            (finding, if expired { Change::Replaced } else { Change::Created }, 1, n - 1)
        }
    };
    if archives(&finding) {
        finding.service.get_or_insert_default().archived = Some(true);
    }
    let archived = finding.service.as_ref().and_then(|s| s.archived).unwrap_or(false);
    let export = match (archived, change.is_new()) {
        (false, true) => ExportEvent::New,
        (false, false) => ExportEvent::Update,
        (true, false) => ExportEvent::Withdraw,
        (true, true) => ExportEvent::Nothing,
    };
    Resolution { finding, change, created, updated, export }
}
