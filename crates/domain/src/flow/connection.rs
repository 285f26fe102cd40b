//! What a record says about its connection: which side is the instance, who opened the
//! connection, and whether the record opens the connection or continues it.
//!
//! Flow logs write one record per direction and aggregation interval (1 or 10 minutes): a
//! long-lived connection is many records of one 5-tuple (protocol, local address and port,
//! remote address and port). Rules that count connections count each once:
//!
//! * with `tcp-flags` (v3+ formats), the opener's record that carries SYN opens the connection;
//!   its later records (no SYN: the flags OR what was seen within the interval) continue it;
//! * without flags, the first record of a 5-tuple opens it, and a record of that 5-tuple no more
//!   than [`CONNECTION_IDLE_MS`] from the connection's known span continues it, whichever order
//!   the records arrive in. Record times say nothing more: `start` and `end` bound the capture
//!   window, so a 60-second record may hold a 2-second connection.
use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::bounded::make_room;
use super::record::{FlowDirection, FlowRecord};
use crate::intel::is_publicly_routable;
use crate::inventory::owns_address;
use crate::model;

/// A record of a 5-tuple this close to the connection's known span continues it. Longer than
/// the 10-minute aggregation interval and the NAT gateway's 350-second idle timeout, so an idle
/// shell with keep-alives stays one connection; short enough that a source port reused later
/// is a new one.
pub const CONNECTION_IDLE_MS: i64 = 60 * 60_000;
/// Connections tracked at once; the least recently seen are forgotten first.
pub const MAX_CONNECTIONS: usize = 50_000;

const TCP: u8 = 6;
const FLAG_SYN: u16 = 2;
const FLAG_ACK: u16 = 16;

/// `portName` for well-known ports; anything else is `Unknown` (as in GuardDuty samples).
pub fn port_name(port: u16) -> &'static str {
    match port {
        20 | 21 => "FTP",
        22 => "SSH",
        23 => "TELNET",
        25 => "SMTP",
        53 => "DNS",
        80 => "HTTP",
        110 => "POP3",
        123 => "NTP",
        143 => "IMAP",
        161 => "SNMP",
        389 => "LDAP",
        443 => "HTTPS",
        445 => "SMB",
        465 | 587 => "SMTPS",
        993 => "IMAPS",
        995 => "POP3S",
        1433 => "MSSQL",
        3306 => "MYSQL",
        3389 => "RDP",
        5432 => "POSTGRESQL",
        5985 | 5986 => "WINRM",
        6379 => "REDIS",
        9200 | 9300 => "ELASTICSEARCH",
        27017 => "MONGODB",
        _ => "Unknown",
    }
}

/// TCP, UDP, SCTP, UDP-Lite: the protocols whose flow records carry ports.
fn has_ports(protocol: u8) -> bool {
    matches!(protocol, 6 | 17 | 132 | 136)
}

fn is_named_port(port: u16) -> bool {
    port_name(port) != "Unknown"
}

/// `connectionDirection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionDirection {
    /// The remote host opened the connection.
    Inbound,
    Outbound,
    Unknown,
}

impl ConnectionDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionDirection::Inbound => "INBOUND",
            ConnectionDirection::Outbound => "OUTBOUND",
            ConnectionDirection::Unknown => "UNKNOWN",
        }
    }
}

/// A record seen from the instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Sides {
    pub local_ip: IpAddr,
    pub remote_ip: IpAddr,
    pub local_port: Option<u16>,
    pub remote_port: Option<u16>,
    /// The packets travel remote → local.
    pub packets_inbound: bool,
    pub direction: ConnectionDirection,
}

impl Sides {
    /// The record carries the packets of the side that opened the connection.
    pub fn from_opener(&self) -> bool {
        match self.direction {
            ConnectionDirection::Inbound => self.packets_inbound,
            ConnectionDirection::Outbound => !self.packets_inbound,
            ConnectionDirection::Unknown => false,
        }
    }
}

/// Local and remote sides of `record`, or `None` when they cannot be told apart.
pub fn sides(record: &FlowRecord<'_>, instance: Option<&model::InstanceDetails>) -> Option<Sides> {
    let (src, dst) = (record.srcaddr?, record.dstaddr?);
    let local_is_dst = match record.flow_direction {
        Some(FlowDirection::Ingress) => true,
        Some(FlowDirection::Egress) => false,
        None => match instance.map(|i| (owns_address(i, src), owns_address(i, dst))) {
            Some((false, true)) => true,
            Some((true, false)) => false,
            _ => match (is_publicly_routable(src), is_publicly_routable(dst)) {
                (true, false) => true,
                (false, true) => false,
                _ => return None,
            },
        },
    };
    let (local_ip, remote_ip, mut local_port, mut remote_port) = if local_is_dst {
        (record.pkt_dstaddr.unwrap_or(dst), src, record.dstport, record.srcport)
    } else {
        (record.pkt_srcaddr.unwrap_or(src), dst, record.srcport, record.dstport)
    };
    // Flow logs write 0 in the port fields of protocols without ports (ICMP, IGMP, ...): no port
    // details for those, rather than a port 0.
    if !record.protocol.is_none_or(has_ports) {
        (local_port, remote_port) = (None, None);
    }
    let packets_inbound = local_is_dst;
    let src_opened = opener_is_src(record);
    let direction = match src_opened {
        Some(src_opened) if src_opened == packets_inbound => ConnectionDirection::Inbound,
        Some(_) => ConnectionDirection::Outbound,
        None if packets_inbound => ConnectionDirection::Inbound,
        None => ConnectionDirection::Outbound,
    };
    Some(Sides { local_ip, remote_ip, local_port, remote_port, packets_inbound, direction })
}

/// True when the record's source opened the connection, false when its destination did, `None`
/// when the record does not tell.
fn opener_is_src(record: &FlowRecord<'_>) -> Option<bool> {
    if record.protocol == Some(TCP)
        && let Some(flags) = record.tcp_flags
    {
        if flags & (FLAG_SYN | FLAG_ACK) == FLAG_SYN | FLAG_ACK {
            return Some(false);
        }
        if flags & FLAG_SYN == FLAG_SYN {
            return Some(true);
        }
    }
    let (sport, dport) = (record.srcport?, record.dstport?);
    let is_server = |p: u16| p < 1024 || is_named_port(p);
    match (is_server(sport), is_server(dport)) {
        (false, true) => Some(true),
        (true, false) => Some(false),
        _ => None,
    }
}

/// Whether a TCP record's flags carry a SYN; `None` when the format has no `tcp-flags` (or the
/// record is not TCP).
fn syn_flag(record: &FlowRecord<'_>) -> Option<bool> {
    let flags = record.tcp_flags.filter(|_| record.protocol == Some(TCP))?;
    Some(flags & FLAG_SYN == FLAG_SYN)
}

/// The record's flags tell whether it opens its connection: no connection table needed.
pub fn flags_tell(record: &FlowRecord<'_>) -> bool {
    syn_flag(record).is_some()
}

/// What one record is within its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InConnection {
    /// The first record seen of its connection, in either direction: what connection findings
    /// from threat lists and feeds count.
    pub first_seen: bool,
    /// The opener's record that opens the connection: a connection attempt, what brute force,
    /// scans, sweeps and port probes count.
    pub opens: bool,
}

/// Connections seen lately, by 5-tuple: bounded, serializable with the rest of flow state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionTable {
    /// 5-tuple digest → the connection's known span.
    #[serde(default)]
    connections: BTreeMap<u64, Span>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Span {
    first_ms: i64,
    last_ms: i64,
    /// Directions seen: [`PACKETS_IN`] and [`PACKETS_OUT`] bits.
    directions: u8,
}

const PACKETS_IN: u8 = 1;
const PACKETS_OUT: u8 = 2;

impl ConnectionTable {
    /// Connections tracked.
    pub fn tracked(&self) -> usize {
        self.connections.len()
    }

    /// What `record` is within its connection. Only `track`ed records are looked up and noted
    /// (the caller tracks what some rule counts by connection, keeping the table small); an
    /// untracked record counts as the first of its connection.
    pub fn classify(&mut self, record: &FlowRecord<'_>, sides: &Sides, resource_key: &str, track: bool) -> InConnection {
        let syn = syn_flag(record);
        let from_opener = sides.from_opener();
        let (first_seen, direction_first) =
            if track { self.note(record, sides, resource_key, from_opener && syn == Some(true)) } else { (true, true) };
        let opens = from_opener
            && match syn {
                Some(syn) => syn,
                None => direction_first,
            };
        InConnection { first_seen, opens }
    }

    /// Notes the record; returns whether it is the first seen of its connection, and the first
    /// of its direction. `new_by_flags`: the opener's SYN, a new connection when it follows the
    /// known span (a source port used again).
    fn note(&mut self, record: &FlowRecord<'_>, sides: &Sides, resource_key: &str, new_by_flags: bool) -> (bool, bool) {
        let Some(end_ms) = record.event_time_ms() else {
            return (true, true);
        };
        let start_ms = record.start_ms().unwrap_or(end_ms).min(end_ms);
        let direction = if sides.packets_inbound { PACKETS_IN } else { PACKETS_OUT };
        let key = five_tuple_digest(record, sides, resource_key);
        let fresh = Span { first_ms: start_ms, last_ms: end_ms, directions: direction };
        match self.connections.get_mut(&key) {
            Some(span)
                if start_ms <= span.last_ms.saturating_add(CONNECTION_IDLE_MS)
                    && end_ms.saturating_add(CONNECTION_IDLE_MS) >= span.first_ms
                    && !(new_by_flags && start_ms > span.last_ms) =>
            {
                let direction_first = span.directions & direction == 0;
                span.first_ms = span.first_ms.min(start_ms);
                span.last_ms = span.last_ms.max(end_ms);
                span.directions |= direction;
                (false, direction_first)
            }
            Some(span) => {
                *span = fresh;
                (true, true)
            }
            None => {
                if self.connections.len() >= MAX_CONNECTIONS {
                    make_room(&mut self.connections, MAX_CONNECTIONS, end_ms - CONNECTION_IDLE_MS, |s| s.last_ms);
                }
                self.connections.insert(key, fresh);
                (true, true)
            }
        }
    }
}

/// FNV-1a over the connection's identity: stable across builds and Rust versions, so persisted
/// state keeps its meaning; 64 bits over at most [`MAX_CONNECTIONS`] keys make a collision (two
/// connections taken for one) negligible.
fn five_tuple_digest(record: &FlowRecord<'_>, sides: &Sides, resource_key: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash = (hash ^ u64::from(*b)).wrapping_mul(PRIME);
        }
    };
    let ip_bytes = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    feed(resource_key.as_bytes());
    feed(&[0x1f, record.protocol.unwrap_or(0)]);
    feed(&ip_bytes(sides.local_ip));
    feed(&sides.local_port.unwrap_or(0).to_be_bytes());
    feed(&ip_bytes(sides.remote_ip));
    feed(&sides.remote_port.unwrap_or(0).to_be_bytes());
    hash
}
