"""Fixtures: real `vedette serve` processes, per-test accounts, boto3 clients whose every response
is checked against botocore's model (see `schema_conformance`)."""
from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import pytest

import schema_check
from moto_s3 import start_moto_s3
from vedette_harness import (
    REGION,
    Account,
    VedetteServer,
    guardduty_client,
    make_accounts,
    vedette_binary,
    write_credentials,
)

# Enough distinct accounts that every test gets fresh ones (one detector per account and region).
ACCOUNT_POOL_SIZE = 400


@pytest.fixture(scope="session")
def vedette_bin() -> Path:
    return vedette_binary()


@pytest.fixture(scope="session")
def all_accounts() -> list[Account]:
    return make_accounts(ACCOUNT_POOL_SIZE)


@pytest.fixture(scope="session")
def credentials_file(tmp_path_factory, all_accounts) -> Path:
    return write_credentials(tmp_path_factory.mktemp("creds") / "credentials.toml", all_accounts)


@pytest.fixture(scope="session")
def server(tmp_path_factory, vedette_bin, credentials_file):
    """The shared SigV4 server. Tests isolate themselves by account, not by restarting it."""
    root = tmp_path_factory.mktemp("serve")
    srv = VedetteServer(root / "data", root / "logs", credentials=credentials_file, auth="sigv4").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def moto_s3():
    """A real S3-compatible server (moto) on a loopback port, shared by the session: tests keep
    apart by bucket name. `.endpoint`, `.client()` (boto3 S3), `.serve_args()` (vedette flags)."""
    srv = start_moto_s3()
    yield srv
    srv.stop()


_pool_lock = threading.Lock()


@pytest.fixture(scope="session")
def account_pool(all_accounts):
    return iter(all_accounts)


def _next_account(pool) -> Account:
    with _pool_lock:
        try:
            return next(pool)
        except StopIteration:
            raise RuntimeError("account pool exhausted: raise ACCOUNT_POOL_SIZE") from None


@pytest.fixture
def account(account_pool) -> Account:
    return _next_account(account_pool)


@pytest.fixture
def other_account(account_pool) -> Account:
    return _next_account(account_pool)


@pytest.fixture
def new_account(account_pool):
    """Factory for tests that need several fresh accounts."""
    return lambda: _next_account(account_pool)


# ---- schema conformance of every response any test receives ---------------------------------

_captured: list[tuple[str, int, dict, bytes]] = []


def _capture(http_response, model, **_kwargs):
    _captured.append((model.name, http_response.status_code, dict(http_response.headers),
                      http_response.content))


def watch(client):
    """Registers the capture hook: every response this client receives is schema-checked."""
    client.meta.events.register("after-call.guardduty", _capture)
    return client


@pytest.fixture
def make_client(server):
    def make(account: Account, region: str = REGION, endpoint: str | None = None, **config):
        return watch(guardduty_client(endpoint or server.endpoint, account, region, **config))
    return make


@pytest.fixture
def gd(make_client, account):
    return make_client(account)


@pytest.fixture
def detector_id(gd) -> str:
    return gd.create_detector(Enable=True)["DetectorId"]


def conformance_violations(records) -> list[str]:
    problems = []
    for op_name, status, headers, body in records:
        if not any(k.lower() == "x-amzn-requestid" and v for k, v in headers.items()):
            problems.append(f"{op_name} {status}: no x-amzn-RequestId header")
        if status >= 300 and not any(k.lower() == "x-amzn-errortype" for k in headers):
            problems.append(f"{op_name} {status}: error without x-amzn-ErrorType header")
        problems += schema_check.check_response(op_name, status, body)
    return problems


@pytest.fixture(autouse=True)
def schema_conformance(request):
    """After each test, every response its boto3 clients received must conform to the model."""
    _captured.clear()
    yield
    records = list(_captured)
    _captured.clear()
    if "no_schema_check" in request.keywords:
        return
    problems = conformance_violations(records)
    if problems:
        shown = "\n  ".join(problems[:25])
        pytest.fail(f"{len(problems)} response(s) violate botocore's GuardDuty model:\n  {shown}",
                    pytrace=False)


def pytest_configure(config):
    config.addinivalue_line("markers", "no_schema_check: the test sends deliberately odd requests")
    # The suite must not pick up the developer's own AWS profile, region or credentials.
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_GUARDDUTY"):
        os.environ.pop(var, None)
