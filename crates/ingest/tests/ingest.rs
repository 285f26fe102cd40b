//! The ingest pipeline against the real SQLite store: CloudTrail trees as delivered, routing,
//! findings, exactly-once (re-ingest, stop-and-resume), bad input.
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use vedette_domain::criteria::{Criteria, parse_sort};
use vedette_domain::{DetectorConfig, Evidence, Scope, model};
use vedette_ingest::{Identity, IngestOptions, SKIP_DETECTOR_DISABLED, SKIP_NO_DETECTOR, Settled, Source, Summary, ingest_paths, ingest_sources};
use vedette_store::{SqliteStore, Store};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const NOW: i64 = 1_800_000_000_000;

fn record(id: &str, time: &str, name: &str, source: &str, identity: Value, extra: Value) -> Value {
    let mut r = json!({
        "eventVersion": "1.09", "eventTime": time, "eventSource": source, "eventName": name,
        "awsRegion": REGION, "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15.0",
        "requestParameters": null, "responseElements": null, "requestID": "r", "eventID": id,
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": ACCOUNT, "eventCategory": "Management", "userIdentity": identity,
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn root() -> Value {
    json!({"type": "Root", "principalId": ACCOUNT, "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT, "accessKeyId": "ASIAROOTKEY"})
}

fn alice() -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAALICE", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"), "accountId": ACCOUNT, "accessKeyId": "AKIAALICE", "userName": "alice"})
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Writes a CloudTrail object where CloudTrail would: AWSLogs/<acct>/CloudTrail/<region>/Y/M/D/.
fn deliver(root_dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let dir = root_dir.join(format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/03/01"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{ACCOUNT}_CloudTrail_{REGION}_20240301T1000Z_{name}.json.gz"));
    std::fs::write(&path, gzip(json!({"Records": records}).to_string().as_bytes())).unwrap();
    path
}

fn store_with_detector(dir: &Path) -> (SqliteStore, String) {
    let store = SqliteStore::open(dir).unwrap();
    let detector = store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap();
    (store, detector.id)
}

fn options() -> IngestOptions {
    IngestOptions { now_ms: Some(NOW), ..Default::default() }
}

fn ingest(store: &SqliteStore, paths: &[PathBuf], options: &IngestOptions) -> Summary {
    ingest_paths(store, paths, options, &mut |_| {}).unwrap()
}

fn findings(store: &SqliteStore, detector: &str) -> Vec<model::Finding> {
    let sort = parse_sort(None).unwrap();
    let ids = store.list_findings(detector, &Criteria::default(), &sort, 50, None).unwrap().items;
    let mut all = store.get_findings(detector, &ids, None).unwrap();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all
}

fn by_type<'f>(all: &'f [model::Finding], ty: &str) -> &'f model::Finding {
    all.iter().find(|f| f.r#type.as_deref() == Some(ty)).unwrap_or_else(|| panic!("no {ty} finding in {all:#?}"))
}

fn api(f: &model::Finding) -> &model::AwsApiCallAction {
    f.service.as_ref().unwrap().action.as_ref().unwrap().aws_api_call_action.as_ref().unwrap()
}

/// Two delivered objects (events out of time order across them), a digest file, a Region with
/// no detector.
fn sample_tree(dir: &Path) -> Vec<PathBuf> {
    let later = vec![
        record("e3", "2024-03-01T10:30:00Z", "ListUsers", "iam.amazonaws.com", root(), json!({})),
        record("e4", "2024-03-01T10:31:00Z", "DescribeInstances", "ec2.amazonaws.com", alice(), json!({})),
    ];
    let earlier = vec![
        record(
            "e1",
            "2024-03-01T10:00:00Z",
            "GetUser",
            "iam.amazonaws.com",
            root(),
            json!({"errorCode": "AccessDenied", "sourceIPAddress": "198.51.100.1"}),
        ),
        record(
            "e2",
            "2024-03-01T10:05:00Z",
            "StopLogging",
            "cloudtrail.amazonaws.com",
            alice(),
            json!({"requestParameters": {"name": "main-trail"}}),
        ),
        record(
            "e5",
            "2024-03-01T10:06:00Z",
            "PutBucketPolicy",
            "s3.amazonaws.com",
            alice(),
            json!({"requestParameters": {
            "bucketName": "public-bucket",
            "bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::public-bucket/*"}]}}}),
        ),
        record("e6", "2024-03-01T10:07:00Z", "ListUsers", "iam.amazonaws.com", root(), json!({"awsRegion": "eu-west-3"})),
    ];
    deliver(dir, "B", &later);
    deliver(dir, "A", &earlier);
    let digest = dir.join(format!("AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2024/03/01"));
    std::fs::create_dir_all(&digest).unwrap();
    std::fs::write(digest.join(format!("{ACCOUNT}_CloudTrail-Digest_{REGION}_x.json.gz")), gzip(b"{}")).unwrap();
    vec![dir.join("AWSLogs")]
}

#[test]
fn ingests_a_cloudtrail_tree_into_findings() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let summary = ingest(&store, &sample_tree(logs.path()), &options());

    assert_eq!(summary.sources, 2);
    assert_eq!(summary.digest_files_skipped, 1);
    assert_eq!(summary.events, 6);
    assert_eq!(summary.skipped.get(SKIP_NO_DETECTOR), Some(&1), "eu-west-3 has no detector");
    assert_eq!(summary.skipped_scopes.get(&format!("{ACCOUNT}/eu-west-3")), Some(&1));
    assert_eq!(summary.bad_records, 0);
    assert_eq!(summary.problems_total, 0, "{:?}", summary.problems);
    assert_eq!(summary.occurrences, 4);
    assert_eq!(summary.findings_created, 3);
    assert_eq!(summary.findings_updated, 0, "none existed before");

    let all = findings(&store, &detector);
    assert_eq!(all.len(), 3);
    let root_usage = by_type(&all, "Policy:IAMUser/RootCredentialUsage");
    let service = root_usage.service.as_ref().unwrap();
    assert_eq!(service.count, Some(2));
    assert_eq!(service.event_first_seen.as_deref(), Some("2024-03-01T10:00:00.000Z"));
    assert_eq!(service.event_last_seen.as_deref(), Some("2024-03-01T10:30:00.000Z"));
    assert_eq!(api(root_usage).api.as_deref(), Some("ListUsers"), "details of the latest event");
    assert_eq!(api(root_usage).error_code, None, "the latest call succeeded");
    assert_eq!(root_usage.created_at.as_deref(), Some("2027-01-15T08:00:00.000Z"));
    let evidence = Evidence::from_finding(root_usage).unwrap();
    assert_eq!(evidence.event_ids, ["e1", "e3"]);
    assert!(evidence.sources[0].ends_with("_A.json.gz:1"), "{:?}", evidence.sources);
    assert!(evidence.sources[1].ends_with("_B.json.gz:1"), "{:?}", evidence.sources);

    let trail = by_type(&all, "Stealth:IAMUser/CloudTrailLoggingDisabled");
    assert_eq!(api(trail).affected_resources.as_ref().unwrap()["AWS::CloudTrail::Trail"], "main-trail");
    let bucket = by_type(&all, "Policy:S3/BucketAnonymousAccessGranted");
    let details = &bucket.resource.as_ref().unwrap().s3_bucket_details.as_ref().unwrap()[0];
    assert_eq!(details.name.as_deref(), Some("public-bucket"));
}

#[test]
fn failed_call_finding_has_error_code_successful_one_has_none() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let denied = record("d1", "2024-03-01T10:00:00Z", "ListUsers", "iam.amazonaws.com", root(), json!({"errorCode": "AccessDenied"}));
    let mut other_root = root();
    other_root["accessKeyId"] = json!("ASIAOTHERROOT");
    let ok = record("d2", "2024-03-01T10:00:00Z", "ListUsers", "iam.amazonaws.com", other_root, json!({}));
    ingest(&store, &[deliver(logs.path(), "X", &[denied, ok])], &options());
    let all = findings(&store, &detector);
    assert_eq!(all.len(), 2);
    let codes: Vec<Option<&str>> = all.iter().map(|f| api(f).error_code.as_deref()).collect();
    assert!(codes.contains(&Some("AccessDenied")) && codes.contains(&None), "{codes:?}");
}

#[test]
fn reingesting_changes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let paths = sample_tree(logs.path());
    ingest(&store, &paths, &options());
    let before = findings(&store, &detector);
    let again = ingest(&store, &paths, &options());
    assert_eq!(again.sources, 0);
    assert_eq!(again.sources_already_ingested, 2);
    assert_eq!(again.events, 0);
    assert_eq!((again.findings_created, again.findings_updated), (0, 0));
    assert_eq!(findings(&store, &detector), before, "not even updatedAt moves");
}

#[test]
fn suspended_detector_skips_its_records() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let scope = Scope::new(ACCOUNT, REGION);
    store.update_detector(&scope, &detector, DetectorConfig { enabled: false, ..Default::default() }).unwrap();
    let summary = ingest(&store, &sample_tree(logs.path()), &options());
    assert_eq!(summary.skipped.get(SKIP_DETECTOR_DISABLED), Some(&5));
    assert!(findings(&store, &detector).is_empty());
}

/// Many records in one JSON-lines file, a hit every few lines, several findings.
fn big_jsonl(dir: &Path, lines: usize) -> PathBuf {
    let path = dir.join("big.jsonl");
    let mut out = String::new();
    for i in 0..lines {
        let minute = i % 60;
        let time = format!("2024-03-01T{:02}:{minute:02}:{:02}Z", 10 + (i / 3600) % 10, (i * 7) % 60);
        let r = match i % 10 {
            0 => record(&format!("r{i}"), &time, "ListUsers", "iam.amazonaws.com", root(), json!({})),
            3 => {
                let mut who = alice();
                who["accessKeyId"] = json!(format!("AKIA{}", i % 7));
                record(
                    &format!("s{i}"),
                    &time,
                    "StopLogging",
                    "cloudtrail.amazonaws.com",
                    who,
                    json!({"requestParameters": {"name": format!("t{i}")}}),
                )
            }
            5 => record(&format!("f{i}"), &time, "GetUser", "iam.amazonaws.com", root(), json!({"errorCode": "AccessDenied"})),
            _ => record(&format!("n{i}"), &time, "DescribeInstances", "ec2.amazonaws.com", alice(), json!({})),
        };
        out.push_str(&r.to_string());
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
    path
}

/// The findings minus what differs between two stores by construction (detector id, hence
/// finding ids and ARNs) and the wall clock (`updatedAt`).
fn normalized(all: Vec<model::Finding>) -> Vec<String> {
    let mut out: Vec<String> = all
        .into_iter()
        .map(|mut f| {
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

#[test]
fn stopped_run_resumes_to_the_result_of_one_clean_run() {
    let logs = tempfile::tempdir().unwrap();
    let path = big_jsonl(logs.path(), 3000);
    let small_batches = IngestOptions { chunk_records: 100, batch_records: 250, ..options() };

    let clean_dir = tempfile::tempdir().unwrap();
    let (clean, clean_detector) = store_with_detector(clean_dir.path());
    let clean_summary = ingest(&clean, std::slice::from_ref(&path), &small_batches);
    assert_eq!(clean_summary.events, 3000);

    let dir = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(dir.path());
    let stop = CancellationToken::new();
    let stopping = IngestOptions { cancel: stop.clone(), ..small_batches.clone() };
    let first = ingest_paths(&store, std::slice::from_ref(&path), &stopping, &mut |p| {
        if p.events >= 1000 {
            stop.cancel();
        }
    })
    .unwrap();
    assert!(first.interrupted);
    assert!(first.events >= 1000 && first.events < 3000, "stopped part way: {}", first.events);
    let partial = findings(&store, &detector);
    assert!(!partial.is_empty());

    let second = ingest(&store, std::slice::from_ref(&path), &small_batches);
    assert_eq!(second.sources_resumed, 1);
    assert_eq!(first.events + second.events, 3000, "no record read twice or skipped");
    let resumed = normalized(findings(&store, &detector));
    assert_eq!(resumed.len(), 8, "root usage + 7 callers stopping trails");
    assert_eq!(resumed, normalized(findings(&clean, &clean_detector)));
}

#[test]
fn appended_json_lines_are_read_from_where_the_last_run_stopped() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let path = logs.path().join("stream.jsonl");
    let line = |id: &str, t: &str| record(id, t, "ListUsers", "iam.amazonaws.com", root(), json!({})).to_string() + "\n";
    std::fs::write(&path, line("a", "2024-03-01T10:00:00Z")).unwrap();
    ingest(&store, std::slice::from_ref(&path), &options());
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(line("b", "2024-03-01T11:00:00Z").as_bytes()).unwrap();
    let second = ingest(&store, std::slice::from_ref(&path), &options());
    assert_eq!(second.events, 1);
    let all = findings(&store, &detector);
    assert_eq!(all[0].service.as_ref().unwrap().count, Some(2));
    assert_eq!((second.findings_created, second.findings_updated), (0, 1));
}

#[test]
fn bad_input_is_counted_and_reported_with_its_position() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let good = |id: &str| record(id, "2024-03-01T10:00:00Z", "ListUsers", "iam.amazonaws.com", root(), json!({}));

    let truncated_path = logs.path().join("truncated.json.gz");
    let full = gzip(json!({"Records": (0..200).map(|i| good(&format!("t{i}"))).collect::<Vec<_>>()}).to_string().as_bytes());
    std::fs::write(&truncated_path, &full[..full.len() / 2]).unwrap();

    let lines_path = logs.path().join("mixed.jsonl");
    let mut missing = good("m1");
    missing.as_object_mut().unwrap().remove("recipientAccountId");
    let mut bad_time = good("m2");
    bad_time["eventTime"] = json!("yesterday");
    let body = [
        good("l1").to_string(),
        "{\"eventName\": broken".into(),
        missing.to_string(),
        "[1,2,3]".into(),
        bad_time.to_string(),
        good("l6").to_string(),
    ]
    .join("\n");
    std::fs::write(&lines_path, body).unwrap();

    let binary_path = logs.path().join("image.json");
    std::fs::write(&binary_path, [0u8, 159, 146, 150, 1, 2]).unwrap();

    let summary = ingest(&store, &[truncated_path.clone(), lines_path.clone(), binary_path.clone(), logs.path().join("absent.json")], &options());
    let listed: Vec<String> = summary.problems.iter().map(|p| p.to_string()).collect();
    let has = |file: &Path, position: u64, text: &str| {
        summary.problems.iter().any(|p| p.source == file.display().to_string() && p.position == position && p.message.contains(text))
    };
    assert!(summary.problems.iter().any(|p| p.source.ends_with("truncated.json.gz") && p.message.contains("truncated")), "{listed:#?}");
    let lines_path = std::fs::canonicalize(&lines_path).unwrap();
    assert!(has(&lines_path, 2, "not a CloudTrail record"), "{listed:#?}");
    assert!(has(&lines_path, 3, "recipientAccountId"), "{listed:#?}");
    assert!(has(&lines_path, 4, "not a CloudTrail record"), "{listed:#?}");
    assert!(has(&lines_path, 5, "eventTime"), "{listed:#?}");
    assert!(summary.problems.iter().any(|p| p.source.ends_with("image.json") && p.message.contains("not CloudTrail")), "{listed:#?}");
    assert!(summary.problems.iter().any(|p| p.source.ends_with("absent.json")), "{listed:#?}");
    assert_eq!(summary.bad_records, 4);

    // Good records around the bad ones are used; the truncated file's readable prefix too.
    let all = findings(&store, &detector);
    assert_eq!(all.len(), 1);
    let count = all[0].service.as_ref().unwrap().count.unwrap() as u64;
    assert_eq!(count, summary.occurrences);
    assert!(count > 2 && count < 202, "{count}");
}

fn create_detector(store: &SqliteStore, region: &str) -> String {
    store.create_detector(&Scope::new(ACCOUNT, region), DetectorConfig::default(), Default::default(), None).unwrap().id
}

#[test]
fn a_detector_created_later_analyses_what_was_skipped_once() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path()).unwrap();
    let paths = sample_tree(logs.path());

    let first = ingest(&store, &paths, &options());
    assert_eq!(first.sources, 2);
    assert_eq!(first.skipped.get(SKIP_NO_DETECTOR), Some(&6), "{first:?}");
    assert_eq!(first.skipped_scopes.get(&format!("{ACCOUNT}/{REGION}")), Some(&5));
    assert_eq!(first.findings_created, 0);

    let detector = create_detector(&store, REGION);
    let second = ingest(&store, &paths, &options());
    assert_eq!((second.sources, second.sources_reread, second.sources_already_ingested), (2, 2, 0), "{second:?}");
    assert_eq!(second.events, 6);
    assert_eq!(second.events_already_analysed, 0);
    assert_eq!(second.skipped.get(SKIP_NO_DETECTOR), Some(&1), "eu-west-3 still has none");
    assert_eq!(second.findings_created, 3);
    assert_eq!(second.bad_records + second.problems_total, 0, "{second:?}");
    let after_second = findings(&store, &detector);
    assert_eq!(after_second.len(), 3);
    assert_eq!(by_type(&after_second, "Policy:IAMUser/RootCredentialUsage").service.as_ref().unwrap().count, Some(2));

    let third = ingest(&store, &paths, &options());
    assert_eq!((third.sources, third.sources_already_ingested, third.events), (0, 2, 0), "{third:?}");
    assert_eq!((third.findings_created, third.findings_updated), (0, 0));
    assert_eq!(findings(&store, &detector), after_second, "not even updatedAt moves");
}

#[test]
fn a_new_detector_gets_only_its_records_and_others_are_not_applied_twice() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let paths = sample_tree(logs.path());
    ingest(&store, &paths, &options());
    let before = findings(&store, &detector);

    let paris = create_detector(&store, "eu-west-3");
    let again = ingest(&store, &paths, &options());
    // File B holds only us-east-1 records: not even opened. File A is read again for eu-west-3.
    assert_eq!((again.sources, again.sources_reread, again.sources_already_ingested), (1, 1, 1), "{again:?}");
    assert_eq!((again.events, again.events_already_analysed), (4, 3), "{again:?}");
    assert!(again.skipped.is_empty(), "{again:?}");
    assert_eq!((again.findings_created, again.findings_updated), (1, 0));
    assert_eq!(findings(&store, &detector), before, "us-east-1 findings untouched");
    let paris_findings = findings(&store, &paris);
    assert_eq!(paris_findings.len(), 1);
    let root_usage = by_type(&paris_findings, "Policy:IAMUser/RootCredentialUsage");
    assert_eq!(root_usage.region.as_deref(), Some("eu-west-3"));
    assert_eq!(Evidence::from_finding(root_usage).unwrap().event_ids, ["e6"]);

    let third = ingest(&store, &paths, &options());
    assert_eq!((third.sources, third.sources_already_ingested), (0, 2), "{third:?}");
}

/// JSON lines alternating between two Regions, a hit every few lines in each.
fn two_region_jsonl(dir: &Path, lines: usize) -> PathBuf {
    let path = dir.join("two-regions.jsonl");
    let mut out = String::new();
    for i in 0..lines {
        let region = if i % 2 == 0 { REGION } else { "eu-west-3" };
        let time = format!("2024-03-01T{:02}:{:02}:{:02}Z", 10 + (i / 3600) % 10, (i / 60) % 60, i % 60);
        let r = match i % 6 {
            0 | 1 => record(&format!("r{i}"), &time, "ListUsers", "iam.amazonaws.com", root(), json!({"awsRegion": region})),
            4 | 5 => {
                let mut who = alice();
                who["accessKeyId"] = json!(format!("AKIA{}", i % 5));
                let extra = json!({"awsRegion": region, "requestParameters": {"name": format!("t{i}")}});
                record(&format!("s{i}"), &time, "StopLogging", "cloudtrail.amazonaws.com", who, extra)
            }
            _ => record(&format!("n{i}"), &time, "DescribeInstances", "ec2.amazonaws.com", alice(), json!({"awsRegion": region})),
        };
        out.push_str(&r.to_string());
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn a_stopped_reread_for_a_new_detector_resumes_to_one_clean_run() {
    let logs = tempfile::tempdir().unwrap();
    let path = two_region_jsonl(logs.path(), 3000);
    let paths = std::slice::from_ref(&path);
    let small_batches = IngestOptions { chunk_records: 100, batch_records: 250, ..options() };

    // Clean: both detectors exist before the one run.
    let clean_dir = tempfile::tempdir().unwrap();
    let (clean, clean_virginia) = store_with_detector(clean_dir.path());
    let clean_paris = create_detector(&clean, "eu-west-3");
    ingest(&clean, paths, &small_batches);

    let dir = tempfile::tempdir().unwrap();
    let (store, virginia) = store_with_detector(dir.path());
    let first = ingest(&store, paths, &small_batches);
    assert_eq!(first.skipped.get(SKIP_NO_DETECTOR), Some(&1500));
    let virginia_after_first = findings(&store, &virginia);

    let paris = create_detector(&store, "eu-west-3");
    let stop = CancellationToken::new();
    let stopping = IngestOptions { cancel: stop.clone(), ..small_batches.clone() };
    let stopped = ingest_paths(&store, paths, &stopping, &mut |p| {
        if p.events >= 1000 {
            stop.cancel();
        }
    })
    .unwrap();
    assert!(stopped.interrupted && stopped.events < 3000, "{stopped:?}");
    assert!(!findings(&store, &paris).is_empty(), "part of the re-read committed");

    let resumed = ingest(&store, paths, &small_batches);
    assert_eq!(stopped.events + resumed.events, 3000, "the re-read is resumed, not restarted");
    assert_eq!(findings(&store, &virginia), virginia_after_first, "us-east-1 never applied twice");
    assert_eq!(normalized(findings(&store, &paris)), normalized(findings(&clean, &clean_paris)));
    assert_eq!(normalized(findings(&store, &virginia)), normalized(findings(&clean, &clean_virginia)));
    let last = ingest(&store, paths, &small_batches);
    assert_eq!((last.sources, last.sources_already_ingested), (0, 1), "{last:?}");
}

#[test]
fn a_file_still_being_written_is_read_on_when_it_grows() {
    let logs = tempfile::tempdir().unwrap();
    let good = |i: usize| record(&format!("g{i}"), "2024-03-01T10:00:00Z", "ListUsers", "iam.amazonaws.com", root(), json!({}));
    let full = gzip(json!({"Records": (0..300).map(good).collect::<Vec<_>>()}).to_string().as_bytes());
    let growing = IngestOptions { growing_files: true, ..options() };

    let clean_dir = tempfile::tempdir().unwrap();
    let (clean, clean_detector) = store_with_detector(clean_dir.path());
    let clean_logs = tempfile::tempdir().unwrap();
    let complete_path = clean_logs.path().join("log.json.gz");
    std::fs::write(&complete_path, &full).unwrap();
    ingest(&clean, std::slice::from_ref(&complete_path), &growing);

    let data = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let path = logs.path().join("log.json.gz");
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    let half = ingest(&store, std::slice::from_ref(&path), &growing);
    assert_eq!(half.sources_incomplete, 1, "{half:?}");
    assert!(half.events > 0 && half.events < 300, "the whole records of the prefix are used: {half:?}");
    assert!(half.problems.iter().any(|p| p.message.contains("still being written")), "{half:?}");

    std::fs::write(&path, &full).unwrap();
    let rest = ingest(&store, std::slice::from_ref(&path), &growing);
    assert_eq!((rest.sources_resumed, rest.sources_incomplete), (1, 0), "{rest:?}");
    assert_eq!(half.events + rest.events, 300, "read on after the last whole record");
    // Evidence names the file: compare with the directories taken out.
    let without_dir = |all: Vec<model::Finding>, dir: &Path| -> Vec<String> {
        let dir = std::fs::canonicalize(dir).unwrap().display().to_string();
        normalized(all).into_iter().map(|f| f.replace(&dir, "DIR")).collect()
    };
    assert_eq!(without_dir(findings(&store, &detector), logs.path()), without_dir(findings(&clean, &clean_detector), clean_logs.path()));
    assert_eq!(ingest(&store, std::slice::from_ref(&path), &growing).sources_already_ingested, 1);
}

#[test]
fn an_unfinished_last_json_line_is_read_once_finished() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let path = logs.path().join("stream.jsonl");
    let line = |id: &str, t: &str| record(id, t, "ListUsers", "iam.amazonaws.com", root(), json!({})).to_string();
    let second = line("b", "2024-03-01T11:00:00Z");
    let (written, pending) = second.split_at(40);
    std::fs::write(&path, format!("{}\n{written}", line("a", "2024-03-01T10:00:00Z"))).unwrap();
    let first = ingest(&store, std::slice::from_ref(&path), &options());
    assert_eq!((first.events, first.bad_records), (1, 0), "the unfinished line is not a bad record: {first:?}");
    assert!(first.problems.iter().any(|p| p.position == 2 && p.message.contains("unfinished")), "{first:?}");

    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(format!("{pending}\n").as_bytes()).unwrap();
    let then = ingest(&store, std::slice::from_ref(&path), &options());
    assert_eq!((then.events, then.bad_records, then.problems_total), (1, 0, 0), "{then:?}");
    assert_eq!(findings(&store, &detector)[0].service.as_ref().unwrap().count, Some(2));
}

#[test]
fn create_detectors_creates_the_missing_ones_before_routing() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path()).unwrap();
    let paris = Scope::new(ACCOUNT, "eu-west-3");
    let mut paths = sample_tree(logs.path());
    let mut stranger = record("x1", "2024-03-01T10:00:00Z", "ListUsers", "iam.amazonaws.com", root(), json!({}));
    stranger["recipientAccountId"] = json!("not-an-account");
    let stranger_file = logs.path().join("stranger.jsonl");
    std::fs::write(&stranger_file, stranger.to_string() + "\n").unwrap();
    paths.push(stranger_file);

    // A first run without the option: everything skipped; then the option creates both.
    ingest(&store, &paths[..1], &options());
    let creating = IngestOptions { create_detectors: true, ..options() };
    let summary = ingest(&store, &paths, &creating);
    let virginia = store.detector_for(&Scope::new(ACCOUNT, REGION)).unwrap().expect("created");
    let paris_detector = store.detector_for(&paris).unwrap().expect("created");
    assert!(virginia.config.enabled && paris_detector.config.enabled);
    let created: Vec<(&str, &str)> = summary.detectors_created.iter().map(|(s, d)| (s.as_str(), d.as_str())).collect();
    assert_eq!(
        created,
        [(format!("{ACCOUNT}/eu-west-3").as_str(), paris_detector.id.as_str()), (format!("{ACCOUNT}/{REGION}").as_str(), virginia.id.as_str())]
    );
    assert_eq!(summary.skipped.get(SKIP_NO_DETECTOR), Some(&1), "the record of a malformed account gets no detector: {summary:?}");
    assert_eq!(summary.skipped_scopes.keys().collect::<Vec<_>>(), [&format!("not-an-account/{REGION}")]);
    assert_eq!(findings(&store, &virginia.id).len(), 3);
    assert_eq!(findings(&store, &paris_detector.id).len(), 1);

    let again = ingest(&store, &paths, &creating);
    assert!(again.detectors_created.is_empty());
    assert_eq!((again.sources_already_ingested, again.findings_created, again.findings_updated), (3, 0, 0), "{again:?}");
}

/// Runs `ingest_paths` on `runs` at once, each from its own thread with its own store handle on
/// `data` (as separate processes would). Every run's writer holds its first batch until all have
/// read something, so that they overlap: all start from the same stored progress.
fn ingest_concurrently(data: &Path, runs: &[Vec<PathBuf>], options: &IngestOptions) -> Vec<Summary> {
    let handles: Vec<SqliteStore> = runs.iter().map(|_| SqliteStore::open(data).unwrap()).collect();
    let all_reading = std::sync::Barrier::new(runs.len());
    std::thread::scope(|s| {
        let threads: Vec<_> = runs
            .iter()
            .zip(&handles)
            .map(|(paths, store)| {
                let all_reading = &all_reading;
                s.spawn(move || {
                    let mut waited = false;
                    ingest_paths(store, paths, options, &mut |p| {
                        if p.events > 0 && !waited {
                            waited = true;
                            all_reading.wait();
                        }
                    })
                    .unwrap()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// Small CloudTrail files repeating the same activity (one finding fed by all of them).
fn repeating_files(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let time = format!("2024-03-01T11:{i:02}:00Z");
            let records = [
                record(&format!("u{i}"), &time, "ListUsers", "iam.amazonaws.com", root(), json!({})),
                record(&format!("g{i}"), &time, "GetUser", "iam.amazonaws.com", root(), json!({"errorCode": "AccessDenied"})),
            ];
            deliver(dir, &format!("F{i}"), &records)
        })
        .collect()
}

#[test]
fn two_runs_on_one_file_at_once_apply_it_once() {
    let logs = tempfile::tempdir().unwrap();
    let path = big_jsonl(logs.path(), 3000);
    let small_batches = IngestOptions { chunk_records: 100, batch_records: 250, threads: 1, ..options() };
    let clean_dir = tempfile::tempdir().unwrap();
    let (clean, clean_detector) = store_with_detector(clean_dir.path());
    let clean_summary = ingest(&clean, std::slice::from_ref(&path), &small_batches);
    let expected = normalized(findings(&clean, &clean_detector));

    for round in 0..3 {
        let data = tempfile::tempdir().unwrap();
        let (store, detector) = store_with_detector(data.path());
        let runs = vec![vec![path.clone()], vec![path.clone()]];
        let summaries = ingest_concurrently(data.path(), &runs, &small_batches);
        // Both started from no progress: whichever committed first read the file, the other
        // was refused at its first commit and left it.
        let name = path.display().to_string();
        let (winners, losers): (Vec<&Summary>, Vec<&Summary>) = summaries.iter().partition(|s| s.sources_ingested_elsewhere.is_empty());
        assert_eq!((winners.len(), losers.len()), (1, 1), "round {round}: {summaries:#?}");
        assert_eq!(losers[0].sources_ingested_elsewhere, [name]);
        assert_eq!((losers[0].sources, losers[0].findings_created, losers[0].interrupted), (0, 0, false));
        assert_eq!((winners[0].sources, winners[0].events), (1, 3000), "round {round}");
        assert_eq!(winners[0].findings_created, clean_summary.findings_created);
        assert_eq!(normalized(findings(&store, &detector)), expected, "round {round}: counts as one clean run");

        let after = ingest(&store, std::slice::from_ref(&path), &small_batches);
        assert_eq!((after.sources, after.sources_already_ingested), (0, 1), "round {round}: {after:?}");
    }
}

#[test]
fn concurrent_runs_over_overlapping_trees_apply_every_record_once() {
    let logs = tempfile::tempdir().unwrap();
    let big = big_jsonl(logs.path(), 2000);
    let files = repeating_files(logs.path(), 6);
    let small_batches = IngestOptions { chunk_records: 100, batch_records: 250, ..options() };
    let everything: Vec<PathBuf> = files.iter().cloned().chain([big.clone()]).collect();
    let clean_dir = tempfile::tempdir().unwrap();
    let (clean, clean_detector) = store_with_detector(clean_dir.path());
    let clean_summary = ingest(&clean, &everything, &small_batches);
    assert_eq!(clean_summary.sources, 7);
    let expected = normalized(findings(&clean, &clean_detector));

    for round in 0..4 {
        let data = tempfile::tempdir().unwrap();
        let (store, detector) = store_with_detector(data.path());
        // Overlapping, in different orders: a refused source shares its batch (and findings)
        // with sources the other run does not have, which must still be committed.
        let mut first: Vec<PathBuf> = files[..4].iter().cloned().chain([big.clone()]).collect();
        let mut second: Vec<PathBuf> = files[2..].iter().cloned().chain([big.clone()]).collect();
        if round % 2 == 1 {
            first.reverse();
            second.rotate_left(2);
        }
        let summaries = ingest_concurrently(data.path(), &[first.clone(), second.clone()], &small_batches);
        for (summary, paths) in summaries.iter().zip([&first, &second]) {
            let accounted = summary.sources + summary.sources_already_ingested + summary.sources_ingested_elsewhere.len() as u64;
            assert_eq!(accounted, paths.len() as u64, "round {round}: every source read, found done or left: {summary:#?}");
            assert!(!summary.interrupted && summary.problems.is_empty(), "round {round}: {summary:#?}");
        }
        let created: u64 = summaries.iter().map(|s| s.findings_created).sum();
        assert_eq!(created, clean_summary.findings_created, "round {round}: each finding created once");
        assert_eq!(normalized(findings(&store, &detector)), expected, "round {round}: counts as one clean run");

        let after = ingest(&store, &everything, &small_batches);
        assert_eq!((after.sources, after.sources_already_ingested), (0, 7), "round {round}: {after:?}");
    }
}

/// A source that is neither a file nor stdin (the shape an S3 object has: a key naming its
/// version, a location in a delivery layout, a stream read from the start, an outcome to learn).
struct ObjectSource {
    key: String,
    location: PathBuf,
    body: Vec<u8>,
    readable: bool,
    /// Shared with the test, which owns the source no more once it is boxed.
    settled: std::sync::Arc<std::sync::Mutex<Vec<Settled>>>,
}

impl Source for ObjectSource {
    fn name(&self) -> String {
        format!("mem://{}", self.location.display())
    }
    fn size_hint(&self) -> Option<u64> {
        Some(self.body.len() as u64)
    }
    fn location(&self) -> Option<&Path> {
        Some(&self.location)
    }
    fn can_grow(&self) -> bool {
        false
    }
    fn identify(&self) -> Result<Identity, vedette_ingest::IngestError> {
        Ok(Identity { key: self.key.clone(), size: self.body.len() as u64 })
    }
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + Send + '_>> {
        if !self.readable {
            return Err(std::io::Error::other("access denied"));
        }
        Ok(Box::new(self.body.as_slice()))
    }
    fn settled(&self, outcome: Settled) {
        self.settled.lock().unwrap().push(outcome);
    }
}

#[test]
fn any_source_is_ingested_once_and_told_its_outcome() {
    let data = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let records = vec![
        record("o1", "2024-03-01T10:00:00Z", "ListUsers", "iam.amazonaws.com", root(), json!({})),
        record("o2", "2024-03-01T10:01:00Z", "GetUser", "iam.amazonaws.com", alice(), json!({})),
    ];
    let told: [std::sync::Arc<std::sync::Mutex<Vec<Settled>>>; 2] = Default::default();
    let object = |name: &str, readable: bool, told: &std::sync::Arc<std::sync::Mutex<Vec<Settled>>>| ObjectSource {
        key: format!("s3://logs/{name}@v1"),
        location: format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/03/01/{name}.json.gz").into(),
        body: gzip(json!({"Records": records}).to_string().as_bytes()),
        readable,
        settled: told.clone(),
    };
    let sources: Vec<Box<dyn Source>> = vec![Box::new(object("a", true, &told[0])), Box::new(object("b", false, &told[1]))];
    let first = ingest_sources(&store, &sources, &options(), &mut |_| {}).unwrap();
    assert_eq!((first.sources, first.events), (1, 2), "{first:?}");
    assert_eq!(first.bytes, sources[0].size_hint().unwrap(), "the body's bytes are metered");
    assert_eq!(first.problems.len(), 1, "{:?}", first.problems);
    assert_eq!(
        first.problems[0].to_string(),
        format!("mem://AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/03/01/b.json.gz:0: cannot read: access denied")
    );
    assert_eq!(findings(&store, &detector).len(), 1, "root usage");

    let again = ingest_sources(&store, &sources, &options(), &mut |_| {}).unwrap();
    assert_eq!((again.sources, again.sources_already_ingested, again.events), (0, 1, 0), "{again:?}");
    assert_eq!(*told[0].lock().unwrap(), [Settled::Complete, Settled::Complete], "read, then found ingested");
    assert_eq!(*told[1].lock().unwrap(), [Settled::Unreadable, Settled::Unreadable], "tried again on the next run");
    assert_eq!(findings(&store, &detector)[0].service.as_ref().unwrap().count, Some(1), "not applied twice");
}
