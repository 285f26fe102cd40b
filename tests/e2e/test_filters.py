"""Saved filters and suppression rules: every filter operation and its errors
through boto3 and the aws CLI, tags on filter ARNs, and ARCHIVE filters auto-archiving the
findings that CloudTrail ingest raises."""
from __future__ import annotations

import datetime
import json

import pytest
from botocore.exceptions import ClientError

import cloudtrail_logs as ct
from aws_cli import aws_json, run_aws
from errors import assert_client_error, assert_raw_error
from gdutil import get_findings, list_all_ids
from vedette_harness import raw_request, run_vedette

ROOT = "Policy:IAMUser/RootCredentialUsage"
NO_SUCH_FILTER = "The request is rejected since no such resource found."
NOT_OWNED = "not owned by the current account"
OUT_OF_BOUNDS = "rank is out-of-bounds"


def by_type(*types: str) -> dict:
    return {"Criterion": {"type": {"Equals": list(types)}}}


def filter_arn(account, detector_id: str, name: str) -> str:
    return f"arn:aws:guardduty:us-east-1:{account.account_id}:detector/{detector_id}/filter/{name}"


def bad_request(call, message_part: str | None = None) -> None:
    with pytest.raises(ClientError) as err:
        call()
    assert_client_error(err.value, 400, "BadRequestException", message_part)


def all_names(gd, detector_id: str, page_size: int = 50) -> list[str]:
    pages = gd.get_paginator("list_filters").paginate(DetectorId=detector_id,
                                                      PaginationConfig={"PageSize": page_size})
    return [n for page in pages for n in page["FilterNames"]]


def ranks(gd, detector_id: str) -> dict[str, int]:
    return {n: gd.get_filter(DetectorId=detector_id, FilterName=n)["Rank"] for n in all_names(gd, detector_id)}


@pytest.fixture
def gd_raw(make_client, account):
    """A client that skips botocore's own parameter checks, so the server's are exercised."""
    return make_client(account, parameter_validation=False)


# ---- boto3: operations -----------------------------------------------------------------------

def test_create_get_update_delete(gd, detector_id):
    criteria = {"Criterion": {"type": {"Equals": [ROOT]},
                              "severity": {"GreaterThanOrEqual": 2, "LessThan": 7},
                              "service.action.awsApiCallAction.errorCode": {"NotEquals": ["AccessDenied"]}}}
    created = gd.create_filter(DetectorId=detector_id, Name="quiet-root", Description="root from CI",
                               Action="ARCHIVE", Rank=1, FindingCriteria=criteria, Tags={"team": "sec"})
    assert created["Name"] == "quiet-root"

    got = gd.get_filter(DetectorId=detector_id, FilterName="quiet-root")
    assert got["Name"] == "quiet-root"
    assert got["Description"] == "root from CI"
    assert got["Action"] == "ARCHIVE"
    assert got["Rank"] == 1
    assert got["FindingCriteria"] == criteria
    assert got["Tags"] == {"team": "sec"}
    assert got["Version"] == 1
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - got["CreatedAt"]).total_seconds()) < 300
    assert got["UpdatedAt"] == got["CreatedAt"]
    assert gd.list_filters(DetectorId=detector_id)["FilterNames"] == ["quiet-root"]

    updated = gd.update_filter(DetectorId=detector_id, FilterName="quiet-root", Action="NOOP",
                               FindingCriteria=by_type("PenTest:IAMUser/KaliLinux"))
    assert updated["Name"] == "quiet-root"
    got = gd.get_filter(DetectorId=detector_id, FilterName="quiet-root")
    assert (got["Action"], got["FindingCriteria"], got["Version"]) == ("NOOP", by_type("PenTest:IAMUser/KaliLinux"), 2)
    assert got["Description"] == "root from CI"  # not named in the update: unchanged

    deleted = gd.delete_filter(DetectorId=detector_id, FilterName="quiet-root")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert gd.list_filters(DetectorId=detector_id)["FilterNames"] == []
    bad_request(lambda: gd.get_filter(DetectorId=detector_id, FilterName="quiet-root"), NO_SUCH_FILTER)


def test_defaults_and_legacy_operator_spelling(gd, detector_id):
    gd.create_filter(DetectorId=detector_id, Name="legacy",
                     FindingCriteria={"Criterion": {"type": {"Eq": [ROOT]}, "severity": {"Gte": 4},
                                                    "accountId": {"Neq": ["000000000000"]}}})
    got = gd.get_filter(DetectorId=detector_id, FilterName="legacy")
    assert got["Action"] == "NOOP" and got["Rank"] == 1
    assert "Description" not in got
    # Stored in GuardDuty's current spelling.
    assert got["FindingCriteria"] == {"Criterion": {"type": {"Equals": [ROOT]},
                                                    "severity": {"GreaterThanOrEqual": 4},
                                                    "accountId": {"NotEquals": ["000000000000"]}}}


def test_wildcard_operators_round_trip(gd, detector_id):
    criteria = {"Criterion": {"type": {"Matches": ["Policy:*", "PenTest:*"]},
                              "resource.accessKeyDetails.userName": {"NotMatches": ["ci-*"]}}}
    gd.create_filter(DetectorId=detector_id, Name="wild", Action="ARCHIVE", FindingCriteria=criteria)
    assert gd.get_filter(DetectorId=detector_id, FilterName="wild")["FindingCriteria"] == criteria


def test_ranks_are_positions_without_gaps(gd, detector_id):
    for name in ("a", "b"):
        gd.create_filter(DetectorId=detector_id, Name=f"rank-{name}", FindingCriteria=by_type(ROOT))
    assert ranks(gd, detector_id) == {"rank-a": 1, "rank-b": 2}
    gd.create_filter(DetectorId=detector_id, Name="rank-c", Rank=1, FindingCriteria=by_type(ROOT))
    assert ranks(gd, detector_id) == {"rank-c": 1, "rank-a": 2, "rank-b": 3}
    bad_request(lambda: gd.create_filter(DetectorId=detector_id, Name="rank-gap", Rank=5,
                                         FindingCriteria=by_type(ROOT)), OUT_OF_BOUNDS)
    gd.update_filter(DetectorId=detector_id, FilterName="rank-c", Rank=3)
    assert ranks(gd, detector_id) == {"rank-a": 1, "rank-b": 2, "rank-c": 3}
    bad_request(lambda: gd.update_filter(DetectorId=detector_id, FilterName="rank-c", Rank=4), OUT_OF_BOUNDS)
    gd.delete_filter(DetectorId=detector_id, FilterName="rank-a")
    assert ranks(gd, detector_id) == {"rank-b": 1, "rank-c": 2}


def test_client_token_makes_create_idempotent(gd, detector_id):
    for _ in range(2):
        assert gd.create_filter(DetectorId=detector_id, Name="once", ClientToken="token-1",
                                FindingCriteria=by_type(ROOT))["Name"] == "once"
    assert all_names(gd, detector_id) == ["once"]
    assert gd.get_filter(DetectorId=detector_id, FilterName="once")["Version"] == 1
    # boto3 fills a fresh token in itself: a second plain create is a duplicate.
    bad_request(lambda: gd.create_filter(DetectorId=detector_id, Name="once", FindingCriteria=by_type(ROOT)))


def test_pagination(gd, detector_id):
    names = [f"page-{i:02d}" for i in range(7)]
    for n in reversed(names):
        gd.create_filter(DetectorId=detector_id, Name=n, FindingCriteria=by_type(ROOT))
    first = gd.list_filters(DetectorId=detector_id, MaxResults=3)
    assert len(first["FilterNames"]) == 3 and first["NextToken"]
    assert all_names(gd, detector_id, page_size=3) == sorted(names)
    assert all_names(gd, detector_id, page_size=7) == sorted(names)
    assert "NextToken" not in gd.list_filters(DetectorId=detector_id, MaxResults=7)
    bad_request(lambda: gd.list_filters(DetectorId=detector_id, NextToken="not-a-token"))


def test_tags_on_filter_arns(gd, account, detector_id):
    gd.create_filter(DetectorId=detector_id, Name="tagged", FindingCriteria=by_type(ROOT), Tags={"a": "1"})
    arn = filter_arn(account, detector_id, "tagged")
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "1"}
    assert gd.tag_resource(ResourceArn=arn, Tags={"b": "2"})["ResponseMetadata"]["HTTPStatusCode"] == 204
    gd.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"b": "2"}
    assert gd.get_filter(DetectorId=detector_id, FilterName="tagged")["Tags"] == {"b": "2"}
    # The detector's own tags are separate.
    assert gd.get_detector(DetectorId=detector_id).get("Tags", {}) == {}

    bad_request(lambda: gd.tag_resource(ResourceArn=filter_arn(account, detector_id, "absent"), Tags={"k": "v"}),
                NO_SUCH_FILTER)
    bad_request(lambda: gd.list_tags_for_resource(ResourceArn=f"{arn}/extra"))

    # A filter deleted and created again starts without the old tags.
    gd.delete_filter(DetectorId=detector_id, FilterName="tagged")
    bad_request(lambda: gd.list_tags_for_resource(ResourceArn=arn), NO_SUCH_FILTER)
    gd.create_filter(DetectorId=detector_id, Name="tagged", FindingCriteria=by_type(ROOT))
    assert gd.list_tags_for_resource(ResourceArn=arn).get("Tags", {}) == {}


# ---- boto3: errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["with space", "slash/name", "star*", "ab", "x" * 65, ""])
def test_bad_names_are_400(gd_raw, detector_id, name):
    bad_request(lambda: gd_raw.create_filter(DetectorId=detector_id, Name=name, FindingCriteria=by_type(ROOT)))


def test_duplicate_name_is_400(gd, detector_id):
    gd.create_filter(DetectorId=detector_id, Name="dup", FindingCriteria=by_type(ROOT))
    bad_request(lambda: gd.create_filter(DetectorId=detector_id, Name="dup", FindingCriteria=by_type(ROOT)),
                "already exists")


@pytest.mark.parametrize("rank", [0, 101, -1])
def test_rank_out_of_range_is_400(gd_raw, detector_id, rank):
    bad_request(lambda: gd_raw.create_filter(DetectorId=detector_id, Name="ranked", Rank=rank,
                                             FindingCriteria=by_type(ROOT)))
    gd_raw.create_filter(DetectorId=detector_id, Name="ranked", FindingCriteria=by_type(ROOT))
    bad_request(lambda: gd_raw.update_filter(DetectorId=detector_id, FilterName="ranked", Rank=rank))


def test_bad_action_and_description_are_400(gd_raw, detector_id):
    bad_request(lambda: gd_raw.create_filter(DetectorId=detector_id, Name="act", Action="DELETE",
                                             FindingCriteria=by_type(ROOT)), "action")
    bad_request(lambda: gd_raw.create_filter(DetectorId=detector_id, Name="act", Description="d" * 513,
                                             FindingCriteria=by_type(ROOT)), "description")
    gd_raw.create_filter(DetectorId=detector_id, Name="act", Description="d" * 512, FindingCriteria=by_type(ROOT))
    bad_request(lambda: gd_raw.update_filter(DetectorId=detector_id, FilterName="act", Action="archive"), "action")
    assert all_names(gd_raw, detector_id) == ["act"]


@pytest.mark.parametrize("criteria", [
    {"Criterion": {"no.such.attribute": {"Equals": ["x"]}}},           # unknown attribute
    {"Criterion": {"type": {"GreaterThan": 3}}},                       # range operator on a string
    {"Criterion": {"severity": {"Equals": ["high"]}}},                 # not a number
    {"Criterion": {"service.archived": {"Equals": ["maybe"]}}},        # not a boolean
    {"Criterion": {"severity": {"Matches": ["8*"]}}},                  # wildcard on a number
    {"Criterion": {"type": {"Matches": ["a", "b", "c", "d", "e", "f"]}}},  # more than 5 patterns
    {"Criterion": {"type": {}}},                                       # no operator
    {"Criterion": {}},                                                 # nothing to match on
    {},
])
def test_bad_criteria_are_400(gd_raw, detector_id, criteria):
    bad_request(lambda: gd_raw.create_filter(DetectorId=detector_id, Name="crit", FindingCriteria=criteria))
    gd_raw.create_filter(DetectorId=detector_id, Name="crit", FindingCriteria=by_type(ROOT))
    bad_request(lambda: gd_raw.update_filter(DetectorId=detector_id, FilterName="crit", FindingCriteria=criteria))
    assert gd_raw.get_filter(DetectorId=detector_id, FilterName="crit")["FindingCriteria"] == by_type(ROOT)


def test_missing_criteria_is_400(gd_raw, detector_id):
    bad_request(lambda: gd_raw.create_filter(DetectorId=detector_id, Name="nocrit"))


def test_unknown_operator_in_raw_json_is_400(server, account, detector_id):
    resp = raw_request(server.endpoint, "POST", f"/detector/{detector_id}/filter",
                       {"name": "raw", "findingCriteria": {"criterion": {"type": {"like": ["x"]}}}}, account=account)
    assert_raw_error(resp, 400, "BadRequestException", type_="InvalidInputException")


def test_at_most_one_hundred_filters(gd, detector_id):
    for i in range(100):
        gd.create_filter(DetectorId=detector_id, Name=f"f{i:03d}", FindingCriteria=by_type(ROOT))
    bad_request(lambda: gd.create_filter(DetectorId=detector_id, Name="f100", FindingCriteria=by_type(ROOT)), "100")
    assert len(all_names(gd, detector_id)) == 100
    gd.delete_filter(DetectorId=detector_id, FilterName="f000")
    gd.create_filter(DetectorId=detector_id, Name="f100", FindingCriteria=by_type(ROOT))
    assert gd.get_filter(DetectorId=detector_id, FilterName="f100")["Rank"] == 100


def test_unknown_filter_is_400(gd, server, account, detector_id):
    bad_request(lambda: gd.get_filter(DetectorId=detector_id, FilterName="ghost"), NO_SUCH_FILTER)
    bad_request(lambda: gd.update_filter(DetectorId=detector_id, FilterName="ghost", Action="ARCHIVE"), NO_SUCH_FILTER)
    bad_request(lambda: gd.delete_filter(DetectorId=detector_id, FilterName="ghost"), NO_SUCH_FILTER)
    resp = raw_request(server.endpoint, "GET", f"/detector/{detector_id}/filter/ghost", account=account)
    body = assert_raw_error(resp, 400, "BadRequestException", type_="InvalidInputException")
    assert body["message"] == NO_SUCH_FILTER


def test_foreign_and_unknown_detectors_are_not_owned(gd, make_client, other_account, detector_id):
    other = make_client(other_account)
    theirs = other.create_detector(Enable=True)["DetectorId"]
    other.create_filter(DetectorId=theirs, Name="theirs", FindingCriteria=by_type(ROOT))
    for d in (theirs, "3" * 32):
        bad_request(lambda: gd.create_filter(DetectorId=d, Name="mine", FindingCriteria=by_type(ROOT)), NOT_OWNED)
        bad_request(lambda: gd.get_filter(DetectorId=d, FilterName="theirs"), NOT_OWNED)
        bad_request(lambda: gd.list_filters(DetectorId=d), NOT_OWNED)
        bad_request(lambda: gd.update_filter(DetectorId=d, FilterName="theirs", Action="ARCHIVE"), NOT_OWNED)
        bad_request(lambda: gd.delete_filter(DetectorId=d, FilterName="theirs"), NOT_OWNED)
    bad_request(lambda: gd.tag_resource(ResourceArn=filter_arn(other_account, theirs, "theirs"), Tags={"k": "v"}))
    got = other.get_filter(DetectorId=theirs, FilterName="theirs")
    assert (got["Action"], got.get("Tags", {})) == ("NOOP", {})
    assert other.list_filters(DetectorId=theirs)["FilterNames"] == ["theirs"]


def test_bad_max_results_is_400(gd_raw, detector_id):
    for n in (0, 51):
        bad_request(lambda: gd_raw.list_filters(DetectorId=detector_id, MaxResults=n))


# ---- aws CLI ------------------------------------------------------------------------------------

def cli(server, account, *args, **kwargs):
    return aws_json(server.endpoint, account, "guardduty", *args, **kwargs)


def cli_error(server, account, *args) -> str:
    proc = run_aws(server.endpoint, account, "guardduty", *args, check=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_cli_operations(server, account, detector_id):
    criteria = json.dumps({"Criterion": {"type": {"Eq": [ROOT]},
                                         "service.action.awsApiCallAction.errorCode": {"Equals": ["AccessDenied"]}}})
    out = cli(server, account, "create-filter", "--detector-id", detector_id, "--name", "cli-one",
              "--action", "ARCHIVE", "--description", "from the CLI", "--finding-criteria", criteria,
              "--client-token", "cli-token", "--tags", "team=sec")
    assert out == {"Name": "cli-one"}
    again = cli(server, account, "create-filter", "--detector-id", detector_id, "--name", "cli-one",
                "--action", "ARCHIVE", "--finding-criteria", criteria, "--client-token", "cli-token")
    assert again == {"Name": "cli-one"}
    cli(server, account, "create-filter", "--detector-id", detector_id, "--name", "cli-two", "--rank", "1",
        "--finding-criteria", criteria)

    got = cli(server, account, "get-filter", "--detector-id", detector_id, "--filter-name", "cli-one")
    assert (got["Name"], got["Action"], got["Rank"], got["Description"]) == ("cli-one", "ARCHIVE", 2, "from the CLI")
    assert got["FindingCriteria"]["Criterion"]["type"] == {"Equals": [ROOT]}
    assert got["Tags"] == {"team": "sec"}

    # The CLI pages by itself; --page-size makes it use several requests.
    listed = cli(server, account, "list-filters", "--detector-id", detector_id, "--page-size", "1")
    assert listed["FilterNames"] == ["cli-one", "cli-two"]
    first = cli(server, account, "list-filters", "--detector-id", detector_id, "--max-items", "1")
    assert first["FilterNames"] == ["cli-one"] and first["NextToken"]
    rest = cli(server, account, "list-filters", "--detector-id", detector_id, "--starting-token", first["NextToken"])
    assert rest["FilterNames"] == ["cli-two"]

    updated = cli(server, account, "update-filter", "--detector-id", detector_id, "--filter-name", "cli-one",
                  "--action", "NOOP", "--rank", "1")
    assert updated == {"Name": "cli-one"}
    got = cli(server, account, "get-filter", "--detector-id", detector_id, "--filter-name", "cli-one")
    assert (got["Action"], got["Rank"]) == ("NOOP", 1)

    arn = filter_arn(account, detector_id, "cli-one")
    cli(server, account, "tag-resource", "--resource-arn", arn, "--tags", "env=prod")
    assert cli(server, account, "list-tags-for-resource", "--resource-arn", arn)["Tags"] == {"team": "sec", "env": "prod"}
    cli(server, account, "untag-resource", "--resource-arn", arn, "--tag-keys", "team")
    assert cli(server, account, "list-tags-for-resource", "--resource-arn", arn)["Tags"] == {"env": "prod"}

    assert cli(server, account, "delete-filter", "--detector-id", detector_id, "--filter-name", "cli-one") is None
    assert cli(server, account, "list-filters", "--detector-id", detector_id)["FilterNames"] == ["cli-two"]


def test_cli_errors(server, account, new_account, make_client, detector_id):
    criteria = json.dumps(by_type(ROOT))
    create = ("create-filter", "--detector-id", detector_id, "--finding-criteria", criteria)
    cli(server, account, *create, "--name", "taken")

    cases = {
        "bad name": [*create, "--name", "has space"],
        "duplicate": [*create, "--name", "taken"],
        "rank gap": [*create, "--name", "gap", "--rank", "3"],
        "bad action": [*create, "--name", "act", "--action", "DROP"],
        "bad attribute": ["create-filter", "--detector-id", detector_id, "--name", "attr",
                          "--finding-criteria", json.dumps({"Criterion": {"nope": {"Equals": ["x"]}}})],
        "bad operator": ["create-filter", "--detector-id", detector_id, "--name", "bad-op",
                         "--finding-criteria", json.dumps({"Criterion": {"type": {"Gt": 1}}})],
        "unknown get": ["get-filter", "--detector-id", detector_id, "--filter-name", "ghost"],
        "unknown update": ["update-filter", "--detector-id", detector_id, "--filter-name", "ghost", "--rank", "1"],
        "unknown delete": ["delete-filter", "--detector-id", detector_id, "--filter-name", "ghost"],
        "unknown tag": ["tag-resource", "--resource-arn", filter_arn(account, detector_id, "ghost"), "--tags", "k=v"],
        "bad token": ["list-filters", "--detector-id", detector_id, "--starting-token", "bm90LWEtdG9rZW4"],
    }
    for label, args in cases.items():
        stderr = cli_error(server, account, *args)
        assert "BadRequestException" in stderr, (label, stderr)
    assert "no such resource found" in cli_error(server, account, "get-filter", "--detector-id", detector_id,
                                                  "--filter-name", "ghost")

    other = new_account()
    theirs = make_client(other).create_detector(Enable=True)["DetectorId"]
    for args in (["list-filters", "--detector-id", theirs],
                 ["create-filter", "--detector-id", theirs, "--name", "x-x", "--finding-criteria", criteria],
                 ["get-filter", "--detector-id", theirs, "--filter-name", "taken"]):
        assert NOT_OWNED in cli_error(server, account, *args)

    gd = make_client(account)
    for i in range(99):
        gd.create_filter(DetectorId=detector_id, Name=f"bulk-{i:02d}", FindingCriteria=by_type(ROOT))
    stderr = cli_error(server, account, *create, "--name", "one-too-many")
    assert "BadRequestException" in stderr and "100" in stderr
    assert cli(server, account, "list-filters", "--detector-id", detector_id, "--page-size", "30")["FilterNames"] \
        == sorted(["taken", *(f"bulk-{i:02d}" for i in range(99))])


# ---- suppression end to end ----------------------------------------------------------------------

def ingest(server, *paths):
    return run_vedette("ingest", "--data-dir", str(server.data_dir), *map(str, paths))


def archived(finding: dict) -> bool:
    return finding["Service"].get("Archived", False)


@pytest.fixture
def suppressed_run(server, gd, account, detector_id, tmp_path):
    """ARCHIVE filters in place, then the issue-8 CloudTrail scenario ingested. Returns the records
    by label and the findings split into (archived, active), each keyed by scenario label.

    Rules: failed root calls (RootCredentialUsage with errorCode AccessDenied) and every PenTest
    type (wildcard) are suppressed; a NOOP filter on the Stealth type is only a saved view."""
    gd.create_filter(DetectorId=detector_id, Name="denied-root", Action="ARCHIVE", FindingCriteria={
        "Criterion": {"type": {"Equals": [ROOT]},
                      "service.action.awsApiCallAction.errorCode": {"Equals": ["AccessDenied"]}}})
    gd.create_filter(DetectorId=detector_id, Name="pentest-tools", Action="ARCHIVE",
                     FindingCriteria={"Criterion": {"type": {"Matches": ["PenTest:*"]}}})
    gd.create_filter(DetectorId=detector_id, Name="stealth-view", Action="NOOP",
                     FindingCriteria=by_type("Stealth:IAMUser/CloudTrailLoggingDisabled"))

    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
    records = ct.scenario(account.account_id, base)
    everything = [r for recs in records.values() for r in recs]
    ct.write_log_file(tmp_path, account.account_id, everything)
    ingest(server, tmp_path / "AWSLogs")

    findings = get_findings(gd, detector_id, list_all_ids(gd, detector_id))
    # The two root findings share a type: tell them apart by the scenario record's access key.
    root_label = {records[label][0]["userIdentity"]["accessKeyId"]: label for label in ("root_denied", "root_ok")}
    labelled = {}
    for f in findings:
        label = root_label[f["Resource"]["AccessKeyDetails"]["AccessKeyId"]] if f["Type"] == ROOT else f["Type"]
        assert label not in labelled, f"two findings labelled {label}"
        labelled[label] = f
    split = ({k: f for k, f in labelled.items() if archived(f)}, {k: f for k, f in labelled.items() if not archived(f)})
    return records, split


def test_archive_filters_suppress_matching_findings_as_they_are_raised(suppressed_run, gd, detector_id):
    _, (suppressed, active) = suppressed_run
    assert set(suppressed) == {"root_denied", "PenTest:IAMUser/KaliLinux"}
    assert suppressed["root_denied"]["Service"]["Action"]["AwsApiCallAction"]["ErrorCode"] == "AccessDenied"
    # The successful root call has the same type but no error code: not suppressed. Nor is the
    # finding only a NOOP filter matches.
    assert set(active) == {"root_ok", "Stealth:IAMUser/CloudTrailLoggingDisabled",
                           "Policy:S3/BucketAnonymousAccessGranted"}
    assert "ErrorCode" not in active["root_ok"]["Service"]["Action"]["AwsApiCallAction"]
    # Suppressed findings are still generated and kept; the current view leaves them out.
    current = list_all_ids(gd, detector_id, FindingCriteria={"Criterion": {"service.archived": {"Equals": ["false"]}}})
    assert set(current) == {f["Id"] for f in active.values()}


def test_suppression_is_not_retroactive_but_applies_to_updates(server, gd, account, detector_id, tmp_path):
    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=2)
    ident = ct.root_identity(account.account_id, ct.access_key("ASIA"))
    first = ct.record(ident, base, "iam.amazonaws.com", "ListUsers", account=account.account_id, read_only=True)
    ct.write_log_file(tmp_path / "one", account.account_id, [first], when=base)
    ingest(server, tmp_path / "one" / "AWSLogs")
    (fid,) = list_all_ids(gd, detector_id)

    gd.create_filter(DetectorId=detector_id, Name="no-root", Action="ARCHIVE", FindingCriteria=by_type(ROOT))
    (f,) = get_findings(gd, detector_id, [fid])
    assert not archived(f), "creating a rule leaves existing findings as they are"

    later = ct.record(ident, base + datetime.timedelta(minutes=30), "iam.amazonaws.com", "ListRoles",
                      account=account.account_id, read_only=True)
    ct.write_log_file(tmp_path / "two", account.account_id, [later], when=base + datetime.timedelta(minutes=30))
    ingest(server, tmp_path / "two" / "AWSLogs")
    (f,) = get_findings(gd, detector_id, [fid])
    assert archived(f) and f["Service"]["Count"] == 2
