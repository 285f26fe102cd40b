//! Creates an enabled detector for every account x Region given, through the store API, in a
//! (fresh) data directory: ingest routes records only to enabled detectors.
use std::path::PathBuf;

use clap::Parser;
use vedette_domain::{DetectorConfig, Scope};
use vedette_store::{SqliteStore, Store};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long, value_delimiter = ',', required = true)]
    accounts: Vec<String>,
    #[arg(long, value_delimiter = ',', required = true)]
    regions: Vec<String>,
}

fn main() {
    let args = Args::parse();
    let store = SqliteStore::open(&args.data_dir).expect("open store");
    for account in &args.accounts {
        for region in &args.regions {
            let scope = Scope::new(account.as_str(), region.as_str());
            if store.detector_for(&scope).expect("detector lookup").is_none() {
                store.create_detector(&scope, DetectorConfig::default(), Default::default(), None).expect("create detector");
            }
        }
    }
}
