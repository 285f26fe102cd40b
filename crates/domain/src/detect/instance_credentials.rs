//! UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS: temporary credentials
//! that EC2 delivered to an instance through its instance profile, used from an IP address
//! outside AWS (docs/findings.md#cloudtrail-access-key-types, docs/logs.md#cloudtrail).
//!
//! Instance credentials are recognised by `userIdentity.sessionContext.ec2RoleDelivery` (CloudTrail
//! writes it for credentials served by the instance metadata service) or, for records without
//! it, by a role session named after the instance (`assumed-role/<role>/i-0123456789abcdef0`),
//! which is how EC2 names those sessions. "Outside AWS" = a public IP in none of the ranges of
//! AWS's `ip-ranges.json`; without that file the rule does not run (it cannot tell).
use std::net::IpAddr;

use crate::cloudtrail::CloudTrailRecord;
use crate::finding_types as ft;

use super::intel::Intel;
use super::{Hit, ResourceKey};

/// The instance the session's credentials were delivered to, if the record is a call made with
/// instance credentials.
pub fn instance_session<'r>(record: &'r CloudTrailRecord<'_>) -> Option<&'r str> {
    let identity = &record.user_identity.0;
    if identity.identity_type.get() != Some("AssumedRole") || identity.invoked_by.get().is_some() {
        return None;
    }
    // The session name: after the last `/` of the ARN, or after the `:` of the principal id
    // (`AROA...:i-0123...`).
    let session = identity
        .arn
        .get()
        .and_then(|arn| arn.rsplit_once('/').map(|(_, s)| s))
        .or_else(|| identity.principal_id.get().and_then(|p| p.split_once(':').map(|(_, s)| s)));
    let delivered = identity.session_context.0.ec2_role_delivery.get().is_some();
    match session {
        Some(s) if is_instance_id(s) => Some(s),
        // Delivered by EC2 but the session is not named after an instance: still instance
        // credentials, with no instance id to show.
        _ if delivered => Some(""),
        _ => None,
    }
}

/// `i-` and 8 or 17 hexadecimal digits (the two EC2 instance id lengths).
pub fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|hex| matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(super) fn outside_aws(record: &CloudTrailRecord<'_>, ip: IpAddr, intel: &Intel<'_>) -> Option<Hit> {
    let ranges = intel.operator.aws_ranges.as_ref()?;
    let instance = instance_session(record)?;
    if ranges.contains(ip) {
        return None;
    }
    let detail = match instance {
        "" => format!("The call came from {ip}, which is in none of AWS's published address ranges."),
        id => {
            format!("The credentials were delivered to instance {id}; the call came from {ip}, which is in none of AWS's published address ranges.")
        }
    };
    Some(Hit {
        detail: Some(detail),
        instance_id: (!instance.is_empty()).then(|| instance.to_owned()),
        ..Hit::new(ft::INSTANCE_CREDENTIAL_EXFILTRATION_OUTSIDE_AWS, ResourceKey::Caller)
    })
}
