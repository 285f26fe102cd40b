//! GeoIP through the ingest pipeline, with small MaxMind-format databases built
//! here by a writer library: remoteIpDetails enrichment, and ConsoleLoginSuccess.B with logins
//! far apart and close together, across files, runs (restarts) and arrival orders.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mmdb_writer::Writer;
use mmdb_writer::ipnet::IpNet;
use serde_json::{Value, json};
use vedette_domain::criteria::{Criteria, parse_sort};
use vedette_domain::detect::console_login;
use vedette_domain::finding_types as ft;
use vedette_domain::{DetectorConfig, Scope, model};
use vedette_ingest::{IngestOptions, IntelConfig, Intelligence, ingest_paths};
use vedette_store::{SqliteStore, StateStore, Store};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const NOW: i64 = 1_800_000_000_000;
const PARIS_IP: &str = "81.2.69.142";
const LYON_IP: &str = "90.12.34.56";
const SYDNEY_IP: &str = "1.128.0.9";
const UNKNOWN_IP: &str = "8.8.4.4";

/// A GeoLite2-City-like and a GeoLite2-ASN-like database (same record layouts), in `dir`.
fn databases(dir: &Path) -> (PathBuf, PathBuf) {
    let place = |city: &str, iso: &str, country: &str, lat: f64, lon: f64| {
        json!({
            "city": {"geoname_id": 1, "names": {"en": city, "fr": format!("{city} (fr)")}},
            "country": {"iso_code": iso, "names": {"en": country, "de": "?"}},
            "location": {"latitude": lat, "longitude": lon, "accuracy_radius": 20u16, "time_zone": "UTC"},
        })
    };
    let mut city = Writer::new("GeoLite2-City");
    city.insert("81.2.69.0/24".parse::<IpNet>().unwrap(), &place("Paris", "FR", "France", 48.8566, 2.3522)).unwrap();
    city.insert("90.12.0.0/16".parse::<IpNet>().unwrap(), &place("Lyon", "FR", "France", 45.764, 4.8357)).unwrap();
    city.insert("1.128.0.0/16".parse::<IpNet>().unwrap(), &place("Sydney", "AU", "Australia", -33.8688, 151.2093)).unwrap();
    let mut asn = Writer::new("GeoLite2-ASN");
    asn.insert(
        "81.2.69.0/24".parse::<IpNet>().unwrap(),
        &json!({"autonomous_system_number": 20712u32, "autonomous_system_organization": "Andrews & Arnold Ltd"}),
    )
    .unwrap();
    // An ISP-database record: isp and organization as well.
    asn.insert(
        "1.128.0.0/16".parse::<IpNet>().unwrap(),
        &json!({"autonomous_system_number": 1221u32,
        "autonomous_system_organization": "Telstra Corporation Ltd", "isp": "Telstra Internet", "organization": "Telstra"}),
    )
    .unwrap();
    let (city_path, asn_path) = (dir.join("city.mmdb"), dir.join("asn.mmdb"));
    std::fs::write(&city_path, city.to_bytes().unwrap()).unwrap();
    std::fs::write(&asn_path, asn.to_bytes().unwrap()).unwrap();
    (city_path, asn_path)
}

fn intelligence(dir: &Path) -> Intelligence {
    let (city, asn) = databases(dir);
    Intelligence::load(&IntelConfig { geoip_city: Some(city), geoip_asn: Some(asn), ..Default::default() }).unwrap()
}

fn options(intel: Intelligence) -> IngestOptions {
    IngestOptions { now_ms: Some(NOW), intel: Arc::new(intel), ..Default::default() }
}

fn alice() -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAALICE", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"), "accountId": ACCOUNT, "userName": "alice"})
}

fn login(id: &str, time: &str, ip: &str, outcome: &str) -> Value {
    json!({
        "eventVersion": "1.09", "eventTime": time, "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
        "awsRegion": REGION, "sourceIPAddress": ip, "userAgent": "Mozilla/5.0", "eventID": id,
        "eventType": "AwsConsoleSignIn", "managementEvent": true, "recipientAccountId": ACCOUNT, "eventCategory": "Management",
        "userIdentity": alice(), "requestParameters": null, "responseElements": {"ConsoleLogin": outcome},
        "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/", "MobileVersion": "No", "MFAUsed": "Yes"},
    })
}

fn root_call(id: &str, ip: &str) -> Value {
    json!({
        "eventVersion": "1.09", "eventTime": "2024-03-01T09:00:00Z", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
        "awsRegion": REGION, "sourceIPAddress": ip, "userAgent": "aws-cli/2", "eventID": id, "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": ACCOUNT, "eventCategory": "Management", "requestParameters": null,
        "responseElements": null, "userIdentity": {"type": "Root", "principalId": ACCOUNT, "accountId": ACCOUNT, "accessKeyId": format!("ASIA{id}")},
    })
}

fn deliver(dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let path = dir.join(format!("{ACCOUNT}_CloudTrail_{REGION}_20240301T1000Z_{name}.json.gz"));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(json!({"Records": records}).to_string().as_bytes()).unwrap();
    std::fs::write(&path, enc.finish().unwrap()).unwrap();
    path
}

fn store_with_detector(dir: &Path) -> (SqliteStore, String) {
    let store = SqliteStore::open(dir).unwrap();
    let detector = store.create_detector(&Scope::new(ACCOUNT, REGION), DetectorConfig::default(), Default::default(), None).unwrap();
    (store, detector.id)
}

fn findings(store: &dyn Store, detector: &str) -> Vec<model::Finding> {
    let sort = parse_sort(None).unwrap();
    let ids = store.list_findings(detector, &Criteria::default(), &sort, 50, None).unwrap().items;
    store.get_findings(detector, &ids, None).unwrap()
}

fn of_type<'f>(all: &'f [model::Finding], ty: &str) -> Vec<&'f model::Finding> {
    all.iter().filter(|f| f.r#type.as_deref() == Some(ty)).collect()
}

fn remote(f: &model::Finding) -> &model::RemoteIpDetails {
    f.service.as_ref().unwrap().action.as_ref().unwrap().aws_api_call_action.as_ref().unwrap().remote_ip_details.as_ref().unwrap()
}

#[test]
fn remote_ip_details_come_from_the_databases_and_unknown_members_are_omitted() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let file = deliver(files.path(), "a", &[root_call("paris", PARIS_IP), root_call("sydney", SYDNEY_IP), root_call("unknown", UNKNOWN_IP)]);
    ingest_paths(&store, &[file], &options(intelligence(files.path())), &mut |_| {}).unwrap();
    let all = findings(&store, &detector);
    assert_eq!(all.len(), 3);
    let by_ip = |ip: &str| all.iter().map(remote).find(|r| r.ip_address_v4.as_deref() == Some(ip)).unwrap();

    let paris = by_ip(PARIS_IP);
    assert_eq!(paris.city.as_ref().unwrap().city_name.as_deref(), Some("Paris"), "English names");
    let country = paris.country.as_ref().unwrap();
    assert_eq!((country.country_code.as_deref(), country.country_name.as_deref()), (Some("FR"), Some("France")));
    let geo = paris.geo_location.as_ref().unwrap();
    assert_eq!((geo.lat, geo.lon), (Some(48.8566), Some(2.3522)));
    let org = paris.organization.as_ref().unwrap();
    assert_eq!(org.asn.as_deref(), Some("20712"));
    assert_eq!(org.asn_org.as_deref(), Some("Andrews & Arnold Ltd"));
    assert_eq!((org.isp.as_deref(), org.org.as_deref()), (None, None), "an ASN database has no ISP: omitted, not copied");

    let sydney = by_ip(SYDNEY_IP).organization.as_ref().unwrap();
    assert_eq!((sydney.isp.as_deref(), sydney.org.as_deref()), (Some("Telstra Internet"), Some("Telstra")));

    let unknown = by_ip(UNKNOWN_IP);
    assert_eq!(unknown, &model::RemoteIpDetails { ip_address_v4: Some(UNKNOWN_IP.into()), ..Default::default() });
}

#[test]
fn console_logins_far_apart_raise_console_login_success_b_across_files_and_restarts() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let (city, asn) = databases(files.path());
    let config = IntelConfig { geoip_city: Some(city), geoip_asn: Some(asn), ..Default::default() };
    let (store, detector) = store_with_detector(data.path());

    // Paris, then (another file, another run: a restart) Lyon 10 minutes later: close, nothing.
    let first = deliver(files.path(), "first", &[login("e-paris", "2024-03-01T10:00:00Z", PARIS_IP, "Success")]);
    ingest_paths(&store, &[first], &options(Intelligence::load(&config).unwrap()), &mut |_| {}).unwrap();
    let stored = store.load_state(&detector, console_login::STATE_PREFIX).unwrap();
    assert_eq!(stored.len(), 1, "the login history is in the store");
    let second = deliver(files.path(), "second", &[login("e-lyon", "2024-03-01T10:10:00Z", LYON_IP, "Success")]);
    ingest_paths(&store, &[second], &options(Intelligence::load(&config).unwrap()), &mut |_| {}).unwrap();
    assert!(of_type(&findings(&store, &detector), ft::CONSOLE_LOGIN_SUCCESS_B).is_empty(), "Paris → Lyon is not far");

    // A failed sign-in from Sydney proves nothing; a successful one two hours later does.
    let third = deliver(
        files.path(),
        "third",
        &[login("e-failed", "2024-03-01T10:30:00Z", SYDNEY_IP, "Failure"), login("e-sydney", "2024-03-01T12:10:00Z", SYDNEY_IP, "Success")],
    );
    ingest_paths(&store, &[third], &options(Intelligence::load(&config).unwrap()), &mut |_| {}).unwrap();
    let all = findings(&store, &detector);
    let found = of_type(&all, ft::CONSOLE_LOGIN_SUCCESS_B);
    assert_eq!(found.len(), 1, "{all:#?}");
    let f = found[0];
    assert_eq!(f.severity, Some(5.0));
    assert_eq!(remote(f).ip_address_v4.as_deref(), Some(SYDNEY_IP));
    assert_eq!(remote(f).city.as_ref().unwrap().city_name.as_deref(), Some("Sydney"));
    let service = f.service.as_ref().unwrap();
    assert_eq!(service.event_last_seen.as_deref(), Some("2024-03-01T12:10:00.000Z"));
    assert!(f.description.as_deref().unwrap().contains("Lyon"), "compared with the latest login before it: {:?}", f.description);
    let keys = f.resource.as_ref().unwrap().access_key_details.as_ref().unwrap();
    assert_eq!((keys.user_name.as_deref(), keys.principal_id.as_deref()), (Some("alice"), Some("AIDAALICE")));

    // Sydney again 30 hours later, then Paris 20 hours after that: possible journeys.
    let fourth = deliver(
        files.path(),
        "fourth",
        &[login("e-sydney-2", "2024-03-02T18:10:00Z", SYDNEY_IP, "Success"), login("e-paris-2", "2024-03-03T14:10:00Z", PARIS_IP, "Success")],
    );
    ingest_paths(&store, &[fourth], &options(Intelligence::load(&config).unwrap()), &mut |_| {}).unwrap();
    let found = of_type(&findings(&store, &detector), ft::CONSOLE_LOGIN_SUCCESS_B).len();
    assert_eq!(found, 1);
}

#[test]
fn logins_ingested_in_either_order_give_the_same_finding() {
    let files = tempfile::tempdir().unwrap();
    let early = deliver(files.path(), "early", &[login("e-paris", "2024-03-01T10:00:00Z", PARIS_IP, "Success")]);
    let late = deliver(files.path(), "late", &[login("e-sydney", "2024-03-01T11:00:00Z", SYDNEY_IP, "Success")]);
    let (city, asn) = databases(files.path());
    let config = IntelConfig { geoip_city: Some(city), geoip_asn: Some(asn), ..Default::default() };
    let mut results = Vec::new();
    for order in [[&early, &late], [&late, &early]] {
        let data = tempfile::tempdir().unwrap();
        let (store, detector) = store_with_detector(data.path());
        for file in order {
            ingest_paths(&store, std::slice::from_ref(file), &options(Intelligence::load(&config).unwrap()), &mut |_| {}).unwrap();
        }
        let all = findings(&store, &detector);
        let found = of_type(&all, ft::CONSOLE_LOGIN_SUCCESS_B);
        assert_eq!(found.len(), 1, "{all:#?}");
        let f = found[0];
        let service = f.service.as_ref().unwrap();
        // (Finding ids differ: each run has its own detector.)
        results.push((
            service.count,
            service.event_first_seen.clone(),
            service.event_last_seen.clone(),
            remote(f).clone(),
            vedette_domain::Evidence::from_finding(f).unwrap().event_ids,
        ));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].3.ip_address_v4.as_deref(), Some(SYDNEY_IP), "the later login's finding");
}

#[test]
fn without_a_geoip_database_there_is_no_location_and_no_velocity_finding() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let (store, detector) = store_with_detector(data.path());
    let file = deliver(
        files.path(),
        "a",
        &[
            login("e-paris", "2024-03-01T10:00:00Z", PARIS_IP, "Success"),
            login("e-sydney", "2024-03-01T11:00:00Z", SYDNEY_IP, "Success"),
            root_call("paris", PARIS_IP),
        ],
    );
    ingest_paths(&store, &[file], &IngestOptions { now_ms: Some(NOW), ..Default::default() }, &mut |_| {}).unwrap();
    let all = findings(&store, &detector);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].r#type.as_deref(), Some(ft::ROOT_CREDENTIAL_USAGE));
    assert_eq!(remote(&all[0]), &model::RemoteIpDetails { ip_address_v4: Some(PARIS_IP.into()), ..Default::default() });
    assert!(store.load_state(&detector, console_login::STATE_PREFIX).unwrap().is_empty());
}
