"""Schema conformance: raw response bodies of every operation we serve, checked against botocore's
service-2.json (member wire names, types, no nulls). Every boto3 call in the other modules is
checked the same way by conftest's `schema_conformance` hook; this module names each op explicitly."""
import datetime
import json
from urllib.parse import quote

import pytest

import cloudtrail_logs as ct
from schema_check import check_response
from vedette_harness import detector_arn, raw_request, run_vedette


@pytest.fixture
def call(server, account):
    def do(operation, method, path, body=None, expect=200, **kwargs):
        resp = raw_request(server.endpoint, method, path, body, account=account, **kwargs)
        assert resp.status == expect, (operation, resp.status, resp.body[:500])
        assert resp.header("x-amzn-RequestId"), (operation, resp.headers)
        problems = check_response(operation, resp.status, resp.body)
        assert problems == [], "\n".join(problems[:30])
        return resp.json()
    return do


def test_every_core_operation_conforms(call, account):
    created = call("CreateDetector", "POST", "/detector",
                   {"enable": True, "clientToken": "tok-1", "tags": {"a": "b"},
                    "dataSources": {"s3Logs": {"enable": True}}, "findingPublishingFrequency": "ONE_HOUR"})
    did = created["detectorId"]
    call("GetDetector", "GET", f"/detector/{did}")
    call("ListDetectors", "GET", "/detector", query={"maxResults": "1"})
    call("UpdateDetector", "POST", f"/detector/{did}", {"enable": True, "findingPublishingFrequency": "SIX_HOURS"})
    call("CreateSampleFindings", "POST", f"/detector/{did}/findings/create", {})
    listed = call("ListFindings", "POST", f"/detector/{did}/findings",
                  {"maxResults": 50, "sortCriteria": {"attributeName": "severity", "orderBy": "DESC"}})
    ids = listed["findingIds"]
    assert listed.get("nextToken"), "more than 50 samples expected"
    page2 = call("ListFindings", "POST", f"/detector/{did}/findings", {"maxResults": 50, "nextToken": listed["nextToken"],
                                                                       "sortCriteria": {"attributeName": "severity", "orderBy": "DESC"}})
    ids += page2["findingIds"]
    for start in range(0, len(ids), 50):
        got = call("GetFindings", "POST", f"/detector/{did}/findings/get", {"findingIds": ids[start:start + 50]})
        assert len(got["findings"]) == len(ids[start:start + 50])
    call("ArchiveFindings", "POST", f"/detector/{did}/findings/archive", {"findingIds": ids[:3]})
    call("UnarchiveFindings", "POST", f"/detector/{did}/findings/unarchive", {"findingIds": ids[:1]})
    call("UpdateFindingsFeedback", "POST", f"/detector/{did}/findings/feedback",
         {"findingIds": ids[:2], "feedback": "USEFUL", "comments": "ok"})
    call("GetFindings", "POST", f"/detector/{did}/findings/get", {"findingIds": ids[:3]})  # archived + feedback
    call("GetFindingsStatistics", "POST", f"/detector/{did}/findings/statistics",
         {"findingStatisticTypes": ["COUNT_BY_SEVERITY"]})
    for group in ("SEVERITY", "FINDING_TYPE", "ACCOUNT", "RESOURCE", "DATE"):
        call("GetFindingsStatistics", "POST", f"/detector/{did}/findings/statistics", {"groupBy": group})
    path = "/tags/" + quote(detector_arn(account, did), safe="")
    call("TagResource", "POST", path, {"tags": {"x": "y"}}, expect=204)
    call("ListTagsForResource", "GET", path)
    call("UntagResource", "DELETE", path, query={"tagKeys": ["x"]}, expect=204)
    call("DeleteDetector", "DELETE", f"/detector/{did}")


def test_error_bodies_conform(call):
    call("GetDetector", "GET", f"/detector/{'3' * 32}", expect=400)
    call("CreateDetector", "POST", "/detector", "{", expect=400)
    call("ListDetectors", "GET", "/detector", query={"maxResults": "0"}, expect=400)


def test_ingested_cloudtrail_findings_conform(call, server, account, tmp_path):
    did = call("CreateDetector", "POST", "/detector", {"enable": True})["detectorId"]
    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(minutes=30)
    records = [r for recs in ct.scenario(account.account_id, base).values() for r in recs]
    ct.write_log_file(tmp_path, account.account_id, records)
    run_vedette("ingest", "--data-dir", str(server.data_dir), str(tmp_path / "AWSLogs"))
    ids = call("ListFindings", "POST", f"/detector/{did}/findings", {})["findingIds"]
    assert len(ids) >= 4
    got = call("GetFindings", "POST", f"/detector/{did}/findings/get", {"findingIds": ids})["findings"]
    assert {f["type"] for f in got} >= {"Policy:IAMUser/RootCredentialUsage", "PenTest:IAMUser/KaliLinux"}


# ---- the checker itself must be able to fail --------------------------------------------------

GOOD_FINDING = {
    "accountId": "111122223333", "arn": "arn:aws:guardduty:us-east-1:111122223333:detector/d/finding/f",
    "createdAt": "2020-05-26T22:21:48.385Z", "id": "f", "region": "us-east-1", "schemaVersion": "2.0",
    "severity": 5, "type": "Recon:EC2/Portscan", "updatedAt": "2020-05-26T22:21:48.385Z",
    "resource": {"resourceType": "Instance", "s3BucketDetails": [{"name": "b", "createdAt": 1590531708.5}]},
    "service": {"count": 3, "archived": False, "action": {"actionType": "AWS_API_CALL",
                "awsApiCallAction": {"api": "ListUsers", "errorCode": "AccessDenied",
                                     "affectedResources": {"AWS::IAM::Role": "arn"}}}},
}


def body(finding):
    return json.dumps({"findings": [finding]}).encode()


def test_checker_accepts_a_conforming_finding():
    assert check_response("GetFindings", 200, body(GOOD_FINDING)) == []


@pytest.mark.parametrize("mutate,expected", [
    (lambda f: f.update(Severity=5), "Severity: not a member"),              # SDK name, not wire name
    (lambda f: f.update(confidence=None), "null"),
    (lambda f: f["service"].update(count="3"), "expected integer"),
    (lambda f: f["service"].update(archived="false"), "expected boolean"),
    (lambda f: f.update(severity="5"), "expected number"),
    (lambda f: f["resource"]["s3BucketDetails"][0].update(createdAt="2020-01-01T00:00:00Z"), "epoch seconds"),
    (lambda f: f["service"]["action"]["awsApiCallAction"].update(errorcode="x"), "errorcode: not a member"),
    (lambda f: f.pop("accountId"), "required member accountId missing"),
    (lambda f: f["resource"].update(resourceType=7), "expected string"),
    (lambda f: f["service"]["action"]["awsApiCallAction"].update(affectedResources=["x"]), "expected object"),
])
def test_checker_rejects_non_conforming_findings(mutate, expected):
    finding = json.loads(json.dumps(GOOD_FINDING))
    mutate(finding)
    problems = check_response("GetFindings", 200, body(finding))
    assert any(expected in p for p in problems), problems


def test_checker_rejects_bad_error_bodies_and_non_empty_empty_outputs():
    assert check_response("GetDetector", 400, b'{"message":"m","__type":"InvalidInputException"}') == []
    assert check_response("GetDetector", 400, b'{"Message":"m"}')
    assert check_response("GetDetector", 200, b'{"serviceRole":"r","status":"ENABLED"}') == []
    assert any("not in enum" in p for p in check_response("GetDetector", 200, b'{"serviceRole":"r","status":"ON"}'))
    assert check_response("ArchiveFindings", 200, b"") == []
    assert check_response("ArchiveFindings", 200, b'{"ok":true}')
    assert check_response("ListFindings", 200, b'{"findingIds":null}')
    assert check_response("ListFindings", 200, json.dumps({"findingIds": ["a"] * 51}).encode())
