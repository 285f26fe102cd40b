//! A set of IPv4/IPv6 networks with lookup faster than a scan (spec: 6 × 250,000 entries).
use std::net::IpAddr;

/// An address with a prefix length (`/32` or `/128` for a single address), host bits zeroed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;
    /// `198.51.100.7`, `198.51.100.0/24`, `2001:db8::/32`.
    fn from_str(_s: &str) -> Result<Self, Self::Err> {
        todo!("intel helper")
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Immutable once built; `contains` is O(log n).
#[derive(Debug, Clone, Default)]
pub struct IpSet {}

impl IpSet {
    pub fn from_nets(_nets: impl IntoIterator<Item = IpNet>) -> Self {
        todo!("intel helper")
    }
    pub fn contains(&self, _ip: IpAddr) -> bool {
        todo!("intel helper")
    }
    pub fn is_empty(&self) -> bool {
        todo!("intel helper")
    }
}
