//! Detection state: written with the findings, read back by prefix, scoped to its
//! detector, gone with it.

use crate::common::*;
use vedette_domain::Scope;
use vedette_store::{Commit, Progress, StateEntry, StateStore, Store, StoreError};

const ROOT: &str = "Policy:IAMUser/RootCredentialUsage";
const T0: i64 = 1_700_000_000_000;

fn entry(detector: &str, key: &str, value: Option<&str>) -> StateEntry {
    StateEntry { detector_id: detector.into(), key: key.into(), value: value.map(str::to_owned) }
}

#[test]
fn state_is_written_with_findings_and_read_back_by_prefix() {
    let store = open();
    let d = detector(&store, &scope());
    assert!(store.load_state(&d, "console-login:").unwrap().is_empty());
    let state = [
        entry(&d, "console-login:arn:aws:iam::111122223333:user/alice", Some(r#"{"logins":[1]}"#)),
        entry(&d, "console-login:arn:aws:iam::111122223333:user/bob", Some("b1")),
        entry(&d, "other-rule:x", Some("o")),
        // Written twice in one batch: the last value stays.
        entry(&d, "console-login:arn:aws:iam::111122223333:user/bob", Some("b2")),
    ];
    let occurrences = [occurrence(&d, finding(&d, &fid(1), ROOT, 2.0, T0))];
    store.commit(&Commit { occurrences: &occurrences, state: &state, ..Default::default() }).unwrap();
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
    store.commit(&Commit { state: &[entry(&d, "other-rule:x", None)], ..Default::default() }).unwrap();
    let store = store.reopen();
    assert!(store.load_state(&d, "other-rule:").unwrap().is_empty());
    assert_eq!(store.load_state(&d, "console-login:").unwrap().len(), 2);
}

#[test]
fn a_refused_write_leaves_the_state_as_it_was() {
    let store = open();
    let d = detector(&store, &scope());
    let progress = Progress { source_key: "file-a".into(), position: 10, ..Default::default() };
    store.commit(&Commit { progress: std::slice::from_ref(&progress), state: &[entry(&d, "k", Some("v1"))], ..Default::default() }).unwrap();
    // Another writer moved the progress: nothing of this write lands, state included.
    let stale = Progress { position: 20, expected_position: None, ..progress };
    let err = store.commit(&Commit { progress: &[stale], state: &[entry(&d, "k", Some("v2"))], ..Default::default() }).unwrap_err();
    assert!(matches!(&err, StoreError::ProgressMoved(keys) if keys == &["file-a"]), "{err:?}");
    assert_eq!(store.load_state(&d, "k").unwrap(), [("k".to_owned(), "v1".to_owned())]);
}

#[test]
fn state_belongs_to_its_detector_and_goes_with_it() {
    let store = open();
    let a = detector(&store, &scope());
    let other_scope = Scope::new("111122223333", "eu-west-1");
    let b = detector(&store, &other_scope);
    let state = [entry(&a, "k", Some("a")), entry(&b, "k", Some("b")), entry("no-such-detector", "k", Some("x"))];
    store.commit(&Commit { state: &state, ..Default::default() }).unwrap();
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
