//! Finding retention (docs/api.md#retention, docs/findings.md#aggregation): findings last updated more than 90 days ago are deleted
//! with what is kept beside them, and a new occurrence of an expired finding starts it afresh.

use crate::common::*;
use vedette_domain::aggregate::FINDING_RETENTION_MS;
use vedette_domain::criteria::{Criteria, parse_sort};
use vedette_domain::time;
use vedette_store::{Commit, ExportStore, Store};

const DAY: i64 = 24 * 60 * 60 * 1000;
const KALI: &str = "PenTest:IAMUser/KaliLinux";

#[test]
fn expire_deletes_findings_older_than_retention_and_nothing_else() {
    let store = open();
    let d = detector(&store, &scope());
    let now = time::now_ms();
    let old = finding(&d, &fid(1), KALI, 5.0, now - 91 * DAY);
    let mut old_archived = finding(&d, &fid(2), KALI, 8.0, now - 100 * DAY);
    old_archived.service.as_mut().unwrap().archived = Some(true);
    let recent = finding(&d, &fid(3), KALI, 5.0, now - 89 * DAY);
    // A consumer waiting for events: the expired findings' queued events go with them.
    store.register_consumer("sink:test", None).unwrap();
    insert(&store, &d, vec![old, old_archived, recent.clone()]);
    assert_eq!(store.outbox_stats().unwrap().queued, 2, "the archived one is never queued");

    let cutoff = now - FINDING_RETENTION_MS;
    // Bounded batches: one at a time, then nothing left.
    assert_eq!(store.expire_findings(cutoff, 1).unwrap(), 1);
    assert_eq!(store.expire_findings(cutoff, 10).unwrap(), 1);
    assert_eq!(store.expire_findings(cutoff, 10).unwrap(), 0);

    let sort = parse_sort(None).unwrap();
    let listed = store.list_findings(&d, &Criteria::default(), &sort, 50, None).unwrap().items;
    assert_eq!(listed, vec![fid(3)]);
    assert_eq!(store.get_findings(&d, &[fid(1), fid(2), fid(3)], None).unwrap(), vec![recent]);
    let by_severity = store.count_by_severity(&d, &Criteria::default()).unwrap();
    assert_eq!(by_severity.values().sum::<i64>(), 1, "{by_severity:?}");
    let batch = store.outbox_due("sink:test", now, 10).unwrap();
    let ids: Vec<&str> = batch.events.iter().map(|e| e.finding_id.as_str()).collect();
    assert_eq!(ids, vec![fid(3).as_str()]);
}

#[test]
fn an_occurrence_of_an_expired_finding_starts_a_new_one() {
    let store = open();
    let d = detector(&store, &scope());
    let now = time::now_ms();
    let mut old = finding(&d, &fid(7), KALI, 5.0, now - 95 * DAY);
    old.service.as_mut().unwrap().count = Some(40);
    insert(&store, &d, vec![old]);

    let again = finding(&d, &fid(7), KALI, 5.0, now - 1000);
    let stats = store.commit(&Commit::occurrences(&[occurrence(&d, again.clone())])).unwrap();
    assert_eq!((stats.created, stats.updated), (1, 0), "a new finding, not an update");
    let got = store.get_findings(&d, &[fid(7)], None).unwrap();
    assert_eq!(got.len(), 1);
    let service = got[0].service.as_ref().unwrap();
    assert_eq!(service.count, Some(1), "the old count is not carried over");
    assert_eq!(got[0].created_at, again.created_at);
    assert_eq!(service.event_first_seen, again.service.as_ref().unwrap().event_first_seen);
    let by_severity = store.count_by_severity(&d, &Criteria::default()).unwrap();
    assert_eq!(by_severity.values().sum::<i64>(), 1);

    // Within retention, the same activity updates: count grows.
    let stats = store.commit(&Commit::occurrences(&[occurrence(&d, finding(&d, &fid(7), KALI, 5.0, now))])).unwrap();
    assert_eq!((stats.created, stats.updated), (0, 1));
    let got = store.get_findings(&d, &[fid(7)], None).unwrap();
    assert_eq!(got[0].service.as_ref().unwrap().count, Some(2));
}
