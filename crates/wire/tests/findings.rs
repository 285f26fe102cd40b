//! Findings over HTTP, seeded with CreateSampleFindings: paging, GetFindings, aggregation of
//! repeated samples, archive/unarchive, feedback and statistics.
mod support;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::*;
use vedette_domain::finding_types::CATALOGUE;

async fn all_ids(c: &Client, detector: &str, body: Value) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = body.clone();
        req["maxResults"] = json!(50);
        if let Some(t) = &token {
            req["nextToken"] = json!(t);
        }
        let r = c.post(&format!("/detector/{detector}/findings"), &req.to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
        let page = r.json();
        let page_ids = page["findingIds"].as_array().unwrap();
        assert!(page_ids.len() <= 50);
        ids.extend(page_ids.iter().map(|v| v.as_str().unwrap().to_string()));
        match page.get("nextToken").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    ids
}

async fn get_findings(c: &Client, detector: &str, ids: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for chunk in ids.chunks(50) {
        let r = c.post(&format!("/detector/{detector}/findings/get"), &json!({ "findingIds": chunk }).to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
        out.extend(r.json()["findings"].as_array().unwrap().iter().cloned());
    }
    out
}

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(has_null),
        Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

#[tokio::test]
async fn sample_findings_end_to_end() {
    let server = TestServer::sigv4().await;
    let c = server.client(0);
    let det = c.create_detector().await;
    let r = c.post(&format!("/detector/{det}/findings/create"), "{}").await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.body.is_empty());

    let expected_types: BTreeSet<&str> = CATALOGUE.iter().filter(|t| !t.retired).map(|t| t.name).collect();
    let ids = all_ids(&c, &det, json!({})).await;
    assert_eq!(ids.len(), expected_types.len());
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "pages neither repeat nor skip");

    let findings = get_findings(&c, &det, &ids).await;
    assert_eq!(findings.len(), ids.len());
    let types: BTreeSet<&str> = findings.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(types, expected_types);
    for f in &findings {
        assert!(!has_null(f), "no nulls in {f}");
        assert_eq!(f["service"]["count"], 1);
        assert_eq!(f["service"]["detectorId"], json!(det));
        assert_eq!(f["accountId"], json!(c.account.account_id));
        let info: Value = serde_json::from_str(f["service"]["additionalInfo"]["value"].as_str().unwrap()).unwrap();
        assert_eq!(info["sample"], true);
    }
    assert!(findings.iter().any(|f| f["service"]["action"]["awsApiCallAction"]["errorCode"].is_string()), "an AWS_API_CALL sample carries errorCode");

    // Samples again: the same findings, aggregated.
    c.post(&format!("/detector/{det}/findings/create"), "{}").await;
    let again = all_ids(&c, &det, json!({})).await;
    assert_eq!(again.iter().collect::<BTreeSet<_>>(), ids.iter().collect::<BTreeSet<_>>());
    for f in get_findings(&c, &det, &ids[..5]).await {
        assert_eq!(f["service"]["count"], 2);
    }

    // Archive two, find them by criterion, unarchive them.
    let two = &ids[..2];
    let r = c.post(&format!("/detector/{det}/findings/archive"), &json!({ "findingIds": two }).to_string()).await;
    assert_eq!(r.status, StatusCode::OK);
    let archived = json!({"findingCriteria": {"criterion": {"service.archived": {"equals": ["true"]}}}});
    let mut got = all_ids(&c, &det, archived.clone()).await;
    got.sort();
    let mut want = two.to_vec();
    want.sort();
    assert_eq!(got, want);
    c.post(&format!("/detector/{det}/findings/unarchive"), &json!({ "findingIds": two }).to_string()).await;
    assert!(all_ids(&c, &det, archived).await.is_empty());
    // An id that is not this detector's finding changes nothing and is a 400.
    let r = c
        .post(
            &format!("/detector/{det}/findings/archive"),
            &json!({ "findingIds": [two[0].clone(), "ffffffffffffffffffffffffffffffff"] }).to_string(),
        )
        .await;
    r.assert_error(400, "BadRequestException");
    assert_eq!(get_findings(&c, &det, &two[..1]).await[0]["service"]["archived"], false);

    let r = c.post(&format!("/detector/{det}/findings/feedback"), &json!({ "findingIds": two, "feedback": "USEFUL" }).to_string()).await;
    assert_eq!(r.status, StatusCode::OK);
    for f in get_findings(&c, &det, two).await {
        assert_eq!(f["service"]["userFeedback"], "USEFUL");
    }

    // Statistics agree with the listing.
    let stats = format!("/detector/{det}/findings/statistics");
    let by_severity = c.post(&stats, r#"{"findingStatisticTypes":["COUNT_BY_SEVERITY"]}"#).await.json();
    let counts: BTreeMap<String, i64> = serde_json::from_value(by_severity["findingStatistics"]["countBySeverity"].clone()).unwrap();
    assert_eq!(counts.values().sum::<i64>(), ids.len() as i64);
    let mut expected_counts: BTreeMap<String, i64> = BTreeMap::new();
    for f in &findings {
        *expected_counts.entry(format!("{:.1}", f["severity"].as_f64().unwrap())).or_default() += 1;
    }
    assert_eq!(counts, expected_counts);
    let grouped = c.post(&stats, r#"{"groupBy":"FINDING_TYPE","maxResults":100}"#).await.json();
    let rows = grouped["findingStatistics"]["groupedByFindingType"].as_array().unwrap().clone();
    assert_eq!(rows.len(), expected_types.len().min(100));
    assert!(rows.iter().all(|r| r["totalFindings"] == 1 && r["lastGeneratedAt"].is_number()));
}

#[tokio::test]
async fn named_sample_types_including_retired_ones() {
    let server = TestServer::sigv4().await;
    let c = server.client(0);
    let det = c.create_detector().await;
    let retired = CATALOGUE.iter().find(|t| t.retired).expect("the catalogue keeps retired types").name;
    let current = CATALOGUE.iter().find(|t| !t.retired).unwrap().name;
    let r = c.post(&format!("/detector/{det}/findings/create"), &json!({ "findingTypes": [retired, current, current] }).to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let ids = all_ids(&c, &det, json!({})).await;
    let types: BTreeSet<String> = get_findings(&c, &det, &ids).await.iter().map(|f| f["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(types, BTreeSet::from([retired.to_string(), current.to_string()]));
    // Filtering by type through the criteria language.
    let only = all_ids(&c, &det, json!({"findingCriteria": {"criterion": {"type": {"equals": [retired]}}}})).await;
    assert_eq!(only.len(), 1);
    // A deleted detector takes its findings with it.
    c.delete(&format!("/detector/{det}")).await;
    let det2 = c.create_detector().await;
    assert!(all_ids(&c, &det2, json!({})).await.is_empty());
}
