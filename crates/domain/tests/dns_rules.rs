//! DNS rules end to end over a query-log file (tests/data/dns/query_log.jsonl) and one operator
//! domain feed per kind (tests/data/dns/feeds/): each rule raises its type with the Instance
//! resource and DNS_REQUEST action docs/findings.md#dns-types and docs/logs.md#dns-query-logs give it; benign queries raise nothing.
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use vedette_domain::dns::detect::{self, DnsContext, DnsIntel, DomainFeed};
use vedette_domain::dns::{DomainSet, parse_domain_feed, parse_query_record};
use vedette_domain::finding_types as ft;
use vedette_domain::{Evidence, Occurrence};

const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";
const NOW_MS: i64 = 1_700_000_000_000;

fn data() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dns"))
}

fn load_feeds() -> DnsIntel {
    let mut feeds = Vec::new();
    for kind in detect::DOMAIN_FEED_KINDS {
        let bytes = std::fs::read(data().join("feeds").join(format!("{}.txt", kind.name))).unwrap();
        let parsed = parse_domain_feed(&bytes).unwrap();
        assert_eq!((parsed.bad_lines, parsed.domains.len()), (0, 1), "feed {}: {parsed:?}", kind.name);
        feeds.push(DomainFeed {
            kind,
            name: format!("{}-feed", kind.name),
            file_sha256: hex::encode(Sha256::digest(&bytes)),
            set: Arc::new(DomainSet::from_names(parsed.domains)),
        });
    }
    DnsIntel { feeds, ..Default::default() }
}

/// Every occurrence the file raises, by the query name of its line.
fn run(intel: &DnsIntel) -> BTreeMap<String, Vec<Occurrence>> {
    let text = std::fs::read_to_string(data().join("query_log.jsonl")).unwrap();
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let record = parse_query_record(line.as_bytes()).unwrap();
        let ctx = DnsContext { detector_id: DETECTOR, now_ms: NOW_MS, source: "query_log.jsonl", position: i as u64 + 1, intel, inventory: None };
        let occurrences = detect::detect_query(&record, &ctx);
        out.insert(record.query_name.as_str().to_owned(), occurrences);
    }
    out
}

fn types(occurrences: &[Occurrence]) -> Vec<&str> {
    occurrences.iter().map(|o| o.finding.r#type.as_deref().unwrap()).collect()
}

#[test]
fn each_rule_raises_its_type_with_the_instance_and_dns_request_shape() {
    let intel = load_feeds();
    let found = run(&intel);
    // (query name, type, instance, srcaddr, domainWithSuffix, feed)
    let expected = [
        ("x1.beacon.c2host-vedette.net.", detect::C2_DNS, "i-0aaaaaaaaaaaaaaa1", "172.31.45.44", "c2host-vedette.net", Some("c2")),
        ("guarddutyc2activityb.com.", detect::C2_DNS, "i-0aaaaaaaaaaaaaaa2", "172.31.45.45", "guarddutyc2activityb.com", None),
        ("pool.coinmine-vedette.org.", detect::BITCOIN_DNS, "i-0aaaaaaaaaaaaaaa3", "172.31.45.46", "coinmine-vedette.org", Some("bitcoin")),
        ("sinkholed-vedette.info.", detect::BLACKHOLE_DNS, "i-0aaaaaaaaaaaaaaa3", "172.31.45.46", "sinkholed-vedette.info", Some("blackhole")),
        ("upload.drop.stolen-vedette.biz.", detect::DROP_POINT_DNS, "i-0aaaaaaaaaaaaaaa4", "172.31.45.47", "stolen-vedette.biz", Some("droppoint")),
        ("login.phish-vedette.co.uk.", detect::PHISHING_DNS, "i-0aaaaaaaaaaaaaaa4", "172.31.45.47", "phish-vedette.co.uk", Some("phishing")),
        ("cdn.driveby-vedette.xyz.", detect::DRIVE_BY_DNS, "i-0aaaaaaaaaaaaaaa5", "172.31.45.48", "driveby-vedette.xyz", Some("driveby")),
        ("qxkzjvbwplrtd.com.", detect::DGA_KNOWN_DNS, "i-0aaaaaaaaaaaaaaa5", "172.31.45.48", "qxkzjvbwplrtd.com", Some("dga")),
        ("rebind.attacker-vedette.net.", ft::METADATA_DNS_REBIND, "i-0aaaaaaaaaaaaaaa6", "172.31.45.49", "attacker-vedette.net", None),
    ];
    for (name, ty, instance, srcaddr, registrable, feed) in expected {
        let occurrences = &found[name];
        assert_eq!(types(occurrences), [ty], "{name}");
        let f = &occurrences[0].finding;
        let catalogue = ft::lookup(ty).unwrap();
        assert_eq!(f.severity, Some(catalogue.severity), "{name}");
        assert_eq!((f.account_id.as_deref(), f.region.as_deref()), (Some("111122223333"), Some("us-west-2")));
        assert!(f.arn.as_deref().unwrap().starts_with("arn:aws:guardduty:us-west-2:111122223333:detector/"), "{name}");
        let resource = f.resource.as_ref().unwrap();
        assert_eq!(resource.resource_type.as_deref(), Some("Instance"));
        assert!(resource.access_key_details.is_none(), "{name}");
        let details = resource.instance_details.as_ref().unwrap();
        assert_eq!(details.instance_id.as_deref(), Some(instance));
        let interfaces = details.network_interfaces.as_ref().unwrap();
        assert_eq!(interfaces.len(), 1);
        assert_eq!(interfaces[0].private_ip_address.as_deref(), Some(srcaddr));
        assert_eq!(interfaces[0].vpc_id.as_deref(), Some("vpc-7example"));
        let service = f.service.as_ref().unwrap();
        assert_eq!(service.resource_role.as_deref(), Some("ACTOR"));
        assert_eq!(service.event_first_seen, service.event_last_seen);
        let action = service.action.as_ref().unwrap();
        assert_eq!(action.action_type.as_deref(), Some("DNS_REQUEST"));
        assert!(action.aws_api_call_action.is_none() && action.network_connection_action.is_none());
        let dns = action.dns_request_action.as_ref().unwrap();
        assert_eq!(dns.domain.as_deref(), Some(name.trim_end_matches('.')));
        assert_eq!(dns.domain_with_suffix.as_deref(), Some(registrable));
        assert_eq!(dns.protocol.as_deref(), Some("UDP"));
        assert_eq!(dns.blocked, Some(false));
        assert_eq!(dns.vpc_owner_account_id.as_deref(), Some("111122223333"));
        let threat_lists: Vec<String> = service
            .evidence
            .iter()
            .flat_map(|e| e.threat_intelligence_details.iter().flatten())
            .map(|d| d.threat_list_name.clone().unwrap())
            .collect();
        assert_eq!(threat_lists, feed.map(|k| format!("{k}-feed")).into_iter().collect::<Vec<_>>(), "{name}");
        if let Some(kind) = feed {
            let info = service.additional_info.as_ref().unwrap().value.as_deref().unwrap();
            assert!(info.contains(&format!("\"threatListName\":\"{kind}-feed\"")), "{info}");
        }
        let evidence = Evidence::from_finding(f).unwrap();
        assert!(evidence.rule.starts_with("dns-"), "{evidence:?}");
        assert!(evidence.sources[0].starts_with("query_log.jsonl:"), "{evidence:?}");
    }
}

#[test]
fn a_firewall_block_is_reported_as_blocked_with_the_transport() {
    let found = run(&load_feeds());
    let occurrences = &found["www.c2host-vedette.net."];
    assert_eq!(types(occurrences), [detect::C2_DNS]);
    let dns = occurrences[0].finding.service.as_ref().unwrap().action.as_ref().unwrap().dns_request_action.clone().unwrap();
    assert_eq!((dns.blocked, dns.protocol.as_deref()), (Some(true), Some("TCP")));
}

#[test]
fn benign_queries_and_queries_without_an_instance_raise_nothing() {
    let found = run(&load_feeds());
    for name in [
        "beacon.c2host-vedette.net.", // from a Resolver endpoint: no instance
        "amazon.com.",
        "instance-data.ec2.internal.",        // AWS's own alias of the metadata service
        "c2host-vedette.net.other-site.com.", // a feed entry inside another domain
        "notc2host-vedette.net.",
        "s3.us-west-2.amazonaws.com.",
        "example.co.uk.",
    ] {
        assert_eq!(types(&found[name]), Vec::<&str>::new(), "{name}");
    }
}

#[test]
fn without_feeds_only_the_feed_free_rules_fire() {
    let found = run(&DnsIntel::default());
    let raised: Vec<(&str, Vec<&str>)> = found.iter().filter(|(_, o)| !o.is_empty()).map(|(n, o)| (n.as_str(), types(o))).collect();
    assert_eq!(raised, [("guarddutyc2activityb.com.", vec![detect::C2_DNS]), ("rebind.attacker-vedette.net.", vec![ft::METADATA_DNS_REBIND])]);
}

#[test]
fn findings_aggregate_per_type_and_instance_not_per_domain() {
    let intel = load_feeds();
    let line = |ts: &str, name: &str, instance: &str| {
        format!(
            r#"{{"account_id":"111122223333","region":"us-west-2","query_timestamp":"{ts}","query_name":"{name}","srcaddr":"10.0.0.5","srcids":{{"instance":"{instance}"}}}}"#
        )
    };
    let detect_line = |text: String| {
        let record = parse_query_record(text.as_bytes()).unwrap();
        let ctx = DnsContext { detector_id: DETECTOR, now_ms: NOW_MS, source: "t", position: 1, intel: &intel, inventory: None };
        let mut o = detect::detect_query(&record, &ctx);
        assert_eq!(o.len(), 1, "{text}");
        o.remove(0)
    };
    let a = detect_line(line("2024-01-01T00:00:00Z", "a.c2host-vedette.net", "i-1"));
    let b = detect_line(line("2024-01-01T00:05:00Z", "guarddutyc2activityb.com.", "i-1"));
    let c = detect_line(line("2024-01-01T00:05:00Z", "a.c2host-vedette.net", "i-2"));
    let d = detect_line(line("2024-01-01T00:05:00Z", "coinmine-vedette.org", "i-1"));
    assert_eq!(a.finding_id(), b.finding_id(), "same type and instance, another domain");
    assert_ne!(a.finding_id(), c.finding_id(), "another instance");
    assert_ne!(a.finding_id(), d.finding_id(), "another type");
    // No srcaddr/vpc: no invented network interface.
    let bare = detect_line(
        r#"{"account_id":"1","region":"r","query_timestamp":"2024-01-01T00:00:00Z","query_name":"guarddutyc2activityb.com","srcids":{"instance":"i-3"}}"#.into(),
    );
    assert_eq!(bare.finding.resource.unwrap().instance_details.unwrap().network_interfaces, None);
}

#[test]
fn records_missing_routing_fields_raise_nothing() {
    let intel = DnsIntel::default();
    for text in [
        r#"{"region":"r","query_timestamp":"2024-01-01T00:00:00Z","query_name":"guarddutyc2activityb.com","srcids":{"instance":"i-3"}}"#,
        r#"{"account_id":"1","query_timestamp":"2024-01-01T00:00:00Z","query_name":"guarddutyc2activityb.com","srcids":{"instance":"i-3"}}"#,
        r#"{"account_id":"1","region":"r","query_timestamp":"yesterday","query_name":"guarddutyc2activityb.com","srcids":{"instance":"i-3"}}"#,
        r#"{"account_id":"1","region":"r","query_timestamp":"2024-01-01T00:00:00Z","query_name":"bad name.com","srcids":{"instance":"i-3"}}"#,
    ] {
        let record = parse_query_record(text.as_bytes()).unwrap();
        let ctx = DnsContext { detector_id: DETECTOR, now_ms: NOW_MS, source: "t", position: 1, intel: &intel, inventory: None };
        assert!(detect::detect_query(&record, &ctx).is_empty(), "{text}");
    }
}

#[test]
fn every_feed_kind_raises_a_catalogued_dns_type() {
    for kind in detect::DOMAIN_FEED_KINDS {
        let ty = ft::lookup(kind.finding_type).unwrap_or_else(|| panic!("{} not catalogued", kind.finding_type));
        assert_eq!(ty.source, ft::LogSource::Dns, "{}", ty.name);
    }
}

#[test]
fn an_answer_on_a_black_hole_ip_feed_raises_blackhole_traffic() {
    use vedette_domain::detect::NamedSet;
    use vedette_domain::intel::{IpNet, IpSet};
    let sinkhole = NamedSet {
        name: "sinkholes".into(),
        file_sha256: "ab".repeat(32),
        set: Arc::new(IpSet::from_nets([IpNet::new("192.0.2.0".parse().unwrap(), 24).unwrap()])),
    };
    let intel = DnsIntel { blackhole_ips: vec![sinkhole], ..Default::default() };
    let detect_text = |text: &str| {
        let record = parse_query_record(text.as_bytes()).unwrap();
        let ctx = DnsContext { detector_id: DETECTOR, now_ms: NOW_MS, source: "t", position: 1, intel: &intel, inventory: None };
        detect::detect_query(&record, &ctx)
    };
    let record = |rdata: &str| {
        format!(
            r#"{{"account_id":"1","region":"r","query_timestamp":"2024-01-01T00:00:00Z","query_name":"old-botnet.example.org.","answers":[{{"Rdata":"old.example.org.","Type":"CNAME"}},{{"Rdata":"{rdata}","Type":"A"}}],"srcids":{{"instance":"i-1"}}}}"#
        )
    };
    let found = detect_text(&record("192.0.2.53"));
    assert_eq!(types(&found), [detect::BLACKHOLE_DNS]);
    let details = found[0].finding.service.as_ref().unwrap().evidence.as_ref().unwrap();
    let detail = &details.threat_intelligence_details.as_ref().unwrap()[0];
    assert_eq!(detail.threat_list_name.as_deref(), Some("sinkholes"));
    assert_eq!(detail.threat_file_sha256.as_deref(), Some("ab".repeat(32).as_str()));
    assert!(detect_text(&record("198.51.100.53")).is_empty(), "an answer off the feed");
}
