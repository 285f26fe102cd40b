//! The official Rust SDK, unmodified, against a real `vedette serve` process.
use std::collections::{HashMap, HashSet};

use aws_sdk_guardduty::error::ProvideErrorMetadata;
use aws_sdk_guardduty::operation::get_detector::GetDetectorError;
use aws_sdk_guardduty::operation::list_findings::ListFindingsError;
use aws_sdk_guardduty::types::{Condition, Feedback, FindingCriteria, FindingStatisticType, GroupByType, OrderBy, SortCriteria};
use vedette_sdk_tests::{Account, Server};

async fn all_finding_ids(client: &aws_sdk_guardduty::Client, detector_id: &str, page_size: i32) -> Vec<String> {
    let mut stream = client.list_findings().detector_id(detector_id).into_paginator().page_size(page_size).items().send();
    let mut ids = Vec::new();
    while let Some(id) = stream.next().await {
        ids.push(id.expect("ListFindings page"));
    }
    ids
}

async fn get_all(client: &aws_sdk_guardduty::Client, detector_id: &str, ids: &[String]) -> Vec<aws_sdk_guardduty::types::Finding> {
    let mut out = Vec::new();
    for chunk in ids.chunks(50) {
        let got = client.get_findings().detector_id(detector_id).set_finding_ids(Some(chunk.to_vec())).send().await.expect("GetFindings");
        out.extend(got.findings().iter().cloned());
    }
    out
}

#[tokio::test]
async fn detector_samples_list_get_archive_statistics_tags() {
    let account = Account::numbered(1);
    let server = Server::start(vec![account.clone()]);
    let client = server.client(&account).await;

    let detector_id = client
        .create_detector()
        .enable(true)
        .tags("team", "blue")
        .send()
        .await
        .expect("CreateDetector")
        .detector_id()
        .expect("detectorId")
        .to_string();
    assert_eq!(detector_id.len(), 32);
    let listed = client.list_detectors().send().await.expect("ListDetectors");
    assert_eq!(listed.detector_ids(), std::slice::from_ref(&detector_id));
    let detector = client.get_detector().detector_id(&detector_id).send().await.expect("GetDetector");
    assert_eq!(detector.status().map(|s| s.as_str()), Some("ENABLED"));

    client.create_sample_findings().detector_id(&detector_id).send().await.expect("CreateSampleFindings");

    // Paginator with small pages: every id exactly once.
    let ids = all_finding_ids(&client, &detector_id, 7).await;
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "ListFindings repeated an id across pages");
    assert!(ids.len() > 50, "expected one sample per catalogue type, got {}", ids.len());

    let findings = get_all(&client, &detector_id, &ids).await;
    assert_eq!(findings.len(), ids.len());
    let with_error_code: Vec<_> = findings.iter().filter_map(|f| f.service()?.action()?.aws_api_call_action()?.error_code()).collect();
    assert!(!with_error_code.is_empty(), "no sample carries awsApiCallAction.errorCode");

    // GetFindings with SortCriteria.
    let sorted = client
        .get_findings()
        .detector_id(&detector_id)
        .set_finding_ids(Some(ids[..50].to_vec()))
        .sort_criteria(SortCriteria::builder().attribute_name("severity").order_by(OrderBy::Desc).build())
        .send()
        .await
        .expect("GetFindings sorted");
    let severities: Vec<f64> = sorted.findings().iter().map(|f| f.severity().expect("severity")).collect();
    assert!(severities.windows(2).all(|w| w[0] >= w[1]), "not DESC: {severities:?}");

    // Archive two, then filter on service.archived.
    client.archive_findings().detector_id(&detector_id).finding_ids(&ids[0]).finding_ids(&ids[1]).send().await.expect("ArchiveFindings");
    let archived = client
        .list_findings()
        .detector_id(&detector_id)
        .finding_criteria(FindingCriteria::builder().criterion("service.archived", Condition::builder().equals("true").build()).build())
        .send()
        .await
        .expect("ListFindings archived");
    let archived: HashSet<&str> = archived.finding_ids().iter().map(String::as_str).collect();
    assert_eq!(archived, HashSet::from([ids[0].as_str(), ids[1].as_str()]));
    client.unarchive_findings().detector_id(&detector_id).finding_ids(&ids[0]).send().await.expect("UnarchiveFindings");
    client
        .update_findings_feedback()
        .detector_id(&detector_id)
        .finding_ids(&ids[2])
        .feedback(Feedback::Useful)
        .send()
        .await
        .expect("UpdateFindingsFeedback");
    let after = get_all(&client, &detector_id, &ids[..3]).await;
    let by_id: HashMap<&str, _> = after.iter().map(|f| (f.id().unwrap(), f)).collect();
    assert_eq!(by_id[ids[0].as_str()].service().unwrap().archived(), Some(false));
    assert_eq!(by_id[ids[1].as_str()].service().unwrap().archived(), Some(true));
    assert_eq!(by_id[ids[2].as_str()].service().unwrap().user_feedback(), Some("USEFUL"));

    // Statistics, both forms, agree with the findings themselves.
    let mut expected: HashMap<u64, i32> = HashMap::new();
    for f in &findings {
        *expected.entry(f.severity().unwrap().to_bits()).or_default() += 1;
    }
    // The 2020 form (deprecated in the current model) is exactly what old clients send.
    #[allow(deprecated)]
    let stats = client
        .get_findings_statistics()
        .detector_id(&detector_id)
        .finding_statistic_types(FindingStatisticType::CountBySeverity)
        .send()
        .await
        .expect("GetFindingsStatistics COUNT_BY_SEVERITY");
    #[allow(deprecated)]
    let counts = stats.finding_statistics().and_then(|s| s.count_by_severity()).expect("countBySeverity");
    let got: HashMap<u64, i32> = counts.iter().map(|(k, v)| (k.parse::<f64>().expect("numeric key").to_bits(), *v)).collect();
    assert_eq!(got, expected);
    let grouped = client
        .get_findings_statistics()
        .detector_id(&detector_id)
        .group_by(GroupByType::Severity)
        .send()
        .await
        .expect("GetFindingsStatistics groupBy");
    let grouped: HashMap<u64, i32> = grouped
        .finding_statistics()
        .expect("findingStatistics")
        .grouped_by_severity()
        .iter()
        .map(|g| (g.severity().unwrap().to_bits(), g.total_findings().unwrap()))
        .collect();
    assert_eq!(grouped, expected);

    // Tags on the detector ARN.
    let arn = format!("arn:aws:guardduty:us-east-1:{}:detector/{detector_id}", account.account_id);
    client.tag_resource().resource_arn(&arn).tags("env", "prod").send().await.expect("TagResource");
    let tags = client.list_tags_for_resource().resource_arn(&arn).send().await.expect("ListTagsForResource");
    assert_eq!(
        tags.tags().cloned().unwrap_or_default(),
        HashMap::from([("team".to_string(), "blue".to_string()), ("env".to_string(), "prod".to_string())])
    );
    client.untag_resource().resource_arn(&arn).tag_keys("team").send().await.expect("UntagResource");
    let tags = client.list_tags_for_resource().resource_arn(&arn).send().await.expect("ListTagsForResource");
    assert_eq!(tags.tags().cloned().unwrap_or_default(), HashMap::from([("env".to_string(), "prod".to_string())]));

    client.delete_detector().detector_id(&detector_id).send().await.expect("DeleteDetector");
    assert!(client.list_detectors().send().await.unwrap().detector_ids().is_empty());
}

#[tokio::test]
async fn unknown_and_foreign_detectors_map_to_bad_request_exception() {
    let (owner, intruder) = (Account::numbered(2), Account::numbered(3));
    let server = Server::start(vec![owner.clone(), intruder.clone()]);
    let owner_client = server.client(&owner).await;
    let intruder_client = server.client(&intruder).await;
    let detector_id = owner_client.create_detector().enable(true).send().await.unwrap().detector_id().unwrap().to_string();

    for id in ["1".repeat(32), detector_id.clone()] {
        let err = intruder_client.get_detector().detector_id(&id).send().await.expect_err("must fail");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        let service_err = err.into_service_error();
        assert!(matches!(service_err, GetDetectorError::BadRequestException(_)), "not a BadRequestException: {service_err:?}");
        assert!(service_err.message().unwrap_or_default().contains("not owned by the current account"), "{service_err:?}");
    }
    // A server-side validation failure the SDK does not catch itself: unknown criterion attribute.
    let err = owner_client
        .list_findings()
        .detector_id(&detector_id)
        .finding_criteria(FindingCriteria::builder().criterion("no.such.attribute", Condition::builder().equals("x").build()).build())
        .send()
        .await
        .expect_err("unknown attribute must fail");
    let service_err = err.into_service_error();
    assert!(matches!(service_err, ListFindingsError::BadRequestException(_)), "{service_err:?}");
}

#[tokio::test]
async fn wrong_secret_is_a_403_the_sdk_recognises() {
    let account = Account::numbered(4);
    let server = Server::start(vec![account.clone()]);
    let client = server.client_with_secret(&account, "definitely-not-the-secret").await;
    let err = client.list_detectors().send().await.expect_err("bad signature must fail");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403), "{err:?}");
    let service_err = err.into_service_error();
    let code = service_err.code().unwrap_or_default().to_string();
    assert_eq!(code, "InvalidSignatureException", "{service_err:?}");
    assert!(service_err.meta().message().is_some_and(|m| !m.is_empty()), "{service_err:?}");

    // And the right secret works on the same server.
    let good = server.client(&account).await;
    assert!(good.list_detectors().send().await.expect("ListDetectors").detector_ids().is_empty());
}
