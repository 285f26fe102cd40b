//! Reading files from the locations GuardDuty lists name (`s3://`, the `amazonaws.com` URL forms,
//! `http(s)://`, and Vedette's `file://`), under the operator's policy, and the two S3 writes
//! publishing destinations need.
//!
//! # Policy ([`RemoteConfig`])
//! * `file://` only inside one of `intel_dirs` (paths are canonicalised: `..` and symlinks
//!   that leave the directories are refused);
//! * `http(s)://` only to `allowed_hosts` entries: `host` allows that host on any port,
//!   `host:port` (`[v6]:port`) only that port;
//! * S3 forms only when an S3-compatible endpoint is configured ([`S3Endpoint`]); requests are
//!   SigV4-signed (service `s3`) with the endpoint's credentials.
//!
//! Anything else is refused with an error for which [`RemoteError::is_rejected_location`] holds
//! (the API answers those with 400 at CreateIPSet time). Transfers are bounded in size (checked
//! while streaming) and time. No error message ever carries the content of a file or response.
//!
//! **No TLS**: this build has no TLS stack, so `https://` URLs (and an `https://` S3 endpoint)
//! are refused with [`RemoteError::Unsupported`]. Put a TLS-terminating proxy on an allowed
//! host, or use an `http://` S3-compatible endpoint on a trusted network.
//!
//! # API (stable; publishing destinations use the S3 part)
//! ```ignore
//! let remote = Remote::new(config)?;                       // validates and canonicalises the config
//! let location = Location::parse("s3://bucket/key")?;     // every GuardDuty form
//! remote.check(&location)?;                                // policy only, no I/O beyond canonicalising
//! let bytes: Vec<u8> = remote.fetch(&location, MAX_LIST_BYTES).await?;
//! remote.s3_put_object("bucket", "key", body, "application/gzip", Some("gzip")).await?;
//! remote.s3_head_bucket("bucket").await?;                  // Ok if it exists and is reachable
//! ```
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;

mod http;
pub mod location;
mod s3;

pub use location::{HttpUrl, Location};

/// GuardDuty's list size limit (35 MB).
pub const MAX_LIST_BYTES: u64 = 35 * 1024 * 1024;
/// A whole request (connect, send, read the body) must finish within this.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Connecting alone must finish within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed by [`Remote::fetch`] for plain URLs (each target must be allowed too).
pub const MAX_REDIRECTS: usize = 5;

/// What the operator allows Vedette to read (and, for S3, write).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteConfig {
    /// Directories `file://` locations may point into.
    pub intel_dirs: Vec<PathBuf>,
    /// `host` or `host:port` entries for `http(s)://` locations.
    pub allowed_hosts: Vec<String>,
    /// The S3-compatible endpoint for S3 locations and publishing; None = S3 refused.
    pub s3: Option<S3Endpoint>,
}

/// An S3-compatible service (AWS S3 through a proxy, MinIO, moto...).
#[derive(Clone, PartialEq, Eq)]
pub struct S3Endpoint {
    /// `http://127.0.0.1:9000` (an optional base path is kept).
    pub endpoint: String,
    /// Signing Region.
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `endpoint/bucket/key` when true; `bucket.endpoint-host/key` when false.
    pub path_style: bool,
}

impl std::fmt::Debug for S3Endpoint {
    // The secret never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Endpoint")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// Not a location we can parse (unknown scheme, malformed URL, bad bucket name...).
    #[error("{0}")]
    InvalidLocation(String),
    /// A well-formed location the operator's policy does not allow.
    #[error("{0}")]
    NotAllowed(String),
    /// A location this build cannot read (https without TLS).
    #[error("{0}")]
    Unsupported(String),
    /// The configuration itself is unusable (at [`Remote::new`]).
    #[error("{0}")]
    Config(String),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("{what} is larger than the {limit} byte limit")]
    TooLarge { what: String, limit: u64 },
    /// The server answered with an error status (`code`: S3's error code, when it gave one).
    #[error("{what} answered HTTP {status}{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Status { what: String, status: u16, code: Option<String> },
    #[error("{0} did not answer in time")]
    Timeout(String),
    /// Connection, protocol or file system failure.
    #[error("{0}")]
    Io(String),
}

impl RemoteError {
    /// True when the location is refused before any transfer: the API's 400 cases.
    pub fn is_rejected_location(&self) -> bool {
        matches!(self, RemoteError::InvalidLocation(_) | RemoteError::NotAllowed(_) | RemoteError::Unsupported(_))
    }

    /// The HTTP status behind a [`RemoteError::Status`] (404 for an S3 NotFound too).
    pub fn status(&self) -> Option<u16> {
        match self {
            RemoteError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The client. Cheap to clone; holds no connections (one connection per request: lists and
/// publishing are infrequent).
#[derive(Debug, Clone)]
pub struct Remote {
    config: RemoteConfig,
    /// `intel_dirs` canonicalised at construction.
    canonical_dirs: Vec<PathBuf>,
    s3: Option<s3::S3Target>,
    timeout: Duration,
}

impl Remote {
    /// Checks the configuration: every intel dir must exist (it is canonicalised now), allowed
    /// hosts must be `host` or `host:port`, the S3 endpoint an `http://` URL.
    pub fn new(config: RemoteConfig) -> Result<Remote, RemoteError> {
        let mut canonical_dirs = Vec::new();
        for dir in &config.intel_dirs {
            let canonical =
                std::fs::canonicalize(dir).map_err(|e| RemoteError::Config(format!("intel directory {} cannot be used: {e}", dir.display())))?;
            if !canonical.is_dir() {
                return Err(RemoteError::Config(format!("intel directory {} is not a directory", dir.display())));
            }
            canonical_dirs.push(canonical);
        }
        for host in &config.allowed_hosts {
            parse_allowed_host(host)?;
        }
        let s3 = config.s3.as_ref().map(s3::S3Target::new).transpose()?;
        Ok(Remote { config, canonical_dirs, s3, timeout: DEFAULT_TIMEOUT })
    }

    /// A client refusing every location (no intel dirs, no hosts, no S3).
    pub fn disabled() -> Remote {
        Remote { config: RemoteConfig::default(), canonical_dirs: Vec::new(), s3: None, timeout: DEFAULT_TIMEOUT }
    }

    /// Changes the per-request time limit (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Remote {
        self.timeout = timeout;
        self
    }

    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// Whether the policy allows `location`, without reading it. A `file://` path that does
    /// not exist yet passes when it lies lexically inside an intel dir (reading it later fails).
    pub fn check(&self, location: &Location) -> Result<(), RemoteError> {
        match location {
            Location::S3 { .. } => self.s3_target().map(|_| ()),
            Location::Http(url) => self.check_url(url),
            Location::File { path } => self.confine(path).map(|_| ()),
        }
    }

    /// Reads the whole file at `location` (at most `max_bytes`, else [`RemoteError::TooLarge`]).
    pub async fn fetch(&self, location: &Location, max_bytes: u64) -> Result<Vec<u8>, RemoteError> {
        match location {
            Location::S3 { bucket, key } => {
                let target = self.s3_target()?;
                let what = format!("s3://{bucket}/{key}");
                self.within_time(&what, target.get_object(bucket, key, max_bytes, &what)).await
            }
            Location::Http(url) => {
                let what = url.to_string();
                self.within_time(&what, self.fetch_url(url.clone(), max_bytes)).await
            }
            Location::File { path } => {
                let what = format!("file://{}", path.display());
                self.within_time(&what, self.read_file(path, max_bytes)).await
            }
        }
    }

    /// `PUT /bucket/key` on the S3 endpoint. `content_encoding` is sent as `Content-Encoding`
    /// when given. Errors: S3 not configured ([`RemoteError::NotAllowed`]), the endpoint's
    /// answer ([`RemoteError::Status`] with S3's error code, [`RemoteError::NotFound`] for a
    /// missing bucket), transport failures.
    pub async fn s3_put_object(
        &self,
        bucket: &str,
        key: &str,
        body: impl Into<Bytes>,
        content_type: &str,
        content_encoding: Option<&str>,
    ) -> Result<(), RemoteError> {
        let target = self.s3_target()?;
        let what = format!("s3://{bucket}/{key}");
        let body = body.into();
        self.within_time(&what, target.put_object(bucket, key, body, content_type, content_encoding, &what)).await
    }

    /// `HEAD /bucket`: Ok when the bucket exists and the credentials may use it;
    /// [`RemoteError::NotFound`] (404) or [`RemoteError::Status`] (403...) otherwise.
    pub async fn s3_head_bucket(&self, bucket: &str) -> Result<(), RemoteError> {
        let target = self.s3_target()?;
        let what = format!("s3://{bucket}");
        self.within_time(&what, target.head_bucket(bucket, &what)).await
    }

    async fn within_time<T>(&self, what: &str, work: impl std::future::Future<Output = Result<T, RemoteError>>) -> Result<T, RemoteError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(RemoteError::Timeout(what.to_string())),
        }
    }

    fn s3_target(&self) -> Result<&s3::S3Target, RemoteError> {
        self.s3.as_ref().ok_or_else(|| {
            RemoteError::NotAllowed("S3 locations are not available: this server has no S3 endpoint configured (--s3-endpoint)".into())
        })
    }

    fn check_url(&self, url: &HttpUrl) -> Result<(), RemoteError> {
        let allowed = self
            .config
            .allowed_hosts
            .iter()
            .filter_map(|h| parse_allowed_host(h).ok())
            .any(|(host, port)| host.eq_ignore_ascii_case(&url.host) && port.is_none_or(|p| p == url.port));
        if !allowed {
            return Err(RemoteError::NotAllowed(format!("the host {} is not allowed for list locations (--allow-host)", url.authority())));
        }
        if url.https {
            return Err(RemoteError::Unsupported(
                "https:// locations are not supported by this build (no TLS); use http:// through a proxy or an S3 location".into(),
            ));
        }
        Ok(())
    }

    async fn fetch_url(&self, mut url: HttpUrl, max_bytes: u64) -> Result<Vec<u8>, RemoteError> {
        for _ in 0..=MAX_REDIRECTS {
            self.check_url(&url)?;
            let what = url.to_string();
            let request = http::get_request(&url.authority(), &url.path_and_query)?;
            let response = http::send(&url.host, url.port, request, max_bytes, &what).await?;
            match response.status {
                200 => return Ok(response.body),
                301 | 302 | 303 | 307 | 308 => {
                    let target = response.location.ok_or_else(|| RemoteError::Io(format!("{what} redirected without a Location")))?;
                    url = if target.starts_with('/') { HttpUrl { path_and_query: target, ..url } } else { HttpUrl::parse(&target)? };
                }
                404 | 410 => return Err(RemoteError::NotFound(what)),
                status => {
                    return Err(RemoteError::Status { what, status, code: None });
                }
            }
        }
        Err(RemoteError::Io(format!("{url} redirected more than {MAX_REDIRECTS} times")))
    }

    /// The canonical path of `path` if the policy allows it (the path itself when it does
    /// not exist yet).
    fn confine(&self, path: &Path) -> Result<PathBuf, RemoteError> {
        let shown = || format!("file://{}", path.display());
        if self.canonical_dirs.is_empty() {
            return Err(RemoteError::NotAllowed(
                "file:// locations are not available: this server has no intel directory configured (--intel-dir)".into(),
            ));
        }
        if !path.is_absolute() {
            return Err(RemoteError::InvalidLocation(format!("{} is not an absolute path", shown())));
        }
        if path.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
            return Err(RemoteError::NotAllowed(format!("{} contains '..' or '.' components", shown())));
        }
        let inside = |p: &Path| self.canonical_dirs.iter().any(|dir| p.starts_with(dir) && p != dir);
        let outside = || RemoteError::NotAllowed(format!("{} is outside the intel directories (--intel-dir)", shown()));
        match std::fs::canonicalize(path) {
            Ok(canonical) => {
                // Symlinks are resolved: a link inside a directory pointing out of it is refused.
                if inside(&canonical) { Ok(canonical) } else { Err(outside()) }
            }
            Err(_) => {
                let lexically_inside = inside(path) || self.config.intel_dirs.iter().any(|dir| path.starts_with(dir) && path != dir.as_path());
                if lexically_inside { Ok(path.to_path_buf()) } else { Err(outside()) }
            }
        }
    }

    async fn read_file(&self, path: &Path, max_bytes: u64) -> Result<Vec<u8>, RemoteError> {
        use tokio::io::AsyncReadExt;
        let what = format!("file://{}", path.display());
        let canonical = self.confine(path)?;
        // Canonicalise again now that it must exist: the check above accepts missing files.
        let canonical = tokio::fs::canonicalize(&canonical).await.map_err(|_| RemoteError::NotFound(what.clone()))?;
        self.confine(&canonical)?;
        let file = tokio::fs::File::open(&canonical).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RemoteError::NotFound(what.clone()),
            _ => RemoteError::Io(format!("{what} cannot be read: {}", e.kind())),
        })?;
        let metadata = file.metadata().await.map_err(|e| RemoteError::Io(format!("{what}: {}", e.kind())))?;
        if !metadata.is_file() {
            return Err(RemoteError::Io(format!("{what} is not a regular file")));
        }
        if metadata.len() > max_bytes {
            return Err(RemoteError::TooLarge { what, limit: max_bytes });
        }
        let mut bytes = Vec::with_capacity(metadata.len() as usize);
        // The file may grow between stat and read: read one byte past the limit to notice.
        file.take(max_bytes + 1).read_to_end(&mut bytes).await.map_err(|e| RemoteError::Io(format!("{what} cannot be read: {}", e.kind())))?;
        if bytes.len() as u64 > max_bytes {
            return Err(RemoteError::TooLarge { what, limit: max_bytes });
        }
        Ok(bytes)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → (host, port).
fn parse_allowed_host(entry: &str) -> Result<(String, Option<u16>), RemoteError> {
    let bad = || RemoteError::Config(format!("allowed host '{entry}' is not HOST or HOST:PORT"));
    if entry.contains(['/', '@', ' ']) || entry.is_empty() {
        return Err(bad());
    }
    let (host, port) = if let Some(v6) = entry.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (host, port)
    } else if entry.matches(':').count() > 1 {
        (entry, None) // a bare IPv6 address
    } else {
        match entry.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (entry, None),
        }
    };
    let port = port.map(|p| p.parse::<u16>().map_err(|_| bad())).transpose()?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_host_entries() {
        assert_eq!(parse_allowed_host("Feeds.Example.com").unwrap(), ("feeds.example.com".into(), None));
        assert_eq!(parse_allowed_host("127.0.0.1:8080").unwrap(), ("127.0.0.1".into(), Some(8080)));
        assert_eq!(parse_allowed_host("[::1]:80").unwrap(), ("::1".into(), Some(80)));
        assert_eq!(parse_allowed_host("::1").unwrap(), ("::1".into(), None));
        for bad in ["", "http://x", "host:port", "a@b", "[::1"] {
            assert!(parse_allowed_host(bad).is_err(), "{bad}");
        }
    }

    fn remote(hosts: &[&str]) -> Remote {
        Remote::new(RemoteConfig { allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(), ..Default::default() }).unwrap()
    }

    fn url(text: &str) -> Location {
        Location::parse(text).unwrap()
    }

    #[test]
    fn hosts_are_matched_exactly_with_or_without_port() {
        let r = remote(&["feeds.example.com", "127.0.0.1:8080"]);
        assert!(r.check(&url("http://FEEDS.example.com:9999/x")).is_ok());
        assert!(r.check(&url("http://127.0.0.1:8080/x")).is_ok());
        for refused in ["http://127.0.0.1:8081/x", "http://127.0.0.1/x", "http://evil.feeds.example.com/x", "http://example.com/x"] {
            assert!(matches!(r.check(&url(refused)), Err(RemoteError::NotAllowed(_))), "{refused}");
        }
    }

    #[test]
    fn https_to_an_allowed_host_is_unsupported_and_to_others_not_allowed() {
        let r = remote(&["feeds.example.com"]);
        assert!(matches!(r.check(&url("https://feeds.example.com/x")), Err(RemoteError::Unsupported(_))));
        assert!(matches!(r.check(&url("https://other.example.com/x")), Err(RemoteError::NotAllowed(_))));
    }

    #[test]
    fn s3_needs_an_endpoint() {
        let err = remote(&[]).check(&url("s3://bucket/key")).unwrap_err();
        assert!(err.is_rejected_location() && err.to_string().contains("--s3-endpoint"), "{err}");
    }

    #[test]
    fn config_errors() {
        let missing = RemoteConfig { intel_dirs: vec!["/nonexistent/vedette-intel".into()], ..Default::default() };
        assert!(matches!(Remote::new(missing), Err(RemoteError::Config(_))));
        let bad_host = RemoteConfig { allowed_hosts: vec!["http://x".into()], ..Default::default() };
        assert!(matches!(Remote::new(bad_host), Err(RemoteError::Config(_))));
    }
}
