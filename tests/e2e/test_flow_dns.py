"""VPC flow logs and Route 53 Resolver query logs end to end: files handed to
`vedette ingest` (auto-detected beside CloudTrail) into a running server's data dir, findings read
back with the aws CLI: resource Instance and the NETWORK_CONNECTION / DNS_REQUEST action shapes."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from aws_cli import aws_json
from gdutil import list_all_ids
from vedette_harness import REGION, run_vedette

ATTACKER = "45.95.147.10"
T0 = 1_709_287_200  # 2024-03-01T10:00:00Z


def ssh_attempts(account_id: str, n: int) -> str:
    """n accepted SSH attempts (few packets each) on 10.0.0.5, 20 s apart: default v2 order."""
    return "".join(
        f"2 {account_id} eni-0a1b2c3d {ATTACKER} 10.0.0.5 {40000 + i} 22 6 4 240 {T0 + 20 * i} {T0 + 20 * i + 10} ACCEPT OK\n"
        for i in range(n))


def query(account_id: str, name: str) -> str:
    return json.dumps({
        "version": "1.100000", "account_id": account_id, "region": REGION, "vpc_id": "vpc-7example",
        "query_timestamp": "2024-03-01T10:00:05Z", "query_name": name, "query_type": "A", "query_class": "IN",
        "rcode": "NOERROR", "answers": [], "srcaddr": "10.0.0.5", "srcport": "51298", "transport": "UDP",
        "srcids": {"instance": "i-0abc1234"},
    }) + "\n"


def test_flow_and_query_logs_raise_instance_findings_seen_through_the_cli(server, gd, detector_id, account,
                                                                          tmp_path: Path):
    flow = tmp_path / "flow.log.gz"
    flow.write_bytes(gzip.compress(ssh_attempts(account.account_id, 25).encode()))
    dns = tmp_path / "resolver.log"
    dns.write_text(query(account.account_id, "amazon.com.") + query(account.account_id, "guarddutyc2activityb.com."))
    run_vedette("ingest", "--data-dir", str(server.data_dir), "--flow-region", REGION, str(flow), str(dns))

    ids = list_all_ids(gd, detector_id)
    found = aws_json(server.endpoint, account, "guardduty", "get-findings", "--detector-id", detector_id,
                     "--finding-ids", *ids)["Findings"]
    by_type = {f["Type"]: f for f in found}
    assert sorted(by_type) == ["Backdoor:EC2/C&CActivity.B!DNS", "UnauthorizedAccess:EC2/SSHBruteForce"]

    ssh = by_type["UnauthorizedAccess:EC2/SSHBruteForce"]
    assert ssh["Resource"]["ResourceType"] == "Instance"
    assert ssh["Resource"]["InstanceDetails"]["NetworkInterfaces"][0]["NetworkInterfaceId"] == "eni-0a1b2c3d"
    action = ssh["Service"]["Action"]
    assert action["ActionType"] == "NETWORK_CONNECTION"
    connection = action["NetworkConnectionAction"]
    assert connection["ConnectionDirection"] == "INBOUND"
    assert connection["LocalPortDetails"]["Port"] == 22
    assert connection["RemoteIpDetails"]["IpAddressV4"] == ATTACKER
    assert ssh["Service"]["ResourceRole"] == "TARGET"

    c2 = by_type["Backdoor:EC2/C&CActivity.B!DNS"]
    assert c2["Resource"]["ResourceType"] == "Instance"
    assert c2["Resource"]["InstanceDetails"]["InstanceId"] == "i-0abc1234"
    assert c2["Service"]["Action"]["ActionType"] == "DNS_REQUEST"
    assert c2["Service"]["Action"]["DnsRequestAction"]["Domain"] == "guarddutyc2activityb.com"
