//! IPSets and ThreatIntelSets: quotas, status life cycle, snapshots, scoping, resume.

use std::collections::BTreeMap;

use crate::common::*;
use vedette_domain::Scope;
use vedette_store::lists::{ListKind, ListOutcome, ListStatus, ListUpdate, MAX_THREAT_LISTS, MAX_TRUSTED_LISTS, NewList, Snapshot};
use vedette_store::{ListStore, Resource, Store, StoreError};

fn new_list(kind: ListKind, name: &str, activate: bool) -> NewList {
    NewList {
        kind,
        name: name.into(),
        format: "TXT".into(),
        location: format!("file:///intel/{name}.txt"),
        activate,
        tags: BTreeMap::new(),
        client_token: None,
        expected_bucket_owner: None,
    }
}

fn snapshot(entries: &[&str], location: &str) -> Snapshot {
    Snapshot {
        file_sha256: format!("{:064x}", entries.len()),
        entries: entries.iter().map(|e| e.to_string()).collect(),
        bad_lines: 1,
        location: location.into(),
        activated_at_ms: 1_700_000_000_000,
    }
}

fn activate(store: &dyn Store, list_id: &str, generation: i64, entries: &[&str]) {
    assert!(store.settle_list(list_id, generation, ListOutcome::Activated(snapshot(entries, "file:///x"))).unwrap());
}

#[test]
fn create_get_and_activate() {
    let store = open();
    let scope = scope();
    let did = detector(&store, &scope);
    let mut list = new_list(ListKind::Threat, "bad-ips", true);
    list.tags.insert("team".into(), "sec".into());
    let created = store.create_list(&scope, &did, list).unwrap();
    assert_eq!(created.list_id.len(), 32);
    assert!(created.list_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created.status, ListStatus::Activating);
    assert_eq!(store.get_list(&scope, &did, ListKind::Threat, &created.list_id).unwrap(), created);
    // Nothing is active until the worker settles the activation.
    assert!(store.active_lists(&did).unwrap().is_empty());
    // The tags are the ARN's.
    let arn = format!("{}/threatintelset/{}", scope.detector_arn(&did), created.list_id);
    assert_eq!(store.list_tags(&scope, &arn).unwrap().get("team").map(String::as_str), Some("sec"));

    activate(&store, &created.list_id, created.generation, &["198.51.100.7/32", "203.0.113.0/24"]);
    let got = store.get_list(&scope, &did, ListKind::Threat, &created.list_id).unwrap();
    assert_eq!(got.status, ListStatus::Active);
    let info = got.snapshot.unwrap();
    assert_eq!((info.entry_count, info.bad_lines), (2, 1));
    let active = store.active_lists(&did).unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].name, "bad-ips");
    assert_eq!(active[0].kind, ListKind::Threat);
    assert_eq!(active[0].entries, vec!["198.51.100.7/32", "203.0.113.0/24"]);
    assert_eq!(active[0].file_sha256, format!("{:064x}", 2));
    // The kind is part of the identity.
    assert!(matches!(store.get_list(&scope, &did, ListKind::Trusted, &created.list_id), Err(StoreError::NotFound(Resource::IpSet))));
}

#[test]
fn inactive_lists_stay_out_of_detection() {
    let store = open();
    let scope = scope();
    let did = detector(&store, &scope);
    let created = store.create_list(&scope, &did, new_list(ListKind::Trusted, "office", false)).unwrap();
    assert_eq!(created.status, ListStatus::Inactive);
    // Settling an activation that was never started changes nothing.
    assert!(!store.settle_list(&created.list_id, created.generation, ListOutcome::Activated(snapshot(&["192.0.2.1/32"], "x"))).unwrap());
    assert!(store.active_lists(&did).unwrap().is_empty());
    assert!(store.pending_list_work().unwrap().is_empty());
}

#[test]
fn quotas_count_existing_lists_of_each_kind() {
    let store = open();
    let scope = scope();
    let did = detector(&store, &scope);
    let trusted = store.create_list(&scope, &did, new_list(ListKind::Trusted, "t1", false)).unwrap();
    let err = store.create_list(&scope, &did, new_list(ListKind::Trusted, "t2", true)).unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { resource: Resource::IpSet, max: MAX_TRUSTED_LISTS }), "{err:?}");

    let mut threats = Vec::new();
    for i in 0..MAX_THREAT_LISTS {
        threats.push(store.create_list(&scope, &did, new_list(ListKind::Threat, &format!("l{i}"), i % 2 == 0)).unwrap());
    }
    let err = store.create_list(&scope, &did, new_list(ListKind::Threat, "one-too-many", false)).unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { resource: Resource::ThreatIntelSet, max: 6 }), "{err:?}");

    // An ERROR list still exists and counts; a list being deleted does not.
    store.settle_list(&threats[0].list_id, threats[0].generation, ListOutcome::Failed("unreadable".into())).unwrap();
    let err = store.create_list(&scope, &did, new_list(ListKind::Threat, "still-too-many", false)).unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { resource: Resource::ThreatIntelSet, max: MAX_THREAT_LISTS }), "{err:?}");
    store.delete_list(&scope, &did, ListKind::Threat, &threats[1].list_id).unwrap();
    store.create_list(&scope, &did, new_list(ListKind::Threat, "replacement", false)).unwrap();
    store.delete_list(&scope, &did, ListKind::Trusted, &trusted.list_id).unwrap();
    store.create_list(&scope, &did, new_list(ListKind::Trusted, "t2", false)).unwrap();
}

#[test]
fn client_tokens_make_create_idempotent() {
    let store = open();
    let scope = scope();
    let did = detector(&store, &scope);
    let mut list = new_list(ListKind::Trusted, "office", true);
    list.client_token = Some("token-1".into());
    let first = store.create_list(&scope, &did, list.clone()).unwrap();
    // The retry gets the same list, even though the quota (1) is now used up.
    let again = store.create_list(&scope, &did, list.clone()).unwrap();
    assert_eq!(again.list_id, first.list_id);
    list.client_token = Some("token-2".into());
    let err = store.create_list(&scope, &did, list).unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { resource: Resource::IpSet, max: MAX_TRUSTED_LISTS }), "{err:?}");
}

#[test]
fn transitions_settle_only_their_own_generation() {
    let store = open();
    let scope = scope();
    let did = detector(&store, &scope);
    let created = store.create_list(&scope, &did, new_list(ListKind::Threat, "l", true)).unwrap();
    // A deactivation arrives before the activation finished: the activation is superseded.
    let deactivating =
        store.update_list(&scope, &did, ListKind::Threat, &created.list_id, ListUpdate { activate: Some(false), ..Default::default() }).unwrap();
    assert_eq!(deactivating.status, ListStatus::Deactivating);
    assert!(deactivating.generation > created.generation);
    assert!(!store.settle_list(&created.list_id, created.generation, ListOutcome::Activated(snapshot(&["192.0.2.1/32"], "x"))).unwrap());
    assert!(store.settle_list(&created.list_id, deactivating.generation, ListOutcome::Deactivated).unwrap());
    let got = store.get_list(&scope, &did, ListKind::Threat, &created.list_id).unwrap();
    assert_eq!((got.status, got.snapshot), (ListStatus::Inactive, None));
    assert!(store.active_lists(&did).unwrap().is_empty());
}

#[test]
fn errors_are_kept_and_a_new_location_waits_for_reactivation() {
    let store = open();
    let scope = scope();
    let did = detector(&store, &scope);
    let created = store.create_list(&scope, &did, new_list(ListKind::Threat, "l", true)).unwrap();
    assert!(store.settle_list(&created.list_id, created.generation, ListOutcome::Failed("the file is not a valid TXT list".into())).unwrap());
    let failed = store.get_list(&scope, &did, ListKind::Threat, &created.list_id).unwrap();
    assert_eq!(failed.status, ListStatus::Error);
    assert_eq!(failed.last_error.as_deref(), Some("the file is not a valid TXT list"));
    assert!(store.active_lists(&did).unwrap().is_empty());

    let again =
        store.update_list(&scope, &did, ListKind::Threat, &created.list_id, ListUpdate { activate: Some(true), ..Default::default() }).unwrap();
    assert!(
        store.settle_list(&created.list_id, again.generation, ListOutcome::Activated(snapshot(&["192.0.2.1/32"], "file:///intel/l.txt"))).unwrap()
    );
    let active = store.get_list(&scope, &did, ListKind::Threat, &created.list_id).unwrap();
    assert_eq!((active.status, active.last_error), (ListStatus::Active, None));

    // Name and location change; the list stays ACTIVE on the old snapshot until re-activated.
    let renamed = store
        .update_list(
            &scope,
            &did,
            ListKind::Threat,
            &created.list_id,
            ListUpdate { name: Some("renamed".into()), location: Some("file:///intel/v2.txt".into()), ..Default::default() },
        )
        .unwrap();
    assert_eq!((renamed.status, renamed.location.as_str()), (ListStatus::Active, "file:///intel/v2.txt"));
    assert_eq!(renamed.snapshot.unwrap().location, "file:///intel/l.txt");
    let active = store.active_lists(&did).unwrap();
    assert_eq!((active[0].name.as_str(), active[0].entries.clone()), ("renamed", vec!["192.0.2.1/32".to_string()]));
}

#[test]
fn snapshots_beyond_the_entry_limit_are_refused() {
    let store = open();
    let scope = scope();
    let did = detector(&store, &scope);
    let created = store.create_list(&scope, &did, new_list(ListKind::Trusted, "office", true)).unwrap();
    let entries: Vec<String> = (0..2001).map(|i| format!("10.{}.{}.0/24", i / 256, i % 256)).collect();
    let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
    let outcome = ListOutcome::Activated(snapshot(&refs, "x"));
    assert!(matches!(store.settle_list(&created.list_id, created.generation, outcome), Err(StoreError::Invalid(_))));
    activate(&store, &created.list_id, created.generation, &refs[..2000]);
    assert_eq!(store.active_lists(&did).unwrap()[0].entries.len(), 2000);
}

#[test]
fn deletion_leaves_a_tombstone_that_is_not_listed() {
    let store = open();
    let scope = scope();
    let did = detector(&store, &scope);
    let mut list = new_list(ListKind::Threat, "l", true);
    list.tags.insert("k".into(), "v".into());
    let created = store.create_list(&scope, &did, list).unwrap();
    activate(&store, &created.list_id, created.generation, &["192.0.2.1/32"]);

    let deleting = store.delete_list(&scope, &did, ListKind::Threat, &created.list_id).unwrap();
    assert_eq!(deleting.status, ListStatus::DeletePending);
    // Deleting twice while pending is fine; a pending list is no longer used or updatable.
    assert_eq!(store.delete_list(&scope, &did, ListKind::Threat, &created.list_id).unwrap().generation, deleting.generation);
    assert!(store.active_lists(&did).unwrap().is_empty());
    let update = ListUpdate { activate: Some(true), ..Default::default() };
    assert!(matches!(
        store.update_list(&scope, &did, ListKind::Threat, &created.list_id, update.clone()),
        Err(StoreError::NotFound(Resource::ThreatIntelSet))
    ));
    assert_eq!(store.list_lists(&scope, &did, ListKind::Threat, 50, None).unwrap().items, vec![created.list_id.clone()]);

    assert!(store.settle_list(&created.list_id, deleting.generation, ListOutcome::Deleted).unwrap());
    let gone = store.get_list(&scope, &did, ListKind::Threat, &created.list_id).unwrap();
    assert_eq!((gone.status, gone.snapshot, gone.tags.len()), (ListStatus::Deleted, None, 0));
    assert!(store.list_lists(&scope, &did, ListKind::Threat, 50, None).unwrap().items.is_empty());
    assert!(matches!(store.delete_list(&scope, &did, ListKind::Threat, &created.list_id), Err(StoreError::NotFound(Resource::ThreatIntelSet))));
    assert!(matches!(
        store.update_list(&scope, &did, ListKind::Threat, &created.list_id, update),
        Err(StoreError::NotFound(Resource::ThreatIntelSet))
    ));
}

#[test]
fn listing_pages_by_id_per_kind() {
    let store = open();
    let scope = scope();
    let did = detector(&store, &scope);
    let mut ids: Vec<String> =
        (0..5).map(|i| store.create_list(&scope, &did, new_list(ListKind::Threat, &format!("l{i}"), false)).unwrap().list_id).collect();
    ids.sort();
    store.create_list(&scope, &did, new_list(ListKind::Trusted, "t", false)).unwrap();
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = store.list_lists(&scope, &did, ListKind::Threat, 2, token.as_deref()).unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items);
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    // A token of one kind's listing is not valid for the other's.
    let first = store.list_lists(&scope, &did, ListKind::Threat, 1, None).unwrap();
    let foreign = store.list_lists(&scope, &did, ListKind::Trusted, 1, first.next_token.as_deref());
    assert!(matches!(foreign, Err(StoreError::BadToken)));
}

#[test]
fn another_scope_sees_nothing() {
    let store = open();
    let scope = scope();
    let other = Scope::new("444455556666", "us-east-1");
    let did = detector(&store, &scope);
    detector(&store, &other);
    let created = store.create_list(&scope, &did, new_list(ListKind::Threat, "l", false)).unwrap();
    assert!(matches!(store.create_list(&other, &did, new_list(ListKind::Threat, "x", false)), Err(StoreError::NotFound(Resource::Detector))));
    assert!(matches!(store.get_list(&other, &did, ListKind::Threat, &created.list_id), Err(StoreError::NotFound(Resource::Detector))));
    assert!(matches!(store.list_lists(&other, &did, ListKind::Threat, 50, None), Err(StoreError::NotFound(Resource::Detector))));
    assert!(matches!(store.delete_list(&other, &did, ListKind::Threat, &created.list_id), Err(StoreError::NotFound(Resource::Detector))));
    let update = ListUpdate { name: Some("hijack".into()), ..Default::default() };
    assert!(matches!(store.update_list(&other, &did, ListKind::Threat, &created.list_id, update), Err(StoreError::NotFound(Resource::Detector))));
}

#[test]
fn transitional_lists_are_found_again_after_reopening() {
    let store = open();
    let scope = scope();
    let (did, activating, deleting) = {
        let did = detector(&store, &scope);
        let activating = store.create_list(&scope, &did, new_list(ListKind::Threat, "a", true)).unwrap();
        let deleting = store.create_list(&scope, &did, new_list(ListKind::Threat, "b", false)).unwrap();
        store.delete_list(&scope, &did, ListKind::Threat, &deleting.list_id).unwrap();
        store.create_list(&scope, &did, new_list(ListKind::Threat, "c", false)).unwrap();
        (did, activating, deleting)
    };
    let store = store.reopen();
    let work = store.pending_list_work().unwrap();
    let mut found: Vec<(String, ListStatus)> = work.iter().map(|w| (w.list_id.clone(), w.status)).collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![(activating.list_id.clone(), ListStatus::Activating), (deleting.list_id.clone(), ListStatus::DeletePending)];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found, expected);
    let w = work.iter().find(|w| w.list_id == activating.list_id).unwrap();
    assert_eq!((w.detector_id.as_str(), w.location.as_str(), w.format.as_str()), (did.as_str(), "file:///intel/a.txt", "TXT"));
    assert!(store.settle_list(&w.list_id, w.generation, ListOutcome::Activated(snapshot(&["192.0.2.9/32"], "x"))).unwrap());
    assert_eq!(store.active_lists(&did).unwrap().len(), 1);
}

#[test]
fn deleting_the_detector_or_resetting_removes_lists() {
    let store = open();
    let scope = scope();
    let did = detector(&store, &scope);
    let created = store.create_list(&scope, &did, new_list(ListKind::Threat, "l", true)).unwrap();
    activate(&store, &created.list_id, created.generation, &["192.0.2.1/32"]);
    store.delete_detector(&scope, &did).unwrap();
    assert!(store.active_lists(&did).unwrap().is_empty());
    assert!(store.pending_list_work().unwrap().is_empty());
    assert!(!store.settle_list(&created.list_id, created.generation, ListOutcome::Deleted).unwrap());

    let did = detector(&store, &scope);
    store.create_list(&scope, &did, new_list(ListKind::Threat, "m", true)).unwrap();
    store.reset().unwrap();
    assert!(store.pending_list_work().unwrap().is_empty());
}
