//! SigV4: Authorization headers parsed, and whole requests verified against a fixed credential.
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use chrono::{DateTime, Utc};
use vedette_wire::auth::{SignedRequest, authenticate};
use vedette_wire::{AuthConfig, Credential, Credentials, sigv4};

use crate::fixtures::NOW_MS;
use crate::rest::split_line;

const ACCESS_KEY_ID: &str = "AKIAFUZZEXAMPLE00001";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYFUZZKEY";
const ACCOUNT_ID: &str = "111122223333";
const HOST: &str = "guardduty.us-east-1.amazonaws.com";
const REGION: &str = "us-east-1";

fn config() -> AuthConfig {
    let mut credentials = Credentials::default();
    credentials.insert(Credential { access_key_id: ACCESS_KEY_ID.into(), secret_access_key: SECRET.into(), account_id: ACCOUNT_ID.into() });
    AuthConfig::sigv4(credentials)
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(NOW_MS).expect("a valid time")
}

/// A request taken apart from the fuzz input, as text lines:
/// `authorization`, `x-amz-date` (empty: none), method, raw path, raw query (empty: none), then
/// `name: value` headers up to an empty line, then the body.
struct Input<'a> {
    authorization: &'a [u8],
    amz_date: &'a [u8],
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: Vec<(String, &'a [u8])>,
    body: &'a [u8],
}

fn take_apart(data: &[u8]) -> Option<Input<'_>> {
    let (authorization, rest) = split_line(data);
    let (amz_date, rest) = split_line(rest);
    let (method, rest) = split_line(rest);
    let (path, rest) = split_line(rest);
    let (query, mut rest) = split_line(rest);
    let mut headers = Vec::new();
    loop {
        let (line, after) = split_line(rest);
        rest = after;
        if line.is_empty() {
            break;
        }
        let at = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        let name = std::str::from_utf8(&line[..at]).ok()?.trim().to_ascii_lowercase();
        let value = line.get(at + 1..).unwrap_or_default().trim_ascii_start();
        headers.push((name, value));
    }
    let text = |b| std::str::from_utf8(b).ok();
    let query = text(query)?;
    Some(Input {
        authorization,
        amz_date,
        method: text(method)?,
        path: text(path)?,
        query: (!query.is_empty()).then_some(query),
        headers,
        body: rest,
    })
}

/// `data` is a request (see [`Input`]). Besides never crashing on any header, date, path or
/// query: a request the AWS SDK's own signer (`aws-sigv4`) signs for our credential is accepted,
/// whatever its method, path, query, headers and body (within what HTTP lets through and the SDKs
/// agree on), and the caller is our credential's account.
pub fn sigv4(data: &[u8]) {
    let Some(input) = take_apart(data) else { return };
    let _ = sigv4::parse_authorization(&String::from_utf8_lossy(input.authorization));

    // As the server sees it: the fuzzed Authorization and date headers plus the others.
    let mut headers: Vec<(&str, &[u8])> = input.headers.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    headers.push(("authorization", input.authorization));
    if !input.amz_date.is_empty() {
        headers.push(("x-amz-date", input.amz_date));
    }
    let request = SignedRequest {
        method: input.method,
        raw_path: input.path,
        raw_query: input.query,
        headers: &headers,
        authority: Some(HOST),
        body: input.body,
    };
    let config = config();
    let _ = authenticate(&config, &request, now());
    let _ = authenticate(&AuthConfig::any(ACCOUNT_ID), &request, now());

    signed_by_the_sdk_is_accepted(&input, &config);
}

/// Characters a client may put in a path or query unencoded, on which every SDK signer agrees.
/// (`+` is not among them: `aws-sigv4` reads it as a space in a query, botocore as itself.)
fn plain_uri_byte(b: u8, in_query: bool) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$'()*,;:@/%".contains(&b) || (in_query && b"=&?".contains(&b))
}

/// Header values on which every SDK signer agrees: visible ASCII and single spaces (signers
/// differ on folding tabs and other whitespace).
fn plain_header_value(v: &[u8]) -> bool {
    v.iter().all(|&b| b.is_ascii_graphic() || b == b' ')
}

fn signed_by_the_sdk_is_accepted(input: &Input<'_>, config: &AuthConfig) {
    let method_ok = !input.method.is_empty() && input.method.len() <= 16 && input.method.bytes().all(|b| b.is_ascii_uppercase());
    // A path ending in a dot segment (`/a/.`) is normalised to `/a` by botocore (which the server
    // follows) and to `/a/` by aws-sigv4 (RFC 3986): the signers disagree, so no oracle there.
    // In GuardDuty's API only a URI label that is `.` or `..` makes one.
    let dot_end = input.path.rsplit('/').next().is_some_and(|last| last == "." || last == "..");
    let path_ok = input.path.starts_with('/') && !dot_end && input.path.bytes().all(|b| plain_uri_byte(b, false));
    // Percent escapes that decode to bytes which are not UTF-8: aws-sigv4 re-encodes them as
    // U+FFFD, botocore cannot produce them (its parameters are strings); no oracle there.
    let query_ok =
        input.query.is_none_or(|q| q.bytes().all(|b| plain_uri_byte(b, true)) && percent_encoding::percent_decode_str(q).decode_utf8().is_ok());
    // Headers the signer adds or the server derives itself are left to them.
    let reserved = ["authorization", "x-amz-date", "date", "x-amz-content-sha256", "x-amz-security-token", "host"];
    let headers_ok = input.headers.iter().all(|(name, value)| {
        !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !reserved.contains(&name.as_str())
            && plain_header_value(value)
    });
    if !(method_ok && path_ok && query_ok && headers_ok) {
        return;
    }
    let headers: Vec<(&str, &str)> = input.headers.iter().map(|(n, v)| (n.as_str(), std::str::from_utf8(v).expect("checked ASCII"))).collect();
    let url = match input.query {
        Some(q) => format!("https://{HOST}{}?{q}", input.path),
        None => format!("https://{HOST}{}", input.path),
    };
    let Ok(signable) = SignableRequest::new(input.method, url, headers.iter().copied(), SignableBody::Bytes(input.body)) else {
        return;
    };
    let identity = aws_credential_types::Credentials::new(ACCESS_KEY_ID, SECRET, None, None, "fuzz").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(sigv4::SERVICE)
        .time(SystemTime::UNIX_EPOCH + Duration::from_millis(NOW_MS as u64))
        .settings(SigningSettings::default())
        .build()
        .expect("complete signing parameters")
        .into();
    let Ok(output) = sign(signable, &params) else { return };
    let (instructions, _) = output.into_parts();

    let mut sent: Vec<(&str, &[u8])> = input.headers.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    sent.push(("host", HOST.as_bytes()));
    sent.extend(instructions.headers().map(|(n, v)| (n, v.as_bytes())));
    let request =
        SignedRequest { method: input.method, raw_path: input.path, raw_query: input.query, headers: &sent, authority: None, body: input.body };
    match authenticate(config, &request, now()) {
        Ok(caller) => assert_eq!(caller.scope.account_id, ACCOUNT_ID),
        Err(e) => panic!(
            "a request signed by aws-sigv4 was refused: {e:?}\nmethod {:?} path {:?} query {:?}\nheaders {:?}",
            input.method,
            input.path,
            input.query,
            sent.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))).collect::<Vec<_>>()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds signed by botocore (the aws CLI's signer) authenticate, so the fuzzer starts
    /// from requests that reach the end of verification.
    #[test]
    fn botocore_signed_seeds_are_accepted() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sigv4");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.file_name().unwrap().to_string_lossy().starts_with("seed-botocore-") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let input = take_apart(&data).unwrap();
            let mut headers: Vec<(&str, &[u8])> = input.headers.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            headers.push(("authorization", input.authorization));
            headers.push(("x-amz-date", input.amz_date));
            let request = SignedRequest {
                method: input.method,
                raw_path: input.path,
                raw_query: input.query,
                headers: &headers,
                authority: Some(HOST),
                body: input.body,
            };
            let caller = authenticate(&config(), &request, now()).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            assert_eq!(caller.scope.account_id, ACCOUNT_ID);
            checked += 1;
        }
        assert!(checked >= 5, "botocore seeds found: {checked}");
    }
}
