//! Local check of the store's query plans and in-process latencies on a seeded data dir (see
//! `bench/src/bin/seed_findings.rs`). Not a test and not the benchmark (that is `bench/`): it
//! prints SQLite's plan for each typical ListFindings query and p50/p99 over repeated calls.
//!
//! `cargo run --release -p vedette-store --example store_plans -- DATA_DIR PARAMS_JSON`
use std::time::{Duration, Instant};

use vedette_domain::attributes;
use vedette_domain::criteria::{AttrValue, Criteria, Criterion, Sort, Test};
use vedette_store::{SqliteStore, Store};

fn criterion(path: &str, tests: Vec<Test>) -> Criterion {
    Criterion { attribute: attributes::lookup(path).expect("known attribute"), tests }
}

fn sort(path: &str, descending: bool) -> Sort {
    Sort { attribute: attributes::lookup(path).expect("known attribute"), descending }
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    format!("p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms", ms(at(0.5)), ms(at(0.99)), ms(at(1.0)))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let store = SqliteStore::open(args[1].as_ref()).expect("open");
    let params: serde_json::Value = serde_json::from_slice(&std::fs::read(&args[2]).expect("params")).expect("json");
    let detector = params["detectorId"].as_str().unwrap().to_string();
    let type_query = params["typeQuery"].as_str().unwrap().to_string();
    let week_ago = params["weekAgoMs"].as_f64().unwrap();
    let ids: Vec<String> = params["findingIds"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let runs: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(200);

    let high = || criterion("severity", vec![Test::Gte(7.0)]);
    let of_type = || criterion("type", vec![Test::Equals(vec![AttrValue::Str(type_query.clone())])]);
    let active = || criterion("service.archived", vec![Test::Equals(vec![AttrValue::Bool(false)])]);
    let last_week = || criterion("updatedAt", vec![Test::Gte(week_ago)]);
    let queries: Vec<(&str, Criteria, Sort)> = vec![
        ("all, updatedAt desc", Criteria::default(), sort("updatedAt", true)),
        ("all, updatedAt asc", Criteria::default(), sort("updatedAt", false)),
        ("all, severity desc", Criteria::default(), sort("severity", true)),
        ("all, severity asc", Criteria::default(), sort("severity", false)),
        ("severity>=7, severity desc", Criteria { criteria: vec![high()] }, sort("severity", true)),
        ("type=X, updatedAt desc", Criteria { criteria: vec![of_type()] }, sort("updatedAt", true)),
        ("type=X, severity desc", Criteria { criteria: vec![of_type()] }, sort("severity", true)),
        ("active, week, updatedAt desc", Criteria { criteria: vec![active(), last_week()] }, sort("updatedAt", true)),
        ("sev>=7, active, week, severity desc", Criteria { criteria: vec![high(), active(), last_week()] }, sort("severity", true)),
        ("sev>=7, active, week, updatedAt desc", Criteria { criteria: vec![high(), active(), last_week()] }, sort("updatedAt", true)),
        ("type=X, active, sev>=7, updatedAt desc", Criteria { criteria: vec![of_type(), active(), high()] }, sort("updatedAt", true)),
        (
            "errorCode=AccessDenied, updatedAt desc",
            Criteria {
                criteria: vec![criterion(
                    "service.action.awsApiCallAction.errorCode",
                    vec![Test::Equals(vec![AttrValue::Str("AccessDenied".into())])],
                )],
            },
            sort("updatedAt", true),
        ),
        (
            "userName=admin-299, updatedAt desc",
            Criteria {
                criteria: vec![criterion("resource.accessKeyDetails.userName", vec![Test::Equals(vec![AttrValue::Str("admin-299".into())])])],
            },
            sort("updatedAt", true),
        ),
        (
            "active, no errorCode, updatedAt desc",
            Criteria {
                criteria: vec![
                    active(),
                    criterion("service.action.awsApiCallAction.errorCode", vec![Test::NotEquals(vec![AttrValue::Str("AccessDenied".into())])]),
                ],
            },
            sort("updatedAt", true),
        ),
        (
            "errorCode=AccessDenied, severity desc",
            Criteria {
                criteria: vec![criterion(
                    "service.action.awsApiCallAction.errorCode",
                    vec![Test::Equals(vec![AttrValue::Str("AccessDenied".into())])],
                )],
            },
            sort("severity", true),
        ),
        (
            "api=ListUsers (side), active, updatedAt desc",
            Criteria {
                criteria: vec![
                    criterion("service.action.awsApiCallAction.api", vec![Test::Equals(vec![AttrValue::Str("ListUsers".into())])]),
                    active(),
                ],
            },
            sort("updatedAt", true),
        ),
        (
            "country=Russia (side), sev>=7, severity desc",
            Criteria {
                criteria: vec![
                    criterion(
                        "service.action.awsApiCallAction.remoteIpDetails.country.countryName",
                        vec![Test::Equals(vec![AttrValue::Str("Russia".into())])],
                    ),
                    high(),
                ],
            },
            sort("severity", true),
        ),
        ("all, count desc (unindexed column)", Criteria::default(), sort("service.count", true)),
        ("all, userName asc (side table sort)", Criteria::default(), sort("resource.accessKeyDetails.userName", false)),
    ];

    let only = std::env::var("ONLY").ok();
    for (name, criteria, sort) in &queries {
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        println!("== {name}");
        for plan in store.explain_list_findings(&detector, criteria, sort, 50, None).unwrap() {
            println!("{plan}");
        }
        // First page, then walking 10 pages deep with tokens.
        let mut first = Vec::new();
        let mut deep = Vec::new();
        let started = Instant::now();
        for i in 0..runs {
            let t = Instant::now();
            let page = store.list_findings(&detector, criteria, sort, 50, None).unwrap();
            first.push(t.elapsed());
            if i < 20 {
                let mut token = page.next_token;
                for _ in 0..10 {
                    let Some(tok) = token else { break };
                    let t = Instant::now();
                    let next = store.list_findings(&detector, criteria, sort, 50, Some(&tok)).unwrap();
                    deep.push(t.elapsed());
                    token = next.next_token;
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                break;
            }
        }
        println!("  first page: {}  ({} runs)", percentiles(first), runs);
        if !deep.is_empty() {
            println!("  next pages: {}", percentiles(deep));
        }
    }

    println!("== GetFindings, 50 ids");
    let mut samples = Vec::new();
    for i in 0..runs {
        let batch: Vec<String> = ids.iter().cycle().skip(i * 50 % ids.len().max(1)).take(50).cloned().collect();
        let t = Instant::now();
        let found = store.get_findings(&detector, &batch, None).unwrap();
        samples.push(t.elapsed());
        assert_eq!(found.len(), batch.len());
    }
    println!("  {}", percentiles(samples));

    if args.get(4).map(String::as_str) == Some("merge") {
        // Repeats of stored findings, as ingest applies them: one batch of distinct ids.
        let batch_ids: Vec<String> = ids.iter().take(10_000).cloned().collect();
        let stored = store.get_findings(&detector, &batch_ids, None).unwrap();
        let occurrences: Vec<vedette_domain::Occurrence> = stored
            .into_iter()
            .map(|mut f| {
                let now = vedette_domain::time::now_ms();
                f.service.as_mut().unwrap().event_last_seen = Some(vedette_domain::time::iso_ms(now));
                f.service.as_mut().unwrap().count = Some(1);
                vedette_domain::Occurrence { detector_id: detector.clone(), finding: f, event_time_ms: now, evidence: Default::default() }
            })
            .collect();
        let t = Instant::now();
        let stats = store.commit(&vedette_store::Commit::occurrences(&occurrences)).unwrap();
        println!("== apply: {} merges in {:.0} ms ({:.0}/s)", stats.updated, ms(t.elapsed()), stats.updated as f64 / t.elapsed().as_secs_f64());
    }

    if args.get(4).map(String::as_str) == Some("ingest") {
        // As CloudTrail ingest produces them: batches of 5,000 occurrences that repeat ~400 distinct
        // findings (half already stored, half new), event times moving forward.
        let templates = store.get_findings(&detector, &ids.iter().take(200).cloned().collect::<Vec<_>>(), None).unwrap();
        let mut total = 0u64;
        let t = Instant::now();
        for batch in 0..20u64 {
            let occurrences: Vec<vedette_domain::Occurrence> = (0..5_000u64)
                .map(|i| {
                    let k = (i * 7919 + batch * 13) % 400;
                    let mut f = templates[(k % 200) as usize].clone();
                    if k >= 200 {
                        f.id = Some(format!("{:032x}", 0xfeed_0000_0000u64 + k));
                    }
                    let at = vedette_domain::time::now_ms() - 1_000_000 + (batch * 5_000 + i) as i64;
                    let service = f.service.as_mut().unwrap();
                    service.count = Some(1);
                    service.event_first_seen = Some(vedette_domain::time::iso_ms(at));
                    service.event_last_seen = Some(vedette_domain::time::iso_ms(at));
                    vedette_domain::Occurrence { detector_id: detector.clone(), finding: f, event_time_ms: at, evidence: Default::default() }
                })
                .collect();
            store.commit(&vedette_store::Commit::occurrences(&occurrences)).unwrap();
            total += occurrences.len() as u64;
        }
        println!("== apply, ingest-like: {total} occurrences in {:.0} ms ({:.0}/s)", ms(t.elapsed()), total as f64 / t.elapsed().as_secs_f64());
    }

    println!("== count_by_severity (all)");
    let t = Instant::now();
    let counts = store.count_by_severity(&detector, &Criteria::default()).unwrap();
    println!("  {:.1} ms, {} keys", ms(t.elapsed()), counts.len());
}
