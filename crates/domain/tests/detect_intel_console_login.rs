//! UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B: the login history and its journeys (the
//! ingester keeps the history in the store; see crates/ingest/tests/intel_geoip.rs).
use std::net::IpAddr;

use serde_json::json;
use vedette_domain::cloudtrail::parse_record;
use vedette_domain::detect::console_login::{self, Journey, Login, LoginHistory, MAX_REMEMBERED, MAX_TRAVEL_SPEED_KMH, MIN_DISTANCE_KM, WINDOW_MS};
use vedette_domain::detect::{DetectContext, DetectorLists, Intel, OperatorIntel};
use vedette_domain::finding_types as ft;
use vedette_domain::geo::{GeoInfo, GeoLookup, haversine_km};
use vedette_domain::time::parse_iso_ms;

const HOUR: i64 = 3_600_000;
const PARIS: (f64, f64) = (48.8566, 2.3522);
const SYDNEY: (f64, f64) = (-33.8688, 151.2093);
const LYON: (f64, f64) = (45.764, 4.8357);

fn login(id: &str, time_ms: i64, (lat, lon): (f64, f64)) -> Login {
    Login { time_ms, event_id: id.into(), ip: format!("81.2.69.{}", id.len()), lat, lon, accuracy_km: 0.0, place: None }
}

fn pairs(journeys: &[Journey]) -> Vec<(String, String)> {
    journeys.iter().map(|j| (j.from.event_id.clone(), j.to.event_id.clone())).collect()
}

#[test]
fn logins_far_apart_in_little_time_are_a_journey_and_close_or_slow_ones_are_not() {
    let mut h = LoginHistory::default();
    assert!(h.add(login("paris", 0, PARIS)).is_empty());
    // Paris → Sydney (about 16,960 km) in 2 hours.
    let j = h.add(login("sydney", 2 * HOUR, SYDNEY));
    assert_eq!(pairs(&j), [("paris".to_owned(), "sydney".to_owned())]);
    assert!((j[0].distance_km - haversine_km(PARIS, SYDNEY)).abs() < 1e-9);
    assert!(j[0].speed_kmh.unwrap() > MAX_TRAVEL_SPEED_KMH);

    // Lyon is under the distance floor from Paris, even a minute later.
    let mut close = LoginHistory::default();
    close.add(login("paris", 0, PARIS));
    assert!(haversine_km(PARIS, LYON) < MIN_DISTANCE_KM);
    assert!(close.add(login("lyon", 60_000, LYON)).is_empty());

    // Paris → Sydney in 20 hours is an airliner's speed: possible.
    let mut slow = LoginHistory::default();
    slow.add(login("paris", 0, PARIS));
    assert!(slow.add(login("sydney", 20 * HOUR, SYDNEY)).is_empty());

    // Two places at the same instant.
    let mut same = LoginHistory::default();
    same.add(login("paris", 5, PARIS));
    let j = same.add(login("sydney", 5, SYDNEY));
    assert_eq!(j.len(), 1);
    assert_eq!(j[0].speed_kmh, None);
}

#[test]
fn accuracy_radii_count_against_the_distance() {
    let mut h = LoginHistory::default();
    let mut a = login("a", 0, (0.0, 0.0));
    let mut b = login("b", HOUR / 2, (0.0, 9.0)); // ~1,000 km apart, half an hour.
    a.accuracy_km = 300.0;
    b.accuracy_km = 300.0;
    h.add(a);
    assert!(h.add(b.clone()).is_empty(), "1,000 km less 600 km of uncertainty is under the floor");
    let mut precise = LoginHistory::default();
    precise.add(login("a", 0, (0.0, 0.0)));
    assert_eq!(precise.add(login("b", HOUR / 2, (0.0, 9.0))).len(), 1);
}

#[test]
fn out_of_order_logins_meet_the_same_neighbours() {
    // a→b and c→d are impossible; every other pair (a→c, b→d: over 20 h) is possible.
    let logins = [login("a", 0, PARIS), login("b", 2 * HOUR, SYDNEY), login("c", 22 * HOUR, SYDNEY), login("d", 23 * HOUR, PARIS)];
    let mut in_order = LoginHistory::default();
    let mut found_in_order: Vec<(String, String)> = logins.iter().flat_map(|l| pairs(&in_order.add(l.clone()))).collect();
    found_in_order.sort();
    assert_eq!(found_in_order, [("a".to_owned(), "b".to_owned()), ("c".to_owned(), "d".to_owned())]);

    for order in [[3, 2, 1, 0], [1, 0, 3, 2], [2, 0, 3, 1], [0, 3, 1, 2]] {
        let mut h = LoginHistory::default();
        let mut found: Vec<(String, String)> = order.iter().flat_map(|&i| pairs(&h.add(logins[i].clone()))).collect();
        found.sort();
        assert_eq!(found, found_in_order, "order {order:?}");
        assert_eq!(h, in_order, "the same history whatever the order");
    }
}

#[test]
fn a_late_login_between_two_compared_ones_cannot_retract_their_comparison() {
    // Paris then Sydney 12 h later (1,400 km/h: impossible); then, late, a Sydney login 1 h
    // after Paris arrives. In order only Paris→Sydney(1h) is a journey; late, Paris→Sydney(12h)
    // was already reported as well. This is the order dependence kept (documented).
    let (a, b, late) = (login("a", 0, PARIS), login("b", 12 * HOUR, SYDNEY), login("m", HOUR, SYDNEY));
    let mut in_order = LoginHistory::default();
    let found: Vec<_> = [a.clone(), late.clone(), b.clone()].into_iter().flat_map(|l| pairs(&in_order.add(l))).collect();
    assert_eq!(found, [("a".to_owned(), "m".to_owned())]);
    let mut h = LoginHistory::default();
    let found: Vec<_> = [a, b, late].into_iter().flat_map(|l| pairs(&h.add(l))).collect();
    assert_eq!(found, [("a".to_owned(), "b".to_owned()), ("a".to_owned(), "m".to_owned())]);
    assert_eq!(h, in_order);
}

#[test]
fn logins_arriving_more_than_the_window_behind_the_newest_are_not_paired_with_each_other() {
    // The memory per user is bounded: once a login a day later has been seen, earlier ones
    // arriving late are compared with what is still remembered only.
    let mut h = LoginHistory::default();
    h.add(login("newest", 40 * HOUR, PARIS));
    assert!(h.add(login("b", 2 * HOUR, SYDNEY)).is_empty());
    assert!(h.add(login("a", 0, PARIS)).is_empty(), "b was already forgotten");
}

#[test]
fn a_login_seen_again_reveals_nothing_and_old_logins_are_forgotten() {
    let mut h = LoginHistory::default();
    h.add(login("paris", 0, PARIS));
    assert_eq!(h.add(login("sydney", HOUR, SYDNEY)).len(), 1);
    assert!(h.add(login("sydney", HOUR, SYDNEY)).is_empty(), "re-read");
    assert_eq!(h.logins.len(), 2);

    h.add(login("later", HOUR + WINDOW_MS + 1, PARIS));
    assert_eq!(h.logins.iter().map(|l| l.event_id.as_str()).collect::<Vec<_>>(), ["later"]);
    for i in 0..(MAX_REMEMBERED as i64 + 10) {
        h.add(login(&format!("x{i}"), HOUR + WINDOW_MS + 2 + i, PARIS));
    }
    assert_eq!(h.logins.len(), MAX_REMEMBERED);
    assert_eq!(LoginHistory::from_json(&h.to_json()), h, "round trip through the stored JSON");
    assert_eq!(LoginHistory::from_json("not json"), LoginHistory::default());
}

fn console_login(id: &str, time: &str, ip: &str, outcome: &str) -> String {
    json!({
        "eventVersion": "1.08", "eventTime": time, "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": "Mozilla/5.0", "eventID": id,
        "eventType": "AwsConsoleSignIn", "managementEvent": true, "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAALICE", "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333", "userName": "alice"},
        "responseElements": {"ConsoleLogin": outcome},
        "additionalEventData": {"MFAUsed": "No"}
    })
    .to_string()
}

struct Places;

impl GeoLookup for Places {
    fn lookup(&self, ip: IpAddr) -> GeoInfo {
        let (city, (lat, lon)) = match ip.to_string().as_str() {
            "81.2.69.142" => ("Paris", PARIS),
            "1.128.0.1" => ("Sydney", SYDNEY),
            _ => return GeoInfo::default(),
        };
        GeoInfo { city_name: Some(city.into()), lat: Some(lat), lon: Some(lon), ..Default::default() }
    }
}

#[test]
fn records_become_logins_and_a_journey_an_occurrence_of_the_later_login() {
    let operator = OperatorIntel { geo: Some(Box::new(Places)), ..Default::default() };
    let lists = DetectorLists::default();
    let ctx =
        |position| DetectContext { detector_id: "d", now_ms: 0, source: "f.json", position, intel: Intel { operator: &operator, lists: &lists } };
    let paris_json = console_login("e-paris", "2024-03-01T10:00:00Z", "81.2.69.142", "Success");
    let sydney_json = console_login("e-sydney", "2024-03-01T11:00:00Z", "1.128.0.1", "Success");
    let paris = parse_record(paris_json.as_bytes()).unwrap();
    let sydney = parse_record(sydney_json.as_bytes()).unwrap();
    assert!(console_login::is_successful_login(&paris));
    let failed_json = console_login("e-f", "2024-03-01T11:00:00Z", "1.128.0.1", "Failure");
    assert!(!console_login::is_successful_login(&parse_record(failed_json.as_bytes()).unwrap()));
    assert_eq!(console_login::user_key(&paris).as_deref(), Some("console-login:arn:aws:iam::111122223333:user/alice"));

    let geo_of = |r: &vedette_domain::cloudtrail::CloudTrailRecord<'_>| operator.geo(r.source_ip_address.as_str().parse().unwrap());
    let a = console_login::login_of(&paris, &geo_of(&paris)).unwrap();
    let b = console_login::login_of(&sydney, &geo_of(&sydney)).unwrap();
    let unknown_json = console_login("e-x", "2024-03-01T11:00:00Z", "8.8.4.4", "Success");
    let unknown = parse_record(unknown_json.as_bytes()).unwrap();
    assert_eq!(console_login::login_of(&unknown, &geo_of(&unknown)), None, "no location, no login to compare");

    // In order: Sydney's record reveals the journey.
    let mut h = LoginHistory::default();
    h.add(a.clone());
    let journey = h.add(b.clone()).pop().unwrap();
    let in_order = console_login::occurrence(&sydney, &ctx(2), &journey).unwrap();
    // Out of order: Paris's record reveals it; the occurrence is still Sydney's.
    let mut h = LoginHistory::default();
    h.add(b);
    let journey = h.add(a).pop().unwrap();
    let out_of_order = console_login::occurrence(&paris, &ctx(1), &journey).unwrap();

    for occ in [&in_order, &out_of_order] {
        let f = &occ.finding;
        assert_eq!(f.r#type.as_deref(), Some(ft::CONSOLE_LOGIN_SUCCESS_B));
        assert_eq!(occ.event_time_ms, parse_iso_ms("2024-03-01T11:00:00Z").unwrap());
        assert_eq!(occ.evidence.event_ids, ["e-sydney"]);
        let service = f.service.as_ref().unwrap();
        assert_eq!(service.event_last_seen.as_deref(), Some("2024-03-01T11:00:00.000Z"));
        let api = service.action.as_ref().unwrap().aws_api_call_action.as_ref().unwrap();
        let details = api.remote_ip_details.as_ref().unwrap();
        assert_eq!(details.ip_address_v4.as_deref(), Some("1.128.0.1"));
        assert_eq!(details.city.as_ref().unwrap().city_name.as_deref(), Some("Sydney"));
        assert!(f.description.as_deref().unwrap().contains("Paris"), "{:?}", f.description);
    }
    assert_eq!(in_order.finding.id, out_of_order.finding.id, "one finding per user");

    // A trusted later login raises nothing.
    let trusted = DetectorLists::build(vec!["1.128.0.0/16".parse().unwrap()], vec![]);
    let ctx = DetectContext { detector_id: "d", now_ms: 0, source: "f.json", position: 2, intel: Intel { operator: &operator, lists: &trusted } };
    assert!(console_login::occurrence(&sydney, &ctx, &journey).is_none());
}
