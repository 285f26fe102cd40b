//! The floor any CloudTrail ingester pays: read each `.json.gz` object, gunzip it (flate2 with
//! the zlib-rs backend, as the workspace uses) and parse every record into a borrowed typed struct
//! of the fields the detectors read (sonic-rs). Nothing else: no detection, no store.
//!
//! `--parser plain` is the floor proper: the fields of `vedette_domain::cloudtrail::CloudTrailRecord`
//! as plain borrowed serde types. `--parser domain` parses into Vedette's own tolerant record type
//! (same fields, but every string accepts numbers/objects/null), to show what tolerance costs.
//!
//! Prints one JSON line: events, bytes, seconds, and derived rates.
use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use clap::Parser;
use flate2::read::MultiGzDecoder;
use sonic_rs::LazyValue;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long, value_enum, default_value_t = Parser_::Plain)]
    parser: Parser_,
    /// Files or directories (walked for *.json.gz / *.json).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Parser_ {
    Plain,
    Domain,
}

/// A string borrowed from the input when it has no escapes (serde's own `Cow<str>` impl always
/// copies, and `&str` fails on escapes); missing or `null` reads as empty.
#[allow(dead_code)] // Read through black_box only.
#[derive(Default)]
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Str<'a>, E> {
                Ok(Str::default())
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// Mirrors `vedette_domain::cloudtrail::CloudTrailRecord`: the same members, plain types.
#[allow(dead_code)] // Fields are read through black_box only: parsing them is the point.
#[derive(serde::Deserialize)]
struct Record<'a> {
    #[serde(rename = "eventTime", borrow, default)]
    event_time: Str<'a>,
    #[serde(rename = "eventSource", borrow, default)]
    event_source: Str<'a>,
    #[serde(rename = "eventName", borrow, default)]
    event_name: Str<'a>,
    #[serde(rename = "awsRegion", borrow, default)]
    aws_region: Str<'a>,
    #[serde(rename = "sourceIPAddress", borrow, default)]
    source_ip_address: Str<'a>,
    #[serde(rename = "userAgent", borrow, default)]
    user_agent: Str<'a>,
    #[serde(rename = "errorCode", borrow, default)]
    error_code: Str<'a>,
    #[serde(rename = "eventID", borrow, default)]
    event_id: Str<'a>,
    #[serde(rename = "eventType", borrow, default)]
    event_type: Str<'a>,
    #[serde(rename = "eventCategory", borrow, default)]
    event_category: Str<'a>,
    #[serde(rename = "managementEvent", default)]
    management_event: Option<bool>,
    #[serde(rename = "recipientAccountId", borrow, default)]
    recipient_account_id: Str<'a>,
    #[serde(rename = "userIdentity", borrow, default)]
    user_identity: Option<UserIdentity<'a>>,
    #[serde(rename = "requestParameters", borrow, default)]
    request_parameters: Option<LazyValue<'a>>,
    #[serde(rename = "responseElements", borrow, default)]
    response_elements: Option<LazyValue<'a>>,
}

#[allow(dead_code)]
#[derive(serde::Deserialize)]
struct UserIdentity<'a> {
    #[serde(rename = "type", borrow, default)]
    identity_type: Str<'a>,
    #[serde(rename = "principalId", borrow, default)]
    principal_id: Str<'a>,
    #[serde(rename = "arn", borrow, default)]
    arn: Str<'a>,
    #[serde(rename = "accountId", borrow, default)]
    account_id: Str<'a>,
    #[serde(rename = "accessKeyId", borrow, default)]
    access_key_id: Str<'a>,
    #[serde(rename = "userName", borrow, default)]
    user_name: Str<'a>,
    #[serde(rename = "invokedBy", borrow, default)]
    invoked_by: Str<'a>,
    #[serde(rename = "sessionContext", borrow, default)]
    session_context: Option<SessionContext<'a>>,
}

#[allow(dead_code)]
#[derive(serde::Deserialize)]
struct SessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow, default)]
    session_issuer: Option<SessionIssuer<'a>>,
}

#[allow(dead_code)]
#[derive(serde::Deserialize)]
struct SessionIssuer<'a> {
    #[serde(rename = "userName", borrow, default)]
    user_name: Str<'a>,
}

#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<Record<'a>>,
}

#[derive(serde::Deserialize)]
struct DomainEnvelope<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<vedette_domain::cloudtrail::CloudTrailRecord<'a>>,
}

fn main() {
    let args = Args::parse();
    let files = vedette_bench::log_files(&args.paths);
    let next = AtomicUsize::new(0);
    let events = AtomicU64::new(0);
    let raw_bytes = AtomicU64::new(0);
    let gz_bytes = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.threads.max(1) {
            scope.spawn(|| {
                let mut json = Vec::with_capacity(16 << 20);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let compressed = std::fs::read(path).expect("read object");
                    json.clear();
                    if path.extension().is_some_and(|e| e == "gz") {
                        MultiGzDecoder::new(&compressed[..]).read_to_end(&mut json).expect("gunzip");
                    } else {
                        json.extend_from_slice(&compressed);
                    }
                    let n = match args.parser {
                        Parser_::Plain => {
                            let env: Envelope = sonic_rs::from_slice(&json).expect("CloudTrail envelope");
                            std::hint::black_box(&env.records);
                            env.records.len()
                        }
                        Parser_::Domain => {
                            let env: DomainEnvelope = sonic_rs::from_slice(&json).expect("CloudTrail envelope");
                            std::hint::black_box(&env.records);
                            env.records.len()
                        }
                    };
                    events.fetch_add(n as u64, Ordering::Relaxed);
                    raw_bytes.fetch_add(json.len() as u64, Ordering::Relaxed);
                    gz_bytes.fetch_add(compressed.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let events = events.into_inner();
    let raw = raw_bytes.into_inner();
    println!(
        "{}",
        serde_json::json!({
            "files": files.len(),
            "threads": args.threads,
            "events": events,
            "uncompressedBytes": raw,
            "compressedBytes": gz_bytes.into_inner(),
            "seconds": secs,
            "eventsPerSec": events as f64 / secs,
            "uncompressedMBPerSec": raw as f64 / 1e6 / secs,
            "peakRssKiB": vedette_bench::own_peak_rss_kib(),
        })
    );
}
