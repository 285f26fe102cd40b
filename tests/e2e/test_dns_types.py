"""Every DNS finding type end to end (docs/findings.md#dns-types, docs/threat-lists.md, docs/logs.md#dns-query-logs):
Route 53 Resolver query logs written in each layout (JSON lines plain and gzipped, the S3 delivery tree, a CloudWatch Logs
export), handed to one `vedette ingest` run with operator domain feeds, into the data dir of a
running `vedette serve`; findings read back with the aws CLI and boto3.

One server and one ingest run for the module: each concern gets its own account (one detector
per account), so the run is shared and the assertions stay apart."""
from __future__ import annotations

import dataclasses
import datetime
import json
import random
import time
from pathlib import Path

import pytest

import dns_logs as dl
from aws_cli import aws_json
from conftest import watch
from gdutil import additional_info, get_findings, list_all_ids
from vedette_harness import REGION, Account, VedetteServer, guardduty_client, run_vedette

T0 = datetime.datetime(2024, 3, 1, 10, 0, tzinfo=datetime.timezone.utc)
VPC = "vpc-0e2e5d5a1b2c3d4e5"
HIGH, MEDIUM = 8.0, 5.0

# Public addresses (threat and trusted lists ignore private and documentation space).
THREAT_IP = "185.220.101.50"
TRUSTED_AND_THREAT_IP = "45.95.147.10"
SINKHOLE_IP = "146.112.61.104"
THREATLISTED_DOMAIN = "threatlisted-e2e-domain.com"

# Domain feeds (--domain-feed KIND=PATH): file name (= threatListName) and its entries. Entries
# below a registrable domain (`pool.minexmr-e2e.com`) and under a multi-label public suffix
# (`.co.uk`) check that matching follows the Public Suffix List, not string suffixes.
FEEDS = {
    "c2": ("e2e-c2-domains.txt", ["c2-e2e-vedette.com"]),
    "bitcoin": ("e2e-crypto-domains.txt", ["pool.minexmr-e2e.com"]),
    "blackhole": ("e2e-sinkholed-domains.txt", ["sinkholed-e2e.net"]),
    "droppoint": ("e2e-droppoints.txt", ["stolen-creds-e2e.org"]),
    "phishing": ("e2e-phishing.txt", ["secure-paypa1-e2e.co.uk"]),
    "driveby": ("e2e-driveby.txt", ["exploit-kit-e2e.info"]),
    "dga": ("e2e-known-dga.txt", ["qxkvzpwhtrnb.biz"]),
}
# Lines a feed may hold that must match nothing: bare public suffixes are refused (they would
# otherwise list every domain under them).
FEED_EXTRA_LINES = {"phishing": ["co.uk", "com"]}
SINKHOLE_FEED = "e2e-sinkhole-ips.txt"
# dnsRequestAction.domainWithSuffix of the feeds whose entry is not itself a registrable domain.
REGISTRABLE = {"bitcoin": "minexmr-e2e.com"}


def instance_id(n: int) -> str:
    return f"i-0e2e{n:013x}"


@dataclasses.dataclass
class Expect:
    """One finding the types account must hold."""
    type: str
    severity: float
    instance: str
    queries: list[dict]          # the queries that raise it, in time order
    count: int
    domain: str                  # dnsRequestAction.domain (the latest occurrence's)
    registrable: str
    threat_list: str | None = None  # the feed named in evidence / additionalInfo


@dataclasses.dataclass
class Case:
    type: str
    expects: list[Expect]
    noise: list[dict]            # near misses the same instances query: must add nothing


def q(account: str, instance: str, name: str, second: int, *, srcaddr: str = "10.0.1.10", **kw) -> dict:
    return dl.record(account, instance, name, T0 + datetime.timedelta(seconds=second), vpc_id=VPC,
                     srcaddr=srcaddr, srcport=40_000 + second % 20_000, **kw)


def feed_case(account: str, kind: str, ty: str, severity: float, base: int, matching: list[str],
              near_misses: list[str], *, last_kw: dict | None = None) -> Case:
    inst = instance_id(base)
    queries = [q(account, inst, name, base * 60 + i * 7, answers=[dl.answer("203.0.113.80")])
               for i, name in enumerate(matching)]
    if last_kw:
        queries[-1] = q(account, inst, matching[-1], base * 60 + (len(matching) - 1) * 7, **last_kw)
    noise = [q(account, inst, name, base * 60 + 1 + i * 5, rcode="NXDOMAIN") for i, name in enumerate(near_misses)]
    registrable = REGISTRABLE.get(kind, FEEDS[kind][1][0])
    return Case(ty, [Expect(ty, severity, inst, queries, len(queries), matching[-1], registrable, FEEDS[kind][0])],
                noise)


def generated_labels(n: int, seed: int, length: int = 18) -> list[str]:
    """Consonant-and-digit labels as DGAs make them (no vowels, long consonant runs)."""
    rng = random.Random(seed)
    return ["".join(rng.choice("bcdfghjklmnpqrstvwxz0123456789") for _ in range(length)) for _ in range(n)]


def exfil_names(n: int, seed: int, domain: str) -> list[str]:
    rng = random.Random(seed)
    b32, hexd = "abcdefghijklmnopqrstuvwxyz234567", "0123456789abcdef"
    return [f"{''.join(rng.choice(b32) for _ in range(48))}.{''.join(rng.choice(hexd) for _ in range(12))}.{domain}"
            for _ in range(n)]


def type_cases(account: str) -> list[Case]:
    """One case per DNS type; every instance is new to the account (aggregation is per instance)."""
    c2_entry = FEEDS["c2"][1][0]
    c2_first = instance_id(1)
    c2_second = instance_id(2)
    c2_queries = [q(account, c2_first, name, 60 + 11 * i)
                  for i, name in enumerate([f"beacon.{c2_entry}", c2_entry, f"a.b.cdn.{c2_entry}"])]
    c2_other = [q(account, c2_second, f"update.{c2_entry}", 90, srcaddr="10.0.1.11")]
    test_domain_instance = instance_id(3)
    test_domain = [q(account, test_domain_instance, "guarddutyc2activityb.com", 200),
                   q(account, test_domain_instance, "www.guarddutyc2activityb.com", 230, transport="TCP")]
    cases = [
        Case("Backdoor:EC2/C&CActivity.B!DNS", [
            Expect("Backdoor:EC2/C&CActivity.B!DNS", HIGH, c2_first, c2_queries, 3, f"a.b.cdn.{c2_entry}", c2_entry,
                   FEEDS["c2"][0]),
            Expect("Backdoor:EC2/C&CActivity.B!DNS", HIGH, c2_second, c2_other, 1, f"update.{c2_entry}", c2_entry,
                   FEEDS["c2"][0]),
            # AWS's documented test domain raises the type with no feed.
            Expect("Backdoor:EC2/C&CActivity.B!DNS", HIGH, test_domain_instance, test_domain, 2,
                   "www.guarddutyc2activityb.com", "guarddutyc2activityb.com"),
        ], [q(account, c2_first, name, 70 + i, rcode="NXDOMAIN")
            for i, name in enumerate([f"evil{c2_entry}", f"{c2_entry}.attacker-e2e.net", "vedette.com",
                                      "c2-e2e-vedette.co"])]),
        feed_case(account, "bitcoin", "CryptoCurrency:EC2/BitcoinTool.B!DNS", HIGH, 10,
                  ["eu.pool.minexmr-e2e.com", "pool.minexmr-e2e.com"],
                  ["minexmr-e2e.com", "www.minexmr-e2e.com", "xpool.minexmr-e2e.com"]),
        feed_case(account, "blackhole", "Trojan:EC2/BlackholeTraffic!DNS", MEDIUM, 20,
                  ["sinkholed-e2e.net", "mail.sinkholed-e2e.net"], ["notsinkholed-e2e.net"]),
        feed_case(account, "droppoint", "Trojan:EC2/DropPoint!DNS", MEDIUM, 30,
                  ["upload.stolen-creds-e2e.org", "stolen-creds-e2e.org"], ["stolen-creds-e2e.org.example.com"]),
        # The latest query went over TCP and a DNS Firewall rule blocked it.
        feed_case(account, "phishing", "Trojan:EC2/PhishingDomainRequest!DNS", HIGH, 40,
                  ["login.secure-paypa1-e2e.co.uk", "secure-paypa1-e2e.co.uk"], ["paypa1-e2e.co.uk", "co.uk"],
                  last_kw={"transport": "TCP", "firewall_action": "BLOCK", "rcode": "NXDOMAIN"}),
        feed_case(account, "driveby", "Trojan:EC2/DriveBySourceTraffic!DNS", HIGH, 50,
                  ["static.exploit-kit-e2e.info"], ["exploit-kit-e2e.com"]),
        feed_case(account, "dga", "Trojan:EC2/DGADomainRequest.C!DNS", HIGH, 60,
                  ["qxkvzpwhtrnb.biz", "www.qxkvzpwhtrnb.biz"], ["qxkvzpwhtrnb.com"]),
    ]
    # A black-hole IP feed (--feed blackhole=...): the answer, not the name, raises the type.
    sinkholed_answer = instance_id(21)
    answer_query = q(account, sinkholed_answer, "cdn-update-e2e.com", 20 * 60 + 30,
                     answers=[dl.answer("cdn-update-e2e.com.edgekey.example.", "CNAME"), dl.answer(SINKHOLE_IP)])
    cases[2].expects.append(Expect("Trojan:EC2/BlackholeTraffic!DNS", MEDIUM, sinkholed_answer, [answer_query], 1,
                                   "cdn-update-e2e.com", "cdn-update-e2e.com", SINKHOLE_FEED))

    # DGADomainRequest.B: six generated names in three minutes; it fires at the fifth distinct one.
    dga_instance = instance_id(70)
    dga_names = [f"{label}.{tld}" for label, tld in zip(generated_labels(6, 7), ["com", "net", "org", "info", "biz", "com"])]
    dga_queries = [q(account, dga_instance, name, 70 * 60 + 30 * i, rcode="NXDOMAIN") for i, name in enumerate(dga_names)]
    # A heuristic's occurrence is the query that completes its window; it is first seen at the
    # window's earliest counted query.
    cases.append(Case("Trojan:EC2/DGADomainRequest.B", [
        Expect("Trojan:EC2/DGADomainRequest.B", HIGH, dga_instance, [dga_queries[0], dga_queries[4]], 1,
               dga_names[4], dga_names[4])],
        dga_queries[1:4] + dga_queries[5:]))

    # DNSDataExfiltration: 45 long base32/hex subdomains of one domain in four minutes; fires at the 40th.
    exfil_instance = instance_id(80)
    names = exfil_names(45, 11, "t.exfil-e2e-tunnel.net")
    exfil = [q(account, exfil_instance, name, 80 * 60 + 5 * i, qtype="TXT") for i, name in enumerate(names)]
    cases.append(Case("Trojan:EC2/DNSDataExfiltration", [
        Expect("Trojan:EC2/DNSDataExfiltration", HIGH, exfil_instance, [exfil[0], exfil[39]], 1, names[39],
               "exfil-e2e-tunnel.net")],
        exfil[1:39] + exfil[40:]))

    # MetadataDNSRebind: a name answered with the metadata address, twice; AWS's own alias is not.
    rebind_instance = instance_id(90)
    rebind = [q(account, rebind_instance, "metadata.rebind-e2e.net", 90 * 60 + i * 40,
                answers=[dl.answer("169.254.169.254")]) for i in range(2)]
    cases.append(Case("UnauthorizedAccess:EC2/MetadataDNSRebind", [
        Expect("UnauthorizedAccess:EC2/MetadataDNSRebind", HIGH, rebind_instance, rebind, 2, "metadata.rebind-e2e.net",
               "rebind-e2e.net")],
        [q(account, rebind_instance, "instance-data.ec2.internal", 90 * 60 + 10, answers=[dl.answer("169.254.169.254")])]))
    return cases


def all_records(cases: list[Case]) -> list[dict]:
    recs = [r for c in cases for e in c.expects for r in e.queries] + [r for c in cases for r in c.noise]
    return sorted(recs, key=lambda r: (r["query_timestamp"], r["srcids"].get("instance", "")))


def rekey(records: list[dict], account: str, region: str = REGION) -> list[dict]:
    return [dict(r, account_id=account, region=region) for r in records]


# ---- a benign day ---------------------------------------------------------------------------

AWS_ENDPOINTS = ["ec2.us-east-1.amazonaws.com", "ssm.us-east-1.amazonaws.com", "ec2messages.us-east-1.amazonaws.com",
                 "ssmmessages.us-east-1.amazonaws.com", "sts.us-east-1.amazonaws.com", "sts.amazonaws.com",
                 "logs.us-east-1.amazonaws.com", "monitoring.us-east-1.amazonaws.com",
                 "dynamodb.us-east-1.amazonaws.com", "secretsmanager.us-east-1.amazonaws.com",
                 "kms.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com",
                 "api.ecr.us-east-1.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                 "prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com",
                 "my-app-assets-prod.s3.us-east-1.amazonaws.com", "my-app-assets-prod.s3.amazonaws.com",
                 "amazonlinux-2-repos-us-east-1.s3.dualstack.us-east-1.amazonaws.com",
                 "al2023-repos-us-east-1-de612dc2.s3.dualstack.us-east-1.amazonaws.com",
                 "internal-orders-api-alb-1234567890.us-east-1.elb.amazonaws.com",
                 "web-prod-nlb-0123456789abcdef.elb.us-east-1.amazonaws.com",
                 "orders-db.cluster-c9akciq32xyz.us-east-1.rds.amazonaws.com",
                 "orders-db.cluster-ro-c9akciq32xyz.us-east-1.rds.amazonaws.com",
                 "sessions.x1y2z3.ng.0001.use1.cache.amazonaws.com",
                 "b-1.orders-msk.a1b2c3.c2.kafka.us-east-1.amazonaws.com",
                 "search-orders-logs-4yq2ymcvvj2k3x7ljqzodmqpfe.us-east-1.es.amazonaws.com",
                 "vpce-0a1b2c3d4e5f67890-abcdefgh.s3.us-east-1.vpce.amazonaws.com",
                 "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com", "ec2-54-210-33-7.compute-1.amazonaws.com",
                 "instance-data.ec2.internal", "ip-10-0-1-10.ec2.internal"]
SAAS = ["rhythmxchange.com", "xn--80adxhks.xn--p1ai", "xn--j6w193g.com", "pixel.rubiconproject.com", "ib.adnxs.com",
        "googleads.g.doubleclick.net", "pagead2.googlesyndication.com", "sb.scorecardresearch.com",
        "api.github.com", "github.com", "objects.githubusercontent.com", "codeload.github.com", "hooks.slack.com",
        "api.datadoghq.com", "http-intake.logs.datadoghq.com", "o450123.ingest.sentry.io", "api.stripe.com",
        "login.microsoftonline.com", "www.googleapis.com", "oauth2.googleapis.com", "api.pagerduty.com",
        "acme-corp.atlassian.net", "api.twilio.com", "api.sendgrid.com", "acme.okta.com", "acme.my.salesforce.com"]
MIRRORS = ["us-east-1.ec2.archive.ubuntu.com", "security.ubuntu.com", "esm.ubuntu.com", "pypi.org",
           "files.pythonhosted.org", "registry.npmjs.org", "dl-cdn.alpinelinux.org", "deb.debian.org",
           "mirrors.fedoraproject.org", "cdn.amazonlinux.com", "repo1.maven.org", "proxy.golang.org",
           "index.crates.io", "static.crates.io", "rubygems.org", "download.docker.com",
           "production.cloudflare.docker.com", "registry-1.docker.io", "auth.docker.io", "ghcr.io",
           "pkg-containers.githubusercontent.com"]
TYPOS = ["gogle.com", "githbu.com", "amazn.com", "api.github.com.ec2.internal", "wpad.ec2.internal",
         "pypi.orgg", "registry.npmjs.og", "kubernetes.default.svc.cluster.local"]
DKIM = ["selector1._domainkey.acme-corp.com", "google._domainkey.acme-corp.com", "_dmarc.acme-corp.com",
        "acme-corp.com", "_spf.google.com", "s1._domainkey.sendgrid.net"]


def cdn_hosts(rng: random.Random, n: int) -> list[str]:
    """CDN names with platform-generated labels: CloudFront distributions, Akamai edges, Fastly."""
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = []
    for _ in range(n):
        pick = rng.randrange(4)
        if pick == 0:
            out.append("d" + "".join(rng.choice(alnum) for _ in range(13)) + ".cloudfront.net")
        elif pick == 1:
            out.append(f"e{rng.randrange(1, 99999)}.{rng.choice('abcdefg')}.akamaiedge.net")
        elif pick == 2:
            out.append(f"r{rng.randrange(1, 9)}---sn-{''.join(rng.choice(alnum) for _ in range(8))}.googlevideo.com")
        else:
            out.append(f"{''.join(rng.choice(alnum) for _ in range(10))}.global.ssl.fastly.net")
    return out


def reverse_v4(rng: random.Random) -> str:
    return f"{rng.randrange(1, 255)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 224)}.in-addr.arpa"


def reverse_v6(rng: random.Random) -> str:
    """A client in 2600:1f18::/32 (a web server resolving its visitors' names for its access log)."""
    nibbles = "2600" + "1f18" + "".join(rng.choice("0123456789abcdef") for _ in range(24))
    return ".".join(reversed(nibbles)) + ".ip6.arpa"


def benign_day(account: str, seed: int = 2024) -> list[dict]:
    """A day of ordinary lookups by three instances: a web server, a worker and a CI runner."""
    rng = random.Random(seed)
    instances = [(instance_id(0x100 + i), f"10.0.2.{10 + i}") for i in range(3)]
    out = []
    day = T0.replace(hour=0)
    for minute in range(0, 24 * 60, 2):
        for n, (inst, ip) in enumerate(instances):
            when = day + datetime.timedelta(minutes=minute, seconds=rng.randrange(120))
            pool = rng.choice([AWS_ENDPOINTS, AWS_ENDPOINTS, SAAS, MIRRORS if n == 2 else SAAS, DKIM, TYPOS])
            name = rng.choice(pool)
            qtype = "TXT" if pool is DKIM else rng.choice(["A", "A", "AAAA"])
            rcode = "NXDOMAIN" if pool is TYPOS else "NOERROR"
            answers = [] if rcode == "NXDOMAIN" else [dl.answer(f"52.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")]
            if name == "instance-data.ec2.internal":
                answers = [dl.answer("169.254.169.254")]
            out.append(dl.record(account, inst, name, when, vpc_id=VPC, srcaddr=ip, qtype=qtype, rcode=rcode,
                                 answers=answers, srcport=rng.randrange(1024, 65535)))
    bursts = [
        # The web server renders a CDN-heavy page set: 80 distinct edge names in five minutes.
        (instances[0], T0.replace(hour=9), [(name, "A") for name in cdn_hosts(rng, 80)]),
        # ...and resolves 100 IPv4 and 150 IPv6 visitors for its access log in ten minutes (a
        # reverse name spells an address in 32 hex nibbles: long, high-entropy labels under one
        # `<nibble>.ip6.arpa`, which is what a DNS tunnel looks like too).
        (instances[0], T0.replace(hour=12), [(reverse_v4(rng), "PTR") for _ in range(100)]
         + [(reverse_v6(rng), "PTR") for _ in range(150)]),
        # The CI runner installs packages: many mirror and S3 object hosts at once.
        (instances[2], T0.replace(hour=15), [(name, "A") for name in MIRRORS * 3]),
    ]
    for (inst, ip), start, names in bursts:
        for i, (name, qtype) in enumerate(names):
            out.append(dl.record(account, inst, name, start + datetime.timedelta(seconds=i * 600 // len(names)),
                                 vpc_id=VPC, srcaddr=ip, qtype=qtype, srcport=rng.randrange(1024, 65535),
                                 answers=[dl.answer("ec2-54-1-2-3.compute-1.amazonaws.com", "PTR")] if qtype == "PTR"
                                 else [dl.answer("13.224.10.20")]))
    # A query through an inbound Resolver endpoint names no instance: no EC2 finding for it.
    out.append(dl.record(account, None, "guarddutyc2activityb.com", T0, vpc_id=VPC, srcaddr="192.168.10.5",
                         resolver_endpoint="rslvr-in-0e2e0e2e0e2e0e2e"))
    return sorted(out, key=lambda r: r["query_timestamp"])


# ---- an instance inventory (`aws ec2 describe-instances` output) --------------------------------

INVENTORY = [
    # instance id, type, private IP, ENI, subnet, security group, tags
    (instance_id(0x400), "m5.large", "10.0.4.10", "eni-0e2e00000000004a0", "subnet-0e2e0000000004a0",
     ("sg-0e2e00000000004a0", "web-sg"), {"Name": "web-1", "team": "storefront"}),
    (instance_id(0x401), "c6g.xlarge", "10.0.4.11", "eni-0e2e00000000004a1", "subnet-0e2e0000000004a0",
     ("sg-0e2e00000000004a1", "batch-sg"), {"Name": "batch-1"}),
]


def describe_instances(account: str) -> dict:
    def instance(iid, itype, ip, eni, subnet, group, tags):
        return {
            "InstanceId": iid, "InstanceType": itype, "ImageId": "ami-0e2e0000000000400",
            "LaunchTime": "2024-02-20T07:30:00+00:00", "State": {"Code": 16, "Name": "running"},
            "Placement": {"AvailabilityZone": "us-east-1b"}, "PrivateIpAddress": ip, "SubnetId": subnet, "VpcId": VPC,
            "IamInstanceProfile": {"Arn": f"arn:aws:iam::{account}:instance-profile/{tags['Name']}",
                                   "Id": "AIPAE2E" + iid[-10:].upper()},
            "NetworkInterfaces": [{
                "NetworkInterfaceId": eni, "PrivateIpAddress": ip, "SubnetId": subnet, "VpcId": VPC,
                "PrivateDnsName": f"ip-{ip.replace('.', '-')}.ec2.internal",
                "PrivateIpAddresses": [{"PrivateIpAddress": ip, "Primary": True,
                                        "PrivateDnsName": f"ip-{ip.replace('.', '-')}.ec2.internal"}],
                "Groups": [{"GroupId": group[0], "GroupName": group[1]}]}],
            "SecurityGroups": [{"GroupId": group[0], "GroupName": group[1]}],
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }
    return {"Reservations": [{"ReservationId": f"r-{entry[0][2:]}", "OwnerId": account,
                              "Instances": [instance(*entry)]} for entry in INVENTORY]}


def inventory_queries(account: str) -> list[dict]:
    """The first instance names itself (srcids); the second's query carries no srcids (from an
    inbound endpoint's view, say) and is placed by its address within its VPC."""
    (first, _, first_ip, *_), (_, _, second_ip, *_) = INVENTORY
    return [q(account, first, "guarddutyc2activityb.com", 10, srcaddr=first_ip),
            q(account, None, "metadata.rebind-e2e.net", 20, srcaddr=second_ip, answers=[dl.answer("169.254.169.254")])]


# ---- the module's server and its one ingest run ----------------------------------------------

@dataclasses.dataclass
class World:
    server: VedetteServer
    accounts: dict[str, Account]
    detectors: dict[str, str]
    cases: list[Case]
    summary: dict


def wait_active(get, **ids) -> dict:
    deadline = time.monotonic() + 30
    while True:
        got = get(**ids)
        if got["Status"] in ("ACTIVE", "ERROR") or time.monotonic() > deadline:
            assert got["Status"] == "ACTIVE", got
            return got
        time.sleep(0.1)


def flow_controls(account: str) -> bytes:
    """Outbound flows from the lists account's instance: to a threat-list IP (raises
    MaliciousIPCaller.Custom: the list is active) and to an IP on both lists (raises nothing:
    the trusted list is active and wins)."""
    start = int(T0.timestamp())
    rows = ["account-id region instance-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action flow-direction"]
    for port, ip in ((51000, THREAT_IP), (51001, TRUSTED_AND_THREAT_IP)):
        rows.append(f"{account} {REGION} {instance_id(0x200)} eni-0e2e0e2e0e2e0e2e0 10.0.3.10 {ip} {port} 443 6 10 900 "
                    f"{start} {start + 30} ACCEPT egress")
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture(scope="module")
def world(tmp_path_factory, vedette_bin, credentials_file, account_pool) -> World:
    root = tmp_path_factory.mktemp("dns-types")
    intel_dir = root / "intel"
    intel_dir.mkdir()
    server = VedetteServer(root / "data", root / "logs", credentials=credentials_file, auth="sigv4",
                           extra_args=("--intel-dir", str(intel_dir))).start()
    try:
        yield build_world(server, root, intel_dir, account_pool)
    finally:
        server.stop()


def build_world(server: VedetteServer, root: Path, intel_dir: Path, account_pool) -> World:
    names = ["types", "lists", "benign", "whole", "split", "created", "inventory",
             *[f"layout-{x}" for x in dl.LAYOUTS]]
    accounts = {name: next(account_pool) for name in names}
    detectors = {}
    for name, acct in accounts.items():
        if name != "created":
            detectors[name] = guardduty_client(server.endpoint, acct).create_detector(Enable=True)["DetectorId"]

    # Lists never apply to DNS findings (docs/threat-lists.md#what-lists-apply-to): a threat list holding a domain
    # line and IPs, a trusted list holding one of them.
    lists_gd = guardduty_client(server.endpoint, accounts["lists"])
    threat_file = intel_dir / "e2e-threats.txt"
    threat_file.write_text(f"# e2e threat list\n{THREAT_IP}\n{TRUSTED_AND_THREAT_IP}\n{THREATLISTED_DOMAIN}\n")
    trusted_file = intel_dir / "e2e-trusted.txt"
    trusted_file.write_text(f"{TRUSTED_AND_THREAT_IP}\n")
    did = detectors["lists"]
    threat_id = lists_gd.create_threat_intel_set(DetectorId=did, Name="e2e-threats", Format="TXT",
                                                 Location=threat_file.as_uri(), Activate=True)["ThreatIntelSetId"]
    ipset_id = lists_gd.create_ip_set(DetectorId=did, Name="e2e-trusted", Format="TXT",
                                      Location=trusted_file.as_uri(), Activate=True)["IpSetId"]
    wait_active(lists_gd.get_threat_intel_set, DetectorId=did, ThreatIntelSetId=threat_id)
    wait_active(lists_gd.get_ip_set, DetectorId=did, IpSetId=ipset_id)

    feeds = root / "feeds"
    feeds.mkdir()
    feed_args = []
    for kind, (file_name, entries) in FEEDS.items():
        lines = entries + FEED_EXTRA_LINES.get(kind, [])
        (feeds / file_name).write_text(f"# e2e {kind} feed\n" + "".join(e + "\n" for e in lines))
        feed_args += ["--domain-feed", f"{kind}={feeds / file_name}"]
    (feeds / SINKHOLE_FEED).write_text(f"{SINKHOLE_IP}\n")
    feed_args += ["--feed", f"blackhole={feeds / SINKHOLE_FEED}"]

    logs = root / "logs-in"
    paths: list[Path] = []
    cases = type_cases(accounts["types"].account_id)
    malicious = all_records(cases)
    paths += dl.write_jsonl(logs / "types" / "resolver.log", malicious)

    lists_acct = accounts["lists"].account_id
    lists_instance = instance_id(0x200)
    lists_queries = [
        q(lists_acct, lists_instance, "guarddutyc2activityb.com", 10, answers=[dl.answer(TRUSTED_AND_THREAT_IP)]),
        q(lists_acct, lists_instance, THREATLISTED_DOMAIN, 20, answers=[dl.answer(THREAT_IP)]),
        q(lists_acct, lists_instance, f"www.{THREATLISTED_DOMAIN}", 30, answers=[dl.answer(THREAT_IP)]),
        q(lists_acct, lists_instance, "cdn.trusted-answer-e2e.com", 40, answers=[dl.answer(TRUSTED_AND_THREAT_IP)]),
    ]
    paths += dl.write_gzip(logs / "lists" / "resolver.log.gz", lists_queries)
    (logs / "lists" / "flows.log").write_bytes(flow_controls(lists_acct))
    paths.append(logs / "lists" / "flows.log")

    paths.append(dl.split_files(logs / "benign", benign_day(accounts["benign"].account_id), per_file=500))
    # A day holding every type among ordinary lookups, as one file and as 25 read in shuffled
    # order (queries reach detection hours out of order).
    day = sorted(malicious + benign_day("000000000000"), key=lambda r: r["query_timestamp"])
    paths += dl.write_gzip(logs / "whole" / "day.log.gz", rekey(day, accounts["whole"].account_id))
    paths.append(dl.split_files(logs / "split", rekey(day, accounts["split"].account_id), per_file=110,
                                  shuffle_seed=5))
    created = [dict(r, region="eu-west-1") for r in
               rekey(cases[0].expects[2].queries, accounts["created"].account_id)]
    paths += dl.write_jsonl(logs / "created" / "resolver.log", created)
    for layout in dl.LAYOUTS:
        acct = accounts[f"layout-{layout}"].account_id
        inst = instance_id(0x300)
        recs = [q(acct, inst, "ntp.ubuntu.com", 5),
                q(acct, inst, f"beacon.{FEEDS['c2'][1][0]}", 10),
                q(acct, inst, f"x.{FEEDS['c2'][1][0]}", 400, transport="TCP")]
        paths.append(dl.write_layout(layout, logs / layout, recs))

    inventory_acct = accounts["inventory"].account_id
    inventory = root / "describe-instances.json"
    inventory.write_text(json.dumps(describe_instances(inventory_acct)))
    paths += dl.write_jsonl(logs / "inventory" / "resolver.log", inventory_queries(inventory_acct))

    proc = run_vedette("ingest", "--data-dir", str(server.data_dir), "--no-progress", "--json",
                       "--create-detectors", "--inventory", str(inventory), *feed_args, *map(str, paths))
    return World(server, accounts, detectors, cases, json.loads(proc.stdout))


def client(world: World, name: str, region: str = REGION):
    """A boto3 client of the module's server whose every response is schema-checked."""
    return watch(guardduty_client(world.server.endpoint, world.accounts[name], region))


def findings(world: World, name: str) -> list[dict]:
    gd = client(world, name)
    did = world.detectors[name]
    return get_findings(gd, did, list_all_ids(gd, did))


def by_instance(found: list[dict]) -> dict[tuple[str, str], dict]:
    out = {}
    for f in found:
        key = (f["Type"], f["Resource"]["InstanceDetails"]["InstanceId"])
        assert key not in out, f"two findings for {key}: aggregation per type and instance failed"
        out[key] = f
    return out


@pytest.fixture(scope="module")
def types_via_cli(world) -> dict[tuple[str, str], dict]:
    """The types account's findings as the aws CLI prints them (one call for the module)."""
    acct = world.accounts["types"]
    gd = guardduty_client(world.server.endpoint, acct)
    ids = list_all_ids(gd, world.detectors["types"])
    out = aws_json(world.server.endpoint, acct, "guardduty", "get-findings", "--detector-id",
                   world.detectors["types"], "--finding-ids", *ids)["Findings"]
    return by_instance(out)


def test_the_ingest_run_read_every_record(world):
    """No record of any layout was refused; only the account without a detector got one."""
    summary = world.summary
    assert (summary["badRecords"], summary["problemsTotal"]) == (0, 0), summary
    created = world.accounts["created"].account_id
    assert list(summary["detectorsCreated"]) == [f"{created}/eu-west-1"], summary


def test_exactly_the_expected_findings_in_the_types_account(world, types_via_cli):
    expected = {(e.type, e.instance) for c in world.cases for e in c.expects}
    assert sorted(types_via_cli) == sorted(expected)


def case_ids():
    return [c.type for c in type_cases("000000000000")]


@pytest.mark.parametrize("case_index", range(len(case_ids())), ids=case_ids())
def test_dns_type(world, types_via_cli, case_index):
    case = world.cases[case_index]
    boto = by_instance(findings(world, "types"))
    for e in case.expects:
        cli = types_via_cli[(e.type, e.instance)]
        f = boto[(e.type, e.instance)]
        assert cli == f, "the aws CLI and boto3 show the same finding"
        assert f["Severity"] == e.severity
        assert (f["AccountId"], f["Region"]) == (world.accounts["types"].account_id, REGION)
        resource = f["Resource"]
        assert resource["ResourceType"] == "Instance"
        details = resource["InstanceDetails"]
        assert details["InstanceId"] == e.instance
        latest = e.queries[-1]
        eni = details["NetworkInterfaces"][0]
        assert (eni["PrivateIpAddress"], eni["VpcId"]) == (latest["srcaddr"], VPC)
        service = f["Service"]
        assert service["ResourceRole"] == "ACTOR"
        assert service["Count"] == e.count
        assert service["EventFirstSeen"] == e.queries[0]["query_timestamp"].replace("Z", ".000Z")
        assert service["EventLastSeen"] == latest["query_timestamp"].replace("Z", ".000Z")
        action = service["Action"]
        assert action["ActionType"] == "DNS_REQUEST"
        assert set(action) == {"ActionType", "DnsRequestAction"}
        dns = action["DnsRequestAction"]
        assert dns["Domain"] == e.domain
        assert dns["DomainWithSuffix"] == e.registrable
        assert dns["Protocol"] == latest["transport"]
        assert dns["Blocked"] is (latest.get("firewall_rule_action") == "BLOCK")
        assert dns["VpcOwnerAccountId"] == world.accounts["types"].account_id
        evidence = service.get("Evidence", {}).get("ThreatIntelligenceDetails", [])
        if e.threat_list:
            assert [(d["ThreatListName"], d["ThreatNames"]) for d in evidence] == [(e.threat_list, [])]
            assert len(evidence[0]["ThreatFileSha256"]) == 64
            assert additional_info(f)["threatListName"] == e.threat_list
        else:
            assert evidence == [] and "threatListName" not in additional_info(f)


@pytest.mark.parametrize("layout", dl.LAYOUTS)
def test_each_layout_raises_the_same_c2_finding(world, layout):
    name = f"layout-{layout}"
    found = findings(world, name)
    assert [(f["Type"], f["Service"]["Count"]) for f in found] == [("Backdoor:EC2/C&CActivity.B!DNS", 2)]
    dns = found[0]["Service"]["Action"]["DnsRequestAction"]
    assert (dns["Domain"], dns["Protocol"]) == (f"x.{FEEDS['c2'][1][0]}", "TCP")
    assert found[0]["Resource"]["InstanceDetails"]["InstanceId"] == instance_id(0x300)


def test_trusted_list_does_not_suppress_dns_and_threat_lists_match_ips_only(world):
    found = findings(world, "lists")
    got = sorted((f["Type"], (f["Service"]["Action"].get("DnsRequestAction") or {}).get("Domain", "")) for f in found)
    assert got == [
        # The trusted list is active (the flow to the IP on both lists raised nothing), yet the
        # query answered with that trusted IP still raises its DNS finding...
        ("Backdoor:EC2/C&CActivity.B!DNS", "guarddutyc2activityb.com"),
        # ...and the threat list is active: the flow to its IP raises the custom finding.
        ("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", ""),
    ]
    # The domain on the threat list, and answers on it, raise nothing for DNS queries.
    assert not any(THREATLISTED_DOMAIN in json.dumps(f) for f in found)


def test_a_benign_day_raises_nothing(world):
    assert findings(world, "benign") == []


def test_a_day_split_over_many_files_gives_the_findings_of_one_file(world):
    def view(name):
        return sorted(
            (f["Type"], f["Resource"]["InstanceDetails"]["InstanceId"], f["Service"]["Count"],
             f["Service"]["EventFirstSeen"], f["Service"]["EventLastSeen"],
             f["Service"]["Action"]["DnsRequestAction"]["Domain"], f["Severity"])
            for f in findings(world, name))
    whole = view("whole")
    assert len(whole) == sum(len(c.expects) for c in world.cases)
    assert view("split") == whole


def test_create_detectors_creates_the_query_logs_detector(world):
    assert client(world, "created").list_detectors()["DetectorIds"] == [], "none in the default Region"
    gd = client(world, "created", region="eu-west-1")
    [did] = gd.list_detectors()["DetectorIds"]
    assert gd.get_detector(DetectorId=did)["Status"] == "ENABLED"
    found = get_findings(gd, did, list_all_ids(gd, did))
    assert [(f["Type"], f["Region"], f["Service"]["Count"]) for f in found] == [
        ("Backdoor:EC2/C&CActivity.B!DNS", "eu-west-1", 2)]


def test_dns_findings_carry_the_inventory_instance_details(world):
    found = {f["Type"]: f for f in findings(world, "inventory")}
    assert sorted(found) == ["Backdoor:EC2/C&CActivity.B!DNS", "UnauthorizedAccess:EC2/MetadataDNSRebind"]
    for ty, (iid, itype, ip, eni, subnet, group, tags) in zip(sorted(found), INVENTORY):
        details = found[ty]["Resource"]["InstanceDetails"]
        assert details["InstanceId"] == iid
        assert details["InstanceType"] == itype
        assert details["InstanceState"] == "running"
        assert details["ImageId"] == "ami-0e2e0000000000400"
        assert details["AvailabilityZone"] == "us-east-1b"
        assert details["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{tags['Name']}")
        assert sorted((t["Key"], t["Value"]) for t in details["Tags"]) == sorted(tags.items())
        [interface] = details["NetworkInterfaces"]
        assert (interface["NetworkInterfaceId"], interface["PrivateIpAddress"], interface["SubnetId"],
                interface["VpcId"]) == (eni, ip, subnet, VPC)
        assert [(g["GroupId"], g["GroupName"]) for g in interface["SecurityGroups"]] == [group]
        assert found[ty]["Service"]["Action"]["DnsRequestAction"]["Domain"] in (
            "guarddutyc2activityb.com", "metadata.rebind-e2e.net")
