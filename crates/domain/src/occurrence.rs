use crate::model;

/// What produced a finding occurrence: kept so every finding can be explained.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// The rule (finding type definition) that fired.
    pub rule: String,
    /// Source event ids (CloudTrail `eventID`), the latest few.
    pub event_ids: Vec<String>,
    /// Where the events came from: `file:line` / `stdin:line`.
    pub sources: Vec<String>,
}

/// One detection: a finding as it would look if it were new (id set, count 1, first/last seen =
/// the event time), to be merged into the stored finding of the same id if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    pub detector_id: String,
    pub finding: model::Finding,
    /// Event time in epoch ms (drives first/last seen, and which occurrence's details win).
    pub event_time_ms: i64,
    pub evidence: Evidence,
}

impl Occurrence {
    pub fn finding_id(&self) -> &str {
        self.finding.id.as_deref().unwrap_or_default()
    }
}
