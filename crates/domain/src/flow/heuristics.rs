//! Behavioural flow rules over windowed, bounded state (docs/findings.md#vpc-flow-types, class H): brute force (SSH,
//! RDP, WinRM), outbound port scans and sweeps, outbound denial of service.
//!
//! Every threshold is a named constant below, chosen so ordinary traffic (a busy web server, a
//! CDN-heavy client, software updates, a recursive DNS resolver, bulk downloads) stays under it.
//! State is keyed by (instance, ...) and bounded twice: each entry holds at most what its
//! threshold needs, and each table holds at most [`MAX_TRACKED`] keys (expired ones are dropped
//! first, then the least recently seen). It is serde-serializable so the ingester can persist it
//! between runs; the same records in the same order give the same findings however they are
//! split into batches.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bounded::make_room;
use super::connection::{ConnectionDirection, InConnection, Sides};
use super::hit::FlowHit;
use super::record::{FlowAction, FlowRecord};
use crate::finding_types::{self as ft, ResourceRole};

pub const SSH_BRUTE_FORCE: &str = "UnauthorizedAccess:EC2/SSHBruteForce";
pub const RDP_BRUTE_FORCE: &str = "UnauthorizedAccess:EC2/RDPBruteForce";
pub const WINRM_BRUTE_FORCE: &str = "Impact:EC2/WinRMBruteForce";
pub const PORTSCAN: &str = "Recon:EC2/Portscan";
pub const PORT_SWEEP: &str = "Impact:EC2/PortSweep";
pub const DOS_TCP: &str = "Backdoor:EC2/DenialOfService.Tcp";
pub const DOS_UDP: &str = "Backdoor:EC2/DenialOfService.Udp";
pub const DOS_DNS: &str = "Backdoor:EC2/DenialOfService.Dns";
pub const DOS_UDP_ON_TCP_PORTS: &str = "Backdoor:EC2/DenialOfService.UdpOnTcpPorts";
pub const DOS_UNUSUAL_PROTOCOL: &str = "Backdoor:EC2/DenialOfService.UnusualProtocol";

pub const HEURISTIC_TYPES: &[&str] = &[
    SSH_BRUTE_FORCE,
    RDP_BRUTE_FORCE,
    WINRM_BRUTE_FORCE,
    PORTSCAN,
    PORT_SWEEP,
    DOS_TCP,
    DOS_UDP,
    DOS_DNS,
    DOS_UDP_ON_TCP_PORTS,
    DOS_UNUSUAL_PROTOCOL,
];

pub const RULE_BRUTE_FORCE: &str = "flow-brute-force";
pub const RULE_PORTSCAN: &str = "flow-portscan";
pub const RULE_PORT_SWEEP: &str = "flow-port-sweep";
pub const RULE_DOS: &str = "flow-denial-of-service";

/// Login attempts (connections opened to the service port, each counted once however many
/// records and directions it spans: see [`super::connection`]) from one remote host against one
/// instance's service, or from the instance to one remote host, within [`BRUTE_FORCE_WINDOW_MS`].
/// An office of engineers behind one NAT address keeping shells open all day, or a deployment
/// tool reusing its connection, stays far below; password-guessing tools make hundreds a minute.
pub const BRUTE_FORCE_MIN_ATTEMPTS: usize = 20;
pub const BRUTE_FORCE_WINDOW_MS: i64 = 10 * 60_000;
/// Opening records bigger than this (packets in the record) are working sessions (a shell, a
/// file copy), not login attempts, and are not counted.
pub const BRUTE_FORCE_MAX_PACKETS: u64 = 100;

/// Distinct ports of one remote host the instance tries within [`SCAN_WINDOW_MS`] (Portscan),
/// and distinct public hosts it tries on one port (PortSweep). Only TCP connection attempts count:
/// the opening records (see [`super::connection`]) of at most [`SCAN_MAX_PACKETS`] packets (a SYN
/// and its retries) — real sessions, to a CDN or an update mirror, carry far more, and the
/// keep-alives of a long-lived connection continue it rather than open one.
pub const PORTSCAN_MIN_PORTS: usize = 30;
pub const PORT_SWEEP_MIN_HOSTS: usize = 50;
pub const SCAN_WINDOW_MS: i64 = 10 * 60_000;
pub const SCAN_MAX_PACKETS: u64 = 3;
/// Ports many hosts are legitimately asked on with tiny flows (DNS and NTP clients, resolvers):
/// never a sweep.
pub const SWEEP_EXEMPT_PORTS: &[u16] = &[53, 123];

/// Outbound packets to one public host within [`DOS_WINDOW_MS`] (≈ 830 packets/s sustained),
/// with an average packet no bigger than [`DOS_MAX_AVG_PACKET_BYTES`]: floods are many small
/// packets, while a bulk upload of the same packet count averages ~1,400 bytes per packet.
pub const DOS_MIN_PACKETS: u64 = 500_000;
pub const DOS_WINDOW_MS: i64 = 10 * 60_000;
pub const DOS_MAX_AVG_PACKET_BYTES: u64 = 200;
/// Ports normally served over TCP: a UDP flood to one is `UdpOnTcpPorts`. 443 is left out (QUIC).
pub const TCP_TYPICAL_PORTS: &[u16] = &[21, 22, 23, 25, 80, 110, 143, 445, 1433, 3306, 3389, 5432, 8080];
/// Protocols ordinary traffic uses (ICMP, TCP, UDP, GRE, ESP, AH, ICMPv6): anything else in
/// flood volume is `UnusualProtocol`.
pub const USUAL_PROTOCOLS: &[u8] = &[1, 6, 17, 47, 50, 51, 58];

/// Keys each table tracks at most.
pub const MAX_TRACKED: usize = 50_000;

/// Brute-force services: (port, type).
const BRUTE_FORCE_SERVICES: &[(u16, &str)] = &[(22, SSH_BRUTE_FORCE), (3389, RDP_BRUTE_FORCE), (5985, WINRM_BRUTE_FORCE), (5986, WINRM_BRUTE_FORCE)];

/// The heuristics' memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeuristicState {
    /// (instance, type, role, remote) → the latest attempt times, sorted, at most the threshold.
    #[serde(default)]
    attempts: BTreeMap<String, Times>,
    /// (instance, remote host) → remote port → last time (Portscan).
    #[serde(default)]
    scanned_ports: BTreeMap<String, Distinct>,
    /// (instance, remote port) → remote host → last time (PortSweep).
    #[serde(default)]
    swept_hosts: BTreeMap<String, Distinct>,
    /// (instance, remote host, type) → minute → (packets, bytes).
    #[serde(default)]
    volume: BTreeMap<String, Volume>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Times {
    last_ms: i64,
    times: Vec<i64>,
    /// The earliest attempt of the current burst (attempts no further apart than the window),
    /// kept beyond the capped `times`: records read latest first still give the burst's start.
    #[serde(default)]
    burst_start_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Distinct {
    last_ms: i64,
    items: BTreeMap<String, i64>,
    /// As [`Times::burst_start_ms`].
    #[serde(default)]
    burst_start_ms: Option<i64>,
}

/// The start of the burst `time_ms` belongs to, given the burst so far: a record more than a
/// window after the latest one seen starts a new burst.
fn burst_start(start: Option<i64>, last_ms: i64, time_ms: i64, window_ms: i64) -> i64 {
    match start {
        Some(start) if time_ms <= last_ms.saturating_add(window_ms) => start.min(time_ms),
        _ => time_ms,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Volume {
    last_ms: i64,
    minutes: BTreeMap<i64, (u64, u64)>,
    /// As [`Times::burst_start_ms`].
    #[serde(default)]
    burst_start_ms: Option<i64>,
}

trait LastSeen {
    fn last_ms(&self) -> i64;
}
impl LastSeen for Times {
    fn last_ms(&self) -> i64 {
        self.last_ms
    }
}
impl LastSeen for Distinct {
    fn last_ms(&self) -> i64 {
        self.last_ms
    }
}
impl LastSeen for Volume {
    fn last_ms(&self) -> i64 {
        self.last_ms
    }
}

/// The entry for `key`, making room first when the table is full.
fn entry<T: LastSeen + Default>(table: &mut BTreeMap<String, T>, key: String, now_ms: i64, window_ms: i64) -> &mut T {
    if !table.contains_key(&key) && table.len() >= MAX_TRACKED {
        make_room(table, MAX_TRACKED, now_ms - window_ms, |v| v.last_ms());
    }
    table.entry(key).or_default()
}

impl HeuristicState {
    /// Keys held across all tables.
    pub fn tracked(&self) -> usize {
        self.attempts.len() + self.scanned_ports.len() + self.swept_hosts.len() + self.volume.len()
    }

    /// Whether a rule counts `record` by connection (a brute-force or scan candidate): such
    /// records are tracked in the connection table when their flags do not tell.
    pub fn counts_connections(record: &FlowRecord<'_>, sides: &Sides) -> bool {
        if record.protocol != Some(6) || !sides.from_opener() {
            return false;
        }
        let service_port = match sides.direction {
            ConnectionDirection::Inbound => sides.local_port,
            _ => sides.remote_port,
        };
        service_port.is_some_and(|p| BRUTE_FORCE_SERVICES.iter().any(|(port, _)| *port == p))
            || (sides.direction == ConnectionDirection::Outbound && record.packets.is_some_and(|p| p <= SCAN_MAX_PACKETS))
    }

    /// The heuristic rules' verdicts on one record (remote already known public and untrusted);
    /// `connection` says whether the record opens its connection.
    pub fn hits(&mut self, record: &FlowRecord<'_>, sides: &Sides, connection: InConnection, resource_key: &str, time_ms: i64) -> Vec<FlowHit> {
        let mut hits = Vec::new();
        if connection.opens {
            hits.extend(self.brute_force(record, sides, resource_key, time_ms));
            hits.extend(self.scans(record, sides, resource_key, time_ms));
        }
        // Floods count packets, not connections: every record adds its own packets.
        hits.extend(self.denial_of_service(record, sides, resource_key, time_ms));
        hits
    }

    fn brute_force(&mut self, record: &FlowRecord<'_>, sides: &Sides, resource_key: &str, time_ms: i64) -> Option<FlowHit> {
        if record.protocol != Some(6) || record.packets.is_some_and(|p| p > BRUTE_FORCE_MAX_PACKETS) {
            return None;
        }
        // The opening record of each connection (the caller checked): one per attempt.
        let (role, port) = match sides.direction {
            ConnectionDirection::Inbound => (ResourceRole::Target, sides.local_port?),
            ConnectionDirection::Outbound => (ResourceRole::Actor, sides.remote_port?),
            ConnectionDirection::Unknown => return None,
        };
        // A refused connection cannot try a password against the instance.
        if role == ResourceRole::Target && record.action != Some(FlowAction::Accept) {
            return None;
        }
        let finding_type = BRUTE_FORCE_SERVICES.iter().find(|(p, _)| *p == port).map(|(_, t)| *t)?;
        let key = format!("{resource_key}\u{1f}{finding_type}\u{1f}{}\u{1f}{}", role.as_str(), sides.remote_ip);
        let entry = entry(&mut self.attempts, key, time_ms, BRUTE_FORCE_WINDOW_MS);
        entry.burst_start_ms = Some(burst_start(entry.burst_start_ms, entry.last_ms, time_ms, BRUTE_FORCE_WINDOW_MS));
        entry.last_ms = entry.last_ms.max(time_ms);
        let at = entry.times.partition_point(|t| *t <= time_ms);
        entry.times.insert(at, time_ms);
        if entry.times.len() > BRUTE_FORCE_MIN_ATTEMPTS {
            entry.times.remove(0);
        }
        let span = entry.times.last()? - entry.times.first()?;
        if entry.times.len() < BRUTE_FORCE_MIN_ATTEMPTS || span > BRUTE_FORCE_WINDOW_MS {
            return None;
        }
        let mut hit = FlowHit::new(finding_type, RULE_BRUTE_FORCE);
        hit.role = role;
        let first = entry.burst_start_ms.unwrap_or(i64::MAX).min(*entry.times.first()?);
        hit.window_ms = Some((first, *entry.times.last()?));
        if role == ResourceRole::Actor {
            hit.severity = Some(ft::HIGH);
            (hit.title, hit.description) = actor_texts(finding_type);
        }
        hit.detail = Some(match role {
            ResourceRole::Target => format!(
                "{} connection attempts on port {port} from {} within {} minutes.",
                entry.times.len(),
                sides.remote_ip,
                BRUTE_FORCE_WINDOW_MS / 60_000
            ),
            ResourceRole::Actor => format!(
                "The instance made {} connection attempts to port {port} of {} within {} minutes.",
                entry.times.len(),
                sides.remote_ip,
                BRUTE_FORCE_WINDOW_MS / 60_000
            ),
        });
        Some(hit)
    }

    fn scans(&mut self, record: &FlowRecord<'_>, sides: &Sides, resource_key: &str, time_ms: i64) -> Vec<FlowHit> {
        let attempt =
            record.protocol == Some(6) && sides.direction == ConnectionDirection::Outbound && record.packets.is_some_and(|p| p <= SCAN_MAX_PACKETS);
        let Some(port) = sides.remote_port.filter(|_| attempt) else {
            return Vec::new();
        };
        let mut hits = Vec::new();
        let scan_key = format!("{resource_key}\u{1f}{}", sides.remote_ip);
        let scanned = entry(&mut self.scanned_ports, scan_key, time_ms, SCAN_WINDOW_MS);
        let ports = note_distinct(scanned, port.to_string(), time_ms, PORTSCAN_MIN_PORTS);
        if ports >= PORTSCAN_MIN_PORTS {
            let mut hit = FlowHit::new(PORTSCAN, RULE_PORTSCAN);
            hit.window_ms = span(scanned);
            hit.detail = Some(format!("The instance tried {ports} ports of {} within {} minutes.", sides.remote_ip, SCAN_WINDOW_MS / 60_000));
            hits.push(hit);
        }
        if !SWEEP_EXEMPT_PORTS.contains(&port) {
            let sweep_key = format!("{resource_key}\u{1f}{port}");
            let swept = entry(&mut self.swept_hosts, sweep_key, time_ms, SCAN_WINDOW_MS);
            let hosts = note_distinct(swept, sides.remote_ip.to_string(), time_ms, PORT_SWEEP_MIN_HOSTS);
            if hosts >= PORT_SWEEP_MIN_HOSTS {
                let mut hit = FlowHit::new(PORT_SWEEP, RULE_PORT_SWEEP);
                hit.window_ms = span(swept);
                hit.detail = Some(format!("The instance tried port {port} on {hosts} public hosts within {} minutes.", SCAN_WINDOW_MS / 60_000));
                hits.push(hit);
            }
        }
        hits
    }

    fn denial_of_service(&mut self, record: &FlowRecord<'_>, sides: &Sides, resource_key: &str, time_ms: i64) -> Option<FlowHit> {
        if sides.direction != ConnectionDirection::Outbound || sides.packets_inbound {
            return None;
        }
        let (packets, bytes, protocol) = (record.packets?, record.bytes.unwrap_or(0), record.protocol?);
        let finding_type = match (protocol, sides.remote_port) {
            (17, Some(53)) => DOS_DNS,
            (17, Some(port)) if TCP_TYPICAL_PORTS.contains(&port) => DOS_UDP_ON_TCP_PORTS,
            (17, _) => DOS_UDP,
            (6, _) => DOS_TCP,
            (p, _) if !USUAL_PROTOCOLS.contains(&p) => DOS_UNUSUAL_PROTOCOL,
            _ => return None,
        };
        let key = format!("{resource_key}\u{1f}{}\u{1f}{finding_type}", sides.remote_ip);
        let volume = entry(&mut self.volume, key, time_ms, DOS_WINDOW_MS);
        volume.burst_start_ms = Some(burst_start(volume.burst_start_ms, volume.last_ms, time_ms, DOS_WINDOW_MS));
        volume.last_ms = volume.last_ms.max(time_ms);
        let minute = time_ms.div_euclid(60_000);
        let slot = volume.minutes.entry(minute).or_default();
        slot.0 = slot.0.saturating_add(packets);
        slot.1 = slot.1.saturating_add(bytes);
        let newest = *volume.minutes.keys().next_back()?;
        let oldest_kept = newest - DOS_WINDOW_MS / 60_000 + 1;
        volume.minutes.retain(|m, _| *m >= oldest_kept);
        if minute < oldest_kept {
            return None;
        }
        let (total_packets, total_bytes) =
            volume.minutes.values().fold((0u64, 0u64), |(p, b), (sp, sb)| (p.saturating_add(*sp), b.saturating_add(*sb)));
        if total_packets < DOS_MIN_PACKETS || total_bytes / total_packets.max(1) > DOS_MAX_AVG_PACKET_BYTES {
            return None;
        }
        let mut hit = FlowHit::new(finding_type, RULE_DOS);
        hit.window_ms = Some((volume.burst_start_ms.unwrap_or(time_ms), volume.last_ms));
        hit.detail = Some(format!("The instance sent {total_packets} packets to {} within {} minutes.", sides.remote_ip, DOS_WINDOW_MS / 60_000));
        Some(hit)
    }
}

/// What an outbound brute force says: the instance is attacking, not attacked (the catalogue's
/// texts are the default, TARGET, role's).
fn actor_texts(finding_type: &str) -> (Option<&'static str>, Option<&'static str>) {
    let texts = match finding_type {
        SSH_BRUTE_FORCE => {
            ("EC2 instance is performing SSH brute force attacks.", "An EC2 instance is attempting an SSH brute force attack against a remote host.")
        }
        RDP_BRUTE_FORCE => {
            ("EC2 instance is performing RDP brute force attacks.", "An EC2 instance is attempting an RDP brute force attack against a remote host.")
        }
        WINRM_BRUTE_FORCE => (
            "EC2 instance is performing Windows Remote Management brute force attacks.",
            "An EC2 instance is attempting a WinRM brute force attack against a remote host.",
        ),
        _ => return (None, None),
    };
    (Some(texts.0), Some(texts.1))
}

/// The span of what a window holds: from the start of its burst to its latest item.
fn span(entry: &Distinct) -> Option<(i64, i64)> {
    let first = entry.burst_start_ms.unwrap_or(i64::MAX).min(*entry.items.values().min()?);
    Some((first, *entry.items.values().max()?))
}

/// Notes `item` at `time_ms`, forgets items older than the window, keeps at most `cap` items (the
/// most recent), and returns how many distinct items the window holds.
fn note_distinct(entry: &mut Distinct, item: String, time_ms: i64, cap: usize) -> usize {
    entry.burst_start_ms = Some(burst_start(entry.burst_start_ms, entry.last_ms, time_ms, SCAN_WINDOW_MS));
    entry.last_ms = entry.last_ms.max(time_ms);
    let seen = entry.items.entry(item).or_insert(time_ms);
    *seen = (*seen).max(time_ms);
    let horizon = entry.last_ms - SCAN_WINDOW_MS;
    entry.items.retain(|_, t| *t >= horizon);
    while entry.items.len() > cap {
        let Some(oldest) = entry.items.iter().min_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0))).map(|(k, _)| k.clone()) else {
            break;
        };
        entry.items.remove(&oldest);
    }
    if time_ms < horizon {
        return 0;
    }
    entry.items.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::connection::{ConnectionTable, sides};
    use crate::flow::record::{FlowLayout, FlowLine};

    const T0: i64 = 1_709_280_000;

    /// Hits of each type over `lines`, with the union of their windows: (type, hits, first, last).
    fn windows(lines: &[String]) -> Vec<(&'static str, usize, i64, i64)> {
        let layout = FlowLayout::default();
        let mut state = HeuristicState::default();
        let mut connections = ConnectionTable::default();
        let mut out: Vec<(&'static str, usize, i64, i64)> = Vec::new();
        for line in lines {
            let Ok(FlowLine::Record(record)) = layout.parse(line) else { panic!("{line}") };
            let sides = sides(&record, None).unwrap();
            let connection = connections.classify(&record, &sides, "Instance:i-1", true);
            for hit in state.hits(&record, &sides, connection, "Instance:i-1", record.event_time_ms().unwrap()) {
                let (first, last) = hit.window_ms.expect("windowed");
                match out.iter_mut().find(|(t, ..)| *t == hit.finding_type) {
                    Some(seen) => *seen = (seen.0, seen.1 + 1, seen.2.min(first), seen.3.max(last)),
                    None => out.push((hit.finding_type, 1, first, last)),
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_burst_read_in_any_order_spans_the_same_window() {
        // Brute force, a port scan and a flood.
        let n = BRUTE_FORCE_MIN_ATTEMPTS as i64 + 6;
        let mut lines: Vec<String> = (0..n)
            .map(|i| {
                let (start, port) = (T0 + 20 * i, 40000 + i);
                format!("2 1 eni-1 185.220.101.50 10.0.0.5 {port} 22 6 4 240 {start} {} ACCEPT OK", start + 5)
            })
            .collect();
        lines.extend((0..PORTSCAN_MIN_PORTS as i64 + 3).map(|k| {
            let start = T0 + 3 * k;
            format!("2 1 eni-1 10.0.0.5 45.95.147.10 5{k:04} {} 6 1 60 {start} {} ACCEPT OK", 2000 + k, start + 1)
        }));
        let packets = DOS_MIN_PACKETS / 2 + 1;
        lines.extend((0..2).map(|m| {
            let (start, bytes) = (T0 + 60 * m, packets * 60);
            format!("2 1 eni-1 10.0.0.5 104.244.72.115 50000 27015 17 {packets} {bytes} {start} {} ACCEPT OK", start + 59)
        }));
        let forward = windows(&lines);
        let first_attempt_end = (T0 + 5) * 1000;
        let last_attempt_end = (T0 + 20 * (n - 1) + 5) * 1000;
        assert_eq!(forward[2], (SSH_BRUTE_FORCE, 7, first_attempt_end, last_attempt_end));
        assert_eq!(forward[1].0, PORTSCAN);
        assert_eq!(forward[0], (DOS_UDP, 1, (T0 + 59) * 1000, (T0 + 60 + 59) * 1000));
        // Latest first, and the second half before the first (two files read in parallel).
        let reversed: Vec<String> = lines.iter().rev().cloned().collect();
        let (a, b) = lines.split_at(lines.len() / 2);
        let swapped: Vec<String> = b.iter().chain(a).cloned().collect();
        assert_eq!(windows(&reversed), forward);
        assert_eq!(windows(&swapped), forward);
    }
}
