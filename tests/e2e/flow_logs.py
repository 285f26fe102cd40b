"""VPC flow-log files for the e2e tests, in every layout Vedette reads (docs/logs.md#vpc-flow-logs): the default v2
order without a header, v2/v3/v4/v5 with the header line S3 delivery writes, a custom field order
(shuffled, with v5 and later fields), gzip, and CloudWatch Logs exports (`<ISO timestamp> <message>`
per line, `000000.gz` objects). Also the `aws ec2 describe-instances` JSON of the instances the
records are about (`vedette ingest --inventory`).

A `Flow` is one record seen from the instance's network interface: `inbound` says the packets
travel remote → instance (the record's srcaddr is the remote host)."""
from __future__ import annotations

import datetime
import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from vedette_harness import REGION, REPO

V2_FIELDS = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
             "start end action log-status").split()
V3_FIELDS = "vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr".split()
V4_FIELDS = "region az-id sublocation-type sublocation-id".split()
V5_FIELDS = "pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path".split()

# tcp-flags values (VPC UG: only FIN 1, SYN 2, RST 4 and SYN-ACK 18 are logged, OR-ed over the
# window): the opener's side of a short connection, and the answering side.
TCP_SYN_FIN = 3
TCP_SYN = 2
TCP_SYNACK_FIN = 19
TCP_FIN = 1
TCP_SYNACK = 18

TCP, UDP, IGMP = 6, 17, 2


@dataclass
class Instance:
    """An EC2 instance with one network interface; `describe()` is its describe-instances entry."""
    account_id: str
    instance_id: str
    eni: str
    private_ip: str
    vpc_id: str
    subnet_id: str
    region: str = REGION
    instance_type: str = "t3.micro"
    tags: dict[str, str] = field(default_factory=dict)
    security_groups: tuple[tuple[str, str], ...] = (("sg-0e2e0000000000001", "default"),)
    public_ip: str | None = None

    def describe(self) -> dict:
        groups = [{"GroupId": gid, "GroupName": name} for gid, name in self.security_groups]
        private_dns = f"ip-{self.private_ip.replace('.', '-')}.ec2.internal"
        interface = {
            "NetworkInterfaceId": self.eni, "OwnerId": self.account_id, "PrivateDnsName": private_dns,
            "PrivateIpAddress": self.private_ip,
            "PrivateIpAddresses": [{"Primary": True, "PrivateDnsName": private_dns,
                                    "PrivateIpAddress": self.private_ip}],
            "Groups": groups, "SubnetId": self.subnet_id, "VpcId": self.vpc_id, "Status": "in-use",
            "Attachment": {"DeviceIndex": 0, "Status": "attached"}, "Ipv6Addresses": [],
        }
        if self.public_ip:
            interface["Association"] = {"IpOwnerId": "amazon", "PublicIp": self.public_ip}
        return {
            "InstanceId": self.instance_id, "InstanceType": self.instance_type, "ImageId": "ami-0e2e0000000000001",
            "LaunchTime": "2024-02-10T08:15:42+00:00", "State": {"Code": 16, "Name": "running"},
            "Placement": {"AvailabilityZone": f"{self.region}a"}, "PrivateIpAddress": self.private_ip,
            "PrivateDnsName": private_dns, "SubnetId": self.subnet_id, "VpcId": self.vpc_id,
            "NetworkInterfaces": [interface], "SecurityGroups": groups,
            "Tags": [{"Key": k, "Value": v} for k, v in self.tags.items()],
        }


def describe_instances(instances: list[Instance]) -> dict:
    return {"Reservations": [{"ReservationId": f"r-{i.instance_id[2:]}", "OwnerId": i.account_id,
                              "Instances": [i.describe()]} for i in instances]}


def write_inventory(path: Path, instances: list[Instance]) -> Path:
    path.write_text(json.dumps(describe_instances(instances), indent=2))
    return path


@dataclass
class Flow:
    instance: Instance
    remote: str
    local_port: int
    remote_port: int
    start: int
    inbound: bool
    protocol: int = TCP
    packets: int = 4
    bytes: int = 240
    duration: int = 5
    action: str = "ACCEPT"
    tcp_flags: int | None = None

    @property
    def end(self) -> int:
        return self.start + self.duration

    def value(self, name: str, version: int) -> str:
        i = self.instance
        src, dst = (self.remote, i.private_ip) if self.inbound else (i.private_ip, self.remote)
        sport, dport = (self.remote_port, self.local_port) if self.inbound else (self.local_port, self.remote_port)
        flags = self.tcp_flags if self.tcp_flags is not None else 0
        values = {
            "version": str(version), "account-id": i.account_id, "interface-id": i.eni,
            "srcaddr": src, "dstaddr": dst, "srcport": str(sport), "dstport": str(dport),
            "protocol": str(self.protocol), "packets": str(self.packets), "bytes": str(self.bytes),
            "start": str(self.start), "end": str(self.end), "action": self.action, "log-status": "OK",
            "vpc-id": i.vpc_id, "subnet-id": i.subnet_id, "instance-id": i.instance_id,
            "tcp-flags": str(flags if self.protocol == TCP else 0), "type": "IPv4",
            "pkt-srcaddr": src, "pkt-dstaddr": dst, "region": i.region, "az-id": "use1-az1",
            "sublocation-type": "-", "sublocation-id": "-", "pkt-src-aws-service": "-",
            "pkt-dst-aws-service": "-", "flow-direction": "ingress" if self.inbound else "egress",
            # 8 = through an internet gateway; not recorded for ingress.
            "traffic-path": "-" if self.inbound else "8", "reject-reason": "-",
        }
        return values[name]


def connect_in(instance: Instance, remote: str, port: int, start: int, *, remote_port: int = 40000,
               packets: int = 4, bytes: int = 240, action: str = "ACCEPT", reply: bool = True,
               protocol: int = TCP, duration: int = 5) -> list[Flow]:
    """A connection the remote host opens to `port` of the instance: its record, and the
    instance's answer when accepted (and `reply`)."""
    flows = [Flow(instance, remote, port, remote_port, start, True, protocol, packets, bytes, duration, action,
                  TCP_SYN_FIN)]
    if reply and action == "ACCEPT":
        flows.append(Flow(instance, remote, port, remote_port, start, False, protocol, max(packets - 1, 1),
                          bytes * 2, duration, action, TCP_SYNACK_FIN))
    return flows


def connect_out(instance: Instance, remote: str, port: int, start: int, *, local_port: int = 50000,
                packets: int = 4, bytes: int = 240, reply: bool = False, protocol: int = TCP,
                duration: int = 5, flags: int = TCP_SYN_FIN) -> list[Flow]:
    """A connection the instance opens to `port` of the remote host (and the answer when `reply`)."""
    flows = [Flow(instance, remote, local_port, port, start, False, protocol, packets, bytes, duration, "ACCEPT",
                  flags)]
    if reply:
        flows.append(Flow(instance, remote, local_port, port, start, True, protocol, packets, bytes * 4, duration,
                          "ACCEPT", TCP_SYNACK_FIN))
    return flows


def session(instance: Instance, remote: str, port: int, start: int, intervals: int, *, opener_port: int,
            inbound: bool = True, interval: int = 60, packets: int = 6) -> list[Flow]:
    """A long-lived TCP connection as flow logs write it: one record per direction and aggregation
    interval, all with the same 5-tuple. The opener's SYN (and the answer's SYN-ACK) in the first
    interval, FIN in the last, keep-alive sized traffic between; `inbound`: the remote host opened
    it to `port` of the instance, else the instance opened it to `port` of the remote host."""
    flows = []
    for k in range(intervals):
        first, last = k == 0, k == intervals - 1
        opener_flags = (TCP_SYN if first else 0) | (TCP_FIN if last else 0)
        answer_flags = (TCP_SYNACK if first else 0) | (TCP_FIN if last else 0)
        t = start + k * interval
        n = packets + k % 4
        local_port, remote_port = (port, opener_port) if inbound else (opener_port, port)
        flows.append(Flow(instance, remote, local_port, remote_port, t, inbound, TCP, n, n * 90, interval - 1,
                          "ACCEPT", opener_flags))
        flows.append(Flow(instance, remote, local_port, remote_port, t, not inbound, TCP, n + 1, n * 300,
                          interval - 1, "ACCEPT", answer_flags))
    return flows


@dataclass(frozen=True)
class Layout:
    name: str
    fields: tuple[str, ...]
    version: int | None
    header: bool = True
    gzip: bool = False
    cloudwatch_export: bool = False

    def lines(self, flows: list[Flow]) -> list[str]:
        version = self.version or max(version_of(f) for f in self.fields)
        out = [" ".join(self.fields)] if self.header else []
        for flow in flows:
            line = " ".join(flow.value(name, version) for name in self.fields)
            if self.cloudwatch_export:
                # CloudWatch Logs exports prefix each message with its ingestion time.
                when = datetime.datetime.fromtimestamp(flow.end + 30, datetime.timezone.utc)
                line = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z " + line
            out.append(line)
        return out

    def render(self, flows: list[Flow]) -> bytes:
        data = ("\n".join(self.lines(flows)) + "\n").encode()
        return gzip.compress(data) if self.gzip else data

    def write(self, directory: Path, flows: list[Flow], seq: int = 0) -> Path:
        """One file as the service delivers it: an S3 object key (AWSLogs/<account>/vpcflowlogs/
        <region>/<yyyy>/<mm>/<dd>/<account>_vpcflowlogs_<region>_<flow log id>_<time>_<hash>.log[.gz]),
        or a CloudWatch Logs export object (<task>/<log stream>/00000N.gz)."""
        first = flows[0]
        instance = first.instance
        when = datetime.datetime.fromtimestamp(min(f.start for f in flows), datetime.timezone.utc)
        if self.cloudwatch_export:
            path = directory / "exportedlogs" / f"task-{self.name}" / f"{instance.eni}-all" / f"{seq:06d}.gz"
        else:
            stamp = when.strftime("%Y%m%dT%H%MZ")
            digest = zlib.crc32(f"{self.name}/{seq}/{instance.eni}".encode())
            name = (f"{instance.account_id}_vpcflowlogs_{instance.region}_fl-0e2e{seq:012x}_{stamp}_{digest:08x}.log"
                    + (".gz" if self.gzip else ""))
            path = (directory / "AWSLogs" / instance.account_id / "vpcflowlogs" / instance.region /
                    when.strftime("%Y/%m/%d") / name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.render(flows))
        return path


def version_of(field_name: str) -> int:
    for version, names in ((2, V2_FIELDS), (3, V3_FIELDS), (4, V4_FIELDS), (5, V5_FIELDS)):
        if field_name in names:
            return version
    return 5


# A custom format: fields of several versions in an order of the operator's choosing, no
# `version` column, and a later field (reject-reason) Vedette reads past.
CUSTOM_FIELDS = ("flow-direction start dstaddr instance-id srcport action bytes interface-id protocol "
                 "traffic-path account-id end srcaddr packets pkt-dst-aws-service dstport log-status "
                 "tcp-flags reject-reason region pkt-src-aws-service vpc-id subnet-id az-id pkt-srcaddr "
                 "pkt-dstaddr").split()

LAYOUTS = [
    Layout("v2-default", tuple(V2_FIELDS), 2, header=False),
    Layout("v2-header", tuple(V2_FIELDS), 2),
    Layout("v3", tuple(V2_FIELDS + V3_FIELDS), 3),
    Layout("v4", tuple(V2_FIELDS + V3_FIELDS + V4_FIELDS), 4),
    Layout("v5", tuple(V2_FIELDS + V3_FIELDS + V4_FIELDS + V5_FIELDS), 5),
    Layout("custom", tuple(CUSTOM_FIELDS), None),
    Layout("v2-gzip", tuple(V2_FIELDS), 2, gzip=True),
    Layout("v5-gzip", tuple(V2_FIELDS + V3_FIELDS + V4_FIELDS + V5_FIELDS), 5, gzip=True),
    Layout("cloudwatch-export", tuple(V2_FIELDS), 2, header=False, gzip=True, cloudwatch_export=True),
]
LAYOUT = {layout.name: layout for layout in LAYOUTS}


def has_field(layout: Layout, name: str) -> bool:
    return name in layout.fields


def heuristic_constant(name: str) -> int:
    """A threshold of crates/domain/src/flow/heuristics.rs, read from the source so the tests'
    inputs follow the constants (`pub const NAME: type = 10 * 60_000;`)."""
    source = (REPO / "crates/domain/src/flow/heuristics.rs").read_text()
    match = re.search(rf"pub const {name}: \w+ = ([0-9_ *]+);", source)
    assert match, f"{name} not found in heuristics.rs"
    return int(eval(match.group(1).replace("_", ""), {"__builtins__": {}}))  # digits, spaces and * only
