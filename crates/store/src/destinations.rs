//! Publishing destinations (CreatePublishingDestination family): where a detector's findings are
//! exported, and whether publishing there works.
use std::collections::BTreeMap;

use vedette_domain::Scope;

use crate::{Page, Result, StoreError};

/// The destination type GuardDuty supports (the model's only `DestinationType`).
pub const DESTINATION_TYPE_S3: &str = "S3";

/// What Vedette last learnt about writing to a destination. `STOPPED` is not stored: it is what
/// a destination of a suspended detector reports (the wire layer derives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishingStatus {
    /// Created or changed, not yet checked (only while the check is under way).
    PendingVerification,
    Publishing,
    /// The bucket is missing or refuses writes; `failure_started_ms` says since when.
    UnableToPublish,
}

impl PublishingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PublishingStatus::PendingVerification => "PENDING_VERIFICATION",
            PublishingStatus::Publishing => "PUBLISHING",
            PublishingStatus::UnableToPublish => "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PENDING_VERIFICATION" => PublishingStatus::PendingVerification,
            "PUBLISHING" => PublishingStatus::Publishing,
            "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY" => PublishingStatus::UnableToPublish,
            _ => return None,
        })
    }
}

/// `destinationProperties` as validated by the API layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationProperties {
    /// `arn:<partition>:s3:::bucket[/prefix]`.
    pub destination_arn: String,
    pub kms_key_arn: String,
    pub expected_bucket_owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub id: String,
    pub detector_id: String,
    pub scope: Scope,
    pub destination_type: String,
    pub properties: DestinationProperties,
    pub status: PublishingStatus,
    /// First failure of the current run of failures (epoch ms); None while publishing works.
    pub failure_started_ms: Option<i64>,
    /// Bumped by every update of the properties: a publish outcome learnt under an older
    /// generation must not overwrite the status of the new properties.
    pub generation: i64,
    /// Whether the detector is enabled (a suspended detector's destinations are STOPPED).
    pub detector_enabled: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub tags: BTreeMap<String, String>,
}

impl Destination {
    /// `…:detector/{detectorId}/publishingdestination/{id}` (IAM's resource ARN, spec §1.6).
    pub fn arn(&self) -> String {
        destination_arn(&self.scope, &self.detector_id, &self.id)
    }
}

pub fn destination_arn(scope: &Scope, detector_id: &str, destination_id: &str) -> String {
    format!(
        "{}/publishingdestination/{}",
        scope.detector_arn(detector_id),
        destination_id
    )
}

/// GuardDuty's answer to an unknown destination id on Describe/Delete (third-party capture,
/// unconfirmed: "…the one or more input parameters have invalid values.").
pub const UNKNOWN_DESTINATION: &str =
    "The request is rejected because the one or more input parameters have invalid values.";
/// A second S3 destination for a detector (message observed from GuardDuty by AWS's own tools).
pub const DESTINATION_EXISTS: &str = "The request failed because a publishingDestination already exists with the destinationType value provided in the request.";

/// Persistence of publishing destinations. `NotFound` = the detector is unknown or not the
/// scope's; an unknown destination of an owned detector is `Invalid(UNKNOWN_DESTINATION)`.
pub trait DestinationStore {
    /// One destination per detector and type (GuardDuty's limit): a second is
    /// `Conflict(DESTINATION_EXISTS)`, unless `client_token` names the one that exists, which is
    /// then returned unchanged (a retried create).
    fn create_destination(
        &self,
        _scope: &Scope,
        _detector_id: &str,
        _destination_type: &str,
        _properties: &DestinationProperties,
        _tags: &BTreeMap<String, String>,
        _client_token: Option<&str>,
    ) -> Result<Destination> {
        Err(StoreError::Backend(
            "create_destination is not supported by this store".into(),
        ))
    }

    fn get_destination(&self, _scope: &Scope, _detector_id: &str, _destination_id: &str) -> Result<Destination> {
        Err(StoreError::Backend(
            "get_destination is not supported by this store".into(),
        ))
    }

    /// In id order; `next_token` from a previous page of the same detector.
    fn list_destinations(
        &self,
        _scope: &Scope,
        _detector_id: &str,
        _max_results: usize,
        _next_token: Option<&str>,
    ) -> Result<Page<Destination>> {
        Err(StoreError::Backend(
            "list_destinations is not supported by this store".into(),
        ))
    }

    /// Replaces the properties, bumps the generation and sets the status back to
    /// PENDING_VERIFICATION (a failure run of the old properties is over).
    fn update_destination(
        &self,
        _scope: &Scope,
        _detector_id: &str,
        _destination_id: &str,
        _properties: &DestinationProperties,
    ) -> Result<Destination> {
        Err(StoreError::Backend(
            "update_destination is not supported by this store".into(),
        ))
    }

    /// Deletes the destination and its tags.
    fn delete_destination(&self, _scope: &Scope, _detector_id: &str, _destination_id: &str) -> Result<()> {
        Err(StoreError::Backend(
            "delete_destination is not supported by this store".into(),
        ))
    }

    /// Every destination of every detector (the publisher's work list).
    fn all_destinations(&self) -> Result<Vec<Destination>> {
        Err(StoreError::Backend(
            "all_destinations is not supported by this store".into(),
        ))
    }

    /// Records the outcome of a check or a write under `generation`: success → PUBLISHING and the
    /// failure time cleared; failure → UNABLE_TO_PUBLISH…, the failure time kept from the first
    /// failure of the run. Returns false (nothing changed) when the destination is gone or its
    /// generation moved on.
    fn record_publish_outcome(&self, _destination_id: &str, _generation: i64, _ok: bool, _at_ms: i64) -> Result<bool> {
        Err(StoreError::Backend(
            "record_publish_outcome is not supported by this store".into(),
        ))
    }
}
