"""The bundled examples as scripts/demo.sh ingests them (its own `vedette ingest` arguments, read from
the script so the two cannot drift apart), queried with the aws CLI the way README.md shows: the
CloudTrail findings with the failed call's ErrorCode, and EC2 findings from the VPC flow log and the
Resolver query log carrying the example inventory's instance details."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from aws_cli import aws_json
from vedette_harness import Account, VedetteServer, run_vedette

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_ACCOUNT = "123456789012"


def demo_ingest_args(data_dir: Path) -> list[str]:
    """The arguments scripts/demo.sh gives `vedette ingest`, with the data dir replaced."""
    text = (REPO / "scripts/demo.sh").read_text().replace("\\\n", " ")
    line = next(l for l in text.splitlines() if "vedette ingest" in l and not l.lstrip().startswith("#"))
    words = shlex.split(line.replace('"$DATA_DIR"', str(data_dir)))
    args = words[words.index("ingest") + 1:]
    return [a if a.startswith("-") or Path(a).is_absolute() or a == str(data_dir) else str(REPO / a) for a in args]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, vedette_bin):
    root = tmp_path_factory.mktemp("demo")
    run_vedette("ingest", *demo_ingest_args(root / "data"))
    srv = VedetteServer(root / "data", root / "logs", auth="any").start()
    yield srv
    srv.stop()


def findings(server: VedetteServer) -> dict[str, dict]:
    anyone = Account("AKIAEXAMPLEANYONE001", "any-secret", "")
    detectors = aws_json(server.endpoint, anyone, "guardduty", "list-detectors")["DetectorIds"]
    assert len(detectors) == 1, detectors
    ids = aws_json(server.endpoint, anyone, "guardduty", "list-findings", "--detector-id", detectors[0])["FindingIds"]
    found = aws_json(server.endpoint, anyone, "guardduty", "get-findings", "--detector-id", detectors[0],
                     "--finding-ids", *ids)["Findings"]
    by_type = {f["Type"]: f for f in found}
    assert len(by_type) == len(found), "one finding per type in the examples"
    return by_type


def test_the_demo_examples_raise_cloudtrail_flow_and_dns_findings(demo):
    by_type = findings(demo)
    assert {f["AccountId"] for f in by_type.values()} == {EXAMPLE_ACCOUNT}
    # CloudTrail: the founding behaviour, a failed call's error code on the finding.
    root = by_type["Policy:IAMUser/RootCredentialUsage"]
    assert root["Service"]["Action"]["AwsApiCallAction"].get("ErrorCode") == "AccessDenied"

    # Flow log (default format; the Region comes from the S3 delivery key): SSH brute force
    # against the web server, a port scan by the build host.
    ssh = by_type["UnauthorizedAccess:EC2/SSHBruteForce"]
    assert ssh["Service"]["ResourceRole"] == "TARGET"
    connection = ssh["Service"]["Action"]["NetworkConnectionAction"]
    assert (connection["ConnectionDirection"], connection["LocalPortDetails"]["Port"]) == ("INBOUND", 22)
    assert connection["RemoteIpDetails"]["IpAddressV4"] == "45.95.147.10"
    web = ssh["Resource"]["InstanceDetails"]
    assert web["InstanceId"] == "i-0example0web000001" and web["InstanceType"] == "t3.medium"
    assert {"Key": "Name", "Value": "web-1"} in web["Tags"]
    assert web["NetworkInterfaces"][0]["PublicIp"] == "54.210.10.20"

    scan = by_type["Recon:EC2/Portscan"]
    assert scan["Service"]["ResourceRole"] == "ACTOR"
    assert scan["Service"]["Action"]["NetworkConnectionAction"]["ConnectionDirection"] == "OUTBOUND"
    assert scan["Resource"]["InstanceDetails"]["InstanceId"] == "i-0example0build00002"

    # Query log: AWS's test C&C domain and a metadata rebinding answer.
    c2 = by_type["Backdoor:EC2/C&CActivity.B!DNS"]
    assert c2["Service"]["Action"]["ActionType"] == "DNS_REQUEST"
    assert c2["Service"]["Action"]["DnsRequestAction"]["Domain"] == "guarddutyc2activityb.com"
    assert c2["Resource"]["InstanceDetails"]["InstanceId"] == "i-0example0build00002"
    rebind = by_type["UnauthorizedAccess:EC2/MetadataDNSRebind"]
    assert rebind["Resource"]["InstanceDetails"]["InstanceId"] == "i-0example0web000001"

    # The benign bulk (HTTPS clients, the database, package mirrors, AWS endpoints) raised nothing else.
    ec2 = sorted(t for t in by_type if ":EC2/" in t)
    assert ec2 == ["Backdoor:EC2/C&CActivity.B!DNS", "Recon:EC2/Portscan",
                   "UnauthorizedAccess:EC2/MetadataDNSRebind", "UnauthorizedAccess:EC2/SSHBruteForce"]
