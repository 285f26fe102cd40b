//! VPC flow logs and Route 53 Resolver query logs through the ingest pipeline and the real store
//! auto-detection beside CloudTrail, routing, findings about instances, detection
//! state that carries across files and runs.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use vedette_domain::criteria::{Criteria, parse_sort};
use vedette_domain::{DetectorConfig, Scope};
use vedette_ingest::{IngestOptions, Summary, ingest_paths};
use vedette_store::lists::{ListOutcome, NewList, Snapshot};
use vedette_store::{ListKind, ListStore, SqliteStore, Store};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const NOW: i64 = 1_800_000_000_000;
const ATTACKER: &str = "45.95.147.10";
const THREAT_IP: &str = "185.220.101.50";
/// 2024-03-01T10:00:00Z.
const T0: i64 = 1_709_287_200;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn store_with_detector(dir: &Path) -> (SqliteStore, String) {
    let store = SqliteStore::open(dir).unwrap();
    let detector = store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap();
    (store, detector.id)
}

fn options() -> IngestOptions {
    IngestOptions { now_ms: Some(NOW), flow_region: Some(REGION.into()), ..Default::default() }
}

fn ingest(store: &SqliteStore, paths: &[PathBuf], options: &IngestOptions) -> Summary {
    ingest_paths(store, paths, options, &mut |_| {}).unwrap()
}

/// Every finding of the detector, as the API shows it.
fn findings(store: &SqliteStore, detector: &str) -> Vec<Value> {
    let sort = parse_sort(None).unwrap();
    let ids = store.list_findings(detector, &Criteria::default(), &sort, 50, None).unwrap().items;
    let mut all: Vec<Value> = store.get_findings(detector, &ids, None).unwrap().iter().map(|f| serde_json::to_value(f).unwrap()).collect();
    all.sort_by_key(|f| f["Type"].as_str().or(f["type"].as_str()).unwrap_or_default().to_owned());
    all
}

fn field<'v>(f: &'v Value, camel: &str) -> &'v Value {
    let pascal = format!("{}{}", camel[..1].to_uppercase(), &camel[1..]);
    if f.get(camel).is_some() { &f[camel] } else { &f[&pascal] }
}

fn types(all: &[Value]) -> Vec<String> {
    all.iter().map(|f| field(f, "type").as_str().unwrap().to_owned()).collect()
}

fn of_type<'a>(all: &'a [Value], ty: &str) -> &'a Value {
    all.iter().find(|f| field(f, "type") == ty).unwrap_or_else(|| panic!("no {ty} in {}", serde_json::to_string_pretty(all).unwrap()))
}

/// `n` SSH attempts (accepted, few packets) from the attacker to 10.0.0.5, a minute apart from
/// `first` (default v2 order: no header).
fn ssh_attempts(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| {
            let t = T0 + 20 * i as i64;
            format!("2 {ACCOUNT} eni-0a1b2c3d {ATTACKER} 10.0.0.5 {} 22 6 4 240 {t} {} ACCEPT OK\n", 40_000 + i, t + 10)
        })
        .collect()
}

#[test]
fn v2_flow_logs_raise_ssh_brute_force_about_the_instance_and_bad_lines_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(&dir.path().join("db"));
    let mut text = ssh_attempts(0, 25);
    text.push_str("this is not a flow record\n");
    let file = write(dir.path(), "flow.log.gz", &gzip(text.as_bytes()));
    let summary = ingest(&store, &[file], &options());
    assert_eq!(summary.events, 25, "{summary:#?}");
    assert_eq!(summary.bad_records, 1);
    let all = findings(&store, &detector);
    assert_eq!(types(&all), vec!["UnauthorizedAccess:EC2/SSHBruteForce"]);
    let finding = &all[0];
    let resource = field(finding, "resource");
    assert_eq!(field(resource, "resourceType"), "Instance");
    let eni = &field(field(resource, "instanceDetails"), "networkInterfaces")[0];
    assert_eq!(field(eni, "networkInterfaceId"), "eni-0a1b2c3d");
    let action = field(field(finding, "service"), "action");
    assert_eq!(field(action, "actionType"), "NETWORK_CONNECTION");
    let connection = field(action, "networkConnectionAction");
    assert_eq!(field(connection, "connectionDirection"), "INBOUND");
    assert_eq!(field(field(connection, "localPortDetails"), "port"), 22);
    assert_eq!(field(field(connection, "remoteIpDetails"), "ipAddressV4"), ATTACKER);
}

#[test]
fn without_a_region_flow_records_are_bad_records_and_raise_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(&dir.path().join("db"));
    let file = write(dir.path(), "flow.log", ssh_attempts(0, 25).as_bytes());
    let summary = ingest(&store, &[file], &IngestOptions { now_ms: Some(NOW), ..Default::default() });
    assert_eq!(summary.bad_records, 25);
    assert!(findings(&store, &detector).is_empty());
}

/// Default-format records carry no Region; an object in the S3 delivery tree names it, and a
/// directory walk finds `.log.gz` objects there without `--flow-region`.
#[test]
fn the_delivery_key_gives_default_format_records_their_region() {
    let dir = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(&dir.path().join("db"));
    let tree = dir.path().join(format!("logs/AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}/2024/03/01"));
    std::fs::create_dir_all(&tree).unwrap();
    let name = format!("{ACCOUNT}_vpcflowlogs_{REGION}_fl-0a1b2c3d_20240301T1000Z_1a2b3c4d.log.gz");
    write(&tree, &name, &gzip(ssh_attempts(0, 25).as_bytes()));
    // Another Region's tree: routed there (no detector: skipped, not bad).
    let other = dir.path().join(format!("logs/AWSLogs/{ACCOUNT}/vpcflowlogs/eu-west-1/2024/03/01"));
    std::fs::create_dir_all(&other).unwrap();
    write(&other, "elsewhere.log", ssh_attempts(0, 3).as_bytes());
    let no_region = IngestOptions { now_ms: Some(NOW), ..Default::default() };
    let summary = ingest(&store, &[dir.path().join("logs")], &no_region);
    assert_eq!(summary.sources, 2, "{summary:#?}");
    assert_eq!((summary.events, summary.bad_records), (28, 0), "{summary:#?}");
    assert_eq!(summary.skipped_scopes.get(&format!("{ACCOUNT}/eu-west-1")), Some(&3), "{summary:#?}");
    assert_eq!(types(&findings(&store, &detector)), vec!["UnauthorizedAccess:EC2/SSHBruteForce"]);
}

/// A custom format's records exported from CloudWatch Logs have no header: `--flow-format`
/// gives their field order.
#[test]
fn flow_format_reads_headerless_custom_order_cloudwatch_exports() {
    let dir = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(&dir.path().join("db"));
    let format = "${region} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${interface-id} ${account-id} ${version} ${log-status}";
    let text: String = (0..25)
        .map(|i| {
            let t = T0 + 20 * i;
            format!(
                "2024-03-01T10:{:02}:{:02}.000Z {REGION} {ATTACKER} 10.0.0.5 {} 22 6 4 240 {t} {} ACCEPT eni-0a1b2c3d {ACCOUNT} 5 OK\n",
                i * 20 / 60,
                i * 20 % 60,
                40_000 + i,
                t + 10
            )
        })
        .collect();
    let file = write(dir.path(), "000000.gz", &gzip(text.as_bytes()));
    let layout = vedette_domain::flow::FlowLayout::from_format(format).unwrap();
    let with_format = IngestOptions { now_ms: Some(NOW), flow_format: Some(layout), ..Default::default() };
    let summary = ingest(&store, std::slice::from_ref(&file), &with_format);
    assert_eq!((summary.events, summary.bad_records), (25, 0), "{summary:#?}");
    assert_eq!(types(&findings(&store, &detector)), vec!["UnauthorizedAccess:EC2/SSHBruteForce"]);

    // Without it the lines are no flow records in the default order: nothing is made up.
    let (other, other_detector) = store_with_detector(&dir.path().join("db2"));
    let summary = ingest(&other, &[file], &options());
    assert_eq!(summary.events, 0, "{summary:#?}");
    assert!(findings(&other, &other_detector).is_empty());
}

#[test]
fn a_day_split_over_files_and_runs_gives_the_findings_of_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let (whole_store, whole_detector) = store_with_detector(&dir.path().join("whole"));
    let whole = write(dir.path(), "whole.log", ssh_attempts(0, 30).as_bytes());
    ingest(&whole_store, &[whole], &options());
    let (split_store, split_detector) = store_with_detector(&dir.path().join("split"));
    // Each run starts from the store alone (a restart): 12 attempts, then 18 more.
    for (i, (first, n)) in [(0, 12), (12, 18)].into_iter().enumerate() {
        let part = write(dir.path(), &format!("part{i}.log"), ssh_attempts(first, n).as_bytes());
        ingest(&split_store, &[part], &options());
    }
    let (whole, split) = (findings(&whole_store, &whole_detector), findings(&split_store, &split_detector));
    assert_eq!(types(&whole), vec!["UnauthorizedAccess:EC2/SSHBruteForce"]);
    assert_eq!(types(&split), types(&whole));
    let count = |f: &Value| field(field(f, "service"), "count").clone();
    assert_eq!(count(&split[0]), count(&whole[0]));
}

/// Activates a threat list of `entries` as the list API's worker would.
fn activate_threat_list(store: &SqliteStore, detector: &str, entries: &[&str]) {
    let new = NewList {
        kind: ListKind::Threat,
        name: "bad-hosts".into(),
        format: "TXT".into(),
        location: "file:///lists/bad-hosts.txt".into(),
        activate: true,
        tags: BTreeMap::new(),
        client_token: None,
        expected_bucket_owner: None,
    };
    let record = store.create_list(&Scope::new(ACCOUNT, REGION), detector, new).unwrap();
    let snapshot = Snapshot {
        file_sha256: hex::encode(Sha256::digest(entries.join("\n").as_bytes())),
        entries: entries.iter().map(|e| e.to_string()).collect(),
        bad_lines: 0,
        location: "file:///lists/bad-hosts.txt".into(),
        activated_at_ms: NOW,
    };
    assert!(store.settle_list(&record.list_id, record.generation, ListOutcome::Activated(snapshot)).unwrap());
}

#[test]
fn a_custom_header_file_routes_by_its_region_field_and_a_threat_list_raises_the_custom_finding() {
    let dir = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(&dir.path().join("db"));
    activate_threat_list(&store, &detector, &[THREAT_IP]);
    let text = format!(
        "account-id region instance-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action flow-direction\n\
         {ACCOUNT} {REGION} i-0abc1234 eni-0a1b2c3d 10.0.0.5 {THREAT_IP} 51000 443 6 10 900 {T0} {} ACCEPT egress\n\
         {ACCOUNT} eu-west-1 i-0abc1234 eni-0a1b2c3d 10.0.0.5 {THREAT_IP} 51001 443 6 10 900 {T0} {} ACCEPT egress\n",
        T0 + 30,
        T0 + 30
    );
    let file = write(dir.path(), "custom.log.gz", &gzip(text.as_bytes()));
    // No --flow-region: the records' own region field routes them.
    let summary = ingest(&store, &[file], &IngestOptions { now_ms: Some(NOW), ..Default::default() });
    assert_eq!(summary.skipped_scopes.get(&format!("{ACCOUNT}/eu-west-1")), Some(&1), "{summary:#?}");
    let all = findings(&store, &detector);
    assert_eq!(types(&all), vec!["UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"]);
    let resource = field(&all[0], "resource");
    assert_eq!(field(field(resource, "instanceDetails"), "instanceId"), "i-0abc1234");
    let connection = field(field(field(&all[0], "service"), "action"), "networkConnectionAction");
    assert_eq!(field(connection, "connectionDirection"), "OUTBOUND");
    assert_eq!(field(field(connection, "remoteIpDetails"), "ipAddressV4"), THREAT_IP);
}

fn query(name: &str, answers: &str, time: &str) -> String {
    format!(
        r#"{{"version":"1.100000","account_id":"{ACCOUNT}","region":"{REGION}","vpc_id":"vpc-7example","query_timestamp":"{time}","query_name":"{name}","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{answers}],"srcaddr":"10.0.0.5","srcport":"51298","transport":"UDP","srcids":{{"instance":"i-0abc1234"}}}}"#
    ) + "\n"
}

#[test]
fn query_logs_raise_dns_findings_and_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(&dir.path().join("db"));
    let mut text = query("amazon.com.", r#"{"Rdata":"176.32.103.205","Type":"A","Class":"IN"}"#, "2024-03-01T10:00:00Z");
    text += &query("guarddutyc2activityb.com.", "", "2024-03-01T10:00:05Z");
    text += &query("rebind.attacker.example.net.", r#"{"Rdata":"169.254.169.254","Type":"A","Class":"IN"}"#, "2024-03-01T10:00:09Z");
    text += "{\"query_name\":\"no-account.example.\",\"srcids\":{}}\n";
    let file = write(dir.path(), "resolver.log.gz", &gzip(text.as_bytes()));
    let summary = ingest(&store, std::slice::from_ref(&file), &options());
    assert_eq!((summary.events, summary.bad_records), (3, 1), "{summary:#?}");
    let all = findings(&store, &detector);
    assert_eq!(types(&all), vec!["Backdoor:EC2/C&CActivity.B!DNS", "UnauthorizedAccess:EC2/MetadataDNSRebind"]);
    for f in &all {
        let resource = field(f, "resource");
        assert_eq!(field(resource, "resourceType"), "Instance");
        assert_eq!(field(field(resource, "instanceDetails"), "instanceId"), "i-0abc1234");
        let action = field(field(f, "service"), "action");
        assert_eq!(field(action, "actionType"), "DNS_REQUEST");
    }
    let c2 = of_type(&all, "Backdoor:EC2/C&CActivity.B!DNS");
    assert_eq!(field(field(field(field(c2, "service"), "action"), "dnsRequestAction"), "domain"), "guarddutyc2activityb.com");
    // Exactly once: the same file again changes nothing.
    let again = ingest(&store, &[file], &options());
    assert_eq!(again.sources_already_ingested, 1);
    assert_eq!(findings(&store, &detector), all);
}

#[test]
fn an_inventory_fills_the_instance_details_of_flow_findings() {
    let dir = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(&dir.path().join("db"));
    let inventory = concat!(env!("CARGO_MANIFEST_DIR"), "/../domain/tests/data/flow/describe_instances.json");
    let inventory = vedette_ingest::intel::load_inventory(Path::new(inventory)).unwrap();
    let text = ssh_attempts(0, 25).replace("eni-0a1b2c3d", "eni-0aaaaaaaaaaaaaaa1").replace("10.0.0.5", "10.0.1.10");
    let file = write(dir.path(), "flow.log", text.as_bytes());
    ingest(&store, &[file], &IngestOptions { inventory: Some(std::sync::Arc::new(inventory)), ..options() });
    let all = findings(&store, &detector);
    assert_eq!(types(&all), vec!["UnauthorizedAccess:EC2/SSHBruteForce"]);
    let details = field(field(&all[0], "resource"), "instanceDetails");
    assert_eq!(field(details, "instanceId"), "i-0aaaaaaaaaaaaaaa1");
    assert_eq!(field(details, "instanceType"), "t3.micro");
}

#[test]
fn an_inventory_fills_the_instance_details_of_dns_findings_and_names_instances_without_srcids() {
    let dir = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(&dir.path().join("db"));
    let inventory = concat!(env!("CARGO_MANIFEST_DIR"), "/../domain/tests/data/flow/describe_instances.json");
    let inventory = vedette_ingest::intel::load_inventory(Path::new(inventory)).unwrap();
    let line = |srcaddr: &str, srcids: &str| {
        format!(
            r#"{{"version":"1.100000","account_id":"{ACCOUNT}","region":"{REGION}","vpc_id":"vpc-0123456789abcdef0","query_timestamp":"2024-03-01T10:00:00Z","query_name":"guarddutyc2activityb.com.","query_type":"A","srcaddr":"{srcaddr}","srcport":"5353","transport":"UDP"{srcids}}}"#
        ) + "\n"
    };
    // One query names its instance; the other, logged without srcids, is the second instance's
    // address in the same VPC.
    let text = line("10.0.1.10", r#","srcids":{"instance":"i-0aaaaaaaaaaaaaaa1"}"#) + &line("10.0.2.20", "");
    let file = write(dir.path(), "resolver.log", text.as_bytes());
    ingest(&store, &[file], &IngestOptions { inventory: Some(std::sync::Arc::new(inventory)), ..options() });
    let all = findings(&store, &detector);
    assert_eq!(types(&all), vec!["Backdoor:EC2/C&CActivity.B!DNS"; 2]);
    let mut seen: Vec<(String, String, String)> = all
        .iter()
        .map(|f| {
            let details = field(field(f, "resource"), "instanceDetails");
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (text(field(details, "instanceId")), text(field(details, "instanceType")), text(field(details, "availabilityZone")))
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("i-0aaaaaaaaaaaaaaa1".into(), "t3.micro".into(), "us-east-1a".into()),
            ("i-0bbbbbbbbbbbbbbb2".into(), "m5.xlarge".into(), "us-east-1b".into()),
        ]
    );

    // Without the inventory: the named instance only, with what the log says.
    let dir = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(&dir.path().join("db"));
    let file = write(dir.path(), "resolver.log", text.as_bytes());
    ingest(&store, &[file], &options());
    let all = findings(&store, &detector);
    assert_eq!(all.len(), 1);
    let details = field(field(&all[0], "resource"), "instanceDetails");
    assert_eq!(field(details, "instanceId"), "i-0aaaaaaaaaaaaaaa1");
    assert!(field(details, "instanceType").is_null() && field(details, "availabilityZone").is_null(), "{details}");
    assert_eq!(field(&field(details, "networkInterfaces")[0], "privateIpAddress"), "10.0.1.10");
}
