//! Threat intelligence: IP prefix sets, the six GuardDuty list formats, operator feeds.
//! Pure data structures and parsers; reading files and URLs is the caller's job.
use std::net::IpAddr;

pub mod aws_ranges;
pub mod formats;
pub mod ipset;

pub use aws_ranges::{AwsIpRanges, AwsRangesError, parse_aws_ip_ranges};
pub use formats::{ListError, ListFormat, ParsedList, parse_list};
pub use ipset::{IpNet, IpSet};

/// IPv4 networks that are not on the public internet (IANA special-purpose registry, RFC 6890
/// and successors), with the name of each. The broadcast address comes before 240.0.0.0/4 so
/// that it reports its own name.
pub const NON_PUBLIC_V4: &[(&str, [u8; 4], u8)] = &[
    ("this network (RFC 1122)", [0, 0, 0, 0], 8),
    ("private-use (RFC 1918)", [10, 0, 0, 0], 8),
    ("shared address space / CGNAT (RFC 6598)", [100, 64, 0, 0], 10),
    ("loopback (RFC 1122)", [127, 0, 0, 0], 8),
    ("link-local (RFC 3927)", [169, 254, 0, 0], 16),
    ("private-use (RFC 1918)", [172, 16, 0, 0], 12),
    ("IETF protocol assignments (RFC 6890)", [192, 0, 0, 0], 24),
    ("documentation TEST-NET-1 (RFC 5737)", [192, 0, 2, 0], 24),
    ("private-use (RFC 1918)", [192, 168, 0, 0], 16),
    ("benchmarking (RFC 2544)", [198, 18, 0, 0], 15),
    ("documentation TEST-NET-2 (RFC 5737)", [198, 51, 100, 0], 24),
    ("documentation TEST-NET-3 (RFC 5737)", [203, 0, 113, 0], 24),
    ("multicast (RFC 5771)", [224, 0, 0, 0], 4),
    ("limited broadcast (RFC 919)", [255, 255, 255, 255], 32),
    ("reserved for future use (RFC 1112)", [240, 0, 0, 0], 4),
];

/// IPv6 networks that are not on the public internet. IPv4-mapped addresses (`::ffff:0:0/96`)
/// are not listed: they are judged by their IPv4 address.
pub const NON_PUBLIC_V6: &[(&str, [u16; 8], u8)] = &[
    ("unspecified (RFC 4291)", [0, 0, 0, 0, 0, 0, 0, 0], 128),
    ("loopback (RFC 4291)", [0, 0, 0, 0, 0, 0, 0, 1], 128),
    ("local-use IPv4/IPv6 translation (RFC 8215)", [0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
    ("discard-only (RFC 6666)", [0x100, 0, 0, 0, 0, 0, 0, 0], 64),
    ("benchmarking (RFC 5180)", [0x2001, 2, 0, 0, 0, 0, 0, 0], 48),
    ("documentation (RFC 3849)", [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
    ("documentation (RFC 9637)", [0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
    ("unique local (RFC 4193)", [0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
    ("link-local (RFC 4291)", [0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
    ("site-local, deprecated (RFC 3879)", [0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
    ("multicast (RFC 4291)", [0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
];

/// The name of the special-purpose range `ip` falls in, or `None` for a public address.
/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
pub fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(_) => NON_PUBLIC_V4.iter().find(|(_, octets, prefix)| in_net(ip, IpAddr::from(*octets), *prefix)).map(|(name, _, _)| *name),
        IpAddr::V6(_) => NON_PUBLIC_V6.iter().find(|(_, segments, prefix)| in_net(ip, IpAddr::from(*segments), *prefix)).map(|(name, _, _)| *name),
    }
}

fn in_net(ip: IpAddr, base: IpAddr, prefix: u8) -> bool {
    IpNet::new(base, prefix).is_some_and(|net| net.contains(ip))
}

/// True for addresses on the public internet: threat and trusted lists apply only to these
/// (docs/threat-lists.md). Private, loopback, link-local, CGNAT, documentation, multicast... are not.
pub fn is_publicly_routable(ip: IpAddr) -> bool {
    non_public_range(ip).is_none()
}
