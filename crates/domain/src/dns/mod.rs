//! DNS query logs (docs/findings.md#dns-types, docs/logs.md#dns-query-logs): Route 53 Resolver query-log records in, EC2 findings with a
//! `DNS_REQUEST` action out. Pure: no I/O; the ingester reads files and drives it.
//!
//! * [`record`]: the query-log record, parsed tolerantly.
//! * [`detect`]: the stateless rules (domain feeds, AWS's test domain, metadata rebinding) and
//!   the finding mapping every DNS finding uses.
//! * [`domain`]: names, registrable domains (Public Suffix List), domain feeds and their parser.
//! * [`heuristics`]: DGADomainRequest.B and DNSDataExfiltration, with bounded windowed state.
//!
//! Decisions where AWS is silent (see each item's module for details):
//! * The instance is `srcids.instance`; for a record without `srcids`, the inventory's instance
//!   holding `srcaddr` on an interface in the record's `vpc_id`. A query through an inbound
//!   Resolver endpoint, or one no instance can be named for, ⇒ no finding.
//! * Aggregation key = (type, ACTOR, instance id), the default in docs/findings.md#aggregation; the domain is not in
//!   it, so repeated or different matching domains update one finding (count, latest action).
//! * `domain` = `query_name` lower-cased without its trailing dot; `domainWithSuffix` = its
//!   registrable domain under the full PSL (private section included, so
//!   `bucket.s3.amazonaws.com` is its own); `protocol` = `transport`; `blocked` = a DNS Firewall
//!   `BLOCK`; `vpcOwnerAccountId` = `account_id`; `instanceDetails` is the inventory's entry, else (as
//!   for flow findings) one network interface with `vpc_id` and `srcaddr` (a private IPv4 as
//!   `privateIpAddress`, IPv6 in `ipv6Addresses`) — nothing invented.
//! * Feeds match the listed name and its subdomains, never its parents; a feed entry that is a
//!   bare public suffix or an IP is rejected as a bad line.
//! * MetadataDNSRebind: an answer `Rdata` of 169.254.169.254 or fd00:ec2::254, except AWS's own
//!   `instance-data[.…internal]` aliases. BlackholeTraffic!DNS: the domain is on a `blackhole`
//!   domain feed, or an A/AAAA answer is on a black-hole IP feed ([`DnsIntel::blackhole_ips`]).
//! * Detector trusted/threat IP lists never apply (docs/threat-lists.md); blocked queries still raise.
pub mod detect;
pub mod domain;
pub mod heuristics;
pub mod record;

pub use detect::{DNS_RULES, DOMAIN_FEED_KINDS, DnsContext, DnsIntel, DomainFeed, DomainFeedKind, detect_query, dns_hits};
pub use domain::{DomainSet, ParsedDomainFeed, normalize_domain, parse_domain_feed, registrable_domain};
pub use heuristics::DnsHeuristics;
pub use record::{QueryLogRecord, parse_query_record};
