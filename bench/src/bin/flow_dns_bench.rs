//! Runs the flow-log and DNS-log ingest benchmark over the corpus of `gen_flow_dns` and prints,
//! per source: the floor (`flow_dns_baseline`: gunzip + split + parse into Vedette's record
//! types) on 1 and 2 cores, best of `--repeat`; `vedette ingest` (detection and store writes
//! included, every feed of the corpus loaded) into a fresh data dir on 1 and 2 cores, with peak
//! RSS; the findings by type against the attack episodes the generator planted; and the cost of
//! the per-chunk detection-state snapshots (flow / DNS state is serialized with every chunk and
//! written through `Store::commit`).
//!
//! Cores are pinned with `taskset`; peak RSS and CPU time come from `/usr/bin/time -v`.
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use clap::Parser;
use serde_json::{Value, json};
use vedette_domain::Scope;
use vedette_domain::criteria::{Criteria, parse_sort};
use vedette_domain::detect::Intel;
use vedette_domain::dns::{DnsContext, DnsHeuristics, DnsIntel, parse_query_record};
use vedette_domain::flow::{self, FlowContext, FlowLayout, FlowLine, FlowState};
use vedette_store::{SqliteStore, StateStore, Store};

#[derive(Parser)]
struct Args {
    /// Where gen_flow_dns wrote the corpus.
    #[arg(long, default_value = "bench/data/flowdns")]
    data: PathBuf,
    /// Scratch space: data dirs, logs, results JSON.
    #[arg(long, default_value = "bench/out/flowdns")]
    work: PathBuf,
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Baseline runs per configuration (the fastest is kept).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Records per chunk in the extra small-chunk run (`vedette ingest --batch-records`).
    #[arg(long, default_value_t = 5000)]
    small_chunks: u64,
    /// Skip the small-chunk runs and the state (de)serialization timings.
    #[arg(long)]
    skip_state: bool,
}

struct Run {
    seconds: f64,
    cpu_seconds: f64,
    peak_rss_kib: Option<u64>,
    stdout: String,
    stderr: String,
    ok: bool,
}

fn run(cpus: &str, argv: &[String], time_file: &Path) -> Run {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-v").arg("-o").arg(time_file).arg("taskset").arg("-c").arg(cpus).args(argv);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    let seconds = started.elapsed().as_secs_f64();
    let time = std::fs::read_to_string(time_file).unwrap_or_default();
    let field = |name: &str| time.lines().find_map(|l| l.trim().strip_prefix(name)).and_then(|v| v.trim().parse::<f64>().ok());
    Run {
        seconds,
        cpu_seconds: field("User time (seconds): ").unwrap_or(0.0) + field("System time (seconds): ").unwrap_or(0.0),
        peak_rss_kib: field("Maximum resident set size (kbytes): ").map(|v| v as u64),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ok: out.status.success(),
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

struct Row {
    source: &'static str,
    name: String,
    cores: u32,
    events: u64,
    seconds: f64,
    cpu_seconds: f64,
    mb: f64,
    peak_rss_kib: Option<u64>,
    floor_eps: f64,
    floor_cpu_eps: f64,
}

/// The fastest of `repeat` baseline runs.
fn baseline(args: &Args, kind: &str, cpus: &str, threads: usize, paths: &[String]) -> Value {
    let mut best: Option<Value> = None;
    for _ in 0..args.repeat.max(1) {
        let mut argv = vec![s(&args.bin_dir.join("flow_dns_baseline")), "--kind".into(), kind.into(), "--threads".into(), threads.to_string()];
        argv.extend(paths.iter().cloned());
        let r = run(cpus, &argv, &args.work.join("time-baseline.txt"));
        assert!(r.ok, "baseline failed: {}", r.stderr);
        let mut v: Value = serde_json::from_str(r.stdout.trim()).expect("baseline JSON");
        assert_eq!(v["bad"].as_u64(), Some(0), "the floor must parse every line: {v}");
        v["cpuSeconds"] = json!(r.cpu_seconds);
        if best.as_ref().is_none_or(|b| v["seconds"].as_f64() < b["seconds"].as_f64()) {
            best = Some(v);
        }
    }
    best.unwrap()
}

/// Every finding in `dir`: (type, instance id, ENI ids, service.count).
fn findings(dir: &Path, scopes: &[(String, String)]) -> Vec<(String, Option<String>, Vec<String>, u64)> {
    let store = SqliteStore::open(dir).expect("open ingested store");
    let sort = parse_sort(None).expect("default sort");
    let mut out = Vec::new();
    for det in detector_ids(&store, scopes) {
        let mut token: Option<String> = None;
        loop {
            let page = store.list_findings(&det, &Criteria::default(), &sort, 50, token.as_deref()).expect("list");
            for f in store.get_findings(&det, &page.items, None).expect("get") {
                let inst = f.resource.as_ref().and_then(|r| r.instance_details.as_ref());
                let id = inst.and_then(|i| i.instance_id.clone());
                let enis = inst
                    .and_then(|i| i.network_interfaces.as_ref())
                    .map(|n| n.iter().filter_map(|e| e.network_interface_id.clone()).collect())
                    .unwrap_or_default();
                let count = f.service.as_ref().and_then(|s| s.count).unwrap_or(0) as u64;
                out.push((f.r#type.clone().unwrap_or_default(), id, enis, count));
            }
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
    }
    out
}

/// The detector ids of the manifest's accounts x Regions in a data dir.
fn detector_ids(store: &SqliteStore, scopes: &[(String, String)]) -> Vec<String> {
    scopes
        .iter()
        .filter_map(|(a, r)| store.detector_for(&Scope::new(a.as_str(), r.as_str())).expect("detector lookup"))
        .map(|d| d.id.clone())
        .collect()
}

/// Median of `n` timings of `f`, in microseconds.
fn time_us(n: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Serialization cost of one state value: (JSON bytes, µs to serialize, µs to deserialize).
fn state_cost<T: serde::Serialize + serde::de::DeserializeOwned>(state: &T) -> (usize, f64, f64) {
    let json = serde_json::to_string(state).unwrap();
    let ser = time_us(7, || {
        std::hint::black_box(serde_json::to_string(state).unwrap());
    });
    let de = time_us(7, || {
        std::hint::black_box(serde_json::from_str::<T>(&json).unwrap());
    });
    (json.len(), ser, de)
}

/// A flow state filled to its bounds: outbound single-SYN flows from 40 instances to distinct
/// public hosts on varying ports (every table's key space grows until `MAX_TRACKED` evicts).
fn saturated_flow_state(records: u32) -> FlowState {
    let layout = FlowLayout::default();
    let scope = Scope::new("111122223333", "us-east-1");
    let ctx = FlowContext { detector_id: "d", scope: &scope, now_ms: 0, source: "synthetic", position: 1, intel: Intel::none(), inventory: None };
    let mut state = FlowState::default();
    let t0 = 1_715_644_800i64;
    for n in 0..records {
        let local = Ipv4Addr::new(10, 1, (n % 40) as u8, 10);
        let remote = Ipv4Addr::from(0x3400_0000u32 + n * 7919 % 0x00ff_ffff);
        let line = format!(
            "2 111122223333 eni-0{:016x} {local} {remote} 40000 {} 6 2 88 {} {} ACCEPT OK",
            n % 40,
            1000 + n % 5000,
            t0 + (n / 200) as i64,
            t0 + 60 + (n / 200) as i64
        );
        if let Ok(FlowLine::Record(r)) = layout.parse(&line) {
            std::hint::black_box(flow::detect(&r, &ctx, &mut state));
        }
    }
    state
}

/// DNS heuristics state near its bounds: many instances each querying long random subdomains
/// under many domains (exfiltration windows) and generated-looking names (DGA windows).
fn saturated_dns_state(queries: u32) -> DnsHeuristics {
    let intel = DnsIntel::default();
    let ctx = DnsContext { detector_id: "d", now_ms: 0, source: "synthetic", position: 1, intel: &intel, inventory: None };
    let mut state = DnsHeuristics::default();
    let mut rng = vedette_bench::Rng::new(7);
    for n in 0..queries {
        let name = if n % 2 == 0 {
            format!("{}.{}.d{}.com.", rng.hex(40), n, n % 20_000)
        } else {
            format!("{}.net.", rng.chars(b"bcdfghjklmnpqrstvwxz0123456789", 16))
        };
        let line = format!(
            r#"{{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-1","query_timestamp":"2024-05-14T00:{:02}:{:02}Z","query_name":"{name}","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[],"srcaddr":"10.0.0.1","srcport":"5353","transport":"UDP","srcids":{{"instance":"i-0{:016x}"}}}}"#,
            (n / 60_000) % 10,
            (n / 1000) % 60,
            n % 5000
        );
        if let Ok(r) = parse_query_record(line.as_bytes()) {
            std::hint::black_box(state.observe(&r, &ctx));
        }
    }
    state
}

fn main() {
    let args = Args::parse();
    std::fs::create_dir_all(&args.work).unwrap();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(args.data.join("manifest.json")).expect("corpus manifest (run gen_flow_dns)")).unwrap();
    let accounts: Vec<String> = manifest["accounts"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let regions: Vec<String> = manifest["regions"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let scopes: Vec<(String, String)> = accounts.iter().flat_map(|a| regions.iter().map(move |r| (a.clone(), r.clone()))).collect();
    let paths_of = |dir: &str| accounts.iter().map(|a| s(&args.data.join(format!("AWSLogs/{a}/{dir}")))).collect::<Vec<_>>();
    let sources: [(&'static str, Vec<String>); 2] = [("flow", paths_of("vpcflowlogs")), ("dns", paths_of("vpcdnsquerylogs"))];
    // Every feed the corpus has, for both sources (an operator configures them once).
    let mut feed_args: Vec<String> = vec!["--flow-region".into(), manifest["flowRegionForV2"].as_str().unwrap().into()];
    for (kind, path) in manifest["feeds"]["flow"].as_object().unwrap() {
        feed_args.push("--feed".into());
        feed_args.push(format!("{kind}={}", s(&args.data.join(path.as_str().unwrap()))));
    }
    for (kind, path) in manifest["feeds"]["dns"].as_object().unwrap() {
        feed_args.push("--domain-feed".into());
        feed_args.push(format!("{kind}={}", s(&args.data.join(path.as_str().unwrap()))));
    }
    // Warm the page cache.
    for (_, paths) in &sources {
        let mut stack: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
            } else {
                std::hint::black_box(std::fs::read(&p).unwrap());
            }
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("load average before: {}", load.trim());
    let mut results = json!({"manifest": {"flow": manifest["flow"], "dns": manifest["dns"]}, "loadavgBefore": load.trim()});
    let mut rows: Vec<Row> = Vec::new();
    let mut sanity: Vec<String> = Vec::new();
    let mut state_lines: Vec<String> = Vec::new();

    for (source, paths) in &sources {
        let source: &'static str = source;
        eprintln!("{source}: baseline ...");
        let b1 = baseline(&args, source, "0", 1, paths);
        let b2 = baseline(&args, source, "0,1", 2, paths);
        let eps = |v: &Value| v["eventsPerSec"].as_f64().unwrap();
        let cpu_eps = |v: &Value| v["events"].as_f64().unwrap() / v["cpuSeconds"].as_f64().unwrap().max(1e-9);
        let events = b1["events"].as_u64().unwrap();
        let mb = b1["uncompressedBytes"].as_f64().unwrap() / 1e6;
        for (v, cores) in [(&b1, 1), (&b2, 2)] {
            rows.push(Row {
                source,
                name: "floor: gunzip + split + parse".into(),
                cores,
                events,
                seconds: v["seconds"].as_f64().unwrap(),
                cpu_seconds: v["cpuSeconds"].as_f64().unwrap(),
                mb,
                peak_rss_kib: v["peakRssKiB"].as_u64(),
                floor_eps: eps(v),
                floor_cpu_eps: cpu_eps(v),
            });
        }
        results[source] = json!({"baseline1": b1, "baseline2": b2});
        let mut configurations: Vec<(&str, &str, u32, Option<u64>)> = vec![("full", "0", 1, None), ("full", "0,1", 2, None)];
        if !args.skip_state {
            configurations.push(("small-chunks", "0", 1, Some(args.small_chunks)));
        }
        let mut default_cpu_1 = 0.0;
        for (label, cpus, cores, batch) in configurations {
            eprintln!("{source}: vedette ingest, {label}, {cores} core(s) ...");
            let dir = args.work.join(format!("vedette-{source}-{label}-{cores}"));
            let _ = std::fs::remove_dir_all(&dir);
            let mk = vec![
                s(&args.bin_dir.join("create_detectors")),
                "--data-dir".into(),
                s(&dir),
                "--accounts".into(),
                accounts.join(","),
                "--regions".into(),
                regions.join(","),
            ];
            let r = run("0,1", &mk, &args.work.join("time-mk.txt"));
            assert!(r.ok, "create_detectors failed: {}", r.stderr);
            let mut argv = vec![
                s(&args.bin_dir.join("vedette")),
                "ingest".into(),
                "--threads".into(),
                cores.to_string(),
                "--no-progress".into(),
                "--json".into(),
                "--data-dir".into(),
                s(&dir),
            ];
            if let Some(b) = batch {
                argv.extend(["--batch-records".into(), b.to_string()]);
            }
            argv.extend(feed_args.iter().cloned());
            argv.extend(paths.iter().cloned());
            let r = run(cpus, &argv, &args.work.join(format!("time-vedette-{source}-{label}-{cores}.txt")));
            std::fs::write(args.work.join(format!("vedette-{source}-{label}-{cores}.log")), format!("{}\n{}", r.stdout, r.stderr)).unwrap();
            let summary: Value = r.stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
            // Vedette does not count NODATA / SKIPDATA rows as events; the rates below use the
            // floor's count (every line parsed) for both.
            let usable = events - b1["noDataRows"].as_u64().unwrap_or(0);
            if !r.ok || summary["events"].as_u64() != Some(usable) || summary["badRecords"].as_u64() != Some(0) {
                eprintln!(
                    "WARNING: vedette {source} {label} {cores}: ok={} events={} (floor: {usable} records besides NODATA rows) bad={}\n{}",
                    r.ok,
                    summary["events"],
                    summary["badRecords"],
                    r.stderr.lines().rev().take(5).collect::<Vec<_>>().join("\n")
                );
            }
            results[source][format!("vedette_{label}_{cores}")] =
                json!({"seconds": r.seconds, "cpuSeconds": r.cpu_seconds, "peakRssKiB": r.peak_rss_kib, "ok": r.ok, "summary": summary});
            let (floor, floor_cpu) = if cores == 1 { (eps(&b1), cpu_eps(&b1)) } else { (eps(&b2), cpu_eps(&b2)) };
            let name = match batch {
                Some(b) => format!("vedette ingest --batch-records {b}"),
                None => "vedette ingest".into(),
            };
            if label == "full" && cores == 1 {
                default_cpu_1 = r.cpu_seconds;
            }
            if batch.is_some() {
                // `--batch-records N` makes chunks of at most N records (a file is at least one
                // chunk) and a store commit every N records; each chunk snapshots the state.
                state_lines.push(format!(
                    "{source}: ingest with --batch-records {}: {:.2} CPU-s vs {:.2} with the default ({:+.1}%): ~{} commits instead of ~{}, chunks of at most {} records instead of one per file ({})",
                    args.small_chunks,
                    r.cpu_seconds,
                    default_cpu_1,
                    (r.cpu_seconds / default_cpu_1.max(1e-9) - 1.0) * 100.0,
                    events.div_ceil(args.small_chunks),
                    events.div_ceil(200_000),
                    args.small_chunks,
                    manifest[source]["files"]
                ));
            }
            rows.push(Row {
                source,
                name,
                cores,
                events,
                seconds: r.seconds,
                cpu_seconds: r.cpu_seconds,
                mb,
                peak_rss_kib: r.peak_rss_kib,
                floor_eps: floor,
                floor_cpu_eps: floor_cpu,
            });
        }

        // Findings against the planted episodes (full run, 1 core).
        let dir = args.work.join(format!("vedette-{source}-full-1"));
        let found = findings(&dir, &scopes);
        let expected: Vec<&Value> = manifest["expected"].as_array().unwrap().iter().filter(|e| e["source"] == *source).collect();
        let mut by_type: BTreeMap<String, (u64, u64, u64, u64, u64)> = BTreeMap::new(); // findings, occurrences, episodes, episodes found, unexpected findings
        let mut expected_keys: BTreeSet<(String, String)> = BTreeSet::new();
        for e in &expected {
            let t = e["type"].as_str().unwrap().to_owned();
            let hit = found.iter().any(|(ft, id, enis, _)| {
                *ft == t && (id.as_deref() == e["instance"].as_str() || enis.iter().any(|x| Some(x.as_str()) == e["eni"].as_str()))
            });
            let row = by_type.entry(t.clone()).or_default();
            row.2 += 1;
            row.3 += u64::from(hit);
            expected_keys.insert((t.clone(), e["instance"].as_str().unwrap().to_owned()));
            expected_keys.insert((t, e["eni"].as_str().unwrap().to_owned()));
        }
        for (t, id, enis, count) in &found {
            let row = by_type.entry(t.clone()).or_default();
            row.0 += 1;
            row.1 += count;
            let planted = id.iter().chain(enis.iter()).any(|k| expected_keys.contains(&(t.clone(), k.clone())));
            row.4 += u64::from(!planted);
        }
        sanity.push(format!("{source}: findings after the 1-core run vs attack episodes planted by the generator"));
        sanity.push(format!("  {:<44} {:>8} {:>11} {:>8} {:>6} {:>10}", "type", "findings", "occurrences", "planted", "found", "unplanted"));
        for (t, (f, o, e, h, u)) in &by_type {
            sanity.push(format!("  {t:<44} {f:>8} {o:>11} {e:>8} {h:>6} {u:>10}"));
        }
        results[source]["findingsByType"] = json!(by_type);

        if !args.skip_state {
            // The states this run stored (what each chunk serialized, at its final size).
            let store = SqliteStore::open(&dir).expect("open");
            let key = if source == "flow" { "flow:state" } else { "dns:heuristics" };
            let mut sizes = Vec::new();
            let (mut ser_sum, mut n) = (0.0, 0);
            for det in detector_ids(&store, &scopes) {
                for (_, value) in store.load_state(&det, key).expect("load_state") {
                    let (bytes, ser, de) = if source == "flow" {
                        state_cost(&serde_json::from_str::<FlowState>(&value).expect("stored flow state"))
                    } else {
                        state_cost(&serde_json::from_str::<DnsHeuristics>(&value).expect("stored dns state"))
                    };
                    sizes.push(bytes);
                    ser_sum += ser;
                    n += 1;
                    let _ = de;
                }
            }
            // The writer serializes each changed detector's state once per commit; a commit comes
            // every 200,000 records (the default batch) or sooner (1 s, 1,000 findings).
            let commits = (events as f64 / 200_000.0).ceil();
            let mean_ser = ser_sum / n.max(1) as f64;
            state_lines.push(format!(
                "{source}: stored state per detector after the run: {} states, {:.1} KB mean JSON, {:.0} µs to serialize; × {n} detectors × ≥ {commits} commits = {:.3} CPU-s, {:.2}% of the 1-core ingest's {:.2} CPU-s",
                n,
                sizes.iter().sum::<usize>() as f64 / n.max(1) as f64 / 1e3,
                mean_ser,
                mean_ser * n as f64 * commits / 1e6,
                mean_ser * n as f64 * commits / 1e6 / default_cpu_1.max(1e-9) * 100.0,
                default_cpu_1
            ));
            let (bytes, ser, de) =
                if source == "flow" { state_cost(&saturated_flow_state(400_000)) } else { state_cost(&saturated_dns_state(400_000)) };
            let chunk_cpu_s = 200_000.0 / (events as f64 / default_cpu_1.max(1e-9));
            state_lines.push(format!(
                "{source}: state at its bounds (400k synthetic records): {:.1} MB JSON, {:.0} µs to serialize, {:.0} µs to parse; per commit of a 200,000-record batch ({:.0} ms of ingest CPU here) that is {:.0}%",
                bytes as f64 / 1e6,
                ser,
                de,
                chunk_cpu_s * 1e3,
                ser / 1e6 / chunk_cpu_s * 100.0
            ));
            results[source]["state"] = json!({"storedStates": n, "storedMeanBytes": sizes.iter().sum::<usize>() / n.max(1), "storedSerializeUs": mean_ser, "saturatedBytes": bytes, "saturatedSerializeUs": ser, "saturatedDeserializeUs": de});
        }
    }

    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    results["loadavgAfter"] = json!(load_after.trim());
    println!();
    println!("| source | | cores | events | events/s | MB/s | ÷ floor | events/CPU-s | ÷ floor (CPU) | peak RSS |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let eps = r.events as f64 / r.seconds;
        let cpu_eps = r.events as f64 / r.cpu_seconds.max(1e-9);
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {} |",
            r.source,
            r.name,
            r.cores,
            r.events,
            eps,
            r.mb / r.seconds,
            eps / r.floor_eps,
            cpu_eps,
            cpu_eps / r.floor_cpu_eps,
            r.peak_rss_kib.map_or("-".into(), |k| format!("{} MiB", k / 1024))
        );
    }
    println!();
    for l in &sanity {
        println!("{l}");
    }
    println!();
    for l in &state_lines {
        println!("{l}");
    }
    println!("load average before: {}; after: {}", load.trim(), load_after.trim());
    std::fs::write(args.work.join("flow-dns-results.json"), serde_json::to_string_pretty(&results).unwrap()).unwrap();
}
