//! CreateSampleFindings samples: one per catalogue type, GuardDuty-shaped (docs/findings.md#finding-document, docs/api.md#sample-findings).
use serde_json::Value;
use vedette_domain::criteria::parse_criteria;
use vedette_domain::finding_types::{ActionKind, CATALOGUE, ResourceKind, lookup};
use vedette_domain::samples::sample_finding;
use vedette_domain::{Scope, ids, model};

const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";
const NOW_MS: i64 = 1_590_531_708_385; // 2020-05-26T22:21:48.385Z

fn scope() -> Scope {
    Scope::new("111122223333", "us-east-1")
}

/// Paths of every `null` in a JSON document.
fn nulls(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(path.to_string()),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, x)| nulls(x, &format!("{path}[{i}]"), out)),
        Value::Object(map) => map.iter().for_each(|(k, x)| nulls(x, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

#[test]
fn every_type_yields_a_well_formed_sample() {
    assert!(CATALOGUE.len() >= 80);
    for ty in CATALOGUE {
        let f = sample_finding(ty, &scope(), DETECTOR, NOW_MS);
        let json = serde_json::to_value(&f).unwrap();
        let mut found = Vec::new();
        nulls(&json, "", &mut found);
        assert!(found.is_empty(), "{}: nulls at {found:?}", ty.name);

        // Members GuardDuty's model requires in a Finding.
        for member in ["accountId", "arn", "createdAt", "id", "region", "resource", "schemaVersion", "severity", "type", "updatedAt"] {
            assert!(json.get(member).is_some(), "{}: no {member}", ty.name);
        }
        assert_eq!(json["schemaVersion"], "2.0");
        assert_eq!(json["type"], ty.name);
        assert_eq!(json["severity"], ty.severity);
        assert_eq!(json["createdAt"], "2020-05-26T22:21:48.385Z");
        assert_eq!(json["service"]["serviceName"], "guardduty");
        assert_eq!(json["service"]["detectorId"], DETECTOR);
        assert_eq!(json["service"]["count"], 1);
        assert_eq!(json["service"]["archived"], false);
        assert_eq!(json["service"]["resourceRole"], ty.role.as_str());
        assert_eq!(json["service"]["eventFirstSeen"], "2020-05-26T22:21:48.385Z");

        // Exactly one action sub-object, the one actionType names.
        let action = json["service"]["action"].as_object().unwrap();
        assert_eq!(action["actionType"], ty.action.as_str(), "{}", ty.name);
        let expected = match ty.action {
            ActionKind::AwsApiCall => "awsApiCallAction",
            ActionKind::NetworkConnection => "networkConnectionAction",
            ActionKind::PortProbe => "portProbeAction",
            ActionKind::DnsRequest => "dnsRequestAction",
        };
        let subs: Vec<&String> = action.keys().filter(|k| *k != "actionType").collect();
        assert_eq!(subs, [expected], "{}", ty.name);

        // additionalInfo is JSON text in `value`, marked as a sample.
        let info = &json["service"]["additionalInfo"];
        assert_eq!(info["type"], "default");
        let decoded: Value = serde_json::from_str(info["value"].as_str().unwrap()).unwrap();
        assert_eq!(decoded["sample"], true, "{}", ty.name);

        // The resource the type names, populated.
        let resource = &json["resource"];
        assert_eq!(resource["resourceType"], ty.resource.as_str());
        match ty.resource {
            ResourceKind::AccessKey => {
                assert_eq!(resource["accessKeyDetails"]["userName"], "GeneratedFindingUserName");
                assert_eq!(resource["accessKeyDetails"]["userType"], "IAMUser");
                assert_eq!(resource.get("s3BucketDetails").is_some(), ty.concerns_bucket(), "{}", ty.name);
                assert!(resource.get("instanceDetails").is_none());
            }
            ResourceKind::Instance => {
                let instance = &resource["instanceDetails"];
                assert_eq!(instance["instanceId"], "i-99999999");
                assert_eq!(instance["imageId"], "ami-99999999");
                assert_eq!(instance["networkInterfaces"][0]["networkInterfaceId"], "eni-bfcffe88");
                assert_eq!(instance["productCodes"][0]["productCodeId"], "GeneratedFindingProductCodeId");
                assert!(instance["launchTime"].as_str().unwrap().ends_with('Z'));
                assert!(resource.get("accessKeyDetails").is_none());
            }
            ResourceKind::S3Bucket => assert_eq!(resource["s3BucketDetails"][0]["name"], "bucketName"),
        }

        // Round-trips through the model unchanged.
        let back: model::Finding = serde_json::from_value(json).unwrap();
        assert_eq!(back, f);
    }
}

#[test]
fn api_call_samples_carry_an_error_code() {
    let mut seen = 0;
    for ty in CATALOGUE.iter().filter(|t| t.action == ActionKind::AwsApiCall) {
        let f = sample_finding(ty, &scope(), DETECTOR, NOW_MS);
        let call = f.service.unwrap().action.unwrap().aws_api_call_action.unwrap();
        assert_eq!(call.error_code.as_deref(), Some("AccessDenied"), "{}", ty.name);
        assert_eq!(call.api.as_deref(), Some("GeneratedFindingAPIName"));
        assert_eq!(call.remote_ip_details.unwrap().ip_address_v4.as_deref(), Some("198.51.100.0"));
        seen += 1;
    }
    assert!(seen > 20);
}

#[test]
fn custom_threat_list_samples_name_the_list() {
    for name in ["Recon:IAMUser/MaliciousIPCaller.Custom", "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"] {
        let json = serde_json::to_value(sample_finding(lookup(name).unwrap(), &scope(), DETECTOR, NOW_MS)).unwrap();
        let info: Value = serde_json::from_str(json["service"]["additionalInfo"]["value"].as_str().unwrap()).unwrap();
        let list = info["threatListName"].as_str().unwrap();
        assert_eq!(json["service"]["evidence"]["threatIntelligenceDetails"][0]["threatListName"], list);
    }
    let plain = sample_finding(lookup("Policy:IAMUser/RootCredentialUsage").unwrap(), &scope(), DETECTOR, NOW_MS);
    assert!(plain.service.unwrap().evidence.is_none());
}

#[test]
fn sample_ids_are_stable_per_detector_and_type() {
    let root = lookup("Policy:IAMUser/RootCredentialUsage").unwrap();
    let tor = lookup("Recon:IAMUser/TorIPCaller").unwrap();
    let a = sample_finding(root, &scope(), DETECTOR, NOW_MS);
    let again = sample_finding(root, &scope(), DETECTOR, NOW_MS + 60_000);
    let other_type = sample_finding(tor, &scope(), DETECTOR, NOW_MS);
    let other_detector = sample_finding(root, &scope(), "ffffffffffffffffffffffffffffffff", NOW_MS);
    assert_eq!(a.id, again.id);
    assert_ne!(a.id, other_type.id);
    assert_ne!(a.id, other_detector.id);
    let id = a.id.clone().unwrap();
    assert!(ids::is_well_formed_id(&id));
    assert_eq!(a.arn.unwrap(), format!("arn:aws:guardduty:us-east-1:111122223333:detector/{DETECTOR}/finding/{id}"));
    assert_ne!(a.updated_at, again.updated_at);
}

#[test]
fn partition_follows_the_region() {
    let ty = lookup("UnauthorizedAccess:EC2/SSHBruteForce").unwrap();
    let f = sample_finding(ty, &Scope::new("111122223333", "cn-north-1"), DETECTOR, NOW_MS);
    assert_eq!(f.partition.as_deref(), Some("aws-cn"));
    assert!(f.arn.unwrap().starts_with("arn:aws-cn:guardduty:cn-north-1:"));
    let conn = f.service.unwrap().action.unwrap().network_connection_action.unwrap();
    assert_eq!(conn.connection_direction.as_deref(), Some("INBOUND"));
    assert_eq!(conn.local_port_details.unwrap().port, Some(22));
}

#[test]
fn samples_are_selected_by_the_sample_criterion() {
    let criteria: model::FindingCriteria = serde_json::from_value(serde_json::json!({"criterion": {
        "service.additionalInfo.sample": {"equals": ["true"]},
        "service.action.awsApiCallAction.errorCode": {"equals": ["AccessDenied"]}
    }}))
    .unwrap();
    let criteria = parse_criteria(Some(&criteria)).unwrap();
    for ty in CATALOGUE {
        let f = sample_finding(ty, &scope(), DETECTOR, NOW_MS);
        assert_eq!(criteria.matches(&f), ty.action == ActionKind::AwsApiCall, "{}", ty.name);
    }
}
