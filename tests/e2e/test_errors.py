"""Every named error case, asserted on the wire (status, x-amzn-ErrorType, body message/__type,
x-amzn-RequestId) and, where a client can send it, as botocore surfaces it."""
import datetime

import pytest
from botocore.exceptions import ClientError

from errors import AUTH_ERROR_CODES, assert_client_error, assert_raw_error
from vedette_harness import raw_request, signing_clock

NOT_OWNED = "not owned by the current account"


@pytest.fixture
def raw(server, account):
    def call(method, path, body=None, **kwargs):
        return raw_request(server.endpoint, method, path, body, account=kwargs.pop("as_account", account), **kwargs)
    return call


@pytest.fixture
def unvalidated(make_client, account):
    """A botocore client that skips client-side validation, so out-of-range input reaches the server."""
    return make_client(account, parameter_validation=False)


# ---- unknown and foreign detectors: 400, not 404 ---------------------------------------------

@pytest.mark.parametrize("method,suffix,body", [
    ("GET", "", None),
    ("POST", "", {"enable": False}),
    ("DELETE", "", None),
    ("POST", "/findings", {}),
    ("POST", "/findings/get", {"findingIds": []}),
    ("POST", "/findings/create", {}),
    ("POST", "/findings/archive", {"findingIds": ["a" * 32]}),
    ("POST", "/findings/unarchive", {"findingIds": ["a" * 32]}),
    ("POST", "/findings/feedback", {"findingIds": ["a" * 32], "feedback": "USEFUL"}),
    ("POST", "/findings/statistics", {"findingStatisticTypes": ["COUNT_BY_SEVERITY"]}),
])
def test_unknown_detector_is_400_bad_request_on_every_route(raw, method, suffix, body):
    resp = raw(method, f"/detector/{'1' * 32}{suffix}", body)
    assert_raw_error(resp, 400, "BadRequestException", NOT_OWNED, type_="InvalidInputException")
    assert resp.json()["message"].startswith("The request is rejected")


def test_unknown_detector_through_boto3(gd):
    with pytest.raises(ClientError) as err:
        gd.get_detector(DetectorId="1" * 32)
    assert_client_error(err.value, 400, "BadRequestException", NOT_OWNED)


def test_another_accounts_detector_is_400_and_untouched(make_client, account, other_account, raw):
    owner = make_client(account)
    detector_id = owner.create_detector(Enable=True)["DetectorId"]
    owner.create_sample_findings(DetectorId=detector_id, FindingTypes=["Recon:EC2/Portscan"])
    finding_id = owner.list_findings(DetectorId=detector_id)["FindingIds"][0]

    intruder = make_client(other_account)
    for call in (
        lambda: intruder.get_detector(DetectorId=detector_id),
        lambda: intruder.list_findings(DetectorId=detector_id),
        lambda: intruder.get_findings(DetectorId=detector_id, FindingIds=[finding_id]),
        lambda: intruder.archive_findings(DetectorId=detector_id, FindingIds=[finding_id]),
        lambda: intruder.update_detector(DetectorId=detector_id, Enable=False),
        lambda: intruder.delete_detector(DetectorId=detector_id),
        lambda: intruder.create_sample_findings(DetectorId=detector_id),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert_client_error(err.value, 400, "BadRequestException", NOT_OWNED)
    resp = raw("GET", f"/detector/{detector_id}", as_account=other_account)
    assert_raw_error(resp, 400, "BadRequestException", NOT_OWNED, type_="InvalidInputException")

    # The owner's detector and finding are as they were.
    assert owner.get_detector(DetectorId=detector_id)["Status"] == "ENABLED"
    got = owner.get_findings(DetectorId=detector_id, FindingIds=[finding_id])["Findings"]
    assert got[0]["Service"]["Archived"] is False


def test_malformed_detector_id_is_400(raw):
    resp = raw("GET", "/detector/" + "x" * 301)
    assert_raw_error(resp, 400, "BadRequestException")


# ---- limits ----------------------------------------------------------------------------------

@pytest.mark.parametrize("route,extra", [
    ("/findings/get", {}),
    ("/findings/archive", {}),
    ("/findings/unarchive", {}),
    ("/findings/feedback", {"feedback": "USEFUL"}),
])
def test_51_finding_ids_are_rejected(raw, detector_id, route, extra):
    ids = [f"{i:032x}" for i in range(51)]
    resp = raw("POST", f"/detector/{detector_id}{route}", {"findingIds": ids, **extra})
    assert_raw_error(resp, 400, "BadRequestException")


def test_51_ids_through_an_unvalidated_client(unvalidated, detector_id):
    with pytest.raises(ClientError) as err:
        unvalidated.get_findings(DetectorId=detector_id, FindingIds=[f"{i:032x}" for i in range(51)])
    assert_client_error(err.value, 400, "BadRequestException")


@pytest.mark.parametrize("max_results", [0, 51, -1])
def test_list_findings_max_results_out_of_range(raw, unvalidated, detector_id, max_results):
    resp = raw("POST", f"/detector/{detector_id}/findings", {"maxResults": max_results})
    assert_raw_error(resp, 400, "BadRequestException")
    with pytest.raises(ClientError) as err:
        unvalidated.list_findings(DetectorId=detector_id, MaxResults=max_results)
    assert_client_error(err.value, 400, "BadRequestException")


@pytest.mark.parametrize("max_results", ["0", "51", "abc"])
def test_list_detectors_max_results_out_of_range(raw, max_results):
    resp = raw("GET", "/detector", query={"maxResults": max_results})
    assert_raw_error(resp, 400, "BadRequestException")


@pytest.mark.parametrize("max_results", [1, 50])
def test_list_findings_max_results_bounds_are_accepted(raw, detector_id, max_results):
    resp = raw("POST", f"/detector/{detector_id}/findings", {"maxResults": max_results})
    assert resp.status == 200, resp.body
    assert resp.json()["findingIds"] == []


def test_sample_types_over_50_are_rejected(raw, detector_id):
    resp = raw("POST", f"/detector/{detector_id}/findings/create",
               {"findingTypes": ["Recon:EC2/Portscan"] * 51})
    assert_raw_error(resp, 400, "BadRequestException")


# ---- malformed requests ----------------------------------------------------------------------

@pytest.mark.parametrize("body", ['{"findingIds": [', "not json", "[1,2]", '{"findingIds": "abc"}',
                                  '{"findingIds": [1, 2]}'])
def test_malformed_json_is_400(raw, detector_id, body):
    resp = raw("POST", f"/detector/{detector_id}/findings/get", body)
    assert_raw_error(resp, 400, "BadRequestException")


def test_malformed_json_on_create_detector(raw):
    resp = raw("POST", "/detector", '{"enable": tru')
    assert_raw_error(resp, 400, "BadRequestException")


def test_missing_required_member_is_400(raw, detector_id):
    assert_raw_error(raw("POST", f"/detector/{detector_id}/findings/get", {}), 400, "BadRequestException")
    assert_raw_error(raw("POST", "/detector", {}), 400, "BadRequestException")
    assert_raw_error(raw("POST", f"/detector/{detector_id}/findings/feedback", {"findingIds": []}),
                     400, "BadRequestException")


@pytest.mark.parametrize("route,body", [
    ("/findings", {"sortCriteria": {"attributeName": "severity", "orderBy": "SIDEWAYS"}}),
    ("/findings/get", {"findingIds": [], "sortCriteria": {"attributeName": "severity", "orderBy": "UP"}}),
    ("/findings/feedback", {"findingIds": ["a" * 32], "feedback": "MAYBE"}),
    ("/findings/statistics", {"findingStatisticTypes": ["COUNT_BY_COLOUR"]}),
    ("/findings/statistics", {"groupBy": "PLANET"}),
    ("", {"findingPublishingFrequency": "DAILY"}),
])
def test_bad_enum_value_is_400(raw, detector_id, route, body):
    resp = raw("POST", f"/detector/{detector_id}{route}", body)
    assert_raw_error(resp, 400, "BadRequestException")


def test_bad_enum_through_an_unvalidated_client(unvalidated):
    with pytest.raises(ClientError) as err:
        unvalidated.create_detector(Enable=True, FindingPublishingFrequency="EVERY_DAY")
    assert_client_error(err.value, 400, "BadRequestException")


@pytest.mark.parametrize("criterion", [
    {"no.such.attribute": {"eq": ["x"]}},
    {"service.action.awsApiCallAction.errorcode": {"eq": ["AccessDenied"]}},  # case matters
    {"severity": {"approximately": 5}},
    {"severity": {"gt": "high"}},
    {"updatedAt": {"gte": "yesterday"}},
    {"type": {"eq": "not-a-list"}},
])
def test_bad_finding_criteria_are_400(raw, detector_id, criterion):
    resp = raw("POST", f"/detector/{detector_id}/findings", {"findingCriteria": {"criterion": criterion}})
    assert_raw_error(resp, 400, "BadRequestException")


def test_unknown_criterion_attribute_through_boto3(gd, detector_id):
    with pytest.raises(ClientError) as err:
        gd.list_findings(DetectorId=detector_id,
                         FindingCriteria={"Criterion": {"resource.noSuchThing": {"Equals": ["x"]}}})
    assert_client_error(err.value, 400, "BadRequestException")


def test_unknown_sort_attribute_is_400(raw, detector_id):
    resp = raw("POST", f"/detector/{detector_id}/findings",
               {"sortCriteria": {"attributeName": "noSuchAttribute", "orderBy": "ASC"}})
    assert_raw_error(resp, 400, "BadRequestException")


# ---- authentication: 403 errors an SDK recognises ---------------------------------------------

def test_wrong_secret_is_403(server, account, make_client):
    resp = raw_request(server.endpoint, "GET", "/detector", account=account, secret_override="wrong" * 8)
    # What AWS's front end answers for a signature that does not verify.
    assert_raw_error(resp, 403, "InvalidSignatureException", "signature")
    bad = make_client(type(account)(account.access_key_id, "not-the-secret", account.account_id))
    with pytest.raises(ClientError) as err:
        bad.list_detectors()
    assert_client_error(err.value, 403, "InvalidSignatureException")


def test_unknown_access_key_is_403(server, make_client, account):
    stranger = type(account)("AKIANOTCONFIGURED000", "secret", "999999999999")
    resp = raw_request(server.endpoint, "GET", "/detector", account=stranger)
    assert_raw_error(resp, 403, "UnrecognizedClientException")
    with pytest.raises(ClientError) as err:
        make_client(stranger).list_detectors()
    assert_client_error(err.value, 403, "UnrecognizedClientException")


@pytest.mark.parametrize("minutes", [-20, 20])
def test_signature_outside_15_minutes_is_403(server, account, make_client, minutes):
    with signing_clock(datetime.timedelta(minutes=minutes)):
        resp = raw_request(server.endpoint, "GET", "/detector", account=account)
    assert_raw_error(resp, 403, "InvalidSignatureException", "Signature expired" if minutes < 0 else None)
    client = make_client(account)
    with signing_clock(datetime.timedelta(minutes=minutes)):
        with pytest.raises(ClientError) as err:
            client.list_detectors()
    assert_client_error(err.value, 403, AUTH_ERROR_CODES)


def test_signature_within_skew_is_accepted(server, account):
    with signing_clock(datetime.timedelta(minutes=-10)):
        resp = raw_request(server.endpoint, "GET", "/detector", account=account)
    assert resp.status == 200, resp.body


def test_missing_authorization_is_403(server):
    resp = raw_request(server.endpoint, "GET", "/detector", sign=False)
    assert_raw_error(resp, 403, "MissingAuthenticationTokenException")


def test_malformed_authorization_is_403(server):
    resp = raw_request(server.endpoint, "GET", "/detector", sign=False,
                       headers={"Authorization": "AWS4-HMAC-SHA256 garbage", "X-Amz-Date": "20261125T000000Z"})
    assert_raw_error(resp, 403, AUTH_ERROR_CODES)


def test_signature_for_another_service_is_rejected(server, account):
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import urllib3
    request = botocore.awsrequest.AWSRequest(method="GET", url=server.endpoint + "/detector")
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(account.access_key_id, account.secret_access_key),
                            "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    resp = urllib3.request("GET", prepared.url, headers=dict(prepared.headers), retries=False)
    assert resp.status == 403, resp.data
    assert resp.headers.get("x-amzn-RequestId")


def test_tampered_body_fails_signature(server, account, detector_id):
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import urllib3
    url = f"{server.endpoint}/detector/{detector_id}/findings/archive"
    request = botocore.awsrequest.AWSRequest(method="POST", url=url, data=b'{"findingIds":[]}',
                                             headers={"Content-Type": "application/json"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(account.access_key_id, account.secret_access_key),
                            "guardduty", "us-east-1").add_auth(request)
    prepared = request.prepare()
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
    resp = urllib3.request("POST", url, body=b'{"findingIds":["' + b"a" * 32 + b'"]}',
                           headers=headers, retries=False)
    assert resp.status == 403, resp.data
