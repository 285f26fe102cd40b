//! The harness itself: what the other tests rely on when they open and connect stores.
use crate::common::*;
use vedette_domain::Scope;
use vedette_store::Store;

#[test]
fn an_unknown_backend_name_is_refused_with_the_known_ones() {
    let err = backend_named("postgress").err().expect("no such backend");
    assert!(err.contains("\"postgress\"") && err.contains("sqlite"), "{err}");
    assert!(backend_named("sqlite").is_ok());
}

#[test]
fn each_open_is_a_fresh_database_and_connect_shares_one() {
    let first = open();
    let d = detector(&first, &scope());
    assert_eq!(open().detector_for(&scope()).unwrap(), None);
    let second = first.connect();
    assert_eq!(second.detector_for(&scope()).unwrap().map(|x| x.id), Some(d.clone()));
    // A handle outliving the one it was connected from keeps the database.
    drop(first);
    let third = second.reopen();
    assert_eq!(third.detector_for(&scope()).unwrap().map(|x| x.id), Some(d));
    assert_eq!(third.detector_for(&Scope::new("444455556666", "us-east-1")).unwrap(), None);
}
