//! Threat-list and trusted-IP-list files in GuardDuty's six formats.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vedette_domain::intel::{IpNet, IpSet, ListFormat, is_publicly_routable, parse_list};

/// `data` is `<format byte><file>`: the first byte picks the format (modulo six), the rest is the
/// list file. Properties, besides not crashing: the bad-line summary is consistent (never more
/// line numbers than bad lines, each a line of the file); the set built from the entries contains the
/// first and last address of every entry.
pub fn intel_list(data: &[u8]) {
    let Some((&selector, file)) = data.split_first() else { return };
    let format = ListFormat::ALL[usize::from(selector) % ListFormat::ALL.len()];
    let Ok(parsed) = parse_list(format, file) else { return };
    assert!(parsed.first_bad_lines.len() as u64 <= parsed.bad_lines, "{format:?}: {parsed:?}");
    // In discovery order, which need not be file order (a STIX value is judged at its end tag).
    let lines = file.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    assert!(parsed.first_bad_lines.iter().all(|n| (1..=lines).contains(n)), "{format:?}: {:?} of {lines}", parsed.first_bad_lines);
    let set = IpSet::from_nets(parsed.entries.iter().copied());
    for net in &parsed.entries {
        for ip in [net.addr, last_address(net)] {
            assert!(set.contains(ip), "{format:?}: {ip} of {net} is not in the set");
            let _ = is_publicly_routable(ip);
        }
    }
}

fn last_address(net: &IpNet) -> IpAddr {
    let host_bits = |bits: u32| bits.saturating_sub(u32::from(net.prefix));
    match net.addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shr(32 - host_bits(32)).filter(|_| host_bits(32) > 0).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) | mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shr(128 - host_bits(128)).filter(|_| host_bits(128) > 0).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) | mask))
        }
    }
}
