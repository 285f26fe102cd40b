"""A crash loses nothing acknowledged: SIGKILL right after the last write's 200, restart on the same
data dir, every write is there."""
import pytest

from conftest import watch
from gdutil import get_findings, list_all_ids
from vedette_harness import VedetteServer, detector_arn, guardduty_client


@pytest.fixture
def own_server(tmp_path, credentials_file):
    srv = VedetteServer(tmp_path / "data", tmp_path / "logs", credentials=credentials_file).start()
    yield srv
    srv.stop()


def snapshot(client, detector_id, account):
    ids = list_all_ids(client, detector_id)
    findings = {f["Id"]: f for f in get_findings(client, detector_id, ids)}
    detector = client.get_detector(DetectorId=detector_id)
    detector.pop("ResponseMetadata")
    tags = client.list_tags_for_resource(ResourceArn=detector_arn(account, detector_id)).get("Tags", {})
    return detector, findings, tags


def test_sigkill_after_acknowledged_writes_loses_nothing(own_server, account, other_account):
    gd = watch(guardduty_client(own_server.endpoint, account))
    detector_id = gd.create_detector(Enable=True, FindingPublishingFrequency="ONE_HOUR")["DetectorId"]
    gd.create_sample_findings(DetectorId=detector_id)
    ids = list_all_ids(gd, detector_id)
    gd.archive_findings(DetectorId=detector_id, FindingIds=ids[:10])
    gd.update_findings_feedback(DetectorId=detector_id, FindingIds=ids[10:12], Feedback="NOT_USEFUL")
    gd.tag_resource(ResourceArn=detector_arn(account, detector_id), Tags={"durable": "yes"})
    other = watch(guardduty_client(own_server.endpoint, other_account))
    other_detector = other.create_detector(Enable=False)["DetectorId"]
    before = snapshot(gd, detector_id, account)
    # The last acknowledged write, then the kill with no pause in between.
    gd.unarchive_findings(DetectorId=detector_id, FindingIds=ids[:2])
    own_server.kill()

    own_server.start()
    gd = watch(guardduty_client(own_server.endpoint, account))
    detector, findings, tags = snapshot(gd, detector_id, account)
    assert detector == before[0]
    assert tags == {"durable": "yes"}
    assert findings.keys() == before[1].keys()
    archived = {i for i, f in findings.items() if f["Service"]["Archived"]}
    assert archived == set(ids[2:10])
    assert {i for i, f in findings.items() if f["Service"].get("UserFeedback") == "NOT_USEFUL"} == set(ids[10:12])
    for fid, f in findings.items():
        if fid not in ids[:2]:
            assert f == before[1][fid]
    other = watch(guardduty_client(own_server.endpoint, other_account))
    assert other.list_detectors()["DetectorIds"] == [other_detector]
    assert other.get_detector(DetectorId=other_detector)["Status"] == "DISABLED"


def test_repeated_kills_during_writes_keep_every_acknowledged_write(own_server, account):
    gd = watch(guardduty_client(own_server.endpoint, account))
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    acknowledged = []
    types = ["Recon:EC2/Portscan", "Policy:IAMUser/RootCredentialUsage", "Trojan:EC2/DropPoint!DNS",
             "UnauthorizedAccess:EC2/SSHBruteForce"]
    for t in types:
        gd.create_sample_findings(DetectorId=detector_id, FindingTypes=[t])
        acknowledged.append(t)
        own_server.kill()
        own_server.start()
        gd = watch(guardduty_client(own_server.endpoint, account))
        listed = get_findings(gd, detector_id, list_all_ids(gd, detector_id))
        assert sorted(f["Type"] for f in listed) == sorted(acknowledged)
