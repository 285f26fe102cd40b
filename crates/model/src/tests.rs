//! The generated operation table, macro and bindings, against the model's own declarations.
use crate::bind::{BindError, MAX_JSON_DEPTH};
use crate::*;

/// `(name, snake name, SPEC name)` of every operation, as `for_each_operation!` lists them.
macro_rules! listed {
    ($(($name:ident, $method:ident, $input:ty, $output:ty)),* $(,)?) => {
        vec![$((stringify!($name), stringify!($method), <$input as Operation>::SPEC.name)),*]
    };
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn the_macro_lists_every_operation_in_table_order() {
    let listed = crate::for_each_operation!(listed);
    assert_eq!(listed.len(), 103);
    assert_eq!(listed.len(), OPERATIONS.len());
    for ((name, method, spec_name), op) in listed.iter().zip(OPERATIONS) {
        assert_eq!(*name, op.name);
        assert_eq!(*spec_name, op.name, "{name}'s input points at another operation's spec");
        assert!(method.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{method}");
    }
    let mut methods: Vec<&str> = listed.iter().map(|(_, m, _)| *m).collect();
    methods.sort();
    methods.dedup();
    assert_eq!(methods.len(), 103, "two operations share a method name");
    let spec = <CreateIPSetRequest as Operation>::SPEC;
    assert_eq!((spec.name, spec.method, spec.request_uri), ("CreateIPSet", "POST", "/detector/{DetectorId}/ipset"));
}

#[test]
fn specs_carry_the_model_success_codes() {
    assert_eq!(<TagResourceRequest as Operation>::SPEC.response_code, 204);
    assert_eq!(<CreateInvestigationRequest as Operation>::SPEC.response_code, 202);
    assert_eq!(<GetDetectorRequest as Operation>::SPEC.response_code, 200);
    assert_eq!(<UpdateMalwareProtectionPlanRequest as Operation>::SPEC.method, "PATCH");
}

#[test]
fn binds_uri_labels_and_ignores_the_body_of_a_body_less_input() {
    let labels = [("DetectorId", "12abc34d567e8fa901bc2d34e56789f0".to_string())];
    let input = GetDetectorRequest::bind(&labels, &[], b"not even json").unwrap();
    assert_eq!(input.detector_id.as_deref(), Some("12abc34d567e8fa901bc2d34e56789f0"));
    // A label the caller did not bind is a missing member for validation, not a bind error.
    let unbound = GetDetectorRequest::bind(&[], &[], b"").unwrap();
    assert_eq!(
        unbound.violations().message(),
        "1 validation error detected: Value at 'DetectorId' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(GetOrganizationStatisticsRequest::bind(&[], &[], b"[1,2]").unwrap(), GetOrganizationStatisticsRequest {});
}

#[test]
fn binds_the_body_then_the_labels() {
    let labels = [("DetectorId", "d1".to_string())];
    let input = CreateFilterRequest::bind(&labels, &[], br#"{"name":"f","action":"ARCHIVE","rank":3,"detectorId":"ignored"}"#).unwrap();
    assert_eq!(input.detector_id.as_deref(), Some("d1"));
    assert_eq!(input.name.as_deref(), Some("f"));
    assert_eq!(input.rank, Some(3));
    // No body, or only whitespace, is an empty object.
    for body in [&b""[..], b" \r\n\t"] {
        let empty = CreateFilterRequest::bind(&labels, &[], body).unwrap();
        assert_eq!(empty, CreateFilterRequest { detector_id: Some("d1".into()), ..Default::default() });
    }
}

#[test]
fn malformed_bodies_are_one_error() {
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(MAX_JSON_DEPTH), "]".repeat(MAX_JSON_DEPTH));
    for body in [&br#"{"maxResults":"5"}"#[..], br#"[{"maxResults":5}]"#, b"{", b"null", b"\"x\"", deep.as_bytes()] {
        match ListFindingsRequest::bind(&[("DetectorId", "d".into())], &[], body) {
            Err(e @ BindError::MalformedBody { .. }) => assert_eq!(e.to_string(), "the JSON could not be processed"),
            other => panic!("{:?} bound as {other:?}", String::from_utf8_lossy(body)),
        }
    }
    let shallow = format!("{{\"a\":{}{}}}", "[".repeat(MAX_JSON_DEPTH - 1), "]".repeat(MAX_JSON_DEPTH - 1));
    assert!(ListFindingsRequest::bind(&[], &[], shallow.as_bytes()).is_ok(), "unknown members are skipped up to the limit");
}

#[test]
fn binds_typed_query_members() {
    let q = query(&[("maxResults", " 7 "), ("nextToken", "t1"), ("maxResults", "x"), ("nextToken", "t2"), ("other", "1")]);
    let input = ListDetectorsRequest::bind(&[], &q, b"").unwrap();
    assert_eq!((input.max_results, input.next_token.as_deref()), (Some(7), Some("t1")), "first occurrence wins");

    let err = ListDetectorsRequest::bind(&[], &query(&[("maxResults", "ten")]), b"").unwrap_err();
    assert_eq!(err, BindError::InvalidQueryValue { name: "maxResults", expected: "an integer" });
    assert_eq!(err.to_string(), "maxResults must be an integer");
    assert!(ListDetectorsRequest::bind(&[], &query(&[("maxResults", "")]), b"").is_err());
    assert!(ListDetectorsRequest::bind(&[], &query(&[("maxResults", "99999999999")]), b"").is_err());

    // An empty token is no token; a present but out-of-range integer is validation's to reject.
    let first_page = ListDetectorsRequest::bind(&[], &query(&[("nextToken", ""), ("maxResults", "0")]), b"").unwrap();
    assert_eq!(first_page.next_token, None);
    assert_eq!(
        first_page.violations().message(),
        "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
}

#[test]
fn binds_repeated_query_members_as_a_list() {
    let labels = [("ResourceArn", "arn:aws:guardduty:us-east-1:111122223333:detector/d1".to_string())];
    let input = UntagResourceRequest::bind(&labels, &query(&[("tagKeys", "a"), ("x", "y"), ("tagKeys", "b/c")]), b"").unwrap();
    assert_eq!(input.tag_keys, Some(vec!["a".to_string(), "b/c".to_string()]));
    assert_eq!(input.resource_arn.as_deref(), Some(labels[0].1.as_str()));
    let none = UntagResourceRequest::bind(&labels, &[], b"").unwrap();
    assert!(none.violations().message().contains("Value at 'tagKeys' failed to satisfy constraint: Member must not be null"));
}

#[test]
fn query_enums_are_validated_after_binding() {
    let labels = [("RuleId", "r1".to_string())];
    let input = GetCustomDetectionRuleOrgConfigurationRequest::bind(&labels, &query(&[("mode", "SOMETIMES")]), b"").unwrap();
    assert_eq!(input.mode.as_deref(), Some("SOMETIMES"));
    assert!(
        input.violations().message().contains("Value at 'mode' failed to satisfy constraint: Member must satisfy enum value set: [LIVE, DRY_RUN]")
    );
}

#[test]
fn legacy_criteria_operators_take_epoch_milliseconds() {
    let body = br#"{"findingCriteria":{"criterion":{"updatedAt":{"gte":1700000000000}}}}"#;
    let input = ListFindingsRequest::bind(&[("DetectorId", "d".into())], &[], body).unwrap();
    let criterion = input.finding_criteria.and_then(|c| c.criterion).unwrap_or_default();
    assert_eq!(criterion.get("updatedAt").and_then(|c| c.gte), Some(1_700_000_000_000));
}

#[test]
fn outputs_serialize_without_absent_members() {
    let out = GetDetectorResponse { status: Some("ENABLED".into()), ..Default::default() };
    assert_eq!(serde_json::to_string(&out).unwrap(), r#"{"status":"ENABLED"}"#);
    fn same<T>(_: &T, _: &T) {}
    same(&out, &<GetDetectorRequest as Operation>::Output::default());
    fn output_of<O: Operation>() -> &'static str {
        std::any::type_name::<O::Output>()
    }
    assert_eq!(output_of::<DeleteMalwareProtectionPlanRequest>(), "()");
}
