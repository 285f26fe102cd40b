//! Flow-log detection: one record in, finding occurrences out (docs/findings.md#vpc-flow-types, docs/threat-lists.md, docs/logs.md#vpc-flow-logs).
//!
//! Which side of a record is the instance ("local") and which the remote host: `flow-direction`
//! (v5) when present, else the inventory's addresses for the instance, else the one side that is
//! not publicly routable. Who opened the connection (`connectionDirection`): the TCP flags when
//! they say (a lone SYN from the opener, SYN-ACK from the answerer), else the well-known port
//! (the side on a named port or a port below 1024 facing an ephemeral one is the server), else
//! the packets' direction ([`super::connection`]). Records whose remote side is not publicly
//! routable raise nothing; nor does any record whose remote IP is on the detector's trusted list.
//!
//! Connection findings count connections: a threat-list or feed match raises one occurrence per
//! connection (its first record seen, either direction), a port probe one per connection the
//! scanner opens; the heuristics count the attempts [`super::connection`] recognises.
use std::net::IpAddr;

use crate::detect::{Intel, ThreatMatch, remote_ip_details};
use crate::envelope::{FindingEnvelope, RecordedInterface, aggregation_key, recorded_instance};
use crate::finding_types::{self as ft, ResourceRole};
use crate::intel::is_publicly_routable;
use crate::inventory::Inventory;
use crate::{Occurrence, Scope, model};

use super::connection::flags_tell;
pub use super::connection::{ConnectionDirection, Sides, port_name, sides};
use super::heuristics::HeuristicState;
pub use super::hit::FlowHit;
use super::record::{FlowAction, FlowDirection, FlowRecord};
use super::state::FlowState;

// Flow finding types (catalogue names; the catalogue test checks each exists).
pub const MALICIOUS_IP_CALLER_CUSTOM: &str = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom";
pub const CC_ACTIVITY_B: &str = "Backdoor:EC2/C&CActivity.B";
pub const BITCOIN_TOOL_B: &str = "CryptoCurrency:EC2/BitcoinTool.B";
pub const BLACKHOLE_TRAFFIC: &str = "Trojan:EC2/BlackholeTraffic";
pub const DROP_POINT: &str = "Trojan:EC2/DropPoint";
pub const TOR_CLIENT: &str = "UnauthorizedAccess:EC2/TorClient";
pub const TOR_RELAY: &str = "UnauthorizedAccess:EC2/TorRelay";
pub const PORT_PROBE_UNPROTECTED_PORT: &str = "Recon:EC2/PortProbeUnprotectedPort";
pub const PORT_PROBE_EMR_UNPROTECTED_PORT: &str = "Recon:EC2/PortProbeEMRUnprotectedPort";

/// Every type flow detection raises.
pub const FLOW_TYPES: &[&str] = &[
    MALICIOUS_IP_CALLER_CUSTOM,
    CC_ACTIVITY_B,
    BITCOIN_TOOL_B,
    BLACKHOLE_TRAFFIC,
    DROP_POINT,
    TOR_CLIENT,
    TOR_RELAY,
    PORT_PROBE_UNPROTECTED_PORT,
    PORT_PROBE_EMR_UNPROTECTED_PORT,
];

/// Rule ids recorded in evidence.
pub const RULE_THREAT_LIST: &str = "flow-threat-list";
pub const RULE_FEED: &str = "flow-feed";
pub const RULE_PORT_PROBE: &str = "flow-port-probe";

/// What flow detection does with a feed kind's IPs (`--feed KIND=PATH`, rows of
/// [`crate::detect::FEED_KINDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedUse {
    /// Traffic the instance opens (or of unknown direction) to a listed IP raises this type.
    Outbound(&'static str),
    /// Tor relays: the instance connecting out to one is a Tor client; a relay connecting in
    /// (accepted) means the instance is itself a relay (only relays take connections from relays).
    TorRelays,
    /// Known scanners: their accepted inbound connections are port probes.
    Scanners,
}

/// Feed kind name → its use in flow detection.
pub const FLOW_FEED_USES: &[(&str, FeedUse)] = &[
    ("c2", FeedUse::Outbound(CC_ACTIVITY_B)),
    ("bitcoin", FeedUse::Outbound(BITCOIN_TOOL_B)),
    ("blackhole", FeedUse::Outbound(BLACKHOLE_TRAFFIC)),
    ("droppoint", FeedUse::Outbound(DROP_POINT)),
    ("tor-relay", FeedUse::TorRelays),
    ("scanner", FeedUse::Scanners),
];

pub fn feed_use(kind: &str) -> Option<FeedUse> {
    FLOW_FEED_USES.iter().find(|(k, _)| *k == kind).map(|(_, u)| *u)
}

/// Ports whose probing makes `PortProbeUnprotectedPort` High (Elasticsearch, docs/findings.md#vpc-flow-types).
pub const HIGH_SEVERITY_PROBE_PORTS: &[u16] = &[9200, 9300];

/// EMR web UIs and services that must not face the internet: a probe of one on an EMR node is
/// `PortProbeEMRUnprotectedPort`. YARN ResourceManager 8088, Hue 8888, Zeppelin 8890, Livy 8998,
/// HDFS NameNode UI 9870 / 50070, HBase Master UI 16010, Spark History Server 18080, Spark UI
/// proxy 20888.
pub const EMR_SENSITIVE_PORTS: &[u16] = &[8088, 8888, 8890, 8998, 9870, 16010, 18080, 20888, 50070];

/// The tag EMR puts on every cluster node.
pub const EMR_NODE_TAG: &str = "aws:elasticmapreduce:job-flow-id";

fn protocol_name(protocol: u8) -> String {
    match protocol {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        58 => "ICMPV6".into(),
        other => other.to_string(),
    }
}

/// What flow detection needs besides the record.
#[derive(Debug, Clone, Copy)]
pub struct FlowContext<'c> {
    /// The enabled detector the record is routed to, and its account and Region.
    pub detector_id: &'c str,
    pub scope: &'c Scope,
    /// Wall-clock time: `createdAt` / `updatedAt` of new findings.
    pub now_ms: i64,
    /// Evidence source: `"{source}:{position}"`.
    pub source: &'c str,
    pub position: u64,
    pub intel: Intel<'c>,
    /// The operator's instances, when supplied.
    pub inventory: Option<&'c Inventory>,
}

/// The instance a record is about, from the inventory.
pub fn instance_of<'i>(record: &FlowRecord<'_>, inventory: Option<&'i Inventory>) -> Option<&'i model::InstanceDetails> {
    let inventory = inventory?;
    let local_guess = match record.flow_direction {
        Some(FlowDirection::Ingress) => record.dstaddr,
        Some(FlowDirection::Egress) => record.srcaddr,
        None => [record.srcaddr, record.dstaddr].into_iter().flatten().find(|ip| !is_publicly_routable(*ip)),
    };
    inventory.find(record.instance_id, record.interface_id, local_guess)
}

/// Runs every flow rule on `record`; `state` carries what the stateful rules remember.
pub fn detect(record: &FlowRecord<'_>, ctx: &FlowContext<'_>, state: &mut FlowState) -> Vec<Occurrence> {
    let instance = instance_of(record, ctx.inventory);
    let Some(sides) = sides(record, instance) else {
        return Vec::new();
    };
    if !is_publicly_routable(sides.remote_ip) || ctx.intel.trusts(sides.remote_ip) {
        return Vec::new();
    }
    let Some(time_ms) = record.event_time_ms() else {
        return Vec::new();
    };
    let resource_key = resource_key(record, instance, &sides);
    let mut hits = intel_hits(record, &sides, &ctx.intel);
    let probe = probe_hit(record, &sides, ctx, instance);
    // Connection findings count connections: the table is consulted for records a rule counts
    // that way and whose flags do not already tell.
    let track = !hits.is_empty() || probe.is_some() || (!flags_tell(record) && HeuristicState::counts_connections(record, &sides));
    let connection = state.connections.classify(record, &sides, &resource_key, track);
    if !connection.first_seen {
        hits.clear();
    }
    if let Some(probe) = probe.filter(|_| connection.opens) {
        let list = state.record_probe(&resource_key, probe.finding_type, time_ms, probe_detail(&sides, ctx));
        hits.push(FlowHit { probes: Some(list), ..probe });
    }
    hits.extend(state.heuristics.hits(record, &sides, connection, &resource_key, time_ms));
    hits.into_iter()
        .filter_map(|hit| {
            let window = hit.window_ms;
            let texts = (hit.title, hit.description, hit.detail.clone());
            let mut occurrence = build_occurrence(record, ctx, instance, &sides, &resource_key, hit)?;
            if let (Some(title), Some(description), detail) = texts {
                occurrence.finding.title = Some(title.to_owned());
                occurrence.finding.description = Some(match detail {
                    Some(detail) => format!("{description} {detail}"),
                    None => description.to_owned(),
                });
            }
            if let Some((first, last)) = window
                && let Some(service) = occurrence.finding.service.as_mut()
            {
                service.event_first_seen = Some(crate::time::iso_ms(first));
                service.event_last_seen = Some(crate::time::iso_ms(last));
            }
            Some(occurrence)
        })
        .collect()
}

/// Threat-list and feed matches of the remote IP.
pub fn intel_hits(record: &FlowRecord<'_>, sides: &Sides, intel: &Intel<'_>) -> Vec<FlowHit> {
    let ip = sides.remote_ip;
    let mut hits = Vec::new();
    let lists: Vec<ThreatMatch> =
        intel.lists.threat_lists_with(ip).map(|l| ThreatMatch { list_name: l.name.clone(), file_sha256: l.file_sha256.clone() }).collect();
    if let Some(first) = lists.first() {
        let mut hit = FlowHit::new(MALICIOUS_IP_CALLER_CUSTOM, RULE_THREAT_LIST);
        // Decision: traffic a listed host opens toward the instance makes the instance the target.
        if sides.direction == ConnectionDirection::Inbound {
            hit.role = ResourceRole::Target;
        }
        hit.detail = Some(format!("The remote IP address {ip} is on the threat list {}.", first.list_name));
        hit.threats = lists;
        hits.push(hit);
    }
    let accepted = record.action != Some(FlowAction::Reject);
    for feed in &intel.operator.feeds {
        let Some(usage) = feed_use(feed.kind.name) else {
            continue;
        };
        let finding_type = match (usage, sides.direction) {
            (FeedUse::Outbound(ty), ConnectionDirection::Outbound | ConnectionDirection::Unknown) => ty,
            (FeedUse::TorRelays, ConnectionDirection::Outbound | ConnectionDirection::Unknown) => TOR_CLIENT,
            (FeedUse::TorRelays, ConnectionDirection::Inbound) if accepted => TOR_RELAY,
            _ => continue,
        };
        if !feed.list.set.contains(ip) {
            continue;
        }
        let threat = ThreatMatch { list_name: feed.list.name.clone(), file_sha256: feed.list.file_sha256.clone() };
        match hits.iter_mut().find(|h| h.finding_type == finding_type) {
            Some(hit) => hit.threats.push(threat),
            None => {
                let mut hit = FlowHit::new(finding_type, RULE_FEED);
                hit.detail = Some(format!("The remote IP address {ip} is listed as one of the {}.", feed.kind.about));
                hit.threats.push(threat);
                hits.push(hit);
            }
        }
    }
    hits
}

/// A port probe: an accepted inbound connection from a listed scanner (before the probe list).
fn probe_hit(record: &FlowRecord<'_>, sides: &Sides, ctx: &FlowContext<'_>, instance: Option<&model::InstanceDetails>) -> Option<FlowHit> {
    // The scanner's own packets (not the instance's answers, which would count each probe twice).
    if sides.direction != ConnectionDirection::Inbound || !sides.packets_inbound || record.action != Some(FlowAction::Accept) {
        return None;
    }
    let scanner =
        ctx.intel.operator.feeds.iter().find(|f| feed_use(f.kind.name) == Some(FeedUse::Scanners) && f.list.set.contains(sides.remote_ip))?;
    let port = sides.local_port?;
    let emr_node = instance.is_some_and(|i| i.tags.iter().flatten().any(|t| t.key.as_deref() == Some(EMR_NODE_TAG)));
    let finding_type = if emr_node && EMR_SENSITIVE_PORTS.contains(&port) { PORT_PROBE_EMR_UNPROTECTED_PORT } else { PORT_PROBE_UNPROTECTED_PORT };
    let mut hit = FlowHit::new(finding_type, RULE_PORT_PROBE);
    hit.detail = Some(format!("Port {port} is open to the internet and was probed by {}.", sides.remote_ip));
    hit.threats.push(ThreatMatch { list_name: scanner.list.name.clone(), file_sha256: scanner.list.file_sha256.clone() });
    Some(hit)
}

fn probe_detail(sides: &Sides, ctx: &FlowContext<'_>) -> model::PortProbeDetail {
    model::PortProbeDetail {
        local_port_details: sides.local_port.map(|p| model::LocalPortDetails { port: Some(p.into()), port_name: Some(port_name(p).into()) }),
        local_ip_details: Some(local_ip_details(sides.local_ip)),
        remote_ip_details: Some(remote_ip_details(sides.remote_ip, &ctx.intel)),
    }
}

fn local_ip_details(ip: IpAddr) -> model::LocalIpDetails {
    model::LocalIpDetails { ip_address_v4: ip.is_ipv4().then(|| ip.to_string()), ip_address_v6: ip.is_ipv6().then(|| ip.to_string()) }
}

/// The resource part of the aggregation key (docs/findings.md#aggregation): the instance id (from the inventory or
/// the v3 `instance-id`), else the ENI, else the local address.
pub fn resource_key(record: &FlowRecord<'_>, instance: Option<&model::InstanceDetails>, sides: &Sides) -> String {
    if let Some(id) = instance.and_then(|i| i.instance_id.as_deref()).or(record.instance_id) {
        format!("Instance:{id}")
    } else if let Some(eni) = record.interface_id {
        format!("ENI:{eni}")
    } else {
        format!("IP:{}", sides.local_ip)
    }
}

/// `instanceDetails`: the inventory's entry, else only what the record carries.
fn instance_details(record: &FlowRecord<'_>, instance: Option<&model::InstanceDetails>, sides: &Sides) -> model::InstanceDetails {
    if let Some(known) = instance {
        return known.clone();
    }
    let interface = RecordedInterface {
        network_interface_id: record.interface_id,
        vpc_id: record.vpc_id,
        subnet_id: record.subnet_id,
        address: Some(sides.local_ip),
    };
    recorded_instance(record.instance_id, interface)
}

/// A stable id for the record in evidence (flow logs have no event ids).
fn event_id(record: &FlowRecord<'_>) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    format!(
        "{}/{}:{}>{}:{}/{}@{}",
        record.interface_id.unwrap_or("-"),
        opt(record.srcaddr.map(|a| a.to_string())),
        opt(record.srcport.map(|p| p.to_string())),
        opt(record.dstaddr.map(|a| a.to_string())),
        opt(record.dstport.map(|p| p.to_string())),
        opt(record.protocol.map(|p| p.to_string())),
        opt(record.start.map(|s| s.to_string())),
    )
}

fn build_occurrence(
    record: &FlowRecord<'_>,
    ctx: &FlowContext<'_>,
    instance: Option<&model::InstanceDetails>,
    sides: &Sides,
    resource_key: &str,
    hit: FlowHit,
) -> Option<Occurrence> {
    let ty = ft::lookup(hit.finding_type)?;
    let event_time_ms = record.event_time_ms()?;
    let first_ms = record.start_ms().unwrap_or(event_time_ms).min(event_time_ms);
    let blocked = Some(record.action == Some(FlowAction::Reject));

    let mut action = model::Action::default();
    let severity = match &hit.probes {
        Some(probes) => {
            let high = probes.iter().any(|p| {
                p.local_port_details
                    .as_ref()
                    .and_then(|l| l.port)
                    .is_some_and(|port| u16::try_from(port).is_ok_and(|port| HIGH_SEVERITY_PROBE_PORTS.contains(&port)))
            });
            action.port_probe_action = Some(model::PortProbeAction { blocked, port_probe_details: Some(probes.clone()) });
            (high && ty.name == PORT_PROBE_UNPROTECTED_PORT).then_some(ft::HIGH)
        }
        None => {
            action.network_connection_action = Some(model::NetworkConnectionAction {
                blocked,
                connection_direction: Some(sides.direction.as_str().to_owned()),
                local_port_details: sides.local_port.map(|p| model::LocalPortDetails { port: Some(p.into()), port_name: Some(port_name(p).into()) }),
                remote_port_details: sides
                    .remote_port
                    .map(|p| model::RemotePortDetails { port: Some(p.into()), port_name: Some(port_name(p).into()) }),
                protocol: record.protocol.map(protocol_name),
                local_ip_details: Some(local_ip_details(sides.local_ip)),
                local_network_interface: record.interface_id.map(str::to_owned),
                remote_ip_details: Some(remote_ip_details(sides.remote_ip, &ctx.intel)),
            });
            None
        }
    };

    let mut info = serde_json::Map::new();
    let (bytes_key, packets_key) = if sides.packets_inbound { ("inBytes", "inPackets") } else { ("outBytes", "outPackets") };
    if let Some(bytes) = record.bytes {
        info.insert(bytes_key.into(), bytes.into());
    }
    if let Some(packets) = record.packets {
        info.insert(packets_key.into(), packets.into());
    }
    let resource = model::Resource { instance_details: Some(instance_details(record, instance, sides)), ..Default::default() };

    let envelope = FindingEnvelope {
        detector_id: ctx.detector_id,
        scope: ctx.scope,
        now_ms: ctx.now_ms,
        finding_type: ty,
        role: hit.role,
        aggregation_key: &aggregation_key(ty, hit.role, resource_key),
        severity: hit.severity.or(severity),
        detail: hit.detail.as_deref(),
        threats: &hit.threats,
        first_seen_ms: first_ms,
        event_time_ms,
        rule: hit.rule,
        event_id: &event_id(record),
        source: ctx.source,
        position: ctx.position,
    };
    Some(envelope.occurrence(resource, action, info))
}
