"""`vedette serve --export`: findings delivered as EventBridge events ("GuardDuty Finding") to a
JSON-lines file, standard output, an HTTP webhook and an S3 bucket (moto), at-least-once from the
store's outbox; suppressed (ARCHIVE-filtered) findings never go out; /metrics and /health."""
from __future__ import annotations

import datetime
import gzip
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import cloudtrail_logs as ct
from gdutil import get_findings_wire, list_all_ids
from vedette_harness import VedetteServer, free_port, guardduty_client, run_vedette

WAIT_S = 60.0
ROOT = "Policy:IAMUser/RootCredentialUsage"
# Fast retries so that a receiver coming back is noticed quickly.
FAST = ("--export-max-backoff-ms", "400", "--export-poll-ms", "100")


def wait_for(what: str, probe, timeout: float = WAIT_S, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def check_envelope(event: dict, account_id: str) -> None:
    assert event["version"] == "0"
    assert event["detail-type"] == "GuardDuty Finding"
    assert event["source"] == "aws.guardduty"
    assert event["account"] == account_id
    assert event["region"] == "us-east-1"
    assert event["resources"] == []
    assert len(event["id"]) == 36 and event["id"].count("-") == 4
    datetime.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert event["detail"]["accountId"] == account_id


def as_exported(wire_finding: dict) -> dict:
    """A GetFindings document as exports carry it: additionalInfo as the raw object."""
    doc = json.loads(json.dumps(wire_finding))
    info = doc.get("service", {}).get("additionalInfo")
    if info and "value" in info:
        doc["service"]["additionalInfo"] = json.loads(info["value"])
    return doc


def json_lines(text: str) -> list[dict]:
    """The export events among the lines of `text` (a sink file, or a log with stdout mixed in)."""
    out = []
    for line in text.splitlines():
        if line.startswith('{"version":"0"'):
            out.append(json.loads(line))
    return out


def ids_of(events: list[dict]) -> set[str]:
    return {e["detail"]["id"] for e in events}


def detector(gd) -> str:
    return gd.create_detector(Enable=True)["DetectorId"]


class Receiver:
    """A webhook receiver on a fixed loopback port that can die mid-stream and come back."""

    def __init__(self):
        self.port = free_port()
        self.events: list[dict] = []
        self.refused = 0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.alive = False
        self.die_after: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def start(self, die_after: int | None = None) -> "Receiver":
        receiver = self
        self.die_after = die_after

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    if not receiver.alive:
                        # Dead: a kept-alive connection gets no answer, only a close.
                        receiver.refused += 1
                        self.close_connection = True
                        return
                    assert self.path == "/events" and self.headers["content-type"] == "application/json"
                    receiver.events.append(json.loads(body))
                    dying = receiver.die_after is not None and len(receiver.events) >= receiver.die_after
                    if dying:
                        receiver.alive = False
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()
                if dying:
                    threading.Thread(target=receiver.stop).start()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.alive = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        with self.lock:
            self.alive = False
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.events)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def serve(tmp_path: Path, credentials_file, *args: str) -> VedetteServer:
    return VedetteServer(tmp_path / "data", tmp_path / "logs", credentials=credentials_file,
                         extra_args=tuple(args)).start()


def test_file_and_stdout_sinks_carry_eventbridge_events(tmp_path, credentials_file, account):
    sink = tmp_path / "events.jsonl"
    srv = serve(tmp_path, credentials_file, "--export", f"file:{sink}", "--export", "stdout", *FAST)
    try:
        gd = guardduty_client(srv.endpoint, account)
        d = detector(gd)
        gd.create_sample_findings(DetectorId=d)
        ids = set(list_all_ids(gd, d))
        assert len(ids) > 5
        events = wait_for("every sample in the file",
                          lambda: (ev := json_lines(sink.read_text()) if sink.exists() else []) and ids <= ids_of(ev) and ev)
        on_stdout = wait_for("every sample on stdout", lambda: (ev := json_lines(srv.log_text())) and ids <= ids_of(ev) and ev)
        # New findings: one event each (nothing was redelivered: no failure, no restart).
        assert len(events) == len(ids) and len(on_stdout) == len(ids)
        wire = {f["id"]: f for f in get_findings_wire(srv.endpoint, account, d, sorted(ids))}
        for event in events:
            check_envelope(event, account.account_id)
            assert event["detail"] == as_exported(wire[event["detail"]["id"]])
            assert event["detail"]["service"]["additionalInfo"]["sample"] is True
        assert {e["id"] for e in events} == {e["id"] for e in on_stdout}, "same events, same ids"

        # Restarted on the same data: nothing is delivered twice, nothing new goes out.
        srv.restart()
        time.sleep(1.0)
        assert len(json_lines(sink.read_text())) == len(ids)
    finally:
        srv.stop()


def test_webhook_delivers_everything_across_a_receiver_outage_and_a_restart(tmp_path, credentials_file, account,
                                                                           receiver):
    receiver.start(die_after=5)
    srv = serve(tmp_path, credentials_file, "--export", f"webhook:{receiver.url}", *FAST)
    try:
        gd = guardduty_client(srv.endpoint, account)
        d = detector(gd)
        gd.create_sample_findings(DetectorId=d)
        samples = set(list_all_ids(gd, d))
        assert len(samples) > 10
        # The receiver dies after five events, mid-stream; Vedette keeps retrying.
        wait_for("the receiver to die", lambda: not receiver.alive and receiver.server is None)
        wait_for("failed deliveries in the log", lambda: "delivery failed" in srv.log_text())
        assert len(receiver.snapshot()) == 5

        # Vedette restarts while the receiver is down, and more findings arrive meanwhile.
        srv.restart()
        gd = guardduty_client(srv.endpoint, account)  # a new port
        base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
        records = ct.scenario(account.account_id, base)
        ct.write_log_file(tmp_path / "logs-in", account.account_id, [r for recs in records.values() for r in recs])
        run_vedette("ingest", "--data-dir", str(srv.data_dir), str(tmp_path / "logs-in" / "AWSLogs"))
        everything = set(list_all_ids(gd, d))
        assert len(everything) > len(samples)
        time.sleep(1.0)
        assert len(receiver.snapshot()) == 5

        receiver.start()
        got = wait_for("every finding at the receiver",
                       lambda: (ev := receiver.snapshot()) and everything <= ids_of(ev) and ev)
        assert ids_of(got) == everything
        for event in got:
            check_envelope(event, account.account_id)
        # Duplicates are allowed (at-least-once) and carry the same event id.
        by_id: dict[str, set[str]] = {}
        for event in got:
            by_id.setdefault(event["detail"]["id"], set()).add(event["id"])
        assert all(len(event_ids) == 1 for event_ids in by_id.values()), by_id
    finally:
        srv.stop()


def test_suppressed_findings_reach_no_sink_and_the_others_reach_all(tmp_path, credentials_file, account, receiver,
                                                                   moto_s3):
    bucket = f"vedette-export-{account.account_id}"
    s3 = moto_s3.client()
    s3.create_bucket(Bucket=bucket)
    receiver.start()
    sink = tmp_path / "events.jsonl"
    srv = serve(tmp_path, credentials_file, "--export", f"file:{sink}", "--export", "stdout",
                "--export", f"webhook:{receiver.url}", "--export", f"s3://{bucket}/gd", *moto_s3.serve_args(), *FAST)
    try:
        gd = guardduty_client(srv.endpoint, account)
        d = detector(gd)
        gd.create_filter(DetectorId=d, Name="denied-root", Action="ARCHIVE", FindingCriteria={
            "Criterion": {"type": {"Equals": [ROOT]},
                          "service.action.awsApiCallAction.errorCode": {"Equals": ["AccessDenied"]}}})
        gd.create_filter(DetectorId=d, Name="pentest-tools", Action="ARCHIVE",
                         FindingCriteria={"Criterion": {"type": {"Matches": ["PenTest:*"]}}})
        base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
        records = ct.scenario(account.account_id, base)
        ct.write_log_file(tmp_path / "logs-in", account.account_id, [r for recs in records.values() for r in recs])
        run_vedette("ingest", "--data-dir", str(srv.data_dir), str(tmp_path / "logs-in" / "AWSLogs"))

        findings = get_findings_wire(srv.endpoint, account, d, list_all_ids(gd, d))
        suppressed = {f["id"] for f in findings if f["service"]["archived"]}
        active = {f["id"] for f in findings if not f["service"]["archived"]}
        assert len(suppressed) == 2 and len(active) == 3, findings

        def s3_events() -> list[dict]:
            out = []
            for obj in s3.list_objects_v2(Bucket=bucket, Prefix="gd/").get("Contents", []):
                key = obj["Key"]
                assert key.startswith(f"gd/AWSLogs/{account.account_id}/GuardDuty/us-east-1/") and key.endswith(".jsonl.gz")
                body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
                out += [json.loads(line) for line in body.splitlines()]
            return out

        sinks = {
            "file": lambda: json_lines(sink.read_text()) if sink.exists() else [],
            "stdout": lambda: json_lines(srv.log_text()),
            "webhook": receiver.snapshot,
            "s3": s3_events,
        }
        for name, read in sinks.items():
            events = wait_for(f"the active findings in {name}", lambda: (ev := read()) and active <= ids_of(ev) and ev)
            assert ids_of(events) == active, f"{name}: suppressed findings exported"
            for event in events:
                check_envelope(event, account.account_id)
                assert event["detail"]["service"]["archived"] is False
    finally:
        srv.stop()


def scrape(endpoint: str) -> dict[str, float]:
    with urllib.request.urlopen(endpoint + "/metrics", timeout=10) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            samples[series] = float(value)
    return samples


def total(samples: dict[str, float], name: str, **labels: str) -> float:
    def matches(series: str) -> bool:
        base, _, rest = series.partition("{")
        return base == name and all(f'{k}="{v}"' in rest for k, v in labels.items())
    return sum(v for s, v in samples.items() if matches(s))


def test_metrics_health_and_json_logs_with_watched_ingest(tmp_path, credentials_file, account, receiver):
    watched = tmp_path / "watched"
    watched.mkdir()
    srv = serve(tmp_path, credentials_file, "--watch", str(watched), "--watch-interval-ms", "200",
                "--export", f"webhook:{receiver.url}", "--log-format", "json", *FAST)
    try:
        with urllib.request.urlopen(srv.endpoint + "/health", timeout=10) as resp:
            health = json.loads(resp.read())
        assert resp.status == 200 and health["status"] == "ok" and health["store"] == "reachable"

        gd = guardduty_client(srv.endpoint, account)
        d = detector(gd)
        base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
        records = ct.scenario(account.account_id, base)
        ct.write_log_file(watched, account.account_id, [r for recs in records.values() for r in recs])
        wait_for("findings from the watched tree", lambda: len(list_all_ids(gd, d)) >= 5)
        # The receiver is down: everything waits in the outbox, and /metrics says so.
        samples = wait_for("ingest counters", lambda: (m := scrape(srv.endpoint))
                           and total(m, "vedette_findings_created_total") >= 5 and m)
        assert total(samples, "vedette_ingest_events_total") >= len([r for recs in records.values() for r in recs])
        assert total(samples, "vedette_http_requests_total", operation="CreateDetector", status="200") == 1
        assert total(samples, "vedette_http_requests_total", operation="ListFindings", status="200") >= 1
        assert total(samples, "vedette_http_request_duration_seconds_count", operation="ListFindings") >= 1
        consumer = f"sink:webhook:{receiver.url}"
        backlog = total(samples, "vedette_export_consumer_backlog_events", consumer=consumer)
        assert backlog >= 5 and total(samples, "vedette_outbox_depth") >= backlog
        assert total(samples, "vedette_export_lag_seconds") >= 0
        wait_for("failed deliveries counted",
                 lambda: total(scrape(srv.endpoint), "vedette_export_delivery_failures_total", sink="webhook") >= 1)

        receiver.start()
        wait_for("the outbox to drain", lambda: total(scrape(srv.endpoint), "vedette_outbox_depth") == 0)
        m = scrape(srv.endpoint)
        assert total(m, "vedette_export_events_delivered_total", sink="webhook") >= 5
        assert total(m, "vedette_export_delivery_lag_seconds_count", sink="webhook") >= 5
    finally:
        srv.stop()
    # --log-format json: every log line is a JSON object with a level and a message.
    lines = [line for line in srv.log_text().splitlines() if line.strip() and not line.startswith("vedette listening")]
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert "level" in entry and "timestamp" in entry, entry
    assert any(json.loads(line).get("message") == "export: delivery failed; will retry" for line in lines)
