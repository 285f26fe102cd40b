//! Where `--export` sends events: a JSON-lines file, standard output, an HTTP webhook, an
//! S3-compatible bucket. A sink delivers a batch of envelopes in order and says how many of them
//! it delivered; the pump acknowledges exactly those.
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use vedette_remote::{HttpUrl, Remote};

/// A webhook request (connect, send, answer) must finish within this.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const USER_AGENT: &str = concat!("vedette/", env!("CARGO_PKG_VERSION"));

/// A `--export` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// `stdout`
    Stdout,
    /// `file:PATH` (made absolute against the working directory)
    File(PathBuf),
    /// `webhook:http://host[:port]/path`
    Webhook(HttpUrl),
    /// `s3://bucket[/prefix]`
    S3 { bucket: String, prefix: String },
}

impl SinkSpec {
    pub fn parse(text: &str) -> Result<SinkSpec, String> {
        if text == "stdout" || text == "-" {
            return Ok(SinkSpec::Stdout);
        }
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err("file: needs a path (file:/var/log/vedette/findings.jsonl)".into());
            }
            let path = PathBuf::from(path);
            let path = if path.is_absolute() {
                path
            } else {
                std::env::current_dir().map_err(|e| format!("cannot resolve {}: {e}", path.display()))?.join(path)
            };
            return Ok(SinkSpec::File(path));
        }
        if let Some(url) = text.strip_prefix("webhook:") {
            let url = HttpUrl::parse(url).map_err(|e| format!("webhook: {e}"))?;
            if url.https {
                return Err("webhook: https is not available (this build has no TLS stack); use http:// to a \
                            trusted host or a TLS-terminating proxy"
                    .into());
            }
            return Ok(SinkSpec::Webhook(url));
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if !valid_bucket(bucket) {
                return Err(format!("s3://: {bucket:?} is not a bucket name (3-63 of a-z 0-9 . -)"));
            }
            return Ok(SinkSpec::S3 { bucket: bucket.to_string(), prefix: prefix.trim_matches('/').to_string() });
        }
        Err(format!("unknown export sink {text:?}: expected stdout, file:PATH, webhook:http://HOST[:PORT]/PATH or s3://BUCKET[/PREFIX]"))
    }

    /// The outbox consumer name: stable across restarts for the same flag value.
    pub fn consumer_name(&self) -> String {
        format!("sink:{self}")
    }

    /// The `sink` label of metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkSpec::Stdout => "stdout",
            SinkSpec::File(_) => "file",
            SinkSpec::Webhook(_) => "webhook",
            SinkSpec::S3 { .. } => "s3",
        }
    }
}

impl fmt::Display for SinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkSpec::Stdout => write!(f, "stdout"),
            SinkSpec::File(path) => write!(f, "file:{}", path.display()),
            SinkSpec::Webhook(url) => write!(f, "webhook:http://{}{}", url.authority(), url.path_and_query),
            SinkSpec::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            SinkSpec::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

/// One event ready to go: its envelope and where it lands in S3.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub seq: i64,
    pub account_id: String,
    pub region: String,
    /// The envelope, one line of JSON without the newline.
    pub line: String,
}

/// How a delivery went: the first `delivered` events are delivered; `error` says why the rest
/// (if any) were not.
#[derive(Debug, Default)]
pub struct Delivery {
    pub delivered: usize,
    pub error: Option<String>,
}

impl Delivery {
    fn all(n: usize) -> Self {
        Delivery { delivered: n, error: None }
    }
    fn none(error: String) -> Self {
        Delivery { delivered: 0, error: Some(error) }
    }
}

/// A configured sink with what it keeps between batches.
pub enum Sink {
    Stdout,
    File(PathBuf),
    Webhook(Webhook),
    S3 { remote: Arc<Remote>, bucket: String, prefix: String, consumer: String },
}

impl Sink {
    /// `remote` is needed by `s3://` sinks only (the configured S3-compatible endpoint).
    pub fn new(spec: &SinkSpec, remote: Option<Arc<Remote>>) -> Result<Sink, String> {
        Ok(match spec {
            SinkSpec::Stdout => Sink::Stdout,
            SinkSpec::File(path) => Sink::File(path.clone()),
            SinkSpec::Webhook(url) => Sink::Webhook(Webhook { url: url.clone(), connection: None }),
            SinkSpec::S3 { bucket, prefix } => {
                let remote = remote
                    .filter(|r| r.config().s3.is_some())
                    .ok_or_else(|| format!("--export {spec} needs an S3-compatible endpoint (--s3-endpoint and its credentials)"))?;
                Sink::S3 { remote, bucket: bucket.clone(), prefix: prefix.clone(), consumer: spec.consumer_name() }
            }
        })
    }

    pub async fn deliver(&mut self, events: &[Outgoing]) -> Delivery {
        if events.is_empty() {
            return Delivery::default();
        }
        match self {
            Sink::Stdout => {
                let mut out = tokio::io::stdout();
                match async {
                    out.write_all(&lines(events)).await?;
                    out.flush().await
                }
                .await
                {
                    Ok(()) => Delivery::all(events.len()),
                    Err(e) => Delivery::none(format!("cannot write to standard output: {e}")),
                }
            }
            Sink::File(path) => {
                let path = path.clone();
                let data = lines(events);
                let n = events.len();
                // Opened per batch (in append mode) so that a rotated file is followed; synced
                // before the batch is acknowledged.
                let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
                    file.write_all(&data)?;
                    file.sync_data()
                })
                .await;
                match written {
                    Ok(Ok(())) => Delivery::all(n),
                    Ok(Err(e)) => Delivery::none(format!("cannot append to the file: {e}")),
                    Err(e) => Delivery::none(format!("file writer failed: {e}")),
                }
            }
            Sink::Webhook(hook) => hook.deliver(events).await,
            Sink::S3 { remote, bucket, prefix, consumer } => {
                // One object per account and Region in the batch (GuardDuty's key layout); a
                // retried batch writes the same keys (named after its outbox positions) again.
                let mut groups: Vec<(&str, &str, Vec<&Outgoing>)> = Vec::new();
                for e in events {
                    match groups.iter_mut().find(|(a, r, _)| *a == e.account_id && *r == e.region) {
                        Some((_, _, group)) => group.push(e),
                        None => groups.push((&e.account_id, &e.region, vec![e])),
                    }
                }
                let day = chrono::Utc::now().format("%Y/%m/%d").to_string();
                let first = events[0].seq;
                let last = events[events.len() - 1].seq;
                for (account, region, group) in groups {
                    let body = match gzip_lines(group.iter().map(|e| e.line.as_str())) {
                        Ok(body) => body,
                        Err(e) => return Delivery::none(format!("cannot compress: {e}")),
                    };
                    let name = object_name(consumer, first, last, account, region);
                    let key = s3_key(prefix, account, region, &day, &name);
                    if let Err(e) = remote.s3_put_object(bucket, &key, body, "application/gzip", None).await {
                        return Delivery::none(e.to_string());
                    }
                }
                Delivery::all(events.len())
            }
        }
    }
}

fn lines(events: &[Outgoing]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.iter().map(|e| e.line.len() + 1).sum());
    for e in events {
        out.extend_from_slice(e.line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Gzipped JSON lines.
pub fn gzip_lines<'a>(lines: impl Iterator<Item = &'a str>) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    for line in lines {
        gz.write_all(line.as_bytes())?;
        gz.write_all(b"\n")?;
    }
    gz.finish()
}

/// `<prefix>/AWSLogs/<account>/GuardDuty/<region>/<yyyy>/<mm>/<dd>/<name>` (GuardDuty's export
/// layout).
pub fn s3_key(prefix: &str, account: &str, region: &str, day: &str, name: &str) -> String {
    let path = format!("AWSLogs/{account}/GuardDuty/{region}/{day}/{name}");
    if prefix.is_empty() { path } else { format!("{prefix}/{path}") }
}

/// A UUID-shaped object name from the batch's identity, `.jsonl.gz`.
fn object_name(consumer: &str, first: i64, last: i64, account: &str, region: &str) -> String {
    let digest = Sha256::digest(format!("{consumer}\0{first}\0{last}\0{account}\0{region}").as_bytes());
    let h = hex::encode(&digest[..16]);
    format!("{}-{}-{}-{}-{}.jsonl.gz", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// An HTTP/1.1 webhook: one POST per event (the body is the envelope, as EventBridge API
/// destinations send it), on a kept-alive connection re-opened after any failure.
pub struct Webhook {
    url: HttpUrl,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl Webhook {
    async fn deliver(&mut self, events: &[Outgoing]) -> Delivery {
        for (i, event) in events.iter().enumerate() {
            let result = tokio::time::timeout(WEBHOOK_TIMEOUT, self.post(event.line.clone())).await;
            let error = match result {
                Ok(Ok(status)) if (200..300).contains(&status) => continue,
                Ok(Ok(status)) => format!("the receiver answered HTTP {status}"),
                Ok(Err(e)) => e,
                Err(_) => format!("no answer within {} s", WEBHOOK_TIMEOUT.as_secs()),
            };
            // The connection's state is unknown after a failure: start afresh next time.
            self.connection = None;
            return Delivery { delivered: i, error: Some(error) };
        }
        Delivery::all(events.len())
    }

    async fn post(&mut self, body: String) -> Result<u16, String> {
        if self.connection.as_ref().is_none_or(|c| c.is_closed()) {
            self.connection = Some(self.connect().await?);
        }
        let sender = self.connection.as_mut().expect("just connected");
        sender.ready().await.map_err(|e| format!("connection lost: {e}"))?;
        let request = hyper::Request::builder()
            .method("POST")
            .uri(&self.url.path_and_query)
            .header("host", self.url.authority())
            .header("user-agent", USER_AGENT)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("the request cannot be built: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("request failed: {e}"))?;
        let status = response.status().as_u16();
        // Read (and drop) the answer so that the connection can carry the next request.
        response.into_body().collect().await.map_err(|e| format!("reading the answer failed: {e}"))?;
        Ok(status)
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::net::TcpStream::connect((self.url.host.as_str(), self.url.port))
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.url.authority()))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {} failed: {e}", self.url.authority()))?;
        // Ends when the connection closes (or the sender is dropped).
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_name_their_consumer() {
        assert_eq!(SinkSpec::parse("stdout").unwrap(), SinkSpec::Stdout);
        assert_eq!(SinkSpec::parse("file:/tmp/x.jsonl").unwrap(), SinkSpec::File("/tmp/x.jsonl".into()));
        assert!(matches!(SinkSpec::parse("file:rel.jsonl").unwrap(), SinkSpec::File(p) if p.is_absolute()));
        let hook = SinkSpec::parse("webhook:http://127.0.0.1:9000/events?x=1").unwrap();
        assert_eq!(hook.consumer_name(), "sink:webhook:http://127.0.0.1:9000/events?x=1");
        assert_eq!(hook.kind(), "webhook");
        assert_eq!(
            SinkSpec::parse("s3://my-bucket/some/prefix/").unwrap(),
            SinkSpec::S3 { bucket: "my-bucket".into(), prefix: "some/prefix".into() }
        );
        assert_eq!(SinkSpec::parse("s3://my-bucket").unwrap().to_string(), "s3://my-bucket");
        for bad in ["", "file:", "webhook:https://example.com/", "webhook:ftp://x", "s3://A_B", "s3://", "kafka:x"] {
            assert!(SinkSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn s3_keys_follow_guardduty_s_layout() {
        assert_eq!(
            s3_key("p/q", "111122223333", "us-east-1", "2024/05/01", "n.jsonl.gz"),
            "p/q/AWSLogs/111122223333/GuardDuty/us-east-1/2024/05/01/n.jsonl.gz"
        );
        assert_eq!(s3_key("", "1", "r", "d", "n"), "AWSLogs/1/GuardDuty/r/d/n");
        let a = object_name("sink:s3://b", 1, 9, "1", "r");
        assert_eq!(a, object_name("sink:s3://b", 1, 9, "1", "r"));
        assert_ne!(a, object_name("sink:s3://b", 1, 10, "1", "r"));
        assert!(a.ends_with(".jsonl.gz") && a.len() == 36 + 9);
    }
}
