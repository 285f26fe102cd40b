//! The operator surface: GET /metrics (Prometheus text, parsed here) and GET /health, both
//! answered without a signature while the API itself still requires one.
mod support;

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use support::*;

/// `name{labels}` → value, for every sample line of a Prometheus text exposition.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a value: {line:?}"));
        assert!(out.insert(series.to_string(), value).is_none(), "series twice: {series}");
    }
    out
}

fn value(samples: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(series, _)| {
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            n == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
}

#[tokio::test]
async fn metrics_and_health_are_served_unsigned_and_count_the_api() {
    let server = TestServer::sigv4().await;
    let c = server.client(0);
    let unsigned = |path: &str| send(server.addr, c.unsigned(Method::GET, path, b""));

    let health = unsigned("/health").await;
    assert_eq!(health.status, StatusCode::OK);
    let h = health.json();
    assert_eq!((h["status"].as_str(), h["store"].as_str()), (Some("ok"), Some("reachable")));
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));

    // The API still wants a signature.
    assert_eq!(unsigned("/detector").await.status, StatusCode::FORBIDDEN);
    let d = c.create_detector().await;
    for _ in 0..3 {
        assert_eq!(c.get(&format!("/detector/{d}")).await.status, StatusCode::OK);
    }
    c.get("/detector/0123456789abcdef0123456789abcdef")
        .await
        .assert_bad_request("The request is rejected because the input detectorId is not owned by the current account.");
    // An outbox consumer with one event waiting shows in the export figures.
    server.state.store().register_consumer("sink:test", None).unwrap();
    assert_eq!(
        c.post(&format!("/detector/{d}/findings/create"), r#"{"findingTypes":["Recon:IAMUser/MaliciousIPCaller"]}"#).await.status,
        StatusCode::OK
    );

    let r = unsigned("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    let samples = parse(&text);
    let requests = |op: &str, status: &str| value(&samples, "vedette_http_requests_total", &[("operation", op), ("status", status)]);
    assert_eq!(requests("GetDetector", "200"), Some(3.0), "{text}");
    assert_eq!(requests("GetDetector", "400"), Some(1.0));
    assert_eq!(requests("CreateDetector", "200"), Some(1.0));
    assert_eq!(requests("ListDetectors", "403"), Some(1.0));
    assert_eq!(value(&samples, "vedette_http_request_duration_seconds_count", &[("operation", "GetDetector")]), Some(4.0));
    assert!(value(&samples, "vedette_http_request_duration_seconds_bucket", &[("operation", "GetDetector"), ("le", "+Inf")]) == Some(4.0));
    assert_eq!(value(&samples, "vedette_outbox_depth", &[]), Some(1.0));
    assert_eq!(value(&samples, "vedette_outbox_queued_events", &[]), Some(1.0));
    assert_eq!(value(&samples, "vedette_export_consumer_backlog_events", &[("consumer", "sink:test")]), Some(1.0));
    assert!(value(&samples, "vedette_export_lag_seconds", &[]).is_some_and(|v| v >= 0.0));
    assert_eq!(value(&samples, "vedette_store_up", &[]), Some(1.0));
    assert_eq!(value(&samples, "vedette_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1.0));
    // Scrapes are not API requests.
    assert!(samples.keys().all(|k| !k.contains("operation=\"unknown\"")), "{text}");
    server.shutdown().await.unwrap();
}
