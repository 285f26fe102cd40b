//! The detection engine: CloudTrail records in, finding occurrences out. No I/O.
//!
//! [`RULES`] is the one table of detection rules. Each row names the catalogue types it raises
//! (`finding_types`), the API calls that can trigger it (so the engine can skip the rule with two
//! string comparisons) and the check that decides. Adding a type = a catalogue row + a rule row +
//! its check function.
//!
//! Checks come in three kinds ([`Check`]): decided by the record alone; decided by the caller's
//! public IP against the detector's lists, the operator's feeds or AWS's ranges ([`intel`]); and
//! stateful ones the ingester drives with the state it keeps ([`console_login`]). A caller on
//! the detector's trusted list gets no finding from any of them (docs/threat-lists.md), and every finding's
//! `remoteIpDetails` is enriched from the GeoIP database when there is one.
//!
//! Scope: management events only (records with `eventCategory: Data` or `managementEvent: false`
//! raise nothing, docs/logs.md#cloudtrail). Routing (which detector a record belongs to) is the caller's job:
//! it passes the detector in [`DetectContext`]. Vedette's routing decision: a record goes to the
//! detector of (`recipientAccountId`, `awsRegion`) as written in the record, global-service events
//! (IAM, STS, sign-in... logged in us-east-1) included; they are not copied to other Regions.
use std::net::IpAddr;

use crate::cloudtrail::CloudTrailRecord;
use crate::envelope::{self, FindingEnvelope};
use crate::finding_types::{self as ft, FindingType};
use crate::time::parse_iso_ms;
#[cfg(test)] // for the rule tests (`tests.rs`, through `super::*`)
use crate::{Evidence, ids};
use crate::{Occurrence, Scope, model};

pub mod console_login;
pub mod instance_credentials;
pub mod intel;
mod password;
mod pentest;
mod policy;
mod root;
mod s3;
mod trail;

pub use intel::{DetectorLists, FEED_KINDS, Feed, FeedKind, Intel, ListNets, NamedSet, OperatorIntel, ThreatMatch};

pub use password::{PasswordPolicyVerdict, assess_password_policy};
pub use pentest::pentest_distribution;
pub use policy::{Exposure, evaluate_acl, evaluate_bucket_policy};

/// `remoteIpDetails` for `ip`, enriched from the operator's GeoIP database.
pub(crate) fn remote_ip_details(ip: IpAddr, intel: &Intel<'_>) -> model::RemoteIpDetails {
    envelope::remote_ip_details(ip, intel.operator.geo(ip))
}

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
    /// The detector's lists and the operator's feeds, ranges and GeoIP ([`Intel::none`]: none).
    pub intel: Intel<'c>,
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
    pub check: Check,
}

/// How a rule decides.
pub enum Check {
    /// From the record alone.
    Record(fn(&CloudTrailRecord<'_>) -> Option<Hit>),
    /// From the caller's IP and the intelligence; runs only when the record's `sourceIPAddress` is
    /// an IP literal and [`Intel::checks_callers`]. Its hits count only for a publicly routable
    /// IP (docs/threat-lists.md: checked by the engine, after the rule's own lookups).
    Caller(fn(&CloudTrailRecord<'_>, IpAddr, &Intel<'_>) -> Vec<Hit>),
    /// Needs state across records: [`hits`] never runs it; the ingester does (see the module
    /// named in the rule).
    Stateful,
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
    /// The threat lists (or feeds) the caller is on: `additionalInfo.threatListName` (the
    /// first) and `evidence.threatIntelligenceDetails` (all).
    pub threats: Vec<ThreatMatch>,
    /// `resource.instanceDetails.instanceId` (instance credentials).
    pub instance_id: Option<String>,
}

impl Hit {
    pub fn new(finding_type: &'static str, resource: ResourceKey) -> Self {
        Hit { finding_type, severity: None, resource, affected: Vec::new(), detail: None, threats: Vec::new(), instance_id: None }
    }
}

/// The resource part of the aggregation key (docs/findings.md#aggregation).
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
    Rule {
        id: "root-credential-usage",
        finding_types: &[ft::ROOT_CREDENTIAL_USAGE],
        trigger: Trigger::AnyCall,
        check: Check::Record(root::root_credential_usage),
    },
    Rule {
        id: "cloudtrail-logging-disabled",
        finding_types: &[ft::CLOUDTRAIL_LOGGING_DISABLED],
        trigger: Trigger::Api { source: "cloudtrail.amazonaws.com", names: &["StopLogging", "DeleteTrail"] },
        check: Check::Record(trail::logging_disabled),
    },
    Rule {
        id: "password-policy-change",
        finding_types: &[ft::PASSWORD_POLICY_CHANGE],
        trigger: Trigger::Api { source: "iam.amazonaws.com", names: &["UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy"] },
        check: Check::Record(password::password_policy_change),
    },
    Rule {
        id: "pentest-distribution-user-agent",
        finding_types: &[ft::PENTEST_KALI_LINUX, ft::PENTEST_PARROT_LINUX, ft::PENTEST_PENTOO_LINUX],
        trigger: Trigger::AnyCall,
        check: Check::Record(pentest::pentest_user_agent),
    },
    Rule {
        id: "s3-bucket-block-public-access-disabled",
        finding_types: &[ft::BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED],
        trigger: Trigger::Api { source: S3, names: &["PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"] },
        check: Check::Record(s3::bucket_block_public_access_disabled),
    },
    Rule {
        id: "s3-account-block-public-access-disabled",
        finding_types: &[ft::ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED],
        trigger: Trigger::Api { source: S3, names: &["PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"] },
        check: Check::Record(s3::account_block_public_access_disabled),
    },
    Rule {
        id: "s3-bucket-access-granted",
        finding_types: &[ft::BUCKET_ANONYMOUS_ACCESS_GRANTED, ft::BUCKET_PUBLIC_ACCESS_GRANTED],
        trigger: Trigger::Api { source: S3, names: &["PutBucketPolicy", "PutBucketAcl", "CreateBucket"] },
        check: Check::Record(s3::bucket_access_granted),
    },
    Rule {
        id: "s3-server-access-logging-disabled",
        finding_types: &[ft::SERVER_ACCESS_LOGGING_DISABLED],
        trigger: Trigger::Api { source: S3, names: &["PutBucketLogging"] },
        check: Check::Record(s3::server_access_logging_disabled),
    },
    Rule {
        id: "threat-list-caller",
        finding_types: &[ft::RECON_MALICIOUS_IP_CALLER_CUSTOM, ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM],
        trigger: Trigger::AnyCall,
        check: Check::Caller(|r, ip, intel| intel::threat_list_caller(r, ip, intel).into_iter().collect()),
    },
    Rule {
        id: "feed-caller",
        finding_types: &[
            ft::RECON_MALICIOUS_IP_CALLER,
            ft::UNAUTHORIZED_MALICIOUS_IP_CALLER,
            ft::RECON_TOR_IP_CALLER,
            ft::UNAUTHORIZED_TOR_IP_CALLER,
        ],
        trigger: Trigger::AnyCall,
        check: Check::Caller(intel::feed_caller),
    },
    Rule {
        id: "instance-credentials-outside-aws",
        finding_types: &[ft::INSTANCE_CREDENTIAL_EXFILTRATION_OUTSIDE_AWS],
        trigger: Trigger::AnyCall,
        check: Check::Caller(|r, ip, intel| instance_credentials::outside_aws(r, ip, intel).into_iter().collect()),
    },
    Rule {
        id: console_login::RULE_ID,
        finding_types: &[ft::CONSOLE_LOGIN_SUCCESS_B],
        trigger: Trigger::Api { source: "signin.amazonaws.com", names: &["ConsoleLogin"] },
        check: Check::Stateful,
    },
];

impl Trigger {
    fn admits(&self, record: &CloudTrailRecord<'_>) -> bool {
        match self {
            Trigger::AnyCall => true,
            Trigger::Api { source, names } => record.event_source.as_str() == *source && names.contains(&record.event_name.as_str()),
        }
    }
}

/// True for records detection looks at: management events (docs/logs.md#cloudtrail).
pub fn is_management_event(record: &CloudTrailRecord<'_>) -> bool {
    record.management_event.0 != Some(false) && record.event_category.as_str() != "Data"
}

/// The record-only rules' verdicts on one record, before any finding is built (no allocation
/// when nothing fires, which is almost always). See [`hits_with`] for the IP-based rules.
pub fn hits(record: &CloudTrailRecord<'_>) -> Vec<(&'static Rule, Hit)> {
    hits_with(record, &Intel::none())
}

/// Every stateless rule's verdicts on one record: the record-only rules, then, when `intel` has
/// lists, feeds or ranges and the caller is a public IP, the IP-based ones. The trusted list is
/// applied when the occurrences are built ([`build_occurrences`]).
pub fn hits_with(record: &CloudTrailRecord<'_>, intel: &Intel<'_>) -> Vec<(&'static Rule, Hit)> {
    let mut out = Vec::new();
    if !is_management_event(record) {
        return out;
    }
    // Parsed once, and only when some rule will look it up. Whether it is publicly routable is
    // asked only of an IP some list holds (lists apply to public IPs only, docs/threat-lists.md): nearly
    // every caller is on no list, and the lookup is cheaper than the routability table.
    let mut caller: Option<Option<IpAddr>> = None;
    let mut public: Option<bool> = None;
    for rule in RULES {
        if !rule.trigger.admits(record) {
            continue;
        }
        match &rule.check {
            Check::Record(check) => out.extend(check(record).map(|hit| (rule, hit))),
            Check::Caller(check) => {
                if !intel.checks_callers() {
                    continue;
                }
                let Some(ip) = *caller.get_or_insert_with(|| intel::caller_ip(record)) else { continue };
                let hits = check(record, ip, intel);
                if !hits.is_empty() && *public.get_or_insert_with(|| crate::intel::is_publicly_routable(ip)) {
                    out.extend(hits.into_iter().map(|hit| (rule, hit)));
                }
            }
            Check::Stateful => {}
        }
    }
    out
}

/// Runs every stateless rule on `record` and builds the finding occurrences it raises.
pub fn detect(record: &CloudTrailRecord<'_>, ctx: &DetectContext<'_>) -> Vec<Occurrence> {
    build_occurrences(record, ctx, hits_with(record, &ctx.intel))
}

/// The occurrences for `hits` (from [`hits_with`] on the same record). A hit on a record whose
/// `eventTime` does not parse yields nothing: check [`missing_field`] first to report it. A
/// caller on the detector's trusted list gets none (docs/threat-lists.md).
pub fn build_occurrences(record: &CloudTrailRecord<'_>, ctx: &DetectContext<'_>, hits: Vec<(&'static Rule, Hit)>) -> Vec<Occurrence> {
    if hits.is_empty() || is_trusted_caller(record, &ctx.intel) {
        return Vec::new();
    }
    hits.into_iter().filter_map(|(rule, hit)| build_occurrence(record, ctx, rule, hit)).collect()
}

/// True when the record's caller is an IP on the detector's trusted list.
pub fn is_trusted_caller(record: &CloudTrailRecord<'_>, intel: &Intel<'_>) -> bool {
    if intel.lists.trusted.is_empty() {
        return false;
    }
    record.source_ip_address.get().and_then(|s| s.parse::<IpAddr>().ok()).is_some_and(|ip| intel.trusts(ip))
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

/// The aggregation key (docs/findings.md#aggregation): type, resource role, resource.
pub fn aggregation_key(record: &CloudTrailRecord<'_>, ty: &FindingType, resource: &ResourceKey) -> String {
    let key = |resource: std::fmt::Arguments<'_>| envelope::aggregation_key(ty, ty.role, resource);
    match resource {
        ResourceKey::Caller => {
            let identity = &record.user_identity.0;
            let id = identity.access_key_id.get().or_else(|| identity.principal_id.get()).or_else(|| identity.arn.get()).unwrap_or("unknown");
            key(format_args!("AccessKey:{id}"))
        }
        ResourceKey::Bucket(name) => key(format_args!("S3Bucket:{name}")),
        ResourceKey::Account => key(format_args!("Account:{}", record.recipient_account_id.as_str())),
    }
}

fn build_occurrence(record: &CloudTrailRecord<'_>, ctx: &DetectContext<'_>, rule: &Rule, hit: Hit) -> Option<Occurrence> {
    let ty = ft::lookup(hit.finding_type)?;
    let event_time_ms = event_time_ms(record)?;
    let account_id = record.recipient_account_id.get()?;
    let region = record.aws_region.get()?;
    let scope = Scope::new(account_id, region);
    let identity = &record.user_identity.0;

    let api = model::AwsApiCallAction {
        api: record.event_name.get().map(str::to_owned),
        service_name: record.event_source.get().map(str::to_owned),
        error_code: record.error_code.get().map(str::to_owned),
        user_agent: record.user_agent.get().map(str::to_owned),
        affected_resources: (!hit.affected.is_empty()).then(|| hit.affected.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()),
        remote_account_details: identity.account_id.get().filter(|caller| *caller != account_id).map(|caller| model::RemoteAccountDetails {
            account_id: Some(caller.to_owned()),
            affiliated: Some(false),
            ..Default::default()
        }),
        ..caller(record.source_ip_address.get(), &ctx.intel)
    };

    let bucket = match &hit.resource {
        ResourceKey::Bucket(name) => Some(name.clone()),
        _ => None,
    };
    let resource = model::Resource {
        access_key_details: Some(model::AccessKeyDetails {
            access_key_id: identity.access_key_id.get().map(str::to_owned),
            principal_id: identity.principal_id.get().map(str::to_owned),
            user_name: record.user_name().map(str::to_owned),
            user_type: identity.identity_type.get().map(str::to_owned),
        }),
        instance_details: hit.instance_id.as_ref().map(|id| model::InstanceDetails { instance_id: Some(id.clone()), ..Default::default() }),
        s3_bucket_details: bucket.map(|name| {
            let public = matches!(hit.finding_type, ft::BUCKET_ANONYMOUS_ACCESS_GRANTED | ft::BUCKET_PUBLIC_ACCESS_GRANTED);
            vec![model::S3BucketDetail {
                arn: Some(format!("arn:{}:s3:::{name}", scope.partition())),
                name: Some(name),
                r#type: Some("Destination".into()),
                public_access: public.then(|| model::PublicAccess { effective_permission: Some("PUBLIC".into()), ..Default::default() }),
                ..Default::default()
            }]
        }),
        ..Default::default()
    };
    let action = model::Action { aws_api_call_action: Some(api), ..Default::default() };

    let envelope = FindingEnvelope {
        detector_id: ctx.detector_id,
        scope: &scope,
        now_ms: ctx.now_ms,
        finding_type: ty,
        role: ty.role,
        aggregation_key: &aggregation_key(record, ty, &hit.resource),
        severity: hit.severity,
        detail: hit.detail.as_deref(),
        threats: &hit.threats,
        first_seen_ms: event_time_ms,
        event_time_ms,
        rule: rule.id,
        event_id: record.event_id.as_str(),
        source: ctx.source,
        position: ctx.position,
    };
    Some(envelope.occurrence(resource, action, serde_json::Map::new()))
}

/// `callerType` with `remoteIpDetails` for an IP literal, `domainDetails` for a service host.
fn caller(source_ip: Option<&str>, intel: &Intel<'_>) -> model::AwsApiCallAction {
    let Some(source) = source_ip else { return Default::default() };
    match source.parse::<IpAddr>() {
        Ok(ip) => model::AwsApiCallAction {
            caller_type: Some("Remote IP".into()),
            remote_ip_details: Some(remote_ip_details(ip, intel)),
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
