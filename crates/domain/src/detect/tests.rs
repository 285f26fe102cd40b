//! Per-rule tests: positive, near-miss negative, failed vs successful call.
use serde_json::{Value, json};

use super::*;
use crate::cloudtrail::parse_record;

const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";

/// A successful IAM-user call; `patch` overrides or adds top-level members.
pub(crate) fn record(patch: Value) -> String {
    let mut base = json!({
        "eventVersion": "1.08",
        "eventTime": "2024-03-01T10:20:30Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "GetUser",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0-18-amd64 exe/x86_64.debian.12",
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

fn run(json: &str) -> Vec<Occurrence> {
    let r = parse_record(json.as_bytes()).unwrap();
    let ctx = DetectContext { detector_id: DETECTOR, now_ms: 1_800_000_000_000, source: "test.json", position: 3, intel: Intel::none() };
    detect(&r, &ctx)
}

fn types(json: &str) -> Vec<String> {
    run(json).into_iter().map(|o| o.finding.r#type.unwrap()).collect()
}

fn api(o: &Occurrence) -> &model::AwsApiCallAction {
    o.finding.service.as_ref().unwrap().action.as_ref().unwrap().aws_api_call_action.as_ref().unwrap()
}

const ROOT: &str =
    r#"{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":"ASIAROOT"}"#;

fn root_identity() -> Value {
    serde_json::from_str(ROOT).unwrap()
}

#[test]
fn ordinary_calls_raise_nothing() {
    assert!(run(&record(json!({}))).is_empty());
}

#[test]
fn root_usage_maps_the_finding_per_spec() {
    let occ = run(&record(json!({"userIdentity": root_identity(), "eventName": "ListUsers"})));
    assert_eq!(occ.len(), 1);
    let f = &occ[0].finding;
    assert_eq!(f.r#type.as_deref(), Some(ft::ROOT_CREDENTIAL_USAGE));
    assert_eq!(f.account_id.as_deref(), Some("111122223333"));
    assert_eq!(f.region.as_deref(), Some("us-east-1"));
    assert_eq!(f.partition.as_deref(), Some("aws"));
    assert_eq!(f.severity, Some(2.0));
    assert_eq!(f.schema_version.as_deref(), Some("2.0"));
    let id = f.id.clone().unwrap();
    assert!(ids::is_well_formed_id(&id));
    assert_eq!(f.arn.as_deref(), Some(format!("arn:aws:guardduty:us-east-1:111122223333:detector/{DETECTOR}/finding/{id}").as_str()));
    let resource = f.resource.as_ref().unwrap();
    assert_eq!(resource.resource_type.as_deref(), Some("AccessKey"));
    let key = resource.access_key_details.as_ref().unwrap();
    assert_eq!(key.access_key_id.as_deref(), Some("ASIAROOT"));
    assert_eq!(key.user_type.as_deref(), Some("Root"));
    assert!(resource.s3_bucket_details.is_none());
    let service = f.service.as_ref().unwrap();
    assert_eq!(service.service_name.as_deref(), Some("guardduty"));
    assert_eq!(service.detector_id.as_deref(), Some(DETECTOR));
    assert_eq!(service.resource_role.as_deref(), Some("TARGET"));
    assert_eq!(service.count, Some(1));
    assert_eq!(service.archived, Some(false));
    assert_eq!(service.event_first_seen.as_deref(), Some("2024-03-01T10:20:30.000Z"));
    assert_eq!(service.event_last_seen, service.event_first_seen);
    assert_eq!(service.action.as_ref().unwrap().action_type.as_deref(), Some("AWS_API_CALL"));
    let a = api(&occ[0]);
    assert_eq!(a.api.as_deref(), Some("ListUsers"));
    assert_eq!(a.service_name.as_deref(), Some("iam.amazonaws.com"));
    assert_eq!(a.caller_type.as_deref(), Some("Remote IP"));
    assert_eq!(a.remote_ip_details.as_ref().unwrap().ip_address_v4.as_deref(), Some("198.51.100.7"));
    assert_eq!(a.error_code, None);
    assert!(a.remote_account_details.is_none(), "caller is in the recipient account");
    let evidence = Evidence::from_finding(f).unwrap();
    assert_eq!(evidence.rule, "root-credential-usage");
    assert_eq!(evidence.event_ids, ["11111111-2222-3333-4444-555555555555"]);
    assert_eq!(evidence.sources, ["test.json:3"]);
    assert_eq!(occ[0].evidence, evidence);
}

#[test]
fn failed_call_carries_error_code_and_successful_one_does_not() {
    let failed = run(&record(json!({"userIdentity": root_identity(), "errorCode": "AccessDenied", "errorMessage": "no"})));
    let ok = run(&record(json!({"userIdentity": root_identity()})));
    assert_eq!(api(&failed[0]).error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(api(&ok[0]).error_code, None);
    let text = serde_json::to_string(&ok[0].finding).unwrap();
    assert!(!text.contains("errorCode"), "absent, not null: {text}");
    assert_eq!(failed[0].finding.id, ok[0].finding.id, "same activity, same resource: one finding");
}

#[test]
fn root_near_misses() {
    let service_event = record(json!({"userIdentity": root_identity(), "eventType": "AwsServiceEvent"}));
    assert!(run(&service_event).is_empty());
    let failed_login = record(json!({"userIdentity": root_identity(), "eventType": "AwsConsoleSignIn",
        "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "responseElements": {"ConsoleLogin": "Failure"}}));
    assert!(run(&failed_login).is_empty());
    let login = failed_login.replace("Failure", "Success");
    assert_eq!(types(&login), [ft::ROOT_CREDENTIAL_USAGE]);
    let data_event = record(json!({"userIdentity": root_identity(), "eventCategory": "Data", "managementEvent": false}));
    assert!(run(&data_event).is_empty());
    let assumed = record(json!({"userIdentity": {"type": "AssumedRole", "principalId": "AROA:root"}}));
    assert!(run(&assumed).is_empty());
}

#[test]
fn console_root_login_keys_on_principal_and_maps_domain_callers() {
    let login = record(json!({"userIdentity": {"type": "Root", "principalId": "111122223333", "accessKeyId": ""},
        "sourceIPAddress": "cloudformation.amazonaws.com", "eventType": "AwsConsoleSignIn",
        "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "responseElements": {"ConsoleLogin": "Success"}}));
    let occ = run(&login);
    let a = api(&occ[0]);
    assert_eq!(a.caller_type.as_deref(), Some("Domain"));
    assert_eq!(a.domain_details.as_ref().unwrap().domain.as_deref(), Some("cloudformation.amazonaws.com"));
    assert!(a.remote_ip_details.is_none());
    let key = occ[0].finding.resource.as_ref().unwrap().access_key_details.as_ref().unwrap();
    assert_eq!(key.access_key_id, None, "empty accessKeyId is absent");
    let other_principal = login.replace("\"principalId\":\"111122223333\"", "\"principalId\":\"999\"");
    assert_ne!(run(&other_principal)[0].finding.id, occ[0].finding.id);
}

#[test]
fn remote_account_and_ipv6_and_user_name_fallback() {
    let occ = run(&record(json!({
        "userIdentity": {"type": "AssumedRole", "principalId": "AROA:s", "accountId": "444455556666", "accessKeyId": "ASIAX",
            "sessionContext": {"sessionIssuer": {"userName": "deployer"}}},
        "sourceIPAddress": "2001:db8::1",
        "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "requestParameters": {"name": "main"}})));
    let a = api(&occ[0]);
    assert_eq!(a.remote_account_details.as_ref().unwrap().account_id.as_deref(), Some("444455556666"));
    assert_eq!(a.remote_ip_details.as_ref().unwrap().ip_address_v6.as_deref(), Some("2001:db8::1"));
    let key = occ[0].finding.resource.as_ref().unwrap().access_key_details.as_ref().unwrap();
    assert_eq!(key.user_name.as_deref(), Some("deployer"));
}

fn trail_call(name: &str, extra: Value) -> String {
    let mut patch = json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": name, "requestParameters": {"name": "org-trail"}});
    for (k, v) in extra.as_object().unwrap() {
        patch[k] = v.clone();
    }
    record(patch)
}

#[test]
fn cloudtrail_logging_disabled() {
    for name in ["StopLogging", "DeleteTrail"] {
        let occ = run(&trail_call(name, json!({})));
        assert_eq!(occ.len(), 1, "{name}");
        assert_eq!(occ[0].finding.r#type.as_deref(), Some(ft::CLOUDTRAIL_LOGGING_DISABLED));
        assert_eq!(api(&occ[0]).affected_resources.as_ref().unwrap()["AWS::CloudTrail::Trail"], "org-trail");
    }
    assert!(run(&trail_call("StopLogging", json!({"errorCode": "AccessDenied"}))).is_empty(), "failed: logging still on");
    for name in ["UpdateTrail", "PutEventSelectors", "StartLogging", "DescribeTrails"] {
        assert!(run(&trail_call(name, json!({}))).is_empty(), "{name}");
    }
    let wrong_source = record(json!({"eventSource": "ec2.amazonaws.com", "eventName": "StopLogging"}));
    assert!(run(&wrong_source).is_empty());
}

#[test]
fn root_stop_logging_failure_raises_root_usage_only_with_its_error_code() {
    let occ = run(&trail_call("StopLogging", json!({"userIdentity": root_identity(), "errorCode": "NotOrganizationMasterAccountException"})));
    assert_eq!(occ.len(), 1);
    assert_eq!(occ[0].finding.r#type.as_deref(), Some(ft::ROOT_CREDENTIAL_USAGE));
    assert_eq!(api(&occ[0]).error_code.as_deref(), Some("NotOrganizationMasterAccountException"));
    let ok = types(&trail_call("StopLogging", json!({"userIdentity": root_identity()})));
    assert_eq!(ok, [ft::ROOT_CREDENTIAL_USAGE, ft::CLOUDTRAIL_LOGGING_DISABLED]);
}

fn password_update(params: Value) -> String {
    record(json!({"eventName": "UpdateAccountPasswordPolicy", "requestParameters": params}))
}

#[test]
fn password_policy_severity_scale() {
    let severity = |json: &str| run(json).first().and_then(|o| o.finding.severity);
    // AWS's tester: minimum length 6, nothing else.
    assert_eq!(severity(&password_update(json!({"minimumPasswordLength": 6}))), Some(8.0));
    assert_eq!(severity(&record(json!({"eventName": "DeleteAccountPasswordPolicy"}))), Some(5.0));
    let strong = json!({"minimumPasswordLength": 14, "requireSymbols": true, "requireNumbers": true,
        "requireUppercaseCharacters": true, "requireLowercaseCharacters": true, "passwordReusePrevention": 24});
    assert_eq!(severity(&password_update(strong.clone())), None, "a strong policy is no weakening");
    let mut fair = strong.clone();
    fair["minimumPasswordLength"] = json!(12);
    fair["requireSymbols"] = json!("false");
    assert_eq!(severity(&password_update(fair)), Some(2.0));
    let mut medium = strong;
    medium["minimumPasswordLength"] = json!(8);
    medium["passwordReusePrevention"] = json!(0);
    assert_eq!(severity(&password_update(medium)), Some(5.0));
    assert_eq!(severity(&password_update(Value::Null)), Some(8.0), "no parameters: IAM defaults");
}

#[test]
fn password_policy_attempts_count_with_error_code() {
    let occ = run(&record(json!({"eventName": "DeleteAccountPasswordPolicy", "errorCode": "AccessDenied"})));
    assert_eq!(occ[0].finding.r#type.as_deref(), Some(ft::PASSWORD_POLICY_CHANGE));
    assert_eq!(api(&occ[0]).error_code.as_deref(), Some("AccessDenied"));
    assert!(run(&record(json!({"eventName": "GetAccountPasswordPolicy"}))).is_empty());
}

#[test]
fn pentest_user_agents() {
    let ua = |ua: &str| types(&record(json!({"userAgent": ua})));
    let tester = "aws-cli/2.23.6 md/awscrt#1.0.0.dev0 ua/2.0 os/linux#6.12.13-cloud-amd64 md/arch#x86_64 lang/python#3.13.2 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/distrib#kali.2025 md/prompt#off md/command#iam.get-user";
    assert_eq!(ua(tester), [ft::PENTEST_KALI_LINUX]);
    assert_eq!(ua("aws-cli/1.18.69 Python/3.8.2 Linux/5.4.0-kali4-amd64 botocore/1.16.19"), [ft::PENTEST_KALI_LINUX]);
    assert_eq!(ua("aws-cli/2.9.0 Python/3.9.11 Linux/6.0.0-12parrot1-amd64 exe/x86_64.parrot.5 prompt/off"), [ft::PENTEST_PARROT_LINUX]);
    assert_eq!(ua("Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.6.13-pentoo lang/python#3.12"), [ft::PENTEST_PENTOO_LINUX]);
    assert!(ua("aws-cli/2.13.0 Python/3.11.4 Linux/5.10.0-1234-aws exe/x86_64.ubuntu.22").is_empty());
    assert!(ua("aws-sdk-go/1.44 (go1.20; linux; amd64) kalimba-uploader/1.0 bucket/parrot-photos").is_empty(), "names elsewhere do not count");
    let failed = run(&record(json!({"userAgent": tester, "errorCode": "AccessDenied"})));
    assert_eq!(api(&failed[0]).error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(failed[0].finding.severity, Some(5.0));
}

fn s3_call(name: &str, params: Value, extra: Value) -> String {
    let mut patch = json!({"eventSource": "s3.amazonaws.com", "eventName": name, "requestParameters": params});
    for (k, v) in extra.as_object().unwrap() {
        patch[k] = v.clone();
    }
    record(patch)
}

fn off_config(flags: [bool; 4]) -> Value {
    json!({"bucketName": "b1", "PublicAccessBlockConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
        "BlockPublicAcls": flags[0], "IgnorePublicAcls": flags[1], "BlockPublicPolicy": flags[2], "RestrictPublicBuckets": flags[3]}})
}

#[test]
fn bucket_block_public_access() {
    let occ = run(&s3_call("PutBucketPublicAccessBlock", off_config([false; 4]), json!({})));
    assert_eq!(occ.len(), 1);
    assert_eq!(occ[0].finding.r#type.as_deref(), Some(ft::BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED));
    let bucket = &occ[0].finding.resource.as_ref().unwrap().s3_bucket_details.as_ref().unwrap()[0];
    assert_eq!(bucket.name.as_deref(), Some("b1"));
    assert_eq!(bucket.arn.as_deref(), Some("arn:aws:s3:::b1"));
    assert_eq!(api(&occ[0]).affected_resources.as_ref().unwrap()["AWS::S3::Bucket"], "b1");
    assert_eq!(types(&s3_call("PutBucketPublicAccessBlock", off_config([true, true, false, true]), json!({}))).len(), 1);
    assert!(run(&s3_call("PutBucketPublicAccessBlock", off_config([true; 4]), json!({}))).is_empty());
    assert!(run(&s3_call("PutBucketPublicAccessBlock", json!({"bucketName": "b1"}), json!({}))).is_empty(), "no config");
    assert_eq!(types(&s3_call("DeleteBucketPublicAccessBlock", json!({"bucketName": "b1"}), json!({}))).len(), 1);
    assert!(run(&s3_call("DeleteBucketPublicAccessBlock", json!({"bucketName": "b1"}), json!({"errorCode": "AccessDenied"}))).is_empty());
    assert!(run(&s3_call("DeleteBucketPublicAccessBlock", json!({"bucketName": "b1"}), json!({"eventSource": "ec2.amazonaws.com"}))).is_empty());
    // Same bucket, different callers: one finding (keyed on the bucket).
    let other_caller = s3_call("DeleteBucketPublicAccessBlock", json!({"bucketName": "b1"}), json!({"userIdentity": root_identity()}));
    let by_type: Vec<_> =
        run(&other_caller).into_iter().filter(|o| o.finding.r#type.as_deref() == Some(ft::BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED)).collect();
    assert_eq!(by_type[0].finding.id, occ[0].finding.id);
}

#[test]
fn account_block_public_access() {
    let mut params = off_config([false; 4]);
    params.as_object_mut().unwrap().remove("bucketName");
    let occ = run(&s3_call("PutAccountPublicAccessBlock", params.clone(), json!({})));
    assert_eq!(occ[0].finding.r#type.as_deref(), Some(ft::ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED));
    assert!(occ[0].finding.resource.as_ref().unwrap().s3_bucket_details.is_none());
    let other_caller = run(&s3_call("DeleteAccountPublicAccessBlock", Value::Null, json!({"userIdentity": root_identity()})));
    let account_hit = other_caller.iter().find(|o| o.finding.r#type.as_deref() == Some(ft::ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED)).unwrap();
    assert_eq!(account_hit.finding.id, occ[0].finding.id, "keyed on the account");
    assert!(run(&s3_call("PutAccountPublicAccessBlock", params, json!({"errorCode": "AccessDenied"}))).is_empty());
}

#[test]
fn bucket_policy_and_acl_grants() {
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b1/*"}]});
    let occ = run(&s3_call("PutBucketPolicy", json!({"bucketName": "b1", "bucketPolicy": policy, "policy": [""]}), json!({})));
    assert_eq!(occ[0].finding.r#type.as_deref(), Some(ft::BUCKET_ANONYMOUS_ACCESS_GRANTED));
    assert_eq!(occ[0].finding.severity, Some(8.0));
    let bucket = &occ[0].finding.resource.as_ref().unwrap().s3_bucket_details.as_ref().unwrap()[0];
    assert_eq!(bucket.public_access.as_ref().unwrap().effective_permission.as_deref(), Some("PUBLIC"));
    let escaped = json!({"bucketName": "b1", "bucketPolicy": policy.to_string()});
    assert_eq!(types(&s3_call("PutBucketPolicy", escaped.clone(), json!({}))), [ft::BUCKET_ANONYMOUS_ACCESS_GRANTED]);
    assert!(run(&s3_call("PutBucketPolicy", escaped, json!({"errorCode": "AccessDenied"}))).is_empty());
    let authenticated = json!({"bucketName": "b1", "AccessControlPolicy": {"AccessControlList": {"Grant":
        {"Grantee": {"xsi:type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}, "Permission": "READ"}}}});
    assert_eq!(types(&s3_call("PutBucketAcl", authenticated, json!({}))), [ft::BUCKET_PUBLIC_ACCESS_GRANTED]);
    assert!(run(&s3_call("PutBucketAcl", json!({"bucketName": "b1", "x-amz-acl": ["private"]}), json!({}))).is_empty());
    assert_eq!(
        types(&s3_call("CreateBucket", json!({"bucketName": "b1", "x-amz-acl": ["public-read"]}), json!({}))),
        [ft::BUCKET_ANONYMOUS_ACCESS_GRANTED]
    );
}

#[test]
fn server_access_logging() {
    let disabled = json!({"bucketName": "b1", "BucketLoggingStatus": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}, "logging": ""});
    assert_eq!(types(&s3_call("PutBucketLogging", disabled.clone(), json!({}))), [ft::SERVER_ACCESS_LOGGING_DISABLED]);
    assert!(run(&s3_call("PutBucketLogging", disabled, json!({"errorCode": "AccessDenied"}))).is_empty());
    let enabled = json!({"bucketName": "b1", "BucketLoggingStatus": {"LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "b1/"}}});
    assert!(run(&s3_call("PutBucketLogging", enabled, json!({}))).is_empty());
    assert!(run(&s3_call("PutBucketLogging", json!({"bucketName": "b1"}), json!({}))).is_empty(), "no status: cannot tell");
}

#[test]
fn every_rule_raises_catalogue_types_only() {
    for rule in RULES {
        for ty in rule.finding_types {
            let entry = ft::lookup(ty).unwrap_or_else(|| panic!("{ty} not in the catalogue"));
            assert_eq!(entry.action, ft::ActionKind::AwsApiCall);
        }
    }
}

#[test]
fn records_missing_routing_fields_are_reported() {
    let r = record(json!({"recipientAccountId": null}));
    assert_eq!(missing_field(&parse_record(r.as_bytes()).unwrap()), Some("recipientAccountId"));
    let r = record(json!({"eventTime": null}));
    assert_eq!(missing_field(&parse_record(r.as_bytes()).unwrap()), Some("eventTime"));
    let r = record(json!({"eventTime": "yesterday", "userIdentity": root_identity()}));
    let parsed = parse_record(r.as_bytes()).unwrap();
    assert_eq!(event_time_ms(&parsed), None);
    assert!(run(&r).is_empty(), "no finding without a time");
    assert_eq!(missing_field(&parse_record(record(json!({})).as_bytes()).unwrap()), None);
}
