//! List locations as GuardDuty accepts them (`location` of CreateIPSet / CreateThreatIntelSet).
use std::fmt;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::RemoteError;

/// Where a list file lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// An object in the configured S3-compatible endpoint (`s3://b/k` and the `amazonaws.com`
    /// URL forms). `key` is the object key as S3 stores it (URL forms are percent-decoded).
    S3 { bucket: String, key: String },
    /// Any other `http://` or `https://` URL.
    Http(HttpUrl),
    /// `file:///abs/path` (percent-decoded).
    File { path: PathBuf },
}

/// A parsed `http(s)://` URL (no user info; the fragment is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl {
    pub https: bool,
    /// Lower-case; an IPv6 literal without its brackets.
    pub host: String,
    /// The explicit port, or the scheme's default.
    pub port: u16,
    /// Whether the URL named the port.
    pub explicit_port: bool,
    /// `/path?query` as written (at least `/`).
    pub path_and_query: String,
}

impl HttpUrl {
    /// `host` or `[v6]`, with `:port` when the URL gave one (the `Host` header value).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.explicit_port { format!("{host}:{}", self.port) } else { host }
    }

    fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("/")
    }

    fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, q)| q)
    }

    /// Parses `http(s)://authority/path?query#fragment`.
    pub fn parse(text: &str) -> Result<HttpUrl, RemoteError> {
        let invalid = |why: &str| RemoteError::InvalidLocation(format!("the URL is not valid: {why}"));
        let (scheme, rest) = text.split_once("://").ok_or_else(|| invalid("no scheme"))?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(invalid("not http or https"));
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let split_at = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(split_at);
        if authority.contains('@') {
            return Err(invalid("user information in URLs is not accepted"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| invalid("unclosed IPv6 literal"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(invalid("bad IPv6 literal"));
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| invalid("bad port"))?),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let host_ok = host.contains(':') || host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !host_ok {
            return Err(invalid("bad host name"));
        }
        let (port, explicit_port) = match port {
            Some(p) => (p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| invalid("bad port"))?, true),
            None => (if https { 443 } else { 80 }, false),
        };
        let path_and_query = if path_and_query.is_empty() {
            "/".to_string()
        } else if path_and_query.starts_with('?') {
            format!("/{path_and_query}")
        } else {
            path_and_query.to_string()
        };
        if path_and_query.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(invalid("spaces or control characters in the path"));
        }
        Ok(HttpUrl { https, host: host.to_ascii_lowercase(), port, explicit_port, path_and_query })
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority(), self.path_and_query)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Location::Http(url) => url.fmt(f),
            Location::File { path } => write!(f, "file://{}", path.display()),
        }
    }
}

impl std::str::FromStr for Location {
    type Err = RemoteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Location::parse(s)
    }
}

impl Location {
    /// Parses every form GuardDuty documents (docs/threat-lists.md), plus `file://` and plain http(s) URLs.
    /// Errors are [`RemoteError::InvalidLocation`].
    pub fn parse(text: &str) -> Result<Location, RemoteError> {
        let text = text.trim();
        let scheme = text.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("s3") => parse_s3_uri(&text[5..]),
            Some("http") | Some("https") => {
                let url = HttpUrl::parse(text)?;
                Ok(s3_url_form(&url).unwrap_or(Location::Http(url)))
            }
            Some("file") => parse_file(&text[7..]),
            Some(other) => Err(RemoteError::InvalidLocation(format!(
                "the location scheme '{}' is not supported (use s3://, https://, http:// or file://)",
                truncate(other, 20)
            ))),
            None => Err(RemoteError::InvalidLocation("the location has no scheme (use s3://, https://, http:// or file://)".into())),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn parse_s3_uri(rest: &str) -> Result<Location, RemoteError> {
    let (bucket, key) = rest.split_once('/').ok_or_else(|| RemoteError::InvalidLocation("an s3:// location needs a bucket and a key".into()))?;
    s3_location(bucket, key.to_string())
}

fn s3_location(bucket: &str, key: String) -> Result<Location, RemoteError> {
    if !is_bucket_name(bucket) {
        return Err(RemoteError::InvalidLocation("the S3 bucket name is not valid".into()));
    }
    if key.is_empty() {
        return Err(RemoteError::InvalidLocation("the S3 location names no object key".into()));
    }
    Ok(Location::S3 { bucket: bucket.to_string(), key })
}

/// S3's naming rules, leniently (legacy buckets may have upper case and underscores).
fn is_bucket_name(bucket: &str) -> bool {
    (3..=255).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !bucket.starts_with(['.', '-'])
}

/// The `amazonaws.com` URL forms of an S3 object: path style (`s3.amazonaws.com/b/k`,
/// `s3-<region>.amazonaws.com/b/k`, `s3.<region>.amazonaws.com/b/k`) and virtual-hosted style
/// (`b.s3.amazonaws.com/k`, `b.s3-<region>...`, `b.s3.<region>...`). A URL with a query (a
/// presigned URL, say) is fetched as a plain URL instead.
fn s3_url_form(url: &HttpUrl) -> Option<Location> {
    if url.query().is_some() {
        return None;
    }
    let base = url.host.strip_suffix(".amazonaws.com").or_else(|| url.host.strip_suffix(".amazonaws.com.cn"))?;
    let labels: Vec<&str> = base.split('.').collect();
    let s3_at = labels.iter().rposition(|l| *l == "s3" || l.starts_with("s3-"))?;
    // After the `s3` label only a Region (optionally `dualstack.<region>`) may follow.
    let tail = &labels[s3_at + 1..];
    let region_like = |l: &&str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if tail.len() > 2 || !tail.iter().all(region_like) {
        return None;
    }
    let path = url.path().strip_prefix('/').unwrap_or(url.path());
    let decode = |s: &str| percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned());
    if s3_at == 0 {
        let (bucket, key) = path.split_once('/')?;
        s3_location(bucket, decode(key)?).ok()
    } else {
        let bucket = labels[..s3_at].join(".");
        s3_location(&bucket, decode(path)?).ok()
    }
}

fn parse_file(rest: &str) -> Result<Location, RemoteError> {
    // `file:///abs` (empty host) or `file://localhost/abs`.
    let path = if rest.starts_with('/') {
        rest
    } else if rest.len() >= 9 && rest[..9].eq_ignore_ascii_case("localhost") && rest[9..].starts_with('/') {
        &rest[9..]
    } else {
        return Err(RemoteError::InvalidLocation("a file:// location must be an absolute path on this server (file:///path/to/list)".into()));
    };
    let decoded =
        percent_decode_str(path).decode_utf8().map_err(|_| RemoteError::InvalidLocation("the file path is not valid UTF-8 once decoded".into()))?;
    if decoded.contains('\0') {
        return Err(RemoteError::InvalidLocation("the file path contains a NUL byte".into()));
    }
    Ok(Location::File { path: PathBuf::from(decoded.into_owned()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, key: &str) -> Location {
        Location::S3 { bucket: bucket.into(), key: key.into() }
    }

    #[test]
    fn every_guardduty_s3_form_names_bucket_and_key() {
        let cases = [
            "s3://my-bucket/lists/threats.txt",
            "https://s3.amazonaws.com/my-bucket/lists/threats.txt",
            "https://s3-us-west-2.amazonaws.com/my-bucket/lists/threats.txt",
            "https://s3.us-west-2.amazonaws.com/my-bucket/lists/threats.txt",
            "https://my-bucket.s3.amazonaws.com/lists/threats.txt",
            "http://my-bucket.s3.amazonaws.com/lists/threats.txt",
            "http://my-bucket.s3-us-west-2.amazonaws.com/lists/threats.txt",
            "https://my-bucket.s3.eu-central-1.amazonaws.com/lists/threats.txt",
            "https://my-bucket.s3.dualstack.eu-central-1.amazonaws.com/lists/threats.txt",
            "HTTPS://S3.AMAZONAWS.COM/my-bucket/lists/threats.txt",
        ];
        for case in cases {
            assert_eq!(Location::parse(case).unwrap(), s3("my-bucket", "lists/threats.txt"), "{case}");
        }
    }

    #[test]
    fn dotted_buckets_and_encoded_keys() {
        assert_eq!(Location::parse("https://my.dotted.bucket.s3-eu-west-1.amazonaws.com/a%20b/c.txt").unwrap(), s3("my.dotted.bucket", "a b/c.txt"));
        // s3:// keys are taken as written (the aws CLI does not encode them).
        assert_eq!(Location::parse("s3://b-1/a%20b").unwrap(), s3("b-1", "a%20b"));
    }

    #[test]
    fn s3_forms_without_a_key_or_with_a_bad_bucket_are_invalid() {
        for case in ["s3://bucket", "s3://bucket/", "s3:///key", "s3://b/key", "s3://bad bucket/k"] {
            assert!(matches!(Location::parse(case), Err(RemoteError::InvalidLocation(_))), "{case}");
        }
    }

    #[test]
    fn other_urls_are_plain_http() {
        let Location::Http(url) = Location::parse("http://127.0.0.1:8080/feeds/tor.txt?x=1#frag").unwrap() else { panic!("http") };
        assert_eq!((url.host.as_str(), url.port, url.path_and_query.as_str()), ("127.0.0.1", 8080, "/feeds/tor.txt?x=1"));
        assert_eq!(url.to_string(), "http://127.0.0.1:8080/feeds/tor.txt?x=1");
        let Location::Http(url) = Location::parse("https://Feeds.Example.com").unwrap() else { panic!("https") };
        assert_eq!((url.https, url.host.as_str(), url.port, url.path_and_query.as_str()), (true, "feeds.example.com", 443, "/"));
        let Location::Http(url) = Location::parse("http://[::1]:9000/x").unwrap() else { panic!("v6") };
        assert_eq!((url.host.as_str(), url.authority()), ("::1", "[::1]:9000".to_string()));
        // Not an S3 host, and a presigned S3 URL: fetched as written.
        assert!(matches!(Location::parse("https://ec2.amazonaws.com/b/k").unwrap(), Location::Http(_)));
        assert!(matches!(Location::parse("https://b.s3.amazonaws.com/k?X-Amz-Signature=abc").unwrap(), Location::Http(_)));
    }

    #[test]
    fn malformed_urls_are_invalid() {
        for case in
            ["http://user:pw@host/x", "http:///x", "http://host:99999/x", "http://host:0/x", "http://ho st/x", "http://[::1/x", "http://host/a b"]
        {
            assert!(matches!(Location::parse(case), Err(RemoteError::InvalidLocation(_))), "{case}");
        }
    }

    #[test]
    fn file_locations_are_absolute_paths() {
        assert_eq!(Location::parse("file:///srv/intel/a%20list.txt").unwrap(), Location::File { path: "/srv/intel/a list.txt".into() });
        assert_eq!(Location::parse("file://localhost/srv/x").unwrap(), Location::File { path: "/srv/x".into() });
        for case in ["file://relative/x", "file://otherhost/x", "file:///x%00y"] {
            assert!(matches!(Location::parse(case), Err(RemoteError::InvalidLocation(_))), "{case}");
        }
    }

    #[test]
    fn unknown_schemes_and_bare_paths_are_refused() {
        for case in ["ftp://host/x", "gopher://x", "/etc/passwd", "bucket/key", ""] {
            let err = Location::parse(case).unwrap_err();
            assert!(matches!(err, RemoteError::InvalidLocation(_)), "{case}");
        }
    }
}
