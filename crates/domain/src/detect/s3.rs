//! S3 policy findings from management events (docs/findings.md#cloudtrail-s3-types). All of them need the call to have
//! succeeded: a failed call leaves the bucket as it was (corpus labelling rules).
use serde_json::Value;

use super::policy::{Exposure, evaluate_acl, evaluate_bucket_policy, get_ci};
use super::{Hit, ResourceKey, bucket_name, json_bool, json_or_embedded, request_parameters};
use crate::cloudtrail::CloudTrailRecord;
use crate::finding_types as ft;

const BLOCK_FLAGS: [&str; 4] = ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"];

/// The Block Public Access flags a `Put…PublicAccessBlock` turns off, or `None` when the request
/// carries no configuration (nothing to judge). A flag left out of the configuration is false,
/// as S3 stores it.
fn flags_turned_off(params: &Value) -> Option<Vec<&'static str>> {
    let config = json_or_embedded(get_ci(params, "PublicAccessBlockConfiguration")?)?;
    config.as_object()?;
    Some(BLOCK_FLAGS.iter().copied().filter(|f| json_bool(get_ci(&config, f)) != Some(true)).collect())
}

/// `None` when Block Public Access is not turned off; otherwise what was turned off.
fn block_public_access_disabled(record: &CloudTrailRecord<'_>, params: &Value) -> Option<String> {
    if record.event_name.as_str().starts_with("Delete") {
        return Some("The Block Public Access configuration was deleted.".into());
    }
    let off = flags_turned_off(params)?;
    (!off.is_empty()).then(|| format!("Turned off: {}.", off.join(", ")))
}

pub(super) fn bucket_block_public_access_disabled(record: &CloudTrailRecord<'_>) -> Option<Hit> {
    if record.failed() {
        return None;
    }
    let params = request_parameters(record)?;
    let bucket = bucket_name(&params)?;
    let detail = block_public_access_disabled(record, &params)?;
    Some(bucket_hit(ft::BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED, bucket, format!("Bucket {{bucket}}: {detail}")))
}

pub(super) fn account_block_public_access_disabled(record: &CloudTrailRecord<'_>) -> Option<Hit> {
    if record.failed() {
        return None;
    }
    let params = request_parameters(record).unwrap_or(Value::Null);
    let detail = block_public_access_disabled(record, &params)?;
    Some(Hit {
        finding_type: ft::ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED,
        severity: None,
        resource: ResourceKey::Account,
        affected: Vec::new(),
        detail: Some(detail),
        threats: Vec::new(),
        instance_id: None,
    })
}

/// `PutBucketPolicy` (the policy), `PutBucketAcl` / `CreateBucket` (the ACL).
pub(super) fn bucket_access_granted(record: &CloudTrailRecord<'_>) -> Option<Hit> {
    if record.failed() {
        return None;
    }
    let params = request_parameters(record)?;
    let bucket = bucket_name(&params)?;
    let exposure = match record.event_name.as_str() {
        "PutBucketPolicy" => get_ci(&params, "bucketPolicy").map(evaluate_bucket_policy).unwrap_or(Exposure::NotPublic),
        _ => evaluate_acl(&params),
    };
    let (finding_type, whom) = match exposure {
        Exposure::Anonymous => (ft::BUCKET_ANONYMOUS_ACCESS_GRANTED, "anyone on the internet"),
        Exposure::AuthenticatedUsers => (ft::BUCKET_PUBLIC_ACCESS_GRANTED, "all authenticated AWS users"),
        Exposure::NotPublic => return None,
    };
    let detail = format!("{} made bucket {{bucket}} accessible to {whom}.", record.event_name.as_str());
    Some(bucket_hit(finding_type, bucket, detail))
}

/// `PutBucketLogging` whose `BucketLoggingStatus` has no `LoggingEnabled`.
pub(super) fn server_access_logging_disabled(record: &CloudTrailRecord<'_>) -> Option<Hit> {
    if record.failed() {
        return None;
    }
    let params = request_parameters(record)?;
    let bucket = bucket_name(&params)?;
    let status = get_ci(&params, "BucketLoggingStatus")?;
    let disabled = match status {
        Value::Object(_) => get_ci(status, "LoggingEnabled").is_none_or(Value::is_null),
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    };
    disabled.then(|| bucket_hit(ft::SERVER_ACCESS_LOGGING_DISABLED, bucket, "Server access logging was disabled for bucket {bucket}.".into()))
}

/// A bucket-keyed hit; `{bucket}` in `detail` is replaced by the bucket name.
fn bucket_hit(finding_type: &'static str, bucket: String, detail: String) -> Hit {
    Hit {
        finding_type,
        severity: None,
        detail: Some(detail.replace("{bucket}", &bucket)),
        affected: vec![("AWS::S3::Bucket", bucket.clone())],
        resource: ResourceKey::Bucket(bucket),
        threats: Vec::new(),
        instance_id: None,
    }
}
