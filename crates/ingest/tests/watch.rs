//! The watcher's polls driven by hand (no sleeping): what each poll picks up, what it leaves for
//! later, and that an unchanged tree costs no store work.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use vedette_domain::criteria::{Criteria, parse_sort};
use vedette_domain::{DetectorConfig, Scope};
use vedette_ingest::watch::Watcher;
use vedette_ingest::{IngestOptions, ingest_paths};
use vedette_store::testing::{Call, Intercepted};
use vedette_store::{SqliteStore, Store};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

fn root_call(id: &str, minute: u32, error: Option<&str>) -> Value {
    let mut r = json!({
        "eventVersion": "1.09", "eventTime": format!("2024-03-01T10:{minute:02}:00Z"), "eventSource": "iam.amazonaws.com",
        "eventName": "ListUsers", "awsRegion": REGION, "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15.0",
        "eventID": id, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT,
        "userIdentity": {"type": "Root", "principalId": ACCOUNT, "accountId": ACCOUNT, "accessKeyId": "ASIAROOTKEY"},
    });
    if let Some(code) = error {
        r["errorCode"] = json!(code);
    }
    r
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn cloudtrail_gz(records: &[Value]) -> Vec<u8> {
    gzip(json!({"Records": records}).to_string().as_bytes())
}

fn day_dir(root: &Path) -> PathBuf {
    let dir = root.join(format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/03/01"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The root-usage finding's count (the one finding these records raise), 0 if none.
fn root_count(store: &SqliteStore, detector: &str) -> i32 {
    let ids = store.list_findings(detector, &Criteria::default(), &parse_sort(None).unwrap(), 50, None).unwrap().items;
    let all = store.get_findings(detector, &ids, None).unwrap();
    assert!(all.len() <= 1, "{all:#?}");
    all.first().map_or(0, |f| f.service.as_ref().unwrap().count.unwrap())
}

#[test]
fn polls_pick_up_new_grown_and_unfinished_files_once() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path()).unwrap();
    let options = IngestOptions::default();
    // Zero: every file is old enough to be taken at once.
    let now = Duration::ZERO;
    let mut watcher = Watcher::default();
    assert!(watcher.poll(&store, logs.path(), &options, now).unwrap().is_none(), "empty tree");

    let day = day_dir(logs.path());
    std::fs::write(day.join("a.json.gz"), cloudtrail_gz(&[root_call("a1", 0, None)])).unwrap();
    let first = watcher.poll(&store, logs.path(), &options, now).unwrap().unwrap();
    assert_eq!(first.skipped_scopes.get(&format!("{ACCOUNT}/{REGION}")), Some(&1), "no detector yet: {first:?}");
    assert!(watcher.poll(&store, logs.path(), &options, now).unwrap().is_none(), "unchanged: not handed again");

    // A detector appears (as through the API): the skipped file is read again for it.
    let detector = store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap().id;
    let reread = watcher.poll(&store, logs.path(), &options, now).unwrap().unwrap();
    assert_eq!((reread.sources, reread.findings_created), (1, 1), "{reread:?}");
    assert_eq!(root_count(&store, &detector), 1);
    assert!(watcher.poll(&store, logs.path(), &options, now).unwrap().is_none());

    // A .gz still being written: its whole records now, the rest when it is complete.
    let records: Vec<Value> = (0..200).map(|i| root_call(&format!("b{i}"), 1 + (i % 50) as u32, (i == 199).then_some("AccessDenied"))).collect();
    let full = cloudtrail_gz(&records);
    let growing = day.join("b.json.gz");
    std::fs::write(&growing, &full[..full.len() / 2]).unwrap();
    let partial = watcher.poll(&store, logs.path(), &options, now).unwrap().unwrap();
    assert_eq!(partial.sources_incomplete, 1, "{partial:?}");
    assert_eq!(partial.bad_records, 0);
    let after_partial = root_count(&store, &detector);
    assert!(after_partial > 1 && after_partial < 201, "{after_partial}");
    assert!(watcher.poll(&store, logs.path(), &options, now).unwrap().is_none(), "unchanged: left alone");
    std::fs::write(&growing, &full).unwrap();
    let rest = watcher.poll(&store, logs.path(), &options, now).unwrap().unwrap();
    assert_eq!((rest.sources_resumed, rest.sources_incomplete, rest.bad_records), (1, 0, 0), "{rest:?}");
    assert_eq!(root_count(&store, &detector), 201, "every record once");

    // JSON lines growing by appending.
    let lines = day.join("c.jsonl");
    std::fs::write(&lines, root_call("c1", 55, None).to_string() + "\n").unwrap();
    assert_eq!(watcher.poll(&store, logs.path(), &options, now).unwrap().unwrap().events, 1);
    let mut f = std::fs::OpenOptions::new().append(true).open(&lines).unwrap();
    writeln!(f, "{}", root_call("c2", 56, None)).unwrap();
    let appended = watcher.poll(&store, logs.path(), &options, now).unwrap().unwrap();
    assert_eq!((appended.events, appended.findings_updated), (1, 1), "{appended:?}");
    assert_eq!(root_count(&store, &detector), 203);
}

#[test]
fn a_fresh_file_waits_until_it_has_stopped_changing() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path()).unwrap();
    store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap();
    let options = IngestOptions::default();
    let long = Duration::from_secs(3600);
    let mut watcher = Watcher::default();
    let file = day_dir(logs.path()).join("a.json.gz");
    std::fs::write(&file, b"").unwrap();
    assert!(watcher.poll(&store, logs.path(), &options, long).unwrap().is_none(), "just created: wait");
    std::fs::write(&file, cloudtrail_gz(&[root_call("a1", 0, None)])).unwrap();
    assert!(watcher.poll(&store, logs.path(), &options, long).unwrap().is_none(), "changed since the last poll: wait");
    let taken = watcher.poll(&store, logs.path(), &options, long).unwrap().unwrap();
    assert_eq!((taken.sources, taken.findings_created), (1, 1), "{taken:?}");
}

/// The SQLite store, except that just before its first write another handle on the same
/// database (another process, as far as SQLite can tell) ingests `paths` to the end: the race a
/// `vedette ingest` run alongside `serve --watch` can produce, made to happen every time.
/// `failing_writes` writes fail (a full disk, say) before writes go through.
fn overtaken_once(store: SqliteStore, other: SqliteStore, paths: Vec<PathBuf>, failing_writes: u32) -> Intercepted<SqliteStore> {
    let overtaken = AtomicBool::new(paths.is_empty());
    let failing_writes = AtomicU32::new(failing_writes);
    Intercepted::new(store, move |call, _| {
        if let Call::Commit(_) = call {
            if failing_writes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok() {
                return Err(vedette_store::StoreError::Backend("disk full".into()));
            }
            if !overtaken.swap(true, Ordering::Relaxed) {
                ingest_paths(&other, &paths, &IngestOptions::default(), &mut |_| {}).unwrap();
            }
        }
        Ok(())
    })
}

#[test]
fn a_file_another_process_is_ingesting_is_left_to_it_and_checked_again_next_poll() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let file = day_dir(logs.path()).join("a.json.gz");
    let records: Vec<Value> = (0..50).map(|i| root_call(&format!("a{i}"), i, None)).collect();
    std::fs::write(&file, cloudtrail_gz(&records)).unwrap();
    let store = overtaken_once(SqliteStore::open(data.path()).unwrap(), SqliteStore::open(data.path()).unwrap(), vec![file.clone()], 0);
    let detector = store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap().id;
    let options = IngestOptions::default();
    let mut watcher = Watcher::default();

    let raced = watcher.poll(&store, logs.path(), &options, Duration::ZERO).unwrap().unwrap();
    let name = std::fs::canonicalize(&file).unwrap().display().to_string();
    assert_eq!(raced.sources_ingested_elsewhere, [name], "{raced:?}");
    assert_eq!((raced.sources, raced.findings_created, raced.findings_updated), (0, 0, 0), "{raced:?}");
    assert_eq!(root_count(&store.inner, &detector), 50, "the other process's run only");

    // Not marked done: the next poll checks it again and finds it ingested.
    let retried = watcher.poll(&store, logs.path(), &options, Duration::ZERO).unwrap().unwrap();
    assert_eq!((retried.sources, retried.sources_already_ingested), (0, 1), "{retried:?}");
    assert!(retried.sources_ingested_elsewhere.is_empty());
    assert!(watcher.poll(&store, logs.path(), &options, Duration::ZERO).unwrap().is_none(), "now done");
    assert_eq!(root_count(&store.inner, &detector), 50);
}

#[test]
fn a_store_failure_fails_the_poll_and_the_next_poll_retries() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let file = day_dir(logs.path()).join("a.json.gz");
    let records: Vec<Value> = (0..50).map(|i| root_call(&format!("a{i}"), i, None)).collect();
    std::fs::write(&file, cloudtrail_gz(&records)).unwrap();
    let store = overtaken_once(SqliteStore::open(data.path()).unwrap(), SqliteStore::open(data.path()).unwrap(), Vec::new(), 1);
    let detector = store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap().id;
    // Commits due while the file is being read: the failure meets workers still running.
    let options = IngestOptions { chunk_records: 10, batch_records: 10, ..Default::default() };
    let mut watcher = Watcher::default();

    assert!(watcher.poll(&store, logs.path(), &options, Duration::ZERO).is_err());
    assert!(!options.cancel.is_cancelled(), "a failed run stops itself, not the watcher");
    let retried = watcher.poll(&store, logs.path(), &options, Duration::ZERO).unwrap().unwrap();
    assert_eq!((retried.sources, retried.events), (1, 50), "{retried:?}");
    assert_eq!(root_count(&store.inner, &detector), 50);
}
