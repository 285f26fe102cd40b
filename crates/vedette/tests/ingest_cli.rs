//! `vedette ingest` / `vedette explain` as a user runs them: the built binary, a data directory,
//! CloudTrail input from files and stdin, and a SIGKILL in the middle of a file.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vedette_domain::criteria::{Criteria, parse_sort};
use vedette_domain::{DetectorConfig, Scope, model};
use vedette_store::{SqliteStore, Store};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

fn vedette() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vedette"));
    c.env_remove("VEDETTE_DATA_DIR").env("VEDETTE_LOG", "warn");
    c
}

fn with_detector(data: &Path) -> String {
    let store = SqliteStore::open(data).unwrap();
    store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap().id
}

fn record(i: usize, name: &str, source: &str, identity: Value, extra: Value) -> Value {
    let mut r = json!({
        "eventVersion": "1.09", "eventTime": format!("2024-03-01T{:02}:{:02}:{:02}Z", 10 + (i / 3600) % 12, (i / 60) % 60, i % 60),
        "eventSource": source, "eventName": name, "awsRegion": REGION, "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0", "eventID": format!("ev-{i}"), "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": ACCOUNT, "userIdentity": identity,
        "requestParameters": null, "responseElements": null,
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn root() -> Value {
    json!({"type": "Root", "principalId": ACCOUNT, "accountId": ACCOUNT, "accessKeyId": "ASIAROOTKEY"})
}

fn user(key: &str) -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAUSER", "accountId": ACCOUNT, "accessKeyId": key, "userName": "u"})
}

/// Mostly benign traffic with a hit every few records, spread over a handful of findings.
fn traffic(i: usize) -> Value {
    match i % 8 {
        0 => record(i, "ListUsers", "iam.amazonaws.com", root(), json!({})),
        3 => record(i, "StopLogging", "cloudtrail.amazonaws.com", user(&format!("AKIA{}", i % 5)), json!({"requestParameters": {"name": "trail"}})),
        5 => record(i, "GetUser", "iam.amazonaws.com", root(), json!({"errorCode": "AccessDenied"})),
        _ => record(i, "DescribeInstances", "ec2.amazonaws.com", user("AKIABENIGN"), json!({})),
    }
}

fn findings(data: &Path, detector: &str) -> Vec<model::Finding> {
    let store = SqliteStore::open(data).unwrap();
    let sort = parse_sort(None).unwrap();
    let ids = store.list_findings(detector, &Criteria::default(), &sort, 50, None).unwrap().items;
    store.get_findings(detector, &ids, None).unwrap()
}

/// Findings compared across data directories: ids/ARNs embed the detector id, `updatedAt` the
/// wall clock, `createdAt` the run.
fn normalized(all: Vec<model::Finding>) -> Vec<String> {
    let mut out: Vec<String> = all
        .into_iter()
        .map(|mut f| {
            f.id = None;
            f.arn = None;
            f.updated_at = None;
            f.created_at = None;
            f.service.as_mut().unwrap().detector_id = None;
            serde_json::to_string(&f).unwrap()
        })
        .collect();
    out.sort();
    out
}

fn ingest_json(data: &Path, args: &[&str]) -> Value {
    let out = vedette().arg("ingest").arg("--data-dir").arg(data).args(["--no-progress", "--json"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ingest_then_explain() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let detector = with_detector(data.path());
    let dir = logs.path().join(format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/03/01"));
    std::fs::create_dir_all(&dir).unwrap();
    let records: Vec<Value> = (0..40).map(traffic).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json!({"Records": records}).to_string().as_bytes()).unwrap();
    let file = dir.join(format!("{ACCOUNT}_CloudTrail_{REGION}_20240301T1000Z_abc.json.gz"));
    std::fs::write(&file, gz.finish().unwrap()).unwrap();

    let summary = ingest_json(data.path(), &[logs.path().to_str().unwrap()]);
    assert_eq!(summary["files"], 1);
    assert_eq!(summary["events"], 40);
    assert_eq!(summary["findingsCreated"], 6, "{summary}");

    let all = findings(data.path(), &detector);
    let root_finding = all.iter().find(|f| f.r#type.as_deref() == Some("Policy:IAMUser/RootCredentialUsage")).unwrap();
    let out = vedette().arg("explain").arg("--data-dir").arg(data.path()).arg(root_finding.id.as_deref().unwrap()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Policy:IAMUser/RootCredentialUsage"), "{text}");
    assert!(text.contains("rule        root-credential-usage"), "{text}");
    assert!(text.contains("count       10"), "{text}");
    assert!(text.contains("ev-37") && text.contains(&format!("{}:38", std::fs::canonicalize(&file).unwrap().display())), "{text}");
    assert!(text.contains("failed: AccessDenied"), "latest root call (ev-37) failed: {text}");

    let missing = vedette().arg("explain").arg("--data-dir").arg(data.path()).arg("0123456789abcdef0123456789abcdef").output().unwrap();
    assert!(!missing.status.success());
}

#[test]
fn stdin_is_ingested_once() {
    let data = tempfile::tempdir().unwrap();
    let detector = with_detector(data.path());
    let lines: String = (0..16).map(|i| traffic(i).to_string() + "\n").collect();
    let run = || {
        let mut child = vedette()
            .arg("ingest")
            .arg("--data-dir")
            .arg(data.path())
            .args(["--no-progress", "--json", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(run()["events"], 16);
    let before = findings(data.path(), &detector);
    let again = run();
    assert_eq!(again["filesAlreadyIngested"], 1, "{again}");
    assert_eq!(findings(data.path(), &detector), before);
}

fn big_file(dir: &Path, lines: usize) -> PathBuf {
    let path = dir.join("big.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..lines {
        writeln!(out, "{}", traffic(i)).unwrap();
    }
    out.flush().unwrap();
    std::fs::canonicalize(path).unwrap()
}

#[test]
fn sigkill_mid_file_then_rerun_equals_one_clean_run() {
    let logs = tempfile::tempdir().unwrap();
    let lines = 60_000;
    let file = big_file(logs.path(), lines);
    let file_arg = file.to_str().unwrap();
    let source_key = format!("file:{}", file.display());

    let clean = tempfile::tempdir().unwrap();
    let clean_detector = with_detector(clean.path());
    ingest_json(clean.path(), &["--batch-records", "2000", file_arg]);

    let data = tempfile::tempdir().unwrap();
    let detector = with_detector(data.path());
    let mut child = vedette()
        .arg("ingest")
        .arg("--data-dir")
        .arg(data.path())
        .args(["--no-progress", "--batch-records", "2000", file_arg])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as a first batch is committed, well before the end of the file.
    let store = SqliteStore::open(data.path()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let progress = store.progress(&source_key).unwrap();
        if progress.as_ref().is_some_and(|p| p.position > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "no progress recorded");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = store.progress(&source_key).unwrap().unwrap();
    assert!(!at_kill.complete && at_kill.position < lines as u64, "killed mid-file: {at_kill:?}");
    let partial = findings(data.path(), &detector);
    assert_ne!(normalized(partial), normalized(findings(clean.path(), &clean_detector)));

    let rerun = ingest_json(data.path(), &["--batch-records", "2000", file_arg]);
    assert_eq!(rerun["filesResumed"], 1, "{rerun}");
    assert_eq!(rerun["events"].as_u64().unwrap(), lines as u64 - at_kill.position, "resumed right after the last commit");
    assert_eq!(normalized(findings(data.path(), &detector)), normalized(findings(clean.path(), &clean_detector)));
    let done = store.progress(&source_key).unwrap().unwrap();
    assert!(done.complete && done.position == lines as u64);
}

#[test]
fn create_detectors_analyses_the_first_run() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let file = logs.path().join("trail.jsonl");
    let lines: String = (0..24).map(|i| traffic(i).to_string() + "\n").collect();
    std::fs::write(&file, lines).unwrap();
    let file_arg = file.to_str().unwrap();

    let summary = ingest_json(data.path(), &["--create-detectors", file_arg]);
    let created = summary["detectorsCreated"].as_object().unwrap();
    assert_eq!(created.len(), 1, "{summary}");
    let detector = created[&format!("{ACCOUNT}/{REGION}")].as_str().unwrap().to_owned();
    assert_eq!(summary["skipped"], json!({}), "{summary}");
    // Root usage, and trails stopped by 3 keys (records 3, 11, 19).
    assert_eq!(summary["findingsCreated"], 4, "{summary}");
    let store = SqliteStore::open(data.path()).unwrap();
    let stored = store.detector_for(&Scope::new(ACCOUNT, REGION)).unwrap().unwrap();
    assert_eq!(stored.id, detector);
    assert!(stored.config.enabled);
    assert_eq!(findings(data.path(), &detector).len(), 4);

    let text = vedette().arg("ingest").arg("--data-dir").arg(data.path()).args(["--no-progress", "--create-detectors", file_arg]).output().unwrap();
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(!text.contains("detector created"), "nothing new to create: {text}");
    assert!(text.contains("already ingested"), "{text}");
}

#[test]
fn two_ingest_processes_on_one_file_apply_it_once() {
    let logs = tempfile::tempdir().unwrap();
    let lines = 20_000;
    let file = big_file(logs.path(), lines);
    let file_arg = file.to_str().unwrap();
    let args = ["--no-progress", "--json", "--batch-records", "1000", file_arg];
    let clean = tempfile::tempdir().unwrap();
    let clean_detector = with_detector(clean.path());
    let clean_summary = ingest_json(clean.path(), &args[2..]);
    let expected = normalized(findings(clean.path(), &clean_detector));

    for round in 0..3 {
        let data = tempfile::tempdir().unwrap();
        let detector = with_detector(data.path());
        let children: Vec<_> =
            (0..2).map(|_| vedette().arg("ingest").arg("--data-dir").arg(data.path()).args(args).stdout(Stdio::piped()).spawn().unwrap()).collect();
        let summaries: Vec<Value> = children
            .into_iter()
            .map(|child| {
                let out = child.wait_with_output().unwrap();
                assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stderr));
                serde_json::from_slice(&out.stdout).unwrap()
            })
            .collect();
        for s in &summaries {
            let elsewhere = s["filesIngestedElsewhere"].as_array().unwrap().len() as u64;
            let accounted = s["files"].as_u64().unwrap() + s["filesAlreadyIngested"].as_u64().unwrap() + elsewhere;
            assert_eq!(accounted, 1, "round {round}: read, found done or left to the other: {s}");
        }
        let created: u64 = summaries.iter().map(|s| s["findingsCreated"].as_u64().unwrap()).sum();
        assert_eq!(created, clean_summary["findingsCreated"].as_u64().unwrap(), "round {round}: {summaries:?}");
        assert_eq!(normalized(findings(data.path(), &detector)), expected, "round {round}: as one clean run");
    }
}
