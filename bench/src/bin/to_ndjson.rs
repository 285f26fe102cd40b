//! Rewrites CloudTrail objects (`{"Records":[...]}`, gzipped or not) as uncompressed NDJSON, one
//! record per line, byte-for-byte as the record appears in the object: the input the peer
//! (rsigma `engine eval`) reads.
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;

use clap::Parser;
use flate2::read::MultiGzDecoder;
use sonic_rs::LazyValue;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    out: PathBuf,
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<LazyValue<'a>>,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args.out)?);
    let mut json = Vec::new();
    let mut n = 0u64;
    for path in vedette_bench::log_files(&args.paths) {
        json.clear();
        MultiGzDecoder::new(std::fs::File::open(&path)?).read_to_end(&mut json)?;
        let env: Envelope = sonic_rs::from_slice(&json).map_err(std::io::Error::other)?;
        for r in &env.records {
            out.write_all(r.as_raw_str().as_bytes())?;
            out.write_all(b"\n")?;
            n += 1;
        }
    }
    out.flush()?;
    eprintln!("{n} records -> {}", args.out.display());
    Ok(())
}
