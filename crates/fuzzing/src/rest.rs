//! REST-JSON request bodies and URIs, as the server takes them apart before an operation runs.
use bytes::Bytes;
use vedette_model as model;
use vedette_wire::{rest, sigv4};

type Check = fn(&Bytes);

/// Parses a body into the request shape and runs its constraints, as every handler starts.
fn check<T: serde::de::DeserializeOwned + Default + model::Validate>(body: &Bytes) {
    if let Ok(request) = model::bind::json_body::<T>(body) {
        let _ = vedette_service::validate(&request);
    }
}

macro_rules! shapes {
    ($(($name:ident, $method:ident, $input:ty, $output:ty)),* $(,)?) => {
        /// Every operation's request shape, by operation name.
        pub(crate) const SHAPES: &[(&str, Check)] = &[$((stringify!($name), check::<$input>)),*];
    };
}

model::for_each_operation!(shapes);

/// `data` is `<OperationName>\n<body>`: the body is parsed into that operation's request shape
/// and validated. An unknown name tries every shape (the fuzzer learns the names from the seeds).
pub fn rest_body(data: &[u8]) {
    let (name, body) = split_line(data);
    let body = Bytes::copy_from_slice(body);
    match SHAPES.iter().find(|(op, _)| op.as_bytes() == name) {
        Some((_, check)) => check(&body),
        None => SHAPES.iter().for_each(|(_, check)| check(&body)),
    }
}

/// `data` is `<raw path>\n<raw query>`: the path is bound to every operation's URI template
/// (labels percent-decoded), the query decoded into members, both bound into the operation's
/// input as the server binds them, and canonicalized as SigV4 does.
/// Property: the canonical query is a fixed point (canonicalizing it again changes nothing), so a
/// client and the server that canonicalize once more agree.
pub fn rest_uri(data: &[u8]) {
    let (path, query) = split_line(data);
    let path = String::from_utf8_lossy(path);
    let query = String::from_utf8_lossy(query);
    let members = rest::parse_query(Some(&query)).unwrap_or_default();
    for op in model::OPERATIONS {
        if let Ok(labels) = rest::path_labels(op.request_uri, &path) {
            bind_by_name(op.name, &labels, &members);
        }
    }
    let _ = sigv4::canonical_uri(&path);
    let canonical = sigv4::canonical_query(Some(&query));
    assert_eq!(sigv4::canonical_query(Some(&canonical)), canonical, "canonical query of {query:?} is not canonical");
}

/// The first line and the rest.
pub(crate) fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

/// Binds labels and query members (and an empty body) into operation `name`'s input.
fn bind_by_name(name: &str, labels: &[(&'static str, String)], query: &[(String, String)]) {
    macro_rules! bind_named {
        ($(($operation:ident, $method:ident, $input:ty, $output:ty)),* $(,)?) => {
            match name {
                $(stringify!($operation) => {
                    let _ = <$input as model::Operation>::bind(labels, query, b"");
                })*
                _ => {}
            }
        };
    }
    model::for_each_operation!(bind_named);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_operation_has_its_request_shape() {
        for op in model::OPERATIONS {
            assert!(SHAPES.iter().any(|(name, _)| *name == op.name), "{} has no request shape in SHAPES", op.name);
        }
        assert_eq!(SHAPES.len(), model::OPERATIONS.len());
    }
}
