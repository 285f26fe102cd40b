"""CloudTrail end to end: real-format log files -> `vedette ingest` into the data dir a
running `vedette serve` uses -> findings read back with the aws CLI and boto3."""
import datetime
import gzip
import json

import pytest

import cloudtrail_logs as ct
from aws_cli import aws_json
from gdutil import get_findings, iso_to_ms, list_all_ids
from conftest import _next_account
from vedette_harness import run_vedette


def ingest(server, *paths):
    return run_vedette("ingest", "--data-dir", str(server.data_dir), *map(str, paths))


@pytest.fixture
def scenario_run(server, gd, account, detector_id, tmp_path):
    """The issue-8 scenario ingested for a fresh account; returns (records by label, findings by type)."""
    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
    records = ct.scenario(account.account_id, base)
    everything = [r for recs in records.values() for r in recs]
    ct.write_log_file(tmp_path, account.account_id, everything[:4])
    ct.write_log_file(tmp_path, account.account_id, everything[4:])
    ct.write_digest_file(tmp_path, account.account_id)
    ingest(server, tmp_path / "AWSLogs")
    ids = aws_json(server.endpoint, account, "guardduty", "list-findings", "--detector-id", detector_id)["FindingIds"]
    findings = aws_json(server.endpoint, account, "guardduty", "get-findings", "--detector-id", detector_id,
                        "--finding-ids", *ids)["Findings"] if ids else []
    by_type = {}
    for f in findings:
        by_type.setdefault(f["Type"], []).append(f)
    return records, by_type


def api_call(finding):
    return finding["Service"]["Action"]["AwsApiCallAction"]


def test_failed_call_carries_error_code_and_successful_one_has_none(scenario_run):
    records, by_type = scenario_run
    root = {f["Resource"]["AccessKeyDetails"]["AccessKeyId"]: f for f in by_type["Policy:IAMUser/RootCredentialUsage"]}
    denied_key = records["root_denied"][0]["userIdentity"]["accessKeyId"]
    ok_key = records["root_ok"][0]["userIdentity"]["accessKeyId"]
    assert set(root) == {denied_key, ok_key}

    failed, succeeded = root[denied_key], root[ok_key]
    for f in (failed, succeeded):
        assert f["Resource"]["ResourceType"] == "AccessKey"
        assert f["Resource"]["AccessKeyDetails"]["UserType"] == "Root"
        assert f["Service"]["Action"]["ActionType"] == "AWS_API_CALL"
        assert api_call(f)["Api"] == "CreateUser"
        assert api_call(f)["ServiceName"] == "iam.amazonaws.com"
        assert api_call(f)["CallerType"] == "Remote IP"
        assert f["Severity"] == 2.0
    assert api_call(failed)["ErrorCode"] == "AccessDenied"
    assert "ErrorCode" not in api_call(succeeded)
    assert api_call(failed)["RemoteIpDetails"]["IpAddressV4"] == "198.51.100.23"
    assert api_call(succeeded)["RemoteIpDetails"]["IpAddressV4"] == "198.51.100.24"


def test_each_scenario_type_is_raised_with_its_resource_and_api(scenario_run, account):
    records, by_type = scenario_run
    (stop,) = by_type["Stealth:IAMUser/CloudTrailLoggingDisabled"]
    assert api_call(stop)["Api"] == "StopLogging"
    assert api_call(stop)["ServiceName"] == "cloudtrail.amazonaws.com"
    assert stop["Resource"]["AccessKeyDetails"]["UserName"] == "alice"
    assert stop["Resource"]["AccessKeyDetails"]["UserType"] == "IAMUser"
    assert "ErrorCode" not in api_call(stop)

    (public,) = by_type["Policy:S3/BucketAnonymousAccessGranted"]
    assert api_call(public)["Api"] == "PutBucketPolicy"
    assert api_call(public)["ServiceName"] == "s3.amazonaws.com"
    assert public["Resource"]["S3BucketDetails"][0]["Name"] == f"corp-public-{account.account_id}"
    assert public["Severity"] >= 7.0

    (kali,) = by_type["PenTest:IAMUser/KaliLinux"]
    assert api_call(kali)["Api"] == "DescribeInstances"
    assert api_call(kali)["UserAgent"] == ct.KALI_UA
    assert kali["Resource"]["AccessKeyDetails"]["UserName"] == "mallory"

    # Findings carry the event times of what raised them.
    assert iso_to_ms(stop["Service"]["EventFirstSeen"]) == iso_to_ms(records["stop_logging"][0]["eventTime"])
    for f in (stop, public, kali):
        assert f["AccountId"] == account.account_id and f["Region"] == "us-east-1"
        assert f["Service"]["Count"] == 1


def test_benign_activity_raises_nothing(scenario_run):
    _, by_type = scenario_run
    users = {f["Resource"]["AccessKeyDetails"].get("UserName") for fs in by_type.values() for f in fs}
    assert "bob" not in users
    assert "ci-deployer" not in users
    assert set(by_type) == {"Policy:IAMUser/RootCredentialUsage", "Stealth:IAMUser/CloudTrailLoggingDisabled",
                            "Policy:S3/BucketAnonymousAccessGranted", "PenTest:IAMUser/KaliLinux"}


def test_error_code_is_filterable(scenario_run, gd, detector_id):
    records, _ = scenario_run
    ids = list_all_ids(gd, detector_id, FindingCriteria={
        "Criterion": {"service.action.awsApiCallAction.errorCode": {"Equals": ["AccessDenied"]}}})
    (f,) = get_findings(gd, detector_id, ids)
    assert f["Resource"]["AccessKeyDetails"]["AccessKeyId"] == records["root_denied"][0]["userIdentity"]["accessKeyId"]


def test_reingesting_the_same_files_changes_nothing(server, scenario_run, gd, detector_id, tmp_path):
    before = {f["Id"]: f for f in get_findings(gd, detector_id, list_all_ids(gd, detector_id))}
    ingest(server, tmp_path / "AWSLogs")
    after = {f["Id"]: f for f in get_findings(gd, detector_id, list_all_ids(gd, detector_id))}
    assert after.keys() == before.keys()
    for fid, f in after.items():
        assert f["Service"]["Count"] == before[fid]["Service"]["Count"]
        assert f["UpdatedAt"] == before[fid]["UpdatedAt"]


def test_repeat_activity_aggregates_and_latest_occurrence_wins(server, gd, account, detector_id, tmp_path):
    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=2)
    key = ct.access_key("ASIA")
    ident = ct.root_identity(account.account_id, key)
    first = ct.record(ident, base, "iam.amazonaws.com", "ListUsers", account=account.account_id,
                      error_code="AccessDenied", read_only=True)
    later = ct.record(ident, base + datetime.timedelta(minutes=30), "s3.amazonaws.com", "ListBuckets",
                      account=account.account_id, read_only=True, ip="198.51.100.99")
    # Written out of order: the later event first.
    ct.write_log_file(tmp_path, account.account_id, [later], when=base + datetime.timedelta(minutes=30))
    ct.write_log_file(tmp_path, account.account_id, [first], when=base)
    ingest(server, tmp_path / "AWSLogs")
    (f,) = get_findings(gd, detector_id, list_all_ids(gd, detector_id))
    assert f["Type"] == "Policy:IAMUser/RootCredentialUsage"
    assert f["Service"]["Count"] == 2
    assert iso_to_ms(f["Service"]["EventFirstSeen"]) == iso_to_ms(first["eventTime"])
    assert iso_to_ms(f["Service"]["EventLastSeen"]) == iso_to_ms(later["eventTime"])
    call = f["Service"]["Action"]["AwsApiCallAction"]
    assert call["Api"] == "ListBuckets"  # the latest occurrence's action details
    assert "ErrorCode" not in call


def test_uncompressed_json_lines_and_stdin_inputs(server, gd, account, detector_id, tmp_path):
    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=3)
    recs = [ct.record(ct.root_identity(account.account_id, ct.access_key("ASIA")), base, "iam.amazonaws.com",
                      "GetAccountSummary", account=account.account_id, read_only=True) for _ in range(3)]
    plain = ct.write_log_file(tmp_path, account.account_id, [recs[0]], gz=False)
    ingest(server, plain)
    lines = tmp_path / "records.jsonl"
    lines.write_text(json.dumps(recs[1]) + "\n")
    ingest(server, lines)
    run_vedette("ingest", "--data-dir", str(server.data_dir), "-",
                input_bytes=json.dumps({"Records": [recs[2]]}).encode())
    keys = {f["Resource"]["AccessKeyDetails"]["AccessKeyId"]
            for f in get_findings(gd, detector_id, list_all_ids(gd, detector_id))}
    assert keys == {r["userIdentity"]["accessKeyId"] for r in recs}


def test_records_without_a_detector_are_skipped(server, gd, account, tmp_path, make_client, other_account):
    """Records for an account/region with no enabled detector raise nothing."""
    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    rec = ct.record(ct.root_identity(other_account.account_id, ct.access_key("ASIA")), base, "iam.amazonaws.com",
                    "ListUsers", account=other_account.account_id, read_only=True)
    ct.write_log_file(tmp_path, other_account.account_id, [rec])
    ingest(server, tmp_path / "AWSLogs")
    other = make_client(other_account)
    detector_id = other.create_detector(Enable=True)["DetectorId"]
    assert other.list_findings(DetectorId=detector_id)["FindingIds"] == []


def test_bad_input_is_skipped_without_failing_the_good(server, gd, account, detector_id, tmp_path):
    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    good = ct.record(ct.root_identity(account.account_id, ct.access_key("ASIA")), base, "iam.amazonaws.com",
                     "ListUsers", account=account.account_id, read_only=True)
    good_file = ct.write_log_file(tmp_path, account.account_id, [good, {"eventName": "NoIdentity"}])
    truncated = good_file.with_name("truncated.json.gz")
    harmless = ct.record(ct.iam_user_identity(account.account_id, "carol", ct.access_key()), base,
                         "ec2.amazonaws.com", "DescribeVolumes", account=account.account_id, read_only=True)
    truncated.write_bytes(gzip.compress(b'{"Records":[' + json.dumps(harmless).encode())[:-12])
    garbage = good_file.with_name("garbage.json")
    garbage.write_text("this is not CloudTrail")
    proc = run_vedette("ingest", "--data-dir", str(server.data_dir), str(tmp_path / "AWSLogs"), check=False)
    assert proc.returncode in (0, 1, 2), proc  # reported, never a crash
    assert b"panicked" not in proc.stderr, proc.stderr
    (f,) = get_findings(gd, detector_id, list_all_ids(gd, detector_id))
    assert f["Resource"]["AccessKeyDetails"]["AccessKeyId"] == good["userIdentity"]["accessKeyId"]


@pytest.fixture(scope="module")
def more_run(server, account_pool, tmp_path_factory):
    """more_scenario ingested once for a fresh account; returns (account, findings by type via the CLI)."""
    acct = _next_account(account_pool)
    root = tmp_path_factory.mktemp("more")
    detector_id = aws_json(server.endpoint, acct, "guardduty", "create-detector", "--enable")["DetectorId"]
    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
    records = [r for recs in ct.more_scenario(acct.account_id, base).values() for r in recs]
    ct.write_log_file(root, acct.account_id, records)
    ingest(server, root / "AWSLogs")
    ids = aws_json(server.endpoint, acct, "guardduty", "list-findings", "--detector-id", detector_id)["FindingIds"]
    findings = aws_json(server.endpoint, acct, "guardduty", "get-findings", "--detector-id", detector_id,
                        "--finding-ids", *ids)["Findings"] if ids else []
    by_type = {}
    for f in findings:
        by_type.setdefault(f["Type"], []).append(f)
    return acct, by_type


@pytest.mark.parametrize("ftype,api,service,user,bucket,error_code", [
    ("Stealth:IAMUser/PasswordPolicyChange", "DeleteAccountPasswordPolicy", "iam.amazonaws.com", "frank", False,
     "AccessDenied"),  # attempts count too (docs/findings.md#cloudtrail-access-key-types)
    ("PenTest:IAMUser/ParrotLinux", "GetCallerIdentity", "sts.amazonaws.com", "grace", False, None),
    ("PenTest:IAMUser/PentooLinux", "ListBuckets", "s3.amazonaws.com", "heidi", False, None),
    ("Policy:S3/BucketBlockPublicAccessDisabled", "PutBucketPublicAccessBlock", "s3.amazonaws.com", "erin", True, None),
    ("Policy:S3/AccountBlockPublicAccessDisabled", "PutAccountPublicAccessBlock", "s3.amazonaws.com", "erin", False,
     None),
    ("Policy:S3/BucketPublicAccessGranted", "PutBucketAcl", "s3.amazonaws.com", "erin", True, None),
    ("Stealth:S3/ServerAccessLoggingDisabled", "PutBucketLogging", "s3.amazonaws.com", "erin", True, None),
])
def test_more_types_through_the_cli(more_run, ftype, api, service, user, bucket, error_code):
    acct, by_type = more_run
    findings = by_type.get(ftype, [])
    assert len(findings) == 1, f"{ftype}: {len(findings)} findings; raised types: {sorted(by_type)}"
    (f,) = findings
    call = api_call(f)
    assert call["Api"] == api
    assert call["ServiceName"] == service
    assert f["Resource"]["ResourceType"] == "AccessKey"
    assert f["Resource"]["AccessKeyDetails"]["UserName"] == user
    assert f["AccountId"] == acct.account_id
    if bucket:
        assert f["Resource"]["S3BucketDetails"][0]["Name"] == f"shared-reports-{acct.account_id}"
    if error_code:
        assert call["ErrorCode"] == error_code
    else:
        assert "ErrorCode" not in call


def test_more_scenario_raises_exactly_those_types(more_run):
    _, by_type = more_run
    assert sorted(by_type) == sorted([
        "Stealth:IAMUser/PasswordPolicyChange", "PenTest:IAMUser/ParrotLinux", "PenTest:IAMUser/PentooLinux",
        "Policy:S3/BucketBlockPublicAccessDisabled", "Policy:S3/AccountBlockPublicAccessDisabled",
        "Policy:S3/BucketPublicAccessGranted", "Stealth:S3/ServerAccessLoggingDisabled"])
