//! Activates threat lists (ThreatIntelSets) in the detector of every account x Region given,
//! through the store API, as the list API's worker would after reading and parsing the files:
//! the "ingest with lists" rows of the ingest benchmark. List i holds the same deterministic
//! entries in every detector (an organisation loads the same files everywhere), unless
//! `--distinct` gives each detector its own.
use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use sha2::{Digest, Sha256};
use vedette_bench::Rng;
use vedette_domain::Scope;
use vedette_store::lists::{ListOutcome, NewList, Snapshot};
use vedette_store::{ListKind, ListStore, SqliteStore, Store};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long, value_delimiter = ',', required = true)]
    accounts: Vec<String>,
    #[arg(long, value_delimiter = ',', required = true)]
    regions: Vec<String>,
    /// Threat lists per detector (GuardDuty's quota is 6).
    #[arg(long, default_value_t = 6)]
    lists: usize,
    /// Entries per list (GuardDuty's quota is 250,000).
    #[arg(long, default_value_t = 250_000)]
    entries: usize,
    /// Different entries in every detector (no set shared between detectors).
    #[arg(long)]
    distinct: bool,
}

/// `count` public IPv4 entries, 1 in 100 a /24, outside the first octets the corpus generator
/// gives its callers: lists are looked up for every call and match almost none, as in real
/// deployments. List 0 also holds 185.220.0.0/16, where the generator puts its Kali/Parrot/Pentoo
/// callers (0.55% of the records), so that some calls raise `.Custom` findings.
fn entries(seed: u64, list_index: usize, count: usize) -> Vec<String> {
    const CORPUS_FIRST_OCTETS: [u64; 10] = [3, 18, 34, 52, 54, 81, 91, 109, 185, 198];
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(count);
    if list_index == 0 && count > 0 {
        out.push("185.220.0.0/16".to_owned());
    }
    while out.len() < count {
        let first = rng.range(11, 223);
        if CORPUS_FIRST_OCTETS.contains(&first) || vedette_domain::intel::non_public_range([first as u8, 1, 1, 1].into()).is_some() {
            continue;
        }
        let (b, c) = (rng.below(256), rng.below(256));
        out.push(if rng.chance(0.01) { format!("{first}.{b}.{c}.0/24") } else { format!("{first}.{b}.{c}.{}/32", rng.range(1, 254)) });
    }
    out
}

fn main() {
    let args = Args::parse();
    let store = SqliteStore::open(&args.data_dir).expect("open store");
    let mut shared: Vec<Vec<String>> = Vec::new();
    let mut detector_index = 0u64;
    for account in &args.accounts {
        for region in &args.regions {
            let scope = Scope::new(account.as_str(), region.as_str());
            let detector = store.detector_for(&scope).expect("detector lookup").expect("create_detectors first");
            for i in 0..args.lists {
                let list = if args.distinct {
                    entries(20_241_125 + detector_index * 100 + i as u64, i, args.entries)
                } else {
                    if shared.len() <= i {
                        shared.push(entries(20_241_125 + i as u64, i, args.entries));
                    }
                    shared[i].clone()
                };
                let file = list.join("\n");
                let new = NewList {
                    kind: ListKind::Threat,
                    name: format!("bench-threats-{i}"),
                    format: "TXT".into(),
                    location: format!("file:///bench/threats-{i}.txt"),
                    activate: true,
                    tags: BTreeMap::new(),
                    client_token: None,
                    expected_bucket_owner: None,
                };
                let record = store.create_list(&scope, &detector.id, new).expect("create list");
                let snapshot = Snapshot {
                    file_sha256: hex::encode(Sha256::digest(file.as_bytes())),
                    entries: list,
                    bad_lines: 0,
                    location: record.location.clone(),
                    activated_at_ms: vedette_domain::time::now_ms(),
                };
                let settled = store.settle_list(&record.list_id, record.generation, ListOutcome::Activated(snapshot)).expect("activate list");
                assert!(settled, "list {} not activated", record.list_id);
            }
            detector_index += 1;
        }
    }
}
