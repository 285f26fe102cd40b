//! Trusted IP lists (GuardDuty IPSets) and threat lists (ThreatIntelSets): the API's records and
//! the activated snapshots detection reads. See docs/threat-lists.md.
use std::collections::BTreeMap;

use vedette_domain::Scope;

use crate::{Page, Resource, Result};

/// Lists a detector may hold of each kind (GuardDuty's quotas per account and Region: one
/// trusted list, six threat lists). Every list that exists counts, whatever its status
/// (INACTIVE and ERROR included); lists being deleted (DELETE_PENDING) and deleted ones do not.
pub const MAX_TRUSTED_LISTS: usize = 1;
pub const MAX_THREAT_LISTS: usize = 6;
/// Entries (IPs and CIDRs) one activated list may hold.
pub const MAX_TRUSTED_ENTRIES: usize = 2_000;
pub const MAX_THREAT_ENTRIES: usize = 250_000;
/// Largest list file GuardDuty reads (35 MB).
pub const MAX_LIST_FILE_BYTES: u64 = 35 * 1024 * 1024;
/// How long a DELETED list stays visible to GetIPSet / GetThreatIntelSet (with status DELETED)
/// before it is purged; it is never listed and never counts towards a quota.
pub const DELETED_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// Which of GuardDuty's two list resources a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ListKind {
    /// IPSet: no CloudTrail or flow-log finding for a listed remote IP.
    Trusted,
    /// ThreatIntelSet: listed IPs raise the `.Custom` types.
    Threat,
}

impl ListKind {
    /// The ARN resource segment: `ipset` / `threatintelset`.
    pub fn arn_segment(self) -> &'static str {
        match self {
            ListKind::Trusted => "ipset",
            ListKind::Threat => "threatintelset",
        }
    }

    /// The API's name of the id (`ipSetId` / `threatIntelSetId`), for messages.
    pub fn id_parameter(self) -> &'static str {
        match self {
            ListKind::Trusted => "ipSetId",
            ListKind::Threat => "threatIntelSetId",
        }
    }

    pub fn max_lists(self) -> usize {
        match self {
            ListKind::Trusted => MAX_TRUSTED_LISTS,
            ListKind::Threat => MAX_THREAT_LISTS,
        }
    }

    pub fn max_entries(self) -> usize {
        match self {
            ListKind::Trusted => MAX_TRUSTED_ENTRIES,
            ListKind::Threat => MAX_THREAT_ENTRIES,
        }
    }

    /// `IPSet` / `ThreatIntelSet`, for messages.
    pub fn resource_name(self) -> &'static str {
        match self {
            ListKind::Trusted => "IPSet",
            ListKind::Threat => "ThreatIntelSet",
        }
    }

    /// The list's ARN: `<detector arn>/ipset/<id>` or `<detector arn>/threatintelset/<id>`.
    pub fn arn(self, scope: &Scope, detector_id: &str, list_id: &str) -> String {
        format!("{}/{}/{list_id}", scope.detector_arn(detector_id), self.arn_segment())
    }

    /// What store errors about a list of this kind name.
    pub fn resource(self) -> Resource {
        match self {
            ListKind::Trusted => Resource::IpSet,
            ListKind::Threat => Resource::ThreatIntelSet,
        }
    }
}

/// GuardDuty's list statuses (docs/api.md#operations, docs/threat-lists.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListStatus {
    Inactive,
    Activating,
    Active,
    Deactivating,
    Error,
    DeletePending,
    Deleted,
}

impl ListStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ListStatus::Inactive => "INACTIVE",
            ListStatus::Activating => "ACTIVATING",
            ListStatus::Active => "ACTIVE",
            ListStatus::Deactivating => "DEACTIVATING",
            ListStatus::Error => "ERROR",
            ListStatus::DeletePending => "DELETE_PENDING",
            ListStatus::Deleted => "DELETED",
        }
    }

    pub fn parse(text: &str) -> Option<ListStatus> {
        Some(match text {
            "INACTIVE" => ListStatus::Inactive,
            "ACTIVATING" => ListStatus::Activating,
            "ACTIVE" => ListStatus::Active,
            "DEACTIVATING" => ListStatus::Deactivating,
            "ERROR" => ListStatus::Error,
            "DELETE_PENDING" => ListStatus::DeletePending,
            "DELETED" => ListStatus::Deleted,
            _ => return None,
        })
    }

    /// A status the background worker still has to settle.
    pub fn is_transitional(self) -> bool {
        matches!(self, ListStatus::Activating | ListStatus::Deactivating | ListStatus::DeletePending)
    }
}

/// A list as GetIPSet / GetThreatIntelSet show it, plus what Vedette keeps about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRecord {
    pub kind: ListKind,
    pub list_id: String,
    pub detector_id: String,
    pub name: String,
    /// The API's format value (`TXT`, `STIX`, ...).
    pub format: String,
    /// The location as last given (Create or Update); it is read at the next activation.
    pub location: String,
    pub status: ListStatus,
    pub tags: BTreeMap<String, String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Bumped by every request that starts a transition; the worker settles only the
    /// generation it was started for (a later request supersedes it).
    pub generation: i64,
    /// Why the last activation failed (status ERROR), never file content.
    pub last_error: Option<String>,
    /// The snapshot detection uses while ACTIVE (the last successful activation).
    pub snapshot: Option<SnapshotInfo>,
    pub expected_bucket_owner: Option<String>,
}

/// What was activated, without the entries.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotInfo {
    pub file_sha256: String,
    pub entry_count: u64,
    /// Lines the parser could not use (counted and skipped).
    pub bad_lines: u64,
    /// The location the file was read from.
    pub location: String,
    pub activated_at_ms: i64,
}

/// CreateIPSet / CreateThreatIntelSet input, validated by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct NewList {
    pub kind: ListKind,
    pub name: String,
    pub format: String,
    pub location: String,
    pub activate: bool,
    pub tags: BTreeMap<String, String>,
    pub client_token: Option<String>,
    pub expected_bucket_owner: Option<String>,
}

/// UpdateIPSet / UpdateThreatIntelSet input: None leaves a field as it is. A new location is
/// read only at the next activation (`activate: Some(true)`), as in GuardDuty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListUpdate {
    pub name: Option<String>,
    pub location: Option<String>,
    pub activate: Option<bool>,
    pub expected_bucket_owner: Option<String>,
}

/// A transition the background worker has to carry out (from [`ListStore::pending_list_work`]
/// or returned by create/update/delete).
#[derive(Debug, Clone, PartialEq)]
pub struct ListWork {
    pub kind: ListKind,
    pub list_id: String,
    pub detector_id: String,
    /// ACTIVATING, DEACTIVATING or DELETE_PENDING.
    pub status: ListStatus,
    pub format: String,
    pub location: String,
    pub generation: i64,
    pub expected_bucket_owner: Option<String>,
}

impl ListWork {
    pub fn of(record: &ListRecord) -> Option<ListWork> {
        record.status.is_transitional().then(|| ListWork {
            kind: record.kind,
            list_id: record.list_id.clone(),
            detector_id: record.detector_id.clone(),
            status: record.status,
            format: record.format.clone(),
            location: record.location.clone(),
            generation: record.generation,
            expected_bucket_owner: record.expected_bucket_owner.clone(),
        })
    }
}

/// How the worker ended a transition.
#[derive(Debug, Clone, PartialEq)]
pub enum ListOutcome {
    /// ACTIVATING → ACTIVE with this snapshot (replacing the previous one atomically).
    Activated(Snapshot),
    /// ACTIVATING → ERROR; the reason is kept (no file content in it).
    Failed(String),
    /// DEACTIVATING → INACTIVE (the snapshot is dropped).
    Deactivated,
    /// DELETE_PENDING → DELETED (snapshot and tags dropped).
    Deleted,
}

/// A parsed list file as activated.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub file_sha256: String,
    /// Canonical text form, as [`ActiveList::entries`].
    pub entries: Vec<String>,
    pub bad_lines: u64,
    pub location: String,
    pub activated_at_ms: i64,
}

/// An ACTIVE list as detection sees it: the entries parsed when it was (re)activated. Later edits
/// to the file do not change it until the list is updated and re-activated (docs/threat-lists.md).
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

/// An ACTIVE list as [`ListStore::active_list_heads`] describes it: everything but the entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ActiveListHead {
    pub kind: ListKind,
    pub list_id: String,
    pub name: String,
    /// The API's format value the file was parsed as (None: the store cannot say).
    pub format: Option<String>,
    pub file_sha256: String,
    pub entry_count: u64,
    pub activated_at_ms: i64,
}

/// Persistence of IPSets and ThreatIntelSets.
pub trait ListStore {
    /// The detector's ACTIVE lists (trusted and threat), for detection.
    fn active_lists(&self, detector_id: &str) -> Result<Vec<ActiveList>>;
    /// The detector's ACTIVE lists without their entries, in [`Self::active_lists`]'s order,
    /// answered from list metadata: detection asks for every file it reads and re-reads the
    /// entries only when these changed, and shares what it built between detectors holding the
    /// same file.
    fn active_list_heads(&self, detector_id: &str) -> Result<Vec<ActiveListHead>>;

    /// Creates a list in the scope's detector `detector_id` (`NotFound` if it is not the
    /// scope's), in status ACTIVATING (`activate`) or INACTIVE. The same `client_token` again
    /// returns the list it created. Beyond the kind's quota: `QuotaExceeded`.
    fn create_list(&self, scope: &Scope, detector_id: &str, list: NewList) -> Result<ListRecord>;

    /// `NotFound` for another scope's detector and for an unknown list (or one of the other
    /// kind). A DELETED list is returned (status DELETED) until it is purged.
    fn get_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str) -> Result<ListRecord>;

    /// Ids of the detector's lists of `kind` (DELETED ones left out), by id.
    fn list_lists(&self, scope: &Scope, detector_id: &str, kind: ListKind, max_results: usize, next_token: Option<&str>) -> Result<Page<String>>;

    /// Applies `update`: `activate: Some(true)` → ACTIVATING, `Some(false)` → DEACTIVATING
    /// (INACTIVE stays INACTIVE when nothing is active to drop: still a transition, settled by
    /// the worker). `NotFound` for unknown, deleted or deleting lists.
    fn update_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str, update: ListUpdate) -> Result<ListRecord>;

    /// Starts deletion (DELETE_PENDING); deleting a list being deleted is a no-op. `NotFound`
    /// for unknown and already DELETED lists.
    fn delete_list(&self, scope: &Scope, detector_id: &str, kind: ListKind, list_id: &str) -> Result<ListRecord>;

    /// Every list (all detectors) in a transitional status: the worker's queue at start-up.
    fn pending_list_work(&self) -> Result<Vec<ListWork>>;

    /// Ends the transition `generation` of `list_id`. Returns false (and changes nothing) when
    /// a later request superseded it or the list is gone.
    fn settle_list(&self, list_id: &str, generation: i64, outcome: ListOutcome) -> Result<bool>;
}
