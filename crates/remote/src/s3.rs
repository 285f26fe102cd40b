//! S3 requests to the configured endpoint, SigV4-signed (service `s3`).
use std::time::SystemTime;

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::http::{self, Response};
use crate::location::HttpUrl;
use crate::{RemoteError, S3Endpoint};

/// S3's URI encoding of a key: everything but unreserved characters and `/`.
const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// One request to the endpoint: `bucket` alone (HeadBucket) or `bucket/key`.
struct S3Request<'a> {
    method: &'static str,
    bucket: &'a str,
    key: Option<&'a str>,
    body: Bytes,
    /// Signed along with `host` and the `x-amz-*` headers the signer adds.
    headers: Vec<(&'a str, &'a str)>,
}

#[derive(Debug, Clone)]
pub(crate) struct S3Target {
    endpoint: S3Endpoint,
    url: HttpUrl,
    /// The endpoint's path without a trailing `/` ("" for none).
    base_path: String,
}

impl S3Target {
    pub(crate) fn new(endpoint: &S3Endpoint) -> Result<S3Target, RemoteError> {
        let bad = |why: &str| RemoteError::Config(format!("S3 endpoint '{}' {why}", endpoint.endpoint));
        let url = HttpUrl::parse(&endpoint.endpoint).map_err(|_| bad("is not an http:// URL"))?;
        if url.https {
            return Err(bad("uses https://, which this build cannot speak (no TLS); use an http:// endpoint"));
        }
        if url.path_and_query.contains('?') {
            return Err(bad("has a query string"));
        }
        if !endpoint.path_style && (url.host.parse::<std::net::IpAddr>().is_ok() || url.host == "localhost") {
            return Err(bad("is an address: virtual-hosted buckets need a DNS name (use path-style)"));
        }
        if endpoint.region.is_empty() || endpoint.access_key_id.is_empty() || endpoint.secret_access_key.is_empty() {
            return Err(bad("needs a Region, an access key id and a secret access key"));
        }
        let base_path = url.path_and_query.trim_end_matches('/').to_string();
        Ok(S3Target { endpoint: endpoint.clone(), url, base_path })
    }

    /// (host to connect to, `Host` header, path) for `bucket[/key]`.
    fn address(&self, bucket: &str, key: Option<&str>) -> (String, String, String) {
        let encoded_key = key.map(|k| utf8_percent_encode(k, KEY_ENCODE).to_string());
        if self.endpoint.path_style {
            let path = match encoded_key {
                Some(k) => format!("{}/{bucket}/{k}", self.base_path),
                None => format!("{}/{bucket}", self.base_path),
            };
            (self.url.host.clone(), self.url.authority(), path)
        } else {
            let host = format!("{bucket}.{}", self.url.host);
            let authority = if self.url.explicit_port { format!("{host}:{}", self.url.port) } else { host.clone() };
            let path = format!("{}/{}", self.base_path, encoded_key.unwrap_or_default());
            (host, authority, path)
        }
    }

    async fn send(&self, request: S3Request<'_>, max_bytes: u64, what: &str) -> Result<Response, RemoteError> {
        let S3Request { method, bucket, key, body, headers } = request;
        let (host, authority, path) = self.address(bucket, key);
        let mut builder = Request::builder().method(method).uri(&path).header("host", &authority);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .body(Full::new(body.clone()))
            .map_err(|e| RemoteError::InvalidLocation(format!("the S3 request for {what} cannot be built: {e}")))?;
        self.sign(&mut request, &authority, &body)?;
        http::send(&host, self.url.port, request, max_bytes, what).await
    }

    fn sign(&self, request: &mut Request<Full<Bytes>>, authority: &str, body: &[u8]) -> Result<(), RemoteError> {
        let failed = |e: &dyn std::fmt::Display| RemoteError::Io(format!("signing the S3 request failed: {e}"));
        let identity =
            aws_credential_types::Credentials::new(&self.endpoint.access_key_id, &self.endpoint.secret_access_key, None, None, "vedette").into();
        let mut settings = SigningSettings::default();
        // S3 signs the path as sent (already encoded once) and wants the payload hash header.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.endpoint.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| failed(&e))?
            .into();
        let url = format!("http://{authority}{}", request.uri());
        let headers: Vec<(String, String)> =
            request.headers().iter().filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))).collect();
        let signable =
            SignableRequest::new(request.method().as_str(), &url, headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), SignableBody::Bytes(body))
                .map_err(|e| failed(&e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| failed(&e))?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }

    pub(crate) async fn get_object(&self, bucket: &str, key: &str, max_bytes: u64, what: &str) -> Result<Vec<u8>, RemoteError> {
        let request = S3Request { method: "GET", bucket, key: Some(key), body: Bytes::new(), headers: Vec::new() };
        let response = self.send(request, max_bytes, what).await?;
        match response.status {
            200 => Ok(response.body),
            status => Err(status_error(what, status, &response.body)),
        }
    }

    pub(crate) async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        content_encoding: Option<&str>,
        what: &str,
    ) -> Result<(), RemoteError> {
        let length = body.len().to_string();
        let mut headers = vec![("content-type", content_type), ("content-length", length.as_str())];
        if let Some(encoding) = content_encoding {
            headers.push(("content-encoding", encoding));
        }
        let request = S3Request { method: "PUT", bucket, key: Some(key), body, headers };
        let response = self.send(request, 0, what).await?;
        match response.status {
            200..=299 => Ok(()),
            status => Err(status_error(what, status, &response.body)),
        }
    }

    pub(crate) async fn head_bucket(&self, bucket: &str, what: &str) -> Result<(), RemoteError> {
        let request = S3Request { method: "HEAD", bucket, key: None, body: Bytes::new(), headers: Vec::new() };
        let response = self.send(request, 0, what).await?;
        match response.status {
            200..=299 => Ok(()),
            status => Err(status_error(what, status, &response.body)),
        }
    }
}

/// 404 → NotFound; anything else → Status with S3's `<Code>` when the body has one.
fn status_error(what: &str, status: u16, body: &[u8]) -> RemoteError {
    if status == 404 {
        return RemoteError::NotFound(what.to_string());
    }
    RemoteError::Status { what: what.to_string(), status, code: error_code(body) }
}

/// S3's error code (`<Code>NoSuchKey</Code>`): a short identifier, never other body text.
fn error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    let code = &text[start..start + len];
    (!code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')).then(|| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str, path_style: bool) -> S3Endpoint {
        S3Endpoint { endpoint: url.into(), region: "us-east-1".into(), access_key_id: "AKID".into(), secret_access_key: "secret".into(), path_style }
    }

    #[test]
    fn path_style_and_virtual_hosted_addresses() {
        let t = S3Target::new(&endpoint("http://127.0.0.1:9000", true)).unwrap();
        assert_eq!(t.address("b", Some("dir/a b+c.txt")), ("127.0.0.1".into(), "127.0.0.1:9000".into(), "/b/dir/a%20b%2Bc.txt".into()));
        assert_eq!(t.address("b", None).2, "/b");
        let t = S3Target::new(&endpoint("http://s3.internal:9000/base/", false)).unwrap();
        assert_eq!(t.address("b", Some("k")), ("b.s3.internal".into(), "b.s3.internal:9000".into(), "/base/k".into()));
    }

    #[test]
    fn unusable_endpoints_are_config_errors() {
        for (url, path_style) in [("https://s3.amazonaws.com", true), ("ftp://x", true), ("http://127.0.0.1:9000", false), ("http://h/?x=1", true)] {
            assert!(matches!(S3Target::new(&endpoint(url, path_style)), Err(RemoteError::Config(_))), "{url}");
        }
    }

    #[test]
    fn error_codes_only() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>secret stuff</Message></Error>";
        assert_eq!(error_code(body).as_deref(), Some("NoSuchBucket"));
        assert_eq!(error_code(b"<Code>has spaces in it</Code>"), None);
        let err = status_error("s3://b/k", 403, b"<Error><Code>AccessDenied</Code><Message>x</Message></Error>");
        assert_eq!(err.to_string(), "s3://b/k answered HTTP 403 (AccessDenied)");
    }
}
