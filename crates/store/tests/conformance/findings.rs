//! Findings: insert, get, archive, feedback, statistics, progress, durability. Insert-only: no
//! finding id repeats, so aggregation (`aggregate::merge`) is not exercised here.

use std::collections::{BTreeMap, HashSet};

use crate::common::*;
use vedette_domain::attributes;
use vedette_domain::criteria::{AttrValue, Criteria, Criterion, Sort, Test};
use vedette_domain::{Scope, time};
use vedette_store::{Commit, GroupBy, Progress, Store, StoreError};

const T0: i64 = 1_700_000_000_000;
const ROOT: &str = "Policy:IAMUser/RootCredentialUsage";
const KALI: &str = "PenTest:IAMUser/KaliLinux";

fn sort(path: &str, descending: bool) -> Sort {
    Sort { attribute: attributes::lookup(path).unwrap(), descending }
}

fn by_updated_desc() -> Sort {
    sort("updatedAt", true)
}

fn criterion(path: &str, tests: Vec<Test>) -> Criteria {
    Criteria { criteria: vec![Criterion { attribute: attributes::lookup(path).unwrap(), tests }] }
}

/// Every page of a listing, concatenated.
fn list_all(store: &dyn Store, detector_id: &str, criteria: &Criteria, sort: &Sort, page: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let p = store.list_findings(detector_id, criteria, sort, page, token.as_deref()).unwrap();
        assert!(p.items.len() <= page);
        out.extend(p.items);
        match p.next_token {
            Some(t) => token = Some(t),
            None => return out,
        }
    }
}

#[test]
fn commit_then_get_returns_the_documents() {
    let store = open();
    let d = detector(&store, &scope());
    let a = finding(&d, &fid(1), ROOT, 2.0, T0);
    let b = finding(&d, &fid(2), KALI, 5.0, T0 + 1);
    let stats = store.commit(&Commit::occurrences(&[occurrence(&d, a.clone()), occurrence(&d, b.clone())])).unwrap();
    assert_eq!((stats.created, stats.updated), (2, 0));

    // In the order asked, unknown ids omitted, repeats once.
    let got = store.get_findings(&d, &[fid(2), fid(99), fid(1), fid(2)], None).unwrap();
    assert_eq!(got, vec![b.clone(), a.clone()]);
    // Another detector's id sees nothing.
    let other = detector(&store, &Scope::new("444455556666", "us-east-1"));
    assert!(store.get_findings(&other, &[fid(1)], None).unwrap().is_empty());
    assert!(store.get_findings("nonexistent", &[fid(1)], None).unwrap().is_empty());
}

#[test]
fn occurrences_of_a_deleted_detector_are_dropped() {
    let store = open();
    let d = detector(&store, &scope());
    let stats = store.commit(&Commit::occurrences(&[occurrence("0123456789abcdef0123456789abcdef", finding(&d, &fid(1), ROOT, 2.0, T0))])).unwrap();
    assert_eq!((stats.created, stats.updated), (0, 0));
    assert!(store.get_findings(&d, &[fid(1)], None).unwrap().is_empty());
}

#[test]
fn progress_is_written_with_the_findings() {
    let store = open();
    let d = detector(&store, &scope());
    assert_eq!(store.progress("file-a").unwrap(), None);
    let progress = Progress {
        source_key: "file-a".into(),
        position: 120,
        complete: false,
        counters: BTreeMap::from([("events".to_string(), 120), ("skipped.not_cloudtrail".to_string(), 3)]),
        expected_position: None,
    };
    let occurrences = [occurrence(&d, finding(&d, &fid(1), ROOT, 2.0, T0))];
    store.commit(&Commit { occurrences: &occurrences, progress: std::slice::from_ref(&progress), ..Default::default() }).unwrap();
    assert_eq!(store.progress("file-a").unwrap(), Some(progress.clone()));
    let done = Progress { position: 500, complete: true, expected_position: Some(120), ..progress };
    store.commit(&Commit { progress: std::slice::from_ref(&done), ..Default::default() }).unwrap();
    assert_eq!(store.progress("file-a").unwrap(), Some(Progress { expected_position: None, ..done }));

    // A failing batch writes neither findings nor progress.
    let mut no_id = finding(&d, &fid(2), ROOT, 2.0, T0);
    no_id.id = None;
    let later = Progress { source_key: "file-b".into(), position: 7, ..Default::default() };
    let ok = occurrence(&d, finding(&d, &fid(3), ROOT, 2.0, T0));
    let occurrences = [ok, occurrence(&d, no_id)];
    let refused = store.commit(&Commit { occurrences: &occurrences, progress: &[later], ..Default::default() });
    assert!(matches!(refused, Err(StoreError::Invalid(_))), "{refused:?}");
    assert_eq!(store.progress("file-b").unwrap(), None);
    assert!(store.get_findings(&d, &[fid(3)], None).unwrap().is_empty());
}

#[test]
fn archive_and_feedback_keep_updated_at_and_are_all_or_nothing() {
    let store = open();
    let d = detector(&store, &scope());
    let other = detector(&store, &Scope::new("444455556666", "us-east-1"));
    insert(&store, &d, vec![finding(&d, &fid(1), ROOT, 2.0, T0), finding(&d, &fid(2), KALI, 5.0, T0)]);
    insert(&store, &other, vec![finding(&other, &fid(3), ROOT, 2.0, T0)]);

    // An unknown id and another detector's id: rejected, named, nothing changed.
    let err = store.set_archived(&d, &[fid(1), fid(3), fid(42)], true).unwrap_err();
    match err {
        StoreError::UnknownFindings(mut unknown) => {
            unknown.sort();
            assert_eq!(unknown, vec![fid(3), fid(42)]);
        }
        e => panic!("unexpected {e:?}"),
    }
    let one = &store.get_findings(&d, &[fid(1)], None).unwrap()[0];
    assert_eq!(one.service.as_ref().unwrap().archived, Some(false));

    store.set_archived(&d, &[fid(1)], true).unwrap();
    let one = &store.get_findings(&d, &[fid(1)], None).unwrap()[0];
    assert_eq!(one.service.as_ref().unwrap().archived, Some(true));
    assert_eq!(one.updated_at.as_deref(), Some(time::iso_ms(T0).as_str()));
    // The column follows the document.
    let archived = criterion("service.archived", vec![Test::Equals(vec![AttrValue::Bool(true)])]);
    assert_eq!(list_all(&store, &d, &archived, &by_updated_desc(), 50), vec![fid(1)]);
    store.set_archived(&d, &[fid(1)], false).unwrap();
    assert!(list_all(&store, &d, &archived, &by_updated_desc(), 50).is_empty());

    let refused = store.set_feedback(&d, &[fid(2), fid(3)], "USEFUL", None);
    assert!(matches!(&refused, Err(StoreError::UnknownFindings(unknown)) if unknown == &[fid(3)]), "{refused:?}");
    let two = &store.get_findings(&d, &[fid(2)], None).unwrap()[0];
    assert_eq!(two.service.as_ref().unwrap().user_feedback, None, "a refused write changes nothing");
    store.set_feedback(&d, &[fid(2)], "NOT_USEFUL", Some("noise")).unwrap();
    let two = &store.get_findings(&d, &[fid(2)], None).unwrap()[0];
    assert_eq!(two.service.as_ref().unwrap().user_feedback.as_deref(), Some("NOT_USEFUL"));
    assert_eq!(two.updated_at.as_deref(), Some(time::iso_ms(T0).as_str()));
    // The side table follows the document.
    let useful = criterion("service.userFeedback", vec![Test::Equals(vec![AttrValue::Str("NOT_USEFUL".into())])]);
    assert_eq!(list_all(&store, &d, &useful, &by_updated_desc(), 50), vec![fid(2)]);
}

#[test]
fn listing_sorts_with_ties_broken_by_id() {
    let store = open();
    let d = detector(&store, &scope());
    // Severities with ties; ids inserted out of order.
    let severities = [(7, 8.0), (3, 5.0), (5, 8.0), (1, 2.0), (4, 5.0), (2, 8.0), (6, 2.0)];
    insert(&store, &d, severities.iter().map(|(n, s)| finding(&d, &fid(*n), ROOT, *s, T0 + *n as i64)).collect());
    let asc = list_all(&store, &d, &Criteria::default(), &sort("severity", false), 2);
    let expected_asc: Vec<String> = [1, 6, 3, 4, 2, 5, 7].iter().map(|n| fid(*n)).collect();
    assert_eq!(asc, expected_asc);
    let desc = list_all(&store, &d, &Criteria::default(), &sort("severity", true), 3);
    // Descending by value, ties still by id ascending.
    let expected_desc: Vec<String> = [2, 5, 7, 3, 4, 1, 6].iter().map(|n| fid(*n)).collect();
    assert_eq!(desc, expected_desc);
    let newest_first = list_all(&store, &d, &Criteria::default(), &by_updated_desc(), 50);
    assert_eq!(newest_first, (1..=7).rev().map(fid).collect::<Vec<_>>());
}

#[test]
fn findings_without_the_sort_attribute_come_first_ascending_and_last_descending_by_id() {
    let store = open();
    let d = detector(&store, &scope());
    let mut without = vec![finding(&d, &fid(10), ROOT, 2.0, T0), finding(&d, &fid(11), ROOT, 2.0, T0)];
    for f in &mut without {
        f.severity = None;
    }
    insert(&store, &d, without);
    insert(&store, &d, vec![finding(&d, &fid(1), ROOT, 5.0, T0), finding(&d, &fid(2), ROOT, 8.0, T0)]);
    for page in [1, 2, 3, 10] {
        assert_eq!(list_all(&store, &d, &Criteria::default(), &sort("severity", false), page), vec![fid(10), fid(11), fid(1), fid(2)]);
        assert_eq!(list_all(&store, &d, &Criteria::default(), &sort("severity", true), page), vec![fid(2), fid(1), fid(10), fid(11)]);
    }
}

#[test]
fn next_token_only_when_more_and_tokens_are_bound_to_their_query() {
    let store = open();
    let d = detector(&store, &scope());
    insert(&store, &d, (1..=4).map(|n| finding(&d, &fid(n), ROOT, 2.0, T0 + n as i64)).collect());
    let exact = store.list_findings(&d, &Criteria::default(), &by_updated_desc(), 4, None).unwrap();
    assert_eq!(exact.items.len(), 4);
    assert_eq!(exact.next_token, None);

    let first = store.list_findings(&d, &Criteria::default(), &by_updated_desc(), 3, None).unwrap();
    let token = first.next_token.unwrap();
    let rest = store.list_findings(&d, &Criteria::default(), &by_updated_desc(), 3, Some(&token)).unwrap();
    assert_eq!(rest.items, vec![fid(1)]);
    assert_eq!(rest.next_token, None);

    let other = detector(&store, &Scope::new("444455556666", "us-east-1"));
    let invalid = |r: vedette_store::Result<_>| matches!(r, Err(StoreError::BadToken));
    assert!(invalid(store.list_findings(&other, &Criteria::default(), &by_updated_desc(), 3, Some(&token))));
    assert!(invalid(store.list_findings(&d, &Criteria::default(), &sort("severity", true), 3, Some(&token))));
    let narrower = criterion("type", vec![Test::Equals(vec![AttrValue::Str(ROOT.into())])]);
    assert!(invalid(store.list_findings(&d, &narrower, &by_updated_desc(), 3, Some(&token))));
    for garbage in ["", "x", "%%%", "eyJxIjoxfQ", &token[1..]] {
        assert!(invalid(store.list_findings(&d, &Criteria::default(), &by_updated_desc(), 3, Some(garbage))), "{garbage}");
    }
}

#[test]
fn pages_neither_skip_nor_repeat_under_concurrent_inserts() {
    let store = open();
    let d = detector(&store, &scope());
    // updatedAt values with many ties, so the id tie-break matters.
    let initial: Vec<u64> = (0..60).collect();
    insert(&store, &d, initial.iter().map(|n| finding(&d, &fid(*n * 2), ROOT, 2.0, T0 + (*n % 7) as i64)).collect());
    // Ids of the findings added meanwhile (never reused: a reused id would be an update).
    let mut extra = 1000;
    for s in [by_updated_desc(), sort("updatedAt", false), sort("severity", true), sort("id", false)] {
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = store.list_findings(&d, &Criteria::default(), &s, 7, token.as_deref()).unwrap();
            seen.extend(page.items);
            // Between pages: new findings sorting before, among and after the ones seen.
            for offset in [-1, 3, 10] {
                extra += 2;
                insert(&store, &d, vec![finding(&d, &fid(extra + 1), ROOT, 2.0, T0 + offset)]);
            }
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "a finding was repeated ({s:?})");
        for n in &initial {
            assert!(unique.contains(&fid(n * 2)), "finding {n} was skipped ({s:?})");
        }
    }
}

#[test]
fn statistics() {
    let store = open();
    let d = detector(&store, &scope());
    let day = 86_400_000;
    let mut findings = vec![
        finding(&d, &fid(1), ROOT, 2.0, T0),
        finding(&d, &fid(2), ROOT, 2.0, T0 + day),
        finding(&d, &fid(3), KALI, 8.0, T0 + day),
        finding(&d, &fid(4), KALI, 5.5, T0 + 2 * day),
    ];
    findings[3].account_id = Some("999988887777".into());
    insert(&store, &d, findings);

    let counts = store.count_by_severity(&d, &Criteria::default()).unwrap();
    let expected: BTreeMap<String, i64> = [("2.0", 2), ("8.0", 1), ("5.5", 1)].iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(counts, expected);
    let kali = criterion("type", vec![Test::Equals(vec![AttrValue::Str(KALI.into())])]);
    assert_eq!(store.count_by_severity(&d, &kali).unwrap().values().sum::<i64>(), 2);

    let by_type = store.group_findings(&d, &Criteria::default(), GroupBy::FindingType, true, 10).unwrap();
    assert_eq!(by_type.iter().map(|g| (g.key.as_str(), g.total)).collect::<Vec<_>>(), vec![(KALI, 2), (ROOT, 2)]);
    assert_eq!(by_type[0].last_generated_ms, T0 + 2 * day);

    let by_date = store.group_findings(&d, &Criteria::default(), GroupBy::Date, true, 10).unwrap();
    let dates: Vec<(String, i64, Option<f64>)> = by_date.iter().map(|g| (g.key.clone(), g.total, g.severity)).collect();
    let date = |ms: i64| time::iso_ms(ms)[..10].to_string();
    assert_eq!(dates, vec![(date(T0 + day), 2, Some(8.0)), (date(T0), 1, Some(2.0)), (date(T0 + 2 * day), 1, Some(5.5))]);

    let by_account = store.group_findings(&d, &Criteria::default(), GroupBy::Account, false, 1).unwrap();
    assert_eq!(by_account.len(), 1);
    assert_eq!((by_account[0].key.as_str(), by_account[0].total), ("999988887777", 1));

    let by_resource = store.group_findings(&d, &Criteria::default(), GroupBy::Resource, true, 10).unwrap();
    assert_eq!(by_resource.len(), 4);
    assert!(by_resource.iter().all(|g| g.resource_type.as_deref() == Some("AccessKey") && g.key.starts_with("AKIA")));
    assert_eq!(by_resource.iter().find(|g| g.key == format!("AKIA{}", &fid(4)[24..])).unwrap().account_id.as_deref(), Some("999988887777"));

    let by_severity = store.group_findings(&d, &Criteria::default(), GroupBy::Severity, true, 10).unwrap();
    assert_eq!(by_severity[0].key, "2.0");
    assert_eq!(by_severity[0].severity, Some(2.0));
    assert_eq!(by_severity[0].total, 2);
}

#[test]
fn deleting_a_detector_discards_its_findings() {
    let store = open();
    let scope = scope();
    let d = detector(&store, &scope);
    let other = detector(&store, &Scope::new("444455556666", "us-east-1"));
    insert(&store, &d, (1..=5).map(|n| finding(&d, &fid(n), ROOT, 2.0, T0)).collect());
    insert(&store, &other, vec![finding(&other, &fid(1), ROOT, 2.0, T0)]);
    store.delete_detector(&scope, &d).unwrap();
    assert!(store.get_findings(&d, &(1..=5).map(fid).collect::<Vec<_>>(), None).unwrap().is_empty());
    assert_eq!(store.get_findings(&other, &[fid(1)], None).unwrap().len(), 1);
    assert_eq!(list_all(&store, &other, &Criteria::default(), &by_updated_desc(), 50), vec![fid(1)]);
}

#[test]
fn progress_is_compare_and_set_across_handles() {
    // Two handles on one database, as two `vedette ingest` processes (or `serve --watch` and
    // `ingest`) have: both read source "f" at position 10 and race to move it.
    let setup = open();
    let d = detector(&setup, &scope());
    let at = |key: &str, position, expected| Progress { source_key: key.into(), position, expected_position: expected, ..Default::default() };
    setup.commit(&Commit { progress: &[at("f", 10, None)], ..Default::default() }).unwrap();
    let detector_key = |round: u64, writer: u64| format!("detector:{writer}|f{round}");

    for round in 0..5u64 {
        let start = 10 + round * 100;
        let handles: Vec<TestStore> = (0..2).map(|_| setup.connect()).collect();
        let barrier = std::sync::Barrier::new(2);
        let outcomes: Vec<Result<u64, StoreError>> = std::thread::scope(|s| {
            let runs: Vec<_> = handles
                .iter()
                .enumerate()
                .map(|(writer, store)| {
                    let (barrier, d, at) = (&barrier, &d, &at);
                    s.spawn(move || {
                        // Each writer's own finding, a detector record of its own and the shared
                        // source record: all or nothing.
                        let id = fid(1000 * (round + 1) + writer as u64);
                        let rows = [at("f", start + 100, Some(start)), at(&detector_key(round, writer as u64), start + 100, None)];
                        barrier.wait();
                        let occurrences = [occurrence(d, finding(d, &id, ROOT, 2.0, T0))];
                        store.commit(&Commit { occurrences: &occurrences, progress: &rows, ..Default::default() }).map(|_| writer as u64)
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let winners: Vec<u64> = outcomes.iter().filter_map(|o| o.as_ref().ok().copied()).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one writer moves the progress: {outcomes:?}");
        let winner = winners[0];
        let loser = 1 - winner;
        let refused = outcomes[loser as usize].as_ref().unwrap_err();
        // Only the shared record moved under it; the loser's own detector record had no rival.
        assert!(matches!(refused, StoreError::ProgressMoved(keys) if keys == &["f"]), "{refused:?}");

        // Nothing of the refused transaction is visible: not its finding, not its other record.
        let winner_id = fid(1000 * (round + 1) + winner);
        let loser_id = fid(1000 * (round + 1) + loser);
        assert_eq!(setup.get_findings(&d, &[winner_id, loser_id.clone()], None).unwrap().len(), 1);
        assert!(setup.get_findings(&d, &[loser_id], None).unwrap().is_empty());
        assert_eq!(setup.progress("f").unwrap().unwrap().position, start + 100);
        assert_eq!(setup.progress(&detector_key(round, winner)).unwrap().map(|p| p.position), Some(start + 100));
        assert_eq!(setup.progress(&detector_key(round, loser)).unwrap(), None);
        // The winner's detector record now exists: expecting none again is refused too.
        let again = setup.commit(&Commit { progress: &[at(&detector_key(round, winner), start + 200, None)], ..Default::default() }).unwrap_err();
        assert!(matches!(&again, StoreError::ProgressMoved(keys) if keys == &[detector_key(round, winner)]), "{again:?}");
    }
}

#[test]
fn everything_survives_a_reopen() {
    let store = open();
    let scope = scope();
    let (d, expected) = {
        let d = store.create_detector(&scope, Default::default(), BTreeMap::from([("k".into(), "v".into())]), None).unwrap();
        let f = finding(&d.id, &fid(1), ROOT, 2.0, T0);
        let progress = Progress { source_key: "s".into(), position: 3, complete: true, ..Default::default() };
        let occurrences = [occurrence(&d.id, f.clone())];
        store.commit(&Commit { occurrences: &occurrences, progress: &[progress], ..Default::default() }).unwrap();
        store.set_archived(&d.id, &[fid(1)], true).unwrap();
        (d, f)
    };
    let store = store.reopen();
    assert_eq!(store.get_detector(&scope, &d.id).unwrap(), d);
    let got = store.get_findings(&d.id, &[fid(1)], None).unwrap();
    let mut archived = expected;
    archived.service.as_mut().unwrap().archived = Some(true);
    assert_eq!(got, vec![archived]);
    assert!(store.progress("s").unwrap().unwrap().complete);
}

#[test]
fn two_handles_on_one_database_see_each_others_writes() {
    // As `vedette serve` and `vedette ingest` do from two processes.
    let serve = open();
    let ingest = serve.connect();
    let d = detector(&serve, &scope());
    assert_eq!(ingest.detector_for(&scope()).unwrap().unwrap().id, d);
    std::thread::scope(|s| {
        s.spawn(|| {
            for n in 0..50 {
                insert(&ingest, &d, vec![finding(&d, &fid(n), ROOT, 2.0, T0 + n as i64)]);
            }
        });
        s.spawn(|| {
            for _ in 0..50 {
                serve.list_findings(&d, &Criteria::default(), &by_updated_desc(), 50, None).unwrap();
            }
        });
    });
    assert_eq!(list_all(&serve, &d, &Criteria::default(), &by_updated_desc(), 50).len(), 50);
    serve.set_archived(&d, &[fid(3)], true).unwrap();
    let seen = ingest.get_findings(&d, &[fid(3)], None).unwrap();
    assert_eq!(seen[0].service.as_ref().unwrap().archived, Some(true));
}

#[test]
fn batch_progress_and_find_finding() {
    let store = open();
    let d = detector(&store, &scope());
    let progress: Vec<Progress> =
        ["a", "b"].iter().map(|k| Progress { source_key: k.to_string(), position: 9, complete: true, ..Default::default() }).collect();
    let occurrences = [occurrence(&d, finding(&d, &fid(1), ROOT, 2.0, T0))];
    store.commit(&Commit { occurrences: &occurrences, progress: &progress, ..Default::default() }).unwrap();
    assert_eq!(store.progress("a").unwrap().as_ref(), Some(&progress[0]));
    assert_eq!(store.progress("b").unwrap().as_ref(), Some(&progress[1]));

    let other = detector(&store, &Scope::new("444455556666", "us-east-1"));
    insert(&store, &other, vec![finding(&other, &fid(2), KALI, 8.0, T0)]);
    let (owner, found) = store.find_finding(&fid(2)).unwrap().unwrap();
    assert_eq!(owner, other);
    assert_eq!(found.r#type.as_deref(), Some(KALI));
    assert_eq!(store.find_finding(&fid(1)).unwrap().unwrap().0, d);
    assert_eq!(store.find_finding(&fid(3)).unwrap(), None);
}

/// An occurrence of finding 1 at event time `t`, failed with `error` or successful.
fn repeat(d: &str, t: i64, error: Option<&str>) -> vedette_domain::Occurrence {
    let mut f = finding(d, &fid(1), ROOT, 2.0, t);
    let service = f.service.as_mut().unwrap();
    service.event_first_seen = Some(time::iso_ms(t));
    service.event_last_seen = Some(time::iso_ms(t));
    service.action.as_mut().unwrap().aws_api_call_action.as_mut().unwrap().error_code = error.map(str::to_owned);
    let mut occ = occurrence(d, f);
    occ.event_time_ms = t;
    occ
}

#[test]
fn repeats_merge_into_one_finding_and_its_index_rows_follow() {
    let store = open();
    let d = detector(&store, &scope());
    let errored = criterion("service.action.awsApiCallAction.errorCode", vec![Test::Equals(vec![AttrValue::Str("AccessDenied".into())])]);
    let list = |c: &Criteria| list_all(&store, &d, c, &by_updated_desc(), 50);

    // Two occurrences of one finding in a batch: one finding written.
    let stats = store.commit(&Commit::occurrences(&[repeat(&d, T0, Some("AccessDenied")), repeat(&d, T0 + 10, Some("AccessDenied"))])).unwrap();
    assert_eq!((stats.created, stats.updated), (1, 1));
    let stored = &store.get_findings(&d, &[fid(1)], None).unwrap()[0];
    assert_eq!(stored.service.as_ref().unwrap().count, Some(2));
    assert_eq!(list(&errored), vec![fid(1)]);

    // A later, successful call: the details (errorCode gone) come from it.
    store.set_archived(&d, &[fid(1)], true).unwrap();
    let stats = store.commit(&Commit::occurrences(&[repeat(&d, T0 + 20, None)])).unwrap();
    assert_eq!((stats.created, stats.updated), (0, 1));
    let stored = &store.get_findings(&d, &[fid(1)], None).unwrap()[0];
    let service = stored.service.as_ref().unwrap();
    assert_eq!(service.count, Some(3));
    assert_eq!(service.archived, Some(false), "a recurring archived finding is current again");
    assert_eq!(service.event_last_seen.as_deref(), Some(time::iso_ms(T0 + 20).as_str()));
    assert!(list(&errored).is_empty());
    let not_errored = criterion("service.action.awsApiCallAction.errorCode", vec![Test::NotEquals(vec![AttrValue::Str("AccessDenied".into())])]);
    assert_eq!(list(&not_errored), vec![fid(1)]);
    let three = criterion("service.count", vec![Test::Equals(vec![AttrValue::Num(3.0)])]);
    assert_eq!(list(&three), vec![fid(1)]);
    let active = criterion("service.archived", vec![Test::Equals(vec![AttrValue::Bool(false)])]);
    assert_eq!(list(&active), vec![fid(1)]);
}
