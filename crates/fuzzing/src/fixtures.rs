//! Fixed data the targets evaluate fuzzed input against.
use std::sync::OnceLock;

use vedette_domain::detect::{self, DetectContext, Intel};
use vedette_domain::{cloudtrail, finding_types, model, samples, Scope};

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
