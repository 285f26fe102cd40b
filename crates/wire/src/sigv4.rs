//! AWS Signature Version 4 verification, built the way the SDKs build the canonical request
//! (botocore `auth.py` SigV4Auth, the `aws-sigv4` crate): for services other than S3 the
//! canonical URI is the request path as sent, normalised, then URI-encoded once more.
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const SERVICE: &str = "guardduty";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `x-amz-date` format.
const AMZ_DATE: &str = "%Y%m%dT%H%M%SZ";

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    pub access_key_id: String,
    /// `YYYYMMDD` from the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case header names, in the order given (SigV4 requires them sorted).
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Why an Authorization header is not a well-formed SigV4 header (AWS: IncompleteSignature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedAuthorization(pub String);

pub fn parse_authorization(value: &str) -> Result<AuthorizationHeader, MalformedAuthorization> {
    let value = value.trim();
    let (algorithm, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(MalformedAuthorization(format!("Unsupported AWS 'algorithm': '{algorithm}'. Expected '{ALGORITHM}'.")));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((name, val)) = part.split_once('=') else {
            return Err(MalformedAuthorization(format!(
                "Authorization header requires each component to be of the form name=value. Authorization={value}"
            )));
        };
        match name.trim() {
            "Credential" => credential = Some(val.trim()),
            "SignedHeaders" => signed_headers = Some(val.trim()),
            "Signature" => signature = Some(val.trim()),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    for (name, v) in [("Credential", credential), ("Signature", signature), ("SignedHeaders", signed_headers)] {
        if v.is_none_or(str::is_empty) {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    if !missing.is_empty() {
        return Err(MalformedAuthorization(format!("{} Authorization={value}", missing.join(" "))));
    }
    let (credential, signed_headers_raw, signature) =
        (credential.unwrap_or_default(), signed_headers.unwrap_or_default(), signature.unwrap_or_default());

    // AKID/date/region/service/aws4_request; an access key id never contains '/'.
    let fields: Vec<&str> = credential.split('/').collect();
    if fields.len() != 5 || fields.iter().any(|f| f.is_empty()) || fields[4] != "aws4_request" {
        return Err(MalformedAuthorization(format!(
            "Credential should be scoped to a valid region, service and terminated by 'aws4_request'. Credential={credential}"
        )));
    }
    let date = fields[1];
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MalformedAuthorization(format!("Credential should be scoped to a valid date. Credential={credential}")));
    }
    let region = fields[2];
    if region.len() > 64 || !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(MalformedAuthorization(format!("Credential should be scoped to a valid region. Credential={credential}")));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MalformedAuthorization(format!("Signature should be 64 hexadecimal characters. Authorization={value}")));
    }
    let signed: Vec<String> = signed_headers_raw.split(';').map(|h| h.trim().to_ascii_lowercase()).collect();
    if signed.iter().any(String::is_empty) {
        return Err(MalformedAuthorization(format!("SignedHeaders contains an empty header name. Authorization={value}")));
    }
    Ok(AuthorizationHeader {
        access_key_id: fields[0].to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: fields[3].to_string(),
        signed_headers: signed,
        signature: signature.to_ascii_lowercase(),
    })
}

/// Parses `20150830T123600Z`.
pub fn parse_amz_date(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, AMZ_DATE).ok().map(|n| Utc.from_utc_datetime(&n))
}

pub fn format_amz_date(t: DateTime<Utc>) -> String {
    t.format(AMZ_DATE).to_string()
}

/// Characters SigV4 leaves unencoded: RFC 3986 unreserved.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn uri_encode(input: &[u8], keep_slash: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        }
    }
}

/// RFC 3986 dot-segment removal plus collapsing of empty segments (as botocore's
/// `normalize_url_path` and aws-sigv4's `normalize_uri_path` do).
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut s = String::with_capacity(path.len());
    if path.starts_with('/') {
        s.push('/');
    }
    s.push_str(&out.join("/"));
    if path.ends_with('/') && !out.is_empty() {
        s.push('/');
    }
    s
}

/// The canonical URI of a raw (still percent-encoded) request path: SigV4 encodes it once
/// more for every service but S3, so `%3A` in the path is `%253A` here.
pub fn canonical_uri(raw_path: &str) -> String {
    let normalized = normalize_path(raw_path);
    let mut out = String::with_capacity(normalized.len() + 16);
    uri_encode(normalized.as_bytes(), true, &mut out);
    out
}

/// Query parameters decoded, re-encoded with the SigV4 rules, sorted by name then value.
pub fn canonical_query(raw_query: Option<&str>) -> String {
    let Some(q) = raw_query.filter(|q| !q.is_empty()) else { return String::new() };
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&percent_encoding::percent_decode_str(k).collect::<Vec<u8>>(), false, &mut ek);
            uri_encode(&percent_encoding::percent_decode_str(v).collect::<Vec<u8>>(), false, &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(q.len() + 8);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Trim-all: outer whitespace removed, inner runs collapsed to one space.
fn trim_all(value: &[u8], out: &mut String) {
    let s = String::from_utf8_lossy(value);
    let mut first = true;
    for word in s.split_ascii_whitespace() {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

/// What the verifier needs from the request.
pub struct RequestParts<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    /// `(lower-case name, value)` for every header occurrence, in arrival order.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// Hex SHA-256 of the body, or the `x-amz-content-sha256` value the client signed.
    pub payload_hash: &'a str,
}

pub fn canonical_request(req: &RequestParts<'_>, auth: &AuthorizationHeader) -> String {
    let mut cr = String::with_capacity(512);
    cr.push_str(req.method);
    cr.push('\n');
    cr.push_str(&canonical_uri(req.raw_path));
    cr.push('\n');
    cr.push_str(&canonical_query(req.raw_query));
    cr.push('\n');
    for name in &auth.signed_headers {
        cr.push_str(name);
        cr.push(':');
        let mut first = true;
        for (_, value) in req.headers.iter().filter(|(n, _)| n == name) {
            if !first {
                cr.push(',');
            }
            trim_all(value, &mut cr);
            first = false;
        }
        cr.push('\n');
    }
    cr.push('\n');
    cr.push_str(&auth.signed_headers.join(";"));
    cr.push('\n');
    cr.push_str(req.payload_hash);
    cr
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

pub fn string_to_sign(amz_date: &str, auth: &AuthorizationHeader, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{}/{}/{}/aws4_request\n{}", auth.date, auth.region, auth.service, sha256_hex(canonical_request.as_bytes()))
}

/// The signature the client should have sent, lower-case hex.
pub fn expected_signature(secret: &str, amz_date: &str, auth: &AuthorizationHeader, req: &RequestParts<'_>) -> String {
    let cr = canonical_request(req, auth);
    let sts = string_to_sign(amz_date, auth, &cr);
    hex::encode(hmac(&signing_key(secret, &auth.date, &auth.region, &auth.service), sts.as_bytes()))
}

/// Compares in constant time so the signature cannot be found byte by byte.
pub fn signatures_match(expected: &str, provided: &str) -> bool {
    expected.len() == provided.len() && bool::from(expected.as_bytes().ct_eq(provided.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of AWS's SigV4 documentation ("get-vanilla" of the SigV4 test suite).
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn derives_the_documented_signing_key() {
        let key = signing_key(SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(hex::encode(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    }

    #[test]
    fn signs_the_get_vanilla_vector() {
        let auth = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        )
        .unwrap();
        let headers: Vec<(&str, &[u8])> = vec![("host", b"example.amazonaws.com"), ("x-amz-date", b"20150830T123600Z")];
        let empty_hash = sha256_hex(b"");
        let req = RequestParts { method: "GET", raw_path: "/", raw_query: None, headers: &headers, payload_hash: &empty_hash };
        let sig = expected_signature(SECRET, "20150830T123600Z", &auth, &req);
        assert!(signatures_match(&sig, &auth.signature), "got {sig}");
    }

    #[test]
    fn encodes_the_path_a_second_time() {
        assert_eq!(
            canonical_uri("/tags/arn%3Aaws%3Aguardduty%3Aus-east-1%3A123456789012%3Adetector%2Fabc"),
            "/tags/arn%253Aaws%253Aguardduty%253Aus-east-1%253A123456789012%253Adetector%252Fabc"
        );
        assert_eq!(canonical_uri("/a//b/./c/../d/"), "/a/b/d/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/with space~"), "/with%20space~");
    }

    #[test]
    fn sorts_and_reencodes_the_query() {
        assert_eq!(canonical_query(Some("tagKeys=b&tagKeys=a&maxResults=5")), "maxResults=5&tagKeys=a&tagKeys=b");
        assert_eq!(canonical_query(Some("k=a%2Fb&flag")), "flag=&k=a%2Fb");
        assert_eq!(canonical_query(Some("k=a b")), "k=a%20b");
        assert_eq!(canonical_query(None), "");
    }

    #[test]
    fn rejects_malformed_headers() {
        for bad in [
            "AWS4-HMAC-SHA1 Credential=a/20200101/us-east-1/guardduty/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=a/20200101/us-east-1/guardduty/aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=a/20200101/us-east-1/aws4_request, SignedHeaders=host, Signature=aa",
            "AWS4-HMAC-SHA256 Credential=a/2020/us-east-1/guardduty/aws4_request, SignedHeaders=host, Signature=aa",
            "AWS4-HMAC-SHA256 Credential=a/20200101/us-east-1/guardduty/aws4_request, SignedHeaders=host, Signature=zz",
            "AWS4-HMAC-SHA256 Credential=a/20200101/us east/guardduty/aws4_request, SignedHeaders=host, Signature=aa",
            "",
        ] {
            assert!(parse_authorization(bad).is_err(), "accepted {bad:?}");
        }
        let ok = format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20200101/eu-west-3/guardduty/aws4_request,SignedHeaders=Host;X-Amz-Date,Signature={}",
            "A".repeat(64)
        );
        let parsed = parse_authorization(&ok).unwrap();
        assert_eq!(parsed.access_key_id, "AKID");
        assert_eq!(parsed.region, "eu-west-3");
        assert_eq!(parsed.signed_headers, vec!["host", "x-amz-date"]);
        assert_eq!(parsed.signature, "a".repeat(64));
    }

    #[test]
    fn trims_header_values() {
        let mut s = String::new();
        trim_all(b"  a   b \t c ", &mut s);
        assert_eq!(s, "a b c");
    }
}
