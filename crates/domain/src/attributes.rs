//! Every filterable / sortable finding attribute path (docs/criteria.md#attribute-paths), its value kind and how to read
//! it from a finding. This one table serves criteria parsing, the in-memory evaluator and the
//! store's indexes.
use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::model::{
    AwsApiCallAction, DnsRequestAction, Finding, InstanceDetails, NetworkConnectionAction, NetworkInterface, PortProbeDetail, RemoteIpDetails,
    S3BucketDetail, Service, ThreatIntelligenceDetail,
};
use crate::time::parse_iso_ms;

/// A typed attribute value. Times are epoch milliseconds (`Num`), as GuardDuty compares them.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Num(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    Str,
    /// Compared numerically (ints, longs, doubles).
    Num,
    Bool,
    /// ISO string in the finding, epoch milliseconds in criteria.
    Time,
}

pub struct Attribute {
    /// Canonical path, e.g. `service.action.awsApiCallAction.errorCode`.
    pub path: &'static str,
    pub kind: AttrKind,
    /// True when a finding may hold several values (e.g. `…securityGroups.groupId`).
    pub list: bool,
    /// `equals` compares `floor(value)` (severity: `["7","8"]` selects High).
    pub floor_equals: bool,
    /// Pushes the finding's values of this attribute (none when absent).
    pub extract: fn(&Finding, &mut Vec<AttrValue>),
}

impl std::fmt::Debug for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path)
    }
}

impl PartialEq for Attribute {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

/// All attributes, canonical paths only.
pub fn all() -> &'static [Attribute] {
    &ATTRIBUTES
}

/// By path, accepting the documented spelling aliases.
pub fn lookup(path: &str) -> Option<&'static Attribute> {
    BY_PATH.get(path).copied()
}

/// Every (attribute, value) pair of a finding, for indexing.
pub fn extract_all(finding: &Finding) -> Vec<(&'static Attribute, AttrValue)> {
    let mut pairs = Vec::new();
    let mut values = Vec::new();
    for attribute in all() {
        values.clear();
        (attribute.extract)(finding, &mut values);
        pairs.extend(values.drain(..).map(|v| (attribute, v)));
    }
    pairs
}

impl Attribute {
    /// The finding's values of this attribute (empty when absent).
    pub fn values(&self, finding: &Finding) -> Vec<AttrValue> {
        let mut out = Vec::new();
        (self.extract)(finding, &mut out);
        out
    }
}

/// UG spellings that differ from the canonical path (decision in docs/criteria.md#attribute-paths).
const ALIASES: &[(&str, &str)] = &[
    ("resource.instanceDetails.outpostARN", "resource.instanceDetails.outpostArn"),
    ("resource.s3BucketDetails.publicAccess.effectivePermissions", "resource.s3BucketDetails.publicAccess.effectivePermission"),
    ("service.localIpDetails.ipAddressV4", "service.action.networkConnectionAction.localIpDetails.ipAddressV4"),
];

static BY_PATH: LazyLock<HashMap<&'static str, &'static Attribute>> = LazyLock::new(|| {
    let mut map: HashMap<&'static str, &'static Attribute> = all().iter().map(|a| (a.path, a)).collect();
    for (alias, canonical) in ALIASES {
        let target = map[canonical];
        map.insert(alias, target);
    }
    map
});

// ---- navigation helpers: each returns the sub-object when present ----

fn service(f: &Finding) -> Option<&Service> {
    f.service.as_ref()
}
fn api_call(f: &Finding) -> Option<&AwsApiCallAction> {
    service(f)?.action.as_ref()?.aws_api_call_action.as_ref()
}
fn dns_request(f: &Finding) -> Option<&DnsRequestAction> {
    service(f)?.action.as_ref()?.dns_request_action.as_ref()
}
fn connection(f: &Finding) -> Option<&NetworkConnectionAction> {
    service(f)?.action.as_ref()?.network_connection_action.as_ref()
}
fn port_probes(f: &Finding) -> impl Iterator<Item = &PortProbeDetail> {
    service(f)
        .and_then(|s| s.action.as_ref())
        .and_then(|a| a.port_probe_action.as_ref())
        .and_then(|p| p.port_probe_details.as_ref())
        .into_iter()
        .flatten()
}
fn api_remote_ip(f: &Finding) -> impl Iterator<Item = &RemoteIpDetails> {
    api_call(f).and_then(|a| a.remote_ip_details.as_ref()).into_iter()
}
fn connection_remote_ip(f: &Finding) -> impl Iterator<Item = &RemoteIpDetails> {
    connection(f).and_then(|c| c.remote_ip_details.as_ref()).into_iter()
}
fn probe_remote_ips(f: &Finding) -> impl Iterator<Item = &RemoteIpDetails> {
    port_probes(f).filter_map(|p| p.remote_ip_details.as_ref())
}
fn instance(f: &Finding) -> Option<&InstanceDetails> {
    f.resource.as_ref()?.instance_details.as_ref()
}
fn interfaces(f: &Finding) -> impl Iterator<Item = &NetworkInterface> {
    instance(f).and_then(|i| i.network_interfaces.as_ref()).into_iter().flatten()
}
fn buckets(f: &Finding) -> impl Iterator<Item = &S3BucketDetail> {
    f.resource.as_ref().and_then(|r| r.s3_bucket_details.as_ref()).into_iter().flatten()
}
fn threat_intel(f: &Finding) -> impl Iterator<Item = &ThreatIntelligenceDetail> {
    service(f).and_then(|s| s.evidence.as_ref()).and_then(|e| e.threat_intelligence_details.as_ref()).into_iter().flatten()
}

/// The keys of `service.additionalInfo` that are filterable. The API carries the object
/// JSON-encoded in `additionalInfo.value` (docs/findings.md#finding-document).
#[derive(Deserialize, Default)]
struct AdditionalInfoKeys {
    #[serde(default)]
    sample: Option<bool>,
    #[serde(default, rename = "threatListName")]
    threat_list_name: Option<String>,
    #[serde(default, rename = "threatName")]
    threat_name: Option<String>,
}

fn additional_info(f: &Finding) -> AdditionalInfoKeys {
    service(f)
        .and_then(|s| s.additional_info.as_ref())
        .and_then(|a| a.value.as_deref())
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

// ---- value pushers ----

fn push_str(out: &mut Vec<AttrValue>, v: Option<&String>) {
    if let Some(v) = v {
        out.push(AttrValue::Str(v.clone()));
    }
}
fn push_num(out: &mut Vec<AttrValue>, v: Option<f64>) {
    if let Some(v) = v {
        out.push(AttrValue::Num(v));
    }
}
fn push_bool(out: &mut Vec<AttrValue>, v: Option<bool>) {
    if let Some(v) = v {
        out.push(AttrValue::Bool(v));
    }
}
/// ISO timestamp in the finding → epoch milliseconds; an unparsable one counts as absent.
fn push_time(out: &mut Vec<AttrValue>, v: Option<&String>) {
    push_num(out, v.and_then(|s| parse_iso_ms(s)).map(|ms| ms as f64));
}

use AttrKind::{Bool, Num, Str, Time};

const fn scalar(path: &'static str, kind: AttrKind, extract: fn(&Finding, &mut Vec<AttrValue>)) -> Attribute {
    Attribute { path, kind, list: false, floor_equals: false, extract }
}
const fn many(path: &'static str, kind: AttrKind, extract: fn(&Finding, &mut Vec<AttrValue>)) -> Attribute {
    Attribute { path, kind, list: true, floor_equals: false, extract }
}

/// The `remoteIpDetails` sub-paths, identical under the three actions that carry them.
macro_rules! remote_ip_attributes {
    ($table:ident, $prefix:literal, $ctor:ident, $get:path) => {
        $table.extend([
            $ctor(concat!($prefix, ".remoteIpDetails.city.cityName"), Str, |f, o| {
                for r in $get(f) {
                    push_str(o, r.city.as_ref().and_then(|c| c.city_name.as_ref()))
                }
            }),
            $ctor(concat!($prefix, ".remoteIpDetails.country.countryName"), Str, |f, o| {
                for r in $get(f) {
                    push_str(o, r.country.as_ref().and_then(|c| c.country_name.as_ref()))
                }
            }),
            $ctor(concat!($prefix, ".remoteIpDetails.country.countryCode"), Str, |f, o| {
                for r in $get(f) {
                    push_str(o, r.country.as_ref().and_then(|c| c.country_code.as_ref()))
                }
            }),
            $ctor(concat!($prefix, ".remoteIpDetails.geoLocation.lat"), Num, |f, o| {
                for r in $get(f) {
                    push_num(o, r.geo_location.as_ref().and_then(|g| g.lat))
                }
            }),
            $ctor(concat!($prefix, ".remoteIpDetails.geoLocation.lon"), Num, |f, o| {
                for r in $get(f) {
                    push_num(o, r.geo_location.as_ref().and_then(|g| g.lon))
                }
            }),
            $ctor(concat!($prefix, ".remoteIpDetails.ipAddressV4"), Str, |f, o| {
                for r in $get(f) {
                    push_str(o, r.ip_address_v4.as_ref())
                }
            }),
            $ctor(concat!($prefix, ".remoteIpDetails.ipAddressV6"), Str, |f, o| {
                for r in $get(f) {
                    push_str(o, r.ip_address_v6.as_ref())
                }
            }),
            $ctor(concat!($prefix, ".remoteIpDetails.organization.asn"), Str, |f, o| {
                for r in $get(f) {
                    push_str(o, r.organization.as_ref().and_then(|g| g.asn.as_ref()))
                }
            }),
            $ctor(concat!($prefix, ".remoteIpDetails.organization.asnOrg"), Str, |f, o| {
                for r in $get(f) {
                    push_str(o, r.organization.as_ref().and_then(|g| g.asn_org.as_ref()))
                }
            }),
            $ctor(concat!($prefix, ".remoteIpDetails.organization.isp"), Str, |f, o| {
                for r in $get(f) {
                    push_str(o, r.organization.as_ref().and_then(|g| g.isp.as_ref()))
                }
            }),
            $ctor(concat!($prefix, ".remoteIpDetails.organization.org"), Str, |f, o| {
                for r in $get(f) {
                    push_str(o, r.organization.as_ref().and_then(|g| g.org.as_ref()))
                }
            }),
        ])
    };
}

static ATTRIBUTES: LazyLock<Vec<Attribute>> = LazyLock::new(build_table);

fn build_table() -> Vec<Attribute> {
    let mut t = vec![
        // Top level.
        scalar("accountId", Str, |f, o| push_str(o, f.account_id.as_ref())),
        scalar("arn", Str, |f, o| push_str(o, f.arn.as_ref())),
        scalar("confidence", Num, |f, o| push_num(o, f.confidence)),
        scalar("createdAt", Time, |f, o| push_time(o, f.created_at.as_ref())),
        scalar("id", Str, |f, o| push_str(o, f.id.as_ref())),
        scalar("partition", Str, |f, o| push_str(o, f.partition.as_ref())),
        scalar("region", Str, |f, o| push_str(o, f.region.as_ref())),
        scalar("schemaVersion", Str, |f, o| push_str(o, f.schema_version.as_ref())),
        Attribute { path: "severity", kind: Num, list: false, floor_equals: true, extract: |f, o| push_num(o, f.severity) },
        scalar("type", Str, |f, o| push_str(o, f.r#type.as_ref())),
        scalar("updatedAt", Time, |f, o| push_time(o, f.updated_at.as_ref())),
        // Resource.
        scalar("resource.resourceType", Str, |f, o| push_str(o, f.resource.as_ref().and_then(|r| r.resource_type.as_ref()))),
        scalar("resource.accessKeyDetails.accessKeyId", Str, |f, o| {
            push_str(o, f.resource.as_ref().and_then(|r| r.access_key_details.as_ref()).and_then(|k| k.access_key_id.as_ref()))
        }),
        scalar("resource.accessKeyDetails.principalId", Str, |f, o| {
            push_str(o, f.resource.as_ref().and_then(|r| r.access_key_details.as_ref()).and_then(|k| k.principal_id.as_ref()))
        }),
        scalar("resource.accessKeyDetails.userName", Str, |f, o| {
            push_str(o, f.resource.as_ref().and_then(|r| r.access_key_details.as_ref()).and_then(|k| k.user_name.as_ref()))
        }),
        scalar("resource.accessKeyDetails.userType", Str, |f, o| {
            push_str(o, f.resource.as_ref().and_then(|r| r.access_key_details.as_ref()).and_then(|k| k.user_type.as_ref()))
        }),
        scalar("resource.instanceDetails.availabilityZone", Str, |f, o| push_str(o, instance(f).and_then(|i| i.availability_zone.as_ref()))),
        scalar("resource.instanceDetails.iamInstanceProfile.arn", Str, |f, o| {
            push_str(o, instance(f).and_then(|i| i.iam_instance_profile.as_ref()).and_then(|p| p.arn.as_ref()))
        }),
        scalar("resource.instanceDetails.iamInstanceProfile.id", Str, |f, o| {
            push_str(o, instance(f).and_then(|i| i.iam_instance_profile.as_ref()).and_then(|p| p.id.as_ref()))
        }),
        scalar("resource.instanceDetails.imageDescription", Str, |f, o| push_str(o, instance(f).and_then(|i| i.image_description.as_ref()))),
        scalar("resource.instanceDetails.imageId", Str, |f, o| push_str(o, instance(f).and_then(|i| i.image_id.as_ref()))),
        scalar("resource.instanceDetails.instanceId", Str, |f, o| push_str(o, instance(f).and_then(|i| i.instance_id.as_ref()))),
        scalar("resource.instanceDetails.instanceState", Str, |f, o| push_str(o, instance(f).and_then(|i| i.instance_state.as_ref()))),
        scalar("resource.instanceDetails.instanceType", Str, |f, o| push_str(o, instance(f).and_then(|i| i.instance_type.as_ref()))),
        scalar("resource.instanceDetails.launchTime", Time, |f, o| push_time(o, instance(f).and_then(|i| i.launch_time.as_ref()))),
        scalar("resource.instanceDetails.outpostArn", Str, |f, o| push_str(o, instance(f).and_then(|i| i.outpost_arn.as_ref()))),
        scalar("resource.instanceDetails.platform", Str, |f, o| push_str(o, instance(f).and_then(|i| i.platform.as_ref()))),
        many("resource.instanceDetails.productCodes.productCodeId", Str, |f, o| {
            for p in instance(f).and_then(|i| i.product_codes.as_ref()).into_iter().flatten() {
                push_str(o, p.code.as_ref())
            }
        }),
        many("resource.instanceDetails.productCodes.productCodeType", Str, |f, o| {
            for p in instance(f).and_then(|i| i.product_codes.as_ref()).into_iter().flatten() {
                push_str(o, p.product_type.as_ref())
            }
        }),
        many("resource.instanceDetails.tags.key", Str, |f, o| {
            for tag in instance(f).and_then(|i| i.tags.as_ref()).into_iter().flatten() {
                push_str(o, tag.key.as_ref())
            }
        }),
        many("resource.instanceDetails.tags.value", Str, |f, o| {
            for tag in instance(f).and_then(|i| i.tags.as_ref()).into_iter().flatten() {
                push_str(o, tag.value.as_ref())
            }
        }),
        many("resource.instanceDetails.networkInterfaces.ipv6Addresses", Str, |f, o| {
            for n in interfaces(f) {
                for a in n.ipv6_addresses.iter().flatten() {
                    push_str(o, Some(a))
                }
            }
        }),
        many("resource.instanceDetails.networkInterfaces.networkInterfaceId", Str, |f, o| {
            for n in interfaces(f) {
                push_str(o, n.network_interface_id.as_ref())
            }
        }),
        many("resource.instanceDetails.networkInterfaces.privateDnsName", Str, |f, o| {
            for n in interfaces(f) {
                push_str(o, n.private_dns_name.as_ref())
            }
        }),
        many("resource.instanceDetails.networkInterfaces.privateIpAddress", Str, |f, o| {
            for n in interfaces(f) {
                push_str(o, n.private_ip_address.as_ref())
            }
        }),
        many("resource.instanceDetails.networkInterfaces.privateIpAddresses.privateDnsName", Str, |f, o| {
            for n in interfaces(f) {
                for a in n.private_ip_addresses.iter().flatten() {
                    push_str(o, a.private_dns_name.as_ref())
                }
            }
        }),
        many("resource.instanceDetails.networkInterfaces.privateIpAddresses.privateIpAddress", Str, |f, o| {
            for n in interfaces(f) {
                for a in n.private_ip_addresses.iter().flatten() {
                    push_str(o, a.private_ip_address.as_ref())
                }
            }
        }),
        many("resource.instanceDetails.networkInterfaces.publicDnsName", Str, |f, o| {
            for n in interfaces(f) {
                push_str(o, n.public_dns_name.as_ref())
            }
        }),
        many("resource.instanceDetails.networkInterfaces.publicIp", Str, |f, o| {
            for n in interfaces(f) {
                push_str(o, n.public_ip.as_ref())
            }
        }),
        many("resource.instanceDetails.networkInterfaces.securityGroups.groupId", Str, |f, o| {
            for n in interfaces(f) {
                for g in n.security_groups.iter().flatten() {
                    push_str(o, g.group_id.as_ref())
                }
            }
        }),
        many("resource.instanceDetails.networkInterfaces.securityGroups.groupName", Str, |f, o| {
            for n in interfaces(f) {
                for g in n.security_groups.iter().flatten() {
                    push_str(o, g.group_name.as_ref())
                }
            }
        }),
        many("resource.instanceDetails.networkInterfaces.subnetId", Str, |f, o| {
            for n in interfaces(f) {
                push_str(o, n.subnet_id.as_ref())
            }
        }),
        many("resource.instanceDetails.networkInterfaces.vpcId", Str, |f, o| {
            for n in interfaces(f) {
                push_str(o, n.vpc_id.as_ref())
            }
        }),
        many("resource.s3BucketDetails.arn", Str, |f, o| {
            for b in buckets(f) {
                push_str(o, b.arn.as_ref())
            }
        }),
        // The model holds epoch seconds (double); criteria speak epoch milliseconds.
        many("resource.s3BucketDetails.createdAt", Time, |f, o| {
            for b in buckets(f) {
                push_num(o, b.created_at.map(|secs| (secs * 1000.0).round()))
            }
        }),
        many("resource.s3BucketDetails.defaultServerSideEncryption.encryptionType", Str, |f, o| {
            for b in buckets(f) {
                push_str(o, b.default_server_side_encryption.as_ref().and_then(|e| e.encryption_type.as_ref()))
            }
        }),
        many("resource.s3BucketDetails.defaultServerSideEncryption.kmsMasterKeyArn", Str, |f, o| {
            for b in buckets(f) {
                push_str(o, b.default_server_side_encryption.as_ref().and_then(|e| e.kms_master_key_arn.as_ref()))
            }
        }),
        many("resource.s3BucketDetails.name", Str, |f, o| {
            for b in buckets(f) {
                push_str(o, b.name.as_ref())
            }
        }),
        many("resource.s3BucketDetails.owner.id", Str, |f, o| {
            for b in buckets(f) {
                push_str(o, b.owner.as_ref().and_then(|w| w.id.as_ref()))
            }
        }),
        many("resource.s3BucketDetails.publicAccess.effectivePermission", Str, |f, o| {
            for b in buckets(f) {
                push_str(o, b.public_access.as_ref().and_then(|p| p.effective_permission.as_ref()))
            }
        }),
        many("resource.s3BucketDetails.tags.key", Str, |f, o| {
            for b in buckets(f) {
                for tag in b.tags.iter().flatten() {
                    push_str(o, tag.key.as_ref())
                }
            }
        }),
        many("resource.s3BucketDetails.tags.value", Str, |f, o| {
            for b in buckets(f) {
                for tag in b.tags.iter().flatten() {
                    push_str(o, tag.value.as_ref())
                }
            }
        }),
        many("resource.s3BucketDetails.type", Str, |f, o| {
            for b in buckets(f) {
                push_str(o, b.r#type.as_ref())
            }
        }),
        // Service.
        scalar("service.action.actionType", Str, |f, o| push_str(o, service(f).and_then(|s| s.action.as_ref()).and_then(|a| a.action_type.as_ref()))),
        scalar("service.additionalInfo.sample", Bool, |f, o| push_bool(o, additional_info(f).sample)),
        scalar("service.additionalInfo.threatListName", Str, |f, o| push_str(o, additional_info(f).threat_list_name.as_ref())),
        scalar("service.additionalInfo.threatName", Str, |f, o| push_str(o, additional_info(f).threat_name.as_ref())),
        // A finding never archived has no `archived` member yet; it is active.
        scalar("service.archived", Bool, |f, o| push_bool(o, Some(service(f).and_then(|s| s.archived).unwrap_or(false)))),
        scalar("service.count", Num, |f, o| push_num(o, service(f).and_then(|s| s.count).map(f64::from))),
        scalar("service.detectorId", Str, |f, o| push_str(o, service(f).and_then(|s| s.detector_id.as_ref()))),
        scalar("service.eventFirstSeen", Time, |f, o| push_time(o, service(f).and_then(|s| s.event_first_seen.as_ref()))),
        scalar("service.eventLastSeen", Time, |f, o| push_time(o, service(f).and_then(|s| s.event_last_seen.as_ref()))),
        scalar("service.resourceRole", Str, |f, o| push_str(o, service(f).and_then(|s| s.resource_role.as_ref()))),
        scalar("service.serviceName", Str, |f, o| push_str(o, service(f).and_then(|s| s.service_name.as_ref()))),
        scalar("service.userFeedback", Str, |f, o| push_str(o, service(f).and_then(|s| s.user_feedback.as_ref()))),
        many("service.evidence.threatIntelligenceDetails.threatFileSha256", Str, |f, o| {
            for d in threat_intel(f) {
                push_str(o, d.threat_file_sha256.as_ref())
            }
        }),
        many("service.evidence.threatIntelligenceDetails.threatListName", Str, |f, o| {
            for d in threat_intel(f) {
                push_str(o, d.threat_list_name.as_ref())
            }
        }),
        many("service.evidence.threatIntelligenceDetails.threatNames", Str, |f, o| {
            for d in threat_intel(f) {
                for n in d.threat_names.iter().flatten() {
                    push_str(o, Some(n))
                }
            }
        }),
        // awsApiCallAction.
        scalar("service.action.awsApiCallAction.api", Str, |f, o| push_str(o, api_call(f).and_then(|a| a.api.as_ref()))),
        scalar("service.action.awsApiCallAction.callerType", Str, |f, o| push_str(o, api_call(f).and_then(|a| a.caller_type.as_ref()))),
        scalar("service.action.awsApiCallAction.domainDetails.domain", Str, |f, o| {
            push_str(o, api_call(f).and_then(|a| a.domain_details.as_ref()).and_then(|d| d.domain.as_ref()))
        }),
        scalar("service.action.awsApiCallAction.errorCode", Str, |f, o| push_str(o, api_call(f).and_then(|a| a.error_code.as_ref()))),
        scalar("service.action.awsApiCallAction.remoteAccountDetails.accountId", Str, |f, o| {
            push_str(o, api_call(f).and_then(|a| a.remote_account_details.as_ref()).and_then(|r| r.account_id.as_ref()))
        }),
        scalar("service.action.awsApiCallAction.remoteAccountDetails.affiliated", Bool, |f, o| {
            push_bool(o, api_call(f).and_then(|a| a.remote_account_details.as_ref()).and_then(|r| r.affiliated))
        }),
        scalar("service.action.awsApiCallAction.serviceName", Str, |f, o| push_str(o, api_call(f).and_then(|a| a.service_name.as_ref()))),
        scalar("service.action.awsApiCallAction.userAgent", Str, |f, o| push_str(o, api_call(f).and_then(|a| a.user_agent.as_ref()))),
        // dnsRequestAction.
        scalar("service.action.dnsRequestAction.blocked", Bool, |f, o| push_bool(o, dns_request(f).and_then(|d| d.blocked))),
        scalar("service.action.dnsRequestAction.domain", Str, |f, o| push_str(o, dns_request(f).and_then(|d| d.domain.as_ref()))),
        scalar("service.action.dnsRequestAction.domainWithSuffix", Str, |f, o| {
            push_str(o, dns_request(f).and_then(|d| d.domain_with_suffix.as_ref()))
        }),
        scalar("service.action.dnsRequestAction.protocol", Str, |f, o| push_str(o, dns_request(f).and_then(|d| d.protocol.as_ref()))),
        scalar("service.action.dnsRequestAction.vpcOwnerAccountId", Str, |f, o| {
            push_str(o, dns_request(f).and_then(|d| d.vpc_owner_account_id.as_ref()))
        }),
        // networkConnectionAction.
        scalar("service.action.networkConnectionAction.blocked", Bool, |f, o| push_bool(o, connection(f).and_then(|c| c.blocked))),
        scalar("service.action.networkConnectionAction.connectionDirection", Str, |f, o| {
            push_str(o, connection(f).and_then(|c| c.connection_direction.as_ref()))
        }),
        scalar("service.action.networkConnectionAction.localIpDetails.ipAddressV4", Str, |f, o| {
            push_str(o, connection(f).and_then(|c| c.local_ip_details.as_ref()).and_then(|l| l.ip_address_v4.as_ref()))
        }),
        scalar("service.action.networkConnectionAction.localIpDetails.ipAddressV6", Str, |f, o| {
            push_str(o, connection(f).and_then(|c| c.local_ip_details.as_ref()).and_then(|l| l.ip_address_v6.as_ref()))
        }),
        scalar("service.action.networkConnectionAction.localNetworkInterface", Str, |f, o| {
            push_str(o, connection(f).and_then(|c| c.local_network_interface.as_ref()))
        }),
        scalar("service.action.networkConnectionAction.localPortDetails.port", Num, |f, o| {
            push_num(o, connection(f).and_then(|c| c.local_port_details.as_ref()).and_then(|p| p.port).map(f64::from))
        }),
        scalar("service.action.networkConnectionAction.localPortDetails.portName", Str, |f, o| {
            push_str(o, connection(f).and_then(|c| c.local_port_details.as_ref()).and_then(|p| p.port_name.as_ref()))
        }),
        scalar("service.action.networkConnectionAction.protocol", Str, |f, o| push_str(o, connection(f).and_then(|c| c.protocol.as_ref()))),
        scalar("service.action.networkConnectionAction.remotePortDetails.port", Num, |f, o| {
            push_num(o, connection(f).and_then(|c| c.remote_port_details.as_ref()).and_then(|p| p.port).map(f64::from))
        }),
        scalar("service.action.networkConnectionAction.remotePortDetails.portName", Str, |f, o| {
            push_str(o, connection(f).and_then(|c| c.remote_port_details.as_ref()).and_then(|p| p.port_name.as_ref()))
        }),
        // portProbeAction.
        scalar("service.action.portProbeAction.blocked", Bool, |f, o| {
            push_bool(o, service(f).and_then(|s| s.action.as_ref()).and_then(|a| a.port_probe_action.as_ref()).and_then(|p| p.blocked))
        }),
        many("service.action.portProbeAction.portProbeDetails.localIpDetails.ipAddressV4", Str, |f, o| {
            for p in port_probes(f) {
                push_str(o, p.local_ip_details.as_ref().and_then(|l| l.ip_address_v4.as_ref()))
            }
        }),
        many("service.action.portProbeAction.portProbeDetails.localIpDetails.ipAddressV6", Str, |f, o| {
            for p in port_probes(f) {
                push_str(o, p.local_ip_details.as_ref().and_then(|l| l.ip_address_v6.as_ref()))
            }
        }),
        many("service.action.portProbeAction.portProbeDetails.localPortDetails.port", Num, |f, o| {
            for p in port_probes(f) {
                push_num(o, p.local_port_details.as_ref().and_then(|l| l.port).map(f64::from))
            }
        }),
        many("service.action.portProbeAction.portProbeDetails.localPortDetails.portName", Str, |f, o| {
            for p in port_probes(f) {
                push_str(o, p.local_port_details.as_ref().and_then(|l| l.port_name.as_ref()))
            }
        }),
    ];
    remote_ip_attributes!(t, "service.action.awsApiCallAction", scalar, api_remote_ip);
    remote_ip_attributes!(t, "service.action.networkConnectionAction", scalar, connection_remote_ip);
    remote_ip_attributes!(t, "service.action.portProbeAction.portProbeDetails", many, probe_remote_ips);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The 48 ListFindings paths of the 2020 model (docs/criteria.md#attribute-paths), verbatim.
    const LIST_FINDINGS_2020: &[&str] = &[
        "accountId",
        "region",
        "confidence",
        "id",
        "resource.accessKeyDetails.accessKeyId",
        "resource.accessKeyDetails.principalId",
        "resource.accessKeyDetails.userName",
        "resource.accessKeyDetails.userType",
        "resource.instanceDetails.iamInstanceProfile.id",
        "resource.instanceDetails.imageId",
        "resource.instanceDetails.instanceId",
        "resource.instanceDetails.networkInterfaces.ipv6Addresses",
        "resource.instanceDetails.networkInterfaces.privateIpAddresses.privateIpAddress",
        "resource.instanceDetails.networkInterfaces.publicDnsName",
        "resource.instanceDetails.networkInterfaces.publicIp",
        "resource.instanceDetails.networkInterfaces.securityGroups.groupId",
        "resource.instanceDetails.networkInterfaces.securityGroups.groupName",
        "resource.instanceDetails.networkInterfaces.subnetId",
        "resource.instanceDetails.networkInterfaces.vpcId",
        "resource.instanceDetails.tags.key",
        "resource.instanceDetails.tags.value",
        "resource.resourceType",
        "service.action.actionType",
        "service.action.awsApiCallAction.api",
        "service.action.awsApiCallAction.callerType",
        "service.action.awsApiCallAction.remoteIpDetails.city.cityName",
        "service.action.awsApiCallAction.remoteIpDetails.country.countryName",
        "service.action.awsApiCallAction.remoteIpDetails.ipAddressV4",
        "service.action.awsApiCallAction.remoteIpDetails.organization.asn",
        "service.action.awsApiCallAction.remoteIpDetails.organization.asnOrg",
        "service.action.awsApiCallAction.serviceName",
        "service.action.dnsRequestAction.domain",
        "service.action.networkConnectionAction.blocked",
        "service.action.networkConnectionAction.connectionDirection",
        "service.action.networkConnectionAction.localPortDetails.port",
        "service.action.networkConnectionAction.protocol",
        "service.action.networkConnectionAction.remoteIpDetails.city.cityName",
        "service.action.networkConnectionAction.remoteIpDetails.country.countryName",
        "service.action.networkConnectionAction.remoteIpDetails.ipAddressV4",
        "service.action.networkConnectionAction.remoteIpDetails.organization.asn",
        "service.action.networkConnectionAction.remoteIpDetails.organization.asnOrg",
        "service.action.networkConnectionAction.remotePortDetails.port",
        "service.additionalInfo.threatListName",
        "service.archived",
        "service.resourceRole",
        "severity",
        "type",
        "updatedAt",
    ];

    #[test]
    fn every_2020_list_findings_path_is_known() {
        assert_eq!(LIST_FINDINGS_2020.len(), 48);
        for path in LIST_FINDINGS_2020 {
            assert_eq!(lookup(path).map(|a| a.path), Some(*path));
        }
        for path in [
            "resource.instanceDetails.outpostArn",
            "service.action.networkConnectionAction.localIpDetails.ipAddressV4",
            "service.action.awsApiCallAction.errorCode",
            "service.additionalInfo.sample",
        ] {
            assert!(lookup(path).is_some(), "{path}");
        }
    }

    #[test]
    fn paths_are_unique_and_aliases_resolve() {
        let mut seen = HashSet::new();
        for a in all() {
            assert!(seen.insert(a.path), "duplicate {}", a.path);
        }
        for (alias, canonical) in ALIASES {
            assert_eq!(lookup(alias).unwrap().path, *canonical);
            assert!(!seen.contains(alias));
        }
        assert!(lookup("service.action.awsApiCallAction.ErrorCode").is_none());
        assert!(lookup("").is_none());
    }

    #[test]
    fn kinds_and_list_flags() {
        let kind = |p: &str| lookup(p).unwrap().kind;
        assert_eq!(kind("updatedAt"), Time);
        assert_eq!(kind("resource.s3BucketDetails.createdAt"), Time);
        assert_eq!(kind("service.archived"), Bool);
        assert_eq!(kind("severity"), Num);
        assert!(lookup("severity").unwrap().floor_equals);
        assert!(!lookup("confidence").unwrap().floor_equals);
        assert!(lookup("resource.instanceDetails.tags.key").unwrap().list);
        assert!(lookup("service.action.portProbeAction.portProbeDetails.remoteIpDetails.ipAddressV4").unwrap().list);
        assert!(!lookup("service.action.awsApiCallAction.remoteIpDetails.ipAddressV4").unwrap().list);
        // Every path under a list-valued member is flagged as such.
        for a in all() {
            let under_list = ["networkInterfaces.", "tags.", "s3BucketDetails.", "portProbeDetails.", "threatIntelligenceDetails.", "productCodes."]
                .iter()
                .any(|seg| a.path.contains(seg));
            assert_eq!(a.list, under_list, "{}", a.path);
        }
    }

    fn finding(json: &str) -> Finding {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn extracts_typed_values() {
        let f = finding(
            r#"{"severity":5.5,"updatedAt":"2020-05-26T22:21:48.385Z",
                "resource":{"s3BucketDetails":[{"name":"a","createdAt":1590531708.5},{"name":"b"}],
                  "instanceDetails":{"tags":[{"key":"k1","value":"v1"},{"key":"k2"}]}},
                "service":{"count":3,"additionalInfo":{"value":"{\"sample\":true,\"threatListName\":\"list\"}","type":"default"},
                  "action":{"actionType":"AWS_API_CALL","awsApiCallAction":{"errorCode":"AccessDenied",
                    "remoteIpDetails":{"organization":{"asn":"-1"},"geoLocation":{"lat":1.5}}}}}}"#,
        );
        let values = |p: &str| lookup(p).unwrap().values(&f);
        assert_eq!(values("severity"), vec![AttrValue::Num(5.5)]);
        assert_eq!(values("updatedAt"), vec![AttrValue::Num(1590531708385.0)]);
        assert_eq!(values("resource.s3BucketDetails.name"), vec![AttrValue::Str("a".into()), AttrValue::Str("b".into())]);
        assert_eq!(values("resource.s3BucketDetails.createdAt"), vec![AttrValue::Num(1590531708500.0)]);
        assert_eq!(values("resource.instanceDetails.tags.key").len(), 2);
        assert_eq!(values("resource.instanceDetails.tags.value"), vec![AttrValue::Str("v1".into())]);
        assert_eq!(values("service.count"), vec![AttrValue::Num(3.0)]);
        assert_eq!(values("service.additionalInfo.sample"), vec![AttrValue::Bool(true)]);
        assert_eq!(values("service.additionalInfo.threatListName"), vec![AttrValue::Str("list".into())]);
        assert_eq!(values("service.additionalInfo.threatName"), vec![]);
        assert_eq!(values("service.archived"), vec![AttrValue::Bool(false)]);
        assert_eq!(values("service.action.awsApiCallAction.errorCode"), vec![AttrValue::Str("AccessDenied".into())]);
        assert_eq!(values("service.action.awsApiCallAction.remoteIpDetails.organization.asn"), vec![AttrValue::Str("-1".into())]);
        assert_eq!(values("service.action.awsApiCallAction.remoteIpDetails.geoLocation.lat"), vec![AttrValue::Num(1.5)]);
        assert_eq!(values("service.action.networkConnectionAction.remoteIpDetails.organization.asn"), vec![]);
        assert_eq!(values("createdAt"), vec![]);

        let pairs = extract_all(&f);
        assert!(pairs.iter().any(|(a, v)| a.path == "resource.s3BucketDetails.name" && *v == AttrValue::Str("b".into())));
        assert!(pairs.iter().all(|(a, _)| a.path != "createdAt"));
    }

    #[test]
    fn empty_finding_has_only_the_archived_default() {
        let pairs = extract_all(&Finding::default());
        assert_eq!(pairs.len(), 1);
        assert_eq!((pairs[0].0.path, &pairs[0].1), ("service.archived", &AttrValue::Bool(false)));
    }

    #[test]
    fn malformed_additional_info_is_absent() {
        let f = finding(r#"{"service":{"additionalInfo":{"value":"not json","type":"default"}}}"#);
        assert!(lookup("service.additionalInfo.sample").unwrap().values(&f).is_empty());
    }
}
