"""Detection from threat intelligence end to end: a threat list and a
trusted list activated through the API of a running `vedette serve`, CloudTrail files ingested
with `vedette ingest` into its data dir, findings read back with boto3 and the aws CLI; operator
feeds and GeoIP databases (small .mmdb files built here with a writer library) given to
`vedette ingest` on the command line."""
from __future__ import annotations

import datetime
import hashlib
import json
import time
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

import cloudtrail_logs as ct
from aws_cli import aws_json
from conftest import watch
from gdutil import additional_info, get_findings, list_all_ids
from vedette_harness import REGION, VedetteServer, guardduty_client, run_vedette

# Public addresses (lists ignore private and documentation space).
THREAT_IP = "185.220.101.50"
TRUSTED_AND_THREAT_IP = "45.95.147.10"
CLEAN_IP = "81.2.69.142"
LATER_THREAT_IP = "92.118.39.20"
SYDNEY_IP = "1.128.0.9"
WAIT_S = 30.0


@pytest.fixture(scope="module")
def intel_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("intel-lists")


@pytest.fixture(scope="module")
def intel_server(tmp_path_factory, vedette_bin, credentials_file, intel_dir):
    root = tmp_path_factory.mktemp("serve-intel")
    srv = VedetteServer(root / "data", root / "logs", credentials=credentials_file, auth="sigv4",
                        extra_args=("--intel-dir", str(intel_dir))).start()
    yield srv
    srv.stop()


@pytest.fixture
def igd(intel_server, account):
    return watch(guardduty_client(intel_server.endpoint, account, REGION))


@pytest.fixture
def idid(igd) -> str:
    return igd.create_detector(Enable=True)["DetectorId"]


def write(directory: Path, name: str, lines: list[str]) -> Path:
    path = directory / name
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_active(get, **ids) -> dict:
    deadline = time.monotonic() + WAIT_S
    while True:
        got = get(**ids)
        if got["Status"] in ("ACTIVE", "ERROR") or time.monotonic() > deadline:
            assert got["Status"] == "ACTIVE", got
            return got
        time.sleep(0.1)


def ingest(server, *args):
    return run_vedette("ingest", "--data-dir", str(server.data_dir), *map(str, args))


def api(finding: dict) -> dict:
    return finding["Service"]["Action"]["AwsApiCallAction"]


def caller_ip(finding: dict) -> str:
    return api(finding)["RemoteIpDetails"]["IpAddressV4"]


def all_findings(gd, detector_id: str) -> list[dict]:
    return get_findings(gd, detector_id, list_all_ids(gd, detector_id))


def test_custom_threat_lists_and_the_trusted_list_through_the_api(intel_server, igd, idid, account, intel_dir, tmp_path):
    acct = account.account_id
    threat_file = write(intel_dir, f"threats-{idid}.txt", ["# e2e threat list", THREAT_IP, TRUSTED_AND_THREAT_IP, "185.220.100.0/22"])
    trusted_file = write(intel_dir, f"office-{idid}.txt", [TRUSTED_AND_THREAT_IP])
    threat_id = igd.create_threat_intel_set(DetectorId=idid, Name="e2e-threats", Format="TXT",
                                            Location=threat_file.as_uri(), Activate=True)["ThreatIntelSetId"]
    ipset_id = igd.create_ip_set(DetectorId=idid, Name="office", Format="TXT", Location=trusted_file.as_uri(),
                                 Activate=True)["IpSetId"]
    wait_active(igd.get_threat_intel_set, DetectorId=idid, ThreatIntelSetId=threat_id)
    wait_active(igd.get_ip_set, DetectorId=idid, IpSetId=ipset_id)

    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
    alice = ct.iam_user_identity(acct, "alice", ct.access_key())
    bob = ct.iam_user_identity(acct, "bob", ct.access_key())
    carol = ct.iam_user_identity(acct, "carol", ct.access_key())
    root_key = ct.access_key("ASIA")
    records = [
        ct.record(alice, base, "iam.amazonaws.com", "ListUsers", account=acct, ip=THREAT_IP, read_only=True),
        ct.record(bob, base + datetime.timedelta(minutes=1), "cloudtrail.amazonaws.com", "DeleteTrail", account=acct,
                  ip="185.220.101.77", error_code="AccessDenied", request={"name": "org-trail"}),
        # On both lists: the trusted list wins, and silences every finding of that IP.
        ct.record(carol, base + datetime.timedelta(minutes=2), "iam.amazonaws.com", "CreateUser", account=acct,
                  ip=TRUSTED_AND_THREAT_IP),
        ct.record(ct.root_identity(acct, ct.access_key("ASIA")), base + datetime.timedelta(minutes=3), "iam.amazonaws.com",
                  "CreateAccessKey", account=acct, ip=TRUSTED_AND_THREAT_IP),
        ct.record(ct.root_identity(acct, root_key), base + datetime.timedelta(minutes=4), "iam.amazonaws.com",
                  "CreateAccessKey", account=acct, ip=CLEAN_IP),
    ]
    ct.write_log_file(tmp_path, acct, records)
    ingest(intel_server, tmp_path / "AWSLogs")

    findings = all_findings(igd, idid)
    got = sorted((f["Type"], caller_ip(f), api(f).get("ErrorCode")) for f in findings)
    assert got == [
        ("Policy:IAMUser/RootCredentialUsage", CLEAN_IP, None),
        ("Recon:IAMUser/MaliciousIPCaller.Custom", THREAT_IP, None),
        ("UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom", "185.220.101.77", "AccessDenied"),
    ]
    assert all(caller_ip(f) != TRUSTED_AND_THREAT_IP for f in findings)
    sha = hashlib.sha256(threat_file.read_bytes()).hexdigest()
    for f in findings:
        if not f["Type"].endswith(".Custom"):
            continue
        assert additional_info(f)["threatListName"] == "e2e-threats"
        details = f["Service"]["Evidence"]["ThreatIntelligenceDetails"]
        assert details == [{"ThreatListName": "e2e-threats", "ThreatNames": [], "ThreatFileSha256": sha}]
        assert f["Resource"]["ResourceType"] == "AccessKey"
        assert f["Severity"] == 5.0

    # Filterable by the list name, and the aws CLI sees the same, ErrorCode included.
    listed = igd.list_findings(DetectorId=idid, FindingCriteria={
        "Criterion": {"service.additionalInfo.threatListName": {"Eq": ["e2e-threats"]}}})["FindingIds"]
    assert len(listed) == 2
    cli = aws_json(intel_server.endpoint, account, "guardduty", "get-findings", "--detector-id", idid,
                   "--finding-ids", *listed)["Findings"]
    by_type = {f["Type"]: f for f in cli}
    assert api(by_type["UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"])["ErrorCode"] == "AccessDenied"
    assert "ErrorCode" not in api(by_type["Recon:IAMUser/MaliciousIPCaller.Custom"])
    assert json.loads(by_type["Recon:IAMUser/MaliciousIPCaller.Custom"]["Service"]["AdditionalInfo"]["Value"])[
        "threatListName"] == "e2e-threats"

    # A changed list file takes effect only once re-activated, for events ingested after (docs/threat-lists.md#life-cycle).
    new_file = write(intel_dir, f"threats-v2-{idid}.txt", [LATER_THREAT_IP])
    igd.update_threat_intel_set(DetectorId=idid, ThreatIntelSetId=threat_id, Location=new_file.as_uri(), Activate=True)
    deadline = time.monotonic() + WAIT_S
    while igd.get_threat_intel_set(DetectorId=idid, ThreatIntelSetId=threat_id)["Status"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    dave = ct.iam_user_identity(acct, "dave", ct.access_key())
    erin = ct.iam_user_identity(acct, "erin", ct.access_key())
    later = tmp_path / "later"
    ct.write_log_file(later, acct, [
        ct.record(dave, base + datetime.timedelta(minutes=10), "ec2.amazonaws.com", "RunInstances", account=acct,
                  ip=LATER_THREAT_IP, error_code="Client.UnauthorizedOperation"),
        ct.record(erin, base + datetime.timedelta(minutes=11), "ec2.amazonaws.com", "RunInstances", account=acct, ip=THREAT_IP),
    ])
    ingest(intel_server, later / "AWSLogs")
    after = all_findings(igd, idid)
    new = [f for f in after if f["Id"] not in {g["Id"] for g in findings}]
    assert [(f["Type"], caller_ip(f), api(f).get("ErrorCode")) for f in new] == [
        ("UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom", LATER_THREAT_IP, "Client.UnauthorizedOperation")]
    new_sha = hashlib.sha256(new_file.read_bytes()).hexdigest()
    assert new[0]["Service"]["Evidence"]["ThreatIntelligenceDetails"][0]["ThreatFileSha256"] == new_sha


def city_database(path: Path) -> Path:
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-City", languages=["en"], description="e2e")
    writer.insert_network(IPSet(["81.2.69.0/24"]), {
        "city": {"names": {"en": "Paris"}}, "country": {"iso_code": "FR", "names": {"en": "France"}},
        "location": {"latitude": 48.8566, "longitude": 2.3522, "accuracy_radius": 20}})
    writer.insert_network(IPSet(["1.128.0.0/16"]), {
        "city": {"names": {"en": "Sydney"}}, "country": {"iso_code": "AU", "names": {"en": "Australia"}},
        "location": {"latitude": -33.8688, "longitude": 151.2093, "accuracy_radius": 20}})
    writer.to_db_file(str(path))
    return path


def asn_database(path: Path) -> Path:
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-ASN", languages=["en"], description="e2e")
    writer.insert_network(IPSet(["1.128.0.0/16"]), {"autonomous_system_number": 1221,
                                                    "autonomous_system_organization": "Telstra Corporation Ltd"})
    writer.to_db_file(str(path))
    return path


def console_login(identity: dict, when: datetime.datetime, ip: str, acct: str) -> dict:
    rec = ct.record(identity, when, "signin.amazonaws.com", "ConsoleLogin", account=acct, ip=ip,
                    user_agent="Mozilla/5.0 (X11; Linux x86_64)", response={"ConsoleLogin": "Success"})
    rec["eventType"] = "AwsConsoleSignIn"
    rec["additionalEventData"] = {"LoginTo": "https://console.aws.amazon.com/console/home", "MFAUsed": "Yes"}
    return rec


def test_feeds_and_geoip_given_to_vedette_ingest(intel_server, igd, idid, account, tmp_path):
    acct = account.account_id
    tor = write(tmp_path, "tor-exit-nodes.txt", ["# exits", THREAT_IP])
    city, asn = city_database(tmp_path / "city.mmdb"), asn_database(tmp_path / "asn.mmdb")
    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=3)
    alice = ct.iam_user_identity(acct, "alice", ct.access_key())
    del alice["accessKeyId"]  # console sign-ins carry no access key
    frank = ct.iam_user_identity(acct, "frank", ct.access_key())
    logs = tmp_path / "logs"
    ct.write_log_file(logs, acct, [
        console_login(alice, base, CLEAN_IP, acct),
        ct.record(frank, base + datetime.timedelta(minutes=5), "ec2.amazonaws.com", "DescribeInstances", account=acct,
                  ip=THREAT_IP, read_only=True),
    ], when=base)
    # Sydney an hour after Paris, in a later file.
    ct.write_log_file(logs, acct, [console_login(alice, base + datetime.timedelta(hours=1), SYDNEY_IP, acct)],
                      when=base + datetime.timedelta(hours=1))
    ingest(intel_server, "--feed", f"tor={tor}", "--geoip-city", city, "--geoip-asn", asn, logs / "AWSLogs")

    by_type = {f["Type"]: f for f in all_findings(igd, idid)}
    assert set(by_type) == {"Recon:IAMUser/TorIPCaller", "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B"}
    tor_finding = by_type["Recon:IAMUser/TorIPCaller"]
    assert additional_info(tor_finding)["threatListName"] == "tor-exit-nodes.txt"
    assert "City" not in api(tor_finding)["RemoteIpDetails"], "not in the database: omitted"

    velocity = by_type["UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B"]
    remote = api(velocity)["RemoteIpDetails"]
    assert remote["IpAddressV4"] == SYDNEY_IP
    assert remote["City"] == {"CityName": "Sydney"}
    assert remote["Country"] == {"CountryCode": "AU", "CountryName": "Australia"}
    assert remote["GeoLocation"] == {"Lat": -33.8688, "Lon": 151.2093}
    assert remote["Organization"] == {"Asn": "1221", "AsnOrg": "Telstra Corporation Ltd"}
    assert api(velocity)["Api"] == "ConsoleLogin"
    assert velocity["Resource"]["AccessKeyDetails"]["UserName"] == "alice"
    assert "Paris" in velocity["Description"]
