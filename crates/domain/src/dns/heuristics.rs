//! The stateful DNS heuristics (docs/findings.md#dns-types, class H): Trojan:EC2/DGADomainRequest.B and
//! Trojan:EC2/DNSDataExfiltration. AWS does not publish its thresholds; ours are the named
//! constants below, chosen so that ordinary traffic (CDN-heavy clients, software updates, AWS
//! service endpoints, long but word-like names) raises nothing — see tests/dns_heuristics.rs.
//!
//! State ([`DnsHeuristics`]) is serde-serializable (for `serve --watch` to persist) and bounded:
//! at most [`MAX_TRACKED_KEYS`] windows per heuristic, each holding at most its threshold's worth
//! of 64-bit hashes. Windows are tumbling, aligned on event time (not arrival), so a day of logs
//! gives the same counts whether it arrives as one file or many, in any order within
//! [`WINDOW_GRACE`] windows of the newest event seen.
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::detect::{DnsContext, DnsHit, Query, build_dns_occurrence};
use super::domain::has_private_suffix;
use super::record::QueryLogRecord;
use crate::Occurrence;

pub const DGA_B: &str = "Trojan:EC2/DGADomainRequest.B";
pub const DNS_EXFILTRATION: &str = "Trojan:EC2/DNSDataExfiltration";

/// Shortest registrable label (the label left of the public suffix) judged for DGA: shorter
/// labels (`bit.ly`, `t.co`, `x.com`) carry too little signal and many real ones look random.
pub const DGA_MIN_LABEL_LEN: usize = 10;
/// Points ([`dga_score`]) from which a label looks algorithmically generated. Each of these
/// gives a point: vowel share under 30 % (English words ≈ 40 %), under 20 % (a second point),
/// a run of 5+ consonants (6+: a second point; English tops out near 5, as in `lengthwise`), character entropy of 3.3+ bits, letters mixed
/// with 20–80 % digits, 16+ characters. Real names rarely pass 2; random ones usually reach 4.
pub const DGA_MIN_SCORE: u32 = 4;
/// Distinct generated-looking registrable domains one instance must query within
/// [`DGA_WINDOW_MS`]: one odd name is a typo or a tracker; malware cycles through many until
/// one resolves.
pub const DGA_MIN_DISTINCT_DOMAINS: usize = 5;
pub const DGA_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Shortest subdomain part (the name left of the registrable domain, dots excluded) that can
/// carry exfiltrated data: tunnels pack 30–60 encoded bytes per label; CDN and hash host names
/// (`d3c33hcgiwev3.cloudfront.net`) stay under 20.
pub const EXFIL_MIN_SUBDOMAIN_LEN: usize = 20;
/// Character entropy (bits) a subdomain part needs to count: hex and base32/64 encodings reach
/// 3.7–4.5 over 20+ characters; word-like names (`my-app-frontend-prod`) stay lower.
pub const EXFIL_MIN_SUBDOMAIN_ENTROPY: f64 = 3.6;
/// Distinct such subdomains under one registrable domain, from one instance, within
/// [`EXFIL_WINDOW_MS`]: 40 × 20+ characters is at least 800 bytes moved out in queries alone.
pub const EXFIL_MIN_DISTINCT_SUBDOMAINS: usize = 40;
pub const EXFIL_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Most windows each heuristic tracks at once; past it, new keys are not tracked until older
/// windows expire (memory stays bounded whatever the input).
pub const MAX_TRACKED_KEYS: usize = 100_000;
/// Windows this many window lengths older than the newest event seen are dropped, and events
/// that old are too late to count: 143 ten-minute windows, just under a day (yesterday's
/// windows go when today's events arrive). Ingest workers read files in
/// parallel, so events arrive hours out of order when a day comes as many files (one worker at
/// 04:00 while the other is at 14:00); a shorter grace made such a day miss what one file of it
/// raises. Memory stays bounded by [`MAX_TRACKED_KEYS`] whatever the grace: windows open only
/// for generated-looking names and long high-entropy subdomains.
pub const WINDOW_GRACE: i64 = 143;

/// Shannon entropy of `s`'s characters, in bits per character.
pub fn char_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / n).map(|p| -p * p.log2()).sum()
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// How generated a registrable label looks (0 for labels shorter than [`DGA_MIN_LABEL_LEN`]);
/// see [`DGA_MIN_SCORE`] for the points.
pub fn dga_score(label: &str) -> u32 {
    let bytes = label.as_bytes();
    if bytes.len() < DGA_MIN_LABEL_LEN {
        return 0;
    }
    let letters = bytes.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    let vowels = bytes.iter().filter(|b| is_vowel(**b)).count();
    let mut run = 0;
    let mut longest_run = 0;
    for &b in bytes {
        if b.is_ascii_alphabetic() && !is_vowel(b) {
            run += 1;
            longest_run = longest_run.max(run);
        } else {
            run = 0;
        }
    }
    let mut score = 0;
    if letters > 0 {
        let vowel_share = vowels as f64 / letters as f64;
        score += u32::from(vowel_share < 0.30) + u32::from(vowel_share < 0.20);
    }
    score += u32::from(longest_run >= 5) + u32::from(longest_run >= 6);
    score += u32::from(char_entropy(label) >= 3.3);
    let digit_share = digits as f64 / bytes.len() as f64;
    score += u32::from(letters > 0 && (0.2..=0.8).contains(&digit_share));
    score += u32::from(bytes.len() >= 16);
    score
}

/// The label left of the public suffix in a registrable domain (`example` of `example.co.uk`).
pub fn registrable_label(registrable: &str) -> &str {
    registrable.split('.').next().unwrap_or_default()
}

/// Deterministic across runs and builds (state is persisted): FNV-1a.
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// One tumbling window of one key: the distinct items seen (hashes, capped at the threshold)
/// and whether it already raised its finding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub start_ms: i64,
    pub distinct: BTreeSet<u64>,
    pub fired: bool,
    /// The earliest event counted in the window: the finding's `eventFirstSeen`.
    #[serde(default)]
    pub first_ms: Option<i64>,
}

/// Windows keyed by `"{key}\u{1f}{window start ms}"` (a string: the state is JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Windows {
    windows: BTreeMap<String, Window>,
    /// The newest event time seen (drives expiry).
    newest_ms: i64,
    /// Start of the newest window at the last expiry sweep: one sweep per window length of
    /// event time, not one per event.
    #[serde(default)]
    swept_ms: i64,
}

impl Windows {
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Adds `item` to `key`'s window at `time_ms`; when that makes the window reach `threshold`
    /// distinct items for the first time, the time of the earliest event it counted.
    fn add(&mut self, key: &str, time_ms: i64, window_ms: i64, item: u64, threshold: usize) -> Option<i64> {
        let start = time_ms - time_ms.rem_euclid(window_ms);
        if time_ms > self.newest_ms {
            self.newest_ms = time_ms;
            if start > self.swept_ms {
                self.swept_ms = start;
                let horizon = self.newest_ms - WINDOW_GRACE * window_ms;
                self.windows.retain(|_, w| w.start_ms >= horizon);
            }
        }
        if start < self.newest_ms - WINDOW_GRACE * window_ms {
            return None; // too late: that window is gone
        }
        let slot = format!("{key}\u{1f}{start}");
        if !self.windows.contains_key(&slot) && self.windows.len() >= MAX_TRACKED_KEYS {
            return None;
        }
        let window = self.windows.entry(slot).or_insert_with(|| Window { start_ms: start, ..Default::default() });
        if window.fired || window.distinct.len() >= threshold {
            return None;
        }
        window.distinct.insert(item);
        window.first_ms = Some(window.first_ms.map_or(time_ms, |first| first.min(time_ms)));
        if window.distinct.len() >= threshold {
            window.fired = true;
            return window.first_ms;
        }
        None
    }
}

/// The heuristics' state across queries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsHeuristics {
    /// Key: instance id; items: generated-looking registrable domains.
    pub dga: Windows,
    /// Key: instance id + registrable domain; items: long high-entropy subdomain parts.
    pub exfil: Windows,
}

impl DnsHeuristics {
    /// Feeds one query; returns the occurrences it completes (at most one per heuristic).
    pub fn observe(&mut self, record: &QueryLogRecord<'_>, ctx: &DnsContext<'_>) -> Vec<Occurrence> {
        match Query::new(record) {
            Some(query) => self.observe_query(&query, ctx),
            None => Vec::new(),
        }
    }

    /// [`Self::observe`] for a query already prepared (by [`super::detect::dns_hits`]).
    pub fn observe_query(&mut self, query: &Query<'_, '_>, ctx: &DnsContext<'_>) -> Vec<Occurrence> {
        let mut out = Vec::new();
        let record = query.record;
        let Some(time_ms) = record.time_ms() else { return out };
        let Some(registrable) = query.registrable.as_deref() else {
            return out;
        };
        // The instance that asked: `srcids`, or the inventory's owner of `srcaddr`.
        let instance = query.instance_id;
        // Reverse-mapping names (`…in-addr.arpa`, `…ip6.arpa`) spell an address, not chosen
        // data: an IPv6 one is 32 hex nibbles under one `<nibble>.ip6.arpa`, so a server
        // resolving its visitors' names looks like a tunnel to the exfiltration test.
        if registrable.ends_with(".arpa") {
            return out;
        }

        // Hosting platforms' names (PSL private section) are not registered domains: DGAs
        // register theirs under ICANN suffixes.
        let dga_first = (!has_private_suffix(&query.domain) && dga_score(registrable_label(registrable)) >= DGA_MIN_SCORE)
            .then(|| self.dga.add(instance, time_ms, DGA_WINDOW_MS, stable_hash(registrable), DGA_MIN_DISTINCT_DOMAINS))
            .flatten();
        if let Some(first_seen_ms) = dga_first {
            let hit = DnsHit {
                finding_type: DGA_B,
                detail: Some(format!(
                    "The instance queried {DGA_MIN_DISTINCT_DOMAINS} or more generated-looking domains within {} minutes, the latest {}.",
                    DGA_WINDOW_MS / 60_000,
                    query.domain
                )),
                threats: Vec::new(),
                first_seen_ms: Some(first_seen_ms),
            };
            out.extend(build_dns_occurrence(query, ctx, "dns-dga-heuristic", hit));
        }

        let prefix = query.domain.strip_suffix(registrable).and_then(|p| p.strip_suffix('.')).unwrap_or_default();
        let payload: String = prefix.chars().filter(|c| *c != '.').collect();
        if payload.len() >= EXFIL_MIN_SUBDOMAIN_LEN && char_entropy(&payload) >= EXFIL_MIN_SUBDOMAIN_ENTROPY {
            let key = format!("{instance}\u{1f}{registrable}");
            if let Some(first_seen_ms) = self.exfil.add(&key, time_ms, EXFIL_WINDOW_MS, stable_hash(prefix), EXFIL_MIN_DISTINCT_SUBDOMAINS) {
                let hit = DnsHit {
                    finding_type: DNS_EXFILTRATION,
                    detail: Some(format!(
                        "The instance queried {EXFIL_MIN_DISTINCT_SUBDOMAINS} or more distinct long, high-entropy subdomains of {registrable} within {} minutes.",
                        EXFIL_WINDOW_MS / 60_000
                    )),
                    threats: Vec::new(),
                    first_seen_ms: Some(first_seen_ms),
                };
                out.extend(build_dns_occurrence(query, ctx, "dns-exfiltration-heuristic", hit));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_and_score_basics() {
        assert_eq!(char_entropy(""), 0.0);
        assert_eq!(char_entropy("aaaa"), 0.0);
        assert!((char_entropy("abcd") - 2.0).abs() < 1e-9);
        assert_eq!(dga_score("xkqzvbnm"), 0, "too short to judge");
        assert!(dga_score("xkqzvbnmwtrplhgf") >= DGA_MIN_SCORE);
        assert!(dga_score("internationalbusiness") < DGA_MIN_SCORE);
    }

    #[test]
    fn reverse_lookups_of_many_ipv6_clients_are_not_exfiltration() {
        let intel = super::super::detect::DnsIntel::default();
        let ctx =
            DnsContext { detector_id: "12abc34d567e8fa901bc2d34e56789f0", now_ms: 0, source: "test", position: 1, intel: &intel, inventory: None };
        let mut state = DnsHeuristics::default();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..200 {
            let nibbles: String = (0..24)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    char::from(b"0123456789abcdef"[(seed % 16) as usize])
                })
                .chain("81f10062".chars())
                .flat_map(|c| [c, '.'])
                .collect();
            let line = format!(
                r#"{{"account_id":"111122223333","region":"us-east-1","query_timestamp":"2024-03-01T12:0{}:{:02}Z","query_name":"{nibbles}ip6.arpa.","query_type":"PTR","srcids":{{"instance":"i-0web"}}}}"#,
                i / 60 % 10,
                i % 60
            );
            let record = crate::dns::parse_query_record(line.as_bytes()).unwrap();
            assert!(state.observe(&record, &ctx).is_empty(), "{line}");
        }
        assert!(state.exfil.is_empty() && state.dga.is_empty());
    }

    #[test]
    fn events_hours_out_of_order_still_count() {
        let mut w = Windows::default();
        let hour = 3_600_000;
        assert!(w.add("k", 14 * hour, DGA_WINDOW_MS, 1, 2).is_none());
        assert!(w.add("k", 4 * hour, DGA_WINDOW_MS, 1, 2).is_none(), "ten hours late: still counted");
        assert_eq!(w.add("k", 4 * hour + 1_000, DGA_WINDOW_MS, 2, 2), Some(4 * hour), "the window's earliest event");
        assert!(w.add("k", 14 * hour - 25 * hour, DGA_WINDOW_MS, 1, 1).is_none(), "more than a day late: gone");
    }

    #[test]
    fn windows_refuse_new_keys_past_the_cap_and_fire_once() {
        let mut w = Windows::default();
        for i in 0..MAX_TRACKED_KEYS + 10 {
            w.add(&format!("k{i}"), 1_000, 60_000, 1, 3);
        }
        assert_eq!(w.len(), MAX_TRACKED_KEYS);
        assert!(w.add("k0", 1_000, 60_000, 2, 3).is_none());
        assert!(w.add("k0", 1_000, 60_000, 3, 3).is_some(), "third distinct item reaches the threshold");
        assert!(w.add("k0", 1_000, 60_000, 4, 3).is_none(), "fires once per window");
        assert!(w.add("new", 61_000, 60_000, 1, 1).is_none(), "full: a new window is not tracked");
        let past_grace = 1_000 + (WINDOW_GRACE + 1) * 60_000;
        assert!(w.add("new", past_grace, 60_000, 1, 1).is_some(), "time moved past the grace: old windows expired");
        assert_eq!(w.len(), 1);
        assert!(w.add("k0", 1_000, 60_000, 9, 1).is_none(), "a window older than the grace is gone");
    }
}
