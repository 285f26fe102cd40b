//! Flow-log detection (docs/findings.md#vpc-flow-types, docs/threat-lists.md, docs/logs.md#vpc-flow-logs): threat lists,
//! operator feeds, port probes, the instance inventory, trusted-list suppression and the finding shapes.
use std::net::IpAddr;

use serde_json::Value;
use vedette_domain::aggregate;
use vedette_domain::detect::{DetectorLists, FEED_KINDS, Feed, Intel, ListNets, NamedSet, OperatorIntel};
use vedette_domain::flow::detect::{self as fd, FLOW_TYPES};
use vedette_domain::flow::{self, FlowContext, FlowLine, FlowReader, FlowState, ReadLine};
use vedette_domain::intel::{IpNet, IpSet};
use vedette_domain::inventory::Inventory;
use vedette_domain::{Evidence, Occurrence, Scope, finding_types as ft, model};

const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";
/// Public addresses (documentation ranges are not publicly routable, so lists ignore them).
const BAD_IP: &str = "185.220.101.50";
const OTHER_IP: &str = "45.95.147.10";
const CLEAN_IP: &str = "81.2.69.142";
const WEB_ENI: &str = "eni-0aaaaaaaaaaaaaaa1";
const EMR_ENI: &str = "eni-0bbbbbbbbbbbbbbb2";

fn inventory() -> Inventory {
    let json = std::fs::read_to_string(format!("{}/tests/data/flow/describe_instances.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Inventory::from_json(&json).unwrap()
}

fn set(entries: &[&str]) -> IpSet {
    IpSet::from_nets(entries.iter().map(|e| e.parse::<IpNet>().unwrap()))
}

fn feed(kind: &str, entries: &[&str]) -> Feed {
    Feed {
        kind: FEED_KINDS.iter().find(|k| k.name == kind).unwrap_or_else(|| panic!("feed kind {kind}")),
        list: NamedSet { name: format!("{kind}-feed"), file_sha256: format!("{:0>64}", kind.len()), set: set(entries).into() },
    }
}

fn operator(feeds: Vec<Feed>) -> OperatorIntel {
    OperatorIntel { feeds, ..Default::default() }
}

fn lists(trusted: &[&str], threat: &[(&str, &[&str])]) -> DetectorLists {
    DetectorLists::build(
        trusted.iter().map(|e| e.parse().unwrap()).collect(),
        threat
            .iter()
            .map(|(name, entries)| ListNets {
                name: (*name).into(),
                file_sha256: "ab".repeat(32),
                nets: entries.iter().map(|e| e.parse().unwrap()).collect(),
            })
            .collect(),
    )
}

struct Setup {
    operator: OperatorIntel,
    lists: DetectorLists,
    inventory: Option<Inventory>,
    scope: Scope,
}

impl Setup {
    fn new(operator: OperatorIntel, lists: DetectorLists, inventory: Option<Inventory>) -> Self {
        Setup { operator, lists, inventory, scope: Scope::new("111122223333", "us-east-1") }
    }

    /// Every record line of `text` (header lines switch layouts) through detection.
    fn run(&self, text: &str, state: &mut FlowState) -> Vec<Occurrence> {
        self.run_from(text, 1, state)
    }

    /// As [`Setup::run`], `text` starting at line `first_line` of the file.
    fn run_from(&self, text: &str, first_line: u64, state: &mut FlowState) -> Vec<Occurrence> {
        let mut reader = FlowReader::default();
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let ReadLine::Line(FlowLine::Record(record)) = reader.read(line).unwrap() else {
                continue;
            };
            let ctx = FlowContext {
                detector_id: DETECTOR,
                scope: &self.scope,
                now_ms: 1_800_000_000_000,
                source: "flow.log",
                position: first_line + i as u64,
                intel: Intel { operator: &self.operator, lists: &self.lists },
                inventory: self.inventory.as_ref(),
            };
            out.extend(flow::detect(&record, &ctx, state));
        }
        out
    }

    fn once(&self, text: &str) -> Vec<Occurrence> {
        self.run(text, &mut FlowState::default())
    }
}

/// A default-format (v2) record.
fn v2(eni: &str, src: &str, dst: &str, sport: u16, dport: u16, action: &str, start: i64) -> String {
    format!("2 111122223333 {eni} {src} {dst} {sport} {dport} 6 10 840 {start} {} {action} OK\n", start + 60)
}

fn types(occs: &[Occurrence]) -> Vec<&str> {
    let mut t: Vec<&str> = occs.iter().map(|o| o.finding.r#type.as_deref().unwrap()).collect();
    t.sort();
    t
}

fn service(o: &Occurrence) -> &model::Service {
    o.finding.service.as_ref().unwrap()
}

fn connection(o: &Occurrence) -> &model::NetworkConnectionAction {
    let action = service(o).action.as_ref().unwrap();
    assert_eq!(action.action_type.as_deref(), Some("NETWORK_CONNECTION"));
    assert!(action.port_probe_action.is_none() && action.aws_api_call_action.is_none());
    action.network_connection_action.as_ref().unwrap()
}

fn probes(o: &Occurrence) -> &model::PortProbeAction {
    let action = service(o).action.as_ref().unwrap();
    assert_eq!(action.action_type.as_deref(), Some("PORT_PROBE"));
    assert!(action.network_connection_action.is_none());
    action.port_probe_action.as_ref().unwrap()
}

fn instance(o: &Occurrence) -> &model::InstanceDetails {
    let resource = o.finding.resource.as_ref().unwrap();
    assert_eq!(resource.resource_type.as_deref(), Some("Instance"));
    assert!(resource.access_key_details.is_none());
    resource.instance_details.as_ref().unwrap()
}

fn info(o: &Occurrence) -> Value {
    serde_json::from_str(service(o).additional_info.as_ref().unwrap().value.as_deref().unwrap()).unwrap()
}

fn probe_ports(o: &Occurrence) -> Vec<i32> {
    probes(o).port_probe_details.iter().flatten().map(|d| d.local_port_details.as_ref().unwrap().port.unwrap()).collect()
}

#[test]
fn every_flow_type_is_in_the_catalogue_as_an_instance_type() {
    for name in FLOW_TYPES {
        let ty = ft::lookup(name).unwrap_or_else(|| panic!("{name} not in the catalogue"));
        assert_eq!(ty.resource, ft::ResourceKind::Instance, "{name}");
        assert_eq!(ty.source, ft::LogSource::VpcFlow, "{name}");
    }
    for (kind, _) in fd::FLOW_FEED_USES {
        assert!(FEED_KINDS.iter().any(|k| k.name == *kind), "feed kind {kind} is loadable");
    }
}

#[test]
fn inventory_maps_describe_instances_and_finds_by_instance_eni_and_ip() {
    let inv = inventory();
    assert_eq!(inv.len(), 2);
    let web = inv.by_instance_id("i-0aaaaaaaaaaaaaaa1").unwrap();
    assert_eq!(web.instance_type.as_deref(), Some("t3.micro"));
    assert_eq!(web.instance_state.as_deref(), Some("running"));
    assert_eq!(web.image_id.as_deref(), Some("ami-0abcdef1234567890"));
    assert_eq!(web.availability_zone.as_deref(), Some("us-east-1a"));
    assert_eq!(web.launch_time.as_deref(), Some("2024-02-10T08:15:42.000Z"));
    let profile = web.iam_instance_profile.as_ref().unwrap();
    assert_eq!(profile.arn.as_deref(), Some("arn:aws:iam::111122223333:instance-profile/web"));
    assert_eq!(profile.id.as_deref(), Some("AIPAEXAMPLEPROFILE01"));
    let tags: Vec<(&str, &str)> = web.tags.iter().flatten().map(|t| (t.key.as_deref().unwrap(), t.value.as_deref().unwrap())).collect();
    assert_eq!(tags, vec![("Name", "web-1"), ("env", "prod")]);
    let eni = &web.network_interfaces.as_ref().unwrap()[0];
    assert_eq!(eni.network_interface_id.as_deref(), Some(WEB_ENI));
    assert_eq!(eni.vpc_id.as_deref(), Some("vpc-0123456789abcdef0"));
    assert_eq!(eni.subnet_id.as_deref(), Some("subnet-0123456789abcdef0"));
    assert_eq!(eni.private_ip_address.as_deref(), Some("10.0.1.10"));
    assert_eq!(eni.private_ip_addresses.as_ref().unwrap().len(), 2);
    assert_eq!(eni.public_ip.as_deref(), Some("3.80.10.20"));
    let sg = &eni.security_groups.as_ref().unwrap()[0];
    assert_eq!((sg.group_id.as_deref(), sg.group_name.as_deref()), (Some("sg-0123456789abcdef0"), Some("web")));

    assert_eq!(inv.by_eni(WEB_ENI), Some(web));
    for ip in ["10.0.1.10", "10.0.1.11", "3.80.10.20"] {
        assert_eq!(inv.by_ip(ip.parse().unwrap()), Some(web), "{ip}");
    }
    assert_eq!(inv.by_eni(EMR_ENI).unwrap().instance_id.as_deref(), Some("i-0bbbbbbbbbbbbbbb2"));
    assert!(inv.by_eni("eni-unknown").is_none());
    assert!(inv.by_ip("10.9.9.9".parse::<IpAddr>().unwrap()).is_none());
}

#[test]
fn inventory_errors_do_not_echo_content() {
    let err = Inventory::from_json(r#"{"Reservations": "SECRET-CONTENT"}"#).unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
    assert!(Inventory::from_json("not json").is_err());
    assert!(Inventory::from_json("{}").unwrap().is_empty());
}

#[test]
fn threat_list_raises_malicious_ip_caller_custom_with_the_connection_and_the_inventory_instance() {
    let setup = Setup::new(OperatorIntel::default(), lists(&[], &[("bad-actors", &[BAD_IP])]), Some(inventory()));
    let occs = setup.once(&v2(WEB_ENI, "10.0.1.10", BAD_IP, 40001, 443, "ACCEPT", 1_709_288_400));
    assert_eq!(types(&occs), vec![fd::MALICIOUS_IP_CALLER_CUSTOM]);
    let o = &occs[0];
    assert_eq!(o.finding.account_id.as_deref(), Some("111122223333"));
    assert_eq!(o.finding.region.as_deref(), Some("us-east-1"));
    assert_eq!(o.finding.severity, Some(ft::MEDIUM));
    let c = connection(o);
    assert_eq!(c.connection_direction.as_deref(), Some("OUTBOUND"));
    assert_eq!(c.blocked, Some(false));
    assert_eq!(c.protocol.as_deref(), Some("TCP"));
    assert_eq!(c.remote_ip_details.as_ref().unwrap().ip_address_v4.as_deref(), Some(BAD_IP));
    assert_eq!(c.remote_port_details, Some(model::RemotePortDetails { port: Some(443), port_name: Some("HTTPS".into()) }));
    assert_eq!(c.local_port_details, Some(model::LocalPortDetails { port: Some(40001), port_name: Some("Unknown".into()) }));
    assert_eq!(c.local_ip_details.as_ref().unwrap().ip_address_v4.as_deref(), Some("10.0.1.10"));
    assert_eq!(c.local_network_interface.as_deref(), Some(WEB_ENI));
    assert_eq!(service(o).resource_role.as_deref(), Some("ACTOR"));
    assert_eq!(service(o).event_first_seen.as_deref(), Some("2024-03-01T10:20:00.000Z"));
    assert_eq!(service(o).event_last_seen.as_deref(), Some("2024-03-01T10:21:00.000Z"));
    let i = instance(o);
    assert_eq!(i.instance_id.as_deref(), Some("i-0aaaaaaaaaaaaaaa1"));
    assert_eq!(i.instance_type.as_deref(), Some("t3.micro"));
    let details = service(o).evidence.as_ref().unwrap().threat_intelligence_details.as_ref().unwrap();
    assert_eq!(details[0].threat_list_name.as_deref(), Some("bad-actors"));
    assert_eq!(info(o)["threatListName"], "bad-actors");
    assert_eq!(info(o)["outBytes"], 840);
    let evidence = Evidence::from_finding(&o.finding).unwrap();
    assert_eq!(evidence.rule, fd::RULE_THREAT_LIST);
    assert_eq!(evidence.sources, vec!["flow.log:1".to_owned()]);
}

#[test]
fn inbound_from_a_listed_ip_makes_the_instance_the_target() {
    let setup = Setup::new(OperatorIntel::default(), lists(&[], &[("bad-actors", &[BAD_IP])]), Some(inventory()));
    let occs = setup.once(&v2(WEB_ENI, BAD_IP, "10.0.1.10", 51515, 22, "REJECT", 1_709_288_400));
    assert_eq!(types(&occs), vec![fd::MALICIOUS_IP_CALLER_CUSTOM]);
    let c = connection(&occs[0]);
    assert_eq!(c.connection_direction.as_deref(), Some("INBOUND"));
    assert_eq!(c.blocked, Some(true));
    assert_eq!(c.local_port_details.as_ref().unwrap().port_name.as_deref(), Some("SSH"));
    assert_eq!(service(&occs[0]).resource_role.as_deref(), Some("TARGET"));
    assert_eq!(info(&occs[0])["inBytes"], 840);
}

#[test]
fn without_inventory_the_finding_carries_only_what_the_log_has() {
    let setup = Setup::new(OperatorIntel::default(), lists(&[], &[("bad-actors", &[BAD_IP])]), None);
    let v2_occ = setup.once(&v2("eni-0123", "10.7.7.7", BAD_IP, 40001, 443, "ACCEPT", 1_709_288_400));
    let i = instance(&v2_occ[0]);
    assert_eq!(i.instance_id, None);
    assert_eq!(i.instance_type, None);
    let eni = &i.network_interfaces.as_ref().unwrap()[0];
    assert_eq!(eni.network_interface_id.as_deref(), Some("eni-0123"));
    assert_eq!(eni.private_ip_address.as_deref(), Some("10.7.7.7"));
    assert_eq!((eni.vpc_id.as_ref(), eni.subnet_id.as_ref(), eni.public_ip.as_ref()), (None, None, None));

    let v3 = format!(
        "version interface-id srcaddr dstaddr srcport dstport protocol start end action log-status vpc-id subnet-id instance-id tcp-flags\n\
         3 eni-0123 10.7.7.7 {BAD_IP} 40001 443 6 1709288400 1709288460 ACCEPT OK vpc-77 subnet-77 i-0777 2\n"
    );
    let v3_occ = setup.once(&v3);
    let i = instance(&v3_occ[0]);
    assert_eq!(i.instance_id.as_deref(), Some("i-0777"));
    let eni = &i.network_interfaces.as_ref().unwrap()[0];
    assert_eq!((eni.vpc_id.as_deref(), eni.subnet_id.as_deref()), (Some("vpc-77"), Some("subnet-77")));
    assert_ne!(v2_occ[0].finding.id, v3_occ[0].finding.id, "instance id vs ENI key");
}

#[test]
fn operator_feeds_raise_their_types() {
    for (kind, expected) in [
        ("c2", fd::CC_ACTIVITY_B),
        ("bitcoin", fd::BITCOIN_TOOL_B),
        ("blackhole", fd::BLACKHOLE_TRAFFIC),
        ("droppoint", fd::DROP_POINT),
        ("tor-relay", fd::TOR_CLIENT),
    ] {
        let setup = Setup::new(operator(vec![feed(kind, &[BAD_IP])]), DetectorLists::default(), Some(inventory()));
        let occs = setup.once(&v2(WEB_ENI, "10.0.1.10", BAD_IP, 40001, 9001, "ACCEPT", 1_709_288_400));
        assert_eq!(types(&occs), vec![expected], "{kind}");
        let o = &occs[0];
        assert_eq!(service(o).resource_role.as_deref(), Some("ACTOR"));
        assert_eq!(connection(o).connection_direction.as_deref(), Some("OUTBOUND"));
        assert_eq!(info(o)["threatListName"], format!("{kind}-feed"));
        assert_eq!(o.finding.severity, Some(ft::lookup(expected).unwrap().severity));
        let clean = setup.once(&v2(WEB_ENI, "10.0.1.10", CLEAN_IP, 40001, 9001, "ACCEPT", 1_709_288_400));
        assert!(clean.is_empty(), "{kind}: unlisted remote");
    }
}

#[test]
fn tor_relay_connecting_in_makes_the_instance_a_relay() {
    let setup = Setup::new(operator(vec![feed("tor-relay", &[BAD_IP])]), DetectorLists::default(), Some(inventory()));
    // A SYN from the relay to the instance's ORPort: the relay opened the connection.
    let header = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags\n";
    let inbound = format!("{header}3 {WEB_ENI} {BAD_IP} 10.0.1.10 43210 9001 6 3 180 1709288400 1709288460 ACCEPT OK 2\n");
    let occs = setup.once(&inbound);
    assert_eq!(types(&occs), vec![fd::TOR_RELAY]);
    assert_eq!(connection(&occs[0]).connection_direction.as_deref(), Some("INBOUND"));
    let rejected = inbound.replace("ACCEPT", "REJECT");
    assert!(setup.once(&rejected).is_empty(), "a refused connection does not make a relay");
}

#[test]
fn tcp_flags_and_flow_direction_decide_the_connection_direction() {
    let setup = Setup::new(OperatorIntel::default(), lists(&[], &[("bad-actors", &[BAD_IP])]), None);
    // The answer (SYN-ACK) of the instance to a connection the remote opened on a high port.
    let header = "version interface-id srcaddr dstaddr srcport dstport protocol start end action log-status tcp-flags\n";
    let answer = format!("{header}3 eni-0123 10.7.7.7 {BAD_IP} 40001 50001 6 1709288400 1709288460 ACCEPT OK 18\n");
    assert_eq!(connection(&setup.once(&answer)[0]).connection_direction.as_deref(), Some("INBOUND"));
    // v5 flow-direction says which side is local even when both are public.
    let header5 = "version interface-id srcaddr dstaddr srcport dstport protocol start end action log-status flow-direction\n";
    let egress = format!("{header5}5 eni-0123 3.80.10.20 {BAD_IP} 40001 443 6 1709288400 1709288460 ACCEPT OK egress\n");
    let o = &setup.once(&egress)[0];
    assert_eq!(connection(o).connection_direction.as_deref(), Some("OUTBOUND"));
    assert_eq!(connection(o).local_ip_details.as_ref().unwrap().ip_address_v4.as_deref(), Some("3.80.10.20"));
    assert_eq!(instance(o).network_interfaces.as_ref().unwrap()[0].private_ip_address, None, "a public local address is not a private one");
}

#[test]
fn trusted_list_suppresses_every_flow_finding_for_the_remote_ip() {
    let feeds = vec![feed("c2", &[BAD_IP]), feed("scanner", &[BAD_IP]), feed("tor-relay", &[BAD_IP])];
    let setup = Setup::new(operator(feeds), lists(&[BAD_IP], &[("bad-actors", &[BAD_IP])]), Some(inventory()));
    let text =
        v2(WEB_ENI, "10.0.1.10", BAD_IP, 40001, 443, "ACCEPT", 1_709_288_400) + &v2(WEB_ENI, BAD_IP, "10.0.1.10", 40001, 22, "ACCEPT", 1_709_288_400);
    assert!(setup.once(&text).is_empty());
    // Without the trusted entry the same records raise findings.
    let untrusted =
        Setup::new(operator(vec![feed("c2", &[BAD_IP]), feed("scanner", &[BAD_IP])]), lists(&[], &[("bad-actors", &[BAD_IP])]), Some(inventory()));
    assert!(!untrusted.once(&text).is_empty());
}

#[test]
fn non_public_remotes_are_ignored() {
    // CGNAT and private addresses on every list: still nothing (docs/threat-lists.md: public IPs only).
    let everything = ["100.64.0.0/10", "10.0.0.0/8", "172.16.0.0/12"];
    let setup =
        Setup::new(operator(vec![feed("c2", &everything), feed("scanner", &everything)]), lists(&[], &[("all", &everything)]), Some(inventory()));
    let text = v2(WEB_ENI, "10.0.1.10", "100.64.3.4", 40001, 443, "ACCEPT", 1_709_288_400)
        + &v2(WEB_ENI, "10.0.1.10", "10.0.2.20", 40001, 443, "ACCEPT", 1_709_288_400)
        + &v2(WEB_ENI, "172.16.0.9", "10.0.1.10", 40001, 22, "ACCEPT", 1_709_288_400);
    assert!(setup.once(&text).is_empty());
}

#[test]
fn scanner_probes_list_ports_and_remotes_and_high_severity_for_elasticsearch() {
    let setup = Setup::new(operator(vec![feed("scanner", &[BAD_IP, OTHER_IP])]), DetectorLists::default(), Some(inventory()));
    let mut state = FlowState::default();
    let first = setup.run(&v2(WEB_ENI, BAD_IP, "10.0.1.10", 51000, 22, "ACCEPT", 1_709_288_400), &mut state);
    assert_eq!(types(&first), vec![fd::PORT_PROBE_UNPROTECTED_PORT]);
    let o = &first[0];
    assert_eq!(o.finding.severity, Some(ft::LOW));
    assert_eq!(service(o).resource_role.as_deref(), Some("TARGET"));
    let p = probes(o);
    assert_eq!(p.blocked, Some(false));
    let detail = &p.port_probe_details.as_ref().unwrap()[0];
    assert_eq!(detail.local_port_details, Some(model::LocalPortDetails { port: Some(22), port_name: Some("SSH".into()) }));
    assert_eq!(detail.local_ip_details.as_ref().unwrap().ip_address_v4.as_deref(), Some("10.0.1.10"));
    assert_eq!(detail.remote_ip_details.as_ref().unwrap().ip_address_v4.as_deref(), Some(BAD_IP));
    assert_eq!(instance(o).instance_id.as_deref(), Some("i-0aaaaaaaaaaaaaaa1"));

    let later = setup.run(&v2(WEB_ENI, OTHER_IP, "10.0.1.10", 51001, 9200, "ACCEPT", 1_709_288_500), &mut state);
    assert_eq!(later[0].finding.id, o.finding.id, "same instance, same finding");
    assert_eq!(probe_ports(&later[0]), vec![22, 9200]);
    assert_eq!(later[0].finding.severity, Some(ft::HIGH));
    let remotes: Vec<&str> = probes(&later[0])
        .port_probe_details
        .iter()
        .flatten()
        .map(|d| d.remote_ip_details.as_ref().unwrap().ip_address_v4.as_deref().unwrap())
        .collect();
    assert_eq!(remotes, vec![BAD_IP, OTHER_IP]);

    // The instance's answer to a probe is the same probe, not another occurrence.
    let answer = setup.run(&v2(WEB_ENI, "10.0.1.10", OTHER_IP, 9200, 51001, "ACCEPT", 1_709_288_500), &mut state);
    assert!(answer.is_empty(), "{answer:?}");
    // Refused probes and the instance's own connections to a scanner are not port probes.
    assert!(setup.run(&v2(WEB_ENI, BAD_IP, "10.0.1.10", 51002, 80, "REJECT", 1_709_288_600), &mut state).is_empty());
    assert!(setup.run(&v2(WEB_ENI, "10.0.1.10", BAD_IP, 51003, 443, "ACCEPT", 1_709_288_600), &mut state).is_empty());
}

#[test]
fn probe_lists_are_bounded() {
    let setup = Setup::new(operator(vec![feed("scanner", &[BAD_IP])]), DetectorLists::default(), Some(inventory()));
    let mut state = FlowState::default();
    let text: String = (0..40).map(|i| v2(WEB_ENI, BAD_IP, "10.0.1.10", 50000, 1000 + i, "ACCEPT", 1_709_288_400 + i as i64)).collect();
    let occs = setup.run(&text, &mut state);
    let last = occs.last().unwrap();
    assert_eq!(probe_ports(last), (1030..1040).collect::<Vec<_>>(), "the latest {} probes", flow::state::MAX_PROBE_DETAILS);
}

#[test]
fn emr_port_on_an_emr_node_is_the_emr_variant() {
    let setup = Setup::new(operator(vec![feed("scanner", &[BAD_IP])]), DetectorLists::default(), Some(inventory()));
    let emr = setup.once(&v2(EMR_ENI, BAD_IP, "10.0.2.20", 51000, 8088, "ACCEPT", 1_709_288_400));
    assert_eq!(types(&emr), vec![fd::PORT_PROBE_EMR_UNPROTECTED_PORT]);
    assert_eq!(emr[0].finding.severity, Some(ft::HIGH));
    assert_eq!(probe_ports(&emr[0]), vec![8088]);
    // The same port on an instance that is no EMR node is an ordinary unprotected port.
    let web = setup.once(&v2(WEB_ENI, BAD_IP, "10.0.1.10", 51000, 8088, "ACCEPT", 1_709_288_400));
    assert_eq!(types(&web), vec![fd::PORT_PROBE_UNPROTECTED_PORT]);
    // A non-EMR port on the EMR node too.
    let ssh = setup.once(&v2(EMR_ENI, BAD_IP, "10.0.2.20", 51000, 22, "ACCEPT", 1_709_288_400));
    assert_eq!(types(&ssh), vec![fd::PORT_PROBE_UNPROTECTED_PORT]);
}

#[test]
fn repeats_aggregate_per_type_role_and_instance() {
    let setup = Setup::new(OperatorIntel::default(), lists(&[], &[("bad-actors", &[BAD_IP, OTHER_IP])]), Some(inventory()));
    let a = setup.once(&v2(WEB_ENI, "10.0.1.10", BAD_IP, 40001, 443, "ACCEPT", 1_709_288_400));
    let b = setup.once(&v2(WEB_ENI, "10.0.1.11", OTHER_IP, 40002, 80, "ACCEPT", 1_709_288_900));
    let other_instance = setup.once(&v2(EMR_ENI, "10.0.2.20", BAD_IP, 40001, 443, "ACCEPT", 1_709_288_400));
    let inbound = setup.once(&v2(WEB_ENI, BAD_IP, "10.0.1.10", 40001, 22, "ACCEPT", 1_709_288_400));
    assert_eq!(a[0].finding.id, b[0].finding.id, "second address of the same instance");
    assert_ne!(a[0].finding.id, other_instance[0].finding.id);
    assert_ne!(a[0].finding.id, inbound[0].finding.id, "TARGET and ACTOR are separate findings");
    let mut merged = a[0].clone();
    aggregate::merge_occurrence(&mut merged, &b[0], 1_800_000_000_000);
    assert_eq!(service(&merged).count, Some(2));
    assert_eq!(service(&merged).event_first_seen.as_deref(), Some("2024-03-01T10:20:00.000Z"));
    assert_eq!(service(&merged).event_last_seen.as_deref(), Some("2024-03-01T10:29:20.000Z"));
    let remote = connection(&merged).remote_ip_details.as_ref().unwrap();
    assert_eq!(remote.ip_address_v4.as_deref(), Some(OTHER_IP), "the latest occurrence's details");
}

#[test]
fn same_findings_in_one_batch_or_many_with_the_state_persisted_between() {
    let setup =
        Setup::new(operator(vec![feed("scanner", &[BAD_IP, OTHER_IP]), feed("c2", &[OTHER_IP])]), DetectorLists::default(), Some(inventory()));
    let lines: Vec<String> = (0..12)
        .map(|i| {
            let remote = if i % 2 == 0 { BAD_IP } else { OTHER_IP };
            if i % 3 == 0 {
                v2(WEB_ENI, "10.0.1.10", remote, 40000 + i, 443, "ACCEPT", 1_709_288_400 + i as i64 * 30)
            } else {
                v2(
                    if i % 4 == 0 { EMR_ENI } else { WEB_ENI },
                    remote,
                    if i % 4 == 0 { "10.0.2.20" } else { "10.0.1.10" },
                    50000,
                    20 + i,
                    "ACCEPT",
                    1_709_288_400 + i as i64 * 30,
                )
            }
        })
        .collect();
    let one_batch = setup.once(&lines.concat());
    let mut many = Vec::new();
    let mut persisted = serde_json::to_string(&FlowState::default()).unwrap();
    for (n, chunk) in lines.chunks(5).enumerate() {
        let mut state: FlowState = serde_json::from_str(&persisted).unwrap();
        many.extend(setup.run_from(&chunk.concat(), 1 + 5 * n as u64, &mut state));
        persisted = serde_json::to_string(&state).unwrap();
    }
    assert!(!one_batch.is_empty());
    let fold = |occs: Vec<Occurrence>| {
        let mut by_id: std::collections::BTreeMap<String, Occurrence> = Default::default();
        for o in occs {
            match by_id.get_mut(o.finding_id()) {
                Some(into) => aggregate::merge_occurrence(into, &o, 1_800_000_000_000),
                None => {
                    by_id.insert(o.finding_id().to_owned(), o);
                }
            }
        }
        by_id.into_values().map(|o| o.finding).collect::<Vec<_>>()
    };
    assert_eq!(fold(one_batch), fold(many));
}

/// A fixed table standing in for the MaxMind reader (the ingest tests use real .mmdb files).
struct OnePlace;

impl vedette_domain::geo::GeoLookup for OnePlace {
    fn lookup(&self, ip: IpAddr) -> vedette_domain::geo::GeoInfo {
        if ip.to_string() != BAD_IP {
            return Default::default();
        }
        vedette_domain::geo::GeoInfo {
            city_name: Some("Berlin".into()),
            country_code: Some("DE".into()),
            country_name: Some("Germany".into()),
            lat: Some(52.52),
            lon: Some(13.405),
            asn: Some(208294),
            asn_org: Some("Example Hosting".into()),
            ..Default::default()
        }
    }
}

#[test]
fn remote_ip_details_are_enriched_from_geoip_in_connections_and_probes() {
    let operator = OperatorIntel { feeds: vec![feed("scanner", &[BAD_IP])], geo: Some(Box::new(OnePlace)), ..Default::default() };
    let setup = Setup::new(operator, lists(&[], &[("bad-actors", &[BAD_IP])]), Some(inventory()));
    let text = v2(WEB_ENI, "10.0.1.10", BAD_IP, 40001, 443, "ACCEPT", 1_709_288_400)
        + &v2(WEB_ENI, BAD_IP, "10.0.1.10", 51000, 8080, "ACCEPT", 1_709_288_400);
    let occs = setup.once(&text);
    assert_eq!(types(&occs), vec![fd::PORT_PROBE_UNPROTECTED_PORT, fd::MALICIOUS_IP_CALLER_CUSTOM, fd::MALICIOUS_IP_CALLER_CUSTOM]);
    for o in &occs {
        let action = service(o).action.as_ref().unwrap();
        let remote = match &action.network_connection_action {
            Some(c) => c.remote_ip_details.clone().unwrap(),
            None => probes(o).port_probe_details.as_ref().unwrap()[0].remote_ip_details.clone().unwrap(),
        };
        assert_eq!(remote.city.and_then(|c| c.city_name).as_deref(), Some("Berlin"));
        assert_eq!(remote.country.and_then(|c| c.country_code).as_deref(), Some("DE"));
        assert_eq!(remote.organization.and_then(|o| o.asn).as_deref(), Some("208294"));
    }
}

#[test]
fn ipv6_flows_and_trimmed_inventories() {
    // describe-instances output trimmed to top-level members (no NetworkInterfaces).
    let trimmed = r#"{"Reservations":[{"Instances":[{"InstanceId":"i-0ccc","InstanceType":"c6g.large",
        "PrivateIpAddress":"10.0.5.5","VpcId":"vpc-5","SubnetId":"subnet-5",
        "SecurityGroups":[{"GroupId":"sg-5","GroupName":"db"}]}]}]}"#;
    let inv = Inventory::from_json(trimmed).unwrap();
    let eni = &inv.by_ip("10.0.5.5".parse().unwrap()).unwrap().network_interfaces.as_ref().unwrap()[0];
    assert_eq!((eni.vpc_id.as_deref(), eni.subnet_id.as_deref()), (Some("vpc-5"), Some("subnet-5")));
    assert_eq!(eni.security_groups.as_ref().unwrap()[0].group_name.as_deref(), Some("db"));
    let setup = Setup::new(OperatorIntel::default(), lists(&[], &[("bad-actors", &[BAD_IP])]), Some(inv));
    assert_eq!(types(&setup.once(&v2("eni-x", "10.0.5.5", BAD_IP, 40001, 443, "ACCEPT", 1_709_288_400))), vec![fd::MALICIOUS_IP_CALLER_CUSTOM]);

    let v6_bad = "2a01:4f8:c17:b8f::2";
    let setup = Setup::new(OperatorIntel::default(), lists(&[], &[("v6", &["2a01:4f8::/32"])]), None);
    let occs = setup.once(&v2("eni-6", "2600:1f18:abc::10", v6_bad, 40001, 443, "ACCEPT", 1_709_288_400));
    // Both sides are public IPv6 without flow-direction or an inventory: which is local is unknown.
    assert!(occs.is_empty());
    let header = "version interface-id srcaddr dstaddr srcport dstport protocol start end action log-status flow-direction\n";
    let egress = format!("{header}5 eni-6 2600:1f18:abc::10 {v6_bad} 40001 443 6 1709288400 1709288460 ACCEPT OK egress\n");
    let occs = setup.once(&egress);
    let c = connection(&occs[0]);
    assert_eq!(c.remote_ip_details.as_ref().unwrap().ip_address_v6.as_deref(), Some(v6_bad));
    assert_eq!(c.local_ip_details.as_ref().unwrap().ip_address_v6.as_deref(), Some("2600:1f18:abc::10"));
    assert_eq!(c.remote_ip_details.as_ref().unwrap().ip_address_v4, None);
}
