"""Detectors through boto3: Create (idempotent clientToken, one per account/region), Get, List
(paginated), Update, Delete (findings and configuration gone)."""
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from errors import assert_client_error

HEX32 = re.compile(r"^[0-9a-f]{32}$")
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")


def test_create_detector_returns_32_hex_id_and_get_describes_it(gd, account):
    detector_id = gd.create_detector(Enable=True, Tags={"team": "blue"})["DetectorId"]
    assert HEX32.match(detector_id), detector_id

    got = gd.get_detector(DetectorId=detector_id)
    assert got["Status"] == "ENABLED"
    assert got["FindingPublishingFrequency"] == "SIX_HOURS"  # GuardDuty's default
    assert got["ServiceRole"] == (
        f"arn:aws:iam::{account.account_id}:role/aws-service-role/guardduty.amazonaws.com/"
        "AWSServiceRoleForAmazonGuardDuty")
    assert ISO_UTC.match(got["CreatedAt"]), got["CreatedAt"]
    assert ISO_UTC.match(got["UpdatedAt"]), got["UpdatedAt"]
    assert got["Tags"] == {"team": "blue"}
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["ResponseMetadata"]["RequestId"]


def test_create_detector_with_publishing_frequency(gd):
    detector_id = gd.create_detector(Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES")["DetectorId"]
    assert gd.get_detector(DetectorId=detector_id)["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"


def test_create_detector_disabled(gd):
    detector_id = gd.create_detector(Enable=False)["DetectorId"]
    assert gd.get_detector(DetectorId=detector_id)["Status"] == "DISABLED"


def test_client_token_makes_create_idempotent(gd):
    token = str(uuid.uuid4())
    first = gd.create_detector(Enable=True, ClientToken=token)["DetectorId"]
    again = gd.create_detector(Enable=True, ClientToken=token)["DetectorId"]
    assert again == first
    assert gd.list_detectors()["DetectorIds"] == [first]


def test_second_detector_in_same_account_and_region_is_rejected(gd, detector_id):
    with pytest.raises(ClientError) as err:
        gd.create_detector(Enable=True, ClientToken=str(uuid.uuid4()))
    assert_client_error(err.value, 400, "BadRequestException", "already exists")
    assert gd.list_detectors()["DetectorIds"] == [detector_id]


def test_detectors_are_per_region(make_client, account):
    east = make_client(account, region="us-east-1")
    west = make_client(account, region="us-west-2")
    east_id = east.create_detector(Enable=True)["DetectorId"]
    assert west.list_detectors()["DetectorIds"] == []
    west_id = west.create_detector(Enable=True)["DetectorId"]
    assert west_id != east_id
    assert east.list_detectors()["DetectorIds"] == [east_id]
    assert west.list_detectors()["DetectorIds"] == [west_id]
    # A detector is only addressable in its own Region.
    with pytest.raises(ClientError) as err:
        west.get_detector(DetectorId=east_id)
    assert_client_error(err.value, 400, "BadRequestException")


def test_list_detectors_paginator_with_max_results_1(gd, detector_id):
    pages = list(gd.get_paginator("list_detectors").paginate(PaginationConfig={"PageSize": 1}))
    ids = [i for page in pages for i in page["DetectorIds"]]
    assert ids == [detector_id]
    assert "NextToken" not in pages[-1] or not pages[-1]["NextToken"]


def test_list_detectors_empty_account(gd):
    listed = gd.list_detectors()
    assert listed["DetectorIds"] == []
    assert not listed.get("NextToken")


def test_update_detector(gd, detector_id):
    before = gd.get_detector(DetectorId=detector_id)
    gd.update_detector(DetectorId=detector_id, Enable=False, FindingPublishingFrequency="ONE_HOUR")
    after = gd.get_detector(DetectorId=detector_id)
    assert after["Status"] == "DISABLED"
    assert after["FindingPublishingFrequency"] == "ONE_HOUR"
    assert after["CreatedAt"] == before["CreatedAt"]
    assert after["UpdatedAt"] >= before["UpdatedAt"]
    gd.update_detector(DetectorId=detector_id, Enable=True)
    again = gd.get_detector(DetectorId=detector_id)
    assert again["Status"] == "ENABLED"
    assert again["FindingPublishingFrequency"] == "ONE_HOUR"  # untouched by a partial update


def test_delete_detector_discards_it_and_its_findings(gd, detector_id):
    gd.create_sample_findings(DetectorId=detector_id)
    assert gd.list_findings(DetectorId=detector_id)["FindingIds"]
    gd.delete_detector(DetectorId=detector_id)

    assert gd.list_detectors()["DetectorIds"] == []
    with pytest.raises(ClientError) as err:
        gd.get_detector(DetectorId=detector_id)
    assert_client_error(err.value, 400, "BadRequestException", "not owned by the current account")
    with pytest.raises(ClientError) as err:
        gd.list_findings(DetectorId=detector_id)
    assert_client_error(err.value, 400, "BadRequestException")

    # A new detector starts empty: nothing of the old one survives.
    new_id = gd.create_detector(Enable=True)["DetectorId"]
    assert new_id != detector_id
    assert gd.list_findings(DetectorId=new_id)["FindingIds"] == []
    assert gd.get_detector(DetectorId=new_id).get("Tags", {}) == {}


def test_delete_detector_twice_is_rejected(gd, detector_id):
    gd.delete_detector(DetectorId=detector_id)
    with pytest.raises(ClientError) as err:
        gd.delete_detector(DetectorId=detector_id)
    assert_client_error(err.value, 400, "BadRequestException")
