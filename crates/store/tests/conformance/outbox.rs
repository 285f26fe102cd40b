//! The export outbox (`vedette_store::export`): what `commit` queues, when it is due, acknowledgement and
//! garbage collection, bounds.

use std::collections::BTreeMap;

use crate::common::*;
use vedette_domain::{DetectorConfig, Scope, time};
use vedette_store::export::{next_boundary_ms, publishing_period_ms};
use vedette_store::{Commit, ExportStore, Resource, Store, StoreError};

const ROOT: &str = "Policy:IAMUser/RootCredentialUsage";
const T0: i64 = 1_700_000_000_000;
const FIFTEEN_MINUTES: i64 = 15 * 60 * 1000;

fn detector_with(store: &dyn Store, scope: &Scope, frequency: &str) -> String {
    let config = DetectorConfig { finding_publishing_frequency: frequency.into(), ..Default::default() };
    store.create_detector(scope, config, BTreeMap::new(), None).unwrap().id
}

/// Applies one occurrence of finding `n` (new the first time, an update afterwards).
fn occur(store: &dyn Store, d: &str, n: u64) {
    insert(store, d, vec![finding(d, &fid(n), ROOT, 2.0, T0)]);
}

fn due_ids(store: &dyn Store, consumer: &str, now_ms: i64) -> Vec<String> {
    store.outbox_due(consumer, now_ms, 1000).unwrap().events.into_iter().map(|e| e.finding_id).collect()
}

/// Delivers everything due (acks it) and returns the finding ids.
fn drain(store: &dyn Store, consumer: &str, now_ms: i64) -> Vec<String> {
    let batch = store.outbox_due(consumer, now_ms, 1000).unwrap();
    store.outbox_ack(consumer, batch.ack_to).unwrap();
    batch.events.into_iter().map(|e| e.finding_id).collect()
}

#[test]
fn nothing_is_queued_without_a_consumer() {
    let store = open();
    let d = detector(&store, &scope());
    occur(&store, &d, 1);
    occur(&store, &d, 1);
    assert_eq!(store.outbox_stats().unwrap().depth(), 0);
    // A consumer registered later sees what happens from then on.
    store.register_consumer("sink", None).unwrap();
    assert!(due_ids(&store, "sink", time::now_ms()).is_empty());
    occur(&store, &d, 2);
    assert_eq!(due_ids(&store, "sink", time::now_ms()), vec![fid(2)]);
}

#[test]
fn a_new_finding_is_due_at_once_with_its_document() {
    let store = open();
    let d = detector(&store, &scope());
    store.register_consumer("sink", None).unwrap();
    let before = time::now_ms();
    occur(&store, &d, 1);
    let batch = store.outbox_due("sink", time::now_ms(), 10).unwrap();
    assert_eq!(batch.events.len(), 1);
    let event = &batch.events[0];
    assert_eq!((event.detector_id.as_str(), event.account_id.as_str(), event.region.as_str()), (d.as_str(), "111122223333", "us-east-1"));
    assert_eq!(event.finding_id, fid(1));
    assert!(event.created);
    assert!(event.due_ms >= before && event.due_ms == event.enqueued_at_ms);
    // The body is the document GetFindings returns.
    let stored = &store.get_findings(&d, &[fid(1)], None).unwrap()[0];
    assert_eq!(event.body_json, serde_json::to_string(stored).unwrap());
    assert_eq!(batch.ack_to, event.seq);
}

#[test]
fn updates_are_coalesced_and_due_at_the_publishing_boundary() {
    let store = open();
    let d = detector_with(&store, &scope(), "FIFTEEN_MINUTES");
    store.register_consumer("sink", None).unwrap();
    occur(&store, &d, 1);
    assert_eq!(drain(&store, "sink", time::now_ms()), vec![fid(1)]);

    let queued_at = time::now_ms();
    for _ in 0..50 {
        occur(&store, &d, 1);
    }
    let stats = store.outbox_stats().unwrap();
    assert_eq!((stats.queued, stats.pending_updates), (0, 1), "{stats:?}");
    // Not before the boundary.
    let boundary = next_boundary_ms(queued_at, FIFTEEN_MINUTES);
    assert!(boundary - queued_at <= FIFTEEN_MINUTES);
    assert!(due_ids(&store, "sink", boundary - 1).is_empty());
    // At the boundary: one event, the latest state (count 51).
    let batch = store.outbox_due("sink", boundary + 1, 10).unwrap();
    assert_eq!(batch.events.len(), 1);
    let event = &batch.events[0];
    assert!(!event.created);
    // The due time is the boundary after the first queued update, possibly the next one if the
    // wall clock crossed a boundary while the updates were being applied.
    assert!(event.due_ms == boundary || event.due_ms == boundary + FIFTEEN_MINUTES);
    let body: serde_json::Value = serde_json::from_str(&event.body_json).unwrap();
    assert_eq!(body["service"]["count"], 51);
    store.outbox_ack("sink", batch.ack_to).unwrap();
    assert_eq!(store.outbox_stats().unwrap().depth(), 0);
}

#[test]
fn each_frequency_sets_its_own_boundary() {
    for (frequency, period) in [("FIFTEEN_MINUTES", 900_000), ("ONE_HOUR", 3_600_000), ("SIX_HOURS", 21_600_000)] {
        assert_eq!(publishing_period_ms(frequency), period);
        let store = open();
        let d = detector_with(&store, &scope(), frequency);
        store.register_consumer("sink", None).unwrap();
        occur(&store, &d, 1);
        drain(&store, "sink", time::now_ms());
        let queued_at = time::now_ms();
        occur(&store, &d, 1);
        let boundary = next_boundary_ms(queued_at, period);
        // A period before the boundary (a full period after the update at most) nothing is due.
        assert!(due_ids(&store, "sink", boundary - period).is_empty(), "{frequency}");
        let events = store.outbox_due("sink", boundary + period, 10).unwrap().events;
        assert_eq!(events.len(), 1, "{frequency}");
        assert_eq!(events[0].due_ms % period, 0, "{frequency}: due on a boundary");
        assert!(events[0].due_ms > queued_at && events[0].due_ms <= boundary + period, "{frequency}");
    }
    assert_eq!(next_boundary_ms(0, 900_000), 900_000);
    assert_eq!(next_boundary_ms(899_999, 900_000), 900_000);
    assert_eq!(next_boundary_ms(900_000, 900_000), 1_800_000);
}

#[test]
fn archived_findings_never_go_out() {
    let store = open();
    let d = detector_with(&store, &scope(), "FIFTEEN_MINUTES");
    store.register_consumer("sink", None).unwrap();
    let later = time::now_ms() + 7 * 3_600_000;

    // Created archived (as a suppression rule stores it): nothing queued.
    let mut suppressed = finding(&d, &fid(1), ROOT, 2.0, T0);
    suppressed.service.as_mut().unwrap().archived = Some(true);
    insert(&store, &d, vec![suppressed]);
    assert_eq!(store.outbox_stats().unwrap().depth(), 0);

    // Queued, then archived by ArchiveFindings before delivery: left out.
    occur(&store, &d, 2);
    occur(&store, &d, 3);
    store.set_archived(&d, &[fid(2)], true).unwrap();
    assert_eq!(drain(&store, "sink", later), vec![fid(3)]);

    // A pending update of a finding archived before its boundary: left out too.
    occur(&store, &d, 3);
    assert_eq!(store.outbox_stats().unwrap().pending_updates, 1);
    store.set_archived(&d, &[fid(3)], true).unwrap();
    assert!(drain(&store, "sink", later).is_empty());
}

#[test]
fn unacked_events_survive_a_restart_and_acked_ones_do_not_come_back() {
    let store = open();
    let d = detector(&store, &scope());
    store.register_consumer("sink", None).unwrap();
    for n in 1..=5 {
        occur(&store, &d, n);
    }
    // Handed out, never acked (the process dies before delivering).
    assert_eq!(due_ids(&store, "sink", time::now_ms()).len(), 5);

    let store = store.reopen();
    let batch = store.outbox_due("sink", time::now_ms(), 3).unwrap();
    assert_eq!(batch.events.iter().map(|e| e.finding_id.clone()).collect::<Vec<_>>(), vec![fid(1), fid(2), fid(3)]);
    // Only the first two were delivered.
    store.outbox_ack("sink", batch.events[1].seq).unwrap();
    // Registering again (the next start) keeps the cursor.
    store.register_consumer("sink", None).unwrap();

    let store = store.reopen();
    assert_eq!(drain(&store, "sink", time::now_ms()), vec![fid(3), fid(4), fid(5)]);
    assert!(drain(&store, "sink", time::now_ms()).is_empty());
    assert_eq!(store.outbox_stats().unwrap().depth(), 0);
}

#[test]
fn events_stay_until_every_consumer_that_wants_them_acked() {
    let store = open();
    let d = detector(&store, &scope());
    let e = detector(&store, &Scope::new("444455556666", "us-east-1"));
    store.register_consumer("all", None).unwrap();
    store.register_consumer("only-d", Some(&d)).unwrap();
    occur(&store, &d, 1);
    occur(&store, &e, 2);
    occur(&store, &d, 3);
    assert_eq!(due_ids(&store, "only-d", time::now_ms()), vec![fid(1), fid(3)]);

    assert_eq!(drain(&store, "all", time::now_ms()), vec![fid(1), fid(2), fid(3)]);
    // e's event was only wanted by "all": gone; d's wait for "only-d".
    let stats = store.outbox_stats().unwrap();
    assert_eq!(stats.queued, 2, "{stats:?}");
    let only_d = stats.consumers.iter().find(|c| c.name == "only-d").unwrap();
    assert_eq!((only_d.backlog, only_d.detector_id.as_deref()), (2, Some(d.as_str())));
    assert!(only_d.oldest_due_ms.is_some());
    assert_eq!(stats.oldest_due_ms, only_d.oldest_due_ms);
    assert_eq!(drain(&store, "only-d", time::now_ms()), vec![fid(1), fid(3)]);
    assert_eq!(store.outbox_stats().unwrap().depth(), 0);

    // A consumer limited to one detector does not hold back the others' events: an empty batch
    // moves its cursor past them.
    occur(&store, &e, 4);
    assert!(drain(&store, "only-d", time::now_ms()).is_empty());
    assert_eq!(drain(&store, "all", time::now_ms()), vec![fid(4)]);
    assert_eq!(store.outbox_stats().unwrap().depth(), 0);
}

#[test]
fn acks_never_move_backwards_nor_past_the_end() {
    let store = open();
    let d = detector(&store, &scope());
    store.register_consumer("sink", None).unwrap();
    occur(&store, &d, 1);
    occur(&store, &d, 2);
    let batch = store.outbox_due("sink", time::now_ms(), 10).unwrap();
    store.outbox_ack("sink", batch.events[1].seq).unwrap();
    store.outbox_ack("sink", batch.events[0].seq).unwrap();
    assert!(due_ids(&store, "sink", time::now_ms()).is_empty());
    // An ack far beyond the end does not swallow later events.
    store.outbox_ack("sink", i64::MAX).unwrap();
    occur(&store, &d, 3);
    assert_eq!(due_ids(&store, "sink", time::now_ms()), vec![fid(3)]);
    assert!(matches!(store.outbox_ack("nobody", 1), Err(StoreError::NotFound(Resource::Consumer))));
    assert!(matches!(store.outbox_due("nobody", 0, 1), Err(StoreError::NotFound(Resource::Consumer))));
    assert!(matches!(store.outbox_due("sink", 0, 0), Err(StoreError::Invalid(_))));
}

#[test]
fn the_outbox_is_bounded_by_the_number_of_findings() {
    let store = open();
    let d = detector(&store, &scope());
    store.register_consumer("slow", None).unwrap();
    // Ten findings updated many times, with updates becoming due repeatedly, and a consumer that
    // never acknowledges: at most one log event and one pending update per finding.
    let mut now = time::now_ms();
    for round in 0..20 {
        let batch: Vec<_> = (1..=10).map(|n| occurrence(&d, finding(&d, &fid(n), ROOT, 2.0, T0 + round))).collect();
        store.commit(&Commit::occurrences(&batch)).unwrap();
        now += 7 * 3_600_000;
        store.outbox_due("slow", now, 1).unwrap();
        let stats = store.outbox_stats().unwrap();
        assert!(stats.queued <= 10 && stats.pending_updates <= 10, "round {round}: {stats:?}");
    }
    // And each finding is handed out once, in its latest state.
    let events = store.outbox_due("slow", now, 1000).unwrap().events;
    assert_eq!(events.len(), 10);
    for e in &events {
        let body: serde_json::Value = serde_json::from_str(&e.body_json).unwrap();
        assert_eq!(body["service"]["count"], 20);
    }
}

#[test]
fn deleting_a_detector_or_resetting_drops_its_events() {
    let store = open();
    let s = scope();
    let d = detector(&store, &s);
    let e = detector(&store, &Scope::new("444455556666", "us-east-1"));
    store.register_consumer("all", None).unwrap();
    store.register_consumer("only-d", Some(&d)).unwrap();
    assert!(matches!(store.register_consumer("x", Some("0123456789abcdef0123456789abcdef")), Err(StoreError::NotFound(Resource::Detector))));
    occur(&store, &d, 1);
    occur(&store, &d, 1);
    occur(&store, &e, 2);
    store.delete_detector(&s, &d).unwrap();
    assert_eq!(due_ids(&store, "all", time::now_ms() + 7 * 3_600_000), vec![fid(2)]);
    assert_eq!(store.consumers().unwrap(), vec![("all".to_string(), None)]);

    let d = detector(&store, &s);
    store.register_consumer("only-d", Some(&d)).unwrap();
    occur(&store, &d, 3);
    store.reset().unwrap();
    let stats = store.outbox_stats().unwrap();
    assert_eq!(stats.depth(), 0);
    // The global consumer stays and keeps delivering.
    assert_eq!(store.consumers().unwrap(), vec![("all".to_string(), None)]);
    let d = detector(&store, &s);
    occur(&store, &d, 4);
    assert_eq!(drain(&store, "all", time::now_ms()), vec![fid(4)]);
}

#[test]
fn unregistering_the_last_consumer_empties_the_outbox() {
    let store = open();
    let d = detector(&store, &scope());
    store.register_consumer("a", None).unwrap();
    store.register_consumer("b", None).unwrap();
    occur(&store, &d, 1);
    occur(&store, &d, 2);
    occur(&store, &d, 2);
    drain(&store, "a", time::now_ms());
    store.unregister_consumer("b").unwrap();
    assert_eq!(store.outbox_stats().unwrap().queued, 0);
    assert_eq!(store.outbox_stats().unwrap().pending_updates, 1);
    store.unregister_consumer("a").unwrap();
    store.unregister_consumer("a").unwrap();
    assert_eq!(store.outbox_stats().unwrap().depth(), 0);
}
