//! The pieces the generated [`crate::Operation::bind`] impls are made of: a JSON body into its
//! shape, URI labels and typed query-string members.
use serde::de::DeserializeOwned;

/// Why a request does not bind to its operation's input. GuardDuty answers both with
/// 400 BadRequestException (InvalidInputException); `Display` is the message's variable part:
/// `the JSON could not be processed` (after "The request is rejected because ") and
/// `maxResults must be an integer` (after "...specified as an input parameter: ").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindError {
    /// The body is not a JSON object of the input shape: bad syntax, a wrong JSON type for a member,
    /// a top level other than an object, or nesting deeper than [`MAX_JSON_DEPTH`]. `detail` says
    /// which, for logs; clients are told only that the JSON could not be processed.
    MalformedBody { detail: String },
    /// A query-string member whose value is not of its modelled type (`maxResults=ten`).
    /// `name` is the member's wire name, `expected` its type with an article (`an integer`).
    InvalidQueryValue { name: &'static str, expected: &'static str },
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindError::MalformedBody { .. } => f.write_str("the JSON could not be processed"),
            BindError::InvalidQueryValue { name, expected } => write!(f, "{name} must be {expected}"),
        }
    }
}

impl std::error::Error for BindError {}

/// No GuardDuty request nests deeper than 5 levels; serde_json stops typed members at 128 but
/// skips unknown members to any depth, so the limit is checked up front, for every member alike.
pub const MAX_JSON_DEPTH: usize = 64;

/// Whether `{`/`[` nest deeper than `max` outside strings (one pass, no allocation).
pub fn nesting_exceeds(body: &[u8], max: usize) -> bool {
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

/// The body members of an input. An empty (or all-whitespace) body is `{}`: SDKs send none when
/// no body member is set.
pub fn json_body<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, BindError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Ok(T::default()),
        // serde would take a JSON array for a struct (fields in order); GuardDuty wants an object.
        Some(b'{') => {}
        Some(_) => return Err(BindError::MalformedBody { detail: "the body is not a JSON object".into() }),
    }
    if nesting_exceeds(body, MAX_JSON_DEPTH) {
        return Err(BindError::MalformedBody { detail: format!("the body nests deeper than {MAX_JSON_DEPTH} levels") });
    }
    serde_json::from_slice(body).map_err(|e| BindError::MalformedBody { detail: e.to_string() })
}

/// The URI label `name` (`DetectorId`); absent when the caller did not bind it, which validation
/// then reports as a missing member.
pub fn label(labels: &[(&str, String)], name: &str) -> Option<String> {
    labels.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
}

/// A string query member: its first occurrence. An empty value (`nextToken=`, as some clients send
/// on a first page) is no value.
pub fn query_string(query: &[(String, String)], name: &str) -> Option<String> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
}

/// A list-of-strings query member (UntagResource `tagKeys=a&tagKeys=b`): every occurrence, in order,
/// empty values kept (the list's constraints judge them).
pub fn query_strings(query: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let values: Vec<String> = query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect();
    if values.is_empty() { None } else { Some(values) }
}

/// An integer query member (`maxResults`), first occurrence; garbage is an invalid value, not a
/// silent default.
pub fn query_i32(query: &[(String, String)], name: &'static str) -> Result<Option<i32>, BindError> {
    query_integer(query, name)
}

/// As [`query_i32`], for a member modelled as a long.
pub fn query_i64(query: &[(String, String)], name: &'static str) -> Result<Option<i64>, BindError> {
    query_integer(query, name)
}

fn query_integer<T: std::str::FromStr>(query: &[(String, String)], name: &'static str) -> Result<Option<T>, BindError> {
    match query.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v.trim().parse::<T>().map(Some).map_err(|_| BindError::InvalidQueryValue { name, expected: "an integer" }),
    }
}
