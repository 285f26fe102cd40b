//! ListFindings pagination under concurrent inserts: walking the pages of one query with a fixed
//! sort while new findings are applied neither skips nor repeats any finding that existed before
//! the walk began, lists those in the sort's order, and lists each new one at most once (whether
//! it appears depends on where it sorts relative to the walk's position).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::common::*;
use proptest::prelude::*;
use vedette_domain::criteria::{Criteria, Sort, compare_for_sort};
use vedette_domain::{attributes, model, time};
use vedette_store::Store;

const T0: i64 = 1_700_000_000_000;
const TYPES: &[&str] = &["Policy:IAMUser/RootCredentialUsage", "PenTest:IAMUser/KaliLinux", "Recon:EC2/PortProbeUnprotectedPort"];
const ERRORS: &[&str] = &["AccessDenied", "Throttling"];

/// Sort attributes with ties (few values), absent values and a unique one (`id`).
const SORT_PATHS: &[&str] = &["updatedAt", "severity", "type", "id", "service.count", "service.action.awsApiCallAction.errorCode"];

/// A finding's sort-relevant knobs: few distinct values, so ties are common.
#[derive(Debug, Clone)]
struct Knobs {
    ty: usize,
    severity: Option<u8>,
    updated: Option<u8>,
    count: u8,
    error: Option<usize>,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (0..TYPES.len(), prop::option::of(0u8..3), prop::option::of(0u8..4), 1u8..3, prop::option::of(0..ERRORS.len()))
        .prop_map(|(ty, severity, updated, count, error)| Knobs { ty, severity, updated, count, error })
}

fn build(detector_id: &str, id: u32, k: &Knobs) -> model::Finding {
    let mut f = finding(detector_id, &fid(u64::from(id)), TYPES[k.ty], 0.0, T0);
    f.severity = k.severity.map(|s| [2.0, 5.0, 8.0][usize::from(s)]);
    f.updated_at = k.updated.map(|u| time::iso_ms(T0 + i64::from(u) * 1000));
    let service = f.service.as_mut().unwrap();
    service.count = Some(i32::from(k.count));
    service.action.as_mut().unwrap().aws_api_call_action.as_mut().unwrap().error_code = k.error.map(|e| ERRORS[e].to_owned());
    f
}

fn sort(path: &str, descending: bool) -> Sort {
    Sort { attribute: attributes::lookup(path).unwrap(), descending }
}

/// Checks one walk: `listed` against the findings that existed before it (`before`, any order).
fn check_walk(listed: &[String], before: &[model::Finding], sort: &Sort) -> Result<(), TestCaseError> {
    let mut seen = HashSet::new();
    for id in listed {
        prop_assert!(seen.insert(id.as_str()), "{} listed twice", id);
    }
    let mut expected: Vec<&model::Finding> = before.iter().collect();
    expected.sort_by(|a, b| compare_for_sort(a, b, sort));
    let expected: Vec<&str> = expected.iter().map(|f| f.id.as_deref().unwrap()).collect();
    let existing: HashSet<&str> = expected.iter().copied().collect();
    let listed_existing: Vec<&str> = listed.iter().map(String::as_str).filter(|id| existing.contains(id)).collect();
    prop_assert_eq!(listed_existing, expected, "the findings that existed before the walk, in sort order");
    Ok(())
}

fn walk_page(store: &dyn Store, detector_id: &str, sort: &Sort, page: usize, token: Option<&str>) -> (Vec<String>, Option<String>) {
    let p = store.list_findings(detector_id, &Criteria::default(), sort, page, token).unwrap();
    assert!(p.items.len() <= page);
    (p.items, p.next_token)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Inserts land between pages, at every point of the walk, through a second store handle (as
    /// another process or the ingest writer would write).
    #[test]
    fn inserts_between_pages_neither_skip_nor_repeat(
        initial in prop::collection::btree_map(any::<u32>(), knobs(), 0..30),
        inserted in prop::collection::btree_map(any::<u32>(), knobs(), 1..30),
        batches in prop::collection::vec(0usize..4, 1..30),
        sort_path in prop::sample::select(SORT_PATHS),
        descending in any::<bool>(),
        page in 1usize..6,
    ) {
        let store = open();
        let d = detector(&store, &scope());
        let before: Vec<model::Finding> = initial.iter().map(|(id, k)| build(&d, *id, k)).collect();
        insert(&store, &d, before.clone());
        let writer = store.connect();
        // New ids only (an id already stored would be an update, which may move it).
        let mut pending: Vec<model::Finding> =
            inserted.iter().filter(|(id, _)| !initial.contains_key(id)).map(|(id, k)| build(&d, *id, k)).collect();
        let sort = sort(sort_path, descending);

        let mut listed = Vec::new();
        let mut token = None;
        let mut step = 0;
        loop {
            let (items, next) = walk_page(&store, &d, &sort, page, token.as_deref());
            listed.extend(items);
            // Before the next page: a batch of 0..3 new findings.
            let n = batches.get(step).copied().unwrap_or(1).min(pending.len());
            if n > 0 {
                insert(&writer, &d, pending.drain(..n).collect());
            }
            step += 1;
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        check_walk(&listed, &before, &sort)?;
    }
}

/// The same with a real second thread applying findings as fast as it can while pages are read:
/// every interleaving must keep the property.
#[test]
fn a_thread_inserting_during_the_walk_causes_no_skip_or_repeat() {
    let k = |i: u32| Knobs {
        ty: (i % 3) as usize,
        severity: (!i.is_multiple_of(4)).then_some((i % 3) as u8),
        updated: Some((i % 4) as u8),
        count: (i % 2 + 1) as u8,
        error: (!i.is_multiple_of(5)).then_some((i % 2) as usize),
    };
    // Ids spread over the whole id space, so new ones sort before, among and after old ones.
    let id_of = |i: u32| i.wrapping_mul(2_654_435_761);
    let mut walks = BTreeMap::new();
    for path in SORT_PATHS {
        for descending in [false, true] {
            let store = open();
            let d = detector(&store, &scope());
            let before: Vec<model::Finding> = (0..200).map(|i| build(&d, id_of(i), &k(i))).collect();
            insert(&store, &d, before.clone());
            let stop = Arc::new(AtomicBool::new(false));
            let batches = Arc::new(AtomicU32::new(0));
            let (stop_writer, batches_written) = (stop.clone(), batches.clone());
            let writer = store.connect();
            let detector_id = d.clone();
            let inserter = std::thread::spawn(move || {
                let mut n = 1_000;
                while !stop_writer.load(Ordering::Relaxed) && n < 1_600 {
                    let batch: Vec<model::Finding> = (n..n + 3).map(|i| build(&detector_id, id_of(i), &k(i))).collect();
                    insert(&writer, &detector_id, batch);
                    batches_written.fetch_add(1, Ordering::Release);
                    n += 3;
                }
                n - 1_000
            });
            let sort = sort(path, descending);
            let mut listed = Vec::new();
            let mut token = None;
            loop {
                let seen_batches = batches.load(Ordering::Acquire);
                let (items, next) = walk_page(&store, &d, &sort, 7, token.as_deref());
                listed.extend(items);
                // Let at least one more batch land before the next page (it may land during a
                // page read too: the threads are not otherwise synchronized).
                while batches.load(Ordering::Acquire) == seen_batches && !inserter.is_finished() {
                    std::thread::yield_now();
                }
                match next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            stop.store(true, Ordering::Relaxed);
            let inserted = inserter.join().unwrap();
            check_walk(&listed, &before, &sort).unwrap();
            walks.insert(format!("{path} {}", if descending { "DESC" } else { "ASC" }), (listed.len(), inserted));
        }
    }
    println!("walks over 200 findings (listed, inserted meanwhile): {walks:?}");
}
