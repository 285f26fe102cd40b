//! The publishing-destination publisher against a real store: what a failing or absent S3
//! endpoint does to a destination's status and to its queued findings. (Writes to a real
//! S3-compatible server are covered end to end in tests/e2e/test_destinations.py, with moto.)
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vedette_domain::{DetectorConfig, Evidence, Occurrence, Scope, finding_types, samples, time};
use vedette_export::destinations::{DestinationPublisher, PublisherConfig};
use vedette_remote::{Remote, RemoteConfig, S3Endpoint};
use vedette_store::destinations::{Destination, DestinationProperties, PublishingStatus, consumer_name};
use vedette_store::{SqliteStore, Store};

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    scope: Scope,
    detector_id: String,
    destination: Destination,
}

/// A store with a detector, an S3 destination (registered as the API registers it) and one
/// finding queued for it.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let scope = Scope::new("111122223333", "us-east-1");
    let detector = store.create_detector(&scope, DetectorConfig::default(), BTreeMap::new(), None).unwrap();
    let properties = DestinationProperties {
        destination_arn: "arn:aws:s3:::findings-bucket/gd".into(),
        kms_key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
        expected_bucket_owner: None,
    };
    let destination = store.create_destination(&scope, &detector.id, "S3", &properties, &BTreeMap::new(), None).unwrap();
    store.register_consumer(&consumer_name(&destination.id), Some(&detector.id)).unwrap();
    let ty = finding_types::CATALOGUE.iter().find(|t| !t.retired).unwrap();
    let now = time::now_ms();
    let occurrence = Occurrence {
        detector_id: detector.id.clone(),
        finding: samples::sample_finding(ty, &scope, &detector.id, now),
        event_time_ms: now,
        evidence: Evidence { rule: "sample".into(), ..Default::default() },
    };
    store.commit(&vedette_store::Commit::occurrences(&[occurrence])).unwrap();
    Setup { _dir: dir, store, scope, detector_id: detector.id, destination }
}

/// An S3 endpoint on a loopback port nothing listens on.
fn unreachable_s3() -> Remote {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = S3Endpoint {
        endpoint: format!("http://127.0.0.1:{port}"),
        region: "us-east-1".into(),
        access_key_id: "AKIAEXAMPLE".into(),
        secret_access_key: "secret".into(),
        path_style: true,
    };
    Remote::new(RemoteConfig { s3: Some(endpoint), ..Default::default() }).unwrap().with_timeout(Duration::from_secs(5))
}

fn queued(s: &Setup) -> usize {
    s.store.outbox_due(&consumer_name(&s.destination.id), time::now_ms(), 100).unwrap().events.len()
}

fn current(s: &Setup) -> Destination {
    s.store.get_destination(&s.scope, &s.detector_id, &s.destination.id).unwrap()
}

#[tokio::test]
async fn an_unreachable_bucket_is_unable_to_publish_and_its_findings_wait() {
    let s = setup();
    assert_eq!(queued(&s), 1);
    let mut publisher = DestinationPublisher::new(s.store.clone(), unreachable_s3(), PublisherConfig::default());
    let before = time::now_ms();
    assert!(!publisher.round().await.unwrap());
    let failing = current(&s);
    assert_eq!(failing.status, PublishingStatus::UnableToPublish);
    let started = failing.failure_started_ms.expect("first failure time");
    assert!(before <= started && started <= time::now_ms());
    // Not acknowledged: the finding is handed out again.
    assert_eq!(queued(&s), 1);

    // Backing off: an immediate second round leaves the first failure time as it was.
    publisher.round().await.unwrap();
    assert_eq!(current(&s).failure_started_ms, Some(started));
}

#[tokio::test]
async fn without_an_s3_endpoint_a_destination_cannot_publish() {
    let s = setup();
    let mut publisher = DestinationPublisher::new(s.store.clone(), Remote::disabled(), PublisherConfig::default());
    publisher.round().await.unwrap();
    assert_eq!(current(&s).status, PublishingStatus::UnableToPublish);
    assert_eq!(queued(&s), 1);
}

#[tokio::test]
async fn a_suspended_detector_is_left_alone() {
    let s = setup();
    let config = DetectorConfig { enabled: false, ..DetectorConfig::default() };
    s.store.update_detector(&s.scope, &s.detector_id, config).unwrap();
    let mut publisher = DestinationPublisher::new(s.store.clone(), unreachable_s3(), PublisherConfig::default());
    publisher.round().await.unwrap();
    let d = current(&s);
    assert_eq!((d.status, d.failure_started_ms), (PublishingStatus::PendingVerification, None));
    assert_eq!(queued(&s), 1);
}

#[tokio::test]
async fn run_stops_on_shutdown() {
    let s = setup();
    let publisher = DestinationPublisher::new(s.store.clone(), Remote::disabled(), PublisherConfig::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(publisher.run(stop.clone()));
    // Into its polling loop first: the stop must end a publisher at rest, not one not yet started.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!task.is_finished(), "the publisher runs until stopped");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("publisher stopped").unwrap();
}

#[tokio::test]
async fn a_consumer_that_vanished_is_registered_again_without_stopping_the_others() {
    let s = setup();
    let name = consumer_name(&s.destination.id);
    // Retries after a failure come at once (no S3 endpoint: every attempt fails).
    let config = PublisherConfig { max_backoff: Duration::ZERO, ..PublisherConfig::default() };
    let mut publisher = DestinationPublisher::new(s.store.clone(), Remote::disabled(), config);
    publisher.round().await.unwrap();
    s.store.unregister_consumer(&name).unwrap();
    let registered = |s: &Setup| s.store.consumers().unwrap().iter().any(|(n, _)| *n == name);
    assert!(!registered(&s));
    // The failure is this destination's: the round itself goes on.
    publisher.round().await.unwrap();
    publisher.round().await.unwrap();
    assert!(registered(&s));
}
