"""Publishing destinations: Create/Describe/List/Update/DeletePublishingDestination
with boto3 and the aws CLI, and the export itself against a real S3-compatible server (moto on
loopback): gzipped JSON-lines objects under AWSLogs/<account>/GuardDuty/<region>/yyyy/mm/dd/,
one finding per line as GetFindings returns it, and a status that tells the truth."""
from __future__ import annotations

import datetime
import gzip
import json
import re
import secrets
import time

import pytest
from botocore.exceptions import ClientError

import cloudtrail_logs as ct
from aws_cli import aws_json, run_aws
from conftest import watch
from errors import assert_client_error, assert_raw_error
from gdutil import get_findings_wire, list_all_ids
from vedette_harness import REGION, VedetteServer, detector_arn, guardduty_client, raw_request, run_vedette

KMS_KEY = "arn:aws:kms:us-east-1:111122223333:key/84cee9c5-dea1-401a-ab6d-e1de7example"
PUBLISHING = "PUBLISHING"
UNABLE = "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY"
STATUSES = {"PENDING_VERIFICATION", PUBLISHING, UNABLE, "STOPPED"}
# The publisher looks at destinations every second; S3 round trips on loopback take milliseconds.
WAIT_S = 45.0
SAMPLE_TYPES = ["Policy:IAMUser/RootCredentialUsage", "Stealth:IAMUser/CloudTrailLoggingDisabled",
                "PenTest:IAMUser/KaliLinux"]
KEY_PATTERN = re.compile(
    r"^(?:(?P<prefix>.+)/)?AWSLogs/(?P<account>\d{12})/GuardDuty/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl\.gz$")


def s3_props(bucket: str, prefix: str = "", kms: str = KMS_KEY) -> dict:
    arn = f"arn:aws:s3:::{bucket}" + (f"/{prefix}" if prefix else "")
    return {"DestinationArn": arn, "KmsKeyArn": kms}


def new_bucket_name() -> str:
    return f"vedette-{secrets.token_hex(6)}"


def create_destination(gd, detector_id: str, bucket: str = "some-bucket", **kwargs) -> str:
    props = kwargs.pop("props", None) or s3_props(bucket, kwargs.pop("prefix", ""))
    return gd.create_publishing_destination(DetectorId=detector_id, DestinationType="S3",
                                            DestinationProperties=props, **kwargs)["DestinationId"]


def wait_for(what: str, probe, timeout: float = WAIT_S, interval: float = 0.2):
    """Calls probe() until it returns something truthy; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def status_of(gd, detector_id: str, destination_id: str) -> dict:
    return gd.describe_publishing_destination(DetectorId=detector_id, DestinationId=destination_id)


def wait_status(gd, detector_id: str, destination_id: str, status: str) -> dict:
    return wait_for(f"status {status}", lambda: (
        (d := status_of(gd, detector_id, destination_id))["Status"] == status and d))


# ---- API: boto3 ---------------------------------------------------------------------------------

def test_create_describe_list_delete(gd, detector_id):
    destination_id = create_destination(gd, detector_id, "my-findings", prefix="guardduty/exports",
                                        Tags={"team": "sec"})
    assert re.fullmatch(r"[0-9a-f]{32}", destination_id)

    d = status_of(gd, detector_id, destination_id)
    assert d["DestinationId"] == destination_id
    assert d["DestinationType"] == "S3"
    assert d["Status"] in STATUSES
    assert d["DestinationProperties"] == {"DestinationArn": "arn:aws:s3:::my-findings/guardduty/exports",
                                          "KmsKeyArn": KMS_KEY}
    assert isinstance(d["PublishingFailureStartTimestamp"], int)
    assert d["Tags"] == {"team": "sec"}

    listed = gd.list_publishing_destinations(DetectorId=detector_id)
    assert [(x["DestinationId"], x["DestinationType"]) for x in listed["Destinations"]] == [(destination_id, "S3")]
    assert listed["Destinations"][0]["Status"] in STATUSES
    assert "NextToken" not in listed
    one = gd.list_publishing_destinations(DetectorId=detector_id, MaxResults=1)
    assert [x["DestinationId"] for x in one["Destinations"]] == [destination_id]
    assert "NextToken" not in one

    gd.delete_publishing_destination(DetectorId=detector_id, DestinationId=destination_id)
    assert gd.list_publishing_destinations(DetectorId=detector_id)["Destinations"] == []
    with pytest.raises(ClientError) as e:
        status_of(gd, detector_id, destination_id)
    assert_client_error(e.value, 400, "BadRequestException", "invalid values")


def test_tags_on_the_destination_arn(gd, account, detector_id):
    destination_id = create_destination(gd, detector_id, "tagged-bucket", Tags={"a": "1"})
    arn = f"{detector_arn(account, detector_id)}/publishingdestination/{destination_id}"
    gd.tag_resource(ResourceArn=arn, Tags={"b": "2"})
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "1", "b": "2"}
    gd.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert status_of(gd, detector_id, destination_id)["Tags"] == {"b": "2"}
    # The detector's own tags are apart.
    assert gd.list_tags_for_resource(ResourceArn=detector_arn(account, detector_id))["Tags"] == {}
    with pytest.raises(ClientError) as e:
        gd.tag_resource(ResourceArn=f"{detector_arn(account, detector_id)}/publishingdestination/{'e' * 32}",
                        Tags={"b": "2"})
    assert_client_error(e.value, 400, "BadRequestException")


def test_one_s3_destination_per_detector(gd, detector_id):
    create_destination(gd, detector_id, "first-bucket")
    with pytest.raises(ClientError) as e:
        create_destination(gd, detector_id, "second-bucket")
    assert_client_error(e.value, 400, "BadRequestException", "a publishingDestination already exists")
    assert len(gd.list_publishing_destinations(DetectorId=detector_id)["Destinations"]) == 1


def test_client_token_makes_create_idempotent(gd, detector_id):
    first = create_destination(gd, detector_id, "token-bucket", ClientToken="retry-me")
    again = create_destination(gd, detector_id, "token-bucket", ClientToken="retry-me")
    assert again == first
    with pytest.raises(ClientError) as e:
        create_destination(gd, detector_id, "token-bucket", ClientToken="another-request")
    assert_client_error(e.value, 400, "BadRequestException", "already exists")


def test_update_changes_only_what_is_given(gd, detector_id):
    destination_id = create_destination(gd, detector_id, "before-bucket")
    gd.update_publishing_destination(DetectorId=detector_id, DestinationId=destination_id,
                                     DestinationProperties={"DestinationArn": "arn:aws:s3:::after-bucket/x"})
    props = status_of(gd, detector_id, destination_id)["DestinationProperties"]
    assert props == {"DestinationArn": "arn:aws:s3:::after-bucket/x", "KmsKeyArn": KMS_KEY}
    other_key = "arn:aws:kms:us-east-1:111122223333:alias/guardduty"
    gd.update_publishing_destination(DetectorId=detector_id, DestinationId=destination_id,
                                     DestinationProperties={"KmsKeyArn": other_key})
    props = status_of(gd, detector_id, destination_id)["DestinationProperties"]
    assert props == {"DestinationArn": "arn:aws:s3:::after-bucket/x", "KmsKeyArn": other_key}


def test_suspended_detector_destinations_are_stopped(gd, detector_id):
    destination_id = create_destination(gd, detector_id, "stopped-bucket")
    gd.update_detector(DetectorId=detector_id, Enable=False)
    assert status_of(gd, detector_id, destination_id)["Status"] == "STOPPED"
    assert gd.list_publishing_destinations(DetectorId=detector_id)["Destinations"][0]["Status"] == "STOPPED"
    gd.update_detector(DetectorId=detector_id, Enable=True)
    assert status_of(gd, detector_id, destination_id)["Status"] != "STOPPED"


def test_deleting_the_detector_deletes_its_destinations(gd):
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    destination_id = create_destination(gd, detector_id, "gone-bucket")
    gd.delete_detector(DetectorId=detector_id)
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    assert gd.list_publishing_destinations(DetectorId=detector_id)["Destinations"] == []
    with pytest.raises(ClientError) as e:
        status_of(gd, detector_id, destination_id)
    assert_client_error(e.value, 400, "BadRequestException")


def test_without_an_s3_endpoint_the_status_says_unable(gd, detector_id):
    """The shared server has no --s3-endpoint: nothing can be published, and Describe says so."""
    destination_id = create_destination(gd, detector_id, "nowhere-bucket")
    failing = wait_status(gd, detector_id, destination_id, UNABLE)
    assert failing["PublishingFailureStartTimestamp"] > 0


# ---- API errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("props, member", [
    ({"DestinationArn": "s3://bucket", "KmsKeyArn": KMS_KEY}, "destinationArn"),
    ({"DestinationArn": "arn:aws:s3:::", "KmsKeyArn": KMS_KEY}, "destinationArn"),
    ({"DestinationArn": "arn:aws:s3:::Upper_Case", "KmsKeyArn": KMS_KEY}, "destinationArn"),
    ({"DestinationArn": "arn:aws:sqs:us-east-1:111122223333:queue", "KmsKeyArn": KMS_KEY}, "destinationArn"),
    ({"KmsKeyArn": KMS_KEY}, "destinationArn"),
    ({"DestinationArn": "arn:aws:s3:::fine-bucket"}, "kmsKeyArn"),
    ({"DestinationArn": "arn:aws:s3:::fine-bucket", "KmsKeyArn": "alias/aws/s3"}, "kmsKeyArn"),
    ({"DestinationArn": "arn:aws:s3:::fine-bucket", "KmsKeyArn": KMS_KEY, "ExpectedBucketOwner": "12345678901x"},
     "expectedBucketOwner"),
])
def test_invalid_destination_properties_are_400(gd, detector_id, props, member):
    with pytest.raises(ClientError) as e:
        create_destination(gd, detector_id, props=props)
    assert_client_error(e.value, 400, "BadRequestException", member)
    assert gd.list_publishing_destinations(DetectorId=detector_id)["Destinations"] == []


@pytest.mark.no_schema_check
def test_unsupported_destination_type_and_bad_json_are_400(server, account, detector_id):
    path = f"/detector/{detector_id}/publishingDestination"
    body = {"destinationType": "SQS", "destinationProperties": {"destinationArn": "arn:aws:s3:::b-b-b",
                                                                  "kmsKeyArn": KMS_KEY}}
    assert_raw_error(raw_request(server.endpoint, "POST", path, body, account=account), 400, "BadRequestException")
    del body["destinationType"]
    assert_raw_error(raw_request(server.endpoint, "POST", path, body, account=account), 400, "BadRequestException")
    assert_raw_error(raw_request(server.endpoint, "POST", path, b"{not json", account=account), 400,
                     "BadRequestException", "JSON")
    for bad in ("0", "51", "x"):
        resp = raw_request(server.endpoint, "GET", path, account=account, query={"maxResults": bad})
        assert_raw_error(resp, 400, "BadRequestException")


def test_unknown_and_foreign_detectors_are_not_owned(gd, make_client, other_account, detector_id):
    destination_id = create_destination(gd, detector_id, "owned-bucket")
    stranger = make_client(other_account)
    calls = [
        lambda d: stranger.create_publishing_destination(DetectorId=d, DestinationType="S3",
                                                         DestinationProperties=s3_props("x-bucket")),
        lambda d: stranger.describe_publishing_destination(DetectorId=d, DestinationId=destination_id),
        lambda d: stranger.list_publishing_destinations(DetectorId=d),
        lambda d: stranger.update_publishing_destination(DetectorId=d, DestinationId=destination_id,
                                                         DestinationProperties=s3_props("x-bucket")),
        lambda d: stranger.delete_publishing_destination(DetectorId=d, DestinationId=destination_id),
    ]
    for detector in (detector_id, "0" * 32):
        for call in calls:
            with pytest.raises(ClientError) as e:
                call(detector)
            assert_client_error(e.value, 400, "BadRequestException", "not owned by the current account")
    # The owner's destination is untouched.
    assert status_of(gd, detector_id, destination_id)["DestinationProperties"]["DestinationArn"] == \
        "arn:aws:s3:::owned-bucket"


def test_unknown_destination_is_400(gd, detector_id):
    unknown = "f" * 32
    for call in (
        lambda: gd.describe_publishing_destination(DetectorId=detector_id, DestinationId=unknown),
        lambda: gd.update_publishing_destination(DetectorId=detector_id, DestinationId=unknown,
                                                 DestinationProperties=s3_props("x-bucket")),
        lambda: gd.delete_publishing_destination(DetectorId=detector_id, DestinationId=unknown),
        lambda: gd.describe_publishing_destination(DetectorId=detector_id, DestinationId="not-an-id!"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert_client_error(e.value, 400, "BadRequestException", "The request is rejected")


def test_update_without_properties_is_400(gd, detector_id):
    destination_id = create_destination(gd, detector_id, "kept-bucket")
    for props in ({}, None):
        kwargs = {} if props is None else {"DestinationProperties": props}
        with pytest.raises(ClientError) as e:
            gd.update_publishing_destination(DetectorId=detector_id, DestinationId=destination_id, **kwargs)
        assert_client_error(e.value, 400, "BadRequestException")
    with pytest.raises(ClientError) as e:
        gd.update_publishing_destination(DetectorId=detector_id, DestinationId=destination_id,
                                         DestinationProperties={"DestinationArn": "not-an-arn"})
    assert_client_error(e.value, 400, "BadRequestException", "destinationArn")
    assert status_of(gd, detector_id, destination_id)["DestinationProperties"]["DestinationArn"] == \
        "arn:aws:s3:::kept-bucket"


# ---- API: aws CLI -------------------------------------------------------------------------------

def test_cli_every_operation(server, account):
    gd = ["guardduty"]
    detector_id = aws_json(server.endpoint, account, *gd, "create-detector", "--enable")["DetectorId"]
    created = aws_json(server.endpoint, account, *gd, "create-publishing-destination", "--detector-id", detector_id,
                       "--destination-type", "S3", "--destination-properties",
                       f"DestinationArn=arn:aws:s3:::cli-bucket,KmsKeyArn={KMS_KEY}")
    destination_id = created["DestinationId"]
    described = aws_json(server.endpoint, account, *gd, "describe-publishing-destination",
                         "--detector-id", detector_id, "--destination-id", destination_id)
    assert described["DestinationProperties"]["DestinationArn"] == "arn:aws:s3:::cli-bucket"
    assert described["Status"] in STATUSES
    listed = aws_json(server.endpoint, account, *gd, "list-publishing-destinations", "--detector-id", detector_id)
    assert [d["DestinationId"] for d in listed["Destinations"]] == [destination_id]
    run_aws(server.endpoint, account, *gd, "update-publishing-destination", "--detector-id", detector_id,
            "--destination-id", destination_id, "--destination-properties",
            "DestinationArn=arn:aws:s3:::cli-bucket-2/folder")
    described = aws_json(server.endpoint, account, *gd, "describe-publishing-destination",
                         "--detector-id", detector_id, "--destination-id", destination_id)
    assert described["DestinationProperties"] == {"DestinationArn": "arn:aws:s3:::cli-bucket-2/folder",
                                                  "KmsKeyArn": KMS_KEY}
    second = run_aws(server.endpoint, account, *gd, "create-publishing-destination", "--detector-id", detector_id,
                     "--destination-type", "S3", "--destination-properties",
                     f"DestinationArn=arn:aws:s3:::other-bucket,KmsKeyArn={KMS_KEY}", check=False)
    assert second.returncode != 0 and "BadRequestException" in second.stderr, second.stderr
    run_aws(server.endpoint, account, *gd, "delete-publishing-destination", "--detector-id", detector_id,
            "--destination-id", destination_id)
    gone = run_aws(server.endpoint, account, *gd, "describe-publishing-destination", "--detector-id", detector_id,
                   "--destination-id", destination_id, check=False)
    assert gone.returncode != 0 and "BadRequestException" in gone.stderr, gone.stderr
    bad = run_aws(server.endpoint, account, *gd, "create-publishing-destination", "--detector-id", detector_id,
                  "--destination-type", "S3", "--destination-properties",
                  "DestinationArn=arn:aws:s3:::cli-bucket", check=False)
    assert bad.returncode != 0 and "kmsKeyArn" in bad.stderr, bad.stderr


# ---- export to a real S3-compatible server ------------------------------------------------------

@pytest.fixture(scope="module")
def s3_server(tmp_path_factory, vedette_bin, credentials_file, moto_s3):
    """A vedette serve whose S3 client points at the moto server."""
    root = tmp_path_factory.mktemp("serve-s3")
    srv = VedetteServer(root / "data", root / "logs", credentials=credentials_file, auth="sigv4",
                        extra_args=moto_s3.serve_args()).start()
    yield srv
    srv.stop()


@pytest.fixture
def s3gd(s3_server, account):
    return watch(guardduty_client(s3_server.endpoint, account, REGION))


def exported_objects(s3, bucket: str, prefix: str = "") -> dict[str, list[dict]]:
    """key -> the findings in it (one JSON document per line of the gunzipped object)."""
    try:
        listing = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [o["Key"] for page in listing for o in page.get("Contents", [])]
    except s3.exceptions.NoSuchBucket:
        return {}
    out = {}
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        text = gzip.decompress(body).decode()
        assert text.endswith("\n"), key
        out[key] = [json.loads(line) for line in text.splitlines()]
    return out


def exported_ids(s3, bucket: str, prefix: str = "") -> set[str]:
    return {f["id"] for findings in exported_objects(s3, bucket, prefix).values() for f in findings}


def as_exported(wire_finding: dict) -> dict:
    """GetFindings' document as exports carry it: `additionalInfo` is the object, not JSON text."""
    f = json.loads(json.dumps(wire_finding))
    info = f.get("service", {}).get("additionalInfo")
    if info and isinstance(info.get("value"), str):
        f["service"]["additionalInfo"] = json.loads(info["value"])
    return f


def assert_layout(key: str, account, prefix: str) -> None:
    m = KEY_PATTERN.match(key)
    assert m, key
    assert (m["prefix"] or "") == prefix, key
    assert (m["account"], m["region"]) == (account.account_id, REGION), key
    day = datetime.date(int(m["y"]), int(m["m"]), int(m["d"]))
    assert abs((datetime.datetime.now(datetime.timezone.utc).date() - day).days) <= 1, key


def test_sample_findings_are_exported_as_guardduty_writes_them(s3_server, s3gd, account, moto_s3):
    s3 = moto_s3.client()
    bucket, prefix = new_bucket_name(), "security/guardduty"
    s3.create_bucket(Bucket=bucket)
    detector_id = s3gd.create_detector(Enable=True)["DetectorId"]
    destination_id = create_destination(s3gd, detector_id, bucket, prefix=prefix)
    described = wait_status(s3gd, detector_id, destination_id, PUBLISHING)
    assert described["PublishingFailureStartTimestamp"] == 0

    s3gd.create_sample_findings(DetectorId=detector_id, FindingTypes=SAMPLE_TYPES)
    ids = set(list_all_ids(s3gd, detector_id))
    assert len(ids) == len(SAMPLE_TYPES)
    wait_for("the sample findings in the bucket", lambda: exported_ids(s3, bucket) >= ids)

    objects = exported_objects(s3, bucket)
    for key in objects:
        assert_layout(key, account, prefix)
    exported = {f["id"]: f for findings in objects.values() for f in findings}
    assert set(exported) == ids
    for wire in get_findings_wire(s3_server.endpoint, account, detector_id, sorted(ids)):
        assert exported[wire["id"]] == as_exported(wire)
        assert exported[wire["id"]]["service"]["additionalInfo"]["sample"] is True
    assert status_of(s3gd, detector_id, destination_id)["Status"] == PUBLISHING


def test_cloudtrail_findings_are_exported_and_suppressed_ones_are_not(s3_server, s3gd, account, moto_s3,
                                                                       tmp_path):
    s3 = moto_s3.client()
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    detector_id = s3gd.create_detector(Enable=True)["DetectorId"]
    suppressed_type = "PenTest:IAMUser/KaliLinux"
    s3gd.create_filter(DetectorId=detector_id, Name="mute-kali", Action="ARCHIVE",
                       FindingCriteria={"Criterion": {"type": {"Eq": [suppressed_type]}}})
    create_destination(s3gd, detector_id, bucket)

    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
    records = [r for recs in ct.scenario(account.account_id, base).values() for r in recs]
    ct.write_log_file(tmp_path, account.account_id, records)
    run_vedette("ingest", "--data-dir", str(s3_server.data_dir), str(tmp_path / "AWSLogs"))

    findings = get_findings_wire(s3_server.endpoint, account, detector_id, list_all_ids(s3gd, detector_id))
    active = {f["id"] for f in findings if not f["service"]["archived"]}
    archived = {f["id"] for f in findings if f["service"]["archived"]}
    assert active and archived, "the scenario should raise both kinds"
    assert {f["type"] for f in findings if f["id"] in archived} == {suppressed_type}
    wait_for("the CloudTrail findings in the bucket", lambda: exported_ids(s3, bucket) >= active)
    time.sleep(2)  # a few more publisher rounds: nothing archived may follow
    exported = exported_objects(s3, bucket)
    lines = {f["id"]: f for fs in exported.values() for f in fs}
    assert set(lines) == active
    by_id = {f["id"]: f for f in findings}
    for fid, line in lines.items():
        assert line == as_exported(by_id[fid])
        assert line["accountId"] == account.account_id
    assert any(line["service"]["action"]["awsApiCallAction"].get("errorCode") for line in lines.values())


def test_missing_bucket_is_unable_to_publish_until_it_exists(s3_server, s3gd, moto_s3):
    s3 = moto_s3.client()
    bucket = new_bucket_name()
    detector_id = s3gd.create_detector(Enable=True)["DetectorId"]
    before_ms = int(time.time() * 1000)
    destination_id = create_destination(s3gd, detector_id, bucket)
    failing = wait_status(s3gd, detector_id, destination_id, UNABLE)
    started = failing["PublishingFailureStartTimestamp"]
    assert before_ms - 1000 <= started <= int(time.time() * 1000), (before_ms, started)
    listed = s3gd.list_publishing_destinations(DetectorId=detector_id)["Destinations"]
    assert listed[0]["Status"] == UNABLE

    # Findings raised while the bucket is missing wait; the failure start does not move.
    s3gd.create_sample_findings(DetectorId=detector_id, FindingTypes=SAMPLE_TYPES[:2])
    time.sleep(2)
    still = status_of(s3gd, detector_id, destination_id)
    assert (still["Status"], still["PublishingFailureStartTimestamp"]) == (UNABLE, started)

    s3.create_bucket(Bucket=bucket)
    recovered = wait_status(s3gd, detector_id, destination_id, PUBLISHING)
    assert recovered["PublishingFailureStartTimestamp"] == 0
    ids = set(list_all_ids(s3gd, detector_id))
    wait_for("the waiting findings in the new bucket", lambda: exported_ids(s3, bucket) >= ids)


def test_update_moves_publishing_to_the_new_bucket(s3_server, s3gd, moto_s3):
    s3 = moto_s3.client()
    old, new = new_bucket_name(), new_bucket_name()
    s3.create_bucket(Bucket=new)
    detector_id = s3gd.create_detector(Enable=True)["DetectorId"]
    destination_id = create_destination(s3gd, detector_id, old)
    wait_status(s3gd, detector_id, destination_id, UNABLE)
    s3gd.update_publishing_destination(DetectorId=detector_id, DestinationId=destination_id,
                                       DestinationProperties={"DestinationArn": f"arn:aws:s3:::{new}/moved"})
    wait_status(s3gd, detector_id, destination_id, PUBLISHING)
    s3gd.create_sample_findings(DetectorId=detector_id, FindingTypes=SAMPLE_TYPES[:1])
    ids = set(list_all_ids(s3gd, detector_id))
    wait_for("the finding under the new prefix", lambda: exported_ids(s3, new, "moved/AWSLogs/") >= ids)


def test_findings_raised_while_vedette_is_down_are_exported_after_restart(s3_server, s3gd, account, moto_s3,
                                                                          tmp_path):
    s3 = moto_s3.client()
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    detector_id = s3gd.create_detector(Enable=True)["DetectorId"]
    destination_id = create_destination(s3gd, detector_id, bucket)
    wait_status(s3gd, detector_id, destination_id, PUBLISHING)

    s3_server.stop()
    try:
        base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
        records = [r for recs in ct.scenario(account.account_id, base).values() for r in recs]
        ct.write_log_file(tmp_path, account.account_id, records)
        run_vedette("ingest", "--data-dir", str(s3_server.data_dir), str(tmp_path / "AWSLogs"))
    finally:
        s3_server.start()
    gd = watch(guardduty_client(s3_server.endpoint, account, REGION))
    ids = set(list_all_ids(gd, detector_id))
    assert ids
    wait_for("findings ingested during the outage in the bucket", lambda: exported_ids(s3, bucket) >= ids)
