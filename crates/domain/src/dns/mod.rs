//! DNS query logs (spec §4.4, §6.3): Route 53 Resolver query-log records in, EC2 findings with a
//! `DNS_REQUEST` action out. Pure: no I/O; the ingester reads files and drives it.
//!
//! * [`record`]: the query-log record, parsed tolerantly.
//! * [`detect`]: the stateless rules (domain feeds, AWS's test domain, metadata rebinding) and
//!   the finding mapping every DNS finding uses.
//! * [`domain`]: names, registrable domains (Public Suffix List), domain feeds and their parser.
//! * [`heuristics`]: DGADomainRequest.B and DNSDataExfiltration, with bounded windowed state.
pub mod detect;
pub mod domain;
pub mod heuristics;
pub mod record;

pub use detect::{
    DNS_RULES, DOMAIN_FEED_KINDS, DnsContext, DnsIntel, DomainFeed, DomainFeedKind, detect_query, dns_hits,
};
pub use domain::{DomainSet, ParsedDomainFeed, normalize_domain, parse_domain_feed, registrable_domain};
pub use heuristics::DnsHeuristics;
pub use record::{QueryLogRecord, parse_query_record};
