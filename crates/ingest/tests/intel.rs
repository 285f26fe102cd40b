//! Detection from lists and feeds through the ingest pipeline and the real store, and re-activation
//! of a changed list: ThreatIntelSets and the IPSet activated in the store, operator feeds and AWS ranges
//! loaded from files.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vedette_domain::criteria::{Criteria, Sort, parse_sort};
use vedette_domain::finding_types as ft;
use vedette_domain::{DetectorConfig, Scope, model};
use vedette_ingest::intel::FeedSpec;
use vedette_ingest::{IngestOptions, IntelConfig, Intelligence, ingest_paths};
use vedette_store::lists::{ListOutcome, ListUpdate, NewList, Snapshot};
use vedette_store::testing::{Call, Intercepted};
use vedette_store::{ListKind, ListStore, SqliteStore, Store};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const NOW: i64 = 1_800_000_000_000;
const THREAT_IP: &str = "185.220.101.50";
const BOTH_IP: &str = "45.95.147.10";
const CLEAN_IP: &str = "81.2.69.142";

fn record(id: &str, name: &str, source: &str, ip: &str, extra: Value) -> Value {
    let mut r = json!({
        "eventVersion": "1.09", "eventTime": "2024-03-01T10:00:00Z", "eventSource": source, "eventName": name,
        "awsRegion": REGION, "sourceIPAddress": ip, "userAgent": "aws-cli/2.15.0",
        "requestParameters": null, "responseElements": null, "requestID": "r", "eventID": id,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT, "eventCategory": "Management",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAALICE", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            "accountId": ACCOUNT, "accessKeyId": "AKIAALICE", "userName": "alice"},
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn deliver(dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let path = dir.join(format!("{ACCOUNT}_CloudTrail_{REGION}_20240301T1000Z_{name}.json.gz"));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(json!({"Records": records}).to_string().as_bytes()).unwrap();
    std::fs::write(&path, enc.finish().unwrap()).unwrap();
    path
}

fn scope() -> Scope {
    Scope::new(ACCOUNT, REGION)
}

fn store_with_detector(dir: &Path) -> (SqliteStore, String) {
    let store = SqliteStore::open(dir).unwrap();
    let detector = store.create_detector(&scope(), DetectorConfig::default(), Default::default(), None).unwrap();
    (store, detector.id)
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Creates a list and activates it as the list API's worker would (file read and parsed).
fn activate(store: &dyn Store, detector: &str, kind: ListKind, name: &str, entries: &[&str]) -> String {
    let new = NewList {
        kind,
        name: name.into(),
        format: "TXT".into(),
        location: format!("file:///lists/{name}.txt"),
        activate: true,
        tags: BTreeMap::new(),
        client_token: None,
        expected_bucket_owner: None,
    };
    let record = store.create_list(&scope(), detector, new).unwrap();
    settle_active(store, &record.list_id, record.generation, entries);
    record.list_id
}

fn settle_active(store: &dyn Store, list_id: &str, generation: i64, entries: &[&str]) {
    let canonical: Vec<String> = entries.iter().map(|e| e.parse::<vedette_domain::intel::IpNet>().unwrap().to_string()).collect();
    let snapshot = Snapshot {
        file_sha256: sha(&entries.join("\n")),
        entries: canonical,
        bad_lines: 0,
        location: "file:///lists/x.txt".into(),
        activated_at_ms: NOW + generation,
    };
    assert!(store.settle_list(list_id, generation, ListOutcome::Activated(snapshot)).unwrap());
}

fn reactivate(store: &dyn Store, detector: &str, kind: ListKind, list_id: &str, entries: &[&str]) {
    let update = ListUpdate { activate: Some(true), ..Default::default() };
    let record = store.update_list(&scope(), detector, kind, list_id, update).unwrap();
    settle_active(store, list_id, record.generation, entries);
}

fn options(intel: Intelligence) -> IngestOptions {
    IngestOptions { now_ms: Some(NOW), threads: 1, intel: Arc::new(intel), ..Default::default() }
}

fn findings(store: &dyn Store, detector: &str) -> Vec<model::Finding> {
    let sort = parse_sort(None).unwrap();
    let ids = store.list_findings(detector, &Criteria::default(), &sort, 50, None).unwrap().items;
    store.get_findings(detector, &ids, None).unwrap()
}

fn api(f: &model::Finding) -> &model::AwsApiCallAction {
    f.service.as_ref().unwrap().action.as_ref().unwrap().aws_api_call_action.as_ref().unwrap()
}

fn caller_ip(f: &model::Finding) -> &str {
    api(f).remote_ip_details.as_ref().unwrap().ip_address_v4.as_deref().unwrap()
}

fn threat_list_name(f: &model::Finding) -> Option<String> {
    let value = f.service.as_ref()?.additional_info.as_ref()?.value.as_deref()?;
    serde_json::from_str::<Value>(value).ok()?["threatListName"].as_str().map(str::to_owned)
}

/// (type, caller IP, errorCode) of every finding, sorted.
fn summary(all: &[model::Finding]) -> Vec<(String, String, Option<String>)> {
    let mut out: Vec<_> = all.iter().map(|f| (f.r#type.clone().unwrap(), caller_ip(f).to_owned(), api(f).error_code.clone())).collect();
    out.sort();
    out
}

#[test]
fn active_lists_in_the_store_raise_custom_findings_and_the_trusted_list_silences_its_ips() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    activate(&store, &detector, ListKind::Threat, "bad-actors", &[THREAT_IP, BOTH_IP]);
    activate(&store, &detector, ListKind::Threat, "more-actors", &["185.220.101.0/24"]);
    activate(&store, &detector, ListKind::Trusted, "office", &[BOTH_IP]);
    let root = json!({"type": "Root", "principalId": ACCOUNT, "accountId": ACCOUNT, "accessKeyId": "ASIAROOT"});
    let file = deliver(
        logs.path(),
        "a",
        &[
            record("e1", "ListUsers", "iam.amazonaws.com", THREAT_IP, json!({})),
            record(
                "e2",
                "DeleteTrail",
                "cloudtrail.amazonaws.com",
                THREAT_IP,
                json!({"errorCode": "AccessDenied", "userIdentity":
            {"type": "IAMUser", "principalId": "AIDABOB", "accountId": ACCOUNT, "accessKeyId": "AKIABOB", "userName": "bob"}}),
            ),
            // On a threat list AND the trusted list: trusted wins, nothing at all (root usage included).
            record("e3", "ListUsers", "iam.amazonaws.com", BOTH_IP, json!({})),
            record("e4", "CreateUser", "iam.amazonaws.com", BOTH_IP, json!({"userIdentity": root})),
            record("e5", "CreateUser", "iam.amazonaws.com", CLEAN_IP, json!({})),
            // Not publicly routable: lists never apply.
            record("e6", "CreateUser", "iam.amazonaws.com", "10.0.0.7", json!({})),
        ],
    );
    let summary_of_run = ingest_paths(&store, &[file], &options(Intelligence::default()), &mut |_| {}).unwrap();
    assert_eq!(summary_of_run.events, 6);
    let all = findings(&store, &detector);
    assert_eq!(
        summary(&all),
        [
            (ft::RECON_MALICIOUS_IP_CALLER_CUSTOM.to_owned(), THREAT_IP.to_owned(), None),
            (ft::UNAUTHORIZED_MALICIOUS_IP_CALLER_CUSTOM.to_owned(), THREAT_IP.to_owned(), Some("AccessDenied".to_owned())),
        ]
    );
    for f in &all {
        assert_eq!(threat_list_name(f).as_deref(), Some("bad-actors"), "first list by name");
        let details = f.service.as_ref().unwrap().evidence.as_ref().unwrap().threat_intelligence_details.as_ref().unwrap();
        let names: Vec<&str> = details.iter().map(|d| d.threat_list_name.as_deref().unwrap()).collect();
        assert_eq!(names, ["bad-actors", "more-actors"]);
        assert_eq!(details[0].threat_file_sha256.as_deref(), Some(sha(&[THREAT_IP, BOTH_IP].join("\n")).as_str()));
    }
    // Filterable as GuardDuty's attribute.
    let wire: model::FindingCriteria =
        serde_json::from_value(json!({"criterion": {"service.additionalInfo.threatListName": {"eq": ["bad-actors"]}}})).unwrap();
    let criteria = vedette_domain::criteria::parse_criteria(Some(&wire)).unwrap();
    let sort: Sort = parse_sort(None).unwrap();
    assert_eq!(store.list_findings(&detector, &criteria, &sort, 50, None).unwrap().items.len(), 2);
}

#[test]
fn a_reactivated_list_applies_its_new_entries_to_later_files_and_a_deactivated_one_stops_applying() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let list = activate(&store, &detector, ListKind::Threat, "bad-actors", &[THREAT_IP]);
    // One Intelligence for all runs, as `serve --watch` keeps it: its cache must notice changes.
    let opts = options(Intelligence::default());
    let run = |name: &str, ip: &str| {
        let file = deliver(
            logs.path(),
            name,
            &[record(
                name,
                "CreateUser",
                "iam.amazonaws.com",
                ip,
                json!({"userIdentity":
            {"type": "IAMUser", "principalId": format!("AIDA{name}"), "accountId": ACCOUNT, "accessKeyId": format!("AKIA{name}")}}),
            )],
        );
        ingest_paths(&store, &[file], &opts, &mut |_| {}).unwrap();
        findings(&store, &detector).iter().filter(|f| api(f).remote_ip_details.as_ref().unwrap().ip_address_v4.as_deref() == Some(ip)).count()
    };
    assert_eq!(run("one", THREAT_IP), 1);
    assert_eq!(run("two", CLEAN_IP), 0);

    // UpdateThreatIntelSet with a new file + re-activation: later events see the new entries.
    reactivate(&store, &detector, ListKind::Threat, &list, &[CLEAN_IP]);
    assert_eq!(run("three", CLEAN_IP), 1);
    assert_eq!(run("four", THREAT_IP), 1, "no new finding for the old entry (the one from file one stays)");
    let before = findings(&store, &detector).len();

    let record = store.update_list(&scope(), &detector, ListKind::Threat, &list, ListUpdate { activate: Some(false), ..Default::default() }).unwrap();
    assert!(store.settle_list(&list, record.generation, ListOutcome::Deactivated).unwrap());
    assert_eq!(run("five", CLEAN_IP), 1, "inactive: nothing new");
    assert_eq!(findings(&store, &detector).len(), before);
}

/// The SQLite store, except that `action` runs on it when ingest first asks for the progress of
/// `trigger`: that is the moment a worker starts reading that source.
fn change_lists_before(store: SqliteStore, trigger: String, action: StoreAction) -> Intercepted<SqliteStore> {
    let action = Mutex::new(Some(action));
    Intercepted::new(store, move |call, store| {
        if let Call::Progress(key) = call
            && *key == trigger
            && let Some(action) = action.lock().unwrap().take()
        {
            action(store);
        }
        Ok(())
    })
}

type StoreAction = Box<dyn FnOnce(&SqliteStore) + Send>;

#[test]
fn a_list_activated_during_a_run_applies_to_the_sources_read_after_it() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let identity = |n: &str| json!({"userIdentity": {"type": "IAMUser", "principalId": format!("AIDA{n}"), "accountId": ACCOUNT, "accessKeyId": format!("AKIA{n}")}});
    let first = deliver(logs.path(), "first", &[record("f1", "CreateUser", "iam.amazonaws.com", THREAT_IP, identity("F"))]);
    let second = deliver(logs.path(), "second", &[record("s1", "CreateUser", "iam.amazonaws.com", THREAT_IP, identity("S"))]);
    let trigger = format!("file:{}", std::fs::canonicalize(&second).unwrap().display());
    let detector_for_action = detector.clone();
    let wrapper = change_lists_before(
        store,
        trigger,
        Box::new(move |s: &SqliteStore| {
            activate(s, &detector_for_action, ListKind::Threat, "arrived-mid-run", &[THREAT_IP]);
        }),
    );
    // One worker: the first file is read entirely before the second starts.
    let summary = ingest_paths(&wrapper, &[first, second], &options(Intelligence::default()), &mut |_| {}).unwrap();
    assert_eq!(summary.sources, 2);
    let all = findings(&wrapper.inner, &detector);
    let keys: Vec<&str> =
        all.iter().map(|f| f.resource.as_ref().unwrap().access_key_details.as_ref().unwrap().access_key_id.as_deref().unwrap()).collect();
    assert_eq!(keys, ["AKIAS"], "only the events read after the activation: {all:#?}");
    assert_eq!(threat_list_name(&all[0]).as_deref(), Some("arrived-mid-run"));
}

#[test]
fn operator_feeds_and_aws_ranges_loaded_from_files() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let tor = files.path().join("tor-exits.txt");
    std::fs::write(&tor, format!("# Tor exit nodes\n{THREAT_IP}\nnot-an-address\n")).unwrap();
    let malicious = files.path().join("malicious.csv");
    std::fs::write(&malicious, format!("ip,category,score,first_seen,last_seen,ports\n{BOTH_IP},CnC,127,2024-01-01,2024-02-01,443\n")).unwrap();
    let ranges = files.path().join("ip-ranges.json");
    std::fs::write(
        &ranges,
        json!({"syncToken": "1", "createDate": "2024-03-01-00-00-00",
        "prefixes": [{"ip_prefix": "18.236.0.0/15", "region": "us-west-2", "service": "AMAZON", "network_border_group": "us-west-2"}],
        "ipv6_prefixes": []})
        .to_string(),
    )
    .unwrap();
    let config = IntelConfig {
        feeds: vec![
            format!("tor={}", tor.display()).parse::<FeedSpec>().unwrap(),
            format!("malicious={},PROOF_POINT", malicious.display()).parse::<FeedSpec>().unwrap(),
        ],
        ip_ranges: Some(ranges),
        ..Default::default()
    };
    let intel = Intelligence::load(&config).unwrap();
    let instance = |session: &str| {
        json!({"userIdentity": {"type": "AssumedRole", "principalId": format!("AROAWEB:{session}"),
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/web/{session}"), "accountId": ACCOUNT, "accessKeyId": format!("ASIA{session}"),
        "sessionContext": {"ec2RoleDelivery": "2.0", "sessionIssuer": {"type": "Role", "userName": "web"}}}})
    };
    let file = deliver(
        logs.path(),
        "a",
        &[
            record("e1", "DescribeInstances", "ec2.amazonaws.com", THREAT_IP, json!({})),
            record("e2", "GetSecretValue", "secretsmanager.amazonaws.com", BOTH_IP, json!({"errorCode": "AccessDeniedException"})),
            record("e3", "ListBuckets", "s3.amazonaws.com", CLEAN_IP, instance("i-0123456789abcdef0")),
            record("e4", "ListBuckets", "s3.amazonaws.com", "18.236.253.47", instance("i-0fedcba9876543210")),
        ],
    );
    ingest_paths(&store, &[file], &options(intel), &mut |_| {}).unwrap();
    let all = findings(&store, &detector);
    assert_eq!(
        summary(&all),
        [
            (ft::RECON_TOR_IP_CALLER.to_owned(), THREAT_IP.to_owned(), None),
            (ft::INSTANCE_CREDENTIAL_EXFILTRATION_OUTSIDE_AWS.to_owned(), CLEAN_IP.to_owned(), None),
            (ft::UNAUTHORIZED_MALICIOUS_IP_CALLER.to_owned(), BOTH_IP.to_owned(), Some("AccessDeniedException".to_owned())),
        ]
    );
    let named: BTreeMap<String, Option<String>> = all.iter().map(|f| (f.r#type.clone().unwrap(), threat_list_name(f))).collect();
    assert_eq!(named[ft::RECON_TOR_IP_CALLER].as_deref(), Some("tor-exits.txt"));
    assert_eq!(named[ft::UNAUTHORIZED_MALICIOUS_IP_CALLER].as_deref(), Some("malicious.csv"));
    let exfil = all.iter().find(|f| f.r#type.as_deref() == Some(ft::INSTANCE_CREDENTIAL_EXFILTRATION_OUTSIDE_AWS)).unwrap();
    assert_eq!(exfil.resource.as_ref().unwrap().instance_details.as_ref().unwrap().instance_id.as_deref(), Some("i-0123456789abcdef0"));
}

#[test]
fn unreadable_or_malformed_intel_files_are_errors_naming_the_file() {
    let files = tempfile::tempdir().unwrap();
    let missing = files.path().join("missing.txt");
    let config = IntelConfig { feeds: vec![format!("tor={}", missing.display()).parse().unwrap()], ..Default::default() };
    let err = Intelligence::load(&config).unwrap_err().to_string();
    assert!(err.contains("missing.txt") && err.contains("cannot read"), "{err}");
    let ranges = files.path().join("ranges.json");
    std::fs::write(&ranges, "secret-token-123 not json").unwrap();
    let err = Intelligence::load(&IntelConfig { ip_ranges: Some(ranges), ..Default::default() }).unwrap_err().to_string();
    assert!(err.contains("ranges.json") && !err.contains("secret-token-123"), "{err}");
    let mmdb = files.path().join("city.mmdb");
    std::fs::write(&mmdb, "not a database").unwrap();
    let err = Intelligence::load(&IntelConfig { geoip_city: Some(mmdb), ..Default::default() }).unwrap_err().to_string();
    assert!(err.contains("city.mmdb") && err.contains("MaxMind"), "{err}");
}

#[test]
fn detectors_holding_the_same_file_share_its_sets_and_unchanged_lists_are_not_rebuilt() {
    let data = tempfile::tempdir().unwrap();
    let (store, first) = store_with_detector(data.path());
    let second = store.create_detector(&Scope::new(ACCOUNT, "eu-west-1"), DetectorConfig::default(), Default::default(), None).unwrap().id;
    let other_scope = Scope::new(ACCOUNT, "eu-west-1");
    let activate_in = |scope: &Scope, detector: &str, name: &str, entries: &[&str]| {
        let new = NewList {
            kind: ListKind::Threat,
            name: name.into(),
            format: "TXT".into(),
            location: "file:///lists/x.txt".into(),
            activate: true,
            tags: BTreeMap::new(),
            client_token: None,
            expected_bucket_owner: None,
        };
        let record = store.create_list(scope, detector, new).unwrap();
        settle_active(&store, &record.list_id, record.generation, entries);
        record.list_id
    };
    activate_in(&scope(), &first, "a", &[THREAT_IP]);
    activate_in(&scope(), &first, "b", &[BOTH_IP]);
    activate_in(&other_scope, &second, "a-copy", &[THREAT_IP]);
    let b_copy = activate_in(&other_scope, &second, "b-copy", &[BOTH_IP]);

    let intel = Intelligence::default();
    let one = intel.lists(&store, &first).unwrap();
    let two = intel.lists(&store, &second).unwrap();
    assert!(Arc::ptr_eq(&one.threat[0].set, &two.threat[0].set), "same file: one set");
    assert!(Arc::ptr_eq(&one.threat[1].set, &two.threat[1].set));
    assert_eq!(two.threat.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["a-copy", "b-copy"], "names stay per detector");
    assert!(Arc::ptr_eq(&one, &intel.lists(&store, &first).unwrap()), "unchanged: not rebuilt");

    // Re-activated with another file: only that detector's list changes.
    let update = ListUpdate { activate: Some(true), ..Default::default() };
    let record = store.update_list(&other_scope, &second, ListKind::Threat, &b_copy, update).unwrap();
    settle_active(&store, &b_copy, record.generation, &[CLEAN_IP]);
    let two = intel.lists(&store, &second).unwrap();
    assert!(!Arc::ptr_eq(&one.threat[1].set, &two.threat[1].set));
    assert!(two.threat[1].set.contains(CLEAN_IP.parse().unwrap()));
    assert_eq!(two.threat_lists_with(CLEAN_IP.parse().unwrap()).count(), 1, "the union was rebuilt too");
    assert_eq!(two.threat_lists_with(BOTH_IP.parse().unwrap()).count(), 0);
    assert_eq!(one.threat_lists_with(BOTH_IP.parse().unwrap()).count(), 1, "the first detector's lists are untouched");
}
