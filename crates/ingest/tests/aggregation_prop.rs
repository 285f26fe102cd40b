//! Aggregation is independent of input order and batch boundaries, end to end: the same CloudTrail
//! events, shuffled, split over files of every layout (JSON lines, log files, arrays, gzip or not),
//! ingested in several runs with tiny chunks and batches, give the same stored findings as one
//! run over one file — same findings, counts, first/last seen, latest details and evidence.
//!
//! (The merge function's own order/batching property is in `vedette_domain::aggregate`; this one
//! covers what lies around it: workers, chunks, pre-merging, writer batches, the store's merge.)
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};
use vedette_domain::criteria::{Criteria, parse_sort};
use vedette_domain::{DetectorConfig, Evidence, Scope, model};
use vedette_ingest::{IngestOptions, ingest_paths};
use vedette_store::{SqliteStore, Store};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const NOW: i64 = 1_800_000_000_000;
const IPS: &[&str] = &["203.0.113.9", "198.51.100.1", "192.0.2.77", "2001:db8::5"];
const ERRORS: &[Option<&str>] = &[None, Some("AccessDenied"), Some("ThrottlingException")];
const KALI: &str = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023";

/// One event: which activity (see [`event`]), minute of the hour (ties are common), source IP,
/// error code.
type Spec = (u8, u8, usize, usize);

fn identity(who: &str) -> Value {
    match who {
        "root" => {
            json!({"type": "Root", "principalId": ACCOUNT, "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT, "accessKeyId": "ASIAROOTKEY"})
        }
        name => json!({"type": "IAMUser", "principalId": format!("AIDA{name}"), "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
                        "accountId": ACCOUNT, "accessKeyId": format!("AKIA{}", name.to_uppercase()), "userName": name}),
    }
}

/// Activities that raise findings (several events per finding), and one that raises none.
fn event(i: usize, &(activity, minute, ip, error): &Spec) -> Value {
    let (who, name, source, agent, params) = match activity % 6 {
        0 => ("root", "ListUsers", "iam.amazonaws.com", "aws-cli/2.15.0", Value::Null),
        1 => ("root", "GetUser", "iam.amazonaws.com", "Boto3/1.34.0", Value::Null),
        2 => ("alice", "StopLogging", "cloudtrail.amazonaws.com", "console.amazonaws.com", json!({"name": "main-trail"})),
        3 => ("bob", "DescribeInstances", "ec2.amazonaws.com", KALI, Value::Null),
        4 => ("root", "DescribeInstances", "ec2.amazonaws.com", KALI, Value::Null),
        _ => ("alice", "DescribeInstances", "ec2.amazonaws.com", "aws-cli/2.15.0", Value::Null),
    };
    let mut r = json!({
        "eventVersion": "1.09", "eventTime": format!("2024-03-01T10:{minute:02}:00Z"), "eventSource": source,
        "eventName": name, "awsRegion": REGION, "sourceIPAddress": IPS[ip], "userAgent": agent,
        "requestParameters": params, "responseElements": null, "eventID": format!("ev{i:03}"),
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT,
        "eventCategory": "Management", "userIdentity": identity(who),
    });
    if let Some(code) = ERRORS[error] {
        r["errorCode"] = json!(code);
        r["errorMessage"] = json!("denied");
    }
    r
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Writes `events` as one file of layout `layout`; returns its path and the event id at each
/// position (line number for JSON lines, record number otherwise).
fn write_file(dir: &Path, name: &str, layout: u8, events: &[Value]) -> (PathBuf, Vec<(u64, String)>) {
    let ids = |first: u64| events.iter().enumerate().map(|(i, e)| (first + i as u64, e["eventID"].as_str().unwrap().to_owned())).collect();
    let lines = || events.iter().map(|e| format!("{e}\n")).collect::<String>();
    let (file, bytes) = match layout % 5 {
        0 => (format!("{name}.jsonl"), lines().into_bytes()),
        1 => (format!("{name}.jsonl.gz"), gzip(lines().as_bytes())),
        2 => (format!("{name}.json"), json!({"Records": events}).to_string().into_bytes()),
        3 => (format!("{name}.json.gz"), gzip(json!({"Records": events}).to_string().as_bytes())),
        _ => (format!("{name}.json"), Value::Array(events.to_vec()).to_string().into_bytes()),
    };
    let path = dir.join(file);
    std::fs::write(&path, bytes).unwrap();
    (path, ids(1))
}

fn store_with_detector(dir: &Path) -> (SqliteStore, String) {
    let store = SqliteStore::open(dir).unwrap();
    let detector = store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap();
    (store, detector.id)
}

/// The stored findings, each made comparable across stores: the evidence's sources (file and
/// position) must name the events its ids name, and are then dropped; what differs between two
/// stores by construction (detector id, so finding ids and ARNs) and the wall clock of the store's
/// merges (`updatedAt`) is blanked. Sorted.
fn normalized(store: &SqliteStore, detector: &str, located: &HashMap<(String, u64), String>) -> Vec<String> {
    let sort = parse_sort(None).unwrap();
    let ids = store.list_findings(detector, &Criteria::default(), &sort, 1_000, None).unwrap().items;
    let mut out: Vec<String> = store
        .get_findings(detector, &ids, None)
        .unwrap()
        .into_iter()
        .map(|mut f: model::Finding| {
            let mut evidence = Evidence::from_finding(&f).expect("detection findings carry evidence");
            assert_eq!(evidence.sources.len(), evidence.event_ids.len());
            for (source, id) in evidence.sources.iter().zip(&evidence.event_ids) {
                let (path, position) = source.rsplit_once(':').expect("file:position");
                let file = Path::new(path).file_name().unwrap().to_string_lossy().into_owned();
                let at = located.get(&(file, position.parse().unwrap()));
                assert_eq!(at, Some(id), "evidence source {source} does not hold event {id}");
            }
            evidence.sources.clear();
            evidence.store_in(&mut f);
            f.id = None;
            f.arn = None;
            f.updated_at = None;
            f.service.as_mut().unwrap().detector_id = None;
            serde_json::to_string(&f).unwrap()
        })
        .collect();
    out.sort();
    out
}

fn run(store: &SqliteStore, paths: &[PathBuf], options: &IngestOptions) {
    let summary = ingest_paths(store, paths, options, &mut |_| {}).unwrap();
    assert_eq!(summary.problems_total, 0, "{:?}", summary.problems);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn order_files_runs_and_batches_do_not_change_the_findings(
        specs in prop::collection::vec((0u8..6, 0u8..20, 0..IPS.len(), 0..ERRORS.len()), 1..40),
        shuffle in any::<u64>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        layouts in prop::collection::vec(0u8..5, 5),
        runs in 1usize..4,
        threads in 1usize..3,
        chunk_records in 1u64..5,
        batch_records in 1u64..7,
        batch_findings in 1usize..5,
    ) {
        let events: Vec<Value> = specs.iter().enumerate().map(|(i, s)| event(i, s)).collect();
        let logs = tempfile::tempdir().unwrap();
        let mut located = HashMap::new();
        let mut locate = |path: &Path, at: Vec<(u64, String)>| {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            for (position, id) in at {
                located.insert((file.clone(), position), id);
            }
        };

        // The reference: one file in the original order, one run, default batching.
        let data = tempfile::tempdir().unwrap();
        let (reference, reference_detector) = store_with_detector(data.path());
        let (path, at) = write_file(logs.path(), "reference", 0, &events);
        locate(&path, at);
        run(&reference, &[path], &IngestOptions { now_ms: Some(NOW), ..Default::default() });

        // Shuffled (a seeded Fisher–Yates), cut into up to five files of mixed layouts, the files
        // dealt over `runs` runs, tiny chunks and batches.
        let mut shuffled = events.clone();
        let mut seed = shuffle;
        for i in (1..shuffled.len()).rev() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            shuffled.swap(i, (seed >> 33) as usize % (i + 1));
        }
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(shuffled.len() + 1)).collect();
        bounds.extend([0, shuffled.len()]);
        bounds.sort_unstable();
        bounds.dedup();
        let mut per_run: Vec<Vec<PathBuf>> = vec![Vec::new(); runs];
        for (n, part) in bounds.windows(2).enumerate() {
            let (path, at) = write_file(logs.path(), &format!("part{n}"), layouts[n % layouts.len()], &shuffled[part[0]..part[1]]);
            locate(&path, at);
            per_run[n % runs].push(path);
        }
        let data = tempfile::tempdir().unwrap();
        let (split, split_detector) = store_with_detector(data.path());
        let options = IngestOptions { now_ms: Some(NOW), threads, chunk_records, batch_records, batch_findings, ..Default::default() };
        for paths in per_run.iter().rev() {
            run(&split, paths, &options);
        }

        let expected = normalized(&reference, &reference_detector, &located);
        // Activity 5 raises nothing, nor does a failed StopLogging (trail rules fire on successful calls only).
        let raises_nothing = |s: &Spec| s.0 % 6 == 5 || (s.0 % 6 == 2 && ERRORS[s.3].is_some());
        prop_assert!(!expected.is_empty() || specs.iter().all(raises_nothing), "the activities raise findings");
        prop_assert_eq!(normalized(&split, &split_detector, &located), expected);
    }
}
