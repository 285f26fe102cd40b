//! The detection engine: CloudTrail records in, finding occurrences out. No I/O.
//!
//! [`RULES`] is the one table of detection rules. Each row names the catalogue types it raises
//! (`finding_types`), the API calls that can trigger it (so the engine can skip the rule with two
//! string comparisons) and the check that decides. Adding a type = a catalogue row + a rule row +
//! its check function.
//!
//! Scope: management events only (records with `eventCategory: Data` or `managementEvent: false`
//! raise nothing, spec §6.1). Routing (which detector a record belongs to) is the caller's job:
//! it passes the detector in [`DetectContext`]. Vedette's routing decision: a record goes to the
//! detector of (`recipientAccountId`, `awsRegion`) as written in the record, global-service events
//! (IAM, STS, sign-in... logged in us-east-1) included; they are not copied to other Regions.
use std::net::IpAddr;

use crate::cloudtrail::CloudTrailRecord;
use crate::finding_types::{self as ft, FindingType};
use crate::time::{iso_ms, parse_iso_ms};
use crate::{ids, model, Evidence, Occurrence, Scope};

mod password;
mod pentest;
mod policy;
mod root;
mod s3;
mod trail;

pub use password::{assess_password_policy, PasswordPolicyVerdict};
pub use pentest::pentest_distribution;
pub use policy::{evaluate_acl, evaluate_bucket_policy, Exposure};

/// What detection needs besides the record.
#[derive(Debug, Clone, Copy)]
pub struct DetectContext<'c> {
    /// The enabled detector the record is routed to.
    pub detector_id: &'c str,
    /// Wall-clock time: `createdAt` / `updatedAt` of new findings.
    pub now_ms: i64,
    /// Where the record came from (a file path, or `stdin`) and its position there (line or
    /// record number, 1-based): the evidence `source` is `"{source}:{position}"`.
    pub source: &'c str,
    pub position: u64,
}

/// Which API calls can trigger a rule: checked before the rule runs.
#[derive(Debug)]
pub enum Trigger {
    /// Every management event (the check itself is cheap).
    AnyCall,
    /// Only these `eventName`s from this `eventSource`.
    Api { source: &'static str, names: &'static [&'static str] },
}

pub struct Rule {
    /// Stable rule id, recorded in every finding's evidence.
    pub id: &'static str,
    /// Catalogue types this rule may raise.
    pub finding_types: &'static [&'static str],
    pub trigger: Trigger,
    pub check: fn(&CloudTrailRecord<'_>) -> Option<Hit>,
}

/// What a rule found: the type, the resource it is about, and details for the finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub finding_type: &'static str,
    /// Overrides the catalogue's default severity (password-policy weakness, for example).
    pub severity: Option<f64>,
    pub resource: ResourceKey,
    /// CloudFormation type → id, e.g. `("AWS::S3::Bucket", "my-bucket")`.
    pub affected: Vec<(&'static str, String)>,
    /// One sentence appended to the catalogue description.
    pub detail: Option<String>,
}

/// The resource part of the aggregation key (spec §3.3).
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceKey {
    /// The calling identity: `accessKeyId`, else `principalId`.
    Caller,
    Bucket(String),
    /// The account (AccountBlockPublicAccessDisabled).
    Account,
}

const S3: &str = "s3.amazonaws.com";

/// Every detection rule.
pub static RULES: &[Rule] = &[
    Rule { id: "root-credential-usage", finding_types: &[ft::ROOT_CREDENTIAL_USAGE], trigger: Trigger::AnyCall, check: root::root_credential_usage },
    Rule {
        id: "cloudtrail-logging-disabled",
        finding_types: &[ft::CLOUDTRAIL_LOGGING_DISABLED],
        trigger: Trigger::Api { source: "cloudtrail.amazonaws.com", names: &["StopLogging", "DeleteTrail"] },
        check: trail::logging_disabled,
    },
    Rule {
        id: "password-policy-change",
        finding_types: &[ft::PASSWORD_POLICY_CHANGE],
        trigger: Trigger::Api { source: "iam.amazonaws.com", names: &["UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy"] },
        check: password::password_policy_change,
    },
    Rule {
        id: "pentest-distribution-user-agent",
        finding_types: &[ft::PENTEST_KALI_LINUX, ft::PENTEST_PARROT_LINUX, ft::PENTEST_PENTOO_LINUX],
        trigger: Trigger::AnyCall,
        check: pentest::pentest_user_agent,
    },
    Rule {
        id: "s3-bucket-block-public-access-disabled",
        finding_types: &[ft::BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED],
        trigger: Trigger::Api { source: S3, names: &["PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"] },
        check: s3::bucket_block_public_access_disabled,
    },
    Rule {
        id: "s3-account-block-public-access-disabled",
        finding_types: &[ft::ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED],
        trigger: Trigger::Api { source: S3, names: &["PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"] },
        check: s3::account_block_public_access_disabled,
    },
    Rule {
        id: "s3-bucket-access-granted",
        finding_types: &[ft::BUCKET_ANONYMOUS_ACCESS_GRANTED, ft::BUCKET_PUBLIC_ACCESS_GRANTED],
        trigger: Trigger::Api { source: S3, names: &["PutBucketPolicy", "PutBucketAcl", "CreateBucket"] },
        check: s3::bucket_access_granted,
    },
    Rule {
        id: "s3-server-access-logging-disabled",
        finding_types: &[ft::SERVER_ACCESS_LOGGING_DISABLED],
        trigger: Trigger::Api { source: S3, names: &["PutBucketLogging"] },
        check: s3::server_access_logging_disabled,
    },
];

impl Trigger {
    fn admits(&self, record: &CloudTrailRecord<'_>) -> bool {
        match self {
            Trigger::AnyCall => true,
            Trigger::Api { source, names } => {
                record.event_source.as_str() == *source && names.contains(&record.event_name.as_str())
            }
        }
    }
}

/// True for records detection looks at: management events (spec §6.1).
pub fn is_management_event(record: &CloudTrailRecord<'_>) -> bool {
    record.management_event.0 != Some(false) && record.event_category.as_str() != "Data"
}

/// The rules' verdicts on one record, before any finding is built (no allocation when nothing
/// fires, which is almost always).
pub fn hits(record: &CloudTrailRecord<'_>) -> Vec<(&'static Rule, Hit)> {
    let mut out = Vec::new();
    if !is_management_event(record) {
        return out;
    }
    for rule in RULES {
        if rule.trigger.admits(record)
            && let Some(hit) = (rule.check)(record)
        {
            out.push((rule, hit));
        }
    }
    out
}

/// Runs every rule on `record` and builds the finding occurrences it raises.
pub fn detect(record: &CloudTrailRecord<'_>, ctx: &DetectContext<'_>) -> Vec<Occurrence> {
    build_occurrences(record, ctx, hits(record))
}

/// The occurrences for `hits` (from [`hits`] on the same record). A hit on a record whose
/// `eventTime` does not parse yields nothing: check [`missing_field`] first to report it.
pub fn build_occurrences(record: &CloudTrailRecord<'_>, ctx: &DetectContext<'_>, hits: Vec<(&'static Rule, Hit)>) -> Vec<Occurrence> {
    if hits.is_empty() {
        return Vec::new();
    }
    hits.into_iter().filter_map(|(rule, hit)| build_occurrence(record, ctx, rule, hit)).collect()
}

/// The record's `eventTime` in epoch ms, if it parses.
pub fn event_time_ms(record: &CloudTrailRecord<'_>) -> Option<i64> {
    record.event_time.get().and_then(parse_iso_ms)
}

/// The first member a record needs for routing and mapping that it lacks, if any. Presence only
/// (cheap, for every record): whether `eventTime` parses is checked by [`event_time_ms`] when a
/// rule fires.
pub fn missing_field(record: &CloudTrailRecord<'_>) -> Option<&'static str> {
    if record.event_name.get().is_none() {
        Some("eventName")
    } else if record.event_source.get().is_none() {
        Some("eventSource")
    } else if record.recipient_account_id.get().is_none() {
        Some("recipientAccountId")
    } else if record.aws_region.get().is_none() {
        Some("awsRegion")
    } else if record.event_time.get().is_none() {
        Some("eventTime")
    } else {
        None
    }
}

/// The aggregation key (spec §3.3): type, resource role, resource.
pub fn aggregation_key(record: &CloudTrailRecord<'_>, ty: &FindingType, resource: &ResourceKey) -> String {
    let resource = match resource {
        ResourceKey::Caller => {
            let identity = &record.user_identity.0;
            let id = identity
                .access_key_id
                .get()
                .or_else(|| identity.principal_id.get())
                .or_else(|| identity.arn.get())
                .unwrap_or("unknown");
            format!("AccessKey:{id}")
        }
        ResourceKey::Bucket(name) => format!("S3Bucket:{name}"),
        ResourceKey::Account => format!("Account:{}", record.recipient_account_id.as_str()),
    };
    format!("{}\u{1f}{}\u{1f}{}", ty.name, ty.role.as_str(), resource)
}

fn build_occurrence(record: &CloudTrailRecord<'_>, ctx: &DetectContext<'_>, rule: &Rule, hit: Hit) -> Option<Occurrence> {
    let ty = ft::lookup(hit.finding_type)?;
    let event_time_ms = event_time_ms(record)?;
    let account_id = record.recipient_account_id.get()?;
    let region = record.aws_region.get()?;
    let scope = Scope::new(account_id, region);
    let id = ids::finding_id(ctx.detector_id, &aggregation_key(record, ty, &hit.resource));
    let now = iso_ms(ctx.now_ms);
    let seen = iso_ms(event_time_ms);
    let identity = &record.user_identity.0;

    let api = model::AwsApiCallAction {
        api: record.event_name.get().map(str::to_owned),
        service_name: record.event_source.get().map(str::to_owned),
        error_code: record.error_code.get().map(str::to_owned),
        user_agent: record.user_agent.get().map(str::to_owned),
        affected_resources: (!hit.affected.is_empty())
            .then(|| hit.affected.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()),
        remote_account_details: identity.account_id.get().filter(|caller| *caller != account_id).map(|caller| {
            model::RemoteAccountDetails { account_id: Some(caller.to_owned()), affiliated: Some(false), ..Default::default() }
        }),
        ..caller(record.source_ip_address.get())
    };

    let bucket = match &hit.resource {
        ResourceKey::Bucket(name) => Some(name.clone()),
        _ => None,
    };
    let resource = model::Resource {
        resource_type: Some(ty.resource.as_str().to_owned()),
        access_key_details: Some(model::AccessKeyDetails {
            access_key_id: identity.access_key_id.get().map(str::to_owned),
            principal_id: identity.principal_id.get().map(str::to_owned),
            user_name: record.user_name().map(str::to_owned),
            user_type: identity.identity_type.get().map(str::to_owned),
        }),
        s3_bucket_details: bucket.map(|name| {
            let public = matches!(hit.finding_type, ft::BUCKET_ANONYMOUS_ACCESS_GRANTED | ft::BUCKET_PUBLIC_ACCESS_GRANTED);
            vec![model::S3BucketDetail {
                arn: Some(format!("arn:{}:s3:::{name}", scope.partition())),
                name: Some(name),
                r#type: Some("Destination".into()),
                public_access: public.then(|| model::PublicAccess {
                    effective_permission: Some("PUBLIC".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }]
        }),
        ..Default::default()
    };

    let description = match &hit.detail {
        Some(detail) => format!("{} {detail}", ty.description),
        None => ty.description.to_owned(),
    };
    let source = format!("{}:{}", ctx.source, ctx.position);
    let evidence = Evidence::single(rule.id, record.event_id.as_str(), event_time_ms, source);
    let mut finding = model::Finding {
        schema_version: Some("2.0".into()),
        account_id: Some(account_id.to_owned()),
        region: Some(region.to_owned()),
        partition: Some(scope.partition().to_owned()),
        arn: Some(scope.finding_arn(ctx.detector_id, &id)),
        id: Some(id),
        r#type: Some(ty.name.to_owned()),
        severity: Some(hit.severity.unwrap_or(ty.severity)),
        title: Some(ty.title.to_owned()),
        description: Some(description),
        created_at: Some(now.clone()),
        updated_at: Some(now),
        resource: Some(resource),
        service: Some(model::Service {
            service_name: Some("guardduty".into()),
            detector_id: Some(ctx.detector_id.to_owned()),
            action: Some(model::Action {
                action_type: Some(ty.action.as_str().to_owned()),
                aws_api_call_action: Some(api),
                ..Default::default()
            }),
            resource_role: Some(ty.role.as_str().to_owned()),
            event_first_seen: Some(seen.clone()),
            event_last_seen: Some(seen),
            count: Some(1),
            archived: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    evidence.store_in(&mut finding);
    Some(Occurrence { detector_id: ctx.detector_id.to_owned(), finding, event_time_ms, evidence })
}

/// `callerType` with `remoteIpDetails` for an IP literal, `domainDetails` for a service host.
fn caller(source_ip: Option<&str>) -> model::AwsApiCallAction {
    let Some(source) = source_ip else { return Default::default() };
    match source.parse::<IpAddr>() {
        Ok(ip) => model::AwsApiCallAction {
            caller_type: Some("Remote IP".into()),
            remote_ip_details: Some(model::RemoteIpDetails {
                ip_address_v4: ip.is_ipv4().then(|| ip.to_string()),
                ip_address_v6: ip.is_ipv6().then(|| ip.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        },
        Err(_) => model::AwsApiCallAction {
            caller_type: Some("Domain".into()),
            domain_details: Some(model::DomainDetails { domain: Some(source.to_owned()) }),
            ..Default::default()
        },
    }
}

/// Parses a JSON member that may hold an object or that object as an escaped JSON string (S3
/// policies arrive both ways).
pub(crate) fn json_or_embedded(value: &serde_json::Value) -> Option<std::borrow::Cow<'_, serde_json::Value>> {
    match value {
        serde_json::Value::String(s) => serde_json::from_str(s).ok().map(std::borrow::Cow::Owned),
        serde_json::Value::Null => None,
        other => Some(std::borrow::Cow::Borrowed(other)),
    }
}

pub(crate) fn request_parameters(record: &CloudTrailRecord<'_>) -> Option<serde_json::Value> {
    serde_json::from_str(record.request_parameters_json()?).ok()
}

/// A JSON member read as a boolean: `true`/`false` or their string forms.
pub(crate) fn json_bool(value: Option<&serde_json::Value>) -> Option<bool> {
    match value? {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => crate::cloudtrail::parse_bool(s),
        _ => None,
    }
}

/// A JSON member read as a whole number: a number or its string form.
pub(crate) fn json_u64(value: Option<&serde_json::Value>) -> Option<u64> {
    match value? {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A bucket name from `requestParameters.bucketName`.
pub(crate) fn bucket_name(params: &serde_json::Value) -> Option<String> {
    params.get("bucketName").and_then(|b| b.as_str()).filter(|b| !b.is_empty()).map(str::to_owned)
}

#[cfg(test)]
pub(crate) mod tests;
