//! AWS Signature Version 4 for the load clients: a real signature (so they also work against
//! `--auth sigv4`), made by the `aws-sigv4` crate (the Rust SDK's signer, as `vedette-remote` uses
//! for S3) for service `guardduty`.
use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

/// Signs requests with one access key for one Region.
pub struct Signer {
    credentials: aws_credential_types::Credentials,
    region: String,
}

impl Signer {
    pub fn new(access_key_id: &str, secret_access_key: &str, region: &str) -> Signer {
        let credentials = aws_credential_types::Credentials::new(access_key_id, secret_access_key, None, None, "vedette-bench");
        Signer { credentials, region: region.to_string() }
    }

    /// Adds `x-amz-date` and `authorization` to `request` (which must carry its `host` header;
    /// `body` is its body). Every header already on it is signed, but for `user-agent`.
    pub fn sign(&self, request: &mut Request<Full<Bytes>>, body: &[u8]) -> Result<(), String> {
        self.sign_at(request, body, SystemTime::now())
    }

    fn sign_at(&self, request: &mut Request<Full<Bytes>>, body: &[u8], time: SystemTime) -> Result<(), String> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("guardduty")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("signing parameters: {e}"))?
            .into();
        let host = request.headers().get("host").and_then(|h| h.to_str().ok()).ok_or("the request has no host header")?;
        let url = format!("http://{host}{}", request.uri());
        let headers: Vec<(&str, &str)> = request.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))).collect();
        let signable = SignableRequest::new(request.method().as_str(), &url, headers.into_iter(), SignableBody::Bytes(body))
            .map_err(|e| format!("unsignable request: {e}"))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| format!("signing: {e}"))?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// AWS's documented example credentials.
    fn signer() -> Signer {
        Signer::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
    }

    fn signed(method: &str, uri: &str, body: &str) -> Request<Full<Bytes>> {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "127.0.0.1:8433")
            .header("user-agent", "vedette-bench/test")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        // 2024-03-01T10:00:00Z
        signer().sign_at(&mut request, body.as_bytes(), UNIX_EPOCH + Duration::from_secs(1_709_287_200)).unwrap();
        request
    }

    fn header<'a>(request: &'a Request<Full<Bytes>>, name: &str) -> &'a str {
        request.headers().get(name).unwrap().to_str().unwrap()
    }

    /// The signatures of the same requests computed independently (canonical request, string to
    /// sign and key chain of the SigV4 documentation, by hand): host and x-amz-date signed,
    /// user-agent not, the query canonicalised.
    #[test]
    fn signatures_match_an_independent_computation() {
        let post = signed("POST", "/detector/abc/findings/get", r#"{"findingIds":["x"]}"#);
        assert_eq!(header(&post, "x-amz-date"), "20240301T100000Z");
        assert_eq!(
            header(&post, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240301/us-east-1/guardduty/aws4_request, SignedHeaders=host;x-amz-date, \
             Signature=25bc19bbcddc8b9227ccf55cd0a564984b9abf43e9b7a416a2c914753238ffed"
        );
        let get = signed("GET", "/detector?nextToken=a%2Bb&maxResults=5", "");
        assert!(header(&get, "authorization").ends_with("Signature=541be74efd8b146338e5c61c2bb2ab4448f72ce5a024fc93c80bb74d621268ad"), "{get:?}");
    }

    #[test]
    fn a_request_without_host_is_an_error() {
        let mut request = Request::builder().uri("/detector").body(Full::new(Bytes::new())).unwrap();
        assert!(signer().sign(&mut request, b"").is_err());
    }
}
