//! What detection knows besides the record: the detector's trusted list and threat lists
//! (GuardDuty IPSets and ThreatIntelSets), the operator's feeds (known-malicious IPs, Tor exit
//! nodes), AWS's published ranges and a GeoIP database. docs/findings.md#cloudtrail-access-key-types, docs/threat-lists.md.
//!
//! * [`OperatorIntel`] is loaded once per process (`--feed`, `--ip-ranges`, `--geoip-*`) and
//!   shared by every detector.
//! * [`DetectorLists`] is a detector's ACTIVE lists as of some moment; the ingester re-reads it
//!   when the store says the lists changed, so a list (re-)activated mid-run applies to the events
//!   analysed afterwards.
//!
//! Lists and feeds only ever apply to publicly routable caller IPs (docs/threat-lists.md). A caller on the
//! trusted list gets no CloudTrail finding at all (docs/threat-lists.md: "no VPC-flow or CloudTrail finding is
//! generated for a listed remote IP"), which also makes the trusted list win over threat lists.
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use crate::cloudtrail::CloudTrailRecord;
use crate::finding_types as ft;
use crate::geo::{GeoInfo, GeoLookup};
use crate::intel::{IpNet, IpSet, is_publicly_routable};

use super::{Hit, ResourceKey};

/// A kind of operator feed (`--feed KIND=PATH`): which finding types its IPs raise. A new kind
/// (as `scanner`, `c2`, `bitcoin`, `blackhole`, `droppoint` were) is a new row of [`FEED_KINDS`],
/// with the types it raises for each log source.
#[derive(Debug)]
pub struct FeedKind {
    /// The name on the command line.
    pub name: &'static str,
    /// What the feed lists, for `--help` and error messages.
    pub about: &'static str,
    /// CloudTrail management calls from a listed IP: (reconnaissance type, other-API type).
    pub cloudtrail: Option<CallerTypes>,
}

/// The pair of CloudTrail types an IP-list match raises (docs/findings.md#cloudtrail-access-key-types): list/describe-style calls
/// are reconnaissance, everything else unauthorized access.
#[derive(Debug, Clone, Copy)]
pub struct CallerTypes {
    pub recon: &'static str,
    pub other: &'static str,
}

/// Every feed kind the operator may load.
pub static FEED_KINDS: &[FeedKind] = &[
    FeedKind {
        name: "malicious",
        about: "known-malicious IP addresses",
        cloudtrail: Some(CallerTypes { recon: ft::RECON_MALICIOUS_IP_CALLER, other: ft::UNAUTHORIZED_MALICIOUS_IP_CALLER }),
    },
    FeedKind {
        name: "tor",
        about: "Tor exit nodes",
        cloudtrail: Some(CallerTypes { recon: ft::RECON_TOR_IP_CALLER, other: ft::UNAUTHORIZED_TOR_IP_CALLER }),
    },
    // Feeds only flow logs use: what each raises is `crate::flow::detect::FLOW_FEED_USES`.
    FeedKind { name: "scanner", about: "known internet scanners", cloudtrail: None },
    FeedKind { name: "c2", about: "known command and control servers", cloudtrail: None },
    FeedKind { name: "bitcoin", about: "Bitcoin and cryptocurrency mining hosts", cloudtrail: None },
    FeedKind { name: "blackhole", about: "black hole (sink hole) addresses", cloudtrail: None },
    FeedKind { name: "droppoint", about: "drop points holding stolen credentials", cloudtrail: None },
    FeedKind { name: "tor-relay", about: "Tor relays (guards, directory authorities and other relays)", cloudtrail: None },
];

/// The types a customer threat list raises (the `.Custom` ones).
pub const CUSTOM_THREAT_LIST_TYPES: CallerTypes =
    CallerTypes { recon: ft::RECON_MALICIOUS_IP_CALLER_CUSTOM, other: ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM };

pub fn feed_kind(name: &str) -> Option<&'static FeedKind> {
    FEED_KINDS.iter().find(|k| k.name == name)
}

/// A list of IPs with the identity findings show for it (`threatListName`, `threatFileSha256`).
#[derive(Debug, Clone, Default)]
pub struct NamedSet {
    pub name: String,
    /// SHA-256 (hex) of the file the entries came from.
    pub file_sha256: String,
    /// Shared: detectors holding the same file share one set.
    pub set: Arc<IpSet>,
}

/// An operator feed loaded at start-up.
#[derive(Debug, Clone)]
pub struct Feed {
    pub kind: &'static FeedKind,
    pub list: NamedSet,
}

/// The operator's intelligence: the same for every detector, loaded once.
#[derive(Default)]
pub struct OperatorIntel {
    pub feeds: Vec<Feed>,
    /// AWS's published ranges (`ip-ranges.json`); without them the instance-credential rule is off.
    pub aws_ranges: Option<IpSet>,
    pub geo: Option<Box<dyn GeoLookup>>,
}

impl std::fmt::Debug for OperatorIntel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorIntel")
            .field("feeds", &self.feeds.iter().map(|feed| (feed.kind.name, &feed.list.name, feed.list.set.len())).collect::<Vec<_>>())
            .field("aws_ranges", &self.aws_ranges.as_ref().map(IpSet::len))
            .field("geo", &self.geo.is_some())
            .finish()
    }
}

impl OperatorIntel {
    /// What the GeoIP database says of `ip` (empty without a database, or for a non-public IP).
    pub fn geo(&self, ip: IpAddr) -> GeoInfo {
        match &self.geo {
            Some(geo) if is_publicly_routable(ip) => geo.lookup(ip),
            _ => GeoInfo::default(),
        }
    }
}

/// A detector's ACTIVE lists (docs/threat-lists.md: only ACTIVE lists participate).
#[derive(Debug, Clone, Default)]
pub struct DetectorLists {
    /// The trusted list's entries (empty when the detector has none).
    pub trusted: Arc<IpSet>,
    /// Threat lists, ordered by name (the first matching one names the finding's list).
    pub threat: Vec<NamedSet>,
    /// With more than one threat list, all their entries in one set: one lookup answers "on
    /// none of them" for the vast majority of callers.
    any_threat: Option<Arc<IpSet>>,
}

/// A list's networks before they become a set.
#[derive(Debug, Clone, Default)]
pub struct ListNets {
    pub name: String,
    pub file_sha256: String,
    pub nets: Vec<IpNet>,
}

impl DetectorLists {
    /// From the lists' networks.
    pub fn build(trusted: Vec<IpNet>, threat: Vec<ListNets>) -> Self {
        let any_threat = (threat.len() > 1).then(|| Arc::new(IpSet::from_nets(threat.iter().flat_map(|l| l.nets.iter().copied()))));
        let threat =
            threat.into_iter().map(|l| NamedSet { name: l.name, file_sha256: l.file_sha256, set: Arc::new(IpSet::from_nets(l.nets)) }).collect();
        Self::from_sets(Arc::new(IpSet::from_nets(trusted)), threat, any_threat)
    }

    /// From sets already built (and perhaps shared with other detectors). `any_threat` must hold
    /// every threat list's entries (needed only with more than one list).
    pub fn from_sets(trusted: Arc<IpSet>, mut threat: Vec<NamedSet>, any_threat: Option<Arc<IpSet>>) -> Self {
        threat.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.file_sha256.cmp(&b.file_sha256)));
        let any_threat = if threat.len() > 1 { any_threat } else { None };
        DetectorLists { trusted, threat, any_threat }
    }

    pub fn is_empty(&self) -> bool {
        self.trusted.is_empty() && self.threat.is_empty()
    }

    /// The threat lists holding `ip`, in name order.
    pub fn threat_lists_with(&self, ip: IpAddr) -> impl Iterator<Item = &NamedSet> {
        let maybe = match (&self.any_threat, self.threat.len()) {
            (_, 0) => false,
            (Some(all), _) => all.contains(ip),
            (None, _) => true,
        };
        self.threat.iter().filter(move |list| maybe && list.set.contains(ip))
    }
}

/// Detection's view of the intelligence for one detector.
#[derive(Debug, Clone, Copy)]
pub struct Intel<'c> {
    pub operator: &'c OperatorIntel,
    pub lists: &'c DetectorLists,
}

static NO_OPERATOR_INTEL: LazyLock<OperatorIntel> = LazyLock::new(OperatorIntel::default);
static NO_LISTS: LazyLock<DetectorLists> = LazyLock::new(DetectorLists::default);

impl Intel<'static> {
    /// No lists, feeds, ranges or GeoIP: the record-only rules.
    pub fn none() -> Self {
        Intel { operator: &NO_OPERATOR_INTEL, lists: &NO_LISTS }
    }
}

impl<'c> Intel<'c> {
    /// True when some rule looks the caller's IP up (lists, feeds or AWS ranges).
    pub fn checks_callers(&self) -> bool {
        !self.lists.threat.is_empty() || !self.operator.feeds.is_empty() || self.operator.aws_ranges.is_some()
    }

    /// True when `ip` is on the detector's trusted list (public IPs only: docs/threat-lists.md).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        !self.lists.trusted.is_empty() && is_publicly_routable(ip) && self.lists.trusted.contains(ip)
    }
}

pub use crate::envelope::ThreatMatch;

/// The caller's IP when `sourceIPAddress` is an IP literal (not an AWS service name or
/// `AWS Internal`).
pub fn caller_ip(record: &CloudTrailRecord<'_>) -> Option<IpAddr> {
    record.source_ip_address.get()?.parse().ok()
}

/// The caller's IP when it is an IP literal on the public internet (not an AWS service name,
/// `AWS Internal`, or private/documentation space).
pub fn public_caller_ip(record: &CloudTrailRecord<'_>) -> Option<IpAddr> {
    caller_ip(record).filter(|ip| is_publicly_routable(*ip))
}

/// Reconnaissance-style API names: the calls GuardDuty files under `Recon:IAMUser/*`.
///
/// `List*` and `Describe*` (docs/decisions.md#findings). `Get*` calls are NOT reconnaissance here,
/// although they read like it: AWS's own GuardDuty tester raises
/// `UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom` with `iam get-user` and
/// `Recon:IAMUser/MaliciousIPCaller.Custom` with `s3 ls` (ListBuckets), and the labelled corpus
/// (`ip_threat_family`) follows the same split.
pub fn is_recon_api(event_name: &str) -> bool {
    event_name.starts_with("List") || event_name.starts_with("Describe")
}

fn caller_type(types: CallerTypes, record: &CloudTrailRecord<'_>) -> &'static str {
    if is_recon_api(record.event_name.as_str()) { types.recon } else { types.other }
}

/// `.Custom` types: the caller is on one of the detector's threat lists. One hit naming every
/// list that holds the IP (the first by name is `threatListName`).
pub(super) fn threat_list_caller(record: &CloudTrailRecord<'_>, ip: IpAddr, intel: &Intel<'_>) -> Option<Hit> {
    let lists: Vec<ThreatMatch> =
        intel.lists.threat_lists_with(ip).map(|l| ThreatMatch { list_name: l.name.clone(), file_sha256: l.file_sha256.clone() }).collect();
    let first = lists.first()?;
    let detail = format!("The caller's IP address {ip} is on the threat list {}.", first.list_name);
    Some(Hit {
        finding_type: caller_type(CUSTOM_THREAT_LIST_TYPES, record),
        detail: Some(detail),
        threats: lists,
        ..Hit::new("", ResourceKey::Caller)
    })
}

/// Non-`.Custom` types: the caller is on an operator feed. One hit per feed kind that holds the
/// IP (a malicious-IP feed and a Tor feed raise one finding each).
pub(super) fn feed_caller(record: &CloudTrailRecord<'_>, ip: IpAddr, intel: &Intel<'_>) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    for feed in &intel.operator.feeds {
        let Some(types) = feed.kind.cloudtrail else { continue };
        if !feed.list.set.contains(ip) {
            continue;
        }
        let finding_type = caller_type(types, record);
        let threat = ThreatMatch { list_name: feed.list.name.clone(), file_sha256: feed.list.file_sha256.clone() };
        match hits.iter_mut().find(|h| h.finding_type == finding_type) {
            Some(hit) => hit.threats.push(threat),
            None => hits.push(Hit {
                finding_type,
                detail: Some(format!("The caller's IP address {ip} is listed as one of the {}.", feed.kind.about)),
                threats: vec![threat],
                ..Hit::new("", ResourceKey::Caller)
            }),
        }
    }
    hits
}
