//! Saved filters: ranks, limits, idempotency, tags, scoping; ARCHIVE filters suppressing findings
//! as they are written, across handles.

use std::collections::BTreeMap;

use crate::common::*;
use vedette_domain::{Scope, model};
use vedette_store::filters::{FilterAction, FilterUpdate, MAX_FILTERS_PER_DETECTOR, NewFilter, filter_arn};
use vedette_store::{FilterStore, Resource, Store, StoreError};

fn criteria(path: &str, condition: model::Condition) -> model::FindingCriteria {
    model::FindingCriteria { criterion: Some(BTreeMap::from([(path.to_string(), condition)])) }
}

fn equals(path: &str, values: &[&str]) -> model::FindingCriteria {
    criteria(path, model::Condition { equals: Some(values.iter().map(|v| v.to_string()).collect()), ..Default::default() })
}

fn new_filter(name: &str, action: FilterAction, rank: Option<u32>, criteria: model::FindingCriteria) -> NewFilter {
    NewFilter { name: name.into(), description: None, action, rank, criteria, tags: BTreeMap::new() }
}

fn noop(name: &str, rank: Option<u32>) -> NewFilter {
    new_filter(name, FilterAction::Noop, rank, equals("type", &["Recon:EC2/PortProbeUnprotectedPort"]))
}

fn create(store: &dyn Store, detector_id: &str, filter: NewFilter) -> String {
    store.create_filter(&scope(), detector_id, filter, None).unwrap()
}

/// name → rank of every filter of the detector.
fn ranks(store: &dyn Store, detector_id: &str) -> BTreeMap<String, u32> {
    let names = store.list_filters(&scope(), detector_id, 50, None).unwrap().items;
    names.into_iter().map(|n| (n.clone(), store.get_filter(&scope(), detector_id, &n).unwrap().rank)).collect()
}

fn expect_ranks(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(n, r)| (n.to_string(), *r)).collect()
}

fn is_unknown_filter(result: Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound(Resource::Filter)))
}

fn is_rank_out_of_bounds(result: Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(result, Err(StoreError::RankOutOfBounds))
}

fn archived(store: &dyn Store, detector_id: &str, id: &str) -> bool {
    let found = store.get_findings(detector_id, &[id.to_string()], None).unwrap();
    assert_eq!(found.len(), 1, "finding {id} missing");
    found[0].service.as_ref().and_then(|s| s.archived).unwrap_or(false)
}

const ROOT: &str = "Policy:IAMUser/RootCredentialUsage";
const KALI: &str = "PenTest:IAMUser/KaliLinux";

#[test]
fn create_get_update_delete() {
    let store = open();
    let d = detector(&store, &scope());
    let mut filter = new_filter("quiet-root", FilterAction::Archive, None, equals("type", &[ROOT]));
    filter.description = Some("root use from the build account".into());
    filter.tags = BTreeMap::from([("team".to_string(), "sec".to_string())]);
    assert_eq!(store.create_filter(&scope(), &d, filter.clone(), Some("tok-1")).unwrap(), "quiet-root");

    let got = store.get_filter(&scope(), &d, "quiet-root").unwrap();
    assert_eq!((got.name.as_str(), got.action, got.rank, got.version), ("quiet-root", FilterAction::Archive, 1, 1));
    assert_eq!(got.description, filter.description);
    assert_eq!(got.criteria, filter.criteria);
    assert_eq!(got.tags, filter.tags);
    assert_eq!(got.created_at_ms, got.updated_at_ms);
    assert_eq!(store.list_tags(&scope(), &filter_arn(&scope(), &d, "quiet-root")).unwrap(), filter.tags);

    let update = FilterUpdate { action: Some(FilterAction::Noop), criteria: Some(equals("severity", &["8"])), ..Default::default() };
    store.update_filter(&scope(), &d, "quiet-root", update).unwrap();
    let updated = store.get_filter(&scope(), &d, "quiet-root").unwrap();
    assert_eq!(updated.action, FilterAction::Noop);
    assert_eq!(updated.criteria, equals("severity", &["8"]));
    assert_eq!(updated.description, filter.description, "fields not named keep their value");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.created_at_ms, got.created_at_ms);
    assert!(updated.updated_at_ms >= got.updated_at_ms);

    store.delete_filter(&scope(), &d, "quiet-root").unwrap();
    assert!(is_unknown_filter(store.get_filter(&scope(), &d, "quiet-root")));
    assert!(store.list_tags(&scope(), &filter_arn(&scope(), &d, "quiet-root")).unwrap().is_empty());
    // The name is free again, and so is the token (its filter is gone).
    assert_eq!(store.create_filter(&scope(), &d, filter, Some("tok-1")).unwrap(), "quiet-root");
}

#[test]
fn unknown_filters_and_foreign_detectors() {
    let store = open();
    let d = detector(&store, &scope());
    create(&store, &d, noop("mine", None));
    assert!(is_unknown_filter(store.get_filter(&scope(), &d, "nope")));
    assert!(is_unknown_filter(store.update_filter(&scope(), &d, "nope", FilterUpdate::default())));
    assert!(is_unknown_filter(store.delete_filter(&scope(), &d, "nope")));

    for other in [Scope::new("999988887777", "us-east-1"), Scope::new("111122223333", "eu-west-1")] {
        assert!(matches!(store.get_filter(&other, &d, "mine"), Err(StoreError::NotFound(Resource::Detector))));
        assert!(matches!(store.list_filters(&other, &d, 50, None), Err(StoreError::NotFound(Resource::Detector))));
        assert!(matches!(store.create_filter(&other, &d, noop("theirs", None), None), Err(StoreError::NotFound(Resource::Detector))));
        assert!(matches!(store.update_filter(&other, &d, "mine", FilterUpdate::default()), Err(StoreError::NotFound(Resource::Detector))));
        assert!(matches!(store.delete_filter(&other, &d, "mine"), Err(StoreError::NotFound(Resource::Detector))));
    }
    assert!(matches!(store.get_filter(&scope(), &fid(7), "mine"), Err(StoreError::NotFound(Resource::Detector))));
    assert_eq!(ranks(&store, &d), expect_ranks(&[("mine", 1)]));
}

#[test]
fn names_are_unique_per_detector() {
    let store = open();
    let d = detector(&store, &scope());
    create(&store, &d, noop("dup", None));
    assert!(matches!(store.create_filter(&scope(), &d, noop("dup", None), None), Err(StoreError::AlreadyExists(Resource::Filter))));
    // Another detector may use the name.
    let other_scope = Scope::new("999988887777", "us-east-1");
    let other = detector(&store, &other_scope);
    assert_eq!(store.create_filter(&other_scope, &other, noop("dup", None), None).unwrap(), "dup");
    assert_eq!(store.list_filters(&scope(), &d, 50, None).unwrap().items, vec!["dup"]);
}

#[test]
fn client_token_makes_create_idempotent() {
    let store = open();
    let d = detector(&store, &scope());
    let first = store.create_filter(&scope(), &d, noop("retry-me", None), Some("token-a")).unwrap();
    let again = store.create_filter(&scope(), &d, noop("retry-me", None), Some("token-a")).unwrap();
    assert_eq!((first.as_str(), again.as_str()), ("retry-me", "retry-me"));
    assert_eq!(store.get_filter(&scope(), &d, "retry-me").unwrap().version, 1);
    assert_eq!(ranks(&store, &d).len(), 1);
    // Without the token, or with another one, the same name is a duplicate.
    assert!(matches!(store.create_filter(&scope(), &d, noop("retry-me", None), Some("token-b")), Err(StoreError::AlreadyExists(Resource::Filter))));
    // The token cannot create a second, different filter.
    assert!(matches!(store.create_filter(&scope(), &d, noop("other", None), Some("token-a")), Err(StoreError::TokenReused(Resource::Filter))));
    assert_eq!(ranks(&store, &d).len(), 1);
}

#[test]
fn ranks_are_gapless_positions() {
    let store = open();
    let d = detector(&store, &scope());
    create(&store, &d, noop("a", None));
    create(&store, &d, noop("b", None));
    assert_eq!(ranks(&store, &d), expect_ranks(&[("a", 1), ("b", 2)]));
    // Inserting at a taken rank moves that filter and the ones after it down.
    create(&store, &d, noop("c", Some(1)));
    assert_eq!(ranks(&store, &d), expect_ranks(&[("c", 1), ("a", 2), ("b", 3)]));
    create(&store, &d, noop("d", Some(4)));
    assert_eq!(ranks(&store, &d), expect_ranks(&[("c", 1), ("a", 2), ("b", 3), ("d", 4)]));
    // A gap is refused.
    assert!(is_rank_out_of_bounds(store.create_filter(&scope(), &d, noop("e", Some(6)), None)));
    assert!(is_rank_out_of_bounds(store.create_filter(&scope(), &d, noop("e", Some(0)), None)));

    let rank = |r| FilterUpdate { rank: Some(r), ..Default::default() };
    store.update_filter(&scope(), &d, "d", rank(1)).unwrap();
    assert_eq!(ranks(&store, &d), expect_ranks(&[("d", 1), ("c", 2), ("a", 3), ("b", 4)]));
    store.update_filter(&scope(), &d, "c", rank(4)).unwrap();
    assert_eq!(ranks(&store, &d), expect_ranks(&[("d", 1), ("a", 2), ("b", 3), ("c", 4)]));
    store.update_filter(&scope(), &d, "a", rank(2)).unwrap();
    assert_eq!(ranks(&store, &d), expect_ranks(&[("d", 1), ("a", 2), ("b", 3), ("c", 4)]));
    assert!(is_rank_out_of_bounds(store.update_filter(&scope(), &d, "a", rank(5))));

    store.delete_filter(&scope(), &d, "a").unwrap();
    assert_eq!(ranks(&store, &d), expect_ranks(&[("d", 1), ("b", 2), ("c", 3)]));
}

#[test]
fn at_most_one_hundred_filters() {
    let store = open();
    let d = detector(&store, &scope());
    for i in 0..MAX_FILTERS_PER_DETECTOR {
        create(&store, &d, noop(&format!("f{i:03}"), None));
    }
    assert!(matches!(
        store.create_filter(&scope(), &d, noop("one-too-many", None), None),
        Err(StoreError::QuotaExceeded { resource: Resource::Filter, max: MAX_FILTERS_PER_DETECTOR })
    ));
    assert!(matches!(
        store.create_filter(&scope(), &d, noop("one-too-many", Some(1)), None),
        Err(StoreError::QuotaExceeded { resource: Resource::Filter, max: MAX_FILTERS_PER_DETECTOR })
    ));
    store.delete_filter(&scope(), &d, "f050").unwrap();
    create(&store, &d, noop("one-too-many", None));
    assert_eq!(store.get_filter(&scope(), &d, "one-too-many").unwrap().rank, 100);
}

#[test]
fn listing_pages_by_name() {
    let store = open();
    let d = detector(&store, &scope());
    let mut names: Vec<String> = (0..23).map(|i| format!("filter-{:02}", (i * 7) % 23)).collect();
    for n in &names {
        create(&store, &d, noop(n, Some(1)));
    }
    names.sort();
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = store.list_filters(&scope(), &d, 5, token.as_deref()).unwrap();
        assert!(page.items.len() <= 5);
        seen.extend(page.items);
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, names);
    let whole = store.list_filters(&scope(), &d, 23, None).unwrap();
    assert_eq!((whole.items.len(), whole.next_token), (23, None));
    // A token is bound to its detector listing.
    let token = store.list_filters(&scope(), &d, 5, None).unwrap().next_token.unwrap();
    let other_scope = Scope::new("999988887777", "us-east-1");
    let other = detector(&store, &other_scope);
    assert!(matches!(store.list_filters(&other_scope, &other, 5, Some(&token)), Err(StoreError::BadToken)));
    assert!(matches!(store.list_filters(&scope(), &d, 5, Some("garbage")), Err(StoreError::BadToken)));
}

#[test]
fn deleting_the_detector_removes_its_filters() {
    let store = open();
    let d = detector(&store, &scope());
    let mut tagged = noop("tagged", None);
    tagged.tags = BTreeMap::from([("k".to_string(), "v".to_string())]);
    create(&store, &d, tagged);
    store.delete_detector(&scope(), &d).unwrap();
    let d2 = detector(&store, &scope());
    assert!(store.list_filters(&scope(), &d2, 50, None).unwrap().items.is_empty());
    assert!(store.list_tags(&scope(), &filter_arn(&scope(), &d, "tagged")).unwrap().is_empty());
}

// --- suppression ---------------------------------------------------------------------------------

#[test]
fn archive_filter_archives_matching_new_findings_only() {
    let store = open();
    let d = detector(&store, &scope());
    create(&store, &d, new_filter("no-root", FilterAction::Archive, None, equals("type", &[ROOT])));
    insert(&store, &d, vec![finding(&d, &fid(1), ROOT, 2.0, 1_000_000), finding(&d, &fid(2), KALI, 5.0, 1_000_000)]);
    assert!(archived(&store, &d, &fid(1)));
    assert!(!archived(&store, &d, &fid(2)));
}

#[test]
fn noop_filters_do_nothing() {
    let store = open();
    let d = detector(&store, &scope());
    create(&store, &d, new_filter("view-root", FilterAction::Noop, None, equals("type", &[ROOT])));
    insert(&store, &d, vec![finding(&d, &fid(1), ROOT, 2.0, 1_000_000)]);
    assert!(!archived(&store, &d, &fid(1)));
}

#[test]
fn suppression_applies_to_updates_and_is_not_retroactive() {
    let store = open();
    let d = detector(&store, &scope());
    insert(&store, &d, vec![finding(&d, &fid(1), ROOT, 2.0, 1_000_000), finding(&d, &fid(2), ROOT, 2.0, 1_000_000)]);
    create(&store, &d, new_filter("no-root", FilterAction::Archive, None, equals("type", &[ROOT])));
    // Existing findings are left as they are...
    assert!(!archived(&store, &d, &fid(1)));
    assert!(!archived(&store, &d, &fid(2)));
    // ...until they are updated by a new occurrence.
    insert(&store, &d, vec![finding(&d, &fid(1), ROOT, 2.0, 2_000_000)]);
    assert!(archived(&store, &d, &fid(1)));
    assert!(!archived(&store, &d, &fid(2)));
    let count = store.get_findings(&d, &[fid(1)], None).unwrap()[0].service.as_ref().unwrap().count;
    assert_eq!(count, Some(2), "a suppressed finding is still aggregated");

    // Once the rule is gone, the next occurrence brings it back among current findings.
    store.delete_filter(&scope(), &d, "no-root").unwrap();
    insert(&store, &d, vec![finding(&d, &fid(1), ROOT, 2.0, 3_000_000)]);
    assert!(!archived(&store, &d, &fid(1)));
}

#[test]
fn changing_a_filter_takes_effect_at_once() {
    let store = open();
    let d = detector(&store, &scope());
    create(&store, &d, new_filter("rule", FilterAction::Noop, None, equals("type", &[ROOT])));
    insert(&store, &d, vec![finding(&d, &fid(1), ROOT, 2.0, 1_000_000)]);
    assert!(!archived(&store, &d, &fid(1)));

    store.update_filter(&scope(), &d, "rule", FilterUpdate { action: Some(FilterAction::Archive), ..Default::default() }).unwrap();
    insert(&store, &d, vec![finding(&d, &fid(2), ROOT, 2.0, 1_000_000)]);
    assert!(archived(&store, &d, &fid(2)));

    store.update_filter(&scope(), &d, "rule", FilterUpdate { criteria: Some(equals("type", &[KALI])), ..Default::default() }).unwrap();
    insert(&store, &d, vec![finding(&d, &fid(3), ROOT, 2.0, 1_000_000), finding(&d, &fid(4), KALI, 5.0, 1_000_000)]);
    assert!(!archived(&store, &d, &fid(3)));
    assert!(archived(&store, &d, &fid(4)));
}

#[test]
fn rules_of_one_detector_leave_others_alone() {
    let store = open();
    let d = detector(&store, &scope());
    let other_scope = Scope::new("999988887777", "us-east-1");
    let other = detector(&store, &other_scope);
    create(&store, &d, new_filter("no-root", FilterAction::Archive, None, equals("type", &[ROOT])));
    insert(&store, &d, vec![finding(&d, &fid(1), ROOT, 2.0, 1_000_000)]);
    insert(&store, &other, vec![finding(&other, &fid(1), ROOT, 2.0, 1_000_000)]);
    assert!(archived(&store, &d, &fid(1)));
    assert!(!archived(&store, &other, &fid(1)));
}

#[test]
fn wildcards_and_several_conditions() {
    let store = open();
    let d = detector(&store, &scope());
    // type matches Policy:* AND errorCode is not AccessDenied.
    let mut criterion = BTreeMap::new();
    criterion.insert("type".to_string(), model::Condition { matches: Some(vec!["Policy:*".into()]), ..Default::default() });
    criterion.insert(
        "service.action.awsApiCallAction.errorCode".to_string(),
        model::Condition { not_equals: Some(vec!["AccessDenied".into()]), ..Default::default() },
    );
    create(&store, &d, new_filter("wild", FilterAction::Archive, None, model::FindingCriteria { criterion: Some(criterion) }));

    let mut ok_call = finding(&d, &fid(1), ROOT, 2.0, 1_000_000);
    let action = ok_call.service.as_mut().unwrap().action.as_mut().unwrap();
    action.aws_api_call_action.as_mut().unwrap().error_code = None;
    let denied_call = finding(&d, &fid(2), ROOT, 2.0, 1_000_000);
    let mut kali = finding(&d, &fid(3), KALI, 5.0, 1_000_000);
    kali.service.as_mut().unwrap().action.as_mut().unwrap().aws_api_call_action.as_mut().unwrap().error_code = None;
    insert(&store, &d, vec![ok_call, denied_call, kali]);
    assert!(archived(&store, &d, &fid(1)));
    assert!(!archived(&store, &d, &fid(2)));
    assert!(!archived(&store, &d, &fid(3)));
}

#[test]
fn another_handle_sees_filter_changes() {
    // Two handles on one database stand for `vedette serve` and `vedette ingest` side by side:
    // the ingesting one has its (empty) rules cached before the other creates a rule.
    let api = open();
    let ingest = api.connect();
    let d = detector(&api, &scope());
    insert(&ingest, &d, vec![finding(&d, &fid(1), ROOT, 2.0, 1_000_000)]);
    assert!(!archived(&ingest, &d, &fid(1)));

    create(&api, &d, new_filter("no-root", FilterAction::Archive, None, equals("type", &[ROOT])));
    insert(&ingest, &d, vec![finding(&d, &fid(2), ROOT, 2.0, 1_000_000)]);
    assert!(archived(&ingest, &d, &fid(2)));

    api.update_filter(&scope(), &d, "no-root", FilterUpdate { action: Some(FilterAction::Noop), ..Default::default() }).unwrap();
    insert(&ingest, &d, vec![finding(&d, &fid(3), ROOT, 2.0, 1_000_000)]);
    assert!(!archived(&ingest, &d, &fid(3)));

    api.update_filter(&scope(), &d, "no-root", FilterUpdate { action: Some(FilterAction::Archive), ..Default::default() }).unwrap();
    insert(&ingest, &d, vec![finding(&d, &fid(4), ROOT, 2.0, 1_000_000)]);
    assert!(archived(&ingest, &d, &fid(4)));

    api.delete_filter(&scope(), &d, "no-root").unwrap();
    insert(&ingest, &d, vec![finding(&d, &fid(5), ROOT, 2.0, 1_000_000)]);
    assert!(!archived(&ingest, &d, &fid(5)));
}

#[test]
fn a_new_detector_does_not_inherit_a_deleted_ones_rules() {
    let store = open();
    let d = detector(&store, &scope());
    create(&store, &d, new_filter("no-root", FilterAction::Archive, None, equals("type", &[ROOT])));
    insert(&store, &d, vec![finding(&d, &fid(1), ROOT, 2.0, 1_000_000)]);
    assert!(archived(&store, &d, &fid(1)));
    store.delete_detector(&scope(), &d).unwrap();
    // The new detector may reuse the old one's internal key.
    let d2 = detector(&store, &scope());
    insert(&store, &d2, vec![finding(&d2, &fid(1), ROOT, 2.0, 1_000_000)]);
    assert!(!archived(&store, &d2, &fid(1)));
}
