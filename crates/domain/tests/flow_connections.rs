//! Flow rules count connections, not flow-log records: a long-lived connection is logged once per
//! direction and aggregation interval, and is still one connection. Offices keeping shells open
//! behind one NAT address raise nothing; a brute force running at the same time raises exactly
//! one finding, naming the attacker; threat-list findings count connections.
use vedette_domain::detect::{DetectorLists, Intel, ListNets, OperatorIntel};
use vedette_domain::flow::connection::{self as conn, MAX_CONNECTIONS};
use vedette_domain::flow::detect as fd;
use vedette_domain::flow::heuristics as h;
use vedette_domain::flow::{self, FlowContext, FlowLine, FlowReader, FlowState, ReadLine};
use vedette_domain::inventory::Inventory;
use vedette_domain::{Occurrence, Scope, finding_types as ft, model};

const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";
const ATTACKER: &str = "185.220.101.50";
const OFFICE: &str = "62.210.15.33";
const PARTNER: &str = "52.28.14.9";
const LISTED: &str = "92.118.39.20";
const BASTION_ENI: &str = "eni-0aaaaaaaaaaaaaaa1";
const BASTION_IP: &str = "10.0.1.10";
const JUMP_ENI: &str = "eni-0bbbbbbbbbbbbbbb2";
const JUMP_IP: &str = "10.0.2.20";
const T0: i64 = 1_709_280_000; // 2024-03-01T08:00:00Z

// tcp-flags as flow logs write them: OR-ed over the interval, ACK alone not reported.
const FIN: u16 = 1;
const SYN: u16 = 2;
const SYN_ACK: u16 = 18;
const NONE: u16 = 0;

const HEADER_FLAGS: &str =
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags";

/// One record: v2 when `flags` is `None`, else the v3 header's layout with `tcp-flags`.
struct Rec<'a> {
    eni: &'a str,
    src: &'a str,
    dst: &'a str,
    sport: u16,
    dport: u16,
    packets: u64,
    bytes: u64,
    start: i64,
    end: i64,
}

impl Rec<'_> {
    fn line(&self, flags: Option<u16>) -> String {
        let Rec { eni, src, dst, sport, dport, packets, bytes, start, end } = self;
        let base = format!("2 111122223333 {eni} {src} {dst} {sport} {dport} 6 {packets} {bytes} {start} {end} ACCEPT OK");
        match flags {
            Some(f) => format!("{base} {f}\n"),
            None => format!("{base}\n"),
        }
    }
}

/// Records of one TCP connection `client:cport → server:sport`, from `start` for `minutes`
/// intervals of `interval` seconds, both directions each interval: the opener's SYN in the first,
/// FIN in the last, keep-alive sized traffic between. `with_flags`: the v3 layout's flags.
#[allow(clippy::too_many_arguments)]
fn connection(
    eni: &str,
    client: &str,
    cport: u16,
    server: &str,
    sport: u16,
    start: i64,
    intervals: i64,
    interval: i64,
    with_flags: bool,
) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for k in 0..intervals {
        let (t, last) = (start + k * interval, k == intervals - 1);
        let (request, answer) = match (k, last) {
            (0, true) => (SYN | FIN, SYN_ACK | FIN),
            (0, false) => (SYN, SYN_ACK),
            (_, true) => (FIN, FIN),
            _ => (NONE, NONE),
        };
        // Keep-alives and a little typing: a few packets an interval, far below a session's size.
        let packets = 4 + (k % 5) as u64;
        let rec = |src, dst, sp, dp, p: u64| Rec { eni, src, dst, sport: sp, dport: dp, packets: p, bytes: p * 90, start: t, end: t + interval - 1 };
        out.push((t, rec(client, server, cport, sport, packets).line(with_flags.then_some(request))));
        out.push((t, rec(server, client, sport, cport, packets + 1).line(with_flags.then_some(answer))));
    }
    out
}

/// `n` password guesses from `src` to `dst:port`, `every` seconds apart, a new source port each.
#[allow(clippy::too_many_arguments)] // one call site per scenario reads better with the values inline
fn guesses(eni: &str, src: &str, dst: &str, port: u16, n: u16, start: i64, every: i64, with_flags: bool) -> Vec<(i64, String)> {
    (0..n)
        .flat_map(|i| {
            let t = start + i64::from(i) * every;
            let rec = |s, d, sp, dp, p| Rec { eni, src: s, dst: d, sport: sp, dport: dp, packets: p, bytes: p * 150, start: t, end: t + 4 };
            [
                (t, rec(src, dst, 40000 + i, port, 14).line(with_flags.then_some(SYN | FIN))),
                (t, rec(dst, src, port, 40000 + i, 12).line(with_flags.then_some(SYN_ACK | FIN))),
            ]
        })
        .collect()
}

/// An office's working day on the bastion: `users` engineers behind one address, each holding an
/// SSH session open for hours (reconnecting twice), one an RDP session, logged every `interval`.
fn office_day(eni: &str, local: &str, users: u16, interval: i64, with_flags: bool) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for u in 0..users {
        for (s, (from, hours)) in [(0, 3), (3, 2), (5, 4)].into_iter().enumerate() {
            let start = T0 + from * 3600 + i64::from(u) * 37;
            let intervals = hours * 3600 / interval;
            let cport = 50000 + u * 10 + s as u16;
            out.extend(connection(eni, OFFICE, cport, local, 22, start, intervals, interval, with_flags));
        }
    }
    out.extend(connection(eni, OFFICE, 51000, local, 3389, T0 + 600, 8 * 3600 / interval, interval, with_flags));
    out
}

fn text(mut lines: Vec<(i64, String)>, with_flags: bool) -> String {
    lines.sort_by_key(|(t, _)| *t);
    let body: String = lines.into_iter().map(|(_, l)| l).collect();
    if with_flags { format!("{HEADER_FLAGS}\n{body}") } else { body }
}

struct Setup {
    operator: OperatorIntel,
    lists: DetectorLists,
    inventory: Inventory,
    scope: Scope,
}

fn setup(lists: DetectorLists) -> Setup {
    let json = std::fs::read_to_string(format!("{}/tests/data/flow/describe_instances.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Setup {
        operator: OperatorIntel::default(),
        lists,
        inventory: Inventory::from_json(&json).unwrap(),
        scope: Scope::new("111122223333", "us-east-1"),
    }
}

impl Setup {
    fn run(&self, text: &str, state: &mut FlowState) -> Vec<Occurrence> {
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
                position: 1 + i as u64,
                intel: Intel { operator: &self.operator, lists: &self.lists },
                inventory: Some(&self.inventory),
            };
            out.extend(flow::detect(&record, &ctx, state));
        }
        out
    }

    fn once(&self, text: &str) -> Vec<Occurrence> {
        self.run(text, &mut FlowState::default())
    }
}

fn types(occs: &[Occurrence]) -> Vec<&str> {
    let mut t: Vec<&str> = occs.iter().map(|o| o.finding.r#type.as_deref().unwrap()).collect();
    t.sort();
    t.dedup();
    t
}

fn remote_ip(o: &Occurrence) -> &str {
    let service = o.finding.service.as_ref().unwrap();
    let action = service.action.as_ref().unwrap().network_connection_action.as_ref().unwrap();
    action.remote_ip_details.as_ref().unwrap().ip_address_v4.as_deref().unwrap()
}

fn service(o: &Occurrence) -> &model::Service {
    o.finding.service.as_ref().unwrap()
}

#[test]
fn an_office_holding_sessions_open_behind_one_address_raises_nothing() {
    let s = setup(DetectorLists::default());
    for with_flags in [true, false] {
        for interval in [60, 600] {
            let day = office_day(BASTION_ENI, BASTION_IP, 4, interval, with_flags);
            // As many records of ≤ 100 packets from one address as a brute force would need, many
            // times over: only distinct connections may count.
            let from_office_in_10_min = day.iter().filter(|(t, l)| *t < T0 + 600 && l.contains(&format!(" {OFFICE} "))).count();
            if interval == 60 {
                assert!(from_office_in_10_min >= 2 * h::BRUTE_FORCE_MIN_ATTEMPTS, "{from_office_in_10_min}");
            }
            let occs = s.once(&text(day, with_flags));
            assert!(occs.is_empty(), "flags {with_flags}, {interval} s: {:?}", types(&occs));
        }
    }
}

#[test]
fn the_same_office_during_a_brute_force_gives_one_finding_naming_the_attacker() {
    let s = setup(DetectorLists::default());
    let n = h::BRUTE_FORCE_MIN_ATTEMPTS as u16 + 5;
    for with_flags in [true, false] {
        let mut lines = office_day(BASTION_ENI, BASTION_IP, 4, 60, with_flags);
        let attack_start = T0 + 2 * 3600 + 15;
        lines.extend(guesses(BASTION_ENI, ATTACKER, BASTION_IP, 22, n, attack_start, 6, with_flags));
        let occs = s.once(&text(lines, with_flags));
        assert_eq!(types(&occs), vec![h::SSH_BRUTE_FORCE], "flags {with_flags}");
        assert!(occs.iter().all(|o| o.finding.id == occs[0].finding.id), "one finding");
        assert!(occs.iter().all(|o| remote_ip(o) == ATTACKER), "the office never becomes the remote IP");
        assert_eq!(occs.len(), 6, "the attacker's guesses alone, from the threshold on");
        let last = occs.last().unwrap();
        assert_eq!(service(last).resource_role.as_deref(), Some("TARGET"));
        let first_seen = service(last).event_first_seen.as_deref().unwrap();
        assert_eq!(first_seen, "2024-03-01T10:00:19.000Z", "the attack's first guess, not the office's morning");
    }
}

#[test]
fn a_jump_host_used_only_by_the_office_raises_nothing() {
    let s = setup(DetectorLists::default());
    for with_flags in [true, false] {
        let mut lines = office_day(JUMP_ENI, JUMP_IP, 6, 60, with_flags);
        // Through the jump host: sessions on to a partner's server (public), held as long, and to
        // private hosts (never a finding); an hourly scp of a few seconds.
        for u in 0..6u16 {
            let start = T0 + i64::from(u) * 41;
            lines.extend(connection(JUMP_ENI, JUMP_IP, 33000 + u, PARTNER, 22, start, 6 * 60, 60, with_flags));
            lines.extend(connection(JUMP_ENI, JUMP_IP, 34000 + u, "10.0.3.30", 22, start, 6 * 60, 60, with_flags));
        }
        for hour in 0..8u16 {
            lines.extend(connection(JUMP_ENI, OFFICE, 36000 + hour, JUMP_IP, 22, T0 + i64::from(hour) * 3600 + 900, 1, 60, with_flags));
        }
        let occs = s.once(&text(lines, with_flags));
        assert!(occs.is_empty(), "flags {with_flags}: {:?}", types(&occs));
    }
}

#[test]
fn an_outbound_brute_force_says_the_instance_attacks() {
    let s = setup(DetectorLists::default());
    let n = h::BRUTE_FORCE_MIN_ATTEMPTS as u16;
    for (port, ty) in [(22, h::SSH_BRUTE_FORCE), (3389, h::RDP_BRUTE_FORCE), (5985, h::WINRM_BRUTE_FORCE)] {
        let occs = s.once(&text(guesses(BASTION_ENI, BASTION_IP, PARTNER, port, n, T0, 5, true), true));
        assert_eq!(types(&occs), vec![ty]);
        let f = &occs[0].finding;
        assert_eq!(service(&occs[0]).resource_role.as_deref(), Some("ACTOR"));
        let (title, description) = (f.title.as_deref().unwrap(), f.description.as_deref().unwrap());
        assert!(title.starts_with("EC2 instance is performing"), "{title}");
        assert!(description.contains("against a remote host") && description.contains("The instance made"), "{description}");
        assert!(!title.contains("against an EC2 instance") && !description.contains("against an EC2 instance"));
        let inbound = s.once(&text(guesses(BASTION_ENI, ATTACKER, BASTION_IP, port, n, T0, 5, true), true));
        assert_eq!(inbound[0].finding.title.as_deref(), Some(ft::lookup(ty).unwrap().title), "TARGET keeps the catalogue's");
    }
}

#[test]
fn a_guess_split_over_two_intervals_counts_once_and_continuations_never_count() {
    let s = setup(DetectorLists::default());
    let n = h::BRUTE_FORCE_MIN_ATTEMPTS as u16;
    for with_flags in [true, false] {
        // Each guess logged in two 1-minute intervals (SYN in the first, FIN in the second).
        let lines: Vec<(i64, String)> = (0..n - 1)
            .flat_map(|i| connection(BASTION_ENI, ATTACKER, 40000 + i, BASTION_IP, 22, T0 + 25 * i64::from(i), 2, 60, with_flags))
            .collect();
        assert!(s.once(&text(lines.clone(), with_flags)).is_empty(), "flags {with_flags}: {} guesses", n - 1);
        let mut more = lines;
        more.extend(connection(BASTION_ENI, ATTACKER, 41000, BASTION_IP, 22, T0 + 500, 2, 60, with_flags));
        assert_eq!(s.once(&text(more, with_flags)).len(), 1, "flags {with_flags}: the threshold reached");
    }
    // With flags, records without SYN continue a connection opened before the log began: however
    // many, they are no attempt.
    let midway: Vec<(i64, String)> = (0..3 * n)
        .map(|i| {
            let t = T0 + 10 * i64::from(i);
            let rec =
                Rec { eni: BASTION_ENI, src: ATTACKER, dst: BASTION_IP, sport: 40000 + i, dport: 22, packets: 6, bytes: 500, start: t, end: t + 59 };
            (t, rec.line(Some(NONE)))
        })
        .collect();
    assert!(s.once(&text(midway, true)).is_empty());
}

#[test]
fn threat_list_findings_count_connections_not_records() {
    let lists = DetectorLists::build(
        Vec::new(),
        vec![ListNets { name: "bad-actors".into(), file_sha256: "ab".repeat(32), nets: vec![LISTED.parse().unwrap()] }],
    );
    let s = setup(lists);
    for with_flags in [true, false] {
        // Two connections to the listed host, each five minutes long: 20 records, both directions.
        let mut lines = connection(BASTION_ENI, BASTION_IP, 45000, LISTED, 443, T0, 5, 60, with_flags);
        lines.extend(connection(BASTION_ENI, BASTION_IP, 45001, LISTED, 443, T0 + 900, 5, 60, with_flags));
        assert_eq!(lines.len(), 20);
        let occs = s.once(&text(lines.clone(), with_flags));
        assert_eq!(types(&occs), vec![fd::MALICIOUS_IP_CALLER_CUSTOM]);
        assert_eq!(occs.len(), 2, "flags {with_flags}: one per connection");
        // Read latest first: still one per connection.
        let mut reversed: Vec<String> = text(lines, false).lines().map(str::to_owned).collect();
        reversed.reverse();
        let body = reversed.join("\n") + "\n";
        let body = if with_flags { format!("{HEADER_FLAGS}\n{body}") } else { body };
        assert_eq!(s.once(&body).len(), 2, "flags {with_flags}, reversed");
    }
}

#[test]
fn state_written_before_the_connection_table_still_loads() {
    let old = r#"{"probes":{},"heuristics":{"attempts":{},"scanned_ports":{},"swept_hosts":{},"volume":{}}}"#;
    let state: FlowState = serde_json::from_str(old).unwrap();
    assert_eq!(state.connections.tracked(), 0);
    let mut state = state;
    let s = setup(DetectorLists::default());
    let n = h::BRUTE_FORCE_MIN_ATTEMPTS as u16;
    assert_eq!(s.run(&text(guesses(BASTION_ENI, ATTACKER, BASTION_IP, 22, n, T0, 5, false), false), &mut state).len(), 1);
    let round: FlowState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    assert_eq!(round, state);
}

#[test]
fn the_connection_table_stays_bounded() {
    let s = setup(DetectorLists::default());
    let mut state = FlowState::default();
    let total = MAX_CONNECTIONS + 5_000;
    let mut body = String::with_capacity(total * 110);
    for k in 0..total {
        let remote = format!("{}.{}.{}.{}", 81 + k / 62_500 % 40, k / 250 % 250 + 1, k % 250 + 1, 7);
        let t = T0 + (k / 100) as i64;
        body += &Rec { eni: BASTION_ENI, src: &remote, dst: BASTION_IP, sport: 40000, dport: 22, packets: 10, bytes: 900, start: t, end: t + 60 }
            .line(None);
    }
    assert!(s.run(&body, &mut state).is_empty());
    assert!(state.connections.tracked() <= MAX_CONNECTIONS, "{}", state.connections.tracked());
    // The idle gap must exceed the longest aggregation interval (checked at compile time).
    const _: () = assert!(conn::CONNECTION_IDLE_MS >= 10 * 60_000);
}
