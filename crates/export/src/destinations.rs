//! The publisher of publishing destinations: writes each detector's findings to its S3
//! destination as GuardDuty does, and keeps the destination's status truthful.
//!
//! * One outbox consumer per destination (`destination:<id>`, limited to its detector): new
//!   findings are handed out at once, updates at the detector's `findingPublishingFrequency`
//!   boundary, archived (and suppressed) findings never — the outbox does that timing.
//! * Each batch becomes one gzipped JSON-lines object (one finding per line, the GetFindings
//!   document with `service.additionalInfo` as the raw object, as GuardDuty's exports carry it)
//!   at `<prefix>/AWSLogs/<account>/GuardDuty/<region>/<yyyy>/<mm>/<dd>/<uuid>.jsonl.gz`
//!   (UTC date of the write). The batch is acknowledged only after S3 accepted the object:
//!   delivery is at-least-once across failures and restarts. The object name is derived from
//!   the destination and the batch's first and last outbox positions, so a batch retried
//!   unchanged overwrites its own object instead of duplicating it.
//! * Every write (and, while nothing is due, a periodic HEAD of the bucket) records the outcome:
//!   PUBLISHING after a success, UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY (with the time of
//!   the first failure) while the bucket is missing or refuses. Failing destinations are retried
//!   with exponential back-off; findings wait in the outbox meanwhile.
//! * A suspended detector's destinations are STOPPED: nothing is written, events wait.
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, TimeZone, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use vedette_domain::time;
use vedette_remote::{Remote, RemoteError};
use vedette_store::Store;
use vedette_store::destinations::{Destination, PublishingStatus, S3DestinationArn, consumer_name};
use vedette_store::export::OutboxEvent;

/// How often destinations are looked at when there is nothing to do.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);
/// Findings per object at most.
pub const DEFAULT_BATCH: usize = 500;
/// A destination that is fine is re-checked (HEAD) this often while it has nothing to write,
/// so a bucket deleted in a quiet period shows in the status.
pub const HEALTHY_RECHECK: Duration = Duration::from_secs(300);
/// Back-off after failures: 1 s, doubling, at most this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct PublisherConfig {
    pub poll: Duration,
    pub batch: usize,
    pub healthy_recheck: Duration,
    pub max_backoff: Duration,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        PublisherConfig { poll: DEFAULT_POLL, batch: DEFAULT_BATCH, healthy_recheck: HEALTHY_RECHECK, max_backoff: MAX_BACKOFF }
    }
}

/// Per-destination pacing, in memory only (a restart retries at once).
#[derive(Debug, Default)]
struct Pace {
    failures: u32,
    next_attempt: Option<Instant>,
    last_check: Option<Instant>,
}

pub struct DestinationPublisher {
    store: Arc<dyn Store>,
    remote: Remote,
    config: PublisherConfig,
    pace: HashMap<String, Pace>,
    /// Consumers registered by this process (registration is idempotent; this only saves calls).
    registered: HashSet<String>,
    /// The position each consumer was last acknowledged to by this process: an empty batch
    /// is acknowledged only when it moves the cursor (each ack is a durable write).
    acked: HashMap<String, i64>,
}

/// What went wrong with a destination, in words for the log (never a secret or a body).
#[derive(Debug)]
pub enum PublishError {
    /// The destination's bucket is missing, refuses, or cannot be reached: the status says so.
    Destination(String),
    /// The store failed: nothing is known about the destination.
    Store(String),
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::Destination(m) | PublishError::Store(m) => f.write_str(m),
        }
    }
}

impl DestinationPublisher {
    pub fn new(store: Arc<dyn Store>, remote: Remote, config: PublisherConfig) -> Self {
        DestinationPublisher { store, remote, config, pace: HashMap::new(), registered: HashSet::new(), acked: HashMap::new() }
    }

    /// Publishes until `stop` is cancelled. A round under way is abandoned then (an S3 endpoint
    /// that does not answer must not hold up a shutdown): what it wrote but did not acknowledge
    /// is written again after the next start, under the same object name.
    pub async fn run(mut self, stop: CancellationToken) {
        loop {
            let round = tokio::select! {
                round = self.round() => round,
                _ = stop.cancelled() => return,
            };
            let busy = match round {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(error = %e, "publishing destinations: round failed");
                    false
                }
            };
            if busy {
                // More may be waiting: go again at once, but let a stop in.
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::task::yield_now() => {}
                }
            } else {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(self.config.poll) => {}
                }
            }
        }
    }

    /// One pass over every destination. True when some destination wrote a full batch (more may
    /// be due).
    pub async fn round(&mut self) -> Result<bool, PublishError> {
        let destinations = self.blocking(|s| s.all_destinations()).await?;
        let live: HashSet<String> = destinations.iter().map(|d| d.id.clone()).collect();
        self.pace.retain(|id, _| live.contains(id));
        self.acked.retain(|name, _| name.strip_prefix("destination:").is_some_and(|id| live.contains(id)));
        let mut busy = false;
        for destination in destinations {
            if !destination.detector_enabled {
                continue;
            }
            match self.publish(&destination).await {
                Ok(full) => busy |= full,
                Err(PublishError::Destination(reason)) => {
                    tracing::warn!(destination = %destination.id, detector = %destination.detector_id, %reason, "publishing destination unavailable");
                }
                Err(PublishError::Store(error)) => {
                    // E.g. the destination or its detector was deleted meanwhile (its consumer went
                    // with it): forget what this process knew; the next round starts afresh.
                    tracing::warn!(destination = %destination.id, %error, "publishing destination skipped this round");
                    let consumer = consumer_name(&destination.id);
                    self.registered.remove(&consumer);
                    self.acked.remove(&consumer);
                }
            }
        }
        Ok(busy)
    }

    /// Writes what is due for one destination. Ok(true): a full batch went out.
    async fn publish(&mut self, d: &Destination) -> Result<bool, PublishError> {
        let now = Instant::now();
        let pace = self.pace.entry(d.id.clone()).or_default();
        if pace.next_attempt.is_some_and(|t| now < t) {
            return Ok(false);
        }
        let consumer = consumer_name(&d.id);
        if !self.registered.contains(&consumer) {
            let (name, detector) = (consumer.clone(), d.detector_id.clone());
            self.blocking(move |s| s.register_consumer(&name, Some(&detector))).await?;
            self.registered.insert(consumer.clone());
        }
        let Some(target) = S3DestinationArn::parse(&d.properties.destination_arn) else {
            // The API validates ARNs; a stored one that does not parse cannot be written to.
            self.record(d, Err(format!("{} is not an S3 bucket ARN", d.properties.destination_arn))).await?;
            return Err(PublishError::Destination("destination ARN is not an S3 bucket ARN".into()));
        };
        let (name, limit) = (consumer.clone(), self.config.batch);
        let batch = self.blocking(move |s| s.outbox_due(&name, time::now_ms(), limit)).await?;
        if batch.events.is_empty() {
            let pace = self.pace.entry(d.id.clone()).or_default();
            let due_check = match d.status {
                PublishingStatus::Publishing => pace.last_check.is_none_or(|t| now.duration_since(t) >= self.config.healthy_recheck),
                // Unverified or failing: check at every (paced) attempt, so recovery shows.
                PublishingStatus::PendingVerification | PublishingStatus::UnableToPublish => true,
            };
            if due_check {
                let outcome = self.remote.s3_head_bucket(&target.bucket).await.map_err(describe);
                self.record(d, outcome).await?;
            }
            // Moves the cursor past events left out (archived findings).
            if self.acked.get(&consumer).is_none_or(|&at| batch.ack_to > at) {
                self.ack(consumer, batch.ack_to).await?;
            }
            return Ok(false);
        }
        let full = batch.events.len() >= self.config.batch;
        let written = self.write_batch(d, &target, &batch.events).await;
        let ok = written.is_ok();
        self.record(d, written.map(|_| ())).await?;
        if !ok {
            return Err(PublishError::Destination(format!("writing to s3://{} failed", target.bucket)));
        }
        self.ack(consumer, batch.ack_to).await?;
        Ok(full)
    }

    async fn ack(&mut self, consumer: String, to: i64) -> Result<(), PublishError> {
        let name = consumer.clone();
        self.blocking(move |s| s.outbox_ack(&name, to)).await?;
        self.acked.insert(consumer, to);
        Ok(())
    }

    /// Writes the events as one object per account and Region (a detector has one of each; the
    /// grouping only guards the key layout). Returns the keys written.
    async fn write_batch(&self, d: &Destination, target: &S3DestinationArn, events: &[OutboxEvent]) -> Result<Vec<String>, String> {
        let mut groups: Vec<((&str, &str), Vec<&OutboxEvent>)> = Vec::new();
        for e in events {
            let key = (e.account_id.as_str(), e.region.as_str());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(e),
                None => groups.push((key, vec![e])),
            }
        }
        let date = utc_date(time::now_ms());
        let mut keys = Vec::new();
        for ((account, region), group) in groups {
            let body = encode_objects(group.iter().map(|e| e.body_json.as_str())).map_err(|e| format!("encoding findings: {e}"))?;
            let (first, last) = (group[0].seq, group[group.len() - 1].seq);
            let name = object_name(&d.id, d.generation, first, last);
            let key = target.object_key(account, region, date, &name);
            self.remote.s3_put_object(&target.bucket, &key, body, "application/gzip", None).await.map_err(describe)?;
            tracing::debug!(destination = %d.id, bucket = %target.bucket, %key, findings = group.len(), "findings published");
            keys.push(key);
        }
        Ok(keys)
    }

    /// Stores the outcome under the destination's generation and paces the next attempt.
    async fn record(&mut self, d: &Destination, outcome: Result<(), String>) -> Result<(), PublishError> {
        let pace = self.pace.entry(d.id.clone()).or_default();
        let now = Instant::now();
        pace.last_check = Some(now);
        let ok = outcome.is_ok();
        if ok {
            pace.failures = 0;
            pace.next_attempt = None;
        } else {
            pace.failures = pace.failures.saturating_add(1);
            let backoff = Duration::from_secs(1u64 << pace.failures.saturating_sub(1).min(16)).min(self.config.max_backoff);
            pace.next_attempt = Some(now + backoff);
        }
        if let Err(reason) = &outcome {
            if d.status != PublishingStatus::UnableToPublish {
                tracing::warn!(destination = %d.id, detector = %d.detector_id, %reason, "publishing destination: UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY");
            }
        } else if d.status != PublishingStatus::Publishing {
            tracing::info!(destination = %d.id, detector = %d.detector_id, "publishing destination: PUBLISHING");
        }
        let (id, generation) = (d.id.clone(), d.generation);
        self.blocking(move |s| s.record_publish_outcome(&id, generation, ok, time::now_ms())).await?;
        Ok(())
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&dyn Store) -> vedette_store::Result<T> + Send + 'static) -> Result<T, PublishError> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
            Ok(r) => r.map_err(|e| PublishError::Store(e.to_string())),
            Err(e) => Err(PublishError::Store(format!("store call panicked or was cancelled: {e}"))),
        }
    }
}

/// Checks a destination's bucket now (CreatePublishingDestination / Update): Ok when it exists
/// and the credentials may use it; otherwise why not.
pub async fn verify_bucket(remote: &Remote, destination_arn: &str) -> Result<(), String> {
    let target = S3DestinationArn::parse(destination_arn).ok_or_else(|| format!("{destination_arn} is not an S3 bucket ARN"))?;
    remote.s3_head_bucket(&target.bucket).await.map_err(describe)
}

fn describe(e: RemoteError) -> String {
    e.to_string()
}

/// `(year, month, day)` in UTC.
fn utc_date(epoch_ms: i64) -> (i32, u32, u32) {
    let t = Utc.timestamp_millis_opt(epoch_ms).single().unwrap_or_default();
    (t.year(), t.month(), t.day())
}

/// A UUID-shaped name (8-4-4-4-12 hex, RFC 9562 version 8 "custom") derived from the destination,
/// its generation and the batch's outbox positions: the same batch retried gets the same name.
pub fn object_name(destination_id: &str, generation: i64, first_seq: i64, last_seq: i64) -> String {
    let digest = Sha256::digest(format!("{destination_id}/{generation}/{first_seq}/{last_seq}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// One gzip member holding one exported finding per line.
pub fn encode_objects<'a>(bodies: impl Iterator<Item = &'a str>) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    for body in bodies {
        let line = crate::event::export_detail(body).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        gz.write_all(line.as_bytes())?;
        gz.write_all(b"\n")?;
    }
    gz.finish()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn objects_are_gzipped_json_lines_with_raw_additional_info() {
        let with_info = r#"{"id":"a","service":{"additionalInfo":{"value":"{\"sample\":true}","type":"default"},"count":1}}"#;
        let plain = r#"{"id":"b","service":{"count":2}}"#;
        let bytes = encode_objects([with_info, plain].into_iter()).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with('\n'));
        assert_eq!(lines[0]["service"]["additionalInfo"], serde_json::json!({"sample": true}));
        assert_eq!(lines[0]["service"]["count"], 1);
        assert_eq!(lines[1], serde_json::from_str::<serde_json::Value>(plain).unwrap());
    }

    #[test]
    fn object_names_are_uuid_shaped_and_stable_per_batch() {
        let a = object_name("d1", 1, 10, 20);
        assert_eq!(a, object_name("d1", 1, 10, 20));
        assert_ne!(a, object_name("d1", 1, 10, 21));
        assert_ne!(a, object_name("d1", 2, 10, 20));
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, vec![8, 4, 4, 4, 12]);
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!(&a[14..15], "8");
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_date(0), (1970, 1, 1));
        assert_eq!(utc_date(1_717_027_199_000), (2024, 5, 29));
        assert_eq!(utc_date(1_717_027_200_000), (2024, 5, 30));
    }
}
