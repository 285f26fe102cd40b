//! IpSet against a linear scan, the routability table, and a threat-list-sized build.
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vedette_domain::intel::{IpNet, IpSet, is_publicly_routable, non_public_range};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// The same address in its other spelling: IPv4 ↔ IPv4-mapped IPv6.
fn other_spelling(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
    }
}

/// The reference: does any network hold the address under either spelling?
fn naive_contains(nets: &[IpNet], ip: IpAddr) -> bool {
    let spellings = [Some(ip), other_spelling(ip)];
    nets.iter().any(|n| spellings.iter().flatten().any(|&a| n.contains(a)))
}

/// IPv4 networks mostly crowded into 10.0.0.0/16 so that they overlap and touch, some anywhere
/// (so that the index spans the whole space).
fn v4_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        4 => (0u32..=0xFFFF, 16u8..=32).prop_map(|(low, prefix)| {
            IpNet::new(IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | low)), prefix).unwrap()
        }),
        1 => (any::<u32>(), 0u8..=32).prop_map(|(addr, prefix)| {
            IpNet::new(IpAddr::V4(Ipv4Addr::from(addr)), prefix).unwrap()
        }),
    ]
}

/// IPv6 networks near 2001:db8::, plus some in ::ffff:0:0/96 and some wide ones covering it.
fn v6_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (0u128..=0xFFFF, 112u8..=128).prop_map(|(low, prefix)| {
            let base = 0x2001_0db8_u128 << 96;
            IpNet::new(IpAddr::V6(Ipv6Addr::from(base | low)), prefix).unwrap()
        }),
        (0u32..=0xFFFF, 112u8..=128).prop_map(|(low, prefix)| {
            let mapped = Ipv4Addr::from(0x0A00_0000 | low).to_ipv6_mapped();
            IpNet::new(IpAddr::V6(mapped), prefix).unwrap()
        }),
        (0u8..=96).prop_map(|prefix| IpNet::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), prefix).unwrap()),
    ]
}

fn probe() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u32..=0x1_FFFF).prop_map(|low| IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + low))),
        (0u32..=0x1_FFFF).prop_map(|low| IpAddr::V6(Ipv4Addr::from(0x0A00_0000 + low).to_ipv6_mapped())),
        (0u128..=0x1_FFFF).prop_map(|low| IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) + low))),
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn contains_agrees_with_a_linear_scan(
        nets in proptest::collection::vec(prop_oneof![3 => v4_net(), 1 => v6_net()], 0..60),
        probes in proptest::collection::vec(probe(), 1..40),
    ) {
        let set = IpSet::from_nets(nets.iter().copied());
        for p in probes {
            prop_assert_eq!(set.contains(p), naive_contains(&nets, p), "probe {}", p);
        }
        // Every network's first and last address is inside.
        for n in &nets {
            prop_assert!(set.contains(n.addr));
        }
        let mut distinct = nets.clone();
        distinct.sort();
        distinct.dedup();
        prop_assert_eq!(set.len(), distinct.len());
        prop_assert_eq!(set.is_empty(), nets.is_empty());
        prop_assert!(set.range_count() <= 2 * set.len());
    }
}

proptest! {
    /// Stores keep entries as text (`Display`) and read them back (`FromStr`).
    #[test]
    fn nets_round_trip_through_text(net in prop_oneof![v4_net(), v6_net()]) {
        prop_assert_eq!(net.to_string().parse::<IpNet>(), Ok(net));
    }
}

#[test]
fn merging_keeps_boundaries_exact() {
    let set = IpSet::from_nets([
        net("198.51.100.0/25"),
        net("198.51.100.128/25"), // adjacent: merges with the one before
        net("198.51.100.64/26"),  // inside: absorbed
        net("203.0.113.7"),
        net("2001:db8::/127"),
    ]);
    assert_eq!(set.len(), 5);
    assert_eq!(set.range_count(), 3);
    for inside in ["198.51.100.0", "198.51.100.255", "203.0.113.7", "2001:db8::1", "::ffff:198.51.100.200"] {
        assert!(set.contains(ip(inside)), "{inside}");
    }
    for outside in ["198.51.99.255", "198.51.101.0", "203.0.113.6", "203.0.113.8", "2001:db8::2", "::"] {
        assert!(!set.contains(ip(outside)), "{outside}");
    }
    let empty = IpSet::from_nets([]);
    assert!(empty.is_empty());
    assert!(!empty.contains(ip("0.0.0.0")));
    assert!(!empty.contains(ip("::")));
}

#[test]
fn ipv4_mapped_networks_match_ipv4_lookups() {
    let set = IpSet::from_nets([net("::ffff:198.51.100.0/120")]);
    assert!(set.contains(ip("198.51.100.9")));
    assert!(set.contains(ip("::ffff:198.51.100.9")));
    assert!(!set.contains(ip("198.51.101.9")));
    let set = IpSet::from_nets([net("198.51.100.9")]);
    assert!(set.contains(ip("::ffff:198.51.100.9")));
    assert!(!set.contains(ip("::198.51.100.9")), "IPv4-compatible addresses are not mapped ones");
}

/// A threat list at GuardDuty's limit builds and answers (timing lives in bench/, not here).
#[test]
fn a_quarter_million_entries_build() {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let nets: Vec<IpNet> = (0..250_000)
        .map(|i| {
            let r = next();
            if i % 10 == 0 {
                let addr = Ipv6Addr::from((u128::from(r) << 64) | u128::from(next()));
                IpNet::new(IpAddr::V6(addr), 48 + (r % 81) as u8).unwrap()
            } else {
                IpNet::new(IpAddr::V4(Ipv4Addr::from(r as u32)), 20 + (r >> 40) as u8 % 13).unwrap()
            }
        })
        .collect();
    let set = IpSet::from_nets(nets.iter().copied());
    assert!(set.len() > 240_000);
    for n in nets.iter().step_by(997) {
        assert!(set.contains(n.addr));
    }
    for n in nets.iter().step_by(1009).filter(|n| n.addr.is_ipv4()) {
        // The last address of each network is inside too.
        let IpAddr::V4(a) = n.addr else { continue };
        let last = u32::from(a) | u32::MAX.checked_shr(u32::from(n.prefix)).unwrap_or(0);
        assert!(set.contains(IpAddr::V4(Ipv4Addr::from(last))));
    }
}

#[test]
fn routability_table() {
    let private = [
        ("0.1.2.3", "this network"),
        ("10.20.30.40", "private-use"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.255", "CGNAT"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("172.16.0.1", "private-use"),
        ("172.31.255.255", "private-use"),
        ("192.0.0.8", "IETF protocol assignments"),
        ("192.0.2.1", "TEST-NET-1"),
        ("192.168.1.1", "private-use"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("198.51.100.1", "TEST-NET-2"),
        ("203.0.113.1", "TEST-NET-3"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("2001:2::1", "benchmarking"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("fe80::1", "link-local"),
        ("febf::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private-use"),
        ("::ffff:127.0.0.1", "loopback"),
    ];
    for (addr, name) in private {
        assert!(!is_publicly_routable(ip(addr)), "{addr}");
        let range = non_public_range(ip(addr)).unwrap();
        assert!(range.contains(name), "{addr}: {range}");
    }
    let public = [
        "1.1.1.1",
        "8.8.8.8",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.1",
        "169.253.255.255",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.255",
        "192.0.3.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "198.51.99.255",
        "203.0.112.255",
        "223.255.255.255",
        "54.20.175.217",
        "2600:1f18::1",
        "2a00:1450::1",
        "2001:db9::1",
        "fbff::1",
        "::ffff:8.8.8.8",
    ];
    for addr in public {
        assert!(is_publicly_routable(ip(addr)), "{addr}: {:?}", non_public_range(ip(addr)));
    }
}
