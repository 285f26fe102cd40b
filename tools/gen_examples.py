#!/usr/bin/env python3
"""Writes the bundled example VPC flow log, Route 53 Resolver query log and instance inventory
(examples/vpc, examples/inventory) that scripts/demo.sh ingests beside examples/cloudtrail.
Deterministic: re-running it rewrites the same bytes (gzip mtime 0). Run from the repo root."""
import gzip
import json
import random
from pathlib import Path

ACCOUNT = "123456789012"
REGION = "us-east-1"
VPC = "vpc-0example0vedette1"
SUBNET = "subnet-0example0public1"
T0 = 1_795_597_200  # 2026-11-25T09:00:00Z
WEB = {"id": "i-0example0web000001", "eni": "eni-0example0web00001", "ip": "10.0.1.10", "public": "54.210.10.20"}
BUILD = {"id": "i-0example0build00002", "eni": "eni-0example0build0002", "ip": "10.0.1.20", "public": None}
ATTACKER = "45.95.147.10"      # brute-forces SSH on the web server
SCANNED = "93.184.216.34"     # the build host scans this one's ports
rng = random.Random(20261125)


def gz(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        out.write(text.encode())


def flow(eni, src, dst, sport, dport, proto, packets, bytes_, start, action="ACCEPT"):
    return f"2 {ACCOUNT} {eni} {src} {dst} {sport} {dport} {proto} {packets} {bytes_} {start} {start + 10} {action} OK"


def flow_log() -> str:
    lines = ["version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"]
    # Ordinary traffic: HTTPS clients of the web server, its database and package updates.
    for i in range(300):
        t = T0 + i * 6
        client = f"{rng.choice([3, 18, 34, 52, 64, 99])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        lines.append(flow(WEB["eni"], client, WEB["ip"], rng.randrange(32768, 61000), 443, 6, rng.randrange(8, 60), rng.randrange(4000, 90000), t))
        lines.append(flow(WEB["eni"], WEB["ip"], "10.0.2.30", rng.randrange(32768, 61000), 5432, 6, rng.randrange(10, 40), rng.randrange(2000, 20000), t + 1))
    for i in range(20):
        lines.append(flow(BUILD["eni"], BUILD["ip"], "151.101.2.132", 40000 + i, 443, 6, 900, 1_200_000, T0 + 60 * i))
    # SSH brute force against the web server: 40 short connections in 8 minutes.
    for i in range(40):
        lines.append(flow(WEB["eni"], ATTACKER, WEB["ip"], 50000 + i, 22, 6, 5, 300, T0 + 1200 + 12 * i))
    # The build host scans 60 ports of one outside host (SYNs, mostly rejected there).
    for i, port in enumerate(range(1000, 1060)):
        lines.append(flow(BUILD["eni"], BUILD["ip"], SCANNED, 45000 + i, port, 6, 1, 44, T0 + 2400 + i))
    return "\n".join(lines) + "\n"


def query(instance, name, qtype="A", answers=(), t=0, rcode="NOERROR"):
    return json.dumps({
        "version": "1.100000", "account_id": ACCOUNT, "region": REGION, "vpc_id": VPC,
        "query_timestamp": f"2026-11-25T{9 + t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z",
        "query_name": name, "query_type": qtype, "query_class": "IN", "rcode": rcode,
        "answers": [{"Rdata": a, "Type": qtype, "Class": "IN"} for a in answers],
        "srcaddr": instance["ip"], "srcport": str(rng.randrange(32768, 61000)), "transport": "UDP",
        "srcids": {"instance": instance["id"]},
    })


def query_log() -> str:
    benign = ["sqs.us-east-1.amazonaws.com.", "s3.us-east-1.amazonaws.com.", "deb.debian.org.", "github.com.",
              "d1a2b3c4d5e6f7.cloudfront.net.", "api.stripe.com.", "_dmarc.example.org."]
    lines = [query(WEB, rng.choice(benign), t=i * 7) for i in range(200)]
    # AWS's documented test domain for Backdoor:EC2/C&CActivity.B!DNS.
    lines.append(query(BUILD, "guarddutyc2activityb.com.", answers=["198.51.100.7"], t=1500))
    # A name that answers with the instance metadata address: MetadataDNSRebind.
    lines.append(query(WEB, "metadata.rebind.example-attacker.net.", answers=["169.254.169.254"], t=1600))
    return "\n".join(lines) + "\n"


def inventory() -> dict:
    def instance(spec, itype, name, role):
        iface = {"NetworkInterfaceId": spec["eni"], "PrivateIpAddress": spec["ip"], "PrivateDnsName": f"ip-{spec['ip'].replace('.', '-')}.ec2.internal",
                 "SubnetId": SUBNET, "VpcId": VPC,
                 "Groups": [{"GroupId": "sg-0example0web0001" if role == "web" else "sg-0example0build01", "GroupName": f"{role}-sg"}],
                 "PrivateIpAddresses": [{"PrivateIpAddress": spec["ip"], "Primary": True}]}
        if spec["public"]:
            iface["Association"] = {"PublicIp": spec["public"], "PublicDnsName": f"ec2-{spec['public'].replace('.', '-')}.compute-1.amazonaws.com"}
        return {"InstanceId": spec["id"], "InstanceType": itype, "ImageId": "ami-0example0al2023", "LaunchTime": "2026-11-01T08:00:00+00:00",
                "State": {"Code": 16, "Name": "running"}, "Placement": {"AvailabilityZone": "us-east-1a"},
                "IamInstanceProfile": {"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{role}", "Id": "AIPAEXAMPLE0" + role.upper()},
                "Tags": [{"Key": "Name", "Value": name}, {"Key": "team", "Value": "platform"}],
                "NetworkInterfaces": [iface], "VpcId": VPC, "SubnetId": SUBNET, "PrivateIpAddress": spec["ip"]}
    return {"Reservations": [{"ReservationId": "r-0example01", "OwnerId": ACCOUNT,
                              "Instances": [instance(WEB, "t3.medium", "web-1", "web"), instance(BUILD, "c6i.large", "build-1", "build")]}]}


def main() -> None:
    root = Path("examples")
    day = "2026/11/25"
    gz(root / f"vpc/AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}/{day}/{ACCOUNT}_vpcflowlogs_{REGION}_fl-0example0vedette_20261125T0900Z_5f1c0a2e.log.gz", flow_log())
    gz(root / f"vpc/AWSLogs/{ACCOUNT}/vpcdnsquerylogs/{VPC}/{day}/{ACCOUNT}_vpcdnsquerylogs_{VPC}_20261125T0900Z_8e3d7b41.log.gz", query_log())
    out = root / "inventory/describe-instances.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(inventory(), indent=2) + "\n")


if __name__ == "__main__":
    main()
