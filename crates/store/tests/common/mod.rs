//! Builders shared by the store tests.
#![allow(dead_code)]
use std::collections::BTreeMap;

use tempfile::TempDir;
use vedette_domain::model;
use vedette_domain::{DetectorConfig, Evidence, Occurrence, Scope, time};
use vedette_store::{SqliteStore, Store};

pub fn open() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    (dir, store)
}

pub fn scope() -> Scope {
    Scope::new("111122223333", "us-east-1")
}

pub fn detector(store: &SqliteStore, scope: &Scope) -> String {
    store.create_detector(scope, DetectorConfig::default(), BTreeMap::new(), None).unwrap().id
}

/// A 32-hex finding id made from a number.
pub fn fid(n: u64) -> String {
    format!("{n:032x}")
}

/// An AccessKey finding with the attributes the tests vary.
pub fn finding(detector_id: &str, id: &str, ty: &str, severity: f64, updated_ms: i64) -> model::Finding {
    model::Finding {
        account_id: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        partition: Some("aws".into()),
        schema_version: Some("2.0".into()),
        id: Some(id.into()),
        arn: Some(scope().finding_arn(detector_id, id)),
        r#type: Some(ty.into()),
        severity: Some(severity),
        title: Some(format!("title of {ty}")),
        description: Some("description".into()),
        created_at: Some(time::iso_ms(updated_ms - 1000)),
        updated_at: Some(time::iso_ms(updated_ms)),
        resource: Some(model::Resource {
            resource_type: Some("AccessKey".into()),
            access_key_details: Some(model::AccessKeyDetails {
                access_key_id: Some(format!("AKIA{}", &id[id.len() - 8..])),
                principal_id: Some("AIDAEXAMPLE".into()),
                user_name: Some("alice".into()),
                user_type: Some("IAMUser".into()),
            }),
            ..Default::default()
        }),
        service: Some(model::Service {
            service_name: Some("guardduty".into()),
            detector_id: Some(detector_id.into()),
            archived: Some(false),
            count: Some(1),
            event_first_seen: Some(time::iso_ms(updated_ms - 2000)),
            event_last_seen: Some(time::iso_ms(updated_ms - 1000)),
            resource_role: Some("TARGET".into()),
            action: Some(model::Action {
                action_type: Some("AWS_API_CALL".into()),
                aws_api_call_action: Some(model::AwsApiCallAction {
                    api: Some("ListBuckets".into()),
                    service_name: Some("s3.amazonaws.com".into()),
                    caller_type: Some("Remote IP".into()),
                    error_code: Some("AccessDenied".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn occurrence(detector_id: &str, finding: model::Finding) -> Occurrence {
    let event_time_ms = finding.updated_at.as_deref().and_then(time::parse_iso_ms).unwrap_or(0);
    Occurrence { detector_id: detector_id.into(), finding, event_time_ms, evidence: Evidence::default() }
}

pub fn insert(store: &SqliteStore, detector_id: &str, findings: Vec<model::Finding>) {
    let occurrences: Vec<Occurrence> = findings.into_iter().map(|f| occurrence(detector_id, f)).collect();
    store.apply(&occurrences, None).unwrap();
}
