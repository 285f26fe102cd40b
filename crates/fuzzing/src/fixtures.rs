//! Fixed data the targets evaluate fuzzed input against.
use std::sync::{Arc, OnceLock};

use vedette_domain::detect::intel::{ListNets, feed_kind};
use vedette_domain::detect::{self, DetectContext, DetectorLists, Feed, Intel, NamedSet, OperatorIntel};
use vedette_domain::intel::{IpNet, IpSet};
use vedette_domain::{Scope, cloudtrail, finding_types, model, samples};

pub const DETECTOR_ID: &str = "12abc34d567e8fa901bc2d34e56789f0";
/// 2026-01-01T00:00:00Z: fixed, so a run is reproducible.
pub const NOW_MS: i64 = 1_767_225_600_000;

/// Findings of every shape Vedette stores: a sample of each catalogue type, and findings that
/// detection raised from CloudTrail records (failed and successful calls, archived, with
/// feedback), so criteria and sorts meet absent, present and list-valued attributes.
pub fn findings() -> &'static [model::Finding] {
    static FINDINGS: OnceLock<Vec<model::Finding>> = OnceLock::new();
    FINDINGS.get_or_init(|| {
        let scope = Scope::new("111122223333", "us-east-1");
        let mut all: Vec<model::Finding> = finding_types::CATALOGUE
            .iter()
            .enumerate()
            .map(|(i, ty)| samples::sample_finding(ty, &scope, DETECTOR_ID, NOW_MS - i as i64 * 60_000))
            .collect();
        for (i, record) in RECORDS.iter().enumerate() {
            let record = cloudtrail::parse_record(record.as_bytes()).expect("fixture records parse");
            let ctx = DetectContext { detector_id: DETECTOR_ID, now_ms: NOW_MS, source: "fixture", position: i as u64 + 1, intel: Intel::none() };
            for mut occurrence in detect::detect(&record, &ctx) {
                occurrence.sync_evidence();
                all.push(occurrence.finding);
            }
        }
        assert!(all.len() > finding_types::CATALOGUE.len(), "the fixture records raise findings");
        for (i, finding) in all.iter_mut().enumerate() {
            let service = finding.service.get_or_insert_with(Default::default);
            match i % 3 {
                0 => service.archived = Some(true),
                1 => service.user_feedback = Some("USEFUL".into()),
                _ => {}
            }
        }
        all
    })
}

const RECORDS: &[&str] = &[
    r#"{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEROOT"},"eventTime":"2025-12-30T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15","errorCode":"AccessDenied","errorMessage":"Access Denied","eventID":"e1","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}"#,
    r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEALICE","userName":"alice"},"eventTime":"2025-12-30T11:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2.15 Python/3.11 Linux/6.6.9-amd64 kali","eventID":"e2","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}"#,
    r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEALICE","userName":"alice"},"eventTime":"2025-12-30T12:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"console.amazonaws.com","requestParameters":{"name":"main-trail"},"eventID":"e3","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}"#,
    r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:bob","arn":"arn:aws:sts::111122223333:assumed-role/admin/bob","accountId":"111122223333","accessKeyId":"ASIAEXAMPLEBOB","sessionContext":{"sessionIssuer":{"type":"Role","userName":"admin"}}},"eventTime":"2025-12-30T13:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.44","userAgent":"Boto3/1.34","requestParameters":{"bucketName":"open-bucket","policy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::open-bucket/*"}]}},"eventID":"e4","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}"#,
];

/// Detection context with lists and feeds, so records reach the rules that look their caller's
/// IP up: two threat lists and a trusted list (a detector's), Tor and malicious feeds and AWS
/// ranges (the operator's). Broad public ranges (lists apply to public addresses only), so
/// fuzzed addresses hit them often.
pub fn intel() -> Intel<'static> {
    static OPERATOR: OnceLock<OperatorIntel> = OnceLock::new();
    static LISTS: OnceLock<DetectorLists> = OnceLock::new();
    let nets = |nets: &[&str]| nets.iter().map(|n| n.parse::<IpNet>().expect("fixture networks parse")).collect::<Vec<_>>();
    let named = |name: &str, list: &[&str]| NamedSet { name: name.into(), file_sha256: "0".repeat(64), set: Arc::new(IpSet::from_nets(nets(list))) };
    let operator = OPERATOR.get_or_init(|| OperatorIntel {
        feeds: vec![
            Feed { kind: feed_kind("tor").expect("a feed kind"), list: named("tor-exits", &["185.220.0.0/16", "2a0b:f4c0::/32"]) },
            Feed { kind: feed_kind("malicious").expect("a feed kind"), list: named("bad", &["198.51.100.0/25", "64.0.0.0/3"]) },
        ],
        aws_ranges: Some(IpSet::from_nets(nets(&["52.0.0.0/8", "3.0.0.0/9", "2600:1f00::/24"]))),
        geo: None,
    });
    let lists = LISTS.get_or_init(|| {
        DetectorLists::build(
            nets(&["198.51.100.7/32", "10.0.0.0/8"]),
            vec![
                ListNets { name: "customer-a".into(), file_sha256: "a".repeat(64), nets: nets(&["198.51.100.0/24", "128.0.0.0/2"]) },
                ListNets { name: "customer-b".into(), file_sha256: "b".repeat(64), nets: nets(&["2001:db8::/32", "1.0.0.0/8"]) },
            ],
        )
    });
    Intel { operator, lists }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture intel is wired: a caller on a threat list raises the list's finding.
    #[test]
    fn a_caller_on_a_fixture_list_raises_a_finding() {
        let record = RECORDS[1].replace("203.0.113.9", "130.1.2.3");
        let record = cloudtrail::parse_record(record.as_bytes()).unwrap();
        let ctx = DetectContext { detector_id: DETECTOR_ID, now_ms: NOW_MS, source: "t", position: 1, intel: intel() };
        let types: Vec<String> = detect::detect(&record, &ctx).into_iter().filter_map(|o| o.finding.r#type).collect();
        assert!(types.iter().any(|t| t.ends_with("MaliciousIPCaller.Custom")), "{types:?}");
    }
}
