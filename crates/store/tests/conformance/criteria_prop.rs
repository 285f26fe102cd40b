//! ListFindings through the store against the in-memory reference evaluator: for random findings
//! and random criteria and sorts, every page concatenated must equal `Criteria::matches` filtering
//! plus `compare_for_sort` ordering; COUNT_BY_SEVERITY must equal counting in memory.

use std::collections::BTreeMap;

use crate::common::*;
use proptest::prelude::*;
use vedette_domain::attributes::{self, AttrKind};
use vedette_domain::criteria::{AttrValue, Criteria, Criterion, Sort, Test, compare_for_sort};
use vedette_domain::{model, time};
use vedette_store::Store;

const T0: i64 = 1_700_000_000_000;

/// The knobs a generated finding varies; `None` = attribute absent.
#[derive(Debug, Clone)]
struct Knobs {
    ty: &'static str,
    severity: Option<f64>,
    archived: Option<bool>,
    instance: bool,
    user_name: Option<&'static str>,
    error_code: Option<&'static str>,
    updated: Option<i64>,
    count: Option<i32>,
    /// Security groups per network interface.
    groups: Vec<Vec<&'static str>>,
    tags: Vec<(&'static str, &'static str)>,
    sample: Option<bool>,
    lat: Option<f64>,
}

const TYPES: &[&str] = &["Policy:IAMUser/RootCredentialUsage", "PenTest:IAMUser/KaliLinux", "Recon:EC2/PortProbeUnprotectedPort"];
const SEVERITIES: &[f64] = &[2.0, 5.0, 5.5, 7.0, 8.0, 8.9];
const USERS: &[&str] = &["alice", "bob", "Alice", "a?ice", "al[i]ce"];
const ERRORS: &[&str] = &["AccessDenied", "Throttling", "UnauthorizedOperation"];
const GROUPS: &[&str] = &["sg-1", "sg-2", "sg-3"];
const TAG_KEYS: &[&str] = &["env", "team", "Name"];
const TAG_VALUES: &[&str] = &["prod", "dev", "sec"];
const LATS: &[f64] = &[-33.5, 0.0, 12.25, 48.0];

fn pick<T: Clone + std::fmt::Debug + 'static>(pool: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(pool)
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        (pick(TYPES), prop::option::of(pick(SEVERITIES)), prop::option::of(any::<bool>()), any::<bool>()),
        (prop::option::of(pick(USERS)), prop::option::of(pick(ERRORS)), prop::option::of(0i64..6), prop::option::of(1i32..4)),
        (
            prop::collection::vec(prop::collection::vec(pick(GROUPS), 0..3), 0..3),
            prop::collection::vec((pick(TAG_KEYS), pick(TAG_VALUES)), 0..3),
            prop::option::of(any::<bool>()),
            prop::option::of(pick(LATS)),
        ),
    )
        .prop_map(|((ty, severity, archived, instance), (user_name, error_code, updated, count), (groups, tags, sample, lat))| Knobs {
            ty,
            severity,
            archived,
            instance,
            user_name,
            error_code,
            updated: updated.map(|k| T0 + k * 1000),
            count,
            groups,
            tags,
            sample,
            lat,
        })
}

fn build(detector_id: &str, n: usize, k: &Knobs) -> model::Finding {
    let mut f = finding(detector_id, &fid(n as u64), k.ty, 0.0, T0);
    f.severity = k.severity;
    f.updated_at = k.updated.map(time::iso_ms);
    let service = f.service.as_mut().unwrap();
    service.archived = k.archived;
    service.count = k.count;
    if let Some(sample) = k.sample {
        service.additional_info =
            Some(model::ServiceAdditionalInfo { value: Some(format!("{{\"sample\":{sample}}}")), r#type: Some("default".into()) });
    }
    let api = service.action.as_mut().unwrap().aws_api_call_action.as_mut().unwrap();
    api.error_code = k.error_code.map(str::to_owned);
    api.remote_ip_details =
        k.lat.map(|lat| model::RemoteIpDetails { geo_location: Some(model::GeoLocation { lat: Some(lat), lon: Some(1.0) }), ..Default::default() });
    let resource = f.resource.as_mut().unwrap();
    if k.instance {
        resource.resource_type = Some("Instance".into());
        resource.access_key_details = None;
        resource.instance_details = Some(model::InstanceDetails {
            instance_id: Some(format!("i-{n:08x}")),
            network_interfaces: Some(
                k.groups
                    .iter()
                    .map(|groups| model::NetworkInterface {
                        security_groups: Some(
                            groups.iter().map(|g| model::SecurityGroup { group_id: Some(g.to_string()), group_name: None }).collect(),
                        ),
                        ..Default::default()
                    })
                    .collect(),
            ),
            tags: Some(k.tags.iter().map(|(k, v)| model::Tag { key: Some(k.to_string()), value: Some(v.to_string()) }).collect()),
            ..Default::default()
        });
    } else {
        resource.access_key_details.as_mut().unwrap().user_name = k.user_name.map(str::to_owned);
    }
    f
}

/// Values a criterion on `path` may compare with: the pools above plus values no finding has.
fn value_pool(path: &str) -> Vec<AttrValue> {
    let strs = |pool: &[&str]| pool.iter().map(|s| AttrValue::Str(s.to_string())).chain([AttrValue::Str("none".into())]).collect();
    match path {
        "type" => strs(TYPES),
        "resource.accessKeyDetails.userName" => strs(USERS),
        "service.action.awsApiCallAction.errorCode" => strs(ERRORS),
        "resource.instanceDetails.networkInterfaces.securityGroups.groupId" => strs(GROUPS),
        "resource.instanceDetails.tags.key" => strs(TAG_KEYS),
        "resource.instanceDetails.tags.value" => strs(TAG_VALUES),
        "resource.resourceType" => strs(&["AccessKey", "Instance"]),
        "severity" => [1.0, 2.0, 5.0, 5.5, 7.0, 8.0, 8.9, 9.0].iter().map(|x| AttrValue::Num(*x)).collect(),
        "service.count" => (0..5).map(|x| AttrValue::Num(x as f64)).collect(),
        "updatedAt" => (-1..7).map(|k| AttrValue::Num((T0 + k * 1000) as f64)).collect(),
        "service.action.awsApiCallAction.remoteIpDetails.geoLocation.lat" => {
            [-33.5, 0.0, 12.25, 48.0, 7.0].iter().map(|x| AttrValue::Num(*x)).collect()
        }
        "service.archived" | "service.additionalInfo.sample" => vec![AttrValue::Bool(true), AttrValue::Bool(false)],
        other => panic!("no pool for {other}"),
    }
}

const FILTER_PATHS: &[&str] = &[
    "type",
    "severity",
    "service.archived",
    "resource.accessKeyDetails.userName",
    "service.action.awsApiCallAction.errorCode",
    "updatedAt",
    "service.count",
    "resource.resourceType",
    "resource.instanceDetails.networkInterfaces.securityGroups.groupId",
    "resource.instanceDetails.tags.key",
    "resource.instanceDetails.tags.value",
    "service.additionalInfo.sample",
    "service.action.awsApiCallAction.remoteIpDetails.geoLocation.lat",
];

const SORT_PATHS: &[&str] = &[
    "updatedAt",
    "severity",
    "type",
    "service.count",
    "service.archived",
    "id",
    "resource.accessKeyDetails.userName",
    "service.action.awsApiCallAction.errorCode",
    "service.action.awsApiCallAction.remoteIpDetails.geoLocation.lat",
];

const PATTERNS: &[&str] = &["*", "Policy:*", "*Kali*", "*Linux", "al*", "a?ice", "al[i]ce", "*e", "sg-*", "AccessDenied", ""];

/// One test valid for the attribute's kind (what `parse_criteria` would accept).
fn test_for(path: &'static str) -> BoxedStrategy<Test> {
    let attribute = attributes::lookup(path).unwrap();
    let values = prop::sample::subsequence(value_pool(path), 1..3);
    let equality = prop_oneof![values.clone().prop_map(Test::Equals), values.prop_map(Test::NotEquals)];
    match attribute.kind {
        AttrKind::Str => {
            let patterns = prop::sample::subsequence(PATTERNS.iter().map(|p| p.to_string()).collect::<Vec<_>>(), 1..3);
            prop_oneof![2 => equality, 1 => patterns.clone().prop_map(Test::Matches), 1 => patterns.prop_map(Test::NotMatches)].boxed()
        }
        AttrKind::Bool => equality.boxed(),
        AttrKind::Num | AttrKind::Time => {
            let bound =
                prop::sample::select(value_pool(path).into_iter().map(|v| if let AttrValue::Num(x) = v { x } else { 0.0 }).collect::<Vec<_>>());
            prop_oneof![
                2 => equality,
                1 => bound.clone().prop_map(Test::Gt),
                1 => bound.clone().prop_map(Test::Gte),
                1 => bound.clone().prop_map(Test::Lt),
                1 => bound.prop_map(Test::Lte),
            ]
            .boxed()
        }
    }
}

fn criteria() -> impl Strategy<Value = Criteria> {
    prop::sample::subsequence(FILTER_PATHS.to_vec(), 0..4)
        .prop_flat_map(|paths| {
            paths
                .into_iter()
                .map(|path| {
                    prop::collection::vec(test_for(path), 1..3)
                        .prop_map(move |tests| Criterion { attribute: attributes::lookup(path).unwrap(), tests })
                })
                .collect::<Vec<_>>()
        })
        .prop_map(|criteria| Criteria { criteria })
}

fn sort() -> impl Strategy<Value = Sort> {
    (pick(SORT_PATHS), any::<bool>()).prop_map(|(path, descending)| Sort { attribute: attributes::lookup(path).unwrap(), descending })
}

fn list_all(store: &dyn Store, detector_id: &str, criteria: &Criteria, sort: &Sort, page: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let p = store.list_findings(detector_id, criteria, sort, page, token.as_deref()).unwrap();
        assert!(p.items.len() <= page);
        assert!(p.next_token.is_none() || p.items.len() == page, "a short page must be the last");
        out.extend(p.items);
        match p.next_token {
            Some(t) => token = Some(t),
            None => return out,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn listing_equals_the_in_memory_reference(
        all_knobs in prop::collection::vec(knobs(), 0..30),
        queries in prop::collection::vec((criteria(), sort(), 1usize..8), 1..8),
        archive in prop::collection::vec(any::<bool>(), 0..30),
    ) {
        let store = open();
        let d = detector(&store, &scope());
        let mut findings: Vec<model::Finding> = all_knobs.iter().enumerate().map(|(n, k)| build(&d, n, k)).collect();
        insert(&store, &d, findings.clone());
        // Archive some through the store: the columns must follow.
        let to_archive: Vec<String> = findings.iter().zip(&archive).filter(|(_, a)| **a).map(|(f, _)| f.id.clone().unwrap()).collect();
        if !to_archive.is_empty() {
            store.set_archived(&d, &to_archive, true).unwrap();
            for f in findings.iter_mut().filter(|f| to_archive.contains(f.id.as_ref().unwrap())) {
                f.service.as_mut().unwrap().archived = Some(true);
            }
        }

        for (criteria, sort, page) in &queries {
            let mut expected: Vec<&model::Finding> = findings.iter().filter(|f| criteria.matches(f)).collect();
            expected.sort_by(|a, b| compare_for_sort(a, b, sort));
            let expected: Vec<String> = expected.iter().map(|f| f.id.clone().unwrap()).collect();
            let got = list_all(&store, &d, criteria, sort, *page);
            prop_assert_eq!(&got, &expected, "criteria {:?} sort {:?} page {}", criteria, sort, page);

            let mut counts: BTreeMap<String, i64> = BTreeMap::new();
            for f in findings.iter().filter(|f| criteria.matches(f)) {
                if let Some(s) = f.severity {
                    *counts.entry(format!("{s:?}")).or_default() += 1;
                }
            }
            prop_assert_eq!(store.count_by_severity(&d, criteria).unwrap(), counts);

            // GetFindings with a sort orders as the listing does.
            let got_findings = store.get_findings(&d, &expected.iter().rev().cloned().collect::<Vec<_>>(), Some(sort)).unwrap();
            let got_ids: Vec<String> = got_findings.iter().map(|f| f.id.clone().unwrap()).collect();
            prop_assert_eq!(got_ids, expected);
        }
    }
}
