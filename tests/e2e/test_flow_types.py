"""Every VPC flow-log finding type end to end: flow-log files written in
each layout Vedette reads (tests/e2e/flow_logs.py), handed to one `vedette ingest` run with the
operator's feeds and an inventory, threat and trusted lists created through the API of a running
`vedette serve`; findings read back with `aws guardduty get-findings` and boto3: type, severity,
resource (instance details from the inventory, or only what the log says), action shape,
connection direction, ports, remote IP, role and aggregation count.

Each scenario lives in its own account (its own detector), so one ingest run serves them all and
each test still asserts only its own findings. Heuristic thresholds are read from
crates/domain/src/flow/heuristics.rs, so the inputs follow the constants."""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import flow_logs as fl
from aws_cli import aws_json
from conftest import _next_account, watch
from flow_logs import LAYOUT, LAYOUTS, Flow, Instance, connect_in, connect_out
from gdutil import additional_info, get_findings, iso_to_ms, list_all_ids
from vedette_harness import REGION, Account, VedetteServer, guardduty_client, run_vedette

MIN_ATTEMPTS = fl.heuristic_constant("BRUTE_FORCE_MIN_ATTEMPTS")
BRUTE_FORCE_WINDOW_S = fl.heuristic_constant("BRUTE_FORCE_WINDOW_MS") // 1000
PORTSCAN_MIN_PORTS = fl.heuristic_constant("PORTSCAN_MIN_PORTS")
PORT_SWEEP_MIN_HOSTS = fl.heuristic_constant("PORT_SWEEP_MIN_HOSTS")
SCAN_WINDOW_S = fl.heuristic_constant("SCAN_WINDOW_MS") // 1000
DOS_MIN_PACKETS = fl.heuristic_constant("DOS_MIN_PACKETS")
DOS_WINDOW_S = fl.heuristic_constant("DOS_WINDOW_MS") // 1000

LOW, MEDIUM, HIGH = 2.0, 5.0, 8.0

# Public addresses (private and documentation space never raise flow findings).
SCANNERS = ["45.95.147.10", "45.95.147.11"]
C2_IP = "185.100.87.41"
BITCOIN_IP = "51.15.58.224"
BLACKHOLE_IP = "94.102.61.7"
DROP_POINT_IP = "91.219.236.18"
TOR_RELAYS = ["185.220.101.50", "185.220.101.51"]
THREAT_IP = "92.118.39.20"
THREAT_CIDR, THREAT_CIDR_HOST = "92.118.40.0/24", "92.118.40.7"
TRUSTED_IP = "81.2.69.142"
ATTACKER = "193.32.162.9"
SECOND_ATTACKER = "193.32.162.77"
VICTIM = "141.98.10.60"
FLOOD_TARGET = "104.244.72.115"
OFFICE_IP = "62.210.15.33"
PARTNER_IP = "52.28.14.9"
ATTACKER_V6 = "2a01:4f8:c17:1d2c::1"
FEED_FILES = {"scanner": "scanners.txt", "c2": "c2-servers.txt", "bitcoin": "bitcoin-nodes.txt",
              "blackhole": "sinkholes.txt", "droppoint": "drop-points.txt", "tor-relay": "tor-relays.txt"}
FEEDS = {"scanner": SCANNERS, "c2": [C2_IP, TRUSTED_IP], "bitcoin": [BITCOIN_IP], "blackhole": [BLACKHOLE_IP],
         "droppoint": [DROP_POINT_IP], "tor-relay": TOR_RELAYS}
THREAT_LIST_NAME = "e2e-flow-threats"
WAIT_S = 30.0

# Two days ago, on the hour: recent enough for every retention rule.
BASE = int(time.time()) // 3600 * 3600 - 2 * 86400


@dataclass
class Expect:
    """One finding a scenario must raise (matched on type, role and instance)."""
    type: str
    instance: Instance
    severity: float
    role: str
    count: int
    last_seen: int  # epoch seconds: the end of the last record that raised it
    remote_ip: str | None = None
    direction: str | None = None
    local_port: int | None = None
    remote_port: int | None = None
    protocol: str | None = None
    probes: set[tuple[int, str]] | None = None  # PORT_PROBE: (local port, remote IP)
    threat_list: str | None = None


@dataclass
class Case:
    name: str
    layout: fl.Layout
    flows: list[Flow]
    expects: list[Expect]
    inventory: bool = False
    account: Account | None = None
    gd: object = None
    detector_id: str | None = None
    files: int = 1


class Instances:
    """Instances with unique ids and addresses across the module (one inventory serves all)."""

    def __init__(self):
        self.n = 0

    def new(self, account: Account, **kwargs) -> Instance:
        self.n += 1
        n = self.n
        return Instance(account.account_id, f"i-0e2e{n:013x}", f"eni-0e2e{n:013x}", f"10.{20 + n // 200}.{n % 200}.10",
                        f"vpc-0e2e{n:013x}", f"subnet-0e2e{n:09x}", **kwargs)


def ssh_attempts(instance: Instance, remote: str, n: int, start: int, port: int = 22, step: int = 15) -> list[Flow]:
    """n short connections the remote opens to `port` (each with the instance's answer)."""
    return [f for i in range(n) for f in connect_in(instance, remote, port, start + step * i, remote_port=40000 + i)]


def attempts_out(instance: Instance, remote: str, n: int, start: int, port: int, step: int = 15) -> list[Flow]:
    return [f for i in range(n)
            for f in connect_out(instance, remote, port, start + step * i, local_port=50000 + i, reply=True)]


def flood(instance: Instance, remote: str, port: int, protocol: int, start: int) -> list[Flow]:
    """Two one-minute records of small packets that together pass DOS_MIN_PACKETS."""
    packets = DOS_MIN_PACKETS // 2 + 1
    flags = fl.TCP_SYN if protocol == fl.TCP else 0
    return [Flow(instance, remote, 0 if protocol == fl.IGMP else 50000, port, start + 60 * i, False, protocol,
                 packets, packets * 60, 59, "ACCEPT", flags) for i in range(2)]


# ---- scenarios, one account each ----------------------------------------------------------------

def type_cases(make: Instances, accounts) -> list[Case]:
    cases = []

    def case(name, layout, build, inventory=False):
        account = next(accounts)
        flows, expects = build(account)
        cases.append(Case(name, LAYOUT[layout], flows, expects, inventory, account))

    def port_probe(account):
        a, b = make.new(account), make.new(account)
        t = BASE + 600
        flows = (connect_in(a, SCANNERS[0], 80, t) + connect_in(a, SCANNERS[1], 80, t + 60, remote_port=41000)
                 + connect_in(a, SCANNERS[0], 8080, t + 120) + connect_in(b, SCANNERS[0], 9200, t + 30))
        return flows, [
            Expect("Recon:EC2/PortProbeUnprotectedPort", a, LOW, "TARGET", 3, t + 125,
                   probes={(80, SCANNERS[0]), (80, SCANNERS[1]), (8080, SCANNERS[0])},
                   threat_list=FEED_FILES["scanner"]),
            # An Elasticsearch port probed: High (docs/findings.md#vpc-flow-types).
            Expect("Recon:EC2/PortProbeUnprotectedPort", b, HIGH, "TARGET", 1, t + 35, probes={(9200, SCANNERS[0])},
                   threat_list=FEED_FILES["scanner"]),
        ]
    case("Recon:EC2/PortProbeUnprotectedPort", "v5", port_probe)

    def emr_probe(account):
        node = make.new(account, instance_type="m5.xlarge",
                        tags={"aws:elasticmapreduce:job-flow-id": "j-2AXXXXXXGAPLF", "Name": "emr-master"},
                        security_groups=(("sg-0e2e00000000000e1", "ElasticMapReduce-master"),))
        t = BASE + 1200
        flows = connect_in(node, SCANNERS[0], 8088, t) + connect_in(node, SCANNERS[1], 22, t + 40)
        return flows, [
            Expect("Recon:EC2/PortProbeEMRUnprotectedPort", node, HIGH, "TARGET", 1, t + 5,
                   probes={(8088, SCANNERS[0])}),
            # Not an EMR service port: the ordinary probe type.
            Expect("Recon:EC2/PortProbeUnprotectedPort", node, LOW, "TARGET", 1, t + 45, probes={(22, SCANNERS[1])}),
        ]
    case("Recon:EC2/PortProbeEMRUnprotectedPort", "v2-header", emr_probe, inventory=True)

    def portscan(account):
        i = make.new(account)
        t = BASE + 1800
        ports = [21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 993, 995, 1433, 1521, 2049, 3306, 3389,
                 5432, 5900, 6379, 8080, 8443, 9200, 11211, 27017]
        ports += [10000 + k for k in range(PORTSCAN_MIN_PORTS + 2 - len(ports))]
        flows = [f for k, port in enumerate(ports)
                 for f in connect_out(i, VICTIM, port, t + 2 * k, local_port=51000 + k, packets=1, bytes=60,
                                      flags=fl.TCP_SYN)]
        assert 2 * len(ports) < SCAN_WINDOW_S
        # Not a scan: one port fewer than the threshold on another host.
        flows += [f for k, port in enumerate(ports[:PORTSCAN_MIN_PORTS - 1])
                  for f in connect_out(i, FLOOD_TARGET, port, t + 2 * k, local_port=52000 + k, packets=1, bytes=60,
                                       flags=fl.TCP_SYN)]
        last_probe_end = t + 2 * (len(ports) - 1) + 5
        return flows, [Expect("Recon:EC2/Portscan", i, MEDIUM, "ACTOR", 3, last_probe_end, VICTIM, "OUTBOUND",
                              remote_port=ports[-1], protocol="TCP")]
    case("Recon:EC2/Portscan", "v3", portscan)

    def port_sweep(account):
        i = make.new(account)
        t = BASE + 2400
        hosts = [f"5.{188 + k // 250}.{k % 250}.{10 + k % 7}" for k in range(PORT_SWEEP_MIN_HOSTS + 2)]
        flows = [f for k, host in enumerate(hosts)
                 for f in connect_out(i, host, 445, t + k, local_port=52000 + k, packets=2, bytes=120,
                                      flags=fl.TCP_SYN)]
        return flows, [Expect("Impact:EC2/PortSweep", i, HIGH, "ACTOR", 3, flows[-1].end, hosts[-1], "OUTBOUND",
                              remote_port=445, protocol="TCP")]
    case("Impact:EC2/PortSweep", "custom", port_sweep)

    def ssh(account):
        web = make.new(account, tags={"Name": "bastion", "env": "prod"}, public_ip="3.80.10.20")
        t = BASE + 3000
        inbound = ssh_attempts(web, ATTACKER, MIN_ATTEMPTS + 4, t)
        outbound = attempts_out(web, VICTIM, MIN_ATTEMPTS + 1, t + 100, 22)
        # Not brute force: as many attempts spread wider than the window, and refused ones.
        slow_step = BRUTE_FORCE_WINDOW_S // (MIN_ATTEMPTS - 1) + 1
        slow = ssh_attempts(web, SECOND_ATTACKER, MIN_ATTEMPTS + 4, t, step=slow_step)
        refused = [f for k in range(MIN_ATTEMPTS + 4)
                   for f in connect_in(web, OFFICE_IP, 22, t + k, remote_port=43000 + k, action="REJECT")]
        return inbound + outbound + slow + refused, [
            Expect("UnauthorizedAccess:EC2/SSHBruteForce", web, LOW, "TARGET", 5, inbound[-1].end, ATTACKER, "INBOUND",
                   local_port=22, protocol="TCP"),
            Expect("UnauthorizedAccess:EC2/SSHBruteForce", web, HIGH, "ACTOR", 2, outbound[-1].end, VICTIM, "OUTBOUND",
                   remote_port=22, protocol="TCP"),
        ]
    case("UnauthorizedAccess:EC2/SSHBruteForce", "v2-gzip", ssh, inventory=True)

    def rdp(account):
        i = make.new(account)
        flows = ssh_attempts(i, SECOND_ATTACKER, MIN_ATTEMPTS + 2, BASE + 3600, port=3389)
        return flows, [Expect("UnauthorizedAccess:EC2/RDPBruteForce", i, LOW, "TARGET", 3, flows[-1].end,
                              SECOND_ATTACKER, "INBOUND", local_port=3389, protocol="TCP")]
    case("UnauthorizedAccess:EC2/RDPBruteForce", "cloudwatch-export", rdp)

    def winrm(account):
        i = make.new(account)
        out = attempts_out(i, VICTIM, MIN_ATTEMPTS + 1, BASE + 4200, 5985)
        inbound = ssh_attempts(i, ATTACKER, MIN_ATTEMPTS, BASE + 4300, port=5986)
        return out + inbound, [
            Expect("Impact:EC2/WinRMBruteForce", i, HIGH, "ACTOR", 2, out[-1].end, VICTIM, "OUTBOUND",
                   remote_port=5985, protocol="TCP"),
            Expect("Impact:EC2/WinRMBruteForce", i, LOW, "TARGET", 1, inbound[-1].end, ATTACKER, "INBOUND",
                   local_port=5986, protocol="TCP"),
        ]
    case("Impact:EC2/WinRMBruteForce", "v4", winrm)

    def custom_threat(account):
        i = make.new(account, tags={"Name": "api"})
        t = BASE + 4800
        inbound = connect_in(i, THREAT_IP, 443, t, reply=False, packets=30, bytes=9000)
        out = [f for k in range(3) for f in connect_out(i, THREAT_CIDR_HOST, 8443, t + 60 * k, local_port=53000 + k)]
        return inbound + out, [
            Expect("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", i, MEDIUM, "TARGET", 1, inbound[-1].end,
                   THREAT_IP, "INBOUND", local_port=443, protocol="TCP", threat_list=THREAT_LIST_NAME),
            Expect("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", i, MEDIUM, "ACTOR", 3, out[-1].end,
                   THREAT_CIDR_HOST, "OUTBOUND", remote_port=8443, protocol="TCP", threat_list=THREAT_LIST_NAME),
        ]
    case("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "v2-default", custom_threat, inventory=True)

    def outbound_feed(finding_type, remote, port, severity, kind, n=2):
        def build(account):
            i = make.new(account)
            t = BASE + 5400
            flows = [f for k in range(n) for f in connect_out(i, remote, port, t + 90 * k, local_port=54000 + k,
                                                              packets=12, bytes=2400)]
            return flows, [Expect(finding_type, i, severity, "ACTOR", n, flows[-1].end, remote, "OUTBOUND",
                                  remote_port=port, protocol="TCP", threat_list=FEED_FILES[kind])]
        return build

    case("UnauthorizedAccess:EC2/TorClient", "v5",
         outbound_feed("UnauthorizedAccess:EC2/TorClient", TOR_RELAYS[0], 9001, HIGH, "tor-relay"))
    case("Backdoor:EC2/C&CActivity.B", "custom",
         outbound_feed("Backdoor:EC2/C&CActivity.B", C2_IP, 443, HIGH, "c2"))
    case("CryptoCurrency:EC2/BitcoinTool.B", "v3",
         outbound_feed("CryptoCurrency:EC2/BitcoinTool.B", BITCOIN_IP, 8333, HIGH, "bitcoin", n=1))
    case("Trojan:EC2/BlackholeTraffic", "v2-header",
         outbound_feed("Trojan:EC2/BlackholeTraffic", BLACKHOLE_IP, 80, MEDIUM, "blackhole", n=3))
    case("Trojan:EC2/DropPoint", "cloudwatch-export",
         outbound_feed("Trojan:EC2/DropPoint", DROP_POINT_IP, 21, MEDIUM, "droppoint"))

    def tor_relay(account):
        i = make.new(account)
        flows = connect_in(i, TOR_RELAYS[1], 9001, BASE + 6000, reply=False, packets=400, bytes=200_000, duration=50)
        # The instance relays: it is the actor, though the relay connected in.
        return flows, [Expect("UnauthorizedAccess:EC2/TorRelay", i, HIGH, "ACTOR", 1, flows[-1].end, TOR_RELAYS[1],
                              "INBOUND", local_port=9001, protocol="TCP", threat_list=FEED_FILES["tor-relay"])]
    case("UnauthorizedAccess:EC2/TorRelay", "v4", tor_relay)

    def dos(finding_type, port, protocol, protocol_name):
        def build(account):
            i = make.new(account)
            flows = flood(i, FLOOD_TARGET, port, protocol, BASE + 6600)
            # Not a flood: a bulk upload of as many packets, full-size (~1,400 bytes each).
            flows += [Flow(i, VICTIM, 50001, 443, BASE + 6600 + 60 * k, False, fl.TCP, DOS_MIN_PACKETS,
                           DOS_MIN_PACKETS * 1400, 59, "ACCEPT", fl.TCP_SYN_FIN) for k in range(2)]
            return flows, [Expect(finding_type, i, HIGH, "ACTOR", 1, flows[1].end, FLOOD_TARGET, "OUTBOUND",
                                  remote_port=port if protocol != fl.IGMP else None, protocol=protocol_name)]
        return build

    case("Backdoor:EC2/DenialOfService.Tcp", "v2-gzip", dos("Backdoor:EC2/DenialOfService.Tcp", 80, fl.TCP, "TCP"))
    case("Backdoor:EC2/DenialOfService.Udp", "v5", dos("Backdoor:EC2/DenialOfService.Udp", 27015, fl.UDP, "UDP"))
    case("Backdoor:EC2/DenialOfService.Dns", "v2-default", dos("Backdoor:EC2/DenialOfService.Dns", 53, fl.UDP, "UDP"))
    case("Backdoor:EC2/DenialOfService.UdpOnTcpPorts", "v4",
         dos("Backdoor:EC2/DenialOfService.UdpOnTcpPorts", 80, fl.UDP, "UDP"))
    case("Backdoor:EC2/DenialOfService.UnusualProtocol", "custom",
         dos("Backdoor:EC2/DenialOfService.UnusualProtocol", 0, fl.IGMP, "2"))
    return cases


FLOW_TYPES = [
    "Recon:EC2/PortProbeUnprotectedPort", "Recon:EC2/PortProbeEMRUnprotectedPort", "Recon:EC2/Portscan",
    "Impact:EC2/PortSweep", "UnauthorizedAccess:EC2/SSHBruteForce", "UnauthorizedAccess:EC2/RDPBruteForce",
    "Impact:EC2/WinRMBruteForce", "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
    "UnauthorizedAccess:EC2/TorClient", "UnauthorizedAccess:EC2/TorRelay", "Backdoor:EC2/C&CActivity.B",
    "CryptoCurrency:EC2/BitcoinTool.B", "Trojan:EC2/BlackholeTraffic", "Trojan:EC2/DropPoint",
    "Backdoor:EC2/DenialOfService.Tcp", "Backdoor:EC2/DenialOfService.Udp", "Backdoor:EC2/DenialOfService.Dns",
    "Backdoor:EC2/DenialOfService.UdpOnTcpPorts", "Backdoor:EC2/DenialOfService.UnusualProtocol",
]


def layout_cases(make: Instances, accounts) -> list[Case]:
    """SSH brute force in every layout (the same attack: the same finding whatever the layout),
    one instance per layout in one account: one finding per instance."""
    cases = []
    account = next(accounts)
    for layout in LAYOUTS:
        i = make.new(account)
        flows = ssh_attempts(i, ATTACKER, MIN_ATTEMPTS + 1, BASE + 7200)
        cases.append(Case(f"layout:{layout.name}", layout, flows, [
            Expect("UnauthorizedAccess:EC2/SSHBruteForce", i, LOW, "TARGET", 2, flows[-1].end, ATTACKER, "INBOUND",
                   local_port=22, protocol="TCP")], account=account))
    return cases


def trusted_case(make: Instances, accounts) -> Case:
    """The trusted IP is also on the account's threat list and in the C&C feed: it raises nothing;
    the same brute force from another address does."""
    account = next(accounts)
    i = make.new(account)
    t = BASE + 7800
    trusted = (ssh_attempts(i, TRUSTED_IP, MIN_ATTEMPTS + 3, t)
               + connect_out(i, TRUSTED_IP, 443, t + 30, local_port=55000))
    control = ssh_attempts(i, SECOND_ATTACKER, MIN_ATTEMPTS, t + 5)
    return Case("trusted", LAYOUT["v5"], sorted(trusted + control, key=lambda f: f.start), [
        Expect("UnauthorizedAccess:EC2/SSHBruteForce", i, LOW, "TARGET", 1, control[-1].end, SECOND_ATTACKER,
               "INBOUND", local_port=22)], account=account)


def ipv6_case(make: Instances, accounts) -> Case:
    """An IPv6 instance (its address is public too: the v5 flow-direction tells the sides apart)."""
    account = next(accounts)
    i = make.new(account)
    i.private_ip = "2600:1f18:4c2:9e00::10"
    flows = ssh_attempts(i, ATTACKER_V6, MIN_ATTEMPTS + 1, BASE + 8400)
    return Case("ipv6", LAYOUT["v5"], flows, [
        Expect("UnauthorizedAccess:EC2/SSHBruteForce", i, LOW, "TARGET", 2, flows[-1].end, ATTACKER_V6, "INBOUND",
               local_port=22)], account=account)


def office_day(bastion: Instance, desktop: Instance, start: int, hours: int = 3) -> list[Flow]:
    """An office behind one NAT address at 1-minute aggregation: four engineers hold SSH shells
    open on the bastion for hours (keep-alives, a little typing), one reconnects later, one holds
    an RDP session on a Windows desktop. Each interval writes one record per direction with the
    same 5-tuple: as many small records from one address as a brute force, but five connections."""
    minutes = hours * 60
    flows = [f for user in range(4)
             for f in fl.session(bastion, OFFICE_IP, 22, start + 17 * user, minutes, opener_port=50000 + user)]
    flows += fl.session(bastion, OFFICE_IP, 22, start + hours * 3600 + 40, 60, opener_port=50010)
    flows += fl.session(desktop, OFFICE_IP, 3389, start + 60, minutes, opener_port=51000)
    return flows


def by_start(flows: list[Flow]) -> list[Flow]:
    return sorted(flows, key=lambda f: f.start)


def session_cases(make: Instances, accounts) -> list[Case]:
    """Long-lived sessions, with and without tcp-flags in the format: an office alone, the office
    while a brute force runs, a jump host the office uses, threat-list connections."""
    cases = []
    t = BASE + 10800
    for layout in ("v5-gzip", "v2-default"):
        account = next(accounts)
        cases.append(Case(f"office:{layout}", LAYOUT[layout], by_start(office_day(make.new(account), make.new(account), t)),
                          [], account=account))
        account = next(accounts)
        bastion = make.new(account)
        attack = ssh_attempts(bastion, ATTACKER, MIN_ATTEMPTS + 4, t + 3600 + 20)
        cases.append(Case(f"office+attack:{layout}", LAYOUT[layout],
                          by_start(office_day(bastion, make.new(account), t) + attack), [
            Expect("UnauthorizedAccess:EC2/SSHBruteForce", bastion, LOW, "TARGET", 5, attack[-1].end, ATTACKER,
                   "INBOUND", local_port=22, protocol="TCP")], account=account))
    account = next(accounts)
    jump = make.new(account)
    flows = []
    for user in range(6):
        flows += fl.session(jump, OFFICE_IP, 22, t + 23 * user, 180, opener_port=52000 + user)
        # Through the jump host, on to a partner's server: as long, opened by the instance.
        flows += fl.session(jump, PARTNER_IP, 22, t + 23 * user + 2, 180, opener_port=53000 + user, inbound=False)
    for hour in range(3):  # an hourly scp, a few seconds long
        flows += connect_in(jump, OFFICE_IP, 22, t + 3600 * hour + 900, remote_port=54000 + hour, packets=40)
    cases.append(Case("jump-host", LAYOUT["v4"], by_start(flows), [], account=account))
    account = next(accounts)
    i = make.new(account)
    second = t + 900
    flows = (fl.session(i, THREAT_IP, 443, t, 4, opener_port=55000, inbound=False)
             + fl.session(i, THREAT_IP, 443, second, 4, opener_port=55001, inbound=False))
    cases.append(Case("threat-connections", LAYOUT["v2-header"], by_start(flows), [
        Expect("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", i, MEDIUM, "ACTOR", 2, second + 59, THREAT_IP,
               "OUTBOUND", remote_port=443, protocol="TCP", threat_list=THREAT_LIST_NAME)], account=account))
    return cases


def attack_flows(instance: Instance, start: int) -> list[Flow]:
    """A mixed attack on one instance, in time order: brute force, a probe, C&C traffic, a scan, a
    flood (its two records far apart in the file)."""
    flows = ssh_attempts(instance, ATTACKER, MIN_ATTEMPTS + 6, start, step=20)
    flows += connect_in(instance, SCANNERS[1], 80, start + 45)
    flows += connect_out(instance, C2_IP, 443, start + 100, local_port=56000, packets=10, bytes=3000)
    flows += [f for k in range(PORTSCAN_MIN_PORTS + 1)
              for f in connect_out(instance, VICTIM, 2000 + k, start + 200 + 3 * k, local_port=57000 + k, packets=1,
                                   bytes=60, flags=fl.TCP_SYN)]
    flows += flood(instance, FLOOD_TARGET, 27015, fl.UDP, start + 30)
    return sorted(flows, key=lambda f: (f.start, not f.inbound))


def benign_day(make: Instances, account: Account) -> list[Flow]:
    """A day of ordinary traffic for three instances: a busy web server, its database (software
    updates, NTP), and a CDN-heavy client; an operator's SSH sessions; internet background noise
    refused by the security groups."""
    rng = random.Random(20240301)
    web = make.new(account, tags={"Name": "web-1"})
    db = make.new(account, tags={"Name": "db-1"})
    client = make.new(account, tags={"Name": "crawler-1"})
    clients = [f"{rng.choice([24, 73, 86, 109, 151, 176, 188, 212])}.{rng.randrange(256)}.{rng.randrange(256)}."
               f"{rng.randrange(1, 255)}" for _ in range(3000)]
    cdn_prefixes = ["13.32", "13.224", "151.101", "104.16", "23.55"]
    cdn = [f"{rng.choice(cdn_prefixes)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(400)]
    mirrors = ["91.189.91.38", "91.189.91.39", "52.94.236.248", "199.232.18.132"]
    ntp = ["162.159.200.1", "162.159.200.123", "129.6.15.28", "216.239.35.0"]
    flows: list[Flow] = []
    port = iter(range(1_000_000))

    def eph() -> int:
        return 32768 + next(port) % 28000

    for window in range(0, 86400, 600):
        t = BASE - 86400 + window
        for c in rng.sample(clients, 25):  # HTTPS clients, a few short ones among them
            flows += connect_in(web, c, rng.choice([443, 443, 443, 80]), t + rng.randrange(590), remote_port=eph(),
                                packets=rng.choice([3, 6, 12, 40, 120]), bytes=rng.randrange(400, 90_000))
        flows += connect_out(web, "140.82.112.3", 443, t + 10, local_port=eph(), packets=30, bytes=12_000, reply=True)
        for c in rng.sample(cdn, 60):  # a CDN-heavy client: many hosts on 443, real sessions
            flows += connect_out(client, c, 443, t + rng.randrange(590), local_port=eph(),
                                 packets=rng.randrange(8, 400), bytes=rng.randrange(4000, 600_000), reply=True)
        for server in ntp:
            flows.append(Flow(db, server, 123, 123, t + 300, False, fl.UDP, 1, 76))
            flows.append(Flow(db, server, 123, 123, t + 300, True, fl.UDP, 1, 76))
        for k in range(4):  # internet background noise, refused
            flows += connect_in(db, rng.choice(clients), rng.choice([22, 23, 445, 3389, 5985, 6379]), t + 100 * k,
                                remote_port=eph(), packets=1, bytes=44, action="REJECT")
        if window % 14400 == 0:  # software updates every 4 hours, bulk downloads
            for mirror in mirrors:
                for host in (web, db, client):
                    flows += connect_out(host, mirror, rng.choice([80, 443]), t + 60, local_port=eph(),
                                         packets=rng.randrange(2000, 40_000),
                                         bytes=rng.randrange(3_000_000, 55_000_000),
                                         reply=True, duration=120)
        if window in (9 * 3600, 13 * 3600, 17 * 3600):  # the operator logs in
            flows += connect_in(web, OFFICE_IP, 22, t + 30, remote_port=eph(), packets=900, bytes=180_000, duration=580)
            flows += connect_in(web, OFFICE_IP, 22, t + 35, remote_port=eph(), packets=8, bytes=1200)
    return sorted(flows, key=lambda f: (f.start, f.instance.eni))


# ---- one ingest run for the module ----------------------------------------------------------------

@dataclass
class World:
    server: VedetteServer
    cases: dict[str, Case]
    summary: dict
    benign: Case
    split_one: Case
    split_many: Case
    split_reversed: Case
    created: Account
    created_instance: Instance
    split_instances: list[Instance]
    tmp: Path = field(default=Path("."))


@pytest.fixture(scope="module")
def flow_server(tmp_path_factory, vedette_bin, credentials_file):
    root = tmp_path_factory.mktemp("serve-flow")
    intel_dir = root / "intel"
    intel_dir.mkdir()
    srv = VedetteServer(root / "data", root / "logs", credentials=credentials_file, auth="sigv4",
                        extra_args=("--intel-dir", str(intel_dir))).start()
    srv.intel_dir = intel_dir
    yield srv
    srv.stop()


def wait_active(get, **ids) -> None:
    deadline = time.monotonic() + WAIT_S
    while (status := get(**ids)["Status"]) not in ("ACTIVE", "ERROR") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == "ACTIVE", status


def open_account(case: Case, server: VedetteServer, opened: dict | None = None) -> None:
    """A client and an enabled detector for the case's account (once per account in `opened`)."""
    if opened is not None and case.account.account_id in opened:
        case.gd, case.detector_id = opened[case.account.account_id]
        return
    case.gd = watch(guardduty_client(server.endpoint, case.account, REGION))
    case.detector_id = case.gd.create_detector(Enable=True)["DetectorId"]
    if opened is not None:
        opened[case.account.account_id] = case.gd, case.detector_id


def add_list(case: Case, server: VedetteServer, kind: str, name: str, entries: list[str]) -> None:
    path = server.intel_dir / f"{name}-{case.detector_id}.txt"
    path.write_text("\n".join(entries) + "\n")
    if kind == "threat":
        set_id = case.gd.create_threat_intel_set(DetectorId=case.detector_id, Name=name, Format="TXT",
                                                 Location=path.as_uri(), Activate=True)["ThreatIntelSetId"]
        wait_active(case.gd.get_threat_intel_set, DetectorId=case.detector_id, ThreatIntelSetId=set_id)
    else:
        set_id = case.gd.create_ip_set(DetectorId=case.detector_id, Name=name, Format="TXT", Location=path.as_uri(),
                                       Activate=True)["IpSetId"]
        wait_active(case.gd.get_ip_set, DetectorId=case.detector_id, IpSetId=set_id)


@pytest.fixture(scope="module")
def world(flow_server, account_pool, tmp_path_factory) -> World:
    tmp = tmp_path_factory.mktemp("flow-types")
    logs = tmp / "logs"
    accounts = iter(lambda: _next_account(account_pool), None)
    make = Instances()
    cases = (type_cases(make, accounts) + layout_cases(make, accounts)
             + [trusted_case(make, accounts), ipv6_case(make, accounts)] + session_cases(make, accounts))

    benign_account = next(accounts)
    benign = Case("benign", LAYOUT["v2-gzip"], benign_day(make, benign_account), [], account=benign_account)
    split_accounts = next(accounts), next(accounts), next(accounts)
    split_instances = [make.new(a) for a in split_accounts]
    split_one = Case("split:one", LAYOUT["v5-gzip"], attack_flows(split_instances[0], BASE + 9000), [],
                     account=split_accounts[0])
    split_many = Case("split:many", LAYOUT["v5-gzip"], attack_flows(split_instances[1], BASE + 9000), [],
                      account=split_accounts[1], files=9)
    split_reversed = Case("split:reversed", LAYOUT["v5-gzip"], attack_flows(split_instances[2], BASE + 9000), [],
                          account=split_accounts[2], files=9)
    opened: dict = {}
    for case in [*cases, benign, split_one, split_many, split_reversed]:
        open_account(case, flow_server, opened)
    add_list(cases_by_name(cases)["UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"], flow_server, "threat",
             THREAT_LIST_NAME, [THREAT_IP, THREAT_CIDR])
    add_list(cases_by_name(cases)["threat-connections"], flow_server, "threat", THREAT_LIST_NAME, [THREAT_IP])
    trusted = cases_by_name(cases)["trusted"]
    add_list(trusted, flow_server, "threat", "trusted-and-listed", [TRUSTED_IP])
    add_list(trusted, flow_server, "trusted", "office", [TRUSTED_IP])

    # No detector yet: `--create-detectors` makes one in the Region the v5 records name.
    created = next(accounts)
    created_instance = make.new(created, region="eu-west-1")
    created_flows = ssh_attempts(created_instance, ATTACKER, MIN_ATTEMPTS, BASE + 7200)
    created_case = Case("created", LAYOUT["v5"], created_flows, [], account=created)

    for case in [*cases, benign, split_one, created_case]:
        if case.name == "benign":  # several files: one per six hours
            for k, start in enumerate(range(0, len(case.flows), len(case.flows) // 4 + 1)):
                case.layout.write(logs, case.flows[start:start + len(case.flows) // 4 + 1], seq=k)
        else:
            case.layout.write(logs, case.flows)
    # The same attack as split_one in many files (a day of logs arrives as one file or many).
    chunk = len(split_many.flows) // split_many.files + 1
    for k in range(split_many.files):
        split_many.layout.write(logs / "split", split_many.flows[k * chunk:(k + 1) * chunk], seq=k)
        # Named so that the files are read latest first: windows fill from their far end.
        split_reversed.layout.write(logs / "split", split_reversed.flows[k * chunk:(k + 1) * chunk],
                                    seq=split_reversed.files - 1 - k)

    known = {e.instance.instance_id: e.instance for c in cases if c.inventory for e in c.expects}
    inventory = fl.write_inventory(tmp / "describe-instances.json", list(known.values()))
    feeds = []
    for kind, entries in FEEDS.items():
        path = tmp / FEED_FILES[kind]
        path.write_text("# e2e feed\n" + "\n".join(entries) + "\n")
        feeds += ["--feed", f"{kind}={path}"]
    out = run_vedette("ingest", "--data-dir", str(flow_server.data_dir), "--flow-region", REGION, "--inventory",
                      str(inventory), *feeds, "--create-detectors", "--json", "--no-progress", str(logs))
    summary = json.loads(out.stdout)
    return World(flow_server, {c.name: c for c in cases}, summary, benign, split_one, split_many, split_reversed,
                 created, created_instance, split_instances, tmp)


def cases_by_name(cases: list[Case]) -> dict[str, Case]:
    return {c.name: c for c in cases}


# ---- assertions ----------------------------------------------------------------------------------

def findings_cli(world: World, case: Case) -> list[dict]:
    ids = list_all_ids(case.gd, case.detector_id)
    if not ids:
        return []
    return aws_json(world.server.endpoint, case.account, "guardduty", "get-findings", "--detector-id",
                    case.detector_id, "--finding-ids", *ids)["Findings"]


def findings_boto(case: Case) -> list[dict]:
    return get_findings(case.gd, case.detector_id, list_all_ids(case.gd, case.detector_id))


def instance_of(finding: dict) -> dict:
    return finding["Resource"]["InstanceDetails"]


def matches(finding: dict, expect: Expect) -> bool:
    interfaces = instance_of(finding).get("NetworkInterfaces") or [{}]
    return (finding["Type"] == expect.type and finding["Service"]["ResourceRole"] == expect.role
            and interfaces[0].get("NetworkInterfaceId") == expect.instance.eni)


def check_instance(details: dict, instance: Instance, case: Case) -> None:
    interface = details["NetworkInterfaces"][0]
    assert interface["NetworkInterfaceId"] == instance.eni
    assert interface["PrivateIpAddress"] == instance.private_ip
    if case.inventory:
        assert details["InstanceId"] == instance.instance_id
        assert details["InstanceType"] == instance.instance_type
        assert details["InstanceState"] == "running"
        assert details["AvailabilityZone"] == f"{instance.region}a"
        assert sorted((t["Key"], t["Value"]) for t in details.get("Tags", [])) == sorted(instance.tags.items())
        assert interface["VpcId"] == instance.vpc_id and interface["SubnetId"] == instance.subnet_id
        assert [(g["GroupId"], g["GroupName"]) for g in interface["SecurityGroups"]] == list(instance.security_groups)
        if instance.public_ip:
            assert interface["PublicIp"] == instance.public_ip
        return
    # Without an inventory: only what the log says, nothing invented.
    layout = case.layout
    assert details.get("InstanceId") == (instance.instance_id if fl.has_field(layout, "instance-id") else None)
    assert interface.get("VpcId") == (instance.vpc_id if fl.has_field(layout, "vpc-id") else None)
    assert interface.get("SubnetId") == (instance.subnet_id if fl.has_field(layout, "subnet-id") else None)
    for invented in ("InstanceType", "Tags", "ImageId", "InstanceState", "LaunchTime"):
        assert not details.get(invented), invented
    assert not interface.get("SecurityGroups")


def check(finding: dict, expect: Expect, case: Case) -> None:
    what = f"{expect.type} {expect.role}"
    assert finding["Severity"] == expect.severity, what
    assert finding["Resource"]["ResourceType"] == "Instance"
    check_instance(instance_of(finding), expect.instance, case)
    service = finding["Service"]
    assert service["Count"] == expect.count, what
    assert iso_to_ms(service["EventLastSeen"]) == expect.last_seen * 1000, what
    assert iso_to_ms(service["EventFirstSeen"]) <= iso_to_ms(service["EventLastSeen"])
    action = service["Action"]
    if expect.probes is not None:
        assert action["ActionType"] == "PORT_PROBE"
        assert set(action) == {"ActionType", "PortProbeAction"}
        probe = action["PortProbeAction"]
        assert probe["Blocked"] is False
        got = {(d["LocalPortDetails"]["Port"], d["RemoteIpDetails"]["IpAddressV4"]) for d in probe["PortProbeDetails"]}
        assert got == expect.probes, what
        assert {d["LocalIpDetails"]["IpAddressV4"] for d in probe["PortProbeDetails"]} == {expect.instance.private_ip}
    else:
        assert action["ActionType"] == "NETWORK_CONNECTION"
        assert set(action) == {"ActionType", "NetworkConnectionAction"}
        connection = action["NetworkConnectionAction"]
        assert connection["Blocked"] is False
        assert connection["ConnectionDirection"] == expect.direction, what
        assert connection["RemoteIpDetails"]["IpAddressV4"] == expect.remote_ip, what
        assert connection["LocalIpDetails"]["IpAddressV4"] == expect.instance.private_ip
        assert connection["LocalNetworkInterface"] == expect.instance.eni
        if expect.local_port is not None:
            assert connection["LocalPortDetails"]["Port"] == expect.local_port, what
        if expect.remote_port is not None:
            assert connection["RemotePortDetails"]["Port"] == expect.remote_port, what
        if expect.protocol is not None:
            assert connection["Protocol"] == expect.protocol, what
        if expect.protocol not in ("TCP", "UDP", None):  # no ports: no port details (not port 0)
            assert "LocalPortDetails" not in connection and "RemotePortDetails" not in connection
    if expect.threat_list is not None:
        assert additional_info(finding)["threatListName"] == expect.threat_list
        names = [d["ThreatListName"] for d in service["Evidence"]["ThreatIntelligenceDetails"]]
        assert names[0] == expect.threat_list


def check_case(findings: list[dict], case: Case) -> None:
    assert sorted((f["Type"], f["Service"]["ResourceRole"]) for f in findings) == sorted(
        (e.type, e.role) for e in case.expects), case.name
    for expect in case.expects:
        [finding] = [f for f in findings if matches(f, expect)]
        check(finding, expect, case)


# ---- tests ---------------------------------------------------------------------------------------

def test_the_ingest_run_read_every_record(world):
    s = world.summary
    assert s["badRecords"] == 0 and s["problems"] == [], s
    total = sum(len(c.flows) for c in world.cases.values()) + len(world.benign.flows) + 3 * len(world.split_one.flows)
    total += MIN_ATTEMPTS * 2  # the --create-detectors case
    assert s["events"] == total


@pytest.mark.parametrize("finding_type", FLOW_TYPES, ids=FLOW_TYPES)
def test_flow_finding_type(world, finding_type):
    case = world.cases[finding_type]
    check_case(findings_cli(world, case), case)


@pytest.mark.parametrize("layout", [layout.name for layout in LAYOUTS])
def test_ssh_brute_force_in_every_layout(world, layout):
    case = world.cases[f"layout:{layout}"]
    findings = findings_boto(case)
    assert len(findings) == len(LAYOUTS), "one finding per instance, one instance per layout"
    eni = case.expects[0].instance.eni
    check_case([f for f in findings if instance_of(f)["NetworkInterfaces"][0]["NetworkInterfaceId"] == eni], case)


def test_trusted_ip_raises_no_flow_finding(world):
    case = world.cases["trusted"]
    findings = findings_boto(case)
    check_case(findings, case)
    remotes = {f["Service"]["Action"]["NetworkConnectionAction"]["RemoteIpDetails"]["IpAddressV4"] for f in findings}
    assert TRUSTED_IP not in remotes


def test_a_benign_day_raises_nothing(world):
    case = world.benign
    assert len({f.instance.eni for f in case.flows}) == 3 and len(case.flows) > 10_000
    assert list_all_ids(case.gd, case.detector_id) == []


WINDOWED_RULES = ("flow-brute-force", "flow-portscan", "flow-port-sweep", "flow-denial-of-service")


def test_ipv6_flows_raise_findings_with_ipv6_details(world):
    case = world.cases["ipv6"]
    [finding] = findings_boto(case)
    [expect] = case.expects
    assert finding["Type"] == expect.type and finding["Service"]["ResourceRole"] == "TARGET"
    assert finding["Service"]["Count"] == expect.count
    connection = finding["Service"]["Action"]["NetworkConnectionAction"]
    assert connection["RemoteIpDetails"] == {"IpAddressV6": ATTACKER_V6}
    assert connection["LocalIpDetails"] == {"IpAddressV6": expect.instance.private_ip}
    assert connection["ConnectionDirection"] == "INBOUND" and connection["LocalPortDetails"]["Port"] == 22
    [interface] = instance_of(finding)["NetworkInterfaces"]
    assert interface["Ipv6Addresses"] == [expect.instance.private_ip]
    assert "PrivateIpAddress" not in interface  # an IPv6 address is not shown as a private IPv4 one


def normalized(finding: dict, instance: Instance) -> str:
    """A finding without what differs between two accounts' instances and two sets of files."""
    f = json.loads(json.dumps(finding, default=str))
    for key in ("AccountId", "Arn", "Id", "CreatedAt", "UpdatedAt"):
        f.pop(key)
    f["Service"].pop("DetectorId")
    info = additional_info(f)
    # Vedette's own evidence names the records that raised each occurrence: file names and line
    # numbers differ by design, and so does which record completed a window when files are read in
    # parallel (the window's span, the finding's first and last seen, does not).
    for key in ("sources", "eventIds", "eventTimes"):
        info.get("vedette", {}).pop(key)
    f["Service"]["AdditionalInfo"]["Value"] = info
    if info.get("vedette", {}).get("rule") in WINDOWED_RULES:
        # The action shows the latest occurrence's connection: for a windowed rule, that of the
        # record which completed the window, whose ephemeral port depends on the arrival order.
        connection = f["Service"]["Action"]["NetworkConnectionAction"]
        for side in ("LocalPortDetails", "RemotePortDetails"):
            if connection[side]["Port"] >= 1024:
                connection.pop(side)
        for key in ("inBytes", "inPackets", "outBytes", "outPackets"):
            info.pop(key, None)
    text = json.dumps(f, sort_keys=True)
    for own in (instance.eni, instance.private_ip, instance.instance_id, instance.vpc_id, instance.subnet_id):
        text = text.replace(own, "<instance>")
    return text


@pytest.mark.parametrize("split", ["many", "reversed"])
def test_one_file_or_many_give_the_same_findings(world, split):
    """The same attack in one file, and in nine files read in time order or latest first."""
    one = findings_boto(world.split_one)
    many = findings_boto(getattr(world, f"split_{split}"))
    assert sorted(f["Type"] for f in one) == ["Backdoor:EC2/C&CActivity.B", "Backdoor:EC2/DenialOfService.Udp",
                                              "Recon:EC2/PortProbeUnprotectedPort", "Recon:EC2/Portscan",
                                              "UnauthorizedAccess:EC2/SSHBruteForce"]
    one_instance, many_instance = world.split_instances[0], world.split_instances[1 if split == "many" else 2]
    assert sorted(normalized(f, one_instance) for f in one) == sorted(normalized(f, many_instance) for f in many)


def test_create_detectors_makes_the_detector_of_a_flow_logs_account_and_region(world, flow_server):
    account = world.created
    assert world.summary["detectorsCreated"], world.summary
    eu = watch(guardduty_client(flow_server.endpoint, account, "eu-west-1"))
    [detector_id] = eu.list_detectors()["DetectorIds"]
    assert eu.get_detector(DetectorId=detector_id)["Status"] == "ENABLED"
    # The v5 records' own region field routed them, not --flow-region.
    us = watch(guardduty_client(flow_server.endpoint, account, REGION))
    assert us.list_detectors()["DetectorIds"] == []
    [finding] = get_findings(eu, detector_id, list_all_ids(eu, detector_id))
    assert finding["Type"] == "UnauthorizedAccess:EC2/SSHBruteForce"
    assert finding["Region"] == "eu-west-1" and finding["AccountId"] == account.account_id
    assert instance_of(finding)["InstanceId"] == world.created_instance.instance_id


@pytest.mark.parametrize("name", ["office:v5-gzip", "office:v2-default", "jump-host"])
def test_long_sessions_from_one_office_address_raise_nothing(world, name):
    case = world.cases[name]
    # As many small records from the office's one address within the window as a brute force
    # needs, several times over: only distinct connections may count.
    window_end = min(f.start for f in case.flows) + BRUTE_FORCE_WINDOW_S
    from_office = [f for f in case.flows if f.remote == OFFICE_IP and f.inbound and f.start < window_end]
    assert len(from_office) >= 2 * MIN_ATTEMPTS and all(f.packets <= 100 for f in from_office)
    assert findings_cli(world, case) == []


@pytest.mark.parametrize("layout", ["v5-gzip", "v2-default"])
def test_an_office_during_a_brute_force_gives_one_finding_naming_the_attacker(world, layout):
    case = world.cases[f"office+attack:{layout}"]
    findings = findings_cli(world, case)
    check_case(findings, case)
    [finding] = findings
    assert OFFICE_IP not in json.dumps(finding), "the office is neither the remote IP nor counted"
    attack_start = min(f.start for f in case.flows if f.remote == ATTACKER)
    assert iso_to_ms(finding["Service"]["EventFirstSeen"]) >= attack_start * 1000, "the attack's window, not the day"


def test_threat_list_findings_count_connections_not_records(world):
    case = world.cases["threat-connections"]
    assert len(case.flows) == 16  # two connections, four intervals, both directions
    check_case(findings_boto(case), case)


def test_an_outbound_brute_force_says_the_instance_attacks(world):
    case = world.cases["UnauthorizedAccess:EC2/SSHBruteForce"]
    findings = {f["Service"]["ResourceRole"]: f for f in findings_cli(world, case)}
    actor, target = findings["ACTOR"], findings["TARGET"]
    assert actor["Title"] == "EC2 instance is performing SSH brute force attacks."
    assert "against a remote host" in actor["Description"] and VICTIM in actor["Description"]
    assert "against an EC2 instance" not in actor["Title"] + actor["Description"]
    assert target["Title"] == "SSH brute force attack against an EC2 instance."
    assert ATTACKER in target["Description"]
