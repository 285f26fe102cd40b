//! Concurrent writes through one handle: each write succeeds or fails on its own, a failed write
//! undoes only itself, and every acknowledged write is durable. (SQLite batches concurrent writes
//! into shared transactions, group commit; a backend must not let one write's failure take the
//! writes it was batched with down.)

use std::sync::Arc;

use crate::common::*;
use vedette_domain::time;
use vedette_store::{Store, StoreError};

const ROOT: &str = "Policy:IAMUser/RootCredentialUsage";
const THREADS: u64 = 8;
const WRITES: u64 = 40;

#[test]
fn concurrent_writes_each_succeed_or_fail_alone_and_all_acknowledged_ones_persist() {
    let store = Arc::new(open());
    let d = detector(store.as_ref(), &scope());
    let now = time::now_ms();
    let all: Vec<String> = (0..THREADS * WRITES).map(fid).collect();
    insert(store.as_ref(), &d, all.iter().map(|id| finding(&d, id, ROOT, 2.0, now)).collect());

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, d) = (store.clone(), d.clone());
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for i in 0..WRITES {
                    let id = fid(t * WRITES + i);
                    // Every third write names an unknown finding too: refused as a whole, and it
                    // must not take its group's other writes down with it.
                    let ids = if i % 3 == 0 { vec![id.clone(), fid(1_000_000 + i)] } else { vec![id.clone()] };
                    match store.set_feedback(&d, &ids, "USEFUL", Some(&format!("t{t} w{i}"))) {
                        Ok(()) => acknowledged.push(id),
                        Err(StoreError::UnknownFindings(unknown)) => {
                            assert_eq!(i % 3, 0, "only the bad writes fail");
                            assert_eq!(unknown, vec![fid(1_000_000 + i)], "write {t}/{i} names only its unknown id");
                        }
                        Err(e) => panic!("write {t}/{i}: {e}"),
                    }
                }
                acknowledged
            })
        })
        .collect();
    let acknowledged: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert_eq!(acknowledged.len() as u64, THREADS * (WRITES - WRITES.div_ceil(3)));
    let store = Arc::into_inner(store).expect("the workers are done").reopen();

    // Reopened: exactly the acknowledged writes are there, the refused ones left no trace.
    let findings = store.get_findings(&d, &all, None).unwrap();
    assert_eq!(findings.len(), all.len());
    for f in findings {
        let feedback = f.service.as_ref().unwrap().user_feedback.clone();
        let id = f.id.clone().unwrap();
        assert_eq!(feedback.is_some(), acknowledged.contains(&id), "{id}: {feedback:?}");
    }
}
