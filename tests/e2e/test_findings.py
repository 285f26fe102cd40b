"""Findings through boto3: CreateSampleFindings, ListFindings (paging), GetFindings, Archive,
Unarchive, UpdateFindingsFeedback, GetFindingsStatistics (2020 and current forms)."""
import collections
import math
import re
import time

import pytest
from botocore.exceptions import ClientError

import catalogue
from errors import assert_client_error
from gdutil import additional_info, get_findings, list_all_ids

HEX32 = re.compile(r"^[0-9a-f]{32}$")
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")


@pytest.fixture
def samples(gd, detector_id):
    """A detector holding one sample of every type; returns (detector_id, findings)."""
    gd.create_sample_findings(DetectorId=detector_id)
    ids = list_all_ids(gd, detector_id)
    return detector_id, get_findings(gd, detector_id, ids)


# ---- CreateSampleFindings --------------------------------------------------------------------

def test_sample_findings_cover_every_catalogue_type_once(samples, account):
    detector_id, findings = samples
    types = collections.Counter(f["Type"] for f in findings)
    assert [t for t, n in types.items() if n > 1] == []
    missing = sorted(set(catalogue.ACTIVE) - set(types))
    assert missing == [], f"no sample for: {missing}"

    for f in findings:
        ftype = f["Type"]
        assert HEX32.match(f["Id"]), f["Id"]
        assert f["Arn"] == (f"arn:aws:guardduty:us-east-1:{account.account_id}:detector/{detector_id}"
                            f"/finding/{f['Id']}")
        assert f["AccountId"] == account.account_id
        assert f["Region"] == "us-east-1"
        assert f["Partition"] == "aws"
        assert f["SchemaVersion"] == "2.0"
        assert 1.0 <= f["Severity"] <= 10.0, f
        assert ISO_UTC.match(f["CreatedAt"]) and ISO_UTC.match(f["UpdatedAt"]), f
        assert f["Title"] and f["Description"], ftype
        svc = f["Service"]
        assert svc["ServiceName"] == "guardduty"
        assert svc["DetectorId"] == detector_id
        assert svc["Archived"] is False
        assert svc["Count"] >= 1
        assert ISO_UTC.match(svc["EventFirstSeen"]) and ISO_UTC.match(svc["EventLastSeen"]), svc
        assert svc["EventFirstSeen"] <= svc["EventLastSeen"]
        assert svc["ResourceRole"] in ("TARGET", "ACTOR")
        assert additional_info(f).get("sample") is True, (ftype, svc.get("AdditionalInfo"))

        resource = f["Resource"]
        expected_resource = catalogue.expected_resource_type(ftype)
        if ftype in catalogue.ACTIVE:
            assert resource["ResourceType"] == expected_resource, (ftype, resource["ResourceType"])
        if resource["ResourceType"] == "AccessKey":
            assert resource["AccessKeyDetails"]["AccessKeyId"], ftype
            assert resource["AccessKeyDetails"]["UserType"], ftype
        elif resource["ResourceType"] == "Instance":
            assert resource["InstanceDetails"]["InstanceId"], ftype
            assert resource["InstanceDetails"]["NetworkInterfaces"], ftype
        if ftype in catalogue.CLOUDTRAIL_S3_POLICY:
            assert resource["S3BucketDetails"][0]["Name"], ftype

        action = svc["Action"]
        expected_action = catalogue.expected_action_type(ftype)
        if expected_action is not None:
            assert action["ActionType"] == expected_action, (ftype, action["ActionType"])
        sub = {"AWS_API_CALL": "AwsApiCallAction", "NETWORK_CONNECTION": "NetworkConnectionAction",
               "PORT_PROBE": "PortProbeAction", "DNS_REQUEST": "DnsRequestAction"}[action["ActionType"]]
        assert set(action) == {"ActionType", sub}, (ftype, sorted(action))
        if sub == "AwsApiCallAction":
            call = action[sub]
            assert call["Api"] and call["ServiceName"] and call["CallerType"], ftype


def test_at_least_one_api_call_sample_carries_error_code(samples):
    _, findings = samples
    api_calls = [f for f in findings if f["Service"]["Action"]["ActionType"] == "AWS_API_CALL"]
    with_code = [f for f in api_calls if f["Service"]["Action"]["AwsApiCallAction"].get("ErrorCode")]
    assert with_code, "no AWS_API_CALL sample has Service.Action.AwsApiCallAction.ErrorCode"


def test_sample_findings_of_listed_types_only(gd, detector_id):
    wanted = ["Policy:IAMUser/RootCredentialUsage", "UnauthorizedAccess:EC2/SSHBruteForce",
              "Backdoor:EC2/C&CActivity.B!DNS"]
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=wanted)
    findings = get_findings(gd, detector_id, list_all_ids(gd, detector_id))
    assert sorted(f["Type"] for f in findings) == sorted(wanted)


def test_retired_types_are_still_valid_sample_types(gd, detector_id):
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=catalogue.RETIRED[:3])
    findings = get_findings(gd, detector_id, list_all_ids(gd, detector_id))
    assert sorted(f["Type"] for f in findings) == sorted(catalogue.RETIRED[:3])


def test_unknown_sample_type_is_rejected_and_creates_nothing(gd, detector_id):
    with pytest.raises(ClientError) as err:
        gd.create_sample_findings(DetectorId=detector_id,
                                  FindingTypes=["Policy:IAMUser/RootCredentialUsage", "Made:Up/Type"])
    assert_client_error(err.value, 400, "BadRequestException")
    assert gd.list_findings(DetectorId=detector_id)["FindingIds"] == []


def test_generating_samples_again_aggregates_into_the_same_findings(gd, detector_id):
    types = ["Policy:IAMUser/RootCredentialUsage", "Recon:EC2/Portscan"]
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=types)
    first = {f["Type"]: f for f in get_findings(gd, detector_id, list_all_ids(gd, detector_id))}
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=types)
    second = {f["Type"]: f for f in get_findings(gd, detector_id, list_all_ids(gd, detector_id))}
    assert {t: f["Id"] for t, f in second.items()} == {t: f["Id"] for t, f in first.items()}
    for t in types:
        assert second[t]["Service"]["Count"] > first[t]["Service"]["Count"], t
        assert second[t]["UpdatedAt"] >= first[t]["UpdatedAt"]


# ---- ListFindings ---------------------------------------------------------------------------

def test_list_findings_paginator_page_size_1_yields_every_id_once(gd, samples):
    detector_id, findings = samples
    ids = list_all_ids(gd, detector_id, page_size=1)
    assert sorted(ids) == sorted(f["Id"] for f in findings)


def test_list_findings_pages_respect_max_results_and_chain_tokens(gd, samples):
    detector_id, findings = samples
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = gd.list_findings(DetectorId=detector_id, MaxResults=7, **kwargs)
        pages += 1
        assert len(page["FindingIds"]) <= 7
        seen += page["FindingIds"]
        token = page.get("NextToken")
        if not token:
            break
        assert len(page["FindingIds"]) == 7, "a non-final page must be full"
    assert pages == math.ceil(len(findings) / 7)
    assert sorted(seen) == sorted(f["Id"] for f in findings)


def test_list_findings_default_max_results_is_50(gd, samples):
    detector_id, findings = samples
    assert len(findings) > 50
    page = gd.list_findings(DetectorId=detector_id)
    assert len(page["FindingIds"]) == 50
    assert page["NextToken"]


def test_list_findings_default_order_is_updated_at_desc(gd, detector_id):
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=["Recon:EC2/Portscan"])
    time.sleep(0.01)  # distinct updatedAt (ms resolution)
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=["Policy:IAMUser/RootCredentialUsage"])
    ids = list_all_ids(gd, detector_id)
    findings = {f["Id"]: f for f in get_findings(gd, detector_id, ids)}
    assert [findings[i]["Type"] for i in ids] == ["Policy:IAMUser/RootCredentialUsage", "Recon:EC2/Portscan"]


def test_list_findings_paging_neither_skips_nor_repeats_under_concurrent_inserts(gd, detector_id):
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=catalogue.VPC_FLOW)
    before = set(list_all_ids(gd, detector_id))
    for order, newcomer in (("ASC", catalogue.DNS[0]), ("DESC", catalogue.DNS[1])):
        sort = {"AttributeName": "updatedAt", "OrderBy": order}
        page = gd.list_findings(DetectorId=detector_id, MaxResults=5, SortCriteria=sort)
        seen = list(page["FindingIds"])
        token = page["NextToken"]
        # New findings arrive between pages (newest updatedAt).
        gd.create_sample_findings(DetectorId=detector_id, FindingTypes=[newcomer])
        while token:
            page = gd.list_findings(DetectorId=detector_id, MaxResults=5, SortCriteria=sort, NextToken=token)
            seen += page["FindingIds"]
            token = page.get("NextToken")
        assert len(seen) == len(set(seen)), f"{order}: an id was returned twice"
        assert before <= set(seen), f"{order}: skipped {sorted(before - set(seen))}"
        before = set(list_all_ids(gd, detector_id))


def test_list_findings_rejects_a_forged_next_token(gd, detector_id):
    with pytest.raises(ClientError) as err:
        gd.list_findings(DetectorId=detector_id, NextToken="not-a-token-we-issued")
    assert_client_error(err.value, 400, "BadRequestException")


# ---- GetFindings ----------------------------------------------------------------------------

def test_get_findings_sort_criteria(gd, samples):
    detector_id, findings = samples
    ids = [f["Id"] for f in findings][:50]
    for order, reverse in (("DESC", True), ("ASC", False)):
        got = gd.get_findings(DetectorId=detector_id, FindingIds=ids,
                              SortCriteria={"AttributeName": "severity", "OrderBy": order})["Findings"]
        assert sorted(f["Id"] for f in got) == sorted(ids)
        severities = [f["Severity"] for f in got]
        assert severities == sorted(severities, reverse=reverse), order


def test_get_findings_omits_unknown_ids(gd, samples):
    detector_id, findings = samples
    known = [f["Id"] for f in findings[:3]]
    unknown = ["0" * 32, "f" * 32]
    got = gd.get_findings(DetectorId=detector_id, FindingIds=known + unknown)["Findings"]
    assert sorted(f["Id"] for f in got) == sorted(known)


def test_get_findings_with_no_ids_returns_empty_list(gd, detector_id):
    assert gd.get_findings(DetectorId=detector_id, FindingIds=[])["Findings"] == []


def test_get_findings_accepts_50_ids(gd, samples):
    detector_id, findings = samples
    ids = [f["Id"] for f in findings][:50]
    assert len(ids) == 50
    assert len(gd.get_findings(DetectorId=detector_id, FindingIds=ids)["Findings"]) == 50


def test_findings_of_another_account_are_invisible(gd, samples, make_client, other_account):
    detector_id, findings = samples
    other = make_client(other_account)
    other_detector = other.create_detector(Enable=True)["DetectorId"]
    assert other.get_findings(DetectorId=other_detector, FindingIds=[f["Id"] for f in findings[:5]])["Findings"] == []
    assert other.list_findings(DetectorId=other_detector)["FindingIds"] == []


# ---- Archive / Unarchive / Feedback ---------------------------------------------------------

def test_archive_and_unarchive(gd, samples):
    detector_id, findings = samples
    chosen = [f["Id"] for f in findings[:4]]
    gd.archive_findings(DetectorId=detector_id, FindingIds=chosen)
    state = {f["Id"]: f["Service"]["Archived"] for f in get_findings(gd, detector_id, [f["Id"] for f in findings])}
    assert {i for i, archived in state.items() if archived} == set(chosen)

    archived = list_all_ids(gd, detector_id, FindingCriteria={"Criterion": {"service.archived": {"Equals": ["true"]}}})
    active = list_all_ids(gd, detector_id, FindingCriteria={"Criterion": {"service.archived": {"Equals": ["false"]}}})
    assert sorted(archived) == sorted(chosen)
    assert sorted(active) == sorted(set(state) - set(chosen))

    gd.unarchive_findings(DetectorId=detector_id, FindingIds=chosen[:2])
    archived = list_all_ids(gd, detector_id, FindingCriteria={"Criterion": {"service.archived": {"Equals": ["true"]}}})
    assert sorted(archived) == sorted(chosen[2:])


def test_archive_unknown_finding_is_rejected(gd, detector_id):
    with pytest.raises(ClientError) as err:
        gd.archive_findings(DetectorId=detector_id, FindingIds=["0" * 32])
    assert_client_error(err.value, 400, "BadRequestException")


def test_update_findings_feedback(gd, samples):
    detector_id, findings = samples
    a, b = findings[0]["Id"], findings[1]["Id"]
    assert "UserFeedback" not in findings[0]["Service"]
    gd.update_findings_feedback(DetectorId=detector_id, FindingIds=[a, b], Feedback="USEFUL", Comments="good")
    gd.update_findings_feedback(DetectorId=detector_id, FindingIds=[b], Feedback="NOT_USEFUL")
    got = {f["Id"]: f for f in gd.get_findings(DetectorId=detector_id, FindingIds=[a, b])["Findings"]}
    assert got[a]["Service"]["UserFeedback"] == "USEFUL"
    assert got[b]["Service"]["UserFeedback"] == "NOT_USEFUL"
    useful = list_all_ids(gd, detector_id, FindingCriteria={"Criterion": {"service.userFeedback": {"Equals": ["USEFUL"]}}})
    assert useful == [a]


# ---- GetFindingsStatistics ------------------------------------------------------------------

def test_statistics_count_by_severity_2020_form(gd, samples):
    detector_id, findings = samples
    expected = collections.Counter(f["Severity"] for f in findings)
    stats = gd.get_findings_statistics(DetectorId=detector_id, FindingStatisticTypes=["COUNT_BY_SEVERITY"])
    counts = stats["FindingStatistics"]["CountBySeverity"]
    assert {float(k): v for k, v in counts.items()} == {float(k): v for k, v in expected.items()}
    for key in counts:  # decision in docs/criteria.md#statistics: the severity as a printed double
        assert re.match(r"^\d+\.\d+$", key), key


def test_statistics_with_criteria_count_only_matching(gd, samples):
    detector_id, findings = samples
    high = [f for f in findings if f["Severity"] >= 7]
    gd.archive_findings(DetectorId=detector_id, FindingIds=[f["Id"] for f in high[:2]])
    stats = gd.get_findings_statistics(
        DetectorId=detector_id, FindingStatisticTypes=["COUNT_BY_SEVERITY"],
        FindingCriteria={"Criterion": {"severity": {"Gte": 7}, "service.archived": {"Eq": ["false"]}}})
    counts = stats["FindingStatistics"]["CountBySeverity"]
    assert sum(counts.values()) == len(high) - 2
    assert all(float(k) >= 7 for k in counts)


def test_statistics_group_by_current_form(gd, samples):
    detector_id, findings = samples
    by_sev = gd.get_findings_statistics(DetectorId=detector_id, GroupBy="SEVERITY", MaxResults=100)
    groups = by_sev["FindingStatistics"]["GroupedBySeverity"]
    expected = collections.Counter(f["Severity"] for f in findings)
    assert {g["Severity"]: g["TotalFindings"] for g in groups} == dict(expected)

    by_type = gd.get_findings_statistics(DetectorId=detector_id, GroupBy="FINDING_TYPE", MaxResults=100)
    groups = by_type["FindingStatistics"]["GroupedByFindingType"]
    assert {g["FindingType"]: g["TotalFindings"] for g in groups} == collections.Counter(f["Type"] for f in findings)


def test_statistics_require_exactly_one_form(gd, detector_id):
    with pytest.raises(ClientError) as err:
        gd.get_findings_statistics(DetectorId=detector_id)
    assert_client_error(err.value, 400, "BadRequestException")
    with pytest.raises(ClientError) as err:
        gd.get_findings_statistics(DetectorId=detector_id, FindingStatisticTypes=["COUNT_BY_SEVERITY"],
                                   GroupBy="SEVERITY")
    assert_client_error(err.value, 400, "BadRequestException")
