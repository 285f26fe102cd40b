//! Threat intelligence: IP prefix sets, the six GuardDuty list formats, operator feeds.
//! Pure data structures and parsers; reading files and URLs is the caller's job.
use std::net::IpAddr;

pub mod formats;
pub mod ipset;

pub use formats::{parse_list, ListError, ListFormat, ParsedList};
pub use ipset::{IpNet, IpSet};

/// True for addresses on the public internet: threat and trusted lists apply only to these
/// (spec §5). Private, loopback, link-local, CGNAT, documentation, multicast... are not.
pub fn is_publicly_routable(_ip: IpAddr) -> bool {
    todo!("intel helper")
}
