//! Detection state (schema v8): written with the findings, read back by prefix, scoped to its
//! detector, gone with it.
mod common;

use common::*;
use vedette_domain::Scope;
use vedette_store::{Progress, SqliteStore, StateEntry, StateStore, Store, StoreError};

const ROOT: &str = "Policy:IAMUser/RootCredentialUsage";
const T0: i64 = 1_700_000_000_000;

fn entry(detector: &str, key: &str, value: Option<&str>) -> StateEntry {
    StateEntry { detector_id: detector.into(), key: key.into(), value: value.map(str::to_owned) }
}

#[test]
fn state_is_written_with_findings_and_read_back_by_prefix() {
    let (dir, store) = open();
    let d = detector(&store, &scope());
    assert!(store.load_state(&d, "console-login:").unwrap().is_empty());
    let state = [
        entry(&d, "console-login:arn:aws:iam::111122223333:user/alice", Some(r#"{"logins":[1]}"#)),
        entry(&d, "console-login:arn:aws:iam::111122223333:user/bob", Some("b1")),
        entry(&d, "other-rule:x", Some("o")),
        // Written twice in one batch: the last value stays.
        entry(&d, "console-login:arn:aws:iam::111122223333:user/bob", Some("b2")),
    ];
    store.apply_with_state(&[occurrence(&d, finding(&d, &fid(1), ROOT, 2.0, T0))], &[], &state).unwrap();
    let read = store.load_state(&d, "console-login:").unwrap();
    assert_eq!(
        read,
        [
            ("console-login:arn:aws:iam::111122223333:user/alice".to_owned(), r#"{"logins":[1]}"#.to_owned()),
            ("console-login:arn:aws:iam::111122223333:user/bob".to_owned(), "b2".to_owned()),
        ]
    );
    assert_eq!(store.load_state(&d, "").unwrap().len(), 3);
    assert_eq!(store.load_state(&d, "console-login:arn:aws:iam::111122223333:user/b").unwrap().len(), 1);

    // Deleting a key, and surviving a reopen.
    store.apply_with_state(&[], &[], &[entry(&d, "other-rule:x", None)]).unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    assert!(store.load_state(&d, "other-rule:").unwrap().is_empty());
    assert_eq!(store.load_state(&d, "console-login:").unwrap().len(), 2);
}

#[test]
fn a_refused_write_leaves_the_state_as_it_was() {
    let (_dir, store) = open();
    let d = detector(&store, &scope());
    let progress = Progress { source_key: "file-a".into(), position: 10, ..Default::default() };
    store.apply_with_state(&[], std::slice::from_ref(&progress), &[entry(&d, "k", Some("v1"))]).unwrap();
    // Another writer moved the progress: nothing of this write lands, state included.
    let stale = Progress { position: 20, expected_position: None, ..progress };
    let err = store.apply_with_state(&[], &[stale], &[entry(&d, "k", Some("v2"))]).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.load_state(&d, "k").unwrap(), [("k".to_owned(), "v1".to_owned())]);
}

#[test]
fn state_belongs_to_its_detector_and_goes_with_it() {
    let (_dir, store) = open();
    let a = detector(&store, &scope());
    let other_scope = Scope::new("111122223333", "eu-west-1");
    let b = detector(&store, &other_scope);
    store
        .apply_with_state(&[], &[], &[entry(&a, "k", Some("a")), entry(&b, "k", Some("b")), entry("no-such-detector", "k", Some("x"))])
        .unwrap();
    assert_eq!(store.load_state(&a, "k").unwrap(), [("k".to_owned(), "a".to_owned())]);
    assert_eq!(store.load_state(&b, "k").unwrap(), [("k".to_owned(), "b".to_owned())]);
    assert!(store.load_state("no-such-detector", "").unwrap().is_empty());

    store.delete_detector(&scope(), &a).unwrap();
    assert!(store.load_state(&a, "").unwrap().is_empty());
    // A detector created again for the scope starts with no state.
    let again = detector(&store, &scope());
    assert!(store.load_state(&again, "").unwrap().is_empty());
    assert_eq!(store.load_state(&b, "").unwrap().len(), 1);
    store.reset().unwrap();
    assert!(store.load_state(&b, "").unwrap().is_empty());
}
