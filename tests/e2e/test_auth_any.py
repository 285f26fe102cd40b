"""`--auth any`: any well-formed SigV4 request is accepted and mapped to the default account, and
only in that mode `POST /_vedette/reset` (alias `/moto-api/reset`) wipes all state."""
import pytest

from conftest import watch
from errors import assert_raw_error
from vedette_harness import Account, VedetteServer, guardduty_client, raw_request


@pytest.fixture(scope="module")
def any_server(tmp_path_factory, vedette_bin):
    root = tmp_path_factory.mktemp("any")
    srv = VedetteServer(root / "data", root / "logs", auth="any",
                        extra_args=("--default-account", DEFAULT_ACCOUNT)).start()
    yield srv
    srv.stop()


DEFAULT_ACCOUNT = "444455556666"


def anyone(n: int) -> Account:
    return Account(f"AKIAANYONE{n:010d}", f"whatever-secret-{n}", "")


@pytest.mark.parametrize("reset_path", ["/_vedette/reset", "/moto-api/reset"])
def test_any_credentials_share_the_default_account_and_reset_wipes(any_server, reset_path):
    first = watch(guardduty_client(any_server.endpoint, anyone(1)))
    second = watch(guardduty_client(any_server.endpoint, anyone(2)))
    detector_id = first.create_detector(Enable=True)["DetectorId"]
    first.create_sample_findings(DetectorId=detector_id, FindingTypes=["Recon:EC2/Portscan"])
    # A different key with a different secret lands in the same (default) account.
    assert second.list_detectors()["DetectorIds"] == [detector_id]
    assert len(second.list_findings(DetectorId=detector_id)["FindingIds"]) == 1

    resp = raw_request(any_server.endpoint, "POST", reset_path, b"", sign=False)
    assert resp.status in (200, 204), (resp.status, resp.body)
    assert first.list_detectors()["DetectorIds"] == []


def test_any_mode_still_requires_a_signature(any_server):
    resp = raw_request(any_server.endpoint, "GET", "/detector", sign=False)
    assert_raw_error(resp, 403, {"MissingAuthenticationTokenException", "AccessDeniedException",
                                 "InvalidSignatureException", "UnrecognizedClientException",
                                 "IncompleteSignatureException"})


def test_reset_is_refused_under_sigv4(server, account, make_client):
    gd = make_client(account)
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    for path in ("/_vedette/reset", "/moto-api/reset"):
        unsigned = raw_request(server.endpoint, "POST", path, b"", sign=False)
        signed = raw_request(server.endpoint, "POST", path, b"", account=account)
        assert unsigned.status >= 400 and signed.status >= 400, (unsigned.status, signed.status)
    assert gd.list_detectors()["DetectorIds"] == [detector_id]


def test_callers_are_the_configured_default_account(any_server):
    client = watch(guardduty_client(any_server.endpoint, anyone(3)))
    detector_id = client.create_detector(Enable=True)["DetectorId"]
    client.create_sample_findings(DetectorId=detector_id, FindingTypes=["Recon:EC2/Portscan"])
    (fid,) = client.list_findings(DetectorId=detector_id)["FindingIds"]
    (finding,) = client.get_findings(DetectorId=detector_id, FindingIds=[fid])["Findings"]
    assert finding["AccountId"] == DEFAULT_ACCOUNT
    assert finding["Arn"].startswith(f"arn:aws:guardduty:us-east-1:{DEFAULT_ACCOUNT}:detector/{detector_id}/")
    raw_request(any_server.endpoint, "POST", "/_vedette/reset", b"", sign=False)
