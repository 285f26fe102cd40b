//! The shared corpus's `ip_threat_family` labels (`Recon`, `UnauthorizedAccess`, `S3`, or null
//! for callers that are not public IPs) against the list rules: every CloudTrail record's caller
//! is put on a threat list, then on a Tor feed, then on the trusted list as well, and the finding
//! types raised must follow the label, each failed call keeping its errorCode.
//!
//! The corpus is found as in `corpus.rs` (`VEDETTE_CORPUS`, else `<repo>/../shared/corpus`);
//! without it the test says so and passes, unless `VEDETTE_CORPUS` was set.
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vedette_domain::cloudtrail::parse_record;
use vedette_domain::detect::{self, DetectContext, DetectorLists, FEED_KINDS, Feed, Intel, ListNets, NamedSet, OperatorIntel};
use vedette_domain::finding_types as ft;
use vedette_domain::intel::{IpNet, IpSet};

fn corpus_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("VEDETTE_CORPUS") {
        let dir = PathBuf::from(dir);
        assert!(dir.join("manifest.json").is_file(), "VEDETTE_CORPUS={} has no manifest.json", dir.display());
        return Some(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    dir.join("manifest.json").is_file().then_some(dir)
}

/// (where, record JSON, ip_threat_family) of every JSON-lines CloudTrail record.
fn load(dir: &Path) -> Vec<(String, String, Option<String>)> {
    let manifest: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for entry in manifest.iter().filter(|e| e["format"] == "cloudtrail-jsonl") {
        let events_file = entry["events_file"].as_str().unwrap();
        let records: Vec<String> = std::fs::read_to_string(dir.join(events_file)).unwrap().lines().map(str::to_owned).collect();
        let labels = std::fs::read_to_string(dir.join(entry["labels_file"].as_str().unwrap())).unwrap();
        for label in labels.lines() {
            let label: Value = serde_json::from_str(label).unwrap();
            let line = label["line"].as_u64().unwrap() as usize;
            out.push((format!("{events_file}:{line}"), records[line - 1].clone(), label["ip_threat_family"].as_str().map(str::to_owned)));
        }
    }
    out
}

fn raised(record_json: &str, operator: &OperatorIntel, lists: &DetectorLists) -> Vec<(String, Option<String>)> {
    let record = parse_record(record_json.as_bytes()).unwrap();
    let ctx = DetectContext { detector_id: "corpus", now_ms: 0, source: "corpus", position: 1, intel: Intel { operator, lists } };
    detect::detect(&record, &ctx)
        .into_iter()
        .map(|o| {
            let api = o.finding.service.unwrap().action.unwrap().aws_api_call_action.unwrap();
            (o.finding.r#type.unwrap(), api.error_code)
        })
        .collect()
}

#[test]
fn list_findings_follow_the_corpus_ip_threat_family_labels() {
    let Some(dir) = corpus_dir() else {
        eprintln!("corpus not found (set VEDETTE_CORPUS or clone next to shared/): skipped");
        return;
    };
    let records = load(&dir);
    assert!(records.len() >= 900, "corpus has {} CloudTrail records", records.len());
    let no_operator = OperatorIntel::default();
    let mut mismatches = Vec::new();
    let mut checked = [0u32; 3];
    for (at, json, family) in &records {
        let Ok(parsed) = parse_record(json.as_bytes()) else { continue };
        // Records ingest cannot route or date raise nothing whatever the lists say.
        if detect::missing_field(&parsed).is_some() || detect::event_time_ms(&parsed).is_none() {
            continue;
        }
        let caller = parsed.source_ip_address.get().and_then(|s| s.parse::<IpAddr>().ok());
        let error_code = parsed.error_code.get().map(str::to_owned);
        // A list holding the caller (any address, so that non-public callers are tried too).
        let nets: Vec<IpNet> = caller.map(IpNet::host).into_iter().collect();
        let threat = DetectorLists::build(Vec::new(), vec![ListNets { name: "corpus".into(), file_sha256: String::new(), nets: nets.clone() }]);
        let tor = OperatorIntel {
            feeds: vec![Feed {
                kind: FEED_KINDS.iter().find(|k| k.name == "tor").unwrap(),
                list: NamedSet { name: "tor".into(), file_sha256: String::new(), set: IpSet::from_nets(nets.clone()).into() },
            }],
            ..Default::default()
        };
        let (custom, tor_type) = match family.as_deref() {
            Some("Recon") => (Some(ft::RECON_MALICIOUS_IP_CALLER_CUSTOM), Some(ft::RECON_TOR_IP_CALLER)),
            Some("UnauthorizedAccess") => (Some(ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM), Some(ft::UNAUTHORIZED_TOR_IP_CALLER)),
            Some("S3") | None => (None, None),
            Some(other) => panic!("{at}: unknown ip_threat_family {other}"),
        };
        let without = raised(json, &no_operator, &DetectorLists::default());
        for (operator, lists, expected) in [(&no_operator, &threat, custom), (&tor, &DetectorLists::default(), tor_type)] {
            let mut got = raised(json, operator, lists);
            got.retain(|t| !without.contains(t));
            let want: Vec<(String, Option<String>)> = expected.map(|t| (t.to_owned(), error_code.clone())).into_iter().collect();
            if got != want {
                mismatches.push(format!("{at} ({family:?}): raised {got:?}, expected {want:?}"));
            }
        }
        // On the trusted list too: a public caller gets nothing at all.
        let both = DetectorLists::build(nets.clone(), vec![ListNets { name: "corpus".into(), file_sha256: String::new(), nets }]);
        let silenced = raised(json, &tor, &both);
        let public = caller.is_some_and(vedette_domain::intel::is_publicly_routable);
        if public && !silenced.is_empty() {
            mismatches.push(format!("{at}: trusted caller still raised {silenced:?}"));
        }
        checked[match family.as_deref() {
            Some("Recon") => 0,
            Some("UnauthorizedAccess") => 1,
            _ => 2,
        }] += 1;
    }
    eprintln!("ip_threat_family: {} Recon, {} UnauthorizedAccess, {} other records checked", checked[0], checked[1], checked[2]);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}
