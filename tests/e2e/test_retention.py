"""Finding retention (docs/api.md#retention): GuardDuty deletes a finding 90 days after its last update. Findings
are aged by editing their last-update time in the store file while the server is down (there is no
API to age a finding), then the restarted server's sweep removes the expired ones, and the rest stay
intact through every read path."""
import sqlite3
import time
import urllib.request

import pytest

from conftest import watch
from gdutil import get_findings, list_all_ids
from vedette_harness import VedetteServer, guardduty_client

DAY_MS = 24 * 60 * 60 * 1000


@pytest.fixture
def own_server(tmp_path, credentials_file):
    srv = VedetteServer(tmp_path / "data", tmp_path / "logs", credentials=credentials_file).start()
    yield srv
    srv.stop()


def test_findings_past_retention_are_deleted_by_the_server(own_server, account):
    gd = watch(guardduty_client(own_server.endpoint, account))
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=[
        "Recon:EC2/Portscan", "UnauthorizedAccess:EC2/SSHBruteForce", "Policy:IAMUser/RootCredentialUsage"])
    ids = list_all_ids(gd, detector_id)
    assert len(ids) == 3
    findings = {f["Type"]: f for f in get_findings(gd, detector_id, ids)}
    expired = [findings["Recon:EC2/Portscan"]["Id"], findings["UnauthorizedAccess:EC2/SSHBruteForce"]["Id"]]
    kept = findings["Policy:IAMUser/RootCredentialUsage"]
    gd.archive_findings(DetectorId=detector_id, FindingIds=expired[:1])  # archived findings expire too

    own_server.stop()
    now_ms = int(time.time() * 1000)
    with sqlite3.connect(own_server.data_dir / "vedette.db") as db:
        db.execute("UPDATE findings SET updated_at_ms = ? WHERE id IN (?, ?)", (now_ms - 91 * DAY_MS, *expired))
    own_server.start()
    gd = watch(guardduty_client(own_server.endpoint, account))

    # The sweep runs as the server starts, beside it: wait for it rather than race it.
    deadline = time.monotonic() + 30
    while list_all_ids(gd, detector_id) != [kept["Id"]] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list_all_ids(gd, detector_id) == [kept["Id"]]
    assert [f["Id"] for f in get_findings(gd, detector_id, [*expired, kept["Id"]])] == [kept["Id"]]
    stats = gd.get_findings_statistics(DetectorId=detector_id, FindingStatisticTypes=["COUNT_BY_SEVERITY"])
    assert sum(stats["FindingStatistics"]["CountBySeverity"].values()) == 1
    metrics = urllib.request.urlopen(f"{own_server.endpoint}/metrics", timeout=10).read().decode()
    assert any(line.startswith("vedette_findings_expired_total") and line.split()[-1] == "2"
               for line in metrics.splitlines()), [l for l in metrics.splitlines() if "expired" in l]
