//! REST-JSON plumbing: URI labels and query strings decoded (the model binds them, with the body,
//! into an operation's input); JSON bodies out.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

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

const JSON: HeaderValue = HeaderValue::from_static("application/json");

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
    fn keeps_repeated_query_members_in_order() {
        let q = parse_query(Some("tagKeys=a&tagKeys=b%2Fc&maxResults=7")).unwrap();
        let expected = [("tagKeys", "a"), ("tagKeys", "b/c"), ("maxResults", "7")].map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(q, expected);
    }
}
