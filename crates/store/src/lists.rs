//! Trusted IP lists (GuardDuty IPSets) and threat lists (ThreatIntelSets): the API's records and
//! the activated snapshots detection reads. Spec §5.
use crate::Result;

/// Which of GuardDuty's two list resources a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ListKind {
    /// IPSet: no CloudTrail or flow-log finding for a listed remote IP.
    Trusted,
    /// ThreatIntelSet: listed IPs raise the `.Custom` types.
    Threat,
}

/// An ACTIVE list as detection sees it: the entries parsed when it was (re)activated. Later edits
/// to the file do not change it until the list is updated and re-activated (spec §5).
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveList {
    pub kind: ListKind,
    pub list_id: String,
    /// The list's name: findings show a threat list's name as `threatListName`.
    pub name: String,
    /// SHA-256 (hex) of the file as read at activation (`threatFileSha256`).
    pub file_sha256: String,
    /// IPs and CIDRs in canonical text form (`192.0.2.0/24`, `2001:db8::/32`, `198.51.100.7/32`).
    pub entries: Vec<String>,
    pub activated_at_ms: i64,
}

/// Persistence of IPSets and ThreatIntelSets (the rest of the operations are added by the list API).
pub trait ListStore {
    /// The detector's ACTIVE lists (trusted and threat), for detection.
    fn active_lists(&self, detector_id: &str) -> Result<Vec<ActiveList>>;
    // Methods added later get a default body (`Err(StoreError::Backend("... not supported"))`)
    // so that wrapper stores in tests keep compiling.
}
