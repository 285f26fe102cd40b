//! Load client for the API benchmark: drives a running `vedette serve --auth any` over loopback
//! with N keep-alive HTTP/1.1 connections (closed loop: each connection sends its next request
//! when the previous answer is read), every request SigV4-signed (service guardduty,
//! us-east-1). Per scenario it prints requests/s and p50/p90/p99/max latency, and the server's
//! peak RSS (VmHWM) when given its pid.
//!
//! Scenarios: ListDetectors (the HTTP floor), ListFindings with typical criteria and sorts
//! (page 1 and page 2 via nextToken), GetFindings of 50 random existing ids.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
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
    /// Concurrent connections; several values run every scenario at each.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    connections: Vec<usize>,
    /// Seconds measured per scenario.
    #[arg(long, default_value_t = 8.0)]
    seconds: f64,
    /// Unmeasured seconds before each scenario (connections open, caches warm).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Server pid, for its peak RSS.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Run only scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Print results as JSON lines too.
    #[arg(long)]
    json: bool,
}

#[derive(Clone)]
struct Call {
    method: &'static str,
    path: String,
    body: Option<String>,
}

/// A scenario makes the next request (ids drawn at random for GetFindings).
type MakeCall = Arc<dyn Fn(&mut Rng) -> Call + Send + Sync>;

struct Scenario {
    name: String,
    make: MakeCall,
}

#[derive(Default)]
struct Outcome {
    latencies_us: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
    items: u64,
}

fn signer() -> Signer {
    Signer::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
}

fn build(call: &Call, addr: &SocketAddr, signer: &Signer) -> Request<Full<Bytes>> {
    let body = Bytes::from(call.body.clone().unwrap_or_default());
    let mut req =
        Request::builder().method(call.method).uri(&call.path).header("host", addr.to_string()).header("user-agent", "vedette-bench/api_load");
    if call.body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let mut req = req.body(Full::new(body.clone())).expect("request");
    signer.sign(&mut req, &body).expect("signing");
    req
}

/// How many items the answer carries (findingIds / findings / detectorIds): shows the query is not empty.
fn count_items(body: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return 0 };
    ["findingIds", "findings", "detectorIds"].iter().filter_map(|k| v.get(*k)?.as_array().map(|a| a.len() as u64)).sum()
}

async fn connection(addr: SocketAddr, make: MakeCall, seed: u64, warmup_until: Instant, until: Instant) -> Outcome {
    let signer = signer();
    let mut rng = Rng::new(seed);
    let mut out = Outcome::default();
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).ok();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    loop {
        let start = Instant::now();
        if start >= until {
            break;
        }
        let call = make(&mut rng);
        let req = build(&call, &addr, &signer);
        sender.ready().await.expect("connection ready");
        let resp = sender.send_request(req).await.expect("send");
        let status = resp.status();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let elapsed = start.elapsed();
        if start < warmup_until {
            continue;
        }
        if status.is_success() {
            out.items += count_items(&body);
        } else {
            out.errors += 1;
            if out.first_error.is_none() {
                out.first_error = Some(format!("{status} {}", String::from_utf8_lossy(&body)));
            }
        }
        out.latencies_us.push(elapsed.as_micros() as u64);
    }
    out
}

/// One request outside the measurement (to fetch a nextToken).
async fn once(addr: SocketAddr, call: &Call) -> Value {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let resp = sender.send_request(build(call, &addr, &signer())).await.expect("send");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert!(status.is_success(), "{} {} -> {status} {}", call.method, call.path, String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("JSON answer")
}

fn list(detector: &str, body: Value) -> Call {
    Call { method: "POST", path: format!("/detector/{detector}/findings"), body: Some(body.to_string()) }
}

async fn scenarios(addr: SocketAddr, params: &Value) -> Vec<Scenario> {
    let detector = params["detectorId"].as_str().expect("detectorId").to_string();
    let type_query = params["typeQuery"].as_str().unwrap().to_string();
    let week_ago = params["weekAgoMs"].as_i64().unwrap();
    let now = params["nowMs"].as_i64().unwrap();
    let ids: Arc<Vec<String>> = Arc::new(params["findingIds"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect());

    let queries: Vec<(&str, Value)> = vec![
        ("ListFindings no criteria (default sort)", json!({"maxResults": 50})),
        (
            "ListFindings severity>=7 by severity DESC",
            json!({
            "findingCriteria": {"criterion": {"severity": {"gte": 7}}},
            "sortCriteria": {"attributeName": "severity", "orderBy": "DESC"}, "maxResults": 50}),
        ),
        (
            "ListFindings type=X by updatedAt DESC",
            json!({
            "findingCriteria": {"criterion": {"type": {"equals": [type_query]}}},
            "sortCriteria": {"attributeName": "updatedAt", "orderBy": "DESC"}, "maxResults": 50}),
        ),
        (
            "ListFindings active+updatedAt 7d by updatedAt DESC",
            json!({
            "findingCriteria": {"criterion": {"service.archived": {"equals": ["false"]}, "updatedAt": {"greaterThanOrEqual": week_ago, "lessThan": now}}},
            "sortCriteria": {"attributeName": "updatedAt", "orderBy": "DESC"}, "maxResults": 50}),
        ),
        (
            "ListFindings active+severity>=4 by severity DESC",
            json!({
            "findingCriteria": {"criterion": {"service.archived": {"equals": ["false"]}, "severity": {"greaterThanOrEqual": 4}}},
            "sortCriteria": {"attributeName": "severity", "orderBy": "DESC"}, "maxResults": 50}),
        ),
    ];
    let mut out = vec![Scenario {
        name: "ListDetectors (HTTP floor)".into(),
        make: Arc::new(|_| Call { method: "GET", path: "/detector".into(), body: None }),
    }];
    for (name, body) in queries {
        let first = list(&detector, body.clone());
        let page1 = once(addr, &first).await;
        let n = page1["findingIds"].as_array().map_or(0, |a| a.len());
        out.push(Scenario { name: name.to_string(), make: Arc::new(move |_| first.clone()) });
        if n == 0 {
            eprintln!("warning: '{name}' matches nothing");
        }
        if name.contains("severity>=7") || name.contains("7d") {
            match page1["nextToken"].as_str() {
                Some(token) if !token.is_empty() => {
                    let mut b = body.clone();
                    b["nextToken"] = json!(token);
                    let second = list(&detector, b);
                    out.push(Scenario { name: format!("{name}, page 2"), make: Arc::new(move |_| second.clone()) });
                }
                _ => eprintln!("warning: '{name}' has no page 2"),
            }
        }
    }
    let get_path = format!("/detector/{detector}/findings/get");
    out.push(Scenario {
        name: "GetFindings 50 random ids".into(),
        make: Arc::new(move |rng| {
            // 50 distinct ids (redrawn on repeats), as a console page would ask for.
            let mut picked: Vec<&String> = Vec::with_capacity(50);
            while picked.len() < 50.min(ids.len()) {
                let id = rng.pick(&ids);
                if !picked.contains(&id) {
                    picked.push(id);
                }
            }
            Call { method: "POST", path: get_path.clone(), body: Some(json!({"findingIds": picked}).to_string()) }
        }),
    });
    out
}

fn main() {
    let args = Args::parse();
    let params: Value = serde_json::from_slice(&std::fs::read(&args.params).expect("read params")).expect("params JSON");
    // One runtime thread: the client must leave the second core to the server.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let all = scenarios(args.addr, &params).await;
        println!("{:<58} {:>5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6}", "scenario", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "items", "errors");
        for conns in &args.connections {
            for sc in all.iter().filter(|s| args.only.as_ref().is_none_or(|o| s.name.contains(o.as_str()))) {
                let warm = Instant::now() + Duration::from_secs_f64(args.warmup);
                let until = warm + Duration::from_secs_f64(args.seconds);
                let tasks: Vec<_> = (0..*conns)
                    .map(|c| tokio::spawn(connection(args.addr, sc.make.clone(), 1000 + c as u64, warm, until)))
                    .collect();
                let mut lat = Vec::new();
                let (mut errors, mut items, mut first_error) = (0, 0, None);
                for t in tasks {
                    let o = t.await.expect("connection task");
                    lat.extend(o.latencies_us);
                    errors += o.errors;
                    items += o.items;
                    first_error = first_error.or(o.first_error);
                }
                let n = lat.len() as u64;
                let rps = n as f64 / args.seconds;
                let mut p = |q| vedette_bench::percentile_us(&mut lat, q) as f64 / 1000.0;
                let (p50, p90, p99, max) = (p(50.0), p(90.0), p(99.0), p(100.0));
                let avg_items = if n > 0 { items as f64 / n as f64 } else { 0.0 };
                println!("{:<58} {:>5} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7.1} {:>6}", sc.name, conns, rps, p50, p90, p99, max, avg_items, errors);
                if let Some(e) = first_error {
                    println!("    first error: {}", e.chars().take(300).collect::<String>());
                }
                if args.json {
                    println!("{}", json!({"scenario": sc.name, "connections": conns, "requests": n, "rps": rps, "p50Ms": p50, "p90Ms": p90, "p99Ms": p99, "maxMs": max, "itemsPerResponse": avg_items, "errors": errors}));
                }
            }
        }
        if let Some(pid) = args.server_pid {
            // VmHWM counts file-backed pages too: with SQLite's mmap the database pages the
            // server touched show up there, so the anonymous/file split is printed as well.
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<f64>().ok())
                    .map_or("?".to_string(), |k| format!("{:.1} MiB", k / 1024.0))
            };
            println!(
                "server peak RSS (VmHWM): {}; now: VmRSS {} = RssAnon {} + RssFile {} + RssShmem {}",
                field("VmHWM:"),
                field("VmRSS:"),
                field("RssAnon:"),
                field("RssFile:"),
                field("RssShmem:")
            );
        }
    });
}
