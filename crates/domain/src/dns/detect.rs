//! DNS detection (docs/findings.md#dns-types): one query-log record in, finding occurrences out. No I/O.
//!
//! [`DNS_RULES`] is the table of stateless DNS rules, like CloudTrail's [`crate::detect::RULES`]:
//! each row names the catalogue types it may raise and the check that decides. The heuristic
//! types (DGA.B, DNSDataExfiltration) need state across queries and live in
//! [`super::heuristics`]; they build their findings with [`build_dns_occurrence`] too.
//!
//! Every DNS finding is about the EC2 instance that asked, which is the ACTOR, with a
//! `DNS_REQUEST` action. The instance is `srcids.instance`; when the record has no `srcids` at
//! all, the operator's inventory may name it: the instance with a network interface in the
//! record's `vpc_id` holding `srcaddr` (a private address means something only within its VPC,
//! and VPC ids are unique, so this also keeps to the record's account). A query from an inbound
//! Resolver endpoint (`srcids.resolver_endpoint`: `srcaddr` is a host outside the VPC), or one
//! no instance can be named for, raises nothing (decision in docs/logs.md#dns-query-logs). `instanceDetails` is the
//! inventory's entry for the instance when there is one, else what the record says
//! ([`crate::envelope::recorded_instance`], the flow findings' rule). The detector's trusted IP
//! list and threat lists do not apply to DNS findings (docs/threat-lists.md): only the operator's domain feeds
//! ([`DnsIntel`]) do.
use std::sync::Arc;

use crate::detect::{NamedSet, ThreatMatch};
use crate::envelope::{FindingEnvelope, RecordedInterface, aggregation_key, recorded_instance};
use crate::finding_types::{self as ft, FindingType};
use crate::inventory::Inventory;
use crate::{Occurrence, Scope, model};

use super::domain::{DomainSet, normalize_domain, registrable_domain};
use super::record::QueryLogRecord;

/// A kind of operator domain feed (`KIND=PATH`): the finding type its domains raise.
#[derive(Debug)]
pub struct DomainFeedKind {
    /// The name on the command line.
    pub name: &'static str,
    /// What the feed lists, for `--help` and error messages.
    pub about: &'static str,
    pub finding_type: &'static str,
}

pub const C2_DNS: &str = "Backdoor:EC2/C&CActivity.B!DNS";
pub const BITCOIN_DNS: &str = "CryptoCurrency:EC2/BitcoinTool.B!DNS";
pub const BLACKHOLE_DNS: &str = "Trojan:EC2/BlackholeTraffic!DNS";
pub const DROP_POINT_DNS: &str = "Trojan:EC2/DropPoint!DNS";
pub const PHISHING_DNS: &str = "Trojan:EC2/PhishingDomainRequest!DNS";
pub const DRIVE_BY_DNS: &str = "Trojan:EC2/DriveBySourceTraffic!DNS";
pub const DGA_KNOWN_DNS: &str = "Trojan:EC2/DGADomainRequest.C!DNS";

/// Every domain-feed kind the operator may load.
pub static DOMAIN_FEED_KINDS: &[DomainFeedKind] = &[
    DomainFeedKind { name: "c2", about: "command-and-control domains", finding_type: C2_DNS },
    DomainFeedKind { name: "bitcoin", about: "cryptocurrency mining and wallet domains", finding_type: BITCOIN_DNS },
    DomainFeedKind { name: "blackhole", about: "domains redirected to black-hole (sinkhole) addresses", finding_type: BLACKHOLE_DNS },
    DomainFeedKind { name: "droppoint", about: "credential drop-point domains", finding_type: DROP_POINT_DNS },
    DomainFeedKind { name: "phishing", about: "phishing domains", finding_type: PHISHING_DNS },
    DomainFeedKind { name: "driveby", about: "drive-by download source domains", finding_type: DRIVE_BY_DNS },
    DomainFeedKind { name: "dga", about: "algorithmically generated domains known to intelligence", finding_type: DGA_KNOWN_DNS },
];

pub fn domain_feed_kind(name: &str) -> Option<&'static DomainFeedKind> {
    DOMAIN_FEED_KINDS.iter().find(|k| k.name == name)
}

/// An operator domain feed loaded at start-up.
#[derive(Debug, Clone)]
pub struct DomainFeed {
    pub kind: &'static DomainFeedKind,
    /// What findings show as `threatListName`.
    pub name: String,
    /// SHA-256 (hex) of the file the entries came from.
    pub file_sha256: String,
    pub set: Arc<DomainSet>,
}

/// The operator's domain intelligence: the same for every detector, loaded once.
#[derive(Debug, Clone, Default)]
pub struct DnsIntel {
    pub feeds: Vec<DomainFeed>,
    /// Black-hole (sinkhole) IP feeds: a query answered with one of their addresses raises
    /// BlackholeTraffic!DNS (docs/logs.md#dns-query-logs maps `answers[].Rdata` to it) whatever the domain.
    pub blackhole_ips: Vec<NamedSet>,
}

/// What DNS detection needs besides the record (cf. [`crate::detect::DetectContext`]).
#[derive(Debug, Clone, Copy)]
pub struct DnsContext<'c> {
    /// The enabled detector the record is routed to (by its `account_id` and `region`).
    pub detector_id: &'c str,
    /// Wall-clock time: `createdAt` / `updatedAt` of new findings.
    pub now_ms: i64,
    /// Where the record came from and its line (1-based): evidence `source` = `"{source}:{position}"`.
    pub source: &'c str,
    pub position: u64,
    pub intel: &'c DnsIntel,
    /// The operator's instances, when supplied (`--inventory`): they fill `instanceDetails`.
    pub inventory: Option<&'c Inventory>,
}

/// AWS's documented GuardDuty test domain: querying it raises C&CActivity.B!DNS with no feed.
pub const AWS_TEST_C2_DOMAIN: &str = "guarddutyc2activityb.com";

/// The instance metadata service's addresses (IPv4, and the Nitro IPv6 endpoint).
pub const METADATA_ADDRESSES: &[&str] = &["169.254.169.254", "fd00:ec2::254"];

/// A query as the rules see it: the record and its normalised name, computed once.
#[derive(Debug)]
pub struct Query<'q, 'a> {
    pub record: &'q QueryLogRecord<'a>,
    /// The instance that asked: `srcids.instance`, or the inventory's (see [`Query::resolve`]).
    pub instance_id: &'q str,
    /// `dnsRequestAction.domain`.
    pub domain: String,
    /// `dnsRequestAction.domainWithSuffix`.
    pub registrable: Option<String>,
}

impl<'q, 'a> Query<'q, 'a> {
    /// `None` when the record names no instance or its `query_name` is not a DNS name.
    pub fn new(record: &'q QueryLogRecord<'a>) -> Option<Self> {
        Self::resolve(record, None)
    }

    /// [`Query::new`], and when the record has no `srcids`, the instance the inventory places
    /// at `srcaddr` in the record's `vpc_id` (see the module doc).
    pub fn resolve(record: &'q QueryLogRecord<'a>, inventory: Option<&'q Inventory>) -> Option<Self> {
        let instance_id = match record.instance_id() {
            Some(id) => id,
            None => inventory_instance_id(record, inventory?)?,
        };
        let domain = normalize_domain(record.query_name.get()?)?;
        let registrable = registrable_domain(&domain).map(str::to_owned);
        Some(Query { record, instance_id, domain, registrable })
    }
}

/// The instance id of the inventory's instance at `srcaddr` in `vpc_id`, for a record without
/// `srcids` (never for a Resolver endpoint's query).
fn inventory_instance_id<'q>(record: &'q QueryLogRecord<'_>, inventory: &'q Inventory) -> Option<&'q str> {
    let ids = &record.srcids.0;
    if ids.resolver_endpoint.get().is_some() || ids.instance.get().is_some() {
        return None;
    }
    let address: std::net::IpAddr = record.srcaddr.get()?.trim().parse().ok()?;
    // The Resolver sees an instance's private IPv4 (or its IPv6), never its public IPv4.
    if address.is_ipv4() && crate::intel::is_publicly_routable(address) {
        return None;
    }
    inventory.by_ip_in_vpc(address, record.vpc_id.get()?)?.instance_id.as_deref()
}

/// What a rule found.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsHit {
    pub finding_type: &'static str,
    /// One sentence appended to the catalogue description.
    pub detail: Option<String>,
    /// The feeds the domain is on: `additionalInfo.threatListName` (the first) and
    /// `evidence.threatIntelligenceDetails` (all).
    pub threats: Vec<ThreatMatch>,
    /// `eventFirstSeen` when the finding covers earlier queries too (a heuristic's window);
    /// `None`: this query's time.
    pub first_seen_ms: Option<i64>,
}

pub struct DnsRule {
    /// Stable rule id, recorded in every finding's evidence.
    pub id: &'static str,
    /// Catalogue types this rule may raise.
    pub finding_types: &'static [&'static str],
    pub check: fn(&Query<'_, '_>, &DnsIntel) -> Vec<DnsHit>,
}

/// Every stateless DNS rule.
pub static DNS_RULES: &[DnsRule] = &[
    DnsRule {
        id: "dns-domain-feed",
        finding_types: &[C2_DNS, BITCOIN_DNS, BLACKHOLE_DNS, DROP_POINT_DNS, PHISHING_DNS, DRIVE_BY_DNS, DGA_KNOWN_DNS],
        check: feed_domain,
    },
    DnsRule { id: "dns-blackhole-answer", finding_types: &[BLACKHOLE_DNS], check: blackhole_answer },
    DnsRule { id: "dns-aws-test-c2-domain", finding_types: &[C2_DNS], check: aws_test_domain },
    DnsRule { id: "dns-metadata-rebind", finding_types: &[ft::METADATA_DNS_REBIND], check: metadata_rebind },
];

/// One hit per feed kind holding the domain (or a parent of it), naming every such feed.
fn feed_domain(query: &Query<'_, '_>, intel: &DnsIntel) -> Vec<DnsHit> {
    let mut hits: Vec<DnsHit> = Vec::new();
    for feed in &intel.feeds {
        let Some(entry) = feed.set.matching(&query.domain) else {
            continue;
        };
        let threat = ThreatMatch { list_name: feed.name.clone(), file_sha256: feed.file_sha256.clone() };
        match hits.iter_mut().find(|h| h.finding_type == feed.kind.finding_type) {
            Some(hit) => hit.threats.push(threat),
            None => hits.push(DnsHit {
                finding_type: feed.kind.finding_type,
                detail: Some(format!("The domain {} is on the {} feed {} (entry {entry}).", query.domain, feed.kind.name, feed.name)),
                threats: vec![threat],
                first_seen_ms: None,
            }),
        }
    }
    hits
}

/// An A/AAAA answer on a black-hole IP feed: one hit naming every feed that holds one of them.
fn blackhole_answer(query: &Query<'_, '_>, intel: &DnsIntel) -> Vec<DnsHit> {
    if intel.blackhole_ips.is_empty() {
        return Vec::new();
    }
    let addresses: Vec<std::net::IpAddr> = query.record.answers().filter_map(|a| a.rdata.as_str().trim().parse().ok()).collect();
    let mut threats = Vec::new();
    let mut first_hit = None;
    for feed in &intel.blackhole_ips {
        if let Some(ip) = addresses.iter().find(|ip| feed.set.contains(**ip)) {
            first_hit.get_or_insert(*ip);
            threats.push(ThreatMatch { list_name: feed.name.clone(), file_sha256: feed.file_sha256.clone() });
        }
    }
    let Some(ip) = first_hit else { return Vec::new() };
    vec![DnsHit {
        finding_type: BLACKHOLE_DNS,
        detail: Some(format!("The domain {} resolved to the black-hole address {ip} ({}).", query.domain, threats[0].list_name)),
        threats,
        first_seen_ms: None,
    }]
}

fn aws_test_domain(query: &Query<'_, '_>, _: &DnsIntel) -> Vec<DnsHit> {
    if query.registrable.as_deref() != Some(AWS_TEST_C2_DOMAIN) {
        return Vec::new();
    }
    vec![DnsHit {
        finding_type: C2_DNS,
        detail: Some(format!("{AWS_TEST_C2_DOMAIN} is the domain AWS documents for testing this finding.")),
        threats: Vec::new(),
        first_seen_ms: None,
    }]
}

/// An answer of the metadata service's address for a name that is not AWS's own alias of it
/// (`instance-data`, `instance-data.ec2.internal`, `instance-data.<region>.compute.internal`
/// resolve there by design).
fn metadata_rebind(query: &Query<'_, '_>, _: &DnsIntel) -> Vec<DnsHit> {
    let aws_alias = query.domain == "instance-data" || query.domain.strip_prefix("instance-data.").is_some_and(|rest| rest.ends_with("internal"));
    if aws_alias || query.domain.parse::<std::net::IpAddr>().is_ok() {
        return Vec::new();
    }
    // Compared as addresses: `fd00:ec2:0::254` is the same endpoint as `fd00:ec2::254`.
    let rebound = query.record.answers().any(|a| {
        a.rdata
            .as_str()
            .trim()
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| METADATA_ADDRESSES.iter().any(|m| m.parse::<std::net::IpAddr>().is_ok_and(|m| m == ip)))
    });
    if !rebound {
        return Vec::new();
    }
    vec![DnsHit {
        finding_type: ft::METADATA_DNS_REBIND,
        detail: Some(format!("The domain {} resolved to the instance metadata address.", query.domain)),
        threats: Vec::new(),
        first_seen_ms: None,
    }]
}

/// Every stateless rule's verdicts on one record (nothing without an instance or a valid name;
/// the instance from `srcids` only: [`query_hits`] with [`Query::resolve`] also asks the inventory).
pub fn dns_hits<'q, 'a>(record: &'q QueryLogRecord<'a>, intel: &DnsIntel) -> Option<(Query<'q, 'a>, Vec<(&'static DnsRule, DnsHit)>)> {
    let query = Query::new(record)?;
    let hits = query_hits(&query, intel);
    Some((query, hits))
}

/// Every stateless rule's verdicts on a prepared query. One hit per finding type: the first rule
/// to raise a type wins.
pub fn query_hits(query: &Query<'_, '_>, intel: &DnsIntel) -> Vec<(&'static DnsRule, DnsHit)> {
    let mut out: Vec<(&'static DnsRule, DnsHit)> = Vec::new();
    for rule in DNS_RULES {
        for hit in (rule.check)(query, intel) {
            if !out.iter().any(|(_, h)| h.finding_type == hit.finding_type) {
                out.push((rule, hit));
            }
        }
    }
    out
}

/// Runs every stateless DNS rule on `record` and builds the occurrences it raises. An ingester
/// that also runs the heuristics calls [`Query::resolve`] + [`query_hits`] + [`build_occurrences`]
/// and hands the same [`Query`] to [`super::heuristics::DnsHeuristics::observe_query`] (the name
/// is normalised once).
pub fn detect_query(record: &QueryLogRecord<'_>, ctx: &DnsContext<'_>) -> Vec<Occurrence> {
    let Some(query) = Query::resolve(record, ctx.inventory) else {
        return Vec::new();
    };
    let hits = query_hits(&query, ctx.intel);
    build_occurrences(&query, ctx, hits)
}

/// The occurrences for `hits` (from [`dns_hits`] on the same query).
pub fn build_occurrences(query: &Query<'_, '_>, ctx: &DnsContext<'_>, hits: Vec<(&'static DnsRule, DnsHit)>) -> Vec<Occurrence> {
    hits.into_iter().filter_map(|(rule, hit)| build_dns_occurrence(query, ctx, rule.id, hit)).collect()
}

/// The aggregation key of DNS findings (default in docs/findings.md#aggregation): type, role (always ACTOR) and the
/// instance. The domain is NOT part of it: an instance querying ten C&C domains has one
/// C&CActivity.B!DNS finding whose count grows and whose action shows the latest domain, as
/// docs/findings.md#aggregation says GuardDuty replaces action details with the latest occurrence's.
pub fn dns_aggregation_key(ty: &FindingType, instance_id: &str) -> String {
    aggregation_key(ty, ty.role, format_args!("Instance:{instance_id}"))
}

/// A synthetic event id for a query (query logs carry none): stable for the same record, so
/// re-ingesting a file does not grow the evidence.
pub fn query_event_id(record: &QueryLogRecord<'_>) -> String {
    format!(
        "dns:{}:{}:{}:{}:{}",
        record.query_timestamp.as_str(),
        record.srcaddr.as_str(),
        record.srcport.as_str(),
        record.query_type.as_str(),
        record.query_name.as_str()
    )
}

/// `instanceDetails`: the inventory's entry for the instance, else what the record says.
fn instance_details(query: &Query<'_, '_>, inventory: Option<&Inventory>) -> model::InstanceDetails {
    if let Some(known) = inventory.and_then(|i| i.by_instance_id(query.instance_id)) {
        return known.clone();
    }
    let record = query.record;
    let interface =
        RecordedInterface { vpc_id: record.vpc_id.get(), address: record.srcaddr.get().and_then(|s| s.trim().parse().ok()), ..Default::default() };
    recorded_instance(Some(query.instance_id), interface)
}

/// The occurrence for `hit` on `query`. `None` when the type is not in the catalogue or the
/// record lacks `account_id`, `region` or a parseable `query_timestamp`.
pub fn build_dns_occurrence(query: &Query<'_, '_>, ctx: &DnsContext<'_>, rule_id: &str, hit: DnsHit) -> Option<Occurrence> {
    let record = query.record;
    let ty = ft::lookup(hit.finding_type)?;
    let event_time_ms = record.time_ms()?;
    let account_id = record.account_id.get()?;
    let region = record.region.get()?;
    let scope = Scope::new(account_id, region);

    let resource = model::Resource { instance_details: Some(instance_details(query, ctx.inventory)), ..Default::default() };
    let action = model::Action {
        dns_request_action: Some(model::DnsRequestAction {
            domain: Some(query.domain.clone()),
            domain_with_suffix: query.registrable.clone(),
            protocol: record.transport.get().map(str::to_ascii_uppercase),
            blocked: Some(record.blocked()),
            vpc_owner_account_id: Some(account_id.to_owned()),
        }),
        ..Default::default()
    };
    let envelope = FindingEnvelope {
        detector_id: ctx.detector_id,
        scope: &scope,
        now_ms: ctx.now_ms,
        finding_type: ty,
        role: ty.role,
        aggregation_key: &dns_aggregation_key(ty, query.instance_id),
        severity: None,
        detail: hit.detail.as_deref(),
        threats: &hit.threats,
        first_seen_ms: hit.first_seen_ms.unwrap_or(event_time_ms).min(event_time_ms),
        event_time_ms,
        rule: rule_id,
        event_id: &query_event_id(record),
        source: ctx.source,
        position: ctx.position,
    };
    Some(envelope.occurrence(resource, action, serde_json::Map::new()))
}
