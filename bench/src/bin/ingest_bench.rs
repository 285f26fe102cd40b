//! Runs the ingest benchmark end to end over a generated corpus and prints one table:
//! the baseline floor (gunzip + typed parse) on 1 and 2 cores, Vedette's full ingest (detection
//! and store writes included) on half and full data, on 1 and 2 cores, with peak RSS, and the peer
//! (rsigma `engine eval` over the 57 SigmaHQ CloudTrail rules, NDJSON input).
//!
//! Cores are pinned with `taskset` (Rust's available_parallelism honours the affinity mask, so a
//! program sizing its thread pool sees 1 or 2 cores). Peak RSS comes from `/usr/bin/time -v`.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use clap::Parser;
use serde_json::{Value, json};
use vedette_domain::Scope;
use vedette_domain::criteria::{Criteria, parse_sort};
use vedette_store::{SqliteStore, Store};

/// Per finding type in a data dir: (findings, occurrences = sum of service.count, findings
/// whose latest occurrence failed = carry errorCode). Checks the ingest did the work.
fn tally(dir: &Path, manifest: &Value) -> std::collections::BTreeMap<String, (u64, u64, u64)> {
    let store = SqliteStore::open(dir).expect("open ingested store");
    let sort = parse_sort(None).expect("default sort");
    let mut out = std::collections::BTreeMap::<String, (u64, u64, u64)>::new();
    for a in manifest["accounts"].as_array().unwrap() {
        for r in manifest["regions"].as_array().unwrap() {
            let Some(det) = store.detector_for(&Scope::new(a.as_str().unwrap(), r.as_str().unwrap())).unwrap() else { continue };
            let mut token: Option<String> = None;
            loop {
                let page = store.list_findings(&det.id, &Criteria::default(), &sort, 50, token.as_deref()).expect("list");
                for f in store.get_findings(&det.id, &page.items, None).expect("get") {
                    let e = out.entry(f.r#type.clone().unwrap_or_default()).or_default();
                    let svc = f.service.as_ref();
                    e.0 += 1;
                    e.1 += svc.and_then(|s| s.count).unwrap_or(0) as u64;
                    if svc.and_then(|s| s.action.as_ref()).and_then(|a| a.aws_api_call_action.as_ref()).is_some_and(|c| c.error_code.is_some()) {
                        e.2 += 1;
                    }
                }
                match page.next_token {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
    }
    out
}

#[derive(Parser)]
struct Args {
    /// Where gen_cloudtrail wrote the corpus (cloudtrail/) and to_ndjson the NDJSON (records.ndjson).
    #[arg(long, default_value = "bench/data")]
    data: PathBuf,
    /// Scratch space: data dirs, logs, results JSON.
    #[arg(long, default_value = "bench/out")]
    work: PathBuf,
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    #[arg(long, default_value = "bench/.tools/bin/rsigma")]
    rsigma: PathBuf,
    /// The Sigma rules directory the peer evaluates (SigmaHQ's `rules/cloud/aws/cloudtrail`);
    /// without it the peer is skipped.
    #[arg(long, env = "SIGMA_RULES")]
    rules: Option<PathBuf>,
    /// Baseline runs per configuration (the fastest is kept: the floor).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    #[arg(long)]
    skip_vedette: bool,
    #[arg(long)]
    skip_rsigma: bool,
    /// The rsigma command line after `engine eval`, split on spaces; `{rules}` and `{input}`
    /// are substituted. Without `{input}` the NDJSON goes to stdin.
    #[arg(long, allow_hyphen_values = true, default_value = "--rules {rules}")]
    rsigma_args: String,
    /// Also ingest the full data with this many active threat lists in every detector (GuardDuty's quota:
    /// 6), on 1 and 2 cores, and compare with the runs without lists.
    #[arg(long, default_value_t = 0)]
    threat_lists: usize,
    /// Entries per threat list (GuardDuty's per-list quota: 250,000).
    #[arg(long, default_value_t = 250_000)]
    list_entries: usize,
    /// Different list files in every detector (default: the same files everywhere, shared).
    #[arg(long)]
    distinct_lists: bool,
}

struct Run {
    seconds: f64,
    /// User + system CPU time: robust to other load on the machine, unlike wall time.
    cpu_seconds: f64,
    peak_rss_kib: Option<u64>,
    stdout: String,
    stderr: String,
    ok: bool,
}

/// Runs `argv` pinned to `cpus` under /usr/bin/time -v; stdin from `stdin` if given.
fn run(cpus: &str, argv: &[String], stdin: Option<&Path>, time_file: &Path) -> Run {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-v").arg("-o").arg(time_file).arg("taskset").arg("-c").arg(cpus).args(argv);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(p) = stdin {
        cmd.stdin(std::fs::File::open(p).expect("stdin file"));
    }
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    let seconds = started.elapsed().as_secs_f64();
    let time = std::fs::read_to_string(time_file).unwrap_or_default();
    let peak_rss_kib = time.lines().find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): ")).and_then(|v| v.trim().parse().ok());
    let field = |name: &str| time.lines().find_map(|l| l.trim().strip_prefix(name)).and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(0.0);
    let cpu_seconds = field("User time (seconds): ") + field("System time (seconds): ");
    Run {
        seconds,
        cpu_seconds,
        peak_rss_kib,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ok: out.status.success(),
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The fastest of `repeat` baseline runs (the floor is what the machine can do at best).
fn baseline(args: &Args, cpus: &str, threads: usize, parser: &str, paths: &[String]) -> Value {
    let mut best: Option<Value> = None;
    for _ in 0..args.repeat.max(1) {
        let mut argv = vec![s(&args.bin_dir.join("ingest_baseline")), "--threads".into(), threads.to_string(), "--parser".into(), parser.into()];
        argv.extend(paths.iter().cloned());
        let r = run(cpus, &argv, None, &args.work.join("time-baseline.txt"));
        assert!(r.ok, "baseline failed: {}", r.stderr);
        let mut v: Value = serde_json::from_str(r.stdout.trim()).expect("baseline JSON");
        v["cpuSeconds"] = json!(r.cpu_seconds);
        if best.as_ref().is_none_or(|b| v["seconds"].as_f64() < b["seconds"].as_f64()) {
            best = Some(v);
        }
    }
    best.unwrap()
}

struct Row {
    name: String,
    cores: u32,
    events: u64,
    seconds: f64,
    cpu_seconds: f64,
    mb: f64,
    peak_rss_kib: Option<u64>,
    /// The floor row on the same cores, to divide by.
    floor_eps: Option<f64>,
    note: String,
}

fn main() {
    let args = Args::parse();
    std::fs::create_dir_all(&args.work).unwrap();
    let corpus = args.data.join("cloudtrail");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(corpus.join("manifest.json")).expect("corpus manifest (run gen_cloudtrail)")).unwrap();
    let files = vedette_bench::log_files(&[corpus.join("AWSLogs")]);
    // The AWSLogs tree only (manifest.json sits beside it).
    let full_paths = vec![s(&corpus.join("AWSLogs"))];
    // Half: the first of the corpus' two days, for every account and Region.
    let day1 = manifest["day1"].as_str().unwrap();
    let mut half_paths = Vec::new();
    for a in manifest["accounts"].as_array().unwrap() {
        for r in manifest["regions"].as_array().unwrap() {
            half_paths.push(s(&corpus.join(format!("AWSLogs/{}/CloudTrail/{}/{day1}", a.as_str().unwrap(), r.as_str().unwrap()))));
        }
    }
    // Warm the page cache so that every contender reads from memory.
    for f in &files {
        std::hint::black_box(std::fs::read(f).unwrap());
    }
    let ndjson = args.data.join("records.ndjson");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("load average before: {}", load.trim());

    let mut rows: Vec<Row> = Vec::new();
    let mut results = json!({"manifest": manifest, "loadavgBefore": load.trim()});

    eprintln!("baseline ...");
    let b1 = baseline(&args, "0", 1, "plain", &full_paths);
    let b2 = baseline(&args, "0,1", 2, "plain", &full_paths);
    let bd = baseline(&args, "0", 1, "domain", &full_paths);
    let bh = baseline(&args, "0", 1, "plain", &half_paths);
    let events = b1["events"].as_u64().unwrap();
    let mb = b1["uncompressedBytes"].as_u64().unwrap() as f64 / 1e6;
    let half_events = bh["events"].as_u64().unwrap();
    let half_mb = bh["uncompressedBytes"].as_u64().unwrap() as f64 / 1e6;
    let eps = |v: &Value| v["eventsPerSec"].as_f64().unwrap();
    let (floor1, floor2) = (eps(&b1), eps(&b2));
    for (name, v, cores, floor, note) in [
        ("baseline floor: gunzip + typed parse", &b1, 1, floor1, "sonic-rs, plain borrowed struct"),
        ("baseline floor: gunzip + typed parse", &b2, 2, floor2, "2 threads"),
        ("baseline, half data", &bh, 1, eps(&bh), "day 1 only"),
        ("gunzip + parse into Vedette's record type", &bd, 1, floor1, "domain::cloudtrail (tolerant)"),
    ] {
        rows.push(Row {
            name: name.into(),
            cores,
            events: v["events"].as_u64().unwrap(),
            seconds: v["seconds"].as_f64().unwrap(),
            cpu_seconds: v["cpuSeconds"].as_f64().unwrap(),
            mb: v["uncompressedBytes"].as_u64().unwrap() as f64 / 1e6,
            peak_rss_kib: v["peakRssKiB"].as_u64(),
            floor_eps: Some(floor),
            note: note.into(),
        });
    }
    results["baseline"] = json!({"full1": b1, "full2": b2, "domain1": bd, "half1": bh});

    if !args.skip_vedette {
        let mut configurations = vec![
            ("half", "0", 1, &half_paths, half_events, half_mb, eps(&bh)),
            ("full", "0", 1, &full_paths, events, mb, floor1),
            ("full", "0,1", 2, &full_paths, events, mb, floor2),
        ];
        if args.threat_lists > 0 {
            configurations.push(("lists", "0", 1, &full_paths, events, mb, floor1));
            configurations.push(("lists", "0,1", 2, &full_paths, events, mb, floor2));
        }
        for (label, cpus, cores, paths, n, size, floor) in configurations {
            eprintln!("vedette ingest, {label} data, {cores} core(s) ...");
            let dir = args.work.join(format!("vedette-{label}-{cores}"));
            let _ = std::fs::remove_dir_all(&dir);
            let mut mk = vec![s(&args.bin_dir.join("create_detectors")), "--data-dir".into(), s(&dir), "--accounts".into()];
            mk.push(manifest["accounts"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect::<Vec<_>>().join(","));
            mk.push("--regions".into());
            mk.push(manifest["regions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect::<Vec<_>>().join(","));
            let r = run("0,1", &mk, None, &args.work.join("time-mk.txt"));
            assert!(r.ok, "create_detectors failed: {}", r.stderr);
            if label == "lists" {
                // The same accounts and Regions: every detector gets the lists.
                let mut mk = mk.clone();
                mk[0] = s(&args.bin_dir.join("create_lists"));
                mk.extend(["--lists".into(), args.threat_lists.to_string(), "--entries".into(), args.list_entries.to_string()]);
                if args.distinct_lists {
                    mk.push("--distinct".into());
                }
                eprintln!("activating {} threat lists of {} entries in every detector ...", args.threat_lists, args.list_entries);
                let r = run("0,1", &mk, None, &args.work.join("time-lists.txt"));
                assert!(r.ok, "create_lists failed: {}", r.stderr);
            }
            // Worker threads = cores (the writer is one more thread), summary as JSON on stdout.
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
            argv.extend(paths.iter().cloned());
            let r = run(cpus, &argv, None, &args.work.join(format!("time-vedette-{label}-{cores}.txt")));
            std::fs::write(args.work.join(format!("vedette-{label}-{cores}.log")), format!("{}\n{}", r.stdout, r.stderr)).unwrap();
            let summary: String =
                format!("{}{}", r.stdout, r.stderr).lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            eprintln!("{summary}");
            let db_bytes: u64 = std::fs::read_dir(&dir).map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0);
            results[format!("vedette_{label}_{cores}")] = json!({"seconds": r.seconds, "cpuSeconds": r.cpu_seconds, "peakRssKiB": r.peak_rss_kib, "ok": r.ok, "events": n, "summary": summary, "dataDirBytes": db_bytes});
            let name = match label {
                "half" => "vedette ingest, half data".to_owned(),
                "lists" => format!(
                    "vedette ingest, {} x {}k{} lists",
                    args.threat_lists,
                    args.list_entries / 1000,
                    if args.distinct_lists { " distinct" } else { "" }
                ),
                _ => "vedette ingest".to_owned(),
            };
            rows.push(Row {
                name,
                cores,
                events: n,
                seconds: r.seconds,
                cpu_seconds: r.cpu_seconds,
                mb: size,
                peak_rss_kib: r.peak_rss_kib,
                floor_eps: Some(floor),
                note: if r.ok { format!("store {:.0} MB", db_bytes as f64 / 1e6) } else { "FAILED (see log)".into() },
            });
        }
    }

    let full_dir = args.work.join("vedette-full-1");
    if !args.skip_vedette && full_dir.exists() {
        println!();
        println!("Findings after the full ingest vs records the generator meant to raise them:");
        println!("(expected = records meant to raise the type, of which failed calls; findings with errorCode = latest occurrence failed)");
        println!("{:<46} {:>9} {:>12} {:>9} {:>7} {:>10}", "type", "findings", "occurrences", "expected", "failed", "errorCode");
        let t = tally(&full_dir, &manifest);
        let expected = manifest["expectedByType"].as_object().unwrap();
        let mut names: Vec<&String> = t.keys().chain(expected.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let (f, o, e) = t.get(name).copied().unwrap_or_default();
            let num = |key: &str| manifest[key].get(name.as_str()).and_then(|v| v.as_u64()).map_or("-".to_string(), |v| v.to_string());
            println!("{:<46} {:>9} {:>12} {:>9} {:>7} {:>10}", name, f, o, num("expectedByType"), num("expectedFailedByType"), e);
        }
        results["findingsByType"] = json!(t);
    }

    let rules = args.rules.as_deref().filter(|_| !args.skip_rsigma);
    if !args.skip_rsigma && rules.is_none() {
        eprintln!("no --rules (or SIGMA_RULES): the peer is skipped");
    }
    if let Some(rules) = rules.filter(|_| args.rsigma.exists()) {
        for (cpus, cores) in [("0", 1), ("0,1", 2)] {
            eprintln!("rsigma engine eval, {cores} core(s) ...");
            let mut argv = vec![s(&args.rsigma), "engine".into(), "eval".into()];
            argv.extend(args.rsigma_args.split_whitespace().map(|a| a.replace("{rules}", &s(rules)).replace("{input}", &s(&ndjson))));
            let uses_stdin = !args.rsigma_args.contains("{input}");
            let r = run(cpus, &argv, uses_stdin.then_some(ndjson.as_path()), &args.work.join(format!("time-rsigma-{cores}.txt")));
            let matches = r.stdout.lines().filter(|l| !l.trim().is_empty()).count();
            std::fs::write(args.work.join(format!("rsigma-{cores}.out")), &r.stdout).unwrap();
            std::fs::write(args.work.join(format!("rsigma-{cores}.err")), &r.stderr).unwrap();
            results[format!("rsigma_{cores}")] =
                json!({"seconds": r.seconds, "cpuSeconds": r.cpu_seconds, "peakRssKiB": r.peak_rss_kib, "ok": r.ok, "outputLines": matches});
            rows.push(Row {
                name: "rsigma engine eval (57 Sigma rules)".into(),
                cores,
                events,
                seconds: r.seconds,
                cpu_seconds: r.cpu_seconds,
                mb,
                peak_rss_kib: r.peak_rss_kib,
                floor_eps: Some(if cores == 1 { floor1 } else { floor2 }),
                note: if r.ok { format!("NDJSON; {matches} output lines") } else { format!("FAILED: {}", r.stderr.lines().last().unwrap_or("")) },
            });
        }
    }

    println!();
    println!(
        "Ingest benchmark: {} objects, {} events, {:.0} MB uncompressed ({:.0} MB gzip), {:.2}% expected to raise findings",
        files.len(),
        events,
        mb,
        manifest["compressedBytes"].as_f64().unwrap() / 1e6,
        100.0 * manifest["recordsExpectedToRaise"].as_f64().unwrap() / manifest["records"].as_f64().unwrap()
    );
    // events/CPU-s: events per second of CPU actually used (user + sys), which other load on
    // the machine barely moves; ÷ floor compares wall-clock rates on the same cores.
    let header = ["", "cores", "events", "events/s", "MB/s", "÷ floor", "ev/CPU-s", "÷ floor", "peak RSS", "note"];
    println!(
        "{:<44} {:>5} {:>9} {:>9} {:>8} {:>8} {:>10} {:>9} {:>9}  {}",
        header[0], header[1], header[2], header[3], header[4], header[5], header[6], header[7], header[8], header[9]
    );
    let floor_cpu = rows.first().map(|r| r.events as f64 / r.cpu_seconds).unwrap_or(f64::NAN);
    for r in &rows {
        let eps = r.events as f64 / r.seconds;
        let epc = r.events as f64 / r.cpu_seconds;
        println!(
            "{:<44} {:>5} {:>9} {:>9.0} {:>8.1} {:>8.2} {:>10.0} {:>9.2} {:>9}  {}",
            r.name,
            r.cores,
            r.events,
            eps,
            r.mb / r.seconds,
            r.floor_eps.map_or(f64::NAN, |f| eps / f),
            epc,
            epc / floor_cpu,
            r.peak_rss_kib.map_or("-".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0)),
            r.note
        );
    }
    let find = |name: &str, cores: u32| rows.iter().find(|r| r.name == name && r.cores == cores).map(|r| r.events as f64 / r.seconds);
    if let (Some(a), Some(b)) = (find("baseline floor: gunzip + typed parse", 1), find("baseline floor: gunzip + typed parse", 2)) {
        println!("speed-up 1 -> 2 cores: baseline x{:.2}", b / a);
    }
    if let (Some(a), Some(b)) = (find("vedette ingest", 1), find("vedette ingest", 2)) {
        println!("speed-up 1 -> 2 cores: vedette ingest x{:.2}", b / a);
    }
    for cores in [1, 2] {
        let with_lists = rows.iter().find(|r| r.name.starts_with("vedette ingest, ") && r.name.ends_with("lists") && r.cores == cores);
        let without = rows.iter().find(|r| r.name == "vedette ingest" && r.cores == cores);
        if let (Some(l), Some(w)) = (with_lists, without) {
            let ratio = (l.events as f64 / l.seconds) / (w.events as f64 / w.seconds);
            let cpu_ratio = (l.events as f64 / l.cpu_seconds) / (w.events as f64 / w.cpu_seconds);
            println!("with lists / without, {cores} core(s): events/s x{ratio:.3}, events/CPU-s x{cpu_ratio:.3}");
            results[format!("listsRatio_{cores}")] = json!({"eventsPerSec": ratio, "eventsPerCpuSec": cpu_ratio});
        }
    }
    if let (Some(v), Some(p)) = (find("vedette ingest", 1), find("rsigma engine eval (57 Sigma rules)", 1)) {
        println!("vedette ingest / rsigma, 1 core: x{:.2}", v / p);
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {} / after: {}", load.trim(), load_after.trim());
    results["loadavgAfter"] = json!(load_after.trim());
    std::fs::write(args.work.join("ingest-results.json"), serde_json::to_string_pretty(&results).unwrap()).unwrap();
}
