//! Publishing destinations: one S3 destination per detector, idempotent creates, scoping,
//! publish outcomes by generation, paging, and going with the detector.
use std::collections::BTreeMap;

use crate::common::*;
use vedette_domain::{DetectorConfig, Scope};
use vedette_store::destinations::{DestinationProperties, PublishingStatus};
use vedette_store::{DestinationStore, Resource, Store, StoreError};

fn props(arn: &str) -> DestinationProperties {
    DestinationProperties { destination_arn: arn.into(), kms_key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(), expected_bucket_owner: None }
}

#[test]
fn one_s3_destination_per_detector_and_retried_creates_get_the_same() {
    let store = open();
    let did = detector(&store, &scope());
    let tags = BTreeMap::from([("team".to_string(), "sec".to_string())]);
    let d = store.create_destination(&scope(), &did, "S3", &props("arn:aws:s3:::b"), &tags, Some("tok")).unwrap();
    assert_eq!(d.status, PublishingStatus::PendingVerification);
    assert_eq!(d.tags, tags);
    assert_eq!(store.list_tags(&scope(), &d.arn()).unwrap(), tags);
    let again = store.create_destination(&scope(), &did, "S3", &props("arn:aws:s3:::other"), &BTreeMap::new(), Some("tok")).unwrap();
    assert_eq!(again.id, d.id);
    assert_eq!(again.properties.destination_arn, "arn:aws:s3:::b");
    for token in [None, Some("other")] {
        let err = store.create_destination(&scope(), &did, "S3", &props("arn:aws:s3:::c"), &BTreeMap::new(), token).unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists(Resource::PublishingDestination)), "{err:?}");
    }
    assert_eq!(store.get_destination(&scope(), &did, &d.id).unwrap(), d);
}

#[test]
fn foreign_detectors_and_unknown_destinations_are_told_apart() {
    let store = open();
    let did = detector(&store, &scope());
    let d = store.create_destination(&scope(), &did, "S3", &props("arn:aws:s3:::b"), &BTreeMap::new(), None).unwrap();
    let stranger = Scope::new("999999999999", "us-east-1");
    assert!(matches!(store.get_destination(&stranger, &did, &d.id), Err(StoreError::NotFound(Resource::Detector))));
    assert!(matches!(store.delete_destination(&stranger, &did, &d.id), Err(StoreError::NotFound(Resource::Detector))));
    assert!(matches!(store.list_destinations(&stranger, &did, 10, None), Err(StoreError::NotFound(Resource::Detector))));
    let unknown = store.get_destination(&scope(), &did, "0123456789abcdef0123456789abcdef").unwrap_err();
    assert!(matches!(unknown, StoreError::NotFound(Resource::PublishingDestination)), "{unknown:?}");
    store.delete_destination(&scope(), &did, &d.id).unwrap();
    assert!(matches!(store.delete_destination(&scope(), &did, &d.id), Err(StoreError::NotFound(Resource::PublishingDestination))));
    assert!(store.list_tags(&scope(), &d.arn()).unwrap().is_empty());
}

#[test]
fn outcomes_keep_the_first_failure_and_stale_generations_are_ignored() {
    let store = open();
    let did = detector(&store, &scope());
    let d = store.create_destination(&scope(), &did, "S3", &props("arn:aws:s3:::b"), &BTreeMap::new(), None).unwrap();
    assert!(store.record_publish_outcome(&d.id, d.generation, false, 1_000).unwrap());
    assert!(store.record_publish_outcome(&d.id, d.generation, false, 2_000).unwrap());
    let failing = store.get_destination(&scope(), &did, &d.id).unwrap();
    assert_eq!((failing.status, failing.failure_started_ms), (PublishingStatus::UnableToPublish, Some(1_000)));
    assert!(store.record_publish_outcome(&d.id, d.generation, true, 3_000).unwrap());
    let fine = store.get_destination(&scope(), &did, &d.id).unwrap();
    assert_eq!((fine.status, fine.failure_started_ms), (PublishingStatus::Publishing, None));

    let updated = store.update_destination(&scope(), &did, &d.id, &props("arn:aws:s3:::new/prefix")).unwrap();
    assert_eq!(updated.generation, d.generation + 1);
    assert_eq!(updated.status, PublishingStatus::PendingVerification);
    // An outcome learnt for the old bucket says nothing about the new one.
    assert!(!store.record_publish_outcome(&d.id, d.generation, false, 4_000).unwrap());
    assert_eq!(store.get_destination(&scope(), &did, &d.id).unwrap().status, PublishingStatus::PendingVerification);
}

#[test]
fn lists_page_by_id_and_detector_deletion_takes_destinations() {
    let store = open();
    let did = detector(&store, &scope());
    let d = store.create_destination(&scope(), &did, "S3", &props("arn:aws:s3:::b"), &BTreeMap::new(), None).unwrap();
    let page = store.list_destinations(&scope(), &did, 1, None).unwrap();
    assert_eq!(page.items.iter().map(|x| x.id.clone()).collect::<Vec<_>>(), vec![d.id.clone()]);
    assert_eq!(page.next_token, None);
    assert!(matches!(store.list_destinations(&scope(), &did, 1, Some("garbage")), Err(StoreError::BadToken)));
    assert_eq!(store.all_destinations().unwrap().len(), 1);
    store.delete_detector(&scope(), &did).unwrap();
    assert!(store.all_destinations().unwrap().is_empty());
    assert!(store.list_tags(&scope(), &d.arn()).unwrap().is_empty());
}

#[test]
fn a_suspended_detector_is_seen_by_its_destinations() {
    let store = open();
    let did = detector(&store, &scope());
    store.create_destination(&scope(), &did, "S3", &props("arn:aws:s3:::b"), &BTreeMap::new(), None).unwrap();
    assert!(store.all_destinations().unwrap()[0].detector_enabled);
    store.update_detector(&scope(), &did, DetectorConfig { enabled: false, ..DetectorConfig::default() }).unwrap();
    assert!(!store.all_destinations().unwrap()[0].detector_enabled);
}
