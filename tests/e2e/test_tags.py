"""TagResource / UntagResource (204) / ListTagsForResource on detector ARNs."""
import pytest
from botocore.exceptions import ClientError

from errors import assert_client_error, assert_raw_error
from vedette_harness import detector_arn, raw_request


def test_tag_list_untag_detector(gd, account, detector_id):
    arn = detector_arn(account, detector_id)
    assert gd.list_tags_for_resource(ResourceArn=arn).get("Tags", {}) == {}

    tagged = gd.tag_resource(ResourceArn=arn, Tags={"env": "prod", "owner": "sec", "cost:centre": "42"})
    assert tagged["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "prod", "owner": "sec", "cost:centre": "42"}

    gd.tag_resource(ResourceArn=arn, Tags={"env": "dev"})  # overwrite one key, keep the rest
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "dev", "owner": "sec", "cost:centre": "42"}

    untagged = gd.untag_resource(ResourceArn=arn, TagKeys=["owner", "cost:centre"])
    assert untagged["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "dev"}
    assert gd.get_detector(DetectorId=detector_id)["Tags"] == {"env": "dev"}


def test_tags_given_at_creation_are_listed(gd, account):
    detector_id = gd.create_detector(Enable=True, Tags={"a": "1"})["DetectorId"]
    assert gd.list_tags_for_resource(ResourceArn=detector_arn(account, detector_id))["Tags"] == {"a": "1"}


def test_tag_responses_are_204_with_empty_body(server, account, detector_id):
    arn = detector_arn(account, detector_id)
    from urllib.parse import quote
    path = "/tags/" + quote(arn, safe="")
    resp = raw_request(server.endpoint, "POST", path, {"tags": {"k": "v"}}, account=account)
    assert resp.status == 204 and resp.body == b"", (resp.status, resp.body)
    assert resp.header("x-amzn-RequestId")
    resp = raw_request(server.endpoint, "DELETE", path, account=account, query={"tagKeys": ["k", "absent"]})
    assert resp.status == 204 and resp.body == b"", (resp.status, resp.body)
    listed = raw_request(server.endpoint, "GET", path, account=account)
    assert listed.status == 200 and listed.json() in ({"tags": {}}, {}), listed.body


@pytest.mark.parametrize("tags", [{}, {"aws:reserved": "x"}, {"k" * 129: "v"}, {"k": "v" * 257}])
def test_invalid_tags_are_400(server, account, detector_id, tags):
    from urllib.parse import quote
    path = "/tags/" + quote(detector_arn(account, detector_id), safe="")
    resp = raw_request(server.endpoint, "POST", path, {"tags": tags}, account=account)
    assert_raw_error(resp, 400, "BadRequestException")


def test_tagging_an_unknown_or_foreign_detector_fails(gd, account, make_client, other_account):
    with pytest.raises(ClientError) as err:
        gd.tag_resource(ResourceArn=detector_arn(account, "2" * 32), Tags={"k": "v"})
    assert_client_error(err.value, 400, "BadRequestException")

    other = make_client(other_account)
    other_id = other.create_detector(Enable=True)["DetectorId"]
    with pytest.raises(ClientError) as err:
        gd.tag_resource(ResourceArn=detector_arn(other_account, other_id), Tags={"k": "v"})
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    assert other.list_tags_for_resource(ResourceArn=detector_arn(other_account, other_id)).get("Tags", {}) == {}


def test_malformed_arn_is_400(gd):
    with pytest.raises(ClientError) as err:
        gd.list_tags_for_resource(ResourceArn="arn:aws:s3:::bucket")
    assert_client_error(err.value, 400, "BadRequestException")
