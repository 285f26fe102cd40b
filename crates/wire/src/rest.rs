//! REST-JSON plumbing: URI labels, query strings and JSON bodies in; JSON bodies out.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Percent-decodes a URI label or query component; invalid UTF-8 is a bad value.
pub fn decode_component(raw: &str, name: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(raw).decode_utf8().map(|s| s.into_owned()).map_err(|_| ApiError::invalid_parameter(name))
}

/// The labels of `template` (`/detector/{DetectorId}/findings`) bound from the raw path the
/// router already matched against it, percent-decoded.
pub fn path_labels(template: &'static str, raw_path: &str) -> Result<Vec<(&'static str, String)>, ApiError> {
    let mut labels = Vec::new();
    for (t, p) in template.split('/').zip(raw_path.split('/')) {
        if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            labels.push((name, decode_component(p, name)?));
        }
    }
    Ok(labels)
}

/// Decoded `(name, value)` pairs in order; repeated names (UntagResource `tagKeys`) repeat.
pub fn parse_query(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(raw) = raw.filter(|q| !q.is_empty()) else { return Ok(Vec::new()) };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let k = decode_component(k, "query")?;
            let v = decode_component(v, &k)?;
            Ok((k, v))
        })
        .collect()
}

/// An integer query member (`maxResults`); garbage is an invalid value, not a silent default.
pub fn query_i32(query: &[(String, String)], name: &str) -> Result<Option<i32>, ApiError> {
    match query.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v.trim().parse::<i32>().map(Some).map_err(|_| ApiError::invalid_value(Some(&format!("{name} must be an integer")))),
    }
}

pub fn query_string(query: &[(String, String)], name: &str) -> Option<String> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

pub fn query_all(query: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let values: Vec<String> = query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect();
    if values.is_empty() { None } else { Some(values) }
}

/// Parses a request body into its model shape. An empty body is an empty object (SDKs send
/// none when no body member is set). Syntax errors and wrong JSON types alike get GuardDuty's
/// "JSON could not be processed".
/// No GuardDuty request nests deeper than 5 levels; serde_json stops typed members at 128 but
/// skips unknown members to any depth, so the limit is checked up front, for every member alike.
pub const MAX_JSON_DEPTH: usize = 64;

/// Whether `{`/`[` nest deeper than `max` outside strings (one pass, no allocation).
fn nesting_exceeds(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

pub fn parse_body<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Ok(T::default()),
        // serde would take a JSON array for a struct (fields in order); GuardDuty wants an object.
        Some(b'{') => {}
        Some(_) => return Err(ApiError::malformed_json()),
    }
    if nesting_exceeds(body, MAX_JSON_DEPTH) {
        return Err(ApiError::malformed_json());
    }
    serde_json::from_slice(body).map_err(|e| {
        tracing::debug!(error = %e, "unprocessable JSON body");
        ApiError::malformed_json()
    })
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// 200 with the output shape as JSON (absent members omitted by the model's serde attributes).
pub fn json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| {
        tracing::error!(error = %e, "response serialization failed");
        ApiError::internal()
    })?;
    Ok(json_bytes(body))
}

/// 200 with an already serialized JSON body.
pub fn json_bytes(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, JSON)], body).into_response()
}

/// An output-less operation: GuardDuty sends `content-length: 0` with `application/json`.
pub fn empty(status: StatusCode) -> Response {
    (status, [(header::CONTENT_TYPE, JSON)], Bytes::new()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_percent_encoded_labels() {
        let labels = path_labels("/tags/{ResourceArn}", "/tags/arn%3Aaws%3Aguardduty%3Aus-east-1%3A1%3Adetector%2Fab").unwrap();
        assert_eq!(labels, vec![("ResourceArn", "arn:aws:guardduty:us-east-1:1:detector/ab".to_string())]);
        assert!(path_labels("/detector/{DetectorId}", "/detector/%FF").is_err());
    }

    #[test]
    fn parses_repeated_query_members() {
        let q = parse_query(Some("tagKeys=a&tagKeys=b%2Fc&maxResults=7")).unwrap();
        assert_eq!(query_all(&q, "tagKeys"), Some(vec!["a".to_string(), "b/c".to_string()]));
        assert_eq!(query_i32(&q, "maxResults").unwrap(), Some(7));
        assert!(query_i32(&parse_query(Some("maxResults=x")).unwrap(), "maxResults").is_err());
        assert_eq!(query_all(&q, "nope"), None);
    }

    #[test]
    fn rejects_wrong_json_types() {
        let bad: Result<vedette_model::ListFindingsRequest, _> = parse_body(&Bytes::from_static(br#"{"maxResults":"5"}"#));
        assert_eq!(bad.unwrap_err(), ApiError::malformed_json());
        let empty: vedette_model::ListFindingsRequest = parse_body(&Bytes::new()).unwrap();
        assert_eq!(empty.max_results, None);
    }
}

#[cfg(test)]
mod nesting_tests {
    use super::*;

    #[test]
    fn counts_nesting_outside_strings_only() {
        assert!(!nesting_exceeds(br#"{"a":[{"b":[1]}]}"#, 4));
        assert!(nesting_exceeds(br#"{"a":[{"b":[[1]]}]}"#, 4));
        // Brackets, quotes and backslashes inside strings do not count.
        assert!(!nesting_exceeds(br#"{"a":"[[[[[[{{{{\"[[[[\\"}"#, 1));
        assert!(nesting_exceeds(br#"{"a":"\\",  "b":[[1]]}"#, 2));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(nesting_exceeds(deep.as_bytes(), MAX_JSON_DEPTH));
    }
}
