//! Account isolation matrix, driven by the model's operation list: account B calls every served
//! operation on account A's detector and on each of A's resources (findings, filters, IP sets,
//! threat-intel sets, publishing destinations, tags) and gets GuardDuty's "not owned by the
//! current account" answer every time; with B's own detector and A's resource ids, B sees none
//! of A's data. Afterwards every read A can make answers exactly as before.
//!
//! An operation that is served but has no request in [`request_for`] fails the test, so new
//! operations join the matrix when they are implemented.
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;
use vedette_model::{OPERATIONS, OperationSpec};
use vedette_remote::{Remote, RemoteConfig};
use vedette_store::SqliteStore;
use vedette_wire::ops::is_implemented;
use vedette_wire::{AppState, AuthConfig, Credential, Credentials};

const KMS_KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// One account's resources, by the names the model's URI labels use.
#[derive(Debug, Default, Clone)]
struct Resources {
    /// A readable `file://` list for IPSet / ThreatIntelSet bodies.
    list_location: String,
    detector: String,
    finding_ids: Vec<String>,
    filter: Option<String>,
    ip_set: Option<String>,
    threat_intel_set: Option<String>,
    destination: Option<String>,
}

/// A request for `op` on `res` as (path-and-query, body), or None if the matrix lacks `op`.
/// `arn` fills `{ResourceArn}`. Bodies are valid for the model: an ownership check must not
/// hide behind a validation error.
fn request_for(op: &OperationSpec, res: &Resources, arn: Option<&str>) -> Option<(String, String)> {
    let ids = json!(res.finding_ids);
    let criteria = json!({"criterion": {"severity": {"gte": 1}}});
    let destination_properties = json!({"destinationArn": "arn:aws:s3:::vedette-isolation", "kmsKeyArn": KMS_KEY});
    let body = match op.name {
        "CreateDetector" => json!({"enable": true}),
        "GetDetector" | "DeleteDetector" | "ListDetectors" => Value::Null,
        "UpdateDetector" => json!({"enable": false, "findingPublishingFrequency": "ONE_HOUR"}),
        "ListFindings" => json!({"findingCriteria": criteria, "maxResults": 50}),
        "GetFindings" | "ArchiveFindings" | "UnarchiveFindings" => json!({"findingIds": ids}),
        "UpdateFindingsFeedback" => json!({"findingIds": ids, "feedback": "NOT_USEFUL", "comments": "from b"}),
        "CreateSampleFindings" => json!({}),
        "GetFindingsStatistics" => json!({"findingStatisticTypes": ["COUNT_BY_SEVERITY"]}),
        "CreateFilter" => json!({"name": "b-made-filter", "action": "ARCHIVE", "findingCriteria": criteria}),
        "GetFilter" | "DeleteFilter" | "ListFilters" => Value::Null,
        "UpdateFilter" => json!({"action": "NOOP", "description": "from b"}),
        "CreateIPSet" | "CreateThreatIntelSet" => json!({"name": "b-made-list", "format": "TXT", "location": res.list_location, "activate": true}),
        "GetIPSet" | "DeleteIPSet" | "ListIPSets" | "GetThreatIntelSet" | "DeleteThreatIntelSet" | "ListThreatIntelSets" => Value::Null,
        "UpdateIPSet" | "UpdateThreatIntelSet" => json!({"name": "renamed-by-b", "activate": false}),
        "CreatePublishingDestination" => json!({"destinationType": "S3", "destinationProperties": destination_properties}),
        "DescribePublishingDestination" | "DeletePublishingDestination" | "ListPublishingDestinations" => Value::Null,
        "UpdatePublishingDestination" => json!({"destinationProperties": destination_properties}),
        "TagResource" => json!({"tags": {"owner": "b"}}),
        "UntagResource" | "ListTagsForResource" => Value::Null,
        _ => return None,
    };
    let mut path = String::new();
    for segment in op.request_uri.split('/').skip(1) {
        path.push('/');
        let value = match segment {
            "{DetectorId}" => res.detector.clone(),
            // Unset ids (the resource kind is not served) never reach a served operation's path.
            "{FilterName}" => res.filter.clone().unwrap_or_default(),
            "{IpSetId}" => res.ip_set.clone().unwrap_or_default(),
            "{ThreatIntelSetId}" => res.threat_intel_set.clone().unwrap_or_default(),
            "{DestinationId}" => res.destination.clone().unwrap_or_default(),
            "{ResourceArn}" => encode_label(arn?),
            s if s.starts_with('{') => return None,
            s => s.to_string(),
        };
        path.push_str(&value);
    }
    if op.name == "UntagResource" {
        path.push_str("?tagKeys=owner");
    }
    Some((path, if body.is_null() { String::new() } else { body.to_string() }))
}

/// A SigV4 server whose list reader may read one intel directory (no network, no S3).
struct Server {
    addr: std::net::SocketAddr,
    accounts: Vec<Account>,
    list_location: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Server {
    async fn start() -> Server {
        let accounts = accounts();
        let mut creds = Credentials::default();
        for a in &accounts {
            creds.insert(Credential {
                access_key_id: a.access_key_id.clone(),
                secret_access_key: a.secret_access_key.clone(),
                account_id: a.account_id.clone(),
            });
        }
        let (intel, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let list = intel.path().join("list.txt");
        std::fs::write(&list, "198.51.100.0/24\n203.0.113.7\n").unwrap();
        let remote = Remote::new(RemoteConfig { intel_dirs: vec![intel.path().to_path_buf()], allowed_hosts: vec![], s3: None }).unwrap();
        let state = AppState::new(Arc::new(SqliteStore::open(data.path()).unwrap()), AuthConfig::sigv4(creds)).with_remote(remote);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(vedette_wire::run(listener, state, std::future::pending()));
        Server { addr, accounts, list_location: format!("file://{}", list.display()), _dirs: (intel, data) }
    }

    fn client(&self, account: usize) -> Client {
        Client { addr: self.addr, account: self.accounts[account].clone(), region: REGION.into(), clock_offset_secs: 0 }
    }
}

fn served() -> Vec<&'static OperationSpec> {
    OPERATIONS.iter().filter(|op| is_implemented(op.name)).collect()
}

async fn call(client: &Client, op: &OperationSpec, path: &str, body: &str) -> Resp {
    client.call(Method::from_bytes(op.method.as_bytes()).unwrap(), path, body).await
}

fn labels(op: &OperationSpec) -> Vec<&'static str> {
    op.request_uri.split('/').filter(|s| s.starts_with('{')).collect()
}

fn ok(r: &Resp, what: &str) -> Value {
    assert!(r.status.is_success(), "{what}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    if r.body.is_empty() { Value::Null } else { r.json() }
}

/// A's detector with findings in several states and one of every resource kind that is served.
async fn populate(a: &Client, list_location: &str) -> Resources {
    let detector = a.create_detector().await;
    let mut res = Resources { detector: detector.clone(), list_location: list_location.to_string(), ..Default::default() };
    ok(&a.post(&format!("/detector/{detector}/findings/create"), "{}").await, "CreateSampleFindings");
    let listed = ok(&a.post(&format!("/detector/{detector}/findings"), r#"{"maxResults":50}"#).await, "ListFindings");
    res.finding_ids = listed["findingIds"].as_array().unwrap().iter().take(20).map(|v| v.as_str().unwrap().to_string()).collect();
    assert!(res.finding_ids.len() >= 3, "sample findings: {listed}");
    let (archived, rated) = (&res.finding_ids[..1], &res.finding_ids[1..2]);
    ok(&a.post(&format!("/detector/{detector}/findings/archive"), &json!({"findingIds": archived}).to_string()).await, "ArchiveFindings");
    ok(
        &a.post(
            &format!("/detector/{detector}/findings/feedback"),
            &json!({"findingIds": rated, "feedback": "USEFUL", "comments": "a's note"}).to_string(),
        )
        .await,
        "UpdateFindingsFeedback",
    );
    let arn = a.detector_arn(&detector);
    ok(&a.post(&format!("/tags/{}", encode_label(&arn)), r#"{"tags":{"team":"a"}}"#).await, "TagResource");
    if is_implemented("CreateFilter") {
        let body = json!({"name": "a-filter", "action": "NOOP", "description": "a's", "findingCriteria": {"criterion": {"severity": {"gte": 8}}}, "tags": {"team": "a"}});
        ok(&a.post(&format!("/detector/{detector}/filter"), &body.to_string()).await, "CreateFilter");
        res.filter = Some("a-filter".into());
    }
    for (op, kind, slot) in [("CreateIPSet", "ipset", &mut res.ip_set), ("CreateThreatIntelSet", "threatintelset", &mut res.threat_intel_set)] {
        if is_implemented(op) {
            let body = json!({"name": format!("a-{kind}"), "format": "TXT", "location": list_location, "activate": false, "tags": {"team": "a"}});
            let r = ok(&a.post(&format!("/detector/{detector}/{kind}"), &body.to_string()).await, op);
            let id_member = if kind == "ipset" { "ipSetId" } else { "threatIntelSetId" };
            *slot = Some(r[id_member].as_str().expect(id_member).to_string());
        }
    }
    if is_implemented("CreatePublishingDestination") {
        let body = json!({"destinationType": "S3", "destinationProperties": {"destinationArn": "arn:aws:s3:::a-bucket", "kmsKeyArn": KMS_KEY}, "tags": {"team": "a"}});
        let r = ok(&a.post(&format!("/detector/{detector}/publishingDestination"), &body.to_string()).await, "CreatePublishingDestination");
        res.destination = Some(r["destinationId"].as_str().unwrap().to_string());
    }
    res
}

/// The ARNs A's resources are tagged under (those the tag operations accept).
fn arns(a: &Client, res: &Resources) -> Vec<String> {
    let base = a.detector_arn(&res.detector);
    let mut out = vec![base.clone()];
    if let Some(f) = &res.filter {
        out.push(format!("{base}/filter/{f}"));
    }
    if let Some(d) = &res.destination {
        out.push(format!("{base}/publishingdestination/{d}"));
    }
    if let Some(id) = &res.ip_set {
        out.push(format!("{base}/ipset/{id}"));
    }
    if let Some(id) = &res.threat_intel_set {
        out.push(format!("{base}/threatintelset/{id}"));
    }
    out
}

fn is_read(op: &OperationSpec) -> bool {
    op.method == "GET" || ["Get", "List", "Describe"].iter().any(|p| op.name.starts_with(p))
}

/// Every read A can make of its own data, answer by answer.
async fn snapshot(a: &Client, res: &Resources) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for op in served().into_iter().filter(|op| is_read(op) && applicable(op, res)) {
        let targets: Vec<Option<String>> =
            if op.request_uri.contains("{ResourceArn}") { arns(a, res).into_iter().map(Some).collect() } else { vec![None] };
        for arn in targets {
            let Some((path, body)) = request_for(op, res, arn.as_deref()) else { continue };
            let r = call(a, op, &path, &body).await;
            out.insert(
                format!("{} {path} {body}", op.name),
                json!({"status": r.status.as_u16(), "body": if r.body.is_empty() { Value::Null } else { r.json() }}),
            );
        }
    }
    out
}

/// Whether `op` can be aimed at `res` (every id its URI needs exists).
fn applicable(op: &OperationSpec, res: &Resources) -> bool {
    labels(op).iter().all(|l| match *l {
        "{FilterName}" => res.filter.is_some(),
        "{IpSetId}" => res.ip_set.is_some(),
        "{ThreatIntelSetId}" => res.threat_intel_set.is_some(),
        "{DestinationId}" => res.destination.is_some(),
        _ => true,
    })
}

#[tokio::test]
async fn another_account_can_neither_see_nor_change_anything_of_a() {
    let server = Server::start().await;
    let (a, b) = (server.client(0), server.client(1));
    let a_res = populate(&a, &server.list_location).await;
    let b_detector = b.create_detector().await;
    let before = snapshot(&a, &a_res).await;
    assert!(before.values().all(|v| v["status"] == 200), "A's own reads: {before:#?}");

    let missing: Vec<&str> = served().iter().filter(|op| request_for(op, &a_res, Some("arn")).is_none()).map(|op| op.name).collect();
    assert!(missing.is_empty(), "served operations missing from the isolation matrix: {missing:?}");

    // A's identifiers, which no answer to B may contain.
    let markers = [a.account.account_id.clone(), a_res.detector.clone()];
    let leaks = |r: &Resp| markers.iter().find(|m| String::from_utf8_lossy(&r.body).contains(m.as_str())).cloned();

    let mut checked = Vec::new();
    for op in served() {
        if labels(op).is_empty() {
            // CreateDetector / ListDetectors act on the caller's own scope only.
            let (path, body) = request_for(op, &a_res, None).unwrap();
            let r = call(&b, op, &path, &body).await;
            assert!(leaks(&r).is_none(), "{}: B saw A's data: {}", op.name, String::from_utf8_lossy(&r.body));
            checked.push(op.name.to_string());
            continue;
        }
        if !applicable(op, &a_res) {
            panic!("{} is served but A has no resource for it: extend populate()", op.name);
        }
        // 1. On A's detector / A's resource ARNs: "not owned", every time.
        // ARNs as A wrote them, and rewritten to B's account (A's detector id under B's name).
        let targets: Vec<Option<String>> = if labels(op).contains(&"{ResourceArn}") {
            let own = arns(&a, &a_res);
            let rewritten = own.iter().map(|arn| arn.replace(&format!(":{}:", a.account.account_id), &format!(":{}:", b.account.account_id)));
            own.iter().cloned().chain(rewritten).map(Some).collect()
        } else {
            vec![None]
        };
        for arn in &targets {
            let (path, body) = request_for(op, &a_res, arn.as_deref()).unwrap();
            let r = call(&b, op, &path, &body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{} {path} as B: {}", op.name, String::from_utf8_lossy(&r.body));
            r.assert_bad_request(NOT_OWNED);
            assert!(leaks(&r).is_none(), "{}: answer names A", op.name);
            checked.push(format!("{} {path}", op.name));
        }
        // 2. On B's own detector with A's resource ids: whatever the answer, none of A's data.
        let b_view = Resources { detector: b_detector.clone(), ..a_res.clone() };
        let names_a_resource = labels(op).iter().any(|l| *l != "{DetectorId}" && *l != "{ResourceArn}")
            || ["GetFindings", "ArchiveFindings", "UnarchiveFindings", "UpdateFindingsFeedback"].contains(&op.name);
        if names_a_resource {
            let (path, body) = request_for(op, &b_view, None).unwrap();
            let r = call(&b, op, &path, &body).await;
            assert!(
                r.status == StatusCode::OK || r.status == StatusCode::BAD_REQUEST,
                "{} {path} as B on its own detector: {} {}",
                op.name,
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            if r.status == StatusCode::OK && op.name == "GetFindings" {
                assert_eq!(r.json()["findings"], json!([]), "B got A's findings through its own detector");
            }
            assert!(leaks(&r).is_none(), "{}: B saw A's data through its own detector: {}", op.name, String::from_utf8_lossy(&r.body));
            checked.push(format!("{} {path} (B's detector)", op.name));
        }
    }
    eprintln!("isolation matrix: {} calls over {} served operations", checked.len(), served().len());

    // A's world is exactly as it was.
    let after = snapshot(&a, &a_res).await;
    for (k, v) in &before {
        assert_eq!(Some(v), after.get(k), "A's answer changed after B's calls: {k}");
    }
    assert_eq!(before.len(), after.len());
    // And B's detector list is B's alone.
    let listed = ok(&b.get("/detector").await, "ListDetectors");
    assert!(!listed["detectorIds"].as_array().unwrap().iter().any(|d| d == &json!(a_res.detector)));
}

#[tokio::test]
async fn the_same_account_in_another_region_is_another_owner() {
    // The scope is (account, Region): A's own keys signed for another Region own nothing of A's.
    let server = Server::start().await;
    let a = server.client(0);
    let a_res = populate(&a, &server.list_location).await;
    let before = snapshot(&a, &a_res).await;
    let elsewhere = a.clone().with_region("eu-west-1");
    for op in served().into_iter().filter(|op| labels(op).contains(&"{DetectorId}") && applicable(op, &a_res)) {
        let (path, body) = request_for(op, &a_res, None).unwrap();
        call(&elsewhere, op, &path, &body).await.assert_bad_request(NOT_OWNED);
    }
    assert_eq!(before, snapshot(&a, &a_res).await);
}
