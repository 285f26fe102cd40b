//! VPC flow-log files as `vedette ingest` reads them (plain or gzip; the layout sniffed; header
//! lines, the default v2 order, CloudWatch Logs export prefixes), then flow detection on every
//! record with one [`FlowState`] carried across the file's lines, as the ingest workers run it.
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};

use vedette_domain::detect::intel::{ListNets, feed_kind};
use vedette_domain::detect::{DetectorLists, Feed, Intel, NamedSet, OperatorIntel};
use vedette_domain::finding_types::{self as ft, ActionKind, ResourceKind};
use vedette_domain::flow::detect::{FLOW_TYPES, port_name};
use vedette_domain::flow::heuristics::{self, HEURISTIC_TYPES};
use vedette_domain::flow::state::{MAX_PROBE_DETAILS, MAX_PROBE_FINDINGS};
use vedette_domain::flow::{
    self, FlowAction, FlowContext, FlowDirection, FlowField, FlowLine, FlowReader, FlowRecord, FlowState, LogStatus, ReadLine,
};
use vedette_domain::intel::{IpNet, IpSet, is_publicly_routable};
use vedette_domain::inventory::Inventory;
use vedette_domain::time::parse_iso_ms;
use vedette_domain::{Occurrence, Scope, aggregate, attributes, model};
use vedette_ingest::{FuzzItem, ReadEnd, read_items_for_fuzzing as read};

use crate::fixtures::{DETECTOR_ID, NOW_MS};

/// `data` is `<selector byte><flow-log file>`. Selector bits: 1 = an instance inventory is
/// loaded, 2 = a default Region (`--flow-region`) is set, 4 = also read the file gzipped (8: as
/// two members). Properties, besides not crashing:
/// * the state stays within its documented bounds (tables, entries, probe lists) and
///   serializes to JSON and back unchanged;
/// * stopping at a position, persisting the state (JSON), and resuming from the reported
///   position with the restored state gives exactly the records and findings of one read;
/// * gzip is transparent;
/// * every finding is well formed: a catalogue flow type on an `Instance` resource, the action
///   shape of its type (public, untrusted remote; ports named as `port_name` names them),
///   first seen ≤ last seen, and merging it into itself counts twice;
/// * oracle: a v2 line (and a header-declared shuffled layout, and a CloudWatch export line)
///   printed from fields drawn from the input parses back to those fields.
pub fn flow_log(data: &[u8]) {
    let Some((&selector, file)) = data.split_first() else { return };
    printed_lines_parse_back(file);
    let options = Options { inventory: selector & 1 != 0, default_region: selector & 2 != 0 };
    let whole = run(file, 0, FlowState::default(), options, None);
    check_state(&whole.state);
    aggregate_all(&whole.occurrences);
    check_resumed_and_gzipped(file, selector, &whole, |bytes, start, state, stop_at| run(bytes, start, state, options, stop_at), round_trip);
}

/// One read of a file: what was seen at each position, the findings, the state left.
pub(crate) struct Run<S> {
    pub(crate) seen: Vec<Seen>,
    /// Each occurrence's finding as JSON, in order.
    pub(crate) findings: Vec<String>,
    pub(crate) occurrences: Vec<Occurrence>,
    pub(crate) end: ReadEnd,
    pub(crate) state: S,
}

/// The properties every stateful log target shares, given its one-read function `run`:
/// * stopping at a position, persisting the state (`round_trip`), and resuming from the reported
///   position with the restored state gives exactly the records, findings, end and state of
///   `whole`;
/// * gzip (selector bit 4; bit 8: as two members) is transparent.
pub(crate) fn check_resumed_and_gzipped<S: Default + PartialEq + std::fmt::Debug>(
    file: &[u8],
    selector: u8,
    whole: &Run<S>,
    run: impl Fn(&[u8], u64, S, Option<u64>) -> Run<S>,
    round_trip: fn(&S) -> S,
) {
    let mut positions: Vec<u64> = whole.seen.iter().map(|s| s.0).collect();
    positions.dedup();
    if !positions.is_empty() && !whole.end.stopped {
        let stop_at = positions[file.len() % positions.len()];
        let first = run(file, 0, S::default(), Some(stop_at));
        assert!(first.end.stopped, "a stop at {stop_at} was not reported: {:?}", first.end);
        assert_eq!(first.end.position, stop_at - 1, "a stop leaves the position before the stopped one");
        let restored = round_trip(&first.state);
        let second = run(file, first.end.position, restored, None);
        let mut seen = first.seen;
        seen.extend(second.seen);
        assert_eq!(seen, whole.seen, "stopped at {stop_at} and resumed: not the records of one read");
        let mut findings = first.findings;
        findings.extend(second.findings);
        assert_eq!(findings, whole.findings, "stopped at {stop_at}, state persisted, resumed: other findings");
        assert_eq!(outcome(&second.end), outcome(&whole.end), "stopped at {stop_at} and resumed: another end");
        assert_eq!(second.state, whole.state, "stopped at {stop_at} and resumed: another state");
    }

    if selector & 4 != 0 && !file.starts_with(&[0x1f, 0x8b]) {
        let cut = if selector & 8 != 0 { file.len() / 3 } else { file.len() };
        let gz = gzip(&[&file[..cut], &file[cut..]]);
        let zipped = run(&gz, 0, S::default(), None);
        assert_eq!(zipped.seen, whole.seen, "gzipped: other records");
        assert_eq!(zipped.findings, whole.findings, "gzipped: other findings");
        assert_eq!(outcome(&zipped.end), outcome(&whole.end), "gzipped: another end");
    }
}

#[derive(Clone, Copy)]
struct Options {
    inventory: bool,
    default_region: bool,
}

/// What a read delivered at one position: a flow record (its Debug form) or anything else.
pub(crate) type Seen = (u64, Option<String>);

fn run(bytes: &[u8], start: u64, mut state: FlowState, options: Options, stop_at: Option<u64>) -> Run<FlowState> {
    let mut seen = Vec::new();
    let mut findings = Vec::new();
    let mut occurrences = Vec::new();
    let end = read(bytes, start, |position, item| {
        if Some(position) == stop_at {
            return false;
        }
        let FuzzItem::Flow(record) = item else {
            seen.push((position, None));
            return true;
        };
        seen.push((position, Some(format!("{record:?}"))));
        for occurrence in detect(record, position, options, &mut state) {
            check_finding(record, &occurrence);
            findings.push(serde_json::to_string(&occurrence.finding).expect("a finding serializes"));
            occurrences.push(occurrence);
        }
        true
    });
    Run { seen, findings, occurrences, end, state }
}

/// What `SourceState::take_flow` does: route by account and Region, detect with the detector's
/// lists, the operator's feeds and (optionally) the inventory.
fn detect(record: &FlowRecord<'_>, position: u64, options: Options, state: &mut FlowState) -> Vec<Occurrence> {
    let Some(account) = record.account_id else { return Vec::new() };
    let default_region = options.default_region.then_some("us-east-1");
    let Some(region) = record.region.or(default_region) else { return Vec::new() };
    let scope = Scope::new(account, region);
    let ctx = FlowContext {
        detector_id: DETECTOR_ID,
        scope: &scope,
        now_ms: NOW_MS,
        source: "fuzz",
        position,
        intel: intel(),
        inventory: options.inventory.then(inventory),
    };
    flow::detect(record, &ctx, state)
}

pub(crate) fn outcome(end: &ReadEnd) -> (u64, bool, bool, bool, bool) {
    (end.position, end.problem.is_some(), end.truncated, end.json_lines, end.empty)
}

/// Serialized as the ingester persists it, and read back.
fn round_trip(state: &FlowState) -> FlowState {
    let json = serde_json::to_string(state).expect("flow state serializes");
    let back: FlowState = serde_json::from_str(&json).expect("flow state deserializes");
    assert_eq!(&back, state, "flow state changed through JSON");
    back
}

/// The bounds `FlowState` and `HeuristicState` document: tables and each entry.
fn check_state(state: &FlowState) {
    assert!(state.probe_findings() <= MAX_PROBE_FINDINGS);
    assert!(state.heuristics.tracked() <= 4 * heuristics::MAX_TRACKED);
    let json = serde_json::to_value(round_trip(state)).expect("flow state serializes");
    let entries = |table: &str| json[table].as_object().cloned().unwrap_or_default();
    let each_len = |table: &str, list: &str, max: usize| {
        for (key, entry) in entries(table) {
            let n = entry[list].as_array().map(Vec::len).or(entry[list].as_object().map(|o| o.len())).unwrap_or(0);
            assert!(n <= max, "{table}[{key:?}].{list} holds {n} > {max}");
        }
    };
    each_len("probes", "details", MAX_PROBE_DETAILS);
    let heuristics_json = &json["heuristics"];
    let sub = |table: &str| heuristics_json[table].as_object().cloned().unwrap_or_default();
    let check = |table: &str, list: &str, max: usize| {
        for (key, entry) in sub(table) {
            let n = entry[list].as_array().map(Vec::len).or(entry[list].as_object().map(|o| o.len())).unwrap_or(0);
            assert!(n <= max, "heuristics.{table}[{key:?}].{list} holds {n} > {max}");
        }
    };
    check("attempts", "times", heuristics::BRUTE_FORCE_MIN_ATTEMPTS);
    check("scanned_ports", "items", heuristics::PORTSCAN_MIN_PORTS);
    check("swept_hosts", "items", heuristics::PORT_SWEEP_MIN_HOSTS);
    check("volume", "minutes", (heuristics::DOS_WINDOW_MS / 60_000) as usize);
}

/// The finding shape of flow types (docs/findings.md#vpc-flow-types, docs/logs.md#vpc-flow-logs).
fn check_finding(record: &FlowRecord<'_>, occurrence: &Occurrence) {
    let finding = &occurrence.finding;
    let name = finding.r#type.as_deref().expect("a type");
    assert!(FLOW_TYPES.contains(&name) || HEURISTIC_TYPES.contains(&name), "{name} is not a flow type");
    let ty = ft::lookup(name).expect("a catalogue type");
    assert_eq!(ty.resource, ResourceKind::Instance, "{name}");
    common_shape(finding, occurrence);
    let resource = finding.resource.as_ref().expect("a resource");
    assert_eq!(resource.resource_type.as_deref(), Some("Instance"));
    let instance = resource.instance_details.as_ref().expect("instanceDetails");
    // The log's instance id, unless the inventory knows the instance by another key.
    if let Some(id) = record.instance_id
        && instance.instance_type.is_none()
    {
        assert_eq!(instance.instance_id.as_deref(), Some(id), "{name}: not the record's instance");
    }
    let service = finding.service.as_ref().expect("a service");
    let action = service.action.as_ref().expect("an action");
    assert_eq!(action.action_type.as_deref(), Some(ty.action.as_str()), "{name}");
    assert!(action.aws_api_call_action.is_none() && action.dns_request_action.is_none());
    let blocked = Some(record.action == Some(FlowAction::Reject));
    match ty.action {
        ActionKind::NetworkConnection => {
            assert!(action.port_probe_action.is_none(), "{name}: two actions");
            let connection = action.network_connection_action.as_ref().expect("networkConnectionAction");
            assert_eq!(connection.blocked, blocked);
            assert!(matches!(connection.connection_direction.as_deref(), Some("INBOUND" | "OUTBOUND" | "UNKNOWN")));
            if let Some(p) = &connection.local_port_details {
                check_port(p.port, p.port_name.as_deref());
            }
            if let Some(p) = &connection.remote_port_details {
                check_port(p.port, p.port_name.as_deref());
            }
            assert_eq!(connection.protocol.is_some(), record.protocol.is_some());
            let local = connection.local_ip_details.as_ref().expect("localIpDetails");
            one_address(&local.ip_address_v4, &local.ip_address_v6);
            let remote = connection.remote_ip_details.as_ref().expect("remoteIpDetails");
            check_remote(one_address(&remote.ip_address_v4, &remote.ip_address_v6), record);
        }
        ActionKind::PortProbe => {
            assert!(action.network_connection_action.is_none(), "{name}: two actions");
            let probe = action.port_probe_action.as_ref().expect("portProbeAction");
            assert_eq!(probe.blocked, blocked);
            let details = probe.port_probe_details.as_ref().expect("portProbeDetails");
            assert!((1..=MAX_PROBE_DETAILS).contains(&details.len()), "{} probe details", details.len());
            for detail in details {
                if let Some(p) = &detail.local_port_details {
                    check_port(p.port, p.port_name.as_deref());
                }
                let remote = detail.remote_ip_details.as_ref().expect("remoteIpDetails");
                let ip = one_address(&remote.ip_address_v4, &remote.ip_address_v6);
                assert!(is_publicly_routable(ip), "probe from {ip}");
            }
        }
        other => panic!("{name}: flow detection raised a {other:?} finding"),
    }
}

fn check_port(port: Option<i32>, name: Option<&str>) {
    let port = u16::try_from(port.expect("a port")).expect("a port number");
    assert_eq!(name, Some(port_name(port)));
}

fn one_address(v4: &Option<String>, v6: &Option<String>) -> IpAddr {
    match (v4, v6) {
        (Some(a), None) => a.parse::<Ipv4Addr>().expect("an IPv4 address").into(),
        (None, Some(a)) => a.parse::<Ipv6Addr>().expect("an IPv6 address").into(),
        other => panic!("not exactly one address: {other:?}"),
    }
}

fn check_remote(ip: IpAddr, record: &FlowRecord<'_>) {
    assert!(is_publicly_routable(ip), "a finding about private remote {ip}");
    assert!(!intel().trusts(ip), "a finding about trusted remote {ip}");
    assert!(record.srcaddr == Some(ip) || record.dstaddr == Some(ip), "remote {ip} is not a side of the record");
}

/// What every finding carries, whatever its source.
pub(crate) fn common_shape(finding: &model::Finding, occurrence: &Occurrence) {
    let name = finding.r#type.as_deref().unwrap_or_default();
    assert!(ft::lookup(name).is_some(), "{name} is not in the catalogue");
    let id = finding.id.as_deref().expect("an id");
    assert!(finding.arn.as_deref().is_some_and(|arn| arn.ends_with(&format!("/finding/{id}"))), "{:?}", finding.arn);
    let severity = finding.severity.expect("a severity");
    assert!(severity.is_finite() && (ft::LOW..=ft::HIGH).contains(&severity), "severity {severity}");
    let service = finding.service.as_ref().expect("a service");
    assert_eq!(service.count, Some(1));
    assert_eq!(service.detector_id.as_deref(), Some(DETECTOR_ID));
    let role = service.resource_role.as_deref();
    assert!(matches!(role, Some("ACTOR" | "TARGET")), "{role:?}");
    let seen = |s: &Option<String>| s.as_deref().and_then(parse_iso_ms).expect("an ISO-8601 time");
    let (first, last) = (seen(&service.event_first_seen), seen(&service.event_last_seen));
    // Not necessarily the record's own time: a heuristic's finding spans its window.
    assert!(first <= last, "{name}: first seen {first} after last seen {last}");
    assert!(first <= occurrence.event_time_ms, "{name}: first seen {first} after the event {}", occurrence.event_time_ms);
}

/// The writer's and the store's part: occurrences pre-merged by id, evidence written, merged
/// into a stored copy (counting twice), indexed by attribute, serialized.
pub(crate) fn aggregate_all(occurrences: &[Occurrence]) {
    let mut merged: HashMap<String, Occurrence> = HashMap::new();
    for occurrence in occurrences {
        match merged.get_mut(occurrence.finding_id()) {
            Some(existing) => aggregate::merge_occurrence_deferred(existing, occurrence, NOW_MS),
            None => {
                merged.insert(occurrence.finding_id().to_owned(), occurrence.clone());
            }
        }
    }
    for (_, mut occurrence) in merged {
        occurrence.sync_evidence();
        let mut stored = occurrence.finding.clone();
        aggregate::merge(&mut stored, &occurrence, NOW_MS + 1);
        let count = |f: &model::Finding| f.service.as_ref().and_then(|s| s.count).unwrap_or(1).max(1);
        assert_eq!(count(&stored), count(&occurrence.finding).saturating_mul(2), "a finding merged with itself counts twice");
        attributes::extract_all(&stored);
        serde_json::to_vec(&stored).expect("a finding serializes");
    }
}

pub(crate) fn gzip(members: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for member in members {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(member).expect("writing to memory");
        out.extend(encoder.finish().expect("writing to memory"));
    }
    out
}

/// Feeds of every kind flow detection uses, threat lists and a trusted list over broad public
/// ranges, so fuzzed addresses reach every rule.
fn intel() -> Intel<'static> {
    static OPERATOR: OnceLock<OperatorIntel> = OnceLock::new();
    static LISTS: OnceLock<DetectorLists> = OnceLock::new();
    let nets = |nets: &[&str]| nets.iter().map(|n| n.parse::<IpNet>().expect("fixture networks parse")).collect::<Vec<_>>();
    let named = |name: &str, list: &[&str]| NamedSet { name: name.into(), file_sha256: "0".repeat(64), set: Arc::new(IpSet::from_nets(nets(list))) };
    let feed = |kind: &str, list: &[&str]| Feed { kind: feed_kind(kind).expect("a feed kind"), list: named(kind, list) };
    let operator = OPERATOR.get_or_init(|| OperatorIntel {
        feeds: vec![
            feed("scanner", &["92.0.0.0/8", "185.220.0.0/16", "2a0b::/16"]),
            feed("c2", &["64.0.0.0/4"]),
            feed("bitcoin", &["80.0.0.0/5"]),
            feed("blackhole", &["88.0.0.0/6"]),
            feed("droppoint", &["96.0.0.0/4"]),
            feed("tor-relay", &["185.0.0.0/8", "2a0b:f4c0::/32"]),
        ],
        aws_ranges: None,
        geo: None,
    });
    let lists = LISTS.get_or_init(|| {
        DetectorLists::build(
            nets(&["198.51.100.7/32", "52.0.0.0/8"]),
            vec![
                ListNets { name: "customer-a".into(), file_sha256: "a".repeat(64), nets: nets(&["128.0.0.0/2"]) },
                ListNets { name: "customer-b".into(), file_sha256: "b".repeat(64), nets: nets(&["1.0.0.0/8", "2600::/12"]) },
            ],
        )
    });
    Intel { operator, lists }
}

/// The flow tests' inventory: two instances (one an EMR node), with private, public and IPv6
/// addresses.
pub(crate) fn inventory() -> &'static Inventory {
    static INVENTORY: OnceLock<Inventory> = OnceLock::new();
    INVENTORY.get_or_init(|| {
        Inventory::from_json(include_str!("../../domain/tests/data/flow/describe_instances.json")).expect("the test inventory parses")
    })
}

/// Oracle: fields drawn from `bytes`, printed as a default-order v2 line, a header plus a line in
/// a shuffled order of every field, and a CloudWatch export line, parse back to those fields.
fn printed_lines_parse_back(bytes: &[u8]) {
    let mut draw = Draw(bytes);
    let (record, tokens) = drawn_record(&mut draw);
    let record = with_strings(record, &tokens);
    let expected = match record.log_status {
        Some(status @ (LogStatus::NoData | LogStatus::SkipData)) => FlowLine::Skipped(status),
        _ => FlowLine::Record(record.clone()),
    };
    let v2: Vec<&str> = flow::record::DEFAULT_V2_FIELDS.iter().map(|f| tokens[index(*f)].as_str()).collect();
    let line = v2.join(" ");
    let expected_v2_line = match record.log_status {
        Some(status @ (LogStatus::NoData | LogStatus::SkipData)) => FlowLine::Skipped(status),
        _ => FlowLine::Record(expected_v2(&record)),
    };
    let parsed = FlowReader::default().read(&line);
    assert_eq!(parsed, Ok(ReadLine::Line(expected_v2_line.clone())), "v2 line {line:?}");
    let exported = format!("2024-03-01T10:20:30.000Z {line}");
    assert_eq!(FlowReader::default().read(&exported), Ok(ReadLine::Line(expected_v2_line)), "{exported:?}");

    // Every field, in an order drawn from the input.
    let mut order: Vec<FlowField> = ALL_FIELDS.to_vec();
    for i in (1..order.len()).rev() {
        let j = usize::from(draw.byte()) % (i + 1);
        order.swap(i, j);
    }
    let header: Vec<&str> = order.iter().map(|f| f.name()).collect();
    let values: Vec<&str> = order.iter().map(|f| tokens[index(*f)].as_str()).collect();
    let mut reader = FlowReader::default();
    let header = if draw.byte() & 1 == 0 { header.join(" ") } else { header.iter().map(|h| format!("${{{h}}}")).collect::<Vec<_>>().join(" ") };
    assert_eq!(reader.read(&header), Ok(ReadLine::Header), "{header:?}");
    assert_eq!(reader.layout().version(), 5);
    let line = values.join(" ");
    assert_eq!(reader.read(&line), Ok(ReadLine::Line(expected.clone())), "{header:?} / {line:?}");

    // The same as a file (S3 delivery: header first), and the v2 line as a CloudWatch export:
    // the reader sniffs a flow log and delivers the record at its line (a NODATA/SKIPDATA line:
    // nothing; alone in an export it is not even taken for a flow log).
    let record_at = |file: &str, line_number: u64, expected: &FlowLine<'_>| {
        let mut delivered = Vec::new();
        let end = read(file.as_bytes(), 0, |position, item| {
            let FuzzItem::Flow(record) = item else { panic!("{file:?}: position {position} is not a flow record") };
            let FlowLine::Record(expected) = expected else { panic!("{file:?}: a skipped line delivered") };
            assert_eq!(record, expected, "{file:?}");
            delivered.push(position);
            true
        });
        let wanted: &[u64] = if matches!(expected, FlowLine::Record(_)) { &[line_number] } else { &[] };
        assert_eq!(delivered, wanted, "{file:?}: {end:?}");
    };
    record_at(&format!("{header}\n{line}\n"), 2, &expected);
    let v2_expected = match record.log_status {
        Some(status @ (LogStatus::NoData | LogStatus::SkipData)) => FlowLine::Skipped(status),
        _ => FlowLine::Record(expected_v2(&record)),
    };
    record_at(&format!("{exported}\r\n"), 1, &v2_expected);
}

/// The v2 fields of a record (the others absent).
fn expected_v2<'a>(r: &FlowRecord<'a>) -> FlowRecord<'a> {
    FlowRecord {
        version: r.version,
        account_id: r.account_id,
        interface_id: r.interface_id,
        srcaddr: r.srcaddr,
        dstaddr: r.dstaddr,
        srcport: r.srcport,
        dstport: r.dstport,
        protocol: r.protocol,
        packets: r.packets,
        bytes: r.bytes,
        start: r.start,
        end: r.end,
        action: r.action,
        log_status: r.log_status,
        ..Default::default()
    }
}

const ALL_FIELDS: [FlowField; 29] = [
    FlowField::Version,
    FlowField::AccountId,
    FlowField::InterfaceId,
    FlowField::SrcAddr,
    FlowField::DstAddr,
    FlowField::SrcPort,
    FlowField::DstPort,
    FlowField::Protocol,
    FlowField::Packets,
    FlowField::Bytes,
    FlowField::Start,
    FlowField::End,
    FlowField::Action,
    FlowField::LogStatus,
    FlowField::VpcId,
    FlowField::SubnetId,
    FlowField::InstanceId,
    FlowField::TcpFlags,
    FlowField::Type,
    FlowField::PktSrcAddr,
    FlowField::PktDstAddr,
    FlowField::Region,
    FlowField::AzId,
    FlowField::SublocationType,
    FlowField::SublocationId,
    FlowField::PktSrcAwsService,
    FlowField::PktDstAwsService,
    FlowField::FlowDirection,
    FlowField::TrafficPath,
];

fn index(field: FlowField) -> usize {
    ALL_FIELDS.iter().position(|f| *f == field).expect("every field is listed")
}

/// Bytes drawn one at a time from the input (zeros past its end).
struct Draw<'a>(&'a [u8]);

impl Draw<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |n, _| n << 8 | u64::from(self.byte()))
    }
    /// `Some` three times in four.
    fn present(&mut self) -> bool {
        self.byte() & 3 != 0
    }
    /// A token as AWS writes these fields: a prefix, then a digit and letters/digits (never a
    /// field name, which has no digit, nor `-`).
    fn token(&mut self, prefix: &str) -> String {
        const CHARS: &[u8] = b"0123456789abcdefABCDEFxyz";
        let len = usize::from(self.byte() % 12);
        let mut s = format!("{prefix}{}", self.byte() % 10);
        for _ in 0..len {
            s.push(char::from(CHARS[usize::from(self.byte()) % CHARS.len()]));
        }
        s
    }
    fn ip(&mut self) -> IpAddr {
        if self.byte() & 1 == 0 {
            IpAddr::from(Ipv4Addr::from(self.u64() as u32))
        } else {
            IpAddr::from(Ipv6Addr::from(u128::from(self.u64()) << 64 | u128::from(self.u64())))
        }
    }
}

/// A record of every field drawn from the input (text fields still absent: see
/// [`with_strings`]), and each field's token (`-` when absent).
fn drawn_record(draw: &mut Draw<'_>) -> (FlowRecord<'static>, Vec<String>) {
    let mut record = FlowRecord::default();
    let mut tokens = vec!["-".to_owned(); ALL_FIELDS.len()];
    for field in ALL_FIELDS {
        if !draw.present() {
            continue;
        }
        let token = match field {
            FlowField::Version => set(&mut record.version, draw.byte()),
            FlowField::AccountId => draw.token("1"),
            FlowField::InterfaceId => draw.token("eni-"),
            FlowField::SrcAddr => set(&mut record.srcaddr, draw.ip()),
            FlowField::DstAddr => set(&mut record.dstaddr, draw.ip()),
            FlowField::SrcPort => set(&mut record.srcport, draw.u64() as u16),
            FlowField::DstPort => set(&mut record.dstport, draw.u64() as u16),
            FlowField::Protocol => set(&mut record.protocol, draw.byte()),
            FlowField::Packets => set(&mut record.packets, draw.u64()),
            FlowField::Bytes => set(&mut record.bytes, draw.u64()),
            FlowField::Start => set(&mut record.start, draw.u64() as i64),
            FlowField::End => set(&mut record.end, draw.u64() as i64),
            FlowField::Action => {
                let (value, token) = if draw.byte() & 1 == 0 { (FlowAction::Accept, "ACCEPT") } else { (FlowAction::Reject, "REJECT") };
                record.action = Some(value);
                token.to_owned()
            }
            FlowField::LogStatus => {
                let (value, token) = match draw.byte() % 4 {
                    0 => (LogStatus::NoData, "NODATA"),
                    1 => (LogStatus::SkipData, "SKIPDATA"),
                    _ => (LogStatus::Ok, "OK"),
                };
                record.log_status = Some(value);
                token.to_owned()
            }
            FlowField::VpcId => draw.token("vpc-"),
            FlowField::SubnetId => draw.token("subnet-"),
            FlowField::InstanceId => draw.token("i-"),
            FlowField::TcpFlags => set(&mut record.tcp_flags, draw.u64() as u16),
            FlowField::Type => draw.token("IPv"),
            FlowField::PktSrcAddr => set(&mut record.pkt_srcaddr, draw.ip()),
            FlowField::PktDstAddr => set(&mut record.pkt_dstaddr, draw.ip()),
            FlowField::Region => draw.token("us-east-"),
            FlowField::AzId => draw.token("use1-az"),
            FlowField::SublocationType => draw.token("wavelength"),
            FlowField::SublocationId => draw.token("op-"),
            FlowField::PktSrcAwsService => draw.token("S"),
            FlowField::PktDstAwsService => draw.token("EC"),
            FlowField::FlowDirection => {
                let (value, token) = if draw.byte() & 1 == 0 { (FlowDirection::Ingress, "ingress") } else { (FlowDirection::Egress, "egress") };
                record.flow_direction = Some(value);
                token.to_owned()
            }
            FlowField::TrafficPath => set(&mut record.traffic_path, draw.byte()),
        };
        tokens[index(field)] = token;
    }
    (record, tokens)
}

fn set<T: ToString>(slot: &mut Option<T>, value: T) -> String {
    let token = value.to_string();
    *slot = Some(value);
    token
}

/// `record` with its text fields borrowed from their tokens.
fn with_strings<'t>(record: FlowRecord<'static>, tokens: &'t [String]) -> FlowRecord<'t> {
    let text = |field: FlowField| Some(tokens[index(field)].as_str()).filter(|t| *t != "-");
    FlowRecord {
        account_id: text(FlowField::AccountId),
        interface_id: text(FlowField::InterfaceId),
        vpc_id: text(FlowField::VpcId),
        subnet_id: text(FlowField::SubnetId),
        instance_id: text(FlowField::InstanceId),
        traffic_type: text(FlowField::Type),
        region: text(FlowField::Region),
        az_id: text(FlowField::AzId),
        sublocation_type: text(FlowField::SublocationType),
        sublocation_id: text(FlowField::SublocationId),
        pkt_src_aws_service: text(FlowField::PktSrcAwsService),
        pkt_dst_aws_service: text(FlowField::PktDstAwsService),
        ..record
    }
}
