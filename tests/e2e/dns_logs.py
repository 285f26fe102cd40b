"""Route 53 Resolver query logs for the e2e tests: a record builder with the real field set and
writers for each layout `vedette ingest` reads.

Field set: the Route 53 Developer Guide's "Values that appear in VPC Resolver query logs" (version,
account_id, region, vpc_id, query_timestamp, query_name, query_type, query_class, rcode, answers
[{Rdata, Type, Class}], srcaddr, srcport, transport, srcids{instance | resolver_endpoint}, and the
DNS Firewall fields when a rule matched).

Layouts:
* JSON lines, plain or gzipped (what Resolver writes to S3 and Firehose delivers);
* the S3 delivery tree: `[prefix/]AWSLogs/<account>/vpcdnsquerylogs/<vpc>/<yyyy>/<MM>/<dd>/
  <vpc>_vpcdnsquerylogs_<account>_<yyyyMMddTHHmmZ>_<hash>.log.gz`, one object per 5 minutes
  (the key layout log shippers match on, e.g. aws-samples' SIEM and Datadog's forwarder);
* a CloudWatch Logs export (`aws logs create-export-task`): `<prefix>/<task id>/<log stream>/
  000000.gz`, each line `<ISO-8601 ingestion time> <message>`.
"""
from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import random
import uuid
from pathlib import Path
from typing import Iterable

LAYOUTS = ("jsonl", "gzip", "s3", "cloudwatch")
DELIVERY_MINUTES = 5


def iso(ts: datetime.datetime) -> str:
    return ts.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def answer(rdata: str, rtype: str = "A") -> dict:
    return {"Rdata": rdata, "Type": rtype, "Class": "IN"}


def record(account_id: str, instance: str | None, name: str, when: datetime.datetime, *,
           region: str = "us-east-1", vpc_id: str = "vpc-0e2e5d5a1b2c3d4e5", srcaddr: str = "10.0.1.10",
           srcport: int = 53_000, qtype: str = "A", rcode: str = "NOERROR", answers: Iterable[dict] = (),
           transport: str = "UDP", firewall_action: str | None = None, resolver_endpoint: str | None = None) -> dict:
    """One query-log record, keys in the documented order. `name` gets its trailing dot."""
    srcids = {}
    if instance:
        srcids["instance"] = instance
    if resolver_endpoint:
        srcids["resolver_endpoint"] = resolver_endpoint
    rec = {
        "version": "1.100000",
        "account_id": account_id,
        "region": region,
        "vpc_id": vpc_id,
        "query_timestamp": iso(when),
        "query_name": name if name.endswith(".") else name + ".",
        "query_type": qtype,
        "query_class": "IN",
        "rcode": rcode,
        "answers": list(answers),
        "srcaddr": srcaddr,
        "srcport": str(srcport),
        "transport": transport,
        "srcids": srcids,
    }
    if firewall_action:
        rec["firewall_rule_group_id"] = "rslvr-frg-0e2e0e2e0e2e0e2e"
        rec["firewall_rule_action"] = firewall_action
        rec["firewall_domain_list_id"] = "rslvr-fdl-0e2e0e2e0e2e0e2e"
    return rec


def lines(records: Iterable[dict]) -> bytes:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()


def query_time(rec: dict) -> datetime.datetime:
    return datetime.datetime.strptime(rec["query_timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def write_jsonl(path: Path, records: Iterable[dict]) -> list[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lines(records))
    return [path]


def write_gzip(path: Path, records: Iterable[dict]) -> list[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(lines(records)))
    return [path]


def write_s3_tree(root: Path, records: Iterable[dict], prefix: str = "resolver") -> list[Path]:
    """Objects as Resolver delivers them to a bucket: one per account, VPC and 5-minute period."""
    groups: dict[tuple[str, str, datetime.datetime], list[dict]] = {}
    for rec in records:
        t = query_time(rec)
        period = t.replace(minute=t.minute - t.minute % DELIVERY_MINUTES, second=0)
        groups.setdefault((rec["account_id"], rec["vpc_id"], period), []).append(rec)
    written = []
    for (account, vpc, period), recs in sorted(groups.items()):
        folder = root / prefix / "AWSLogs" / account / "vpcdnsquerylogs" / vpc / period.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        body = lines(recs)
        digest = hashlib.sha256(body).hexdigest()[:8]
        name = f"{vpc}_vpcdnsquerylogs_{account}_{period.strftime('%Y%m%dT%H%MZ')}_{digest}.log.gz"
        (folder / name).write_bytes(gzip.compress(body))
        written.append(folder / name)
    return written


def write_cloudwatch_export(root: Path, records: Iterable[dict], prefix: str = "exportedlogs",
                            lag_ms: int = 850) -> list[Path]:
    """An export task's objects: one folder per log stream (Resolver names a stream after the VPC
    and the query-log configuration), each line stamped with CloudWatch's ingestion time."""
    task = root / prefix / str(uuid.uuid5(uuid.NAMESPACE_URL, str(root)))
    streams: dict[str, list[dict]] = {}
    for rec in records:
        streams.setdefault(f"{rec['vpc_id']}_rqlc-0e2e5d5a1b2c3d4e", []).append(rec)
    written = []
    for stream, recs in sorted(streams.items()):
        folder = task / stream
        folder.mkdir(parents=True, exist_ok=True)
        body = "".join(
            (query_time(r) + datetime.timedelta(milliseconds=lag_ms)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z "
            + json.dumps(r, separators=(",", ":")) + "\n"
            for r in recs)
        (folder / "000000.gz").write_bytes(gzip.compress(body.encode()))
        written.append(folder / "000000.gz")
    (root / prefix / "aws-logs-write-test").parent.mkdir(parents=True, exist_ok=True)
    (root / prefix / "aws-logs-write-test").write_text("Permission Check Successful")
    return written


def write_layout(layout: str, root: Path, records: list[dict]) -> Path:
    """Writes `records` in `layout` under `root`; returns the path to hand to `vedette ingest`."""
    root.mkdir(parents=True, exist_ok=True)
    if layout == "jsonl":
        return write_jsonl(root / "resolver-queries.log", records)[0]
    if layout == "gzip":
        return write_gzip(root / "resolver-queries.log.gz", records)[0]
    if layout == "s3":
        write_s3_tree(root, records)
        return root
    if layout == "cloudwatch":
        write_cloudwatch_export(root, records)
        return root
    raise ValueError(layout)


def split_files(root: Path, records: list[dict], per_file: int, shuffle_seed: int | None = None) -> Path:
    """`records` cut into many small gzipped files (the day delivered piecemeal); with a seed, the
    files' names (hence the order they are read in) are shuffled, so later hours come first."""
    root.mkdir(parents=True, exist_ok=True)
    chunks = [records[i:i + per_file] for i in range(0, len(records), per_file)]
    order = list(range(len(chunks)))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(order)
    for name, chunk in zip(order, chunks):
        write_gzip(root / f"part-{name:05d}.log.gz", chunk)
    return root
