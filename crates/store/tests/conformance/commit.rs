//! `Store::commit` is one transaction: findings, progress and detection state land together or
//! not at all, and the progress compare-and-set makes a source's records ingested exactly once
//! however many writers race for it.
use std::collections::BTreeMap;

use crate::common::*;
use vedette_store::{Commit, ExportStore, Progress, StateEntry, StateStore, Store, StoreError};

const ROOT: &str = "Policy:IAMUser/RootCredentialUsage";
const T0: i64 = 1_700_000_000_000;

fn at(key: &str, position: u64, expected_position: Option<u64>) -> Progress {
    Progress { source_key: key.into(), position, expected_position, ..Default::default() }
}

fn entry(detector: &str, key: &str, value: &str) -> StateEntry {
    StateEntry { detector_id: detector.into(), key: key.into(), value: Some(value.into()) }
}

fn position(store: &dyn Store, key: &str) -> Option<u64> {
    store.progress(key).unwrap().map(|p| p.position)
}

#[test]
fn a_commit_whose_progress_moved_writes_nothing() {
    let store = open();
    let d = detector(&store, &scope());
    store.register_consumer("sink", None).unwrap();
    let seed = [occurrence(&d, finding(&d, &fid(1), ROOT, 2.0, T0))];
    store.commit(&Commit { occurrences: &seed, progress: &[at("src", 10, None)], state: &[entry(&d, "k", "v1")] }).unwrap();
    let before = store.get_findings(&d, &[fid(1)], None).unwrap();
    let queued = store.outbox_stats().unwrap();

    // A new finding, a repeat of the stored one, a second source, new and changed state: all
    // refused with the one record whose expectation is stale.
    let occurrences = [occurrence(&d, finding(&d, &fid(2), ROOT, 2.0, T0)), occurrence(&d, finding(&d, &fid(1), ROOT, 2.0, T0 + 5))];
    let progress = [at("src", 20, Some(5)), at("other", 3, None)];
    let state = [entry(&d, "k", "v2"), entry(&d, "k2", "x")];
    let refused = store.commit(&Commit { occurrences: &occurrences, progress: &progress, state: &state });
    assert!(matches!(&refused, Err(StoreError::ProgressMoved(keys)) if keys == &["src"]), "{refused:?}");

    assert!(store.get_findings(&d, &[fid(2)], None).unwrap().is_empty(), "the new finding is not written");
    assert_eq!(store.get_findings(&d, &[fid(1)], None).unwrap(), before, "the stored finding is not merged");
    assert_eq!((position(&store, "src"), position(&store, "other")), (Some(10), None));
    assert_eq!(store.load_state(&d, "").unwrap(), [("k".to_owned(), "v1".to_owned())]);
    let after = store.outbox_stats().unwrap();
    assert_eq!((after.queued, after.pending_updates), (queued.queued, queued.pending_updates), "no export event queued");

    // The same commit at the right position lands whole.
    let progress = [at("src", 20, Some(10)), at("other", 3, None)];
    let stats = store.commit(&Commit { occurrences: &occurrences, progress: &progress, state: &state }).unwrap();
    assert_eq!((stats.created, stats.updated), (1, 1));
    assert_eq!(store.get_findings(&d, &[fid(1)], None).unwrap()[0].service.as_ref().unwrap().count, Some(2));
    assert_eq!((position(&store, "src"), position(&store, "other")), (Some(20), Some(3)));
    assert_eq!(store.load_state(&d, "").unwrap(), [("k".to_owned(), "v2".to_owned()), ("k2".to_owned(), "x".to_owned())]);
}

#[test]
fn every_record_whose_position_moved_is_named() {
    let store = open();
    store.commit(&Commit { progress: &[at("a", 1, None), at("b", 1, None), at("c", 1, None)], ..Default::default() }).unwrap();
    // "a" holds; "b" is elsewhere; "c" exists though none was expected; "d" was expected to exist.
    let progress = [at("a", 2, Some(1)), at("b", 2, Some(7)), at("c", 2, None), at("d", 2, Some(1))];
    let err = store.commit(&Commit { progress: &progress, ..Default::default() }).unwrap_err();
    match err {
        StoreError::ProgressMoved(mut keys) => {
            keys.sort();
            assert_eq!(keys, ["b", "c", "d"]);
        }
        e => panic!("unexpected {e:?}"),
    }
    let positions: Vec<Option<u64>> = ["a", "b", "c", "d"].iter().map(|k| position(&store, k)).collect();
    assert_eq!(positions, [Some(1), Some(1), Some(1), None], "not even the record that held was written");
}

#[test]
fn racing_writers_ingest_every_record_exactly_once() {
    // Writers on their own handles, as `vedette ingest` processes are, all reading one source: each
    // reads the position, "ingests" the next record (finding `fid(position)`) and commits with the
    // position it read. However they interleave, each record becomes exactly one new finding.
    const RECORDS: u64 = 60;
    const WRITERS: usize = 4;
    let store = open();
    let d = detector(&store, &scope());
    let handles: Vec<TestStore> = (0..WRITERS).map(|_| store.connect()).collect();
    let tallies: Vec<(u64, u64)> = std::thread::scope(|s| {
        let runs: Vec<_> = handles
            .iter()
            .map(|writer| {
                let d = &d;
                s.spawn(move || {
                    let (mut committed, mut refused) = (0, 0);
                    loop {
                        let read = writer.progress("shared").unwrap().map(|p| p.position);
                        let next = read.unwrap_or(0);
                        if next == RECORDS {
                            return (committed, refused);
                        }
                        let occurrences = [occurrence(d, finding(d, &fid(next), ROOT, 2.0, T0))];
                        let progress = [Progress { counters: BTreeMap::from([("events".to_string(), next + 1)]), ..at("shared", next + 1, read) }];
                        match writer.commit(&Commit { occurrences: &occurrences, progress: &progress, ..Default::default() }) {
                            Ok(stats) => {
                                assert_eq!((stats.created, stats.updated), (1, 0), "record {next} was ingested before");
                                committed += 1;
                            }
                            Err(StoreError::ProgressMoved(keys)) => {
                                assert_eq!(keys, ["shared"]);
                                refused += 1;
                            }
                            Err(e) => panic!("record {next}: {e}"),
                        }
                    }
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(tallies.iter().map(|t| t.0).sum::<u64>(), RECORDS, "{tallies:?}");
    let stored = store.progress("shared").unwrap().unwrap();
    assert_eq!((stored.position, stored.counters.get("events").copied()), (RECORDS, Some(RECORDS)));
    let findings = store.get_findings(&d, &(0..RECORDS).map(fid).collect::<Vec<_>>(), None).unwrap();
    assert_eq!(findings.len() as u64, RECORDS);
    assert!(findings.iter().all(|f| f.service.as_ref().unwrap().count == Some(1)), "no record was merged into a finding twice");
}
