//! Behavioural flow rules: brute force, scans, sweeps and floods raise their types with
//! the right role and severity; a generated day of ordinary traffic raises nothing; findings do
//! not depend on how the records are split into batches; state stays bounded.
use serde_json::Value;
use vedette_domain::detect::{DetectorLists, Intel, OperatorIntel};
use vedette_domain::flow::heuristics::{self as h, HEURISTIC_TYPES};
use vedette_domain::flow::{self, FlowContext, FlowLine, FlowReader, FlowState, ReadLine};
use vedette_domain::inventory::Inventory;
use vedette_domain::{Occurrence, Scope, aggregate, finding_types as ft, model};

const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";
const ATTACKER: &str = "185.220.101.50";
const VICTIM: &str = "45.95.147.10";
const WEB_ENI: &str = "eni-0aaaaaaaaaaaaaaa1";
const WEB_IP: &str = "10.0.1.10";
const T0: i64 = 1_709_280_000; // 2024-03-01T08:00:00Z

struct Setup {
    operator: OperatorIntel,
    lists: DetectorLists,
    inventory: Inventory,
    scope: Scope,
}

fn setup() -> Setup {
    let json = std::fs::read_to_string(format!("{}/tests/data/flow/describe_instances.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Setup {
        operator: OperatorIntel::default(),
        lists: DetectorLists::default(),
        inventory: Inventory::from_json(&json).unwrap(),
        scope: Scope::new("111122223333", "us-east-1"),
    }
}

impl Setup {
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
                inventory: Some(&self.inventory),
            };
            out.extend(flow::detect(&record, &ctx, state));
        }
        out
    }

    fn once(&self, text: &str) -> Vec<Occurrence> {
        self.run_from(text, 1, &mut FlowState::default())
    }
}

/// A default-format record: `proto`, packets and bytes as given, 60 s long.
#[allow(clippy::too_many_arguments)]
fn rec(src: &str, dst: &str, sport: u16, dport: u16, proto: u8, packets: u64, bytes: u64, start: i64, action: &str) -> String {
    format!("2 111122223333 {WEB_ENI} {src} {dst} {sport} {dport} {proto} {packets} {bytes} {start} {} {action} OK\n", start + 60)
}

fn types(occs: &[Occurrence]) -> Vec<&str> {
    let mut t: Vec<&str> = occs.iter().map(|o| o.finding.r#type.as_deref().unwrap()).collect();
    t.sort();
    t.dedup();
    t
}

fn service(o: &Occurrence) -> &model::Service {
    o.finding.service.as_ref().unwrap()
}

fn connection(o: &Occurrence) -> &model::NetworkConnectionAction {
    service(o).action.as_ref().unwrap().network_connection_action.as_ref().unwrap()
}

/// `n` login attempts (new source port each) from `src` to `dst:port`, `every` seconds apart.
fn attempts(src: &str, dst: &str, port: u16, n: u16, every: i64, action: &str) -> String {
    (0..n).map(|i| rec(src, dst, 40000 + i, port, 6, 12, 2400, T0 + i as i64 * every, action)).collect()
}

#[test]
fn heuristic_types_are_in_the_catalogue() {
    for name in HEURISTIC_TYPES {
        let ty = ft::lookup(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(ty.resource, ft::ResourceKind::Instance);
    }
    assert_eq!(h::SSH_BRUTE_FORCE, ft::SSH_BRUTE_FORCE);
}

#[test]
fn ssh_brute_force_against_the_instance_is_a_low_target_finding() {
    let s = setup();
    let n = h::BRUTE_FORCE_MIN_ATTEMPTS as u16;
    let occs = s.once(&attempts(ATTACKER, WEB_IP, 22, n + 5, 10, "ACCEPT"));
    assert_eq!(types(&occs), vec![h::SSH_BRUTE_FORCE]);
    assert_eq!(occs.len(), 6, "from the threshold on, each attempt is an occurrence");
    let o = occs.last().unwrap();
    assert_eq!(service(o).resource_role.as_deref(), Some("TARGET"));
    assert_eq!(o.finding.severity, Some(ft::LOW));
    let c = connection(o);
    assert_eq!(c.connection_direction.as_deref(), Some("INBOUND"));
    assert_eq!(c.local_port_details.as_ref().unwrap().port_name.as_deref(), Some("SSH"));
    assert_eq!(c.remote_ip_details.as_ref().unwrap().ip_address_v4.as_deref(), Some(ATTACKER));
    assert_eq!(o.finding.resource.as_ref().unwrap().instance_details.as_ref().unwrap().instance_id.as_deref(), Some("i-0aaaaaaaaaaaaaaa1"));
    assert!(occs.iter().all(|x| x.finding.id == o.finding.id));

    assert!(s.once(&attempts(ATTACKER, WEB_IP, 22, n - 1, 10, "ACCEPT")).is_empty(), "one short of the threshold");
    assert!(s.once(&attempts(ATTACKER, WEB_IP, 22, n + 5, 10, "REJECT")).is_empty(), "refused attempts");
    let slow = h::BRUTE_FORCE_WINDOW_MS / 1000 / (n as i64 - 1) + 1;
    assert!(s.once(&attempts(ATTACKER, WEB_IP, 22, n + 5, slow, "ACCEPT")).is_empty(), "spread wider than the window");
    let sessions: String = (0..n + 5).map(|i| rec(ATTACKER, WEB_IP, 40000 + i, 22, 6, 5000, 4_000_000, T0 + i as i64, "ACCEPT")).collect();
    assert!(s.once(&sessions).is_empty(), "working sessions are not login attempts");
}

#[test]
fn brute_force_by_the_instance_is_a_high_actor_finding() {
    let s = setup();
    let n = h::BRUTE_FORCE_MIN_ATTEMPTS as u16;
    for (port, expected) in [(3389, h::RDP_BRUTE_FORCE), (22, h::SSH_BRUTE_FORCE), (5986, h::WINRM_BRUTE_FORCE)] {
        let occs = s.once(&attempts(WEB_IP, VICTIM, port, n, 5, "ACCEPT"));
        assert_eq!(types(&occs), vec![expected], "{port}");
        let o = &occs[0];
        assert_eq!(service(o).resource_role.as_deref(), Some("ACTOR"));
        assert_eq!(o.finding.severity, Some(ft::HIGH));
        assert_eq!(connection(o).connection_direction.as_deref(), Some("OUTBOUND"));
        assert_eq!(connection(o).remote_port_details.as_ref().unwrap().port, Some(port.into()));
    }
    // The inbound finding of the same type on the same instance is a different finding.
    let target = s.once(&attempts(ATTACKER, WEB_IP, 3389, n, 5, "ACCEPT"));
    let actor = s.once(&attempts(WEB_IP, VICTIM, 3389, n, 5, "ACCEPT"));
    assert_eq!(service(&target[0]).resource_role.as_deref(), Some("TARGET"));
    assert_ne!(target[0].finding.id, actor[0].finding.id);
}

#[test]
fn portscan_and_port_sweep() {
    let s = setup();
    let ports = h::PORTSCAN_MIN_PORTS as u16;
    let scan: String = (0..ports).map(|i| rec(WEB_IP, VICTIM, 50000, 1000 + i, 6, 1, 60, T0 + i as i64, "REJECT")).collect();
    let occs = s.once(&scan);
    assert_eq!(types(&occs), vec![h::PORTSCAN]);
    assert_eq!(service(&occs[0]).resource_role.as_deref(), Some("ACTOR"));
    assert_eq!(occs[0].finding.severity, Some(ft::MEDIUM));
    let fewer: String = (0..ports - 1).map(|i| rec(WEB_IP, VICTIM, 50000, 1000 + i, 6, 1, 60, T0 + i as i64, "REJECT")).collect();
    assert!(s.once(&fewer).is_empty());

    let hosts = h::PORT_SWEEP_MIN_HOSTS as u8;
    let sweep: String =
        (0..hosts).map(|i| rec(WEB_IP, &format!("45.95.148.{i}"), 50000 + i as u16, 445, 6, 2, 120, T0 + i as i64, "ACCEPT")).collect();
    let occs = s.once(&sweep);
    assert_eq!(types(&occs), vec![h::PORT_SWEEP]);
    assert_eq!(occs[0].finding.severity, Some(ft::HIGH));
    assert_eq!(connection(&occs[0]).remote_port_details.as_ref().unwrap().port, Some(445));
    let dns: String = (0..hosts).map(|i| rec(WEB_IP, &format!("45.95.148.{i}"), 50000 + i as u16, 53, 6, 2, 120, T0 + i as i64, "ACCEPT")).collect();
    assert!(s.once(&dns).is_empty(), "DNS is exempt from sweeps");
}

#[test]
fn denial_of_service_kinds() {
    let s = setup();
    let p = h::DOS_MIN_PACKETS;
    for (proto, port, expected) in
        [(6, 80, h::DOS_TCP), (17, 9999, h::DOS_UDP), (17, 53, h::DOS_DNS), (17, 80, h::DOS_UDP_ON_TCP_PORTS), (2, 0, h::DOS_UNUSUAL_PROTOCOL)]
    {
        // Two halves in consecutive minutes: the window sums them.
        let flood = rec(WEB_IP, VICTIM, 50000, port, proto, p / 2, p / 2 * 60, T0, "ACCEPT")
            + &rec(WEB_IP, VICTIM, 50000, port, proto, p / 2, p / 2 * 60, T0 + 60, "ACCEPT");
        let occs = s.once(&flood);
        assert_eq!(types(&occs), vec![expected], "protocol {proto} port {port}");
        assert_eq!(service(&occs[0]).resource_role.as_deref(), Some("ACTOR"));
        assert_eq!(occs[0].finding.severity, Some(ft::HIGH));
    }
    // The same packet count as a bulk upload (big packets) is no flood.
    let upload = rec(WEB_IP, VICTIM, 50000, 443, 6, p, p * 1400, T0, "ACCEPT");
    assert!(s.once(&upload).is_empty());
    // Nor is the same volume spread wider than the window.
    let spread = rec(WEB_IP, VICTIM, 50000, 80, 6, p / 2, p / 2 * 60, T0, "ACCEPT")
        + &rec(WEB_IP, VICTIM, 50000, 80, 6, p / 2, p / 2 * 60, T0 + h::DOS_WINDOW_MS / 1000 + 60, "ACCEPT");
    assert!(s.once(&spread).is_empty());
}

/// A day of ordinary traffic for the web instance and the EMR node (one record per flow and
/// minute): web clients, CDN and update downloads, DNS and NTP, database traffic inside the VPC,
/// an operator's SSH sessions, a monitoring probe.
fn benign_day() -> String {
    let mut out = String::new();
    let mut n: u32 = 0;
    let ip = |k: u32| format!("{}.{}.{}.{}", 81 + (k % 40), (k / 40) % 250 + 1, (k / 7) % 250 + 1, k % 250 + 1);
    for minute in 0..(24 * 60) {
        let t = T0 + minute * 60;
        // Web clients: 20 a minute to 443, answers from the instance.
        for c in 0..20 {
            n += 1;
            let client = ip(n);
            let sport = 30000 + (n % 30000) as u16;
            out += &rec(&client, WEB_IP, sport, 443, 6, 14, 2100, t, "ACCEPT");
            out += &rec(WEB_IP, &client, 443, sport, 6, 22, 28000, t, "ACCEPT");
            if c == 0 {
                // Internet background noise: refused probes to other ports.
                out += &rec(&ip(n + 7), WEB_IP, 51000, 23, 6, 1, 40, t, "REJECT");
            }
        }
        // CDN-heavy client behaviour: the instance fetches from 10 CDN hosts a minute.
        for c in 0..10 {
            let cdn = format!("151.101.{}.{}", minute % 200, c + 1);
            out += &rec(WEB_IP, &cdn, 45000 + c as u16, 443, 6, 40, 9000, t, "ACCEPT");
            out += &rec(&cdn, WEB_IP, 443, 45000 + c as u16, 6, 60, 80000, t, "ACCEPT");
        }
        // DNS to a public resolver and NTP to the pool: small UDP flows.
        out += &rec(WEB_IP, "8.8.8.8", 53000 + (minute % 1000) as u16, 53, 17, 2, 150, t, "ACCEPT");
        out += &rec("8.8.8.8", WEB_IP, 53, 53000 + (minute % 1000) as u16, 17, 2, 400, t, "ACCEPT");
        if minute % 16 == 0 {
            out += &rec(WEB_IP, &format!("162.159.200.{}", minute % 4 + 1), 123, 123, 17, 1, 76, t, "ACCEPT");
        }
        // Database traffic inside the VPC.
        out += &rec(WEB_IP, "10.0.3.30", 47000, 5432, 6, 300, 90000, t, "ACCEPT");
        // Hourly: software updates (a big download), an operator's SSH session, monitoring.
        if minute % 60 == 5 {
            out += &rec(WEB_IP, "91.189.91.83", 46000, 80, 6, 30000, 4000, t, "ACCEPT");
            out += &rec("91.189.91.83", WEB_IP, 80, 46000, 6, 70000, 98_000_000, t, "ACCEPT");
            out += &rec("3.80.200.10", WEB_IP, 52000 + (minute / 60) as u16, 22, 6, 3000, 400_000, t, "ACCEPT");
            out += &rec(WEB_IP, "3.80.200.10", 22, 52000 + (minute / 60) as u16, 6, 4000, 900_000, t, "ACCEPT");
            for probe in 0..3 {
                out += &rec("54.243.31.192", WEB_IP, 33000 + probe, 22, 6, 6, 400, t + probe as i64, "ACCEPT");
            }
        }
    }
    out
}

#[test]
fn a_day_of_ordinary_traffic_raises_nothing() {
    let s = setup();
    let day = benign_day();
    assert!(day.lines().count() > 60_000);
    let mut state = FlowState::default();
    let occs = s.run_from(&day, 1, &mut state);
    assert!(occs.is_empty(), "benign traffic raised {:?}", types(&occs));
}

#[test]
fn same_findings_whatever_the_batches_with_state_persisted() {
    let s = setup();
    let n = h::BRUTE_FORCE_MIN_ATTEMPTS as u16;
    let text = attempts(ATTACKER, WEB_IP, 22, n + 10, 7, "ACCEPT")
        + &(0..h::PORTSCAN_MIN_PORTS as u16 + 3)
            .map(|i| rec(WEB_IP, VICTIM, 50000, 2000 + i, 6, 1, 60, T0 + i as i64 * 3, "REJECT"))
            .collect::<String>()
        + &rec(WEB_IP, VICTIM, 50000, 80, 6, h::DOS_MIN_PACKETS / 3, h::DOS_MIN_PACKETS / 3 * 60, T0, "ACCEPT").repeat(4);
    let lines: Vec<&str> = text.lines().collect();
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
    let whole = fold(s.run_from(&text, 1, &mut FlowState::default()));
    assert_eq!(whole.iter().map(|f| f.r#type.as_deref().unwrap()).collect::<std::collections::BTreeSet<_>>().len(), 3);
    for size in [1, 7, 13] {
        let mut persisted: Value = serde_json::to_value(FlowState::default()).unwrap();
        let mut occs = Vec::new();
        for (k, chunk) in lines.chunks(size).enumerate() {
            let mut state: FlowState = serde_json::from_value(persisted).unwrap();
            occs.extend(s.run_from(&(chunk.join("\n") + "\n"), 1 + (k * size) as u64, &mut state));
            persisted = serde_json::to_value(&state).unwrap();
        }
        assert_eq!(fold(occs), whole, "batches of {size}");
    }
}

#[test]
fn state_stays_bounded_under_many_distinct_remotes() {
    let s = setup();
    let mut state = FlowState::default();
    // One login attempt each from far more remote hosts than the table holds.
    let total = h::MAX_TRACKED + 5_000;
    let mut text = String::with_capacity(total * 110);
    for k in 0..total {
        let remote = format!("{}.{}.{}.{}", 81 + k / 16_000_000 % 40, k / 62_500 % 250 + 1, k / 250 % 250 + 1, k % 250 + 1);
        text += &rec(&remote, WEB_IP, 40000, 22, 6, 10, 900, T0 + (k / 100) as i64, "ACCEPT");
    }
    let occs = s.run_from(&text, 1, &mut state);
    assert!(occs.is_empty());
    assert!(state.heuristics.tracked() <= h::MAX_TRACKED, "{} keys", state.heuristics.tracked());
}
