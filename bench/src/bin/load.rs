//! Mixed load against a running `vedette serve`: N concurrent keep-alive clients
//! (closed loop) mixing GetFindings, ListFindings with criteria, ArchiveFindings /
//! UnarchiveFindings and UpdateFindingsFeedback for a fixed time, every request SigV4-signed.
//! `bench/load.sh` runs a `vedette ingest` into the same data directory meanwhile.
//!
//! Reports requests/s and p50/p99/p99.9/max latency per operation, and errors by type. Checks,
//! and exits non-zero when one fails:
//! - no 5xx and no broken connection;
//! - no lost or torn write: every client owns a disjoint slice of the finding ids and is the only
//!   writer of them, so after the run each finding must show exactly its owner's last
//!   acknowledged archive state and feedback, read back with GetFindings; during the run every
//!   GetFindings of a client's own ids must already show its acknowledged writes.
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpStream;
use vedette_bench::Rng;
use vedette_bench::sigv4::Signer;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8433")]
    addr: SocketAddr,
    /// params.json written by seed_findings.
    #[arg(long)]
    params: PathBuf,
    #[arg(long, default_value_t = 64)]
    clients: usize,
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Relative weights: GetFindings, ListFindings, Archive/Unarchive, UpdateFindingsFeedback.
    #[arg(long, value_delimiter = ',', default_value = "35,35,15,15")]
    mix: Vec<u32>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print the summary as one JSON line too.
    #[arg(long)]
    json: bool,
}

const OPS: [&str; 4] = ["GetFindings", "ListFindings", "ArchiveFindings", "UpdateFindingsFeedback"];

#[derive(Deserialize)]
struct Params {
    #[serde(rename = "detectorId")]
    detector_id: String,
    #[serde(rename = "findingIds")]
    finding_ids: Vec<String>,
    #[serde(rename = "typeQuery")]
    type_query: String,
    #[serde(rename = "weekAgoMs")]
    week_ago_ms: i64,
    #[serde(rename = "nowMs")]
    now_ms: i64,
}

/// What a finding must show: archived, feedback (None: never set by this run).
type Expected = HashMap<String, (Option<bool>, Option<String>)>;

#[derive(Default)]
struct ClientReport {
    latencies_us: [Vec<u64>; 4],
    errors: BTreeMap<String, u64>,
    /// Read-your-writes violations seen during the run.
    stale_reads: Vec<String>,
    expected: Expected,
}

#[derive(Deserialize)]
struct GetFindingsAnswer {
    findings: Vec<FindingState>,
}

#[derive(Deserialize)]
struct FindingState {
    id: String,
    service: ServiceState,
}

#[derive(Deserialize)]
struct ServiceState {
    #[serde(default)]
    archived: bool,
    #[serde(rename = "userFeedback")]
    user_feedback: Option<String>,
}

fn signer() -> Signer {
    Signer::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
}

struct Conn {
    addr: SocketAddr,
    signer: Signer,
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl Conn {
    /// POST `path` with `body`; (status, error type header, body). Reconnects after a closed connection.
    async fn post(&mut self, path: &str, body: String) -> Result<(u16, Option<String>, Bytes), String> {
        if self.sender.is_none() {
            let stream = TcpStream::connect(self.addr).await.map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).ok();
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(conn);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().unwrap();
        let body = Bytes::from(body);
        let mut req = Request::builder()
            .method("POST")
            .uri(path)
            .header("host", self.addr.to_string())
            .header("content-type", "application/json")
            .header("user-agent", "vedette-bench/load")
            .body(Full::new(body.clone()))
            .expect("request");
        self.signer.sign(&mut req, &body)?;
        let result = async {
            sender.ready().await.map_err(|e| format!("connection: {e}"))?;
            let resp = sender.send_request(req).await.map_err(|e| format!("send: {e}"))?;
            let status = resp.status().as_u16();
            let error_type = resp.headers().get("x-amzn-ErrorType").and_then(|v| v.to_str().ok()).map(String::from);
            let bytes = resp.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
            Ok((status, error_type, bytes))
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }
}

struct Shared {
    params: Params,
    criteria: Vec<serde_json::Value>,
    mix: Vec<u32>,
}

fn list_queries(p: &Params) -> Vec<serde_json::Value> {
    vec![
        json!({"findingCriteria": {"criterion": {"severity": {"gte": 7}}}, "sortCriteria": {"attributeName": "severity", "orderBy": "DESC"}, "maxResults": 50}),
        json!({"findingCriteria": {"criterion": {"type": {"equals": [p.type_query]}}}, "sortCriteria": {"attributeName": "updatedAt", "orderBy": "DESC"}, "maxResults": 50}),
        json!({"findingCriteria": {"criterion": {"service.archived": {"equals": ["false"]}, "updatedAt": {"greaterThanOrEqual": p.week_ago_ms, "lessThan": p.now_ms}}},
               "sortCriteria": {"attributeName": "updatedAt", "orderBy": "DESC"}, "maxResults": 50}),
        json!({"findingCriteria": {"criterion": {"service.archived": {"equals": ["true"]}}}, "maxResults": 25}),
        json!({"findingCriteria": {"criterion": {"service.userFeedback": {"equals": ["USEFUL"]}, "severity": {"greaterThanOrEqual": 4}}}, "maxResults": 50}),
    ]
}

fn count_error(errors: &mut BTreeMap<String, u64>, key: String) {
    *errors.entry(key).or_default() += 1;
}

async fn client(addr: SocketAddr, shared: Arc<Shared>, own: Vec<String>, seed: u64, until: Instant) -> ClientReport {
    let p = &shared.params;
    let mut rng = Rng::new(seed);
    let mut conn = Conn { addr, signer: signer(), sender: None };
    let mut report = ClientReport::default();
    let base = format!("/detector/{}/findings", p.detector_id);
    while Instant::now() < until {
        let op = rng.weighted(&shared.mix);
        // Writes and checked reads pick from the client's own ids.
        let pick = |rng: &mut Rng, n: usize| -> Vec<String> {
            (0..n).map(|_| rng.pick(&own).clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect()
        };
        let (path, body, write): (String, String, Option<Write>) = match op {
            0 => {
                let mut ids = pick(&mut rng, 10);
                while ids.len() < 50 {
                    let id = rng.pick(&p.finding_ids).clone();
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                (format!("{base}/get"), json!({"findingIds": ids}).to_string(), None)
            }
            1 => (base.clone(), rng.pick(&shared.criteria).to_string(), None),
            2 => {
                let n = 1 + rng.below(5) as usize;
                let ids = pick(&mut rng, n);
                let archive = rng.chance(0.5);
                let path = format!("{base}/{}", if archive { "archive" } else { "unarchive" });
                (path, json!({"findingIds": ids}).to_string(), Some((ids, Some(archive), None)))
            }
            _ => {
                let n = 1 + rng.below(5) as usize;
                let ids = pick(&mut rng, n);
                let feedback = if rng.chance(0.5) { "USEFUL" } else { "NOT_USEFUL" };
                let body = json!({"findingIds": ids, "feedback": feedback, "comments": format!("load {seed} {}", rng.hex(8))}).to_string();
                (format!("{base}/feedback"), body, Some((ids, None, Some(feedback.to_string()))))
            }
        };
        let started = Instant::now();
        let answer = conn.post(&path, body.clone()).await;
        let elapsed = started.elapsed().as_micros() as u64;
        match answer {
            Err(e) => count_error(&mut report.errors, format!("{}: transport {}", OPS[op], e.split(':').next().unwrap_or("error"))),
            Ok((status, error_type, bytes)) => {
                report.latencies_us[op].push(elapsed);
                if status != 200 {
                    count_error(&mut report.errors, format!("{}: {status} {}", OPS[op], error_type.unwrap_or_default()));
                    continue;
                }
                if let Some((ids, archived, feedback)) = write {
                    for id in ids {
                        let e = report.expected.entry(id).or_default();
                        if archived.is_some() {
                            e.0 = archived;
                        }
                        if feedback.is_some() {
                            e.1 = feedback.clone();
                        }
                    }
                } else if op == 0 {
                    check_reads(&bytes, &report.expected, &mut report.stale_reads);
                }
            }
        }
    }
    report
}

/// Every own finding in a GetFindings answer shows this client's acknowledged writes.
/// An acknowledged write: the finding ids, and the archived state or feedback it set.
type Write = (Vec<String>, Option<bool>, Option<String>);

fn check_reads(bytes: &[u8], expected: &Expected, stale: &mut Vec<String>) {
    let Ok(answer) = serde_json::from_slice::<GetFindingsAnswer>(bytes) else {
        stale.push("GetFindings answer does not parse".into());
        return;
    };
    for f in answer.findings {
        if let Some((archived, feedback)) = expected.get(&f.id)
            && (archived.is_some_and(|a| a != f.service.archived) || (feedback.is_some() && feedback != &f.service.user_feedback))
        {
            stale.push(format!(
                "{}: archived {} feedback {:?}, acknowledged {archived:?} {feedback:?}",
                f.id, f.service.archived, f.service.user_feedback
            ));
        }
    }
}

fn main() {
    let args = Args::parse();
    assert_eq!(args.mix.len(), 4, "--mix takes four weights");
    let params: Params = serde_json::from_slice(&std::fs::read(&args.params).expect("read params")).expect("params JSON");
    assert!(params.finding_ids.len() >= args.clients * 2, "too few sample ids ({}) for {} clients", params.finding_ids.len(), args.clients);
    let shared = Arc::new(Shared { criteria: list_queries(&params), mix: args.mix.clone(), params });
    // One runtime thread: the client leaves the other core to the server and the ingest.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let exit = rt.block_on(async {
        let started = Instant::now();
        let until = started + Duration::from_secs_f64(args.seconds);
        let tasks: Vec<_> = (0..args.clients)
            .map(|c| {
                let own: Vec<String> = shared.params.finding_ids.iter().skip(c).step_by(args.clients).cloned().collect();
                tokio::spawn(client(args.addr, shared.clone(), own, args.seed * 1000 + c as u64, until))
            })
            .collect();
        let mut reports = Vec::new();
        for t in tasks {
            reports.push(t.await.expect("client task"));
        }
        let wall = started.elapsed().as_secs_f64();

        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        let mut expected: Expected = HashMap::new();
        let mut stale = Vec::new();
        let mut per_op: [Vec<u64>; 4] = Default::default();
        for r in reports {
            for (k, v) in r.errors {
                *errors.entry(k).or_default() += v;
            }
            for (i, l) in r.latencies_us.into_iter().enumerate() {
                per_op[i].extend(l);
            }
            stale.extend(r.stale_reads);
            expected.extend(r.expected);
        }
        let total: usize = per_op.iter().map(Vec::len).sum();
        println!("{} clients, {wall:.1} s, {total} answered requests, {:.0} requests/s", args.clients, total as f64 / wall);
        println!("{:<24} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}", "operation", "requests", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms");
        let mut figures = Vec::new();
        let mut all: Vec<u64> = per_op.iter().flatten().copied().collect();
        for (name, lat) in OPS.iter().zip(per_op.iter_mut()).map(|(n, l)| (n.to_string(), l)).chain(std::iter::once(("all".to_string(), &mut all))) {
            let n = lat.len();
            let mut p = |q| vedette_bench::percentile_us(lat, q) as f64 / 1000.0;
            let (p50, p99, p999, max) = (p(50.0), p(99.0), p(99.9), p(100.0));
            println!("{name:<24} {n:>8} {:>9.1} {p50:>9.2} {p99:>9.2} {p999:>9.2} {max:>9.2}", n as f64 / wall);
            figures.push(json!({"operation": name, "requests": n, "rps": n as f64 / wall, "p50Ms": p50, "p99Ms": p99, "p999Ms": p999, "maxMs": max}));
        }
        if errors.is_empty() {
            println!("errors: none");
        } else {
            println!("errors by type:");
            for (k, v) in &errors {
                println!("  {v:>8}  {k}");
            }
        }

        // Read everything written back: each finding shows its owner's last acknowledged write.
        let mut conn = Conn { addr: args.addr, signer: signer(), sender: None };
        let ids: Vec<String> = expected.keys().cloned().collect();
        let mut lost = Vec::new();
        for chunk in ids.chunks(50) {
            let (status, _, bytes) = conn
                .post(&format!("/detector/{}/findings/get", shared.params.detector_id), json!({"findingIds": chunk}).to_string())
                .await
                .expect("read back");
            assert_eq!(status, 200, "read back: {}", String::from_utf8_lossy(&bytes));
            let answer: GetFindingsAnswer = serde_json::from_slice(&bytes).expect("GetFindings answer");
            let mut seen = 0;
            for f in answer.findings {
                seen += 1;
                let (archived, feedback) = &expected[&f.id];
                if archived.is_some_and(|a| a != f.service.archived) || (feedback.is_some() && feedback != &f.service.user_feedback) {
                    lost.push(format!(
                        "{}: archived {} feedback {:?}, last acknowledged {archived:?} {feedback:?}",
                        f.id, f.service.archived, f.service.user_feedback
                    ));
                }
            }
            if seen != chunk.len() {
                lost.push(format!("{} of {} written findings missing", chunk.len() - seen, chunk.len()));
            }
        }
        let writes = expected.len();
        println!("read back {writes} written findings: {} lost or torn; {} stale reads during the run", lost.len(), stale.len());
        for l in lost.iter().chain(stale.iter()).take(10) {
            println!("  {l}");
        }
        let server_errors: u64 = errors.iter().filter(|(k, _)| k.contains(": 5") || k.contains("transport")).map(|(_, v)| v).sum();
        if args.json {
            println!(
                "{}",
                json!({"clients": args.clients, "seconds": wall, "requests": total, "rps": total as f64 / wall, "operations": figures,
                "errors": errors, "writtenFindings": writes, "lostOrTorn": lost.len(), "staleReads": stale.len()})
            );
        }
        let ok = server_errors == 0 && lost.is_empty() && stale.is_empty();
        println!("{}", if ok { "PASS: no 5xx, no broken connection, no lost or torn write" } else { "FAIL" });
        ok
    });
    std::process::exit(if exit { 0 } else { 1 });
}
