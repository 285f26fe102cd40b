//! FindingCriteria / SortCriteria parsing and the in-memory evaluator, against hand-computed
//! answers over a small fixed set of findings (docs/criteria.md).
use std::cmp::Ordering;

use serde_json::json;
use vedette_domain::criteria::{CriteriaError, Test, compare_for_sort, parse_criteria, parse_sort};
use vedette_domain::model::{Finding, FindingCriteria, SortCriteria};

fn finding(v: serde_json::Value) -> Finding {
    serde_json::from_value(v).unwrap()
}

/// a: Low, active, two tags, two security groups, port 22, sample.
/// b: High (8.9), archived, one tag, port 3389, failed API call.
/// c: Medium, almost empty (no updatedAt, no service).
/// d: port probe on ports 80 and 443.
fn fixtures() -> Vec<Finding> {
    vec![
        finding(json!({
            "id": "a", "severity": 2.0, "type": "Recon:IAMUser/TorIPCaller",
            "updatedAt": "2020-05-26T22:21:48.385Z",
            "resource": {"instanceDetails": {
                "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "red"}],
                "networkInterfaces": [{"securityGroups": [{"groupId": "sg-1"}, {"groupId": "sg-2"}], "privateIpAddress": "10.0.0.1"}]}},
            "service": {
                "additionalInfo": {"value": "{\"sample\":true}", "type": "default"},
                "action": {"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
                    "blocked": false, "localPortDetails": {"port": 22}, "localIpDetails": {"ipAddressV4": "10.0.0.1"}}}}
        })),
        finding(json!({
            "id": "b", "severity": 8.9, "type": "UnauthorizedAccess:EC2/SSHBruteForce",
            "updatedAt": "2020-06-01T00:00:00.000Z",
            "resource": {"instanceDetails": {
                "tags": [{"key": "env", "value": "dev"}],
                "networkInterfaces": [{"securityGroups": [{"groupId": "sg-3"}]}]}},
            "service": {"archived": true,
                "action": {"actionType": "AWS_API_CALL",
                    "awsApiCallAction": {"api": "ListBuckets", "errorCode": "AccessDenied"},
                    "networkConnectionAction": {"blocked": true, "localPortDetails": {"port": 3389}}}}
        })),
        finding(json!({"id": "c", "severity": 5.0, "type": "Policy:IAMUser/RootCredentialUsage"})),
        finding(json!({
            "id": "d", "severity": 2.0, "type": "Recon:EC2/PortProbeUnprotectedPort",
            "updatedAt": "2020-05-26T22:21:48.385Z",
            "service": {"archived": false, "action": {"actionType": "PORT_PROBE", "portProbeAction": {"portProbeDetails": [
                {"localPortDetails": {"port": 80}}, {"localPortDetails": {"port": 443}}]}}}
        })),
    ]
}

fn criteria(v: serde_json::Value) -> FindingCriteria {
    serde_json::from_value(json!({ "criterion": v })).unwrap()
}

/// Ids of the fixtures the criterion selects, in fixture order.
fn select(v: serde_json::Value) -> Vec<String> {
    let parsed = parse_criteria(Some(&criteria(v.clone()))).unwrap_or_else(|e| panic!("{v}: {e}"));
    fixtures().into_iter().filter(|f| parsed.matches(f)).map(|f| f.id.unwrap()).collect()
}

fn error(v: serde_json::Value) -> CriteriaError {
    parse_criteria(Some(&criteria(v.clone()))).expect_err(&v.to_string())
}

#[test]
fn no_criteria_selects_everything() {
    assert_eq!(parse_criteria(None).unwrap().criteria.len(), 0);
    let empty: FindingCriteria = serde_json::from_value(json!({})).unwrap();
    assert!(parse_criteria(Some(&empty)).unwrap().is_empty());
    assert_eq!(select(json!({})), ["a", "b", "c", "d"]);
}

#[test]
fn string_equals_and_not_equals() {
    assert_eq!(select(json!({"type": {"equals": ["Recon:IAMUser/TorIPCaller"]}})), ["a"]);
    assert_eq!(select(json!({"type": {"equals": ["Recon:IAMUser/TorIPCaller", "Policy:IAMUser/RootCredentialUsage"]}})), ["a", "c"]);
    assert_eq!(select(json!({"type": {"notEquals": ["Recon:IAMUser/TorIPCaller"]}})), ["b", "c", "d"]);
    // Case-sensitive, no wildcards in equals.
    assert_eq!(select(json!({"type": {"equals": ["recon:iamuser/toripcaller"]}})), Vec::<String>::new());
    assert_eq!(select(json!({"type": {"equals": ["Recon:*"]}})), Vec::<String>::new());
}

#[test]
fn absent_attribute_fails_equals_and_passes_not_equals() {
    let path = "service.action.awsApiCallAction.errorCode";
    assert_eq!(select(json!({path: {"equals": ["AccessDenied"]}})), ["b"]);
    assert_eq!(select(json!({path: {"notEquals": ["AccessDenied"]}})), ["a", "c", "d"]);
    assert_eq!(select(json!({path: {"notEquals": ["Throttling"]}})), ["a", "b", "c", "d"]);
}

#[test]
fn numeric_operators() {
    let port = "service.action.networkConnectionAction.localPortDetails.port";
    assert_eq!(select(json!({port: {"equals": ["22"]}})), ["a"]);
    assert_eq!(select(json!({port: {"equals": ["22.0", "3389"]}})), ["a", "b"]);
    assert_eq!(select(json!({port: {"notEquals": ["22"]}})), ["b", "c", "d"]);
    assert_eq!(select(json!({port: {"greaterThan": 22}})), ["b"]);
    assert_eq!(select(json!({port: {"greaterThanOrEqual": 22}})), ["a", "b"]);
    assert_eq!(select(json!({port: {"lessThan": 3389}})), ["a"]);
    assert_eq!(select(json!({port: {"lessThanOrEqual": 3389}})), ["a", "b"]);
    // Legacy spellings.
    assert_eq!(select(json!({port: {"gt": 22}})), ["b"]);
    assert_eq!(select(json!({port: {"gte": 22}})), ["a", "b"]);
    assert_eq!(select(json!({port: {"lt": 3389}})), ["a"]);
    assert_eq!(select(json!({port: {"lte": 3389}})), ["a", "b"]);
    assert_eq!(select(json!({port: {"eq": ["3389"]}})), ["b"]);
    assert_eq!(select(json!({port: {"neq": ["3389"]}})), ["a", "c", "d"]);
    // Ranges never hold on an absent attribute.
    assert_eq!(select(json!({port: {"lessThan": 100000}})), ["a", "b"]);
    assert_eq!(select(json!({"confidence": {"greaterThanOrEqual": 0}})), Vec::<String>::new());
}

#[test]
fn severity_equals_compares_the_floor() {
    assert_eq!(select(json!({"severity": {"equals": ["8"]}})), ["b"]);
    assert_eq!(select(json!({"severity": {"equals": ["7", "8"]}})), ["b"]);
    assert_eq!(select(json!({"severity": {"equals": ["1", "2", "3"]}})), ["a", "d"]);
    assert_eq!(select(json!({"severity": {"equals": ["4", "5", "6"]}})), ["c"]);
    assert_eq!(select(json!({"severity": {"equals": ["8.9"]}})), ["b"]);
    assert_eq!(select(json!({"severity": {"equals": ["9"]}})), Vec::<String>::new());
    assert_eq!(select(json!({"severity": {"notEquals": ["8"]}})), ["a", "c", "d"]);
    // Ranges compare the double itself.
    assert_eq!(select(json!({"severity": {"greaterThan": 8}})), ["b"]);
    assert_eq!(select(json!({"severity": {"greaterThanOrEqual": 5}})), ["b", "c"]);
    assert_eq!(select(json!({"severity": {"lessThan": 5}})), ["a", "d"]);
    assert_eq!(select(json!({"severity": {"lessThanOrEqual": 5}})), ["a", "c", "d"]);
}

#[test]
fn time_attributes_compare_epoch_milliseconds() {
    let may26 = 1_590_531_708_385_i64; // 2020-05-26T22:21:48.385Z
    let jun1 = 1_590_969_600_000_i64; // 2020-06-01T00:00:00Z
    assert_eq!(select(json!({"updatedAt": {"equals": [may26.to_string()]}})), ["a", "d"]);
    assert_eq!(select(json!({"updatedAt": {"greaterThan": may26}})), ["b"]);
    assert_eq!(select(json!({"updatedAt": {"greaterThanOrEqual": may26}})), ["a", "b", "d"]);
    assert_eq!(select(json!({"updatedAt": {"lessThan": jun1}})), ["a", "d"]);
    assert_eq!(select(json!({"updatedAt": {"lessThanOrEqual": jun1}})), ["a", "b", "d"]);
    assert_eq!(select(json!({"updatedAt": {"notEquals": [jun1.to_string()]}})), ["a", "c", "d"]);
    // Several operators in one condition are ANDed: a time window.
    assert_eq!(select(json!({"updatedAt": {"greaterThan": may26 - 1, "lessThan": may26 + 1}})), ["a", "d"]);
    assert_eq!(select(json!({"updatedAt": {"greaterThan": may26, "lessThan": jun1}})), Vec::<String>::new());
}

#[test]
fn boolean_attributes() {
    assert_eq!(select(json!({"service.archived": {"equals": ["true"]}})), ["b"]);
    // A finding without `archived` is active.
    assert_eq!(select(json!({"service.archived": {"equals": ["false"]}})), ["a", "c", "d"]);
    assert_eq!(select(json!({"service.archived": {"notEquals": ["true"]}})), ["a", "c", "d"]);
    let blocked = "service.action.networkConnectionAction.blocked";
    assert_eq!(select(json!({blocked: {"equals": ["false"]}})), ["a"]);
    assert_eq!(select(json!({blocked: {"notEquals": ["false"]}})), ["b", "c", "d"]);
    assert_eq!(select(json!({"service.additionalInfo.sample": {"equals": ["true"]}})), ["a"]);
}

#[test]
fn list_valued_attributes_match_on_any_element() {
    let key = "resource.instanceDetails.tags.key";
    let value = "resource.instanceDetails.tags.value";
    let group = "resource.instanceDetails.networkInterfaces.securityGroups.groupId";
    assert_eq!(select(json!({key: {"equals": ["team"]}})), ["a"]);
    assert_eq!(select(json!({key: {"equals": ["env"]}})), ["a", "b"]);
    assert_eq!(select(json!({key: {"notEquals": ["team"]}})), ["b", "c", "d"]);
    assert_eq!(select(json!({value: {"notEquals": ["prod"]}})), ["b", "c", "d"]);
    assert_eq!(select(json!({group: {"equals": ["sg-2", "sg-3"]}})), ["a", "b"]);
    assert_eq!(select(json!({group: {"notEquals": ["sg-1", "sg-3"]}})), ["c", "d"]);
    assert_eq!(select(json!({key: {"matches": ["te*"]}})), ["a"]);
    assert_eq!(select(json!({key: {"notMatches": ["e*"]}})), ["c", "d"]);
    // Each range test holds when some element satisfies it.
    let probe = "service.action.portProbeAction.portProbeDetails.localPortDetails.port";
    assert_eq!(select(json!({probe: {"greaterThan": 400}})), ["d"]);
    assert_eq!(select(json!({probe: {"lessThan": 100}})), ["d"]);
    assert_eq!(select(json!({probe: {"greaterThan": 500}})), Vec::<String>::new());
    assert_eq!(select(json!({probe: {"greaterThan": 400, "lessThan": 100}})), ["d"]);
    assert_eq!(select(json!({probe: {"equals": ["443"]}})), ["d"]);
    assert_eq!(select(json!({probe: {"notEquals": ["443"]}})), ["a", "b", "c"]);
}

#[test]
fn wildcard_matches() {
    assert_eq!(select(json!({"type": {"matches": ["*IAMUser*"]}})), ["a", "c"]);
    assert_eq!(select(json!({"type": {"matches": ["Recon:*", "Policy:*"]}})), ["a", "c", "d"]);
    assert_eq!(select(json!({"type": {"notMatches": ["Recon:*"]}})), ["b", "c"]);
    assert_eq!(select(json!({"type": {"matches": ["recon:*"]}})), Vec::<String>::new());
    // Absent attribute: fails matches, passes notMatches.
    let api = "service.action.awsApiCallAction.api";
    assert_eq!(select(json!({api: {"matches": ["*"]}})), ["b"]);
    assert_eq!(select(json!({api: {"notMatches": ["List*"]}})), ["a", "c", "d"]);
}

#[test]
fn distinct_attributes_are_anded() {
    assert_eq!(select(json!({"severity": {"equals": ["2"]}, "service.action.actionType": {"equals": ["PORT_PROBE"]}})), ["d"]);
    assert_eq!(select(json!({"severity": {"equals": ["2"]}, "service.archived": {"equals": ["true"]}})), Vec::<String>::new());
}

#[test]
fn legacy_and_current_spellings_merge() {
    assert_eq!(select(json!({"type": {"eq": ["Recon:IAMUser/TorIPCaller"], "equals": ["Policy:IAMUser/RootCredentialUsage"]}})), ["a", "c"]);
    assert_eq!(select(json!({"severity": {"neq": ["2"], "notEquals": ["5"]}})), ["b"]);
    // Both bounds apply.
    assert_eq!(select(json!({"severity": {"gt": 1, "greaterThan": 4}})), ["b", "c"]);
    let parsed = parse_criteria(Some(&criteria(json!({"type": {"eq": ["x"], "equals": ["y"]}})))).unwrap();
    assert_eq!(parsed.criteria[0].tests.len(), 1);
    assert!(matches!(&parsed.criteria[0].tests[0], Test::Equals(v) if v.len() == 2));
}

#[test]
fn aliases_name_the_canonical_attribute() {
    assert_eq!(select(json!({"service.localIpDetails.ipAddressV4": {"equals": ["10.0.0.1"]}})), ["a"]);
    let parsed = parse_criteria(Some(&criteria(json!({"resource.instanceDetails.outpostARN": {"equals": ["x"]}})))).unwrap();
    assert_eq!(parsed.criteria[0].attribute.path, "resource.instanceDetails.outpostArn");
}

#[test]
fn rejects_unknown_attributes() {
    assert_eq!(error(json!({"nope": {"equals": ["x"]}})), CriteriaError::UnknownAttribute("nope".into()));
    let e = error(json!({"service.action.awsApiCallAction.ErrorCode": {"equals": ["x"]}}));
    assert_eq!(e, CriteriaError::UnknownAttribute("service.action.awsApiCallAction.ErrorCode".into()));
}

#[test]
fn rejects_invalid_values() {
    let invalid = |v| matches!(error(v), CriteriaError::InvalidValue(_));
    assert!(invalid(json!({"type": {"greaterThan": 1}})), "range on a string");
    assert!(invalid(json!({"service.archived": {"lessThan": 1}})), "range on a boolean");
    assert!(invalid(json!({"severity": {"equals": ["high"]}})), "not a number");
    assert!(invalid(json!({"updatedAt": {"equals": ["2020-05-26T22:21:48Z"]}})), "times are epoch ms");
    assert!(invalid(json!({"severity": {"equals": ["NaN"]}})), "not finite");
    assert!(invalid(json!({"service.archived": {"equals": ["yes"]}})), "not a boolean");
    assert!(invalid(json!({"service.archived": {"equals": ["True"]}})), "booleans are lowercase");
    assert!(invalid(json!({"type": {}})), "no operator");
    assert!(invalid(json!({"type": {"equals": []}})), "no value");
    assert!(invalid(json!({"severity": {"matches": ["5*"]}})), "matches on a number");
    assert!(invalid(json!({"type": {"matches": [""]}})), "empty pattern");
    assert!(invalid(json!({"type": {"matches": ["a", "b", "c", "d", "e", "f"]}})), "six patterns");
    let values = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
    assert!(parse_criteria(Some(&criteria(json!({"type": {"equals": values(50)}})))).is_ok());
    assert!(invalid(json!({"type": {"equals": values(51)}})), "51 values");
}

#[test]
fn at_most_fifty_attributes() {
    let string_paths: Vec<&str> =
        vedette_domain::attributes::all().iter().filter(|a| a.kind == vedette_domain::attributes::AttrKind::Str).map(|a| a.path).collect();
    assert!(string_paths.len() > 50);
    let with = |n: usize| {
        let map: serde_json::Map<_, _> = string_paths[..n].iter().map(|p| (p.to_string(), json!({"equals": ["x"]}))).collect();
        parse_criteria(Some(&criteria(serde_json::Value::Object(map))))
    };
    assert_eq!(with(50).unwrap().criteria.len(), 50);
    assert!(matches!(with(51), Err(CriteriaError::InvalidValue(_))));
}

fn sort(v: Option<serde_json::Value>) -> Result<vedette_domain::Sort, CriteriaError> {
    let s: Option<SortCriteria> = v.map(|v| serde_json::from_value(v).unwrap());
    parse_sort(s.as_ref())
}

#[test]
fn sort_defaults_and_errors() {
    let s = sort(None).unwrap();
    assert_eq!((s.attribute.path, s.descending), ("updatedAt", true));
    let s = sort(Some(json!({}))).unwrap();
    assert_eq!((s.attribute.path, s.descending), ("updatedAt", true));
    let s = sort(Some(json!({"attributeName": "severity"}))).unwrap();
    assert_eq!((s.attribute.path, s.descending), ("severity", false));
    let s = sort(Some(json!({"attributeName": "service.count", "orderBy": "DESC"}))).unwrap();
    assert_eq!((s.attribute.path, s.descending), ("service.count", true));
    let s = sort(Some(json!({"orderBy": "ASC"}))).unwrap();
    assert_eq!((s.attribute.path, s.descending), ("updatedAt", false));
    assert_eq!(sort(Some(json!({"attributeName": "nope"}))), Err(CriteriaError::UnknownAttribute("nope".into())));
    assert!(matches!(sort(Some(json!({"attributeName": "resource.instanceDetails.tags.key"}))), Err(CriteriaError::UnknownAttribute(_))));
    assert!(matches!(sort(Some(json!({"attributeName": "severity", "orderBy": "UP"}))), Err(CriteriaError::InvalidValue(_))));
}

fn sorted_ids(v: serde_json::Value) -> Vec<String> {
    let s = sort(Some(v)).unwrap();
    let mut findings = fixtures();
    findings.sort_by(|a, b| compare_for_sort(a, b, &s));
    findings.into_iter().map(|f| f.id.unwrap()).collect()
}

#[test]
fn sort_order_with_absent_values_and_ties() {
    // a and d tie on severity 2.0 and on updatedAt: the id breaks the tie, ascending either way.
    assert_eq!(sorted_ids(json!({"attributeName": "severity"})), ["a", "d", "c", "b"]);
    assert_eq!(sorted_ids(json!({"attributeName": "severity", "orderBy": "DESC"})), ["b", "c", "a", "d"]);
    // c has no updatedAt: first ascending, last descending.
    assert_eq!(sorted_ids(json!({"attributeName": "updatedAt", "orderBy": "ASC"})), ["c", "a", "d", "b"]);
    assert_eq!(sorted_ids(json!({"attributeName": "updatedAt", "orderBy": "DESC"})), ["b", "a", "d", "c"]);
    assert_eq!(sorted_ids(json!({"attributeName": "type"})), ["c", "d", "a", "b"]);
    // Absent archived counts as false: false (a, c, d by id) before true (b).
    assert_eq!(sorted_ids(json!({"attributeName": "service.archived"})), ["a", "c", "d", "b"]);
    let s = sort(None).unwrap();
    let f = fixtures();
    assert_eq!(compare_for_sort(&f[0], &f[0], &s), Ordering::Equal);
}

#[test]
fn legacy_range_operators_take_epoch_milliseconds() {
    // Modelled as 32-bit, but GuardDuty scripts pass epoch ms through `gte`/`lt`: accepted as 64-bit.
    let b_updated = 1_590_969_600_000i64; // 2020-06-01T00:00:00Z
    assert_eq!(select(json!({"updatedAt": {"gte": b_updated}})), vec!["b"]);
    assert_eq!(select(json!({"updatedAt": {"lt": b_updated}})), vec!["a", "d"]);
}
