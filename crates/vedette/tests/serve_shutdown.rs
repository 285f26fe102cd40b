//! `vedette serve --watch DIR --export file:PATH` stopped by SIGTERM while it ingests and exports:
//! the process exits within `--shutdown-timeout`, successfully, every worker having ended by
//! itself (stopped once mid-ingest, once mid-export); a restart then finishes the work and
//! nothing is lost or counted twice — the store holds exactly the findings of one clean
//! `vedette ingest` of the same log, and every one of them was exported.
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vedette_domain::criteria::{Criteria, parse_sort};
use vedette_domain::{DetectorConfig, Scope, model};
use vedette_store::{SqliteStore, Store};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
/// The `--shutdown-timeout` under test, in seconds.
const BOUND_S: u64 = 10;
/// Records in the watched log: enough that the watcher is still at work when it is stopped.
const RECORDS: usize = 30_000;

fn vedette() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vedette"));
    c.env_remove("VEDETTE_DATA_DIR").env_remove("VEDETTE_SHUTDOWN_TIMEOUT").env("NO_COLOR", "1");
    c
}

/// Root calls from many access keys (one finding each, updated by its repeats) among benign ones.
fn record(i: usize) -> Value {
    let (name, source, identity) = if i.is_multiple_of(4) {
        (
            "ListUsers",
            "iam.amazonaws.com",
            json!({"type": "Root", "principalId": ACCOUNT, "accountId": ACCOUNT, "accessKeyId": format!("ASIAROOT{:05}", (i / 4) % 2_000)}),
        )
    } else {
        (
            "DescribeInstances",
            "ec2.amazonaws.com",
            json!({"type": "IAMUser", "principalId": "AIDAUSER", "accountId": ACCOUNT, "accessKeyId": "AKIABENIGN"}),
        )
    };
    json!({
        "eventVersion": "1.09", "eventTime": format!("2024-03-01T{:02}:{:02}:{:02}Z", 10 + (i / 3600) % 12, (i / 60) % 60, i % 60),
        "eventSource": source, "eventName": name, "awsRegion": REGION, "sourceIPAddress": format!("203.0.113.{}", i % 200),
        "userAgent": "aws-cli/2.15.0", "eventID": format!("ev-{i}"), "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": ACCOUNT, "userIdentity": identity,
        "requestParameters": null, "responseElements": null,
    })
}

fn write_log(dir: &Path) -> PathBuf {
    let path = dir.join("trail.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..RECORDS {
        writeln!(out, "{}", record(i)).unwrap();
    }
    out.flush().unwrap();
    path
}

fn with_detector(data: &Path) -> String {
    let store = SqliteStore::open(data).unwrap();
    store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap().id
}

fn all_findings(data: &Path, detector: &str) -> Vec<model::Finding> {
    let store = SqliteStore::open(data).unwrap();
    let sort = parse_sort(None).unwrap();
    let (mut ids, mut token) = (Vec::new(), None);
    loop {
        let page = store.list_findings(detector, &Criteria::default(), &sort, 50, token.as_deref()).unwrap();
        ids.extend(page.items);
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    ids.chunks(50).flat_map(|c| store.get_findings(detector, c, None).unwrap()).collect()
}

/// Findings compared across data directories: ids and ARNs embed the detector, timestamps the clock.
fn normalized(all: &[model::Finding]) -> Vec<String> {
    let mut out: Vec<String> = all
        .iter()
        .cloned()
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

/// The finding ids of the export file's complete lines.
fn exported(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_eq!(v["detail-type"], "GuardDuty Finding", "{l}");
            v["detail"]["id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// `vedette serve` with its stderr collected (and drained, so logging never blocks it).
struct Server {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(data: &Path, watched: &Path, export: &Path) -> Server {
        let mut child = vedette()
            .args(["serve", "--auth", "any", "--listen", "127.0.0.1:0", "--watch-interval-ms", "100", "--export-poll-ms", "50"])
            .arg("--shutdown-timeout")
            .arg(BOUND_S.to_string())
            .arg("--data-dir")
            .arg(data)
            .arg("--watch")
            .arg(watched)
            .arg("--export")
            .arg(format!("file:{}", export.display()))
            .env("VEDETTE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("vedette listening on") {
                    let _ = tx.send(());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        rx.recv_timeout(Duration::from_secs(30)).expect("the server prints its address");
        Server { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then how long the process took to exit and how.
    fn terminate(&mut self) -> (Duration, ExitStatus) {
        let term = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(term.success());
        let sent = Instant::now();
        // Well past the bound: a process that overruns it is measured, not killed early.
        let deadline = sent + Duration::from_secs(BOUND_S * 3);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let took = sent.elapsed();
                std::thread::sleep(Duration::from_millis(200)); // the stderr reader catches up
                return (took, status);
            }
            assert!(Instant::now() < deadline, "still running {:?} after SIGTERM; log:\n{}", sent.elapsed(), self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(what: &str, server: &Server, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}; log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_stopped_cleanly(server: &mut Server) -> String {
    let (took, status) = server.terminate();
    let log = server.log();
    assert!(status.success(), "{status:?}; log:\n{log}");
    assert!(took < Duration::from_secs(BOUND_S), "exited {took:?} after SIGTERM, bound {BOUND_S} s; log:\n{log}");
    for worker in ["vedette-watch", "export file:", "publishing destinations", "retention", "outbox log"] {
        assert!(log.lines().any(|l| l.contains("worker ended") && l.contains(worker)), "{worker} did not end by itself; log:\n{log}");
    }
    assert!(!log.contains("abandoned") && !log.contains("panicked"), "{log}");
    assert!(log.contains("watch: stopped"), "{log}");
    log
}

#[test]
fn sigterm_mid_work_exits_within_the_bound_and_a_restart_loses_nothing() {
    let work = tempfile::tempdir().unwrap();
    let watched = work.path().join("watched");
    std::fs::create_dir(&watched).unwrap();
    let log_path = write_log(&watched);

    // The reference: one clean ingest of the same log.
    let reference = work.path().join("reference");
    let reference_detector = with_detector(&reference);
    let out = vedette().args(["ingest", "--no-progress", "--data-dir"]).arg(&reference).arg(&log_path).env("VEDETTE_LOG", "warn").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = normalized(&all_findings(&reference, &reference_detector));
    assert!(expected.len() >= 1_000, "the log raises many findings: {}", expected.len());

    let data = work.path().join("data");
    let detector = with_detector(&data);
    let export = work.path().join("events.jsonl");

    // Stopped while the watcher ingests (the log is ready at its first poll) and the sink delivers.
    let mut server = Server::start(&data, &watched, &export);
    wait_for("the watcher", &server, Duration::from_secs(60), || server.log().contains("watch: started"));
    std::thread::sleep(Duration::from_millis(300));
    assert_stopped_cleanly(&mut server);
    drop(server);
    let after_stop = all_findings(&data, &detector);
    let exported_at_stop = exported(&export);
    let stored: BTreeSet<String> = after_stop.iter().map(|f| f.id.clone().unwrap()).collect();
    assert!(exported_at_stop.is_subset(&stored), "only stored findings are exported");
    eprintln!("at the stop: {} of {} findings stored, {} exported", stored.len(), expected.len(), exported_at_stop.len());

    // Stopped again once the sink has started delivering.
    let mut server = Server::start(&data, &watched, &export);
    wait_for("the first exported findings", &server, Duration::from_secs(60), || !exported(&export).is_empty());
    assert_stopped_cleanly(&mut server);
    drop(server);
    eprintln!("at the second stop: {} findings exported", exported(&export).len());

    // The next start resumes both: the watcher where its progress stopped, the sink at its cursor.
    let mut server = Server::start(&data, &watched, &export);
    wait_for("every finding exported", &server, Duration::from_secs(120), || exported(&export).len() >= expected.len());
    // A last poll or delivery would show up here if anything were still pending.
    std::thread::sleep(Duration::from_millis(500));
    assert_stopped_cleanly(&mut server);
    drop(server);

    let findings = all_findings(&data, &detector);
    assert_eq!(normalized(&findings), expected, "the stopped and resumed watch equals one clean ingest (no record lost or counted twice)");
    let stored: BTreeSet<String> = findings.iter().map(|f| f.id.clone().unwrap()).collect();
    assert_eq!(exported(&export), stored, "every finding was exported, and only those");
}

#[test]
fn a_bad_shutdown_timeout_is_refused() {
    let data = tempfile::tempdir().unwrap();
    for bad in ["0", "-1", "soon", "100000"] {
        let flag = format!("--shutdown-timeout={bad}");
        let mut child = vedette()
            .args(["serve", "--auth", "any", "--listen", "127.0.0.1:0", flag.as_str(), "--data-dir"])
            .arg(data.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A value taken by mistake would start a server: it is killed rather than waited for.
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("--shutdown-timeout {bad} was accepted: the server started");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success() && stderr.contains("--shutdown-timeout"), "{bad}: {status:?} {stderr}");
    }
}
