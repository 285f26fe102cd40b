"""Trusted IP lists and threat lists: CreateIPSet/GetIPSet/ListIPSets/
UpdateIPSet/DeleteIPSet and the ThreatIntelSet five, with boto3 and the aws CLI, against a
`vedette serve` that reads list files from a temporary --intel-dir, from an http.server on
127.0.0.1 (--allow-host) and from moto's S3 (--s3-endpoint). Every status transition is watched
through Get; every refused location is a 400 at Create and Update time."""
from __future__ import annotations

import functools
import http.server
import os
import secrets
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from aws_cli import aws_json, run_aws
from conftest import watch
from errors import assert_client_error, assert_raw_error
from vedette_harness import REGION, VedetteServer, detector_arn, guardduty_client, raw_request

WAIT_S = 30.0
LOCATION_REFUSED = "The request is rejected because the parameter location is not usable"
IPSET_NOT_OWNED = "The request is rejected because the input ipSetId is not owned by the current account."
THREAT_NOT_OWNED = "The request is rejected because the input threatIntelSetId is not owned by the current account."
NOT_OWNED = "The request is rejected because the input detectorId is not owned by the current account."


# ---- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def intel_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("intel")


@pytest.fixture(scope="module")
def feed_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feeds")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def http_feed(feed_dir):
    """Python's http.server on 127.0.0.1 (port chosen by the OS) serving feed_dir."""
    handler = functools.partial(_QuietHandler, directory=str(feed_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def lists_server(tmp_path_factory, vedette_bin, credentials_file, intel_dir, http_feed, moto_s3):
    root = tmp_path_factory.mktemp("serve-lists")
    args = ("--intel-dir", str(intel_dir), "--allow-host", f"127.0.0.1:{http_feed}", *moto_s3.serve_args())
    srv = VedetteServer(root / "data", root / "logs", credentials=credentials_file, auth="sigv4",
                        extra_args=args).start()
    yield srv
    srv.stop()


@pytest.fixture
def lgd(lists_server, account):
    return watch(guardduty_client(lists_server.endpoint, account, REGION))


@pytest.fixture
def ldid(lgd) -> str:
    return lgd.create_detector(Enable=True)["DetectorId"]


def write_list(directory: Path, content: str | bytes, suffix: str = ".txt") -> Path:
    path = directory / f"list-{secrets.token_hex(6)}{suffix}"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def file_uri(path: Path) -> str:
    return f"file://{path}"


# ---- helpers ------------------------------------------------------------------------------------

def get_set(gd, did: str, kind: str, set_id: str) -> dict:
    if kind == "ipset":
        return gd.get_ip_set(DetectorId=did, IpSetId=set_id)
    return gd.get_threat_intel_set(DetectorId=did, ThreatIntelSetId=set_id)


def wait_status(gd, did: str, kind: str, set_id: str, *wanted: str) -> dict:
    """Polls Get until the status is one of `wanted`; fails after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    last = None
    while time.monotonic() < deadline:
        last = get_set(gd, did, kind, set_id)
        if last["Status"] in wanted:
            return last
        time.sleep(0.1)
    pytest.fail(f"{kind} {set_id} did not reach {wanted} (last: {last and last['Status']})")


def create_threat(gd, did: str, location: str, activate: bool = True, name: str | None = None,
                  fmt: str = "TXT", **kwargs) -> str:
    return gd.create_threat_intel_set(DetectorId=did, Name=name or f"threats-{secrets.token_hex(3)}",
                                      Format=fmt, Location=location, Activate=activate,
                                      **kwargs)["ThreatIntelSetId"]


def create_ipset(gd, did: str, location: str, activate: bool = True, name: str = "office", **kwargs) -> str:
    return gd.create_ip_set(DetectorId=did, Name=name, Format="TXT", Location=location, Activate=activate,
                            **kwargs)["IpSetId"]


def ips(count: int, first_octet: int = 11) -> str:
    """`count` distinct public IPv4 addresses, one per line."""
    return "".join(f"{first_octet}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n" for i in range(count))


# ---- life cycle: boto3 --------------------------------------------------------------------------

def test_threat_list_life_cycle(lgd, ldid, intel_dir):
    v1 = write_list(intel_dir, "# known bad\n198.51.100.7\n203.0.113.0/24\n\n2001:db8::/32\n")
    set_id = create_threat(lgd, ldid, file_uri(v1), name="Known bad", Tags={"team": "sec"})
    assert len(set_id) == 32 and all(c in "0123456789abcdef" for c in set_id)
    got = wait_status(lgd, ldid, "threatintelset", set_id, "ACTIVE", "ERROR")
    assert got["Status"] == "ACTIVE"
    assert (got["Name"], got["Format"], got["Location"], got["Tags"]) == ("Known bad", "TXT", file_uri(v1),
                                                                          {"team": "sec"})
    assert lgd.list_threat_intel_sets(DetectorId=ldid)["ThreatIntelSetIds"] == [set_id]

    # A new location is recorded but read only at re-activation; the list stays ACTIVE meanwhile.
    v2 = write_list(intel_dir, "192.0.2.99\n")
    lgd.update_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=set_id, Location=file_uri(v2), Name="Renamed")
    got = get_set(lgd, ldid, "threatintelset", set_id)
    assert (got["Status"], got["Location"], got["Name"]) == ("ACTIVE", file_uri(v2), "Renamed")
    lgd.update_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=set_id, Activate=True)
    assert wait_status(lgd, ldid, "threatintelset", set_id, "ACTIVE", "ERROR")["Status"] == "ACTIVE"

    lgd.update_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=set_id, Activate=False)
    wait_status(lgd, ldid, "threatintelset", set_id, "INACTIVE")
    lgd.update_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=set_id, Activate=True)
    wait_status(lgd, ldid, "threatintelset", set_id, "ACTIVE")

    lgd.delete_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=set_id)
    assert get_set(lgd, ldid, "threatintelset", set_id)["Status"] in {"DELETE_PENDING", "DELETED"}
    wait_status(lgd, ldid, "threatintelset", set_id, "DELETED")
    assert lgd.list_threat_intel_sets(DetectorId=ldid)["ThreatIntelSetIds"] == []
    for call in (lambda: lgd.update_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=set_id, Activate=True),
                 lambda: lgd.delete_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=set_id)):
        with pytest.raises(ClientError) as err:
            call()
        assert_client_error(err.value, 400, "BadRequestException", THREAT_NOT_OWNED)


def test_ipset_created_inactive_then_activated(lgd, ldid, intel_dir):
    path = write_list(intel_dir, "192.0.2.0/24\n198.51.100.1\n")
    set_id = create_ipset(lgd, ldid, file_uri(path), activate=False, name="Office net_1")
    assert get_set(lgd, ldid, "ipset", set_id)["Status"] == "INACTIVE"
    lgd.update_ip_set(DetectorId=ldid, IpSetId=set_id, Activate=True)
    assert wait_status(lgd, ldid, "ipset", set_id, "ACTIVE", "ERROR")["Status"] == "ACTIVE"
    lgd.delete_ip_set(DetectorId=ldid, IpSetId=set_id)
    wait_status(lgd, ldid, "ipset", set_id, "DELETED")
    assert lgd.list_ip_sets(DetectorId=ldid)["IpSetIds"] == []


# ---- life cycle: aws CLI ------------------------------------------------------------------------

def test_ipset_life_cycle_with_the_aws_cli(lists_server, account, intel_dir):
    ep = lists_server.endpoint
    did = aws_json(ep, account, "guardduty", "create-detector", "--enable")["DetectorId"]
    path = write_list(intel_dir, "203.0.113.5\n")
    set_id = aws_json(ep, account, "guardduty", "create-ip-set", "--detector-id", did, "--name", "office",
                      "--format", "TXT", "--location", file_uri(path), "--activate",
                      "--tags", "env=prod")["IpSetId"]
    deadline = time.monotonic() + WAIT_S
    while (got := aws_json(ep, account, "guardduty", "get-ip-set", "--detector-id", did,
                           "--ip-set-id", set_id))["Status"] != "ACTIVE":
        assert got["Status"] == "ACTIVATING" and time.monotonic() < deadline, got
        time.sleep(0.1)
    assert got == {"Name": "office", "Format": "TXT", "Location": file_uri(path), "Status": "ACTIVE",
                   "Tags": {"env": "prod"}}
    assert aws_json(ep, account, "guardduty", "list-ip-sets", "--detector-id", did)["IpSetIds"] == [set_id]

    # The quota: a second IPSet is refused.
    second = run_aws(ep, account, "guardduty", "create-ip-set", "--detector-id", did, "--name", "two",
                     "--format", "TXT", "--location", file_uri(path), "--activate", check=False)
    assert second.returncode != 0 and "BadRequestException" in second.stderr, second.stderr
    # A refused location.
    refused = run_aws(ep, account, "guardduty", "update-ip-set", "--detector-id", did, "--ip-set-id", set_id,
                      "--location", "file:///etc/passwd", check=False)
    assert refused.returncode != 0 and LOCATION_REFUSED in refused.stderr, refused.stderr
    assert "root:" not in refused.stderr

    run_aws(ep, account, "guardduty", "update-ip-set", "--detector-id", did, "--ip-set-id", set_id, "--no-activate")
    deadline = time.monotonic() + WAIT_S
    while aws_json(ep, account, "guardduty", "get-ip-set", "--detector-id", did,
                   "--ip-set-id", set_id)["Status"] != "INACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    run_aws(ep, account, "guardduty", "delete-ip-set", "--detector-id", did, "--ip-set-id", set_id)
    deadline = time.monotonic() + WAIT_S
    while aws_json(ep, account, "guardduty", "get-ip-set", "--detector-id", did,
                   "--ip-set-id", set_id)["Status"] != "DELETED":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_threat_list_with_the_aws_cli(lists_server, account, intel_dir):
    ep = lists_server.endpoint
    did = aws_json(ep, account, "guardduty", "create-detector", "--enable")["DetectorId"]
    path = write_list(intel_dir, "198.51.100.0/24\n")
    set_id = aws_json(ep, account, "guardduty", "create-threat-intel-set", "--detector-id", did, "--name", "bad",
                      "--format", "TXT", "--location", file_uri(path), "--activate")["ThreatIntelSetId"]
    deadline = time.monotonic() + WAIT_S
    while aws_json(ep, account, "guardduty", "get-threat-intel-set", "--detector-id", did,
                   "--threat-intel-set-id", set_id)["Status"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    listed = aws_json(ep, account, "guardduty", "list-threat-intel-sets", "--detector-id", did)
    assert listed["ThreatIntelSetIds"] == [set_id]
    run_aws(ep, account, "guardduty", "update-threat-intel-set", "--detector-id", did,
            "--threat-intel-set-id", set_id, "--name", "renamed")
    got = aws_json(ep, account, "guardduty", "get-threat-intel-set", "--detector-id", did,
                   "--threat-intel-set-id", set_id)
    assert got["Name"] == "renamed"
    run_aws(ep, account, "guardduty", "delete-threat-intel-set", "--detector-id", did,
            "--threat-intel-set-id", set_id)
    unknown = run_aws(ep, account, "guardduty", "get-threat-intel-set", "--detector-id", did,
                      "--threat-intel-set-id", "0" * 32, check=False)
    assert unknown.returncode != 0 and THREAT_NOT_OWNED in unknown.stderr, unknown.stderr


# ---- quotas -------------------------------------------------------------------------------------

def test_one_ipset_and_six_threat_lists_per_detector(lgd, ldid, intel_dir):
    good = file_uri(write_list(intel_dir, "192.0.2.1\n"))
    bad = file_uri(write_list(intel_dir, "nothing usable here\n"))
    ipset = create_ipset(lgd, ldid, good, activate=False)
    with pytest.raises(ClientError) as err:
        create_ipset(lgd, ldid, good, name="second")
    assert_client_error(err.value, 400, "BadRequestException", "IPSet")

    threats = [create_threat(lgd, ldid, good, activate=False) for _ in range(4)]
    threats.append(create_threat(lgd, ldid, good, activate=True))
    errored = create_threat(lgd, ldid, bad, activate=True)
    threats.append(errored)
    assert wait_status(lgd, ldid, "threatintelset", errored, "ERROR", "ACTIVE")["Status"] == "ERROR"
    # INACTIVE, ACTIVE and ERROR lists all count: the seventh is refused.
    with pytest.raises(ClientError) as err:
        create_threat(lgd, ldid, good)
    assert_client_error(err.value, 400, "BadRequestException", "6")
    # Deleting one makes room.
    lgd.delete_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=threats[0])
    create_threat(lgd, ldid, good, activate=False)
    lgd.delete_ip_set(DetectorId=ldid, IpSetId=ipset)
    create_ipset(lgd, ldid, good, name="replacement")


def test_entry_and_size_limits_end_in_error(lgd, ldid, intel_dir):
    at_limit = create_ipset(lgd, ldid, file_uri(write_list(intel_dir, ips(2000))))
    assert wait_status(lgd, ldid, "ipset", at_limit, "ACTIVE", "ERROR")["Status"] == "ACTIVE"
    lgd.delete_ip_set(DetectorId=ldid, IpSetId=at_limit)
    over = create_ipset(lgd, ldid, file_uri(write_list(intel_dir, ips(2001))), name="over")
    assert wait_status(lgd, ldid, "ipset", over, "ACTIVE", "ERROR")["Status"] == "ERROR"

    over_threat = create_threat(lgd, ldid, file_uri(write_list(intel_dir, ips(250_001))))
    assert wait_status(lgd, ldid, "threatintelset", over_threat, "ACTIVE", "ERROR")["Status"] == "ERROR"
    lgd.delete_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=over_threat)

    # 35 MB + 1 byte: refused while reading, before parsing.
    big = intel_dir / f"big-{secrets.token_hex(4)}.txt"
    with open(big, "wb") as f:
        f.write(b"192.0.2.1\n")
        f.truncate(35 * 1024 * 1024 + 1)
    too_big = create_threat(lgd, ldid, file_uri(big))
    assert wait_status(lgd, ldid, "threatintelset", too_big, "ACTIVE", "ERROR")["Status"] == "ERROR"
    big.unlink()


def test_threat_list_at_the_entry_limit_activates(lgd, ldid, intel_dir):
    full = create_threat(lgd, ldid, file_uri(write_list(intel_dir, ips(250_000))))
    assert wait_status(lgd, ldid, "threatintelset", full, "ACTIVE", "ERROR")["Status"] == "ACTIVE"


# ---- malformed files ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,content", [
    ("TXT", "SECRET-not-an-address\nanother secret line\n"),
    ("STIX", "SECRET plain text, not a STIX package\n"),
    ("OTX_CSV", b"\x1f\x8b\x08\x00SECRET-binary"),  # gzip, not text
])
def test_malformed_files_end_in_error(lgd, ldid, intel_dir, lists_server, fmt, content):
    set_id = create_threat(lgd, ldid, file_uri(write_list(intel_dir, content)), fmt=fmt)
    assert wait_status(lgd, ldid, "threatintelset", set_id, "ACTIVE", "ERROR")["Status"] == "ERROR"
    # The reason is logged with the list id, never the file's content.
    deadline = time.monotonic() + 5
    while True:
        log = "".join(p.read_text(errors="replace") for p in lists_server.log_dir.glob("serve-*.log"))
        lines = [line for line in log.splitlines() if set_id in line and "activation failed" in line]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert lines, "no log line for the failed activation"
    assert "SECRET" not in log


def test_missing_file_ends_in_error(lgd, ldid, intel_dir):
    set_id = create_threat(lgd, ldid, file_uri(intel_dir / "not-there-yet.txt"))
    assert wait_status(lgd, ldid, "threatintelset", set_id, "ACTIVE", "ERROR")["Status"] == "ERROR"


# ---- locations ----------------------------------------------------------------------------------

def refused_locations(intel_dir: Path, tmp_path: Path, http_port: int) -> list[str]:
    outside = tmp_path / "outside.txt"
    outside.write_text("192.0.2.1\n")
    link = intel_dir / f"escape-{secrets.token_hex(4)}.txt"
    os.symlink(outside, link)
    return [
        file_uri(outside),                                          # outside the intel dir
        f"file://{intel_dir}/../{tmp_path.name}/outside.txt",       # '..' escape
        file_uri(link),                                             # symlink out
        f"http://127.0.0.2:{http_port}/list.txt",                   # host not allowed
        f"http://127.0.0.1:{http_port + 1 if http_port < 65535 else 1}/list.txt",  # port not allowed
        f"https://127.0.0.1:{http_port}/list.txt",                  # https: no TLS in this build
        "ftp://127.0.0.1/list.txt",                                 # unsupported scheme
        "list.txt",                                                 # no scheme
    ]


def test_refused_locations_are_400_at_create_and_update(lgd, ldid, intel_dir, tmp_path, http_feed):
    good = file_uri(write_list(intel_dir, "192.0.2.1\n"))
    existing = create_threat(lgd, ldid, good, activate=False)
    for location in refused_locations(intel_dir, tmp_path, http_feed):
        with pytest.raises(ClientError) as err:
            create_threat(lgd, ldid, location)
        assert_client_error(err.value, 400, "BadRequestException", LOCATION_REFUSED)
        with pytest.raises(ClientError) as err:
            lgd.update_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=existing, Location=location)
        assert_client_error(err.value, 400, "BadRequestException", LOCATION_REFUSED)
        with pytest.raises(ClientError) as err:
            create_ipset(lgd, ldid, location)
        assert_client_error(err.value, 400, "BadRequestException", LOCATION_REFUSED)
    assert lgd.list_threat_intel_sets(DetectorId=ldid)["ThreatIntelSetIds"] == [existing]
    assert get_set(lgd, ldid, "threatintelset", existing)["Location"] == good


def test_without_s3_endpoint_or_intel_dir_such_locations_are_refused(gd, detector_id):
    """The shared server has neither --s3-endpoint nor --intel-dir."""
    for location in ("s3://some-bucket/list.txt", "https://s3.amazonaws.com/some-bucket/list.txt",
                     "https://some-bucket.s3.us-west-2.amazonaws.com/list.txt", "file:///tmp/list.txt"):
        with pytest.raises(ClientError) as err:
            create_threat(gd, detector_id, location)
        assert_client_error(err.value, 400, "BadRequestException", LOCATION_REFUSED)
    with pytest.raises(ClientError) as err:
        create_threat(gd, detector_id, "s3://some-bucket/list.txt")
    assert "--s3-endpoint" in err.value.response["Error"]["Message"]


def test_http_location_on_an_allowed_host(lgd, ldid, feed_dir, http_feed):
    path = write_list(feed_dir, "203.0.113.77\n")
    set_id = create_threat(lgd, ldid, f"http://127.0.0.1:{http_feed}/{path.name}")
    assert wait_status(lgd, ldid, "threatintelset", set_id, "ACTIVE", "ERROR")["Status"] == "ACTIVE"
    missing = create_threat(lgd, ldid, f"http://127.0.0.1:{http_feed}/missing.txt")
    assert wait_status(lgd, ldid, "threatintelset", missing, "ACTIVE", "ERROR")["Status"] == "ERROR"


def test_s3_locations_in_every_form(lgd, ldid, moto_s3):
    s3 = moto_s3.client()
    bucket = f"vedette-lists-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="intel/bad ips.txt", Body=b"198.51.100.9\n")
    forms = [
        f"s3://{bucket}/intel/bad ips.txt",
        f"https://s3.amazonaws.com/{bucket}/intel/bad%20ips.txt",
        f"https://s3-us-west-2.amazonaws.com/{bucket}/intel/bad%20ips.txt",
        f"https://s3.us-west-2.amazonaws.com/{bucket}/intel/bad%20ips.txt",
        f"https://{bucket}.s3.amazonaws.com/intel/bad%20ips.txt",
        f"http://{bucket}.s3-us-west-2.amazonaws.com/intel/bad%20ips.txt",
    ]
    created = []
    for i, location in enumerate(forms):
        if len(created) == 6:
            lgd.delete_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=created.pop(0))
        set_id = create_threat(lgd, ldid, location, name=f"s3-{i}")
        got = wait_status(lgd, ldid, "threatintelset", set_id, "ACTIVE", "ERROR")
        assert got["Status"] == "ACTIVE", location
        assert got["Location"] == location
        created.append(set_id)
    lgd.delete_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=created.pop(0))
    missing = create_threat(lgd, ldid, f"s3://{bucket}/intel/absent.txt")
    assert wait_status(lgd, ldid, "threatintelset", missing, "ACTIVE", "ERROR")["Status"] == "ERROR"


# ---- idempotency, pagination, tags, ownership --------------------------------------------------

def test_client_token_makes_create_idempotent(lgd, ldid, intel_dir):
    location = file_uri(write_list(intel_dir, "192.0.2.1\n"))
    first = create_ipset(lgd, ldid, location, ClientToken="retry-token-1")
    assert create_ipset(lgd, ldid, location, ClientToken="retry-token-1") == first
    with pytest.raises(ClientError) as err:
        create_ipset(lgd, ldid, location, ClientToken="another-token")
    assert_client_error(err.value, 400, "BadRequestException")
    t1 = create_threat(lgd, ldid, location, ClientToken="threat-token")
    assert create_threat(lgd, ldid, location, ClientToken="threat-token") == t1
    assert lgd.list_threat_intel_sets(DetectorId=ldid)["ThreatIntelSetIds"] == [t1]


def test_pagination(lgd, ldid, intel_dir, lists_server, account):
    location = file_uri(write_list(intel_dir, "192.0.2.1\n"))
    created = sorted(create_threat(lgd, ldid, location, activate=False) for _ in range(6))
    pages = list(lgd.get_paginator("list_threat_intel_sets").paginate(
        DetectorId=ldid, PaginationConfig={"PageSize": 4}))
    assert [len(p["ThreatIntelSetIds"]) for p in pages] == [4, 2]
    assert sorted(i for p in pages for i in p["ThreatIntelSetIds"]) == created
    assert "NextToken" not in pages[-1]
    for bad in ("0", "51"):
        resp = raw_request(lists_server.endpoint, "GET", f"/detector/{ldid}/threatintelset", account=account,
                           query={"maxResults": bad})
        assert_raw_error(resp, 400, "BadRequestException")
    resp = raw_request(lists_server.endpoint, "GET", f"/detector/{ldid}/threatintelset", account=account,
                       query={"nextToken": "not-a-token"})
    assert_raw_error(resp, 400, "BadRequestException")


def test_tags_on_list_arns(lgd, ldid, intel_dir, account):
    location = file_uri(write_list(intel_dir, "192.0.2.1\n"))
    ipset = create_ipset(lgd, ldid, location, Tags={"a": "1"})
    threat = create_threat(lgd, ldid, location, Tags={"b": "2"})
    for kind, set_id, tags in (("ipset", ipset, {"a": "1"}), ("threatintelset", threat, {"b": "2"})):
        arn = f"{detector_arn(account, ldid)}/{kind}/{set_id}"
        assert lgd.list_tags_for_resource(ResourceArn=arn)["Tags"] == tags
        lgd.tag_resource(ResourceArn=arn, Tags={"env": "prod"})
        assert get_set(lgd, ldid, kind, set_id)["Tags"] == {**tags, "env": "prod"}
        lgd.untag_resource(ResourceArn=arn, TagKeys=list(tags))
        assert lgd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "prod"}
    unknown = f"{detector_arn(account, ldid)}/ipset/{'0' * 32}"
    with pytest.raises(ClientError) as err:
        lgd.tag_resource(ResourceArn=unknown, Tags={"x": "y"})
    assert_client_error(err.value, 400, "BadRequestException", IPSET_NOT_OWNED)


def test_another_accounts_detector(lgd, ldid, lists_server, other_account, intel_dir):
    location = file_uri(write_list(intel_dir, "192.0.2.1\n"))
    set_id = create_threat(lgd, ldid, location, activate=False)
    other = watch(guardduty_client(lists_server.endpoint, other_account, REGION))
    other.create_detector(Enable=True)
    calls = [
        lambda: create_threat(other, ldid, location),
        lambda: other.get_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=set_id),
        lambda: other.list_threat_intel_sets(DetectorId=ldid),
        lambda: other.update_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=set_id, Activate=True),
        lambda: other.delete_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=set_id),
        lambda: other.list_ip_sets(DetectorId=ldid),
    ]
    for call in calls:
        with pytest.raises(ClientError) as err:
            call()
        assert_client_error(err.value, 400, "BadRequestException", NOT_OWNED)
    assert get_set(lgd, ldid, "threatintelset", set_id)["Status"] == "INACTIVE"


def test_unknown_ids_and_invalid_input(lgd, ldid, intel_dir):
    for call, message in [
        (lambda: lgd.get_ip_set(DetectorId=ldid, IpSetId="0" * 32), IPSET_NOT_OWNED),
        (lambda: lgd.update_ip_set(DetectorId=ldid, IpSetId="0" * 32, Activate=True), IPSET_NOT_OWNED),
        (lambda: lgd.delete_ip_set(DetectorId=ldid, IpSetId="0" * 32), IPSET_NOT_OWNED),
        (lambda: lgd.get_threat_intel_set(DetectorId=ldid, ThreatIntelSetId="0" * 32), THREAT_NOT_OWNED),
        (lambda: lgd.get_threat_intel_set(DetectorId=ldid, ThreatIntelSetId="not-an-id!"), THREAT_NOT_OWNED),
    ]:
        with pytest.raises(ClientError) as err:
            call()
        assert_client_error(err.value, 400, "BadRequestException", message)
    # An IPSet id is not a ThreatIntelSet id.
    ipset = create_ipset(lgd, ldid, file_uri(write_list(intel_dir, "192.0.2.1\n")), activate=False)
    with pytest.raises(ClientError) as err:
        lgd.get_threat_intel_set(DetectorId=ldid, ThreatIntelSetId=ipset)
    assert_client_error(err.value, 400, "BadRequestException", THREAT_NOT_OWNED)
    # IPSet names: letters, digits, whitespace, '-', '_'.
    with pytest.raises(ClientError) as err:
        create_ipset(lgd, ldid, file_uri(write_list(intel_dir, "192.0.2.1\n")), name="bad/name")
    assert_client_error(err.value, 400, "BadRequestException")


@pytest.mark.no_schema_check
def test_model_constraints_are_checked_by_the_server(lists_server, account, intel_dir):
    """Requests an SDK would refuse client-side: the server still answers 400."""
    did = guardduty_client(lists_server.endpoint, account, REGION).create_detector(Enable=True)["DetectorId"]
    location = file_uri(write_list(intel_dir, "192.0.2.1\n"))
    for body in (
        {"name": "x", "format": "CSV", "location": location, "activate": True},    # format not in the enum
        {"name": "x", "format": "TXT", "location": location},                      # activate missing
        {"name": "", "format": "TXT", "location": location, "activate": True},     # name too short
        {"name": "x", "format": "TXT", "location": "f" * 301, "activate": True},   # location too long
        {"name": "x", "format": "TXT", "location": location, "activate": True, "expectedBucketOwner": "1"},
    ):
        resp = raw_request(lists_server.endpoint, "POST", f"/detector/{did}/threatintelset", body, account=account)
        assert_raw_error(resp, 400, "BadRequestException")
