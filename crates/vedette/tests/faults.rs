//! Faults against the built binary: SIGKILL at random points of `vedette ingest` and of API
//! writes, a full disk, and store files that are not (healthy) Vedette stores.
//!
//! - after every kill the store opens, every acknowledged write is there (an API write answered
//!   200; ingest progress once committed never goes back), and re-running the ingest converges
//!   to the clean run's findings;
//! - a full disk gives an error (ingest: exit code and message; API: 500
//!   InternalServerErrorException, promptly), no corruption (integrity_check) and, once space is
//!   freed, everything acknowledged is there and writes work again;
//! - a corrupt or foreign store file is refused at start-up with a clear message, byte for byte
//!   unchanged.
//!
//! Iterations: `VEDETTE_FAULT_ITERATIONS` (default a few, for CI; bench/faults.sh runs many),
//! random points from `VEDETTE_FAULT_SEED` (printed, to replay a failure).
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
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

fn iterations(default: usize) -> usize {
    std::env::var("VEDETTE_FAULT_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// xorshift64*, seeded from VEDETTE_FAULT_SEED or the clock (printed either way).
struct Rng(u64);

impl Rng {
    fn new(test: &str) -> Rng {
        let seed = std::env::var("VEDETTE_FAULT_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
        eprintln!("{test}: VEDETTE_FAULT_SEED={seed}");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

// --- CloudTrail input -------------------------------------------------------------------------

fn record(i: usize) -> Value {
    let root = json!({"type": "Root", "principalId": ACCOUNT, "accountId": ACCOUNT, "accessKeyId": "ASIAROOTKEY"});
    let user = |key: String| json!({"type": "IAMUser", "principalId": "AIDAUSER", "accountId": ACCOUNT, "accessKeyId": key, "userName": format!("u{}", i % 7)});
    let (name, source, identity, extra) = match i % 8 {
        0 => ("ListUsers", "iam.amazonaws.com", root, json!({})),
        3 => ("StopLogging", "cloudtrail.amazonaws.com", user(format!("AKIA{}", i % 5)), json!({"requestParameters": {"name": "trail"}})),
        5 => ("GetUser", "iam.amazonaws.com", root, json!({"errorCode": "AccessDenied"})),
        _ => ("DescribeInstances", "ec2.amazonaws.com", user("AKIABENIGN".into()), json!({})),
    };
    let mut r = json!({
        "eventVersion": "1.09", "eventTime": format!("2024-03-01T{:02}:{:02}:{:02}Z", 10 + (i / 3600) % 12, (i / 60) % 60, i % 60),
        "eventSource": source, "eventName": name, "awsRegion": REGION, "sourceIPAddress": format!("203.0.113.{}", i % 200),
        "userAgent": "aws-cli/2.15.0", "eventID": format!("ev-{i}"), "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": ACCOUNT, "userIdentity": identity,
        "requestParameters": null, "responseElements": null,
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn log_file(dir: &Path, lines: usize) -> PathBuf {
    let path = dir.join("trail.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..lines {
        writeln!(out, "{}", record(i)).unwrap();
    }
    out.flush().unwrap();
    std::fs::canonicalize(path).unwrap()
}

fn with_detector(data: &Path) -> String {
    let store = SqliteStore::open(data).unwrap();
    store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap().id
}

fn all_findings(store: &SqliteStore, detector: &str) -> Vec<model::Finding> {
    let sort = parse_sort(None).unwrap();
    let mut ids = Vec::new();
    let mut token = None;
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

/// Findings compared across data directories and runs: ids/ARNs embed the detector id, the
/// timestamps the wall clock.
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

fn integrity_check(db: &Path) -> String {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap()
}

fn run_ingest(data: &Path, file: &Path) -> std::process::Output {
    vedette().arg("ingest").arg("--data-dir").arg(data).args(["--no-progress", "--json", "--batch-records", "500"]).arg(file).output().unwrap()
}

#[test]
fn sigkill_at_random_points_of_ingest_then_rerun_equals_one_clean_run() {
    let mut rng = Rng::new("ingest kills");
    let logs = tempfile::tempdir().unwrap();
    let lines = 30_000;
    let file = log_file(logs.path(), lines);
    let source_key = format!("file:{}", file.display());

    let clean = tempfile::tempdir().unwrap();
    let clean_detector = with_detector(clean.path());
    let started = Instant::now();
    let out = run_ingest(clean.path(), &file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let clean_run = started.elapsed();
    let expected = normalized(all_findings(&SqliteStore::open(clean.path()).unwrap(), &clean_detector));
    assert!(expected.len() >= 3, "the input raises findings");

    // Each round: a fresh store, a chain of kills at random points (start-up and migration
    // included), then one run to the end, which must give the clean run's findings.
    let (mut kills, mut kills_mid_file) = (0, 0);
    for round in 0..iterations(4) {
        let data = tempfile::tempdir().unwrap();
        let detector = with_detector(data.path());
        let (mut last_position, mut last_count) = (0u64, 0usize);
        for kill in 0..3 {
            let mut child = vedette()
                .arg("ingest")
                .arg("--data-dir")
                .arg(data.path())
                .args(["--no-progress", "--batch-records", "500"])
                .arg(&file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let delay = Duration::from_micros(rng.below(clean_run.as_micros() as u64));
            std::thread::sleep(delay);
            child.kill().unwrap();
            let killed = child.wait().unwrap().code().is_none();
            let at = format!("round {round}, kill {kill} after {delay:?}");
            // The store opens after every kill, and committed work never goes back.
            let store = SqliteStore::open(data.path()).unwrap_or_else(|e| panic!("{at}: the store does not open: {e}"));
            let position = store.progress(&source_key).unwrap().map_or(0, |p| p.position);
            let count = all_findings(&store, &detector).len();
            assert!(position >= last_position, "{at}: progress went back from {last_position} to {position}");
            assert!(count >= last_count, "{at}: findings went from {last_count} to {count}");
            drop(store);
            assert_eq!(integrity_check(&data.path().join("vedette.db")), "ok", "{at}");
            kills += 1;
            if killed && position < lines as u64 {
                kills_mid_file += 1;
            }
            (last_position, last_count) = (position, count);
        }
        let out = run_ingest(data.path(), &file);
        assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stderr));
        let store = SqliteStore::open(data.path()).unwrap();
        assert_eq!(normalized(all_findings(&store, &detector)), expected, "round {round}: converges to the clean run");
        let done = store.progress(&source_key).unwrap().unwrap();
        assert!(done.complete && done.position == lines as u64, "round {round}: {done:?}");
    }
    eprintln!("{kills} kills, {kills_mid_file} of them before the end of the file (clean run {clean_run:?})");
}

// --- a server process and a minimal client --------------------------------------------------------

struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(data: &Path) -> Server {
        let mut child = vedette()
            .args(["serve", "--auth", "any", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
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
                if let Some(rest) = line.strip_prefix("vedette listening on http://") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap().parse::<SocketAddr>().unwrap());
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("server did not start: {}", log.lock().unwrap())
        });
        Server { child, addr, log }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

/// One request on its own connection, signed as `--auth any` accepts (a well-formed header).
fn call(addr: SocketAddr, method: &str, path: &str, body: &Value, region: &str) -> std::io::Result<Answer> {
    let body = if body.is_null() { String::new() } else { body.to_string() };
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDFAULTS/20240101/{region}/guardduty/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
        "0".repeat(64)
    );
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nx-amz-date: 20240101T000000Z\r\nauthorization: {auth}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, payload) = text.split_once("\r\n\r\n").ok_or_else(|| std::io::Error::other(format!("no answer: {text:?}")))?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| std::io::Error::other("no status"))?;
    let body = if payload.is_empty() { Value::Null } else { serde_json::from_str(payload).map_err(std::io::Error::other)? };
    Ok(Answer { status, body })
}

fn ok(addr: SocketAddr, method: &str, path: &str, body: Value) -> Value {
    let a = call(addr, method, path, &body, REGION).unwrap();
    assert_eq!(a.status, 200, "{method} {path}: {:?}", a.body);
    a.body
}

fn finding_ids(addr: SocketAddr, detector: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = ok(addr, "POST", &format!("/detector/{detector}/findings"), json!({"maxResults": 50, "nextToken": token}));
        ids.extend(page["findingIds"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()));
        match page["nextToken"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => return ids,
        }
    }
}

/// (archived, feedback) of each finding as the API answers it.
fn finding_states(addr: SocketAddr, detector: &str, ids: &[String]) -> BTreeMap<String, (bool, Option<String>)> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(50) {
        let got = ok(addr, "POST", &format!("/detector/{detector}/findings/get"), json!({"findingIds": chunk}));
        for f in got["findings"].as_array().unwrap() {
            let service = &f["service"];
            out.insert(f["id"].as_str().unwrap().to_string(), (service["archived"] == true, service["userFeedback"].as_str().map(String::from)));
        }
    }
    out
}

/// What a writer asked for: acknowledged (answered 200) or in flight when the server died.
#[derive(Clone, Debug)]
enum Mutation {
    Archive(Vec<String>, bool),
    Feedback(Vec<String>, String),
    CreateDetector(String),
}

struct Writer {
    acked: Vec<Mutation>,
    in_flight: Option<Mutation>,
}

fn writer(addr: SocketAddr, detector: String, ids: Vec<String>, seed: u64, regions: Option<Arc<Mutex<u32>>>) -> Writer {
    let mut rng = Rng(seed | 1);
    let mut w = Writer { acked: Vec::new(), in_flight: None };
    loop {
        let pick: Vec<String> = (0..1 + rng.below(4)).map(|_| ids[rng.below(ids.len() as u64) as usize].clone()).collect();
        let op = match (rng.below(5), &regions) {
            (0, Some(counter)) => {
                let mut n = counter.lock().unwrap();
                *n += 1;
                Mutation::CreateDetector(format!("zz-fault{}-{}", (b'a' + (*n / 90) as u8) as char, 1 + *n % 90))
            }
            (0 | 1, _) => Mutation::Feedback(pick, if rng.below(2) == 0 { "USEFUL".into() } else { "NOT_USEFUL".into() }),
            _ => Mutation::Archive(pick, rng.below(2) == 0),
        };
        let (method, path, body, region) = match &op {
            Mutation::Archive(ids, true) => {
                ("POST", format!("/detector/{detector}/findings/archive"), json!({"findingIds": ids}), REGION.to_string())
            }
            Mutation::Archive(ids, false) => {
                ("POST", format!("/detector/{detector}/findings/unarchive"), json!({"findingIds": ids}), REGION.to_string())
            }
            Mutation::Feedback(ids, f) => {
                ("POST", format!("/detector/{detector}/findings/feedback"), json!({"findingIds": ids, "feedback": f}), REGION.to_string())
            }
            Mutation::CreateDetector(region) => ("POST", "/detector".to_string(), json!({"enable": true}), region.clone()),
        };
        w.in_flight = Some(op.clone());
        match call(addr, method, &path, &body, &region) {
            Ok(a) if a.status == 200 => {
                w.acked.push(op);
                w.in_flight = None;
            }
            Ok(a) => panic!("{method} {path}: {} {:?}", a.status, a.body),
            // The server was killed: this write may or may not have landed.
            Err(_) => return w,
        }
    }
}

#[test]
fn sigkill_during_api_writes_loses_no_acknowledged_write() {
    let mut rng = Rng::new("api kills");
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let detector = ok(server.addr, "POST", "/detector", json!({"enable": true}))["detectorId"].as_str().unwrap().to_string();
    ok(server.addr, "POST", &format!("/detector/{detector}/findings/create"), json!({}));
    let ids = finding_ids(server.addr, &detector);
    assert!(ids.len() >= 40, "{} sample findings", ids.len());
    let mut expected = finding_states(server.addr, &detector, &ids);
    let mut detectors_expected: BTreeSet<String> = BTreeSet::new();
    let regions = Arc::new(Mutex::new(0u32));
    let mut server = Some(server);
    let writers = 4;
    let (mut acked_total, mut uncertain_total) = (0, 0);
    for round in 0..iterations(8) {
        let srv = server.take().unwrap_or_else(|| Server::start(data.path()));
        let addr = srv.addr;
        // Each writer owns a disjoint slice of the findings: its acknowledged writes are ordered.
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let slice: Vec<String> = ids.iter().skip(w).step_by(writers).cloned().collect();
                let (detector, regions) = (detector.clone(), (w == 0).then(|| regions.clone()));
                let seed = rng.next();
                std::thread::spawn(move || writer(addr, detector, slice, seed, regions))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50 + rng.below(700)));
        srv.kill();
        // Per finding: the last acknowledged value, or what the write in flight asked for.
        let mut maybe: BTreeMap<String, (Option<bool>, Option<String>)> = BTreeMap::new();
        let mut maybe_detector = None;
        for h in handles {
            let w = h.join().unwrap();
            acked_total += w.acked.len();
            for op in &w.acked {
                match op {
                    Mutation::Archive(ids, a) => ids.iter().for_each(|i| expected.get_mut(i).unwrap().0 = *a),
                    Mutation::Feedback(ids, f) => ids.iter().for_each(|i| expected.get_mut(i).unwrap().1 = Some(f.clone())),
                    Mutation::CreateDetector(r) => {
                        detectors_expected.insert(r.clone());
                    }
                }
            }
            match w.in_flight {
                Some(Mutation::Archive(ids, a)) => ids.into_iter().for_each(|i| maybe.entry(i).or_default().0 = Some(a)),
                Some(Mutation::Feedback(ids, f)) => ids.into_iter().for_each(|i| maybe.entry(i).or_default().1 = Some(f.clone())),
                Some(Mutation::CreateDetector(r)) => maybe_detector = Some(r),
                None => {}
            }
        }
        uncertain_total += maybe.len();
        assert_eq!(integrity_check(&data.path().join("vedette.db")), "ok", "round {round}");

        let srv = Server::start(data.path());
        let got = finding_states(srv.addr, &detector, &ids);
        assert_eq!(got.len(), expected.len(), "round {round}: findings lost");
        for (id, want) in expected.iter_mut() {
            let have = &got[id];
            let (maybe_archived, maybe_feedback) = maybe.get(id).cloned().unwrap_or_default();
            assert!(have.0 == want.0 || Some(have.0) == maybe_archived, "round {round}: {id} archived {} (acknowledged {})", have.0, want.0);
            assert!(have.1 == want.1 || have.1 == maybe_feedback, "round {round}: {id} feedback {:?} (acknowledged {:?})", have.1, want.1);
            // Whatever landed is the new truth for the next round.
            *want = have.clone();
        }
        for region in &detectors_expected {
            let listed = call(srv.addr, "GET", "/detector", &Value::Null, region).unwrap();
            assert_eq!(listed.body["detectorIds"].as_array().map(Vec::len), Some(1), "round {round}: acknowledged detector in {region} lost");
        }
        if let Some(region) = maybe_detector {
            let listed = call(srv.addr, "GET", "/detector", &Value::Null, &region).unwrap();
            if listed.body["detectorIds"].as_array().is_some_and(|d| d.len() == 1) {
                detectors_expected.insert(region);
            }
        }
        server = Some(srv);
    }
    eprintln!("{acked_total} acknowledged writes checked, {uncertain_total} findings with a write in flight at a kill");
    assert!(acked_total > 0);
}

// --- full disk ----------------------------------------------------------------------------------

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped; None (with the
/// reason printed) when this process may not mount.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let uid = Command::new("id").arg("-u").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if uid.as_deref() != Some("0") {
            eprintln!("SKIPPED: full-disk test needs root to mount a tmpfs (id -u = {uid:?})");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir.path()).output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!("SKIPPED: full-disk test cannot mount a tmpfs: {}", String::from_utf8_lossy(&o.stderr).trim());
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: full-disk test cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Fills the file system of `dir` with one file until the write fails; returns the file.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0xA5u8; 16 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.flush();
    path
}

#[test]
fn a_full_disk_gives_clear_errors_and_loses_nothing() {
    let Some(fs) = Tmpfs::mount("24m") else { return };
    let data = fs.path().join("data");
    let logs = tempfile::tempdir().unwrap();
    let file = log_file(logs.path(), 6_000);

    let server = Server::start(&data);
    let addr = server.addr;
    let detector = ok(addr, "POST", "/detector", json!({"enable": true}))["detectorId"].as_str().unwrap().to_string();
    ok(addr, "POST", &format!("/detector/{detector}/findings/create"), json!({}));
    let ids = finding_ids(addr, &detector);
    let mut expected = finding_states(addr, &detector, &ids);

    let filler = fill(fs.path());
    // Writes until the store cannot grow: each answer is prompt, and a failure is a clean 500.
    let mut failures = 0;
    let long_comment = "c".repeat(2_000);
    for i in 0..400 {
        let chunk: Vec<&String> = ids.iter().cycle().skip(i * 7).take(50).collect();
        let feedback = if i % 2 == 0 { "USEFUL" } else { "NOT_USEFUL" };
        let started = Instant::now();
        let a = call(
            addr,
            "POST",
            &format!("/detector/{detector}/findings/feedback"),
            &json!({"findingIds": chunk, "feedback": feedback, "comments": long_comment}),
            REGION,
        )
        .expect("an answer, not a hang or a dropped connection");
        assert!(started.elapsed() < Duration::from_secs(15), "answer took {:?}", started.elapsed());
        match a.status {
            200 => chunk.iter().for_each(|id| expected.get_mut(*id).unwrap().1 = Some(feedback.to_string())),
            500 => {
                assert_eq!(a.body["__type"], "InternalServerErrorException", "{:?}", a.body);
                assert!(a.body["message"].is_string());
                failures += 1;
                if failures >= 3 {
                    break;
                }
            }
            s => panic!("unexpected {s}: {:?}", a.body),
        }
    }
    assert!(failures > 0, "the disk never filled up");
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("database or disk is full"), "the server log does not say why: {log}");
    // Reads still work.
    assert_eq!(finding_states(addr, &detector, &ids).len(), ids.len());

    // Ingest on the full disk: a non-zero exit and a message that says why.
    let out = vedette().arg("ingest").arg("--data-dir").arg(&data).args(["--no-progress", "--create-detectors"]).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ingest succeeded on a full disk: {stderr}");
    assert!(stderr.to_lowercase().contains("full"), "ingest's message does not say the disk is full: {stderr}");
    eprintln!("ingest on a full disk: exit {:?}: {}", out.status.code(), stderr.trim());

    // Space again: writes work, nothing acknowledged is missing, the database is sound.
    std::fs::remove_file(&filler).unwrap();
    let a = call(addr, "POST", &format!("/detector/{detector}/findings/archive"), &json!({"findingIds": &ids[..3]}), REGION).unwrap();
    assert_eq!(a.status, 200, "{:?}", a.body);
    ids[..3].iter().for_each(|id| expected.get_mut(id).unwrap().0 = true);
    assert_eq!(finding_states(addr, &detector, &ids), expected);
    server.kill();
    assert_eq!(integrity_check(&data.join("vedette.db")), "ok");
    let server = Server::start(&data);
    assert_eq!(finding_states(server.addr, &detector, &ids), expected);
    let out = vedette().arg("ingest").arg("--data-dir").arg(&data).args(["--no-progress", "--create-detectors"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    drop(server);
    drop(fs);
}

// --- foreign and damaged store files ------------------------------------------------------------

/// A small healthy Vedette store (closed, so its WAL is checkpointed away).
fn healthy_store(dir: &Path) -> Vec<u8> {
    let logs = tempfile::tempdir().unwrap();
    let out = vedette()
        .arg("ingest")
        .arg("--data-dir")
        .arg(dir)
        .args(["--no-progress", "--create-detectors"])
        .arg(log_file(logs.path(), 2_000))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(dir.join("vedette.db")).unwrap()
}

/// `vedette serve` and `vedette ingest` on `dir`: both must refuse, say why, and leave the file as it was.
fn assert_refused(dir: &Path, what: &str) {
    let db = dir.join("vedette.db");
    let before = std::fs::read(&db).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let file = log_file(logs.path(), 10);
    let runs = [
        vedette().args(["serve", "--auth", "any", "--listen", "127.0.0.1:0", "--data-dir"]).arg(dir).output().unwrap(),
        vedette().arg("ingest").arg("--data-dir").arg(dir).arg("--no-progress").arg(&file).output().unwrap(),
    ];
    for out in runs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: accepted: {stderr}");
        assert!(stderr.contains("is not a usable Vedette store") && stderr.contains("left untouched"), "{what}: {stderr}");
        assert!(!stderr.contains("listening"), "{what}: served: {stderr}");
    }
    assert!(std::fs::read(&db).unwrap() == before, "{what}: the file was modified");
    eprintln!("{what}: refused");
}

#[test]
fn foreign_and_damaged_store_files_are_refused_untouched() {
    let store_with = |bytes: &[u8]| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vedette.db"), bytes).unwrap();
        dir
    };
    let mut rng = Rng::new("foreign files");
    let noise: Vec<u8> = (0..64 * 1024).map(|_| rng.next() as u8).collect();
    assert_refused(store_with(&noise).path(), "random bytes");
    assert_refused(store_with(b"name,age\nalice,30\n").path(), "a CSV file");

    // Another program's SQLite database, in both journal modes.
    for wal in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = rusqlite::Connection::open(dir.path().join("vedette.db")).unwrap();
            if wal {
                conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            }
            conn.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('alice');").unwrap();
        }
        assert_refused(dir.path(), if wal { "another program's WAL database" } else { "another program's database" });
    }
    // Someone else's table named like ours.
    let dir = tempfile::tempdir().unwrap();
    rusqlite::Connection::open(dir.path().join("vedette.db")).unwrap().execute_batch("CREATE TABLE schema_version (version INTEGER);").unwrap();
    assert_refused(dir.path(), "a lone schema_version table");

    // A Vedette store, damaged three ways.
    let healthy_dir = tempfile::tempdir().unwrap();
    let healthy = healthy_store(healthy_dir.path());
    assert!(healthy.len() > 8 * 4096, "store of {} bytes", healthy.len());
    assert_refused(store_with(&healthy[..healthy.len() / 2]).path(), "a truncated store");
    let mut header = healthy.clone();
    header[..16].copy_from_slice(b"SQLite format 2\0");
    assert_refused(store_with(&header).path(), "a store with a damaged header");
    let page = u16::from_be_bytes([healthy[16], healthy[17]]) as usize;
    let mut pages = healthy.clone();
    for b in &mut pages[2 * page..5 * page] {
        *b = 0x5A;
    }
    assert_refused(store_with(&pages).path(), "a store with overwritten pages");

    // The healthy one opens, and so does an empty file (a store never written).
    assert!(SqliteStore::open(healthy_dir.path()).is_ok());
    let empty = store_with(b"");
    assert!(SqliteStore::open(empty.path()).is_ok());
}
