//! Stealth:IAMUser/PasswordPolicyChange: the account password policy deleted or weakened.
//!
//! CloudTrail records only the new policy, so Vedette judges the new policy's absolute weakness
//! (no previous policy is kept). Weakness points against a strong baseline (CIS: 14+ characters,
//! all four character classes, reuse prevention):
//!
//! | requirement | points |
//! |---|---|
//! | minimum length < 8 / 8–11 / 12–13 / ≥ 14 | 4 / 2 / 1 / 0 |
//! | each character class (symbols, numbers, upper, lower) not required | 1 each |
//! | no password reuse prevention | 1 |
//!
//! Omitted parameters take IAM's defaults for `UpdateAccountPasswordPolicy` (length 6, nothing
//! required). A deleted policy reverts to AWS's default policy (length 8, three of four classes,
//! no reuse prevention): 2 + 1 + 1 = 4 points.
//!
//! Raised when the policy scores at least 1 point; severity Low (1–2 points), Medium (3–5),
//! High (6+). The tester's `--minimum-password-length 6` scores 9: High; a deletion: Medium.
//! Attempts count too (the user guide says so): a failed call is raised with its errorCode.
use super::{Hit, ResourceKey, json_bool, json_u64, request_parameters};
use crate::cloudtrail::CloudTrailRecord;
use crate::finding_types::{self as ft, HIGH, LOW, MEDIUM};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PasswordPolicyVerdict {
    pub weakness: u32,
    pub severity: f64,
}

const CLASSES: [&str; 4] = ["requireSymbols", "requireNumbers", "requireUppercaseCharacters", "requireLowercaseCharacters"];

/// Scores the resulting policy: `params` for an update, `None` for a deletion.
pub fn assess_password_policy(params: Option<&serde_json::Value>) -> PasswordPolicyVerdict {
    let weakness = match params {
        None => 2 + 1 + 1,
        Some(p) => {
            let length = json_u64(p.get("minimumPasswordLength")).unwrap_or(6);
            let length_points = match length {
                0..=7 => 4,
                8..=11 => 2,
                12..=13 => 1,
                _ => 0,
            };
            let class_points = CLASSES.iter().filter(|k| json_bool(p.get(**k)) != Some(true)).count() as u32;
            let reuse_points = u32::from(json_u64(p.get("passwordReusePrevention")).unwrap_or(0) == 0);
            length_points + class_points + reuse_points
        }
    };
    let severity = match weakness {
        0..=2 => LOW,
        3..=5 => MEDIUM,
        _ => HIGH,
    };
    PasswordPolicyVerdict { weakness, severity }
}

pub(super) fn password_policy_change(record: &CloudTrailRecord<'_>) -> Option<Hit> {
    let deleted = record.event_name.as_str() == "DeleteAccountPasswordPolicy";
    let params = if deleted { None } else { Some(request_parameters(record).unwrap_or(serde_json::Value::Null)) };
    let verdict = assess_password_policy(params.as_ref());
    if verdict.weakness == 0 {
        return None;
    }
    let detail = if deleted {
        "The password policy was deleted.".to_owned()
    } else {
        format!("The new password policy scores {} weakness points out of 9.", verdict.weakness)
    };
    Some(Hit {
        finding_type: ft::PASSWORD_POLICY_CHANGE,
        severity: Some(verdict.severity),
        resource: ResourceKey::Caller,
        affected: Vec::new(),
        detail: Some(detail),
        threats: Vec::new(),
        instance_id: None,
    })
}
