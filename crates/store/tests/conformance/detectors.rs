//! Detector lifecycle, scoping and tags.

use std::collections::BTreeMap;

use crate::common::*;
use vedette_domain::{DetectorConfig, Scope};
use vedette_store::{Resource, Store, StoreError};

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn create_get_update_delete() {
    let store = open();
    let scope = scope();
    assert_eq!(store.detector_for(&scope).unwrap(), None);

    let config = DetectorConfig { finding_publishing_frequency: "FIFTEEN_MINUTES".into(), ..Default::default() };
    let created = store.create_detector(&scope, config.clone(), tags(&[("team", "sec")]), None).unwrap();
    assert_eq!(created.id.len(), 32);
    assert!(created.id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created.scope, scope);
    assert_eq!(created.config, config);
    assert_eq!(created.created_at_ms, created.updated_at_ms);

    let got = store.get_detector(&scope, &created.id).unwrap();
    assert_eq!(got, created);
    assert_eq!(store.detector_for(&scope).unwrap(), Some(created.clone()));

    let updated = DetectorConfig { enabled: false, ..config };
    store.update_detector(&scope, &created.id, updated.clone()).unwrap();
    let got = store.get_detector(&scope, &created.id).unwrap();
    assert_eq!(got.config, updated);
    assert!(got.updated_at_ms >= created.updated_at_ms);
    assert_eq!(got.created_at_ms, created.created_at_ms);

    store.delete_detector(&scope, &created.id).unwrap();
    assert!(matches!(store.get_detector(&scope, &created.id), Err(StoreError::NotFound(Resource::Detector))));
    assert!(matches!(store.delete_detector(&scope, &created.id), Err(StoreError::NotFound(Resource::Detector))));
    assert_eq!(store.detector_for(&scope).unwrap(), None);
    // The scope may have a detector again, with a new id.
    let again = detector(&store, &scope);
    assert_ne!(again, created.id);
}

#[test]
fn data_sources_and_features_round_trip() {
    let store = open();
    let config = DetectorConfig {
        data_sources: Some(vedette_domain::model::DataSourceConfigurations {
            s3_logs: Some(vedette_domain::model::S3LogsConfiguration { enable: Some(true) }),
            ..Default::default()
        }),
        features: Some(vec![vedette_domain::model::DetectorFeatureConfiguration {
            name: Some("S3_DATA_EVENTS".into()),
            status: Some("ENABLED".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let created = store.create_detector(&scope(), config.clone(), BTreeMap::new(), None).unwrap();
    assert_eq!(store.get_detector(&scope(), &created.id).unwrap().config, config);
}

#[test]
fn one_detector_per_scope_and_client_token_idempotency() {
    let store = open();
    let scope = scope();
    let first = store.create_detector(&scope, DetectorConfig::default(), BTreeMap::new(), Some("tok-1")).unwrap();
    let retry = store.create_detector(&scope, DetectorConfig::default(), BTreeMap::new(), Some("tok-1")).unwrap();
    assert_eq!(retry.id, first.id);
    assert!(matches!(
        store.create_detector(&scope, DetectorConfig::default(), BTreeMap::new(), Some("tok-2")),
        Err(StoreError::AlreadyExists(Resource::Detector))
    ));
    assert!(matches!(
        store.create_detector(&scope, DetectorConfig::default(), BTreeMap::new(), None),
        Err(StoreError::AlreadyExists(Resource::Detector))
    ));
    // Another region of the same account is another scope.
    let west = Scope::new(&scope.account_id, "us-west-2");
    let other = store.create_detector(&west, DetectorConfig::default(), BTreeMap::new(), Some("tok-1")).unwrap();
    assert_ne!(other.id, first.id);
}

#[test]
fn another_scopes_detector_is_not_found() {
    let store = open();
    let mine = scope();
    let theirs = Scope::new("444455556666", "us-east-1");
    let id = detector(&store, &mine);
    assert!(matches!(store.get_detector(&theirs, &id), Err(StoreError::NotFound(Resource::Detector))));
    assert!(matches!(store.update_detector(&theirs, &id, DetectorConfig::default()), Err(StoreError::NotFound(Resource::Detector))));
    assert!(matches!(store.delete_detector(&theirs, &id), Err(StoreError::NotFound(Resource::Detector))));
    assert_eq!(store.list_detectors(&theirs, 50, None).unwrap().items, Vec::<String>::new());
    assert_eq!(store.detector_for(&theirs).unwrap(), None);
    // Still there for its owner.
    assert_eq!(store.get_detector(&mine, &id).unwrap().id, id);
    assert_eq!(store.list_detectors(&mine, 50, None).unwrap().items, vec![id]);
}

#[test]
fn list_detectors_pages_and_rejects_foreign_tokens() {
    let store = open();
    let scope = scope();
    let id = detector(&store, &scope);
    let page = store.list_detectors(&scope, 1, None).unwrap();
    assert_eq!(page.items, vec![id.clone()]);
    assert_eq!(page.next_token, None);
    assert!(matches!(store.list_detectors(&scope, 1, Some("garbage")), Err(StoreError::BadToken)));
    assert!(matches!(store.list_detectors(&scope, 0, None), Err(StoreError::Invalid(_))));
}

#[test]
fn tags_by_arn() {
    let store = open();
    let scope = scope();
    let created = store.create_detector(&scope, DetectorConfig::default(), tags(&[("a", "1")]), None).unwrap();
    let arn = created.arn();
    assert_eq!(store.list_tags(&scope, &arn).unwrap(), tags(&[("a", "1")]));

    store.tag_resource(&scope, &arn, &tags(&[("a", "2"), ("b", "3")])).unwrap();
    assert_eq!(store.list_tags(&scope, &arn).unwrap(), tags(&[("a", "2"), ("b", "3")]));
    assert_eq!(store.get_detector(&scope, &created.id).unwrap().tags, tags(&[("a", "2"), ("b", "3")]));

    store.untag_resource(&scope, &arn, &["a".to_string(), "missing".to_string()]).unwrap();
    assert_eq!(store.list_tags(&scope, &arn).unwrap(), tags(&[("b", "3")]));

    // Tags of resources under the detector and of other resources.
    let filter_arn = format!("{arn}/filter/myfilter");
    let other = Scope::new("444455556666", "us-east-1");
    let other_detector = store.create_detector(&other, DetectorConfig::default(), tags(&[("x", "y")]), None).unwrap();
    store.tag_resource(&scope, &filter_arn, &tags(&[("f", "1")])).unwrap();

    store.delete_detector(&scope, &created.id).unwrap();
    assert!(store.list_tags(&scope, &arn).unwrap().is_empty());
    assert!(store.list_tags(&scope, &filter_arn).unwrap().is_empty());
    assert_eq!(store.list_tags(&other, &other_detector.arn()).unwrap(), tags(&[("x", "y")]));
}

#[test]
fn reset_wipes_everything() {
    let store = open();
    let scope = scope();
    let id = detector(&store, &scope);
    insert(&store, &id, vec![finding(&id, &fid(1), "Policy:IAMUser/RootCredentialUsage", 2.0, 1_700_000_000_000)]);
    store.reset().unwrap();
    assert_eq!(store.detector_for(&scope).unwrap(), None);
    assert!(store.get_findings(&id, &[fid(1)], None).unwrap().is_empty());
    // And the store keeps working.
    let again = detector(&store, &scope);
    insert(&store, &again, vec![finding(&again, &fid(1), "Policy:IAMUser/RootCredentialUsage", 2.0, 1_700_000_000_000)]);
    assert_eq!(store.get_findings(&again, &[fid(1)], None).unwrap().len(), 1);
}
