//! Detection from lists, feeds and AWS ranges, and GeoIP enrichment:
//! the domain rules, on CloudTrail records built here.
use std::net::IpAddr;

use serde_json::{Value, json};
use vedette_domain::cloudtrail::parse_record;
use vedette_domain::detect::{self, DetectContext, DetectorLists, FEED_KINDS, Feed, Intel, ListNets, NamedSet, OperatorIntel};
use vedette_domain::finding_types as ft;
use vedette_domain::geo::{GeoInfo, GeoLookup};
use vedette_domain::intel::{IpNet, IpSet};
use vedette_domain::{Occurrence, model};

const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";
/// Public addresses (the documentation ranges are not publicly routable, so lists ignore them).
const BAD_IP: &str = "185.220.101.50";
const OTHER_BAD_IP: &str = "45.95.147.10";
const CLEAN_IP: &str = "81.2.69.142";

fn record(patch: Value) -> String {
    let mut base = json!({
        "eventVersion": "1.08",
        "eventTime": "2024-03-01T10:20:30Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "GetUser",
        "awsRegion": "us-east-1",
        "sourceIPAddress": BAD_IP,
        "userAgent": "aws-cli/2.15.0",
        "eventID": "11111111-2222-3333-4444-555555555555",
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "userIdentity": {
            "type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": "alice"
        },
        "requestParameters": null,
        "responseElements": null
    });
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base.to_string()
}

fn set(entries: &[&str]) -> IpSet {
    IpSet::from_nets(entries.iter().map(|e| e.parse::<IpNet>().unwrap()))
}

fn named(name: &str, entries: &[&str]) -> NamedSet {
    NamedSet { name: name.into(), file_sha256: sha(name), set: set(entries).into() }
}

fn threat(name: &str, entries: &[&str]) -> ListNets {
    ListNets { name: name.into(), file_sha256: sha(name), nets: entries.iter().map(|e| e.parse().unwrap()).collect() }
}

fn sha(name: &str) -> String {
    format!("{:0>64}", name.len())
}

fn lists(trusted: &[&str], threat: Vec<ListNets>) -> DetectorLists {
    DetectorLists::build(trusted.iter().map(|e| e.parse().unwrap()).collect(), threat)
}

fn detect_with(json: &str, operator: &OperatorIntel, lists: &DetectorLists) -> Vec<Occurrence> {
    let r = parse_record(json.as_bytes()).unwrap();
    let ctx = DetectContext { detector_id: DETECTOR, now_ms: 1_800_000_000_000, source: "test.json", position: 1, intel: Intel { operator, lists } };
    detect::detect(&r, &ctx)
}

fn types(occs: &[Occurrence]) -> Vec<&str> {
    let mut t: Vec<&str> = occs.iter().map(|o| o.finding.r#type.as_deref().unwrap()).collect();
    t.sort();
    t
}

fn api(o: &Occurrence) -> &model::AwsApiCallAction {
    o.finding.service.as_ref().unwrap().action.as_ref().unwrap().aws_api_call_action.as_ref().unwrap()
}

fn additional_info(o: &Occurrence) -> Value {
    let value = o.finding.service.as_ref().unwrap().additional_info.as_ref().unwrap().value.as_deref().unwrap();
    serde_json::from_str(value).unwrap()
}

fn threat_details(o: &Occurrence) -> &[model::ThreatIntelligenceDetail] {
    o.finding.service.as_ref().unwrap().evidence.as_ref().unwrap().threat_intelligence_details.as_deref().unwrap()
}

#[test]
fn threat_list_caller_raises_recon_for_list_and_describe_calls_and_unauthorized_access_otherwise() {
    let operator = OperatorIntel::default();
    let lists = lists(&[], vec![threat("bad-actors", &[BAD_IP])]);
    for (source, name, expected) in [
        ("iam.amazonaws.com", "ListUsers", ft::RECON_MALICIOUS_IP_CALLER_CUSTOM),
        ("ec2.amazonaws.com", "DescribeInstances", ft::RECON_MALICIOUS_IP_CALLER_CUSTOM),
        ("s3.amazonaws.com", "ListBuckets", ft::RECON_MALICIOUS_IP_CALLER_CUSTOM),
        // AWS's tester: `iam get-user` from a threat-list address is UnauthorizedAccess.
        ("iam.amazonaws.com", "GetUser", ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM),
        ("iam.amazonaws.com", "CreateAccessKey", ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM),
        ("ec2.amazonaws.com", "RunInstances", ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM),
    ] {
        let occs = detect_with(&record(json!({"eventSource": source, "eventName": name})), &operator, &lists);
        assert_eq!(types(&occs), [expected], "{name}");
        assert!(detect::intel::is_recon_api(name) == (expected == ft::RECON_MALICIOUS_IP_CALLER_CUSTOM));
    }
}

#[test]
fn a_custom_finding_names_its_list_and_carries_the_failed_calls_error_code() {
    let operator = OperatorIntel::default();
    let lists = lists(&[], vec![threat("bad-actors", &["185.220.101.0/24"])]);
    let failed = record(json!({"eventName": "DeleteTrail", "eventSource": "cloudtrail.amazonaws.com", "errorCode": "AccessDenied"}));
    let occs = detect_with(&failed, &operator, &lists);
    assert_eq!(types(&occs), [ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM]);
    let o = &occs[0];
    assert_eq!(api(o).error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(api(o).remote_ip_details.as_ref().unwrap().ip_address_v4.as_deref(), Some(BAD_IP));
    let info = additional_info(o);
    assert_eq!(info["threatListName"], "bad-actors");
    assert_eq!(info["vedette"]["rule"], "threat-list-caller", "evidence kept beside the list name");
    let details = threat_details(o);
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].threat_list_name.as_deref(), Some("bad-actors"));
    assert_eq!(details[0].threat_file_sha256.as_deref(), Some(lists.threat[0].file_sha256.as_str()));
    assert_eq!(details[0].threat_names.as_deref(), Some(&[][..]));

    let ok = detect_with(&record(json!({"eventName": "DeleteTrail", "eventSource": "cloudtrail.amazonaws.com"})), &operator, &lists);
    assert_eq!(api(&ok[0]).error_code, None, "a successful call's finding has no errorCode");
}

#[test]
fn every_list_holding_the_caller_is_named_and_the_first_by_name_is_the_threat_list_name() {
    let operator = OperatorIntel::default();
    let lists = lists(&[], vec![threat("zeta", &[BAD_IP]), threat("alpha", &["185.220.101.0/24"]), threat("other", &[OTHER_BAD_IP])]);
    let occs = detect_with(&record(json!({})), &operator, &lists);
    assert_eq!(occs.len(), 1);
    assert_eq!(additional_info(&occs[0])["threatListName"], "alpha");
    let names: Vec<&str> = threat_details(&occs[0]).iter().map(|d| d.threat_list_name.as_deref().unwrap()).collect();
    assert_eq!(names, ["alpha", "zeta"]);
    let other = detect_with(&record(json!({"sourceIPAddress": OTHER_BAD_IP})), &operator, &lists);
    assert_eq!(additional_info(&other[0])["threatListName"], "other");
    assert!(detect_with(&record(json!({"sourceIPAddress": CLEAN_IP})), &operator, &lists).is_empty());
}

#[test]
fn the_trusted_list_wins_over_threat_lists_and_silences_every_cloudtrail_finding_of_that_ip() {
    let operator = OperatorIntel::default();
    let root = json!({"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333", "accessKeyId": "ASIAROOT"});
    let trusted_and_threat = lists(&["185.220.101.0/24"], vec![threat("bad-actors", &[BAD_IP])]);
    assert!(detect_with(&record(json!({})), &operator, &trusted_and_threat).is_empty());
    assert!(detect_with(&record(json!({"userIdentity": root})), &operator, &trusted_and_threat).is_empty(), "root usage from a trusted IP");

    // The same records without the trusted list raise both.
    let threat_only = lists(&[], vec![threat("bad-actors", &[BAD_IP])]);
    assert_eq!(
        types(&detect_with(&record(json!({"userIdentity": root})), &operator, &threat_only)),
        [ft::ROOT_CREDENTIAL_USAGE, ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM]
    );
    // A trusted list that does not hold the caller changes nothing.
    let other_trusted = lists(&[CLEAN_IP], vec![threat("bad-actors", &[BAD_IP])]);
    assert_eq!(types(&detect_with(&record(json!({})), &operator, &other_trusted)), [ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM]);
}

#[test]
fn lists_ignore_addresses_that_are_not_publicly_routable() {
    let operator = OperatorIntel::default();
    let private = lists(&[], vec![threat("everything", &["10.0.0.0/8", "192.0.2.0/24", "0.0.0.0/0"])]);
    for ip in ["10.1.2.3", "192.0.2.10", "127.0.0.1", "AWS Internal", "cloudformation.amazonaws.com"] {
        assert!(detect_with(&record(json!({"sourceIPAddress": ip})), &operator, &private).is_empty(), "{ip}");
    }
    assert_eq!(detect_with(&record(json!({"sourceIPAddress": CLEAN_IP})), &operator, &private).len(), 1, "0.0.0.0/0 holds public IPs");
    // A trusted list holding a private caller does not silence its findings either.
    let root = json!({"type": "Root", "principalId": "111122223333", "accountId": "111122223333", "accessKeyId": "ASIAROOT"});
    let trusted_private = lists(&["10.0.0.0/8"], vec![]);
    let occs = detect_with(&record(json!({"sourceIPAddress": "10.1.2.3", "userIdentity": root})), &operator, &trusted_private);
    assert_eq!(types(&occs), [ft::ROOT_CREDENTIAL_USAGE]);
}

#[test]
fn data_events_raise_no_list_finding() {
    let lists = lists(&[], vec![threat("bad-actors", &[BAD_IP])]);
    let data = record(json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventCategory": "Data", "managementEvent": false}));
    assert!(detect_with(&data, &OperatorIntel::default(), &lists).is_empty());
}

fn feed(kind: &str, name: &str, entries: &[&str]) -> Feed {
    Feed { kind: FEED_KINDS.iter().find(|k| k.name == kind).unwrap(), list: named(name, entries) }
}

#[test]
fn operator_feeds_raise_the_non_custom_types() {
    let operator = OperatorIntel {
        feeds: vec![feed("malicious", "malicious.txt", &[BAD_IP]), feed("tor", "tor-exits.txt", &[BAD_IP, OTHER_BAD_IP])],
        ..Default::default()
    };
    let none = lists(&[], vec![]);
    let recon = detect_with(&record(json!({"eventName": "ListRoles"})), &operator, &none);
    assert_eq!(types(&recon), [ft::RECON_MALICIOUS_IP_CALLER, ft::RECON_TOR_IP_CALLER]);
    let failed = record(json!({"eventName": "PutUserPolicy", "sourceIPAddress": OTHER_BAD_IP, "errorCode": "AccessDenied"}));
    let occs = detect_with(&failed, &operator, &none);
    assert_eq!(types(&occs), [ft::UNAUTHORIZED_TOR_IP_CALLER]);
    assert_eq!(api(&occs[0]).error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(additional_info(&occs[0])["threatListName"], "tor-exits.txt");
    assert!(detect_with(&record(json!({"sourceIPAddress": CLEAN_IP})), &operator, &none).is_empty());

    // Feeds and a customer list at once; the trusted list silences both.
    let with_list = lists(&[], vec![threat("mine", &[BAD_IP])]);
    assert_eq!(
        types(&detect_with(&record(json!({})), &operator, &with_list)),
        [ft::UNAUTHORIZED_MALICIOUS_IP_CALLER, ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM, ft::UNAUTHORIZED_TOR_IP_CALLER]
    );
    assert!(detect_with(&record(json!({})), &operator, &lists(&[BAD_IP], vec![])).is_empty());
}

fn instance_identity(session: &str, delivery: Option<&str>) -> Value {
    let mut context = json!({"sessionIssuer": {"type": "Role", "userName": "web-role",
        "arn": "arn:aws:iam::111122223333:role/web-role", "principalId": "AROAEXAMPLE"}});
    if let Some(d) = delivery {
        context["ec2RoleDelivery"] = json!(d);
    }
    json!({"type": "AssumedRole", "principalId": format!("AROAEXAMPLE:{session}"),
        "arn": format!("arn:aws:sts::111122223333:assumed-role/web-role/{session}"),
        "accountId": "111122223333", "accessKeyId": "ASIAINSTANCE", "sessionContext": context})
}

#[test]
fn instance_credentials_used_outside_aws() {
    let operator = OperatorIntel { aws_ranges: Some(set(&["3.5.140.0/22", "18.236.0.0/15", "2600:1f18::/33"])), ..Default::default() };
    let none = lists(&[], vec![]);
    let outside = record(json!({"eventName": "ListBuckets", "eventSource": "s3.amazonaws.com", "sourceIPAddress": CLEAN_IP,
        "userIdentity": instance_identity("i-0123456789abcdef0", Some("2.0")), "errorCode": "AccessDenied"}));
    let occs = detect_with(&outside, &operator, &none);
    assert_eq!(types(&occs), [ft::INSTANCE_CREDENTIAL_EXFILTRATION_OUTSIDE_AWS]);
    let f = &occs[0].finding;
    assert_eq!(f.severity, Some(8.0));
    let resource = f.resource.as_ref().unwrap();
    assert_eq!(resource.resource_type.as_deref(), Some("AccessKey"));
    assert_eq!(resource.instance_details.as_ref().unwrap().instance_id.as_deref(), Some("i-0123456789abcdef0"));
    assert_eq!(resource.access_key_details.as_ref().unwrap().access_key_id.as_deref(), Some("ASIAINSTANCE"));
    assert_eq!(api(&occs[0]).error_code.as_deref(), Some("AccessDenied"));

    // Session named after the instance without ec2RoleDelivery (older records): still instance credentials.
    let named_only = record(json!({"sourceIPAddress": CLEAN_IP, "userIdentity": instance_identity("i-0a1b2c3d", None)}));
    assert_eq!(types(&detect_with(&named_only, &operator, &none)), [ft::INSTANCE_CREDENTIAL_EXFILTRATION_OUTSIDE_AWS]);

    for (why, json) in [
        ("inside AWS", record(json!({"sourceIPAddress": "18.236.253.47", "userIdentity": instance_identity("i-0123456789abcdef0", Some("1.0"))}))),
        (
            "IPv6 inside AWS",
            record(json!({"sourceIPAddress": "2600:1f18::5", "userIdentity": instance_identity("i-0123456789abcdef0", Some("1.0"))})),
        ),
        ("private address", record(json!({"sourceIPAddress": "10.0.0.5", "userIdentity": instance_identity("i-0123456789abcdef0", Some("1.0"))}))),
        ("an ordinary role session", record(json!({"sourceIPAddress": CLEAN_IP, "userIdentity": instance_identity("deploy-session", None)}))),
        ("an IAM user", record(json!({"sourceIPAddress": CLEAN_IP}))),
        (
            "a service on the role's behalf",
            record(json!({"sourceIPAddress": "ec2.amazonaws.com", "userIdentity": instance_identity("i-0123456789abcdef0", Some("1.0"))})),
        ),
    ] {
        assert!(detect_with(&json, &operator, &none).is_empty(), "{why}");
    }
    // Without AWS's ranges the rule cannot tell inside from outside: silent.
    assert!(detect_with(&outside, &OperatorIntel::default(), &none).is_empty());
    // The trusted list silences it too.
    assert!(detect_with(&outside, &operator, &lists(&[CLEAN_IP], vec![])).is_empty());
}

/// A GeoIP database of two addresses (a test double for the MaxMind reader, which the ingest
/// tests exercise with a real .mmdb file).
struct TwoPlaces;

impl GeoLookup for TwoPlaces {
    fn lookup(&self, ip: IpAddr) -> GeoInfo {
        match ip.to_string().as_str() {
            BAD_IP => GeoInfo {
                city_name: Some("Berlin".into()),
                country_code: Some("DE".into()),
                country_name: Some("Germany".into()),
                lat: Some(52.52),
                lon: Some(13.405),
                accuracy_km: Some(20.0),
                asn: Some(208294),
                asn_org: Some("Example Hosting".into()),
                isp: None,
                org: None,
            },
            _ => GeoInfo::default(),
        }
    }
}

#[test]
fn remote_ip_details_are_enriched_from_geoip_and_omitted_without_it() {
    let operator = OperatorIntel { geo: Some(Box::new(TwoPlaces)), ..Default::default() };
    let root = json!({"type": "Root", "principalId": "111122223333", "accountId": "111122223333", "accessKeyId": "ASIAROOT"});
    let occs = detect_with(&record(json!({"userIdentity": root})), &operator, &lists(&[], vec![]));
    let details = api(&occs[0]).remote_ip_details.as_ref().unwrap();
    assert_eq!(details.city.as_ref().unwrap().city_name.as_deref(), Some("Berlin"));
    assert_eq!(details.country.as_ref().unwrap().country_code.as_deref(), Some("DE"));
    assert_eq!(details.country.as_ref().unwrap().country_name.as_deref(), Some("Germany"));
    assert_eq!(details.geo_location.as_ref().unwrap().lat, Some(52.52));
    let org = details.organization.as_ref().unwrap();
    assert_eq!(org.asn.as_deref(), Some("208294"));
    assert_eq!(org.asn_org.as_deref(), Some("Example Hosting"));
    assert_eq!((org.isp.as_deref(), org.org.as_deref()), (None, None), "not in the database: omitted");

    // An address the database does not know, and no database at all: only the address.
    let unknown = detect_with(&record(json!({"userIdentity": root, "sourceIPAddress": CLEAN_IP})), &operator, &lists(&[], vec![]));
    let bare = model::RemoteIpDetails { ip_address_v4: Some(CLEAN_IP.into()), ..Default::default() };
    assert_eq!(api(&unknown[0]).remote_ip_details.as_ref(), Some(&bare));
    let without = detect_with(&record(json!({"userIdentity": root})), &OperatorIntel::default(), &lists(&[], vec![]));
    let bare = model::RemoteIpDetails { ip_address_v4: Some(BAD_IP.into()), ..Default::default() };
    assert_eq!(api(&without[0]).remote_ip_details.as_ref(), Some(&bare));
}

#[test]
fn a_repeat_from_another_list_shows_the_latest_occurrences_list() {
    use vedette_domain::aggregate;
    let operator = OperatorIntel::default();
    let lists = lists(&[], vec![threat("first-list", &[BAD_IP]), threat("second-list", &[OTHER_BAD_IP])]);
    let early = detect_with(&record(json!({"eventTime": "2024-03-01T10:00:00Z", "eventID": "a"})), &operator, &lists).pop().unwrap();
    let late = detect_with(&record(json!({"eventTime": "2024-03-01T11:00:00Z", "eventID": "b", "sourceIPAddress": OTHER_BAD_IP})), &operator, &lists)
        .pop()
        .unwrap();
    assert_eq!(early.finding.id, late.finding.id, "one finding per caller (docs/findings.md#aggregation)");
    for (first, second) in [(&early, &late), (&late, &early)] {
        let mut stored = first.finding.clone();
        aggregate::merge(&mut stored, second, 1_800_000_000_001);
        let merged = Occurrence { finding: stored, ..late.clone() };
        assert_eq!(additional_info(&merged)["threatListName"], "second-list");
        assert_eq!(additional_info(&merged)["vedette"]["eventIds"], json!(["a", "b"]));
        assert_eq!(threat_details(&merged)[0].threat_list_name.as_deref(), Some("second-list"));
        assert_eq!(api(&merged).remote_ip_details.as_ref().unwrap().ip_address_v4.as_deref(), Some(OTHER_BAD_IP));
        assert_eq!(merged.finding.service.as_ref().unwrap().count, Some(2));
    }
}
