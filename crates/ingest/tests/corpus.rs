//! Runs every CloudTrail record of the shared third-party corpus (`../shared/corpus`, labelled
//! with the GuardDuty type each should or should not raise) through detection, prints recall and
//! false-positive rate per implemented type, and fails if a type's recall drops below 90% or it
//! fires on more than 2% of its negatives (high- and medium-confidence labels; low-confidence
//! labels are printed only). Also checks `expected_error_code` on every detected positive.
//!
//! The corpus is found through `VEDETTE_CORPUS`, else `<repo>/../shared/corpus`. Without it the
//! test says so and passes, unless `VEDETTE_CORPUS` was set.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vedette_domain::cloudtrail::parse_record;
use vedette_domain::detect::{self, DetectContext, RULES};
use vedette_domain::{DetectorConfig, Scope};
use vedette_store::{SqliteStore, Store};

const MIN_RECALL: f64 = 0.90;
const MAX_FP_RATE: f64 = 0.02;

fn corpus_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("VEDETTE_CORPUS") {
        let dir = PathBuf::from(dir);
        assert!(dir.join("manifest.json").is_file(), "VEDETTE_CORPUS={} has no manifest.json", dir.display());
        return Some(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    dir.join("manifest.json").is_file().then_some(dir)
}

struct Labelled {
    /// `file:line`, for messages.
    at: String,
    record: String,
    expected: BTreeSet<String>,
    expected_error_code: Option<String>,
    confidence: String,
}

fn load(dir: &Path) -> Vec<Labelled> {
    let manifest: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for entry in manifest {
        let format = entry["format"].as_str().unwrap();
        let events_file = entry["events_file"].as_str().unwrap();
        let records: Vec<String> = match format {
            "cloudtrail-jsonl" => std::fs::read_to_string(dir.join(events_file)).unwrap().lines().map(str::to_owned).collect(),
            "cloudtrail-records-json-gz" => {
                let mut text = String::new();
                flate2::read::MultiGzDecoder::new(std::fs::File::open(dir.join(events_file)).unwrap()).read_to_string(&mut text).unwrap();
                let doc: Value = serde_json::from_str(&text).unwrap();
                doc["Records"].as_array().unwrap().iter().map(|r| r.to_string()).collect()
            }
            _ => continue,
        };
        let labels = std::fs::read_to_string(dir.join(entry["labels_file"].as_str().unwrap())).unwrap();
        for label in labels.lines() {
            let label: Value = serde_json::from_str(label).unwrap();
            let line = label["line"].as_u64().unwrap() as usize;
            out.push(Labelled {
                at: format!("{events_file}:{line}"),
                record: records[line - 1].clone(),
                expected: label["expected_finding_types"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect(),
                expected_error_code: label["expected_error_code"].as_str().map(str::to_owned),
                confidence: label["confidence"].as_str().unwrap().to_owned(),
            });
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    positives: u64,
    true_positives: u64,
    negatives: u64,
    false_positives: u64,
    low_positives: u64,
    low_detected_positives: u64,
    low_negatives: u64,
    low_false_positives: u64,
}

#[test]
fn corpus_recall_and_false_positive_rate() {
    let Some(dir) = corpus_dir() else {
        eprintln!("corpus not found (set VEDETTE_CORPUS or clone next to shared/): skipped");
        return;
    };
    let records = load(&dir);
    assert!(records.len() >= 900, "corpus has {} CloudTrail records", records.len());
    let types: Vec<&str> = RULES.iter().flat_map(|r| r.finding_types.iter().copied()).collect();
    let mut tallies: BTreeMap<&str, Tally> = types.iter().map(|t| (*t, Tally::default())).collect();
    let mut unparsed = Vec::new();
    let mut error_code_failures = Vec::new();
    let mut misses = Vec::new();
    let mut false_alarms = Vec::new();

    for item in &records {
        let raised: BTreeMap<String, Option<String>> = match parse_record(item.record.as_bytes()) {
            Ok(record) => {
                let ctx = DetectContext { detector_id: "corpus", now_ms: 0, source: &item.at, position: 0, intel: detect::Intel::none() };
                detect::detect(&record, &ctx)
                    .into_iter()
                    .map(|o| {
                        let api = o.finding.service.unwrap().action.unwrap().aws_api_call_action.unwrap();
                        (o.finding.r#type.unwrap(), api.error_code)
                    })
                    .collect()
            }
            Err(e) => {
                unparsed.push(format!("{}: {e}", item.at));
                BTreeMap::new()
            }
        };
        let enforced = item.confidence != "low";
        for ty in &types {
            let tally = tallies.get_mut(ty).unwrap();
            let expected = item.expected.contains(*ty);
            let detected = raised.contains_key(*ty);
            match (enforced, expected) {
                (true, true) => {
                    tally.positives += 1;
                    tally.true_positives += u64::from(detected);
                    if !detected {
                        misses.push(format!("{ty} missed at {}", item.at));
                    }
                }
                (true, false) => {
                    tally.negatives += 1;
                    tally.false_positives += u64::from(detected);
                    if detected {
                        false_alarms.push(format!("{ty} raised at {}", item.at));
                    }
                }
                (false, true) => {
                    tally.low_positives += 1;
                    tally.low_detected_positives += u64::from(detected);
                }
                (false, false) => {
                    tally.low_negatives += 1;
                    tally.low_false_positives += u64::from(detected);
                }
            }
            if expected && detected {
                let got = raised[*ty].as_deref();
                if got != item.expected_error_code.as_deref() {
                    error_code_failures.push(format!("{ty} at {}: errorCode {got:?}, expected {:?}", item.at, item.expected_error_code));
                }
            }
        }
    }

    println!("\ncorpus: {} CloudTrail records from {}", records.len(), dir.display());
    println!("{:<46} {:>9} {:>8} {:>11} {:>8} | {:>12} {:>12}", "type", "positives", "recall", "negatives", "FP rate", "low pos hit", "low neg FP");
    let mut failures = Vec::new();
    for (ty, t) in &tallies {
        let recall = (t.positives > 0).then(|| t.true_positives as f64 / t.positives as f64);
        let fp_rate = t.false_positives as f64 / t.negatives.max(1) as f64;
        println!(
            "{:<46} {:>9} {:>8} {:>11} {:>7.2}% | {:>12} {:>12}",
            ty,
            t.positives,
            recall.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "n/a".into()),
            t.negatives,
            fp_rate * 100.0,
            format!("{}/{}", t.low_detected_positives, t.low_positives),
            format!("{}/{}", t.low_false_positives, t.low_negatives),
        );
        if recall.is_some_and(|r| r < MIN_RECALL) {
            failures.push(format!("{ty}: recall {:.1}% < {:.0}%", recall.unwrap() * 100.0, MIN_RECALL * 100.0));
        }
        if fp_rate > MAX_FP_RATE {
            failures.push(format!("{ty}: false-positive rate {:.2}% > {:.0}%", fp_rate * 100.0, MAX_FP_RATE * 100.0));
        }
    }
    for line in misses.iter().chain(&false_alarms).chain(&unparsed) {
        println!("  {line}");
    }
    assert!(unparsed.is_empty(), "records that do not parse: {unparsed:#?}");
    assert!(error_code_failures.is_empty(), "{error_code_failures:#?}");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The corpus's one real-format delivery (`{"Records":[...]}`, gzipped) through the whole
/// ingester into the store: every record read, root usage raised with the failed call's code
/// kept in the count.
#[test]
fn corpus_gzipped_cloudtrail_file_through_the_store() {
    let Some(dir) = corpus_dir() else { return };
    let file = dir.join("cloudtrail/panther-analysis/scenarios/compromised-root-creds.Records.json.gz");
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&file).unwrap()).read_to_string(&mut text).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path()).unwrap();
    let scopes: BTreeSet<(String, String)> = doc["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["recipientAccountId"].as_str().unwrap().to_owned(), r["awsRegion"].as_str().unwrap().to_owned()))
        .collect();
    let detectors: Vec<String> = scopes
        .iter()
        .map(|(a, r)| store.create_detector(&Scope::new(a, r), DetectorConfig::default(), Default::default(), None).unwrap().id)
        .collect();
    let summary = vedette_ingest::ingest_paths(&store, &[file], &Default::default(), &mut |_| {}).unwrap();
    assert_eq!(summary.events, 16);
    assert_eq!(summary.bad_records, 0);
    let labels = std::fs::read_to_string(dir.join("cloudtrail/panther-analysis/scenarios/compromised-root-creds.labels.jsonl")).unwrap();
    let root_positives = labels.lines().filter(|l| l.contains("\"expected_finding_type\":\"Policy:IAMUser/RootCredentialUsage\"")).count();
    let sort = vedette_domain::criteria::parse_sort(None).unwrap();
    let mut root_count = 0;
    for detector in &detectors {
        let ids = store.list_findings(detector, &Default::default(), &sort, 50, None).unwrap().items;
        for f in store.get_findings(detector, &ids, None).unwrap() {
            assert_eq!(f.r#type.as_deref(), Some("Policy:IAMUser/RootCredentialUsage"));
            root_count += f.service.unwrap().count.unwrap() as usize;
        }
    }
    assert_eq!(root_count, root_positives);
}
