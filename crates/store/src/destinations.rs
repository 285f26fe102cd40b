//! Publishing destinations (CreatePublishingDestination family): where a detector's findings are
//! exported, and whether publishing there works.
use std::collections::BTreeMap;

use vedette_domain::Scope;

use crate::{Page, Result};

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
    /// `…:detector/{detectorId}/publishingdestination/{id}` (IAM's resource ARN, docs/api.md#identifiers-and-arns).
    pub fn arn(&self) -> String {
        destination_arn(&self.scope, &self.detector_id, &self.id)
    }
}

/// The outbox consumer (see [`crate::ExportStore`]) that feeds a destination.
pub fn consumer_name(destination_id: &str) -> String {
    format!("destination:{destination_id}")
}

pub fn destination_arn(scope: &Scope, detector_id: &str, destination_id: &str) -> String {
    format!("{}/publishingdestination/{}", scope.detector_arn(detector_id), destination_id)
}

/// Persistence of publishing destinations. `NotFound(Detector)` = the detector is unknown or
/// not the scope's; an unknown destination of an owned detector is
/// `NotFound(PublishingDestination)`.
pub trait DestinationStore {
    /// One destination per detector and type (GuardDuty's limit): a second is
    /// `AlreadyExists(PublishingDestination)`, unless `client_token` names the one that exists, which is
    /// then returned unchanged (a retried create).
    fn create_destination(
        &self,
        scope: &Scope,
        detector_id: &str,
        destination_type: &str,
        properties: &DestinationProperties,
        tags: &BTreeMap<String, String>,
        client_token: Option<&str>,
    ) -> Result<Destination>;

    fn get_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str) -> Result<Destination>;

    /// In id order; `next_token` from a previous page of the same detector.
    fn list_destinations(&self, scope: &Scope, detector_id: &str, max_results: usize, next_token: Option<&str>) -> Result<Page<Destination>>;

    /// Replaces the properties, bumps the generation and sets the status back to
    /// PENDING_VERIFICATION (a failure run of the old properties is over).
    fn update_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str, properties: &DestinationProperties) -> Result<Destination>;

    /// Deletes the destination and its tags.
    fn delete_destination(&self, scope: &Scope, detector_id: &str, destination_id: &str) -> Result<()>;

    /// Every destination of every detector (the publisher's work list).
    fn all_destinations(&self) -> Result<Vec<Destination>>;

    /// Records the outcome of a check or a write under `generation`: success → PUBLISHING and the
    /// failure time cleared; failure → UNABLE_TO_PUBLISH…, the failure time kept from the first
    /// failure of the run. Returns false (nothing changed) when the destination is gone or its
    /// generation moved on.
    fn record_publish_outcome(&self, destination_id: &str, generation: i64, ok: bool, at_ms: i64) -> Result<bool>;
}

/// Where an S3 destination's objects go: `arn:<partition>:s3:::bucket[/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3DestinationArn {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl S3DestinationArn {
    /// None unless `arn` is an S3 bucket (or bucket folder) ARN with a valid bucket name.
    pub fn parse(arn: &str) -> Option<S3DestinationArn> {
        let rest = ["arn:aws:s3:::", "arn:aws-cn:s3:::", "arn:aws-us-gov:s3:::"].iter().find_map(|p| arn.strip_prefix(p))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if !is_valid_bucket_name(bucket) {
            return None;
        }
        let prefix = prefix.trim_matches('/');
        // An object key is at most 1024 bytes; leave room for the AWSLogs/... part.
        if prefix.len() > 512 || prefix.chars().any(|c| c.is_control()) || prefix.split('/').any(|s| s.is_empty() && !prefix.is_empty()) {
            return None;
        }
        Some(S3DestinationArn { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }

    /// `<prefix>/AWSLogs/<account>/GuardDuty/<region>/<yyyy>/<mm>/<dd>/<name>.jsonl.gz`, the
    /// layout GuardDuty writes (observed keys; `name` is a UUID there).
    pub fn object_key(&self, account_id: &str, region: &str, (year, month, day): (i32, u32, u32), name: &str) -> String {
        let tail = format!("AWSLogs/{account_id}/GuardDuty/{region}/{year:04}/{month:02}/{day:02}/{name}.jsonl.gz");
        if self.prefix.is_empty() { tail } else { format!("{}/{tail}", self.prefix) }
    }
}

/// S3's bucket naming rules: 3–63 of lower-case letters, digits, `.` and `-`, starting and
/// ending with a letter or digit, no `..`, not an IPv4 address.
pub fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// A KMS key ARN: `arn:<partition>:kms:<region>:<12-digit account>:key/<id>` (or `alias/<name>`).
pub fn is_valid_kms_key_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let resource_ok = match resource.split_once('/') {
        Some(("key" | "alias", id)) => !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic()),
        _ => false,
    };
    prefix == "arn"
        && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && service == "kms"
        && !region.is_empty()
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_folder_arns() {
        let root = S3DestinationArn::parse("arn:aws:s3:::my-bucket").unwrap();
        assert_eq!((root.bucket.as_str(), root.prefix.as_str()), ("my-bucket", ""));
        let folder = S3DestinationArn::parse("arn:aws:s3:::DOC-EXAMPLE-BUCKET/x");
        assert_eq!(folder, None, "upper-case bucket names are not valid");
        let folder = S3DestinationArn::parse("arn:aws:s3:::b.example/my/Folder/").unwrap();
        assert_eq!((folder.bucket.as_str(), folder.prefix.as_str()), ("b.example", "my/Folder"));
        assert_eq!(
            folder.object_key("111122223333", "us-east-1", (2024, 5, 3), "u"),
            "my/Folder/AWSLogs/111122223333/GuardDuty/us-east-1/2024/05/03/u.jsonl.gz"
        );
        assert_eq!(
            root.object_key("111122223333", "eu-west-1", (2024, 12, 31), "u"),
            "AWSLogs/111122223333/GuardDuty/eu-west-1/2024/12/31/u.jsonl.gz"
        );
        for bad in [
            "",
            "arn:aws:s3:::",
            "arn:aws:s3:::ab",
            "arn:aws:s3::111122223333:bucket",
            "arn:aws:kms:::bucket",
            "s3://bucket",
            "arn:aws:s3:::-bucket",
            "arn:aws:s3:::bucket..x",
            "arn:aws:s3:::192.168.1.1",
            "arn:aws:s3:::bucket/a//b",
        ] {
            assert_eq!(S3DestinationArn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn checks_kms_key_arns() {
        assert!(is_valid_kms_key_arn("arn:aws:kms:us-west-1:111122223333:key/84cee9c5-dea1-401a-ab6d-e1de7example"));
        assert!(is_valid_kms_key_arn("arn:aws:kms:us-east-1:111122223333:alias/guardduty"));
        for bad in [
            "",
            "alias/aws/s3",
            "arn:aws:kms:us-east-1:1111:key/x",
            "arn:aws:s3:us-east-1:111122223333:key/x",
            "arn:aws:kms:us-east-1:111122223333:key/",
        ] {
            assert!(!is_valid_kms_key_arn(bad), "{bad}");
        }
    }
}
