//! Policy:IAMUser/RootCredentialUsage: any call made with the account's root credentials.
use super::{Hit, ResourceKey};
use crate::cloudtrail::CloudTrailRecord;
use crate::finding_types as ft;

/// Raised for a `Root` identity, failed calls included (their errorCode is kept), except:
/// service events (`AwsServiceEvent`: AWS acting, not the root user) and failed sign-ins
/// (`responseElements` says `Failure`: root credentials were not proven).
pub(super) fn root_credential_usage(record: &CloudTrailRecord<'_>) -> Option<Hit> {
    if record.identity_type() != Some("Root") || record.event_type.as_str() == "AwsServiceEvent" {
        return None;
    }
    if record.event_type.as_str() == "AwsConsoleSignIn" && sign_in_failed(record) {
        return None;
    }
    Some(Hit {
        finding_type: ft::ROOT_CREDENTIAL_USAGE,
        severity: None,
        resource: ResourceKey::Caller,
        affected: Vec::new(),
        detail: Some(format!("API {} was invoked using root credentials.", record.event_name.as_str())),
        threats: Vec::new(),
        instance_id: None,
    })
}

/// Sign-in events report the outcome in `responseElements` (`{"ConsoleLogin": "Failure"}`,
/// `{"PasswordUpdated": "Failure"}`...), not in `errorCode`.
fn sign_in_failed(record: &CloudTrailRecord<'_>) -> bool {
    let Some(raw) = record.response_elements_json() else { return false };
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(map)) => map.values().any(|v| v.as_str() == Some("Failure")),
        _ => false,
    }
}
