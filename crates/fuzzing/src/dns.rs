//! Route 53 Resolver query-log files as `vedette ingest` reads them (plain or gzip; the layout
//! sniffed; JSON lines), then the stateless DNS rules and the heuristics on every query with one
//! [`DnsHeuristics`] carried across the file's lines, as the ingest workers run them.
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use vedette_domain::Occurrence;
use vedette_domain::detect::NamedSet;
use vedette_domain::dns::detect::{Query, build_occurrences, domain_feed_kind, query_hits};
use vedette_domain::dns::domain::{MAX_DOMAIN_LEN, MAX_LABEL_LEN};
use vedette_domain::dns::heuristics::{self, DnsHeuristics};
use vedette_domain::dns::{
    DNS_RULES, DnsContext, DnsIntel, DomainFeed, DomainSet, QueryLogRecord, normalize_domain, parse_domain_feed, parse_query_record,
    registrable_domain,
};
use vedette_domain::finding_types::{self as ft, ActionKind, ResourceKind};
use vedette_domain::intel::{IpNet, IpSet};
use vedette_domain::inventory::Inventory;
use vedette_ingest::{FuzzItem, read_items_for_fuzzing as read};

use crate::fixtures::{DETECTOR_ID, NOW_MS};
use crate::flow::{Run, aggregate_all, check_resumed_and_gzipped, common_shape};

/// `data` is `<selector byte><query-log file>`. Selector bits: 1 = an instance inventory is
/// loaded (it names the instance of a query without `srcids`), 4 = also read the file gzipped
/// (8: as two members). Properties, besides not crashing:
/// * `domain` is the query name normalised (at most 253 characters, labels of 1–63, ASCII
///   lower case, idempotent) and its registrable domain ends it on a label boundary, holds two
///   labels or more, and is what a feed listing it matches;
/// * the heuristics' state stays within its documented bounds (windows, items per window) and
///   serializes to JSON and back unchanged;
/// * stopping at a position, persisting the state (JSON), and resuming from the reported position
///   with the restored state gives exactly the records and findings of one read;
/// * gzip is transparent;
/// * every finding is well formed: a catalogue DNS type about the querying instance (ACTOR), a
///   `DNS_REQUEST` action carrying the query's domain, registrable domain and firewall verdict,
///   and merging it into itself counts twice;
/// * oracle: a record written as JSON from fields drawn from the input (any Unicode, escapes,
///   numbers for strings) parses back to those fields.
pub fn dns_log(data: &[u8]) {
    let Some((&selector, file)) = data.split_first() else { return };
    printed_record_parses_back(file);
    let inventory = selector & 1 != 0;
    let whole = run(file, 0, DnsHeuristics::default(), inventory, None);
    check_state(&whole.state);
    aggregate_all(&whole.occurrences);
    check_resumed_and_gzipped(file, selector, &whole, |bytes, start, state, stop_at| run(bytes, start, state, inventory, stop_at), round_trip);
}

fn run(bytes: &[u8], start: u64, mut state: DnsHeuristics, inventory: bool, stop_at: Option<u64>) -> Run<DnsHeuristics> {
    let mut seen = Vec::new();
    let mut findings = Vec::new();
    let mut occurrences = Vec::new();
    let end = read(bytes, start, |position, item| {
        if Some(position) == stop_at {
            return false;
        }
        let FuzzItem::Query(record) = item else {
            seen.push((position, None));
            return true;
        };
        seen.push((position, Some(format!("{record:?}"))));
        for (instance_id, occurrence) in detect(record, position, inventory.then(crate::flow::inventory), &mut state) {
            check_finding(record, &instance_id, &occurrence);
            findings.push(serde_json::to_string(&occurrence.finding).expect("a finding serializes"));
            occurrences.push(occurrence);
        }
        true
    });
    Run { seen, findings, occurrences, end, state }
}

/// What `SourceState::take_query` does: the stateless rules, then the heuristics on the same
/// prepared query.
fn detect(record: &QueryLogRecord<'_>, position: u64, inventory: Option<&Inventory>, state: &mut DnsHeuristics) -> Vec<(String, Occurrence)> {
    assert_eq!(record.missing_field(), None, "the reader hands over complete records only");
    let intel = intel();
    let ctx = DnsContext { detector_id: DETECTOR_ID, now_ms: NOW_MS, source: "fuzz", position, intel, inventory };
    let Some(query) = Query::resolve(record, inventory) else {
        assert!(
            record.instance_id().is_none() || record.query_name.get().and_then(normalize_domain).is_none(),
            "no query prepared for a record with an instance and a name"
        );
        return Vec::new();
    };
    check_query(&query);
    if let Some(id) = record.instance_id() {
        assert_eq!(query.instance_id, id, "the query is not about srcids.instance");
    }
    let mut occurrences = build_occurrences(&query, &ctx, query_hits(&query, intel));
    // As the ingester: every query with an instance (srcids or the inventory's) feeds the heuristics.
    occurrences.extend(state.observe_query(&query, &ctx));
    occurrences.into_iter().map(|o| (query.instance_id.to_owned(), o)).collect()
}

fn check_query(query: &Query<'_, '_>) {
    let domain = query.domain.as_str();
    assert!(!domain.is_empty() && domain.len() <= MAX_DOMAIN_LEN, "{domain:?}");
    assert!(domain.split('.').all(|l| (1..=MAX_LABEL_LEN).contains(&l.len())), "{domain:?}");
    assert!(!domain.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()), "{domain:?}");
    assert_eq!(normalize_domain(domain).as_deref(), Some(domain), "normalising is idempotent");
    assert_eq!(query.registrable.as_deref(), registrable_domain(domain));
    if let Some(registrable) = query.registrable.as_deref() {
        check_registrable(domain, registrable);
    }
}

/// The registrable domain ends the name on a label boundary, is a public suffix plus a label,
/// and a feed listing it (only it) matches the name.
fn check_registrable(domain: &str, registrable: &str) {
    assert!(
        domain == registrable || domain.strip_suffix(registrable).is_some_and(|rest| rest.ends_with('.')),
        "{registrable:?} does not end {domain:?}"
    );
    assert!(registrable.contains('.'), "registrable {registrable:?} of {domain:?} is one label");
    let listed = DomainSet::from_names([registrable.to_owned()]);
    assert_eq!(listed.matching(domain), Some(registrable), "a feed listing {registrable:?} misses {domain:?}");
    let sibling = DomainSet::from_names([format!("x{registrable}")]);
    assert_eq!(sibling.matching(domain), None, "x{registrable:?} matches {domain:?}");
}

/// Serialized as the ingester persists it, and read back.
fn round_trip(state: &DnsHeuristics) -> DnsHeuristics {
    let json = serde_json::to_string(state).expect("DNS state serializes");
    let back: DnsHeuristics = serde_json::from_str(&json).expect("DNS state deserializes");
    assert_eq!(&back, state, "DNS state changed through JSON");
    back
}

/// The bounds `DnsHeuristics` documents: windows per heuristic, items per window.
fn check_state(state: &DnsHeuristics) {
    assert!(state.dga.len() <= heuristics::MAX_TRACKED_KEYS);
    assert!(state.exfil.len() <= heuristics::MAX_TRACKED_KEYS);
    let json = serde_json::to_value(round_trip(state)).expect("DNS state serializes");
    for (table, max) in [("dga", heuristics::DGA_MIN_DISTINCT_DOMAINS), ("exfil", heuristics::EXFIL_MIN_DISTINCT_SUBDOMAINS)] {
        for (key, window) in json[table]["windows"].as_object().cloned().unwrap_or_default() {
            let n = window["distinct"].as_array().map_or(0, Vec::len);
            assert!(n <= max, "{table}[{key:?}] holds {n} items > {max}");
        }
    }
}

fn check_finding(record: &QueryLogRecord<'_>, instance_id: &str, occurrence: &Occurrence) {
    let finding = &occurrence.finding;
    let name = finding.r#type.as_deref().expect("a type");
    let dns_types = DNS_RULES.iter().flat_map(|r| r.finding_types.iter());
    assert!(dns_types.chain([heuristics::DGA_B, heuristics::DNS_EXFILTRATION].iter()).any(|t| *t == name), "{name} is not a DNS type");
    let ty = ft::lookup(name).expect("a catalogue type");
    assert_eq!((ty.resource, ty.action), (ResourceKind::Instance, ActionKind::DnsRequest), "{name}");
    common_shape(finding, occurrence);
    assert_eq!(finding.account_id.as_deref(), record.account_id.get());
    assert_eq!(finding.region.as_deref(), record.region.get());
    let instance = finding.resource.as_ref().and_then(|r| r.instance_details.as_ref()).expect("instanceDetails");
    assert_eq!(instance.instance_id.as_deref(), Some(instance_id));
    let service = finding.service.as_ref().expect("a service");
    assert_eq!(service.resource_role.as_deref(), Some("ACTOR"));
    let action = service.action.as_ref().expect("an action");
    assert_eq!(action.action_type.as_deref(), Some("DNS_REQUEST"));
    assert!(action.network_connection_action.is_none() && action.port_probe_action.is_none());
    let request = action.dns_request_action.as_ref().expect("dnsRequestAction");
    let domain = record.query_name.get().and_then(normalize_domain);
    assert_eq!(request.domain, domain);
    assert_eq!(request.domain_with_suffix.as_deref(), domain.as_deref().and_then(registrable_domain));
    assert_eq!(request.blocked, Some(record.blocked()));
    assert_eq!(request.vpc_owner_account_id.as_deref(), record.account_id.get());
}

/// The domain feeds of the DNS tests (every kind, each in another tolerated layout) and a
/// black-hole IP feed over broad ranges.
fn intel() -> &'static DnsIntel {
    static INTEL: OnceLock<DnsIntel> = OnceLock::new();
    INTEL.get_or_init(|| {
        let feed = |kind: &str, file: &[u8]| {
            let parsed = parse_domain_feed(file).expect("a test feed parses");
            DomainFeed {
                kind: domain_feed_kind(kind).expect("a feed kind"),
                name: format!("{kind}-feed"),
                file_sha256: "c".repeat(64),
                set: Arc::new(DomainSet::from_names(parsed.domains)),
            }
        };
        let data = |name: &str| match name {
            "bitcoin" => &include_bytes!("../../domain/tests/data/dns/feeds/bitcoin.txt")[..],
            "blackhole" => include_bytes!("../../domain/tests/data/dns/feeds/blackhole.txt"),
            "c2" => include_bytes!("../../domain/tests/data/dns/feeds/c2.txt"),
            "dga" => include_bytes!("../../domain/tests/data/dns/feeds/dga.txt"),
            "driveby" => include_bytes!("../../domain/tests/data/dns/feeds/driveby.txt"),
            "droppoint" => include_bytes!("../../domain/tests/data/dns/feeds/droppoint.txt"),
            _ => include_bytes!("../../domain/tests/data/dns/feeds/phishing.txt"),
        };
        let nets = ["198.51.100.0/24", "64.0.0.0/3", "2001:db8::/32"].map(|n| n.parse::<IpNet>().expect("a network"));
        DnsIntel {
            feeds: ["bitcoin", "blackhole", "c2", "dga", "driveby", "droppoint", "phishing"].into_iter().map(|kind| feed(kind, data(kind))).collect(),
            blackhole_ips: vec![NamedSet { name: "sinkholes".into(), file_sha256: "d".repeat(64), set: Arc::new(IpSet::from_nets(nets)) }],
        }
    })
}

/// Oracle: a record of fields drawn from `bytes` (any Unicode), written as JSON (serde_json
/// escapes what it must), parses back to those fields; a name built from DNS-like labels
/// normalises as RFC 1035 says.
fn printed_record_parses_back(bytes: &[u8]) {
    let mut draw = bytes;
    let mut next = |max: usize| -> String {
        let (&len, rest) = draw.split_first().unwrap_or((&0, &[]));
        let len = usize::from(len) % (max + 1);
        let (taken, rest) = rest.split_at(len.min(rest.len()));
        draw = rest;
        String::from_utf8_lossy(taken).into_owned()
    };
    let fields = [
        "version",
        "account_id",
        "region",
        "vpc_id",
        "query_timestamp",
        "query_name",
        "query_type",
        "query_class",
        "rcode",
        "srcaddr",
        "srcport",
        "transport",
        "firewall_rule_group_id",
        "firewall_rule_action",
        "firewall_domain_list_id",
    ];
    let values: Vec<String> = fields.iter().map(|_| next(24)).collect();
    let (instance, rdata, name_seed) = (next(24), next(24), next(200));
    let mut object = serde_json::Map::new();
    for (field, value) in fields.iter().zip(&values) {
        // A port as AWS's example has it (a string), or as some exports do (a number).
        let number = (*field == "srcport").then(|| value.parse::<u64>().ok()).flatten();
        object.insert((*field).into(), number.map_or_else(|| value.clone().into(), Into::into));
    }
    object.insert("srcids".into(), serde_json::json!({ "instance": instance }));
    object.insert("answers".into(), serde_json::json!([{ "Rdata": rdata, "Type": "A", "Class": "IN" }]));
    let json = serde_json::to_vec(&serde_json::Value::Object(object)).expect("JSON serializes");
    let record = parse_query_record(&json).expect("a record serde_json wrote parses");
    let parsed = [
        &record.version,
        &record.account_id,
        &record.region,
        &record.vpc_id,
        &record.query_timestamp,
        &record.query_name,
        &record.query_type,
        &record.query_class,
        &record.rcode,
        &record.srcaddr,
        &record.srcport,
        &record.transport,
        &record.firewall_rule_group_id,
        &record.firewall_rule_action,
        &record.firewall_domain_list_id,
    ];
    for ((field, value), text) in fields.iter().zip(&values).zip(parsed) {
        let expected = match value.parse::<u64>() {
            Ok(n) if *field == "srcport" => n.to_string(),
            _ => value.clone(),
        };
        assert_eq!(text.as_str(), expected, "{field}");
    }
    assert_eq!(record.srcids.0.instance.as_str(), instance);
    assert_eq!(record.answers().map(|a| a.rdata.as_str()).collect::<Vec<_>>(), [rdata.as_str()]);
    let _ = rdata.trim().parse::<IpAddr>();

    // The same record as a file, alone or as a CloudWatch export line: the reader sniffs a query
    // log and delivers it at line 1 (a bad record when routing's fields are missing).
    let complete = [&values[1], &values[2], &values[4], &values[5]].iter().all(|v| !v.is_empty());
    let line = String::from_utf8(json).expect("serde_json writes UTF-8");
    for file in [format!("{line}\n"), format!("2021-02-04T17:51:56.001Z {line}\r\n")] {
        let mut delivered = Vec::new();
        read(file.as_bytes(), 0, |position, item| {
            match item {
                FuzzItem::Query(parsed) => {
                    assert_eq!(parsed.query_name.as_str(), values[5], "{file:?}");
                    assert_eq!(parsed.srcids.0.instance.as_str(), instance, "{file:?}");
                    delivered.push((position, true));
                }
                FuzzItem::Bad(_) => delivered.push((position, false)),
                _ => panic!("{file:?}: not read as a query log"),
            }
            true
        });
        assert_eq!(delivered, [(1, complete)], "{file:?}");
    }

    let name = dns_like_name(name_seed.as_bytes());
    let expected = expected_normal_form(&name);
    assert_eq!(normalize_domain(&name), expected, "{name:?}");
    if let Some(domain) = &expected
        && let Some(registrable) = registrable_domain(domain)
    {
        check_registrable(domain, registrable);
    }
}

/// A name made of labels as resolvers see them: letters of both cases, digits, `-`, `_`, `*`,
/// punycode (`xn--`), the odd non-ASCII byte, labels up to 70 characters, an optional final dot.
fn dns_like_name(seed: &[u8]) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*";
    let mut name = String::new();
    let mut bytes = seed.iter().copied();
    while let Some(b) = bytes.next() {
        let len = usize::from(b % 71);
        if !name.is_empty() {
            name.push('.');
        }
        if b & 0x80 != 0 {
            name.push_str("xn--");
        }
        for c in bytes.by_ref().take(len.min(8)) {
            if c == 0xff {
                name.push('é');
            } else {
                name.push(char::from(CHARS[usize::from(c) % CHARS.len()]));
            }
        }
        // Long labels without spending input: repeat the last character.
        if len > 8
            && let Some(last) = name.chars().last().filter(|c| *c != '.')
        {
            for _ in 8..len {
                name.push(last);
            }
        }
    }
    if seed.first().is_some_and(|b| b & 1 == 1) {
        name.push('.');
    }
    name
}

/// RFC 1035 text form: at most 253 characters without the final dot, labels of 1–63 of the
/// characters names are written with; ASCII lower case.
fn expected_normal_form(name: &str) -> Option<String> {
    let name = name.trim();
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid_label = |l: &str| (1..=MAX_LABEL_LEN).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_*".contains(&b));
    (!name.is_empty() && name.len() <= MAX_DOMAIN_LEN && name.split('.').all(valid_label)).then(|| name.to_ascii_lowercase())
}
