//! The DNS parsers and rules are total: any bytes in, no panic out.
use std::sync::Arc;

use proptest::prelude::*;
use vedette_domain::dns::detect::{self, DnsContext, DnsIntel, DomainFeed};
use vedette_domain::dns::{DomainSet, normalize_domain, parse_domain_feed, parse_query_record};
use vedette_domain::intel::{IpNet, IpSet};

fn intel() -> DnsIntel {
    let feeds = detect::DOMAIN_FEED_KINDS
        .iter()
        .map(|kind| DomainFeed {
            kind,
            name: kind.name.into(),
            file_sha256: String::new(),
            set: Arc::new(DomainSet::from_names(["evil.example".to_owned(), "a.b".to_owned()])),
        })
        .collect();
    let sinkholes = vedette_domain::detect::NamedSet {
        name: "sinkholes".into(),
        file_sha256: String::new(),
        set: Arc::new(IpSet::from_nets([IpNet::new("169.254.0.0".parse().unwrap(), 16).unwrap()])),
    };
    DnsIntel { feeds, blackhole_ips: vec![sinkholes] }
}

/// JSON-ish text built from the record's own field names, so the fuzzer reaches the rules.
fn recordish() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "account_id",
        "region",
        "vpc_id",
        "query_timestamp",
        "query_name",
        "answers",
        "srcaddr",
        "srcport",
        "transport",
        "srcids",
        "instance",
        "Rdata",
        "firewall_rule_action",
    ]);
    let value = prop_oneof![
        Just("\"2024-01-01T00:00:00Z\"".to_owned()),
        Just("\"169.254.169.254\"".to_owned()),
        Just("{\"instance\":\"i-1\"}".to_owned()),
        Just("[{\"Rdata\":\"169.254.169.254\"}]".to_owned()),
        "\"[a-zA-Z0-9.*_-]{0,40}\"".prop_map(|s| s),
        Just("null".to_owned()),
        Just("12".to_owned()),
        Just("\"BLOCK\"".to_owned()),
    ];
    prop::collection::vec((key, value), 0..14)
        .prop_map(|kv| format!("{{{}}}", kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(",")))
}

proptest! {
    #[test]
    fn query_records_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), text in recordish()) {
        let intel = intel();
        for input in [bytes.as_slice(), text.as_bytes()] {
            if let Ok(record) = parse_query_record(input) {
                let ctx = DnsContext { detector_id: "d", now_ms: 0, source: "s", position: 1, intel: &intel, inventory: None };
                for o in detect::detect_query(&record, &ctx) {
                    prop_assert!(o.finding.r#type.is_some());
                }
            }
        }
    }

    #[test]
    fn feeds_and_names_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), name in "\\PC{0,80}") {
        if let Ok(parsed) = parse_domain_feed(&bytes) {
            let set = DomainSet::from_names(parsed.domains.clone());
            for d in &parsed.domains {
                prop_assert!(set.matching(d).is_some(), "{d}");
            }
        }
        if let Some(d) = normalize_domain(&name) {
            let _ = DomainSet::from_names(["x.com".to_owned()]).matching(&d);
        }
        let _ = parse_domain_feed(name.as_bytes());
    }
}
