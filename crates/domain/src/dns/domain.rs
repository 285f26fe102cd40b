//! Domain names for DNS findings: normalising the queried name, its registrable domain
//! (`dnsRequestAction.domainWithSuffix`) from the Public Suffix List, and the operator's domain
//! feeds (spec §4.4: "matched on the registrable domain and its subdomains").
//!
//! The PSL is the one embedded in the `psl` crate (ICANN and private sections, so
//! `bucket.s3.amazonaws.com` and `user.github.io` are registrable domains of their own).
use std::collections::HashSet;

/// Longest name DNS allows (RFC 1035: 255 octets on the wire, 253 as text).
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest label DNS allows.
pub const MAX_LABEL_LEN: usize = 63;

/// The queried name as findings show it (`dnsRequestAction.domain`): trailing dot removed,
/// ASCII lower-cased. `None` for what is not a DNS name: empty, too long, an empty label, or a
/// byte outside letters, digits, `-`, `_` and `*` (names arrive punycoded; `_` appears in
/// SRV/DKIM names).
pub fn normalize_domain(name: &str) -> Option<String> {
    let name = name.trim();
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > MAX_DOMAIN_LEN {
        return None;
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return None;
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*')) {
            return None;
        }
    }
    Some(name.to_ascii_lowercase())
}

/// The registrable domain (`domainWithSuffix`) of a normalised name: the public suffix plus one
/// label (`www.example.co.uk` → `example.co.uk`). `None` for a bare public suffix (`co.uk`) or
/// an IP literal. A name under an unknown TLD takes the PSL's default rule (`*`): its last two
/// labels.
pub fn registrable_domain(domain: &str) -> Option<&str> {
    if domain.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    psl::domain_str(domain)
}

/// A set of domain names matched with their subdomains: `evil.example` matches
/// `evil.example` and `a.b.evil.example`, not `example` nor `notevil.example`. A lookup walks up
/// the queried name's labels (at most 127 hash lookups, usually 2 or 3), never the set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainSet {
    names: HashSet<String>,
}

impl DomainSet {
    pub fn from_names(names: impl IntoIterator<Item = String>) -> Self {
        DomainSet { names: names.into_iter().collect() }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The entry matching normalised `domain` (itself or its closest listed parent), if any.
    /// Parents above the registrable domain (public suffixes such as `com`) are never tried, so
    /// an entry `com` would match only a query for `com` itself.
    pub fn matching<'d>(&self, domain: &'d str) -> Option<&'d str> {
        if self.names.is_empty() {
            return None;
        }
        let stop = registrable_domain(domain).map_or(domain.len(), str::len);
        let mut candidate = domain;
        loop {
            if self.names.contains(candidate) {
                return Some(candidate);
            }
            if candidate.len() <= stop {
                return None;
            }
            match candidate.split_once('.') {
                Some((_, parent)) if parent.len() >= stop => candidate = parent,
                _ => return None,
            }
        }
    }
}

/// A domain-feed file's usable entries and what was skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedDomainFeed {
    /// Normalised names, duplicates kept (the set drops them).
    pub domains: Vec<String>,
    /// Lines that were neither an entry, a comment nor blank.
    pub bad_lines: u64,
    /// 1-based numbers of the first few bad lines (never their content: feeds may be secret).
    pub first_bad_lines: Vec<u64>,
}

/// How many bad line numbers [`ParsedDomainFeed::first_bad_lines`] keeps.
pub const MAX_BAD_LINE_NUMBERS: usize = 10;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainFeedError {
    #[error("the file is not a domain list: {0}")]
    NotText(&'static str),
}

/// Parses a domain feed: one domain per line, as the TXT threat-list format has one IP per line.
///
/// Tolerated, as feeds found in the wild are written: blank lines; comments (`#`, `;`, `//`)
/// on their own line or after the entry; CRLF; a UTF-8 BOM; upper case; a trailing dot; a
/// leading `*.` or `.` (subdomains match anyway); hosts-file lines (`0.0.0.0 evil.example`,
/// `127.0.0.1 evil.example`); URLs (`http://evil.example/path` → `evil.example`). A line that is
/// still not a domain name, or that is a bare public suffix or an IP address, is counted bad.
/// Compressed or binary data is refused. Never panics.
pub fn parse_domain_feed(bytes: &[u8]) -> Result<ParsedDomainFeed, DomainFeedError> {
    if bytes.starts_with(b"\x1F\x8B") || bytes.starts_with(b"PK\x03\x04") {
        return Err(DomainFeedError::NotText("compressed data (gzip or zip), not text"));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(DomainFeedError::NotText("binary data, not text"));
    }
    let text = String::from_utf8_lossy(bytes);
    let mut out = ParsedDomainFeed::default();
    for (index, line) in text.split('\n').enumerate() {
        let line = strip_comment(line.trim());
        if line.is_empty() {
            continue;
        }
        match feed_entry(line) {
            Some(domain) => out.domains.push(domain),
            None => {
                out.bad_lines += 1;
                if out.first_bad_lines.len() < MAX_BAD_LINE_NUMBERS {
                    out.first_bad_lines.push(index as u64 + 1);
                }
            }
        }
    }
    Ok(out)
}

fn strip_comment(line: &str) -> &str {
    let cut = ["#", ";", "//"].iter().filter_map(|marker| line.find(marker)).min();
    match cut {
        // `//` inside a URL scheme is not a comment.
        Some(i) if line[..i].ends_with(':') => line,
        Some(i) => line[..i].trim(),
        None => line,
    }
}

fn feed_entry(line: &str) -> Option<String> {
    let mut fields = line.split_whitespace();
    let mut token = fields.next()?;
    // hosts-file layout: the address first, the name second.
    if token.parse::<std::net::IpAddr>().is_ok() {
        token = fields.next()?;
    }
    if fields.next().is_some() {
        return None;
    }
    if let Some((_, rest)) = token.split_once("://") {
        token = rest.split(['/', '?', '#']).next().unwrap_or_default();
        token = token.rsplit('@').next().unwrap_or_default();
        token = token.split(':').next().unwrap_or_default();
    }
    let token = token.strip_prefix("*.").or_else(|| token.strip_prefix('.')).unwrap_or(token);
    let domain = normalize_domain(token)?;
    if domain.contains('*') || domain.parse::<std::net::IpAddr>().is_ok() || registrable_domain(&domain).is_none() {
        return None;
    }
    Some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_query_names() {
        assert_eq!(normalize_domain("WWW.Example.COM.").as_deref(), Some("www.example.com"));
        assert_eq!(normalize_domain("_sip._tcp.example.com").as_deref(), Some("_sip._tcp.example.com"));
        for bad in ["", ".", "a..b", "exa mple.com", "ex\u{e9}.com", &"a".repeat(64), &"a.".repeat(130)] {
            assert_eq!(normalize_domain(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn registrable_domains_follow_the_public_suffix_list() {
        assert_eq!(registrable_domain("www.example.co.uk"), Some("example.co.uk"));
        assert_eq!(registrable_domain("guarddutyc2activityb.com"), Some("guarddutyc2activityb.com"));
        assert_eq!(registrable_domain("a.b.s3.amazonaws.com"), Some("b.s3.amazonaws.com"), "private section");
        assert_eq!(registrable_domain("co.uk"), None);
        assert_eq!(registrable_domain("com"), None);
        assert_eq!(registrable_domain("169.254.169.254"), None);
    }

    #[test]
    fn sets_match_the_entry_and_its_subdomains_only() {
        let set = DomainSet::from_names(["evil.example".to_owned(), "bad.example.co.uk".to_owned(), "sub.host.test".to_owned()]);
        assert_eq!(set.matching("evil.example"), Some("evil.example"));
        assert_eq!(set.matching("a.b.evil.example"), Some("evil.example"));
        assert_eq!(set.matching("notevil.example"), None);
        assert_eq!(set.matching("example"), None);
        assert_eq!(set.matching("x.bad.example.co.uk"), Some("bad.example.co.uk"));
        assert_eq!(set.matching("example.co.uk"), None);
        assert_eq!(set.matching("x.sub.host.test"), Some("sub.host.test"));
        assert_eq!(set.matching("host.test"), None, "a parent of an entry is not matched");
        let suffix_entry = DomainSet::from_names(["com".to_owned()]);
        assert_eq!(suffix_entry.matching("anything.com"), None);
    }

    #[test]
    fn feed_parser_tolerates_real_world_layouts() {
        let feed = "\u{feff}# C2 feed\r\nEvil.Example.\r\n*.wild.example\n.dot.example\n0.0.0.0 hosts.example\n\
                    127.0.0.1 loop.example # sinkholed\nhttp://user@url.example:8080/path?q=1\n\n; note\n\
                    // another\nnot a domain\nco.uk\n203.0.113.7\nok.example ; trailing\n";
        let parsed = parse_domain_feed(feed.as_bytes()).unwrap();
        assert_eq!(
            parsed.domains,
            ["evil.example", "wild.example", "dot.example", "hosts.example", "loop.example", "url.example", "ok.example"]
        );
        assert_eq!(parsed.bad_lines, 3);
        assert_eq!(parsed.first_bad_lines, [11, 12, 13]);
    }

    #[test]
    fn feed_parser_refuses_binary() {
        assert!(parse_domain_feed(b"\x1F\x8B\x08\x00").is_err());
        assert!(parse_domain_feed(b"evil.example\n\0\0").is_err());
        assert_eq!(parse_domain_feed(b"").unwrap(), ParsedDomainFeed::default());
    }
}
