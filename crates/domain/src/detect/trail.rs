//! Stealth:IAMUser/CloudTrailLoggingDisabled: a trail stopped or deleted.
use super::{Hit, ResourceKey, request_parameters};
use crate::cloudtrail::CloudTrailRecord;
use crate::finding_types as ft;

/// Successful `StopLogging` / `DeleteTrail` only: the user guide says a "successful deletion or
/// update"; a failed call leaves logging on. `UpdateTrail` and `PutEventSelectors` are not
/// raised: which updates stop logging is undocumented (corpus labelling rules).
pub(super) fn logging_disabled(record: &CloudTrailRecord<'_>) -> Option<Hit> {
    if record.failed() {
        return None;
    }
    let trail = request_parameters(record).and_then(|p| p.get("name").and_then(|n| n.as_str()).map(str::to_owned)).filter(|n| !n.is_empty());
    let detail = match &trail {
        Some(name) => format!("Trail {name} was affected by {}.", record.event_name.as_str()),
        None => format!("A trail was affected by {}.", record.event_name.as_str()),
    };
    Some(Hit {
        finding_type: ft::CLOUDTRAIL_LOGGING_DISABLED,
        severity: None,
        resource: ResourceKey::Caller,
        affected: trail.map(|t| ("AWS::CloudTrail::Trail", t)).into_iter().collect(),
        detail: Some(detail),
        threats: Vec::new(),
        instance_id: None,
    })
}
