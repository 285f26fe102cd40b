"""Runs a real `vedette serve` process and builds real AWS clients against it.

Nothing here imitates the server: every test talks HTTP to the binary the workspace builds.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import urllib3

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
STARTUP_TIMEOUT_S = 30.0


def vedette_binary() -> Path:
    """VEDETTE_BIN, else the newest of target/{release,debug}/vedette (CARGO_TARGET_DIR honoured)."""
    explicit = os.environ.get("VEDETTE_BIN")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"VEDETTE_BIN={explicit} does not exist")
        return path
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    candidates = [p for p in (target / "release" / "vedette", target / "debug" / "vedette") if p.is_file()]
    if not candidates:
        raise FileNotFoundError(
            "no vedette binary: run `cargo build -p vedette` (or set VEDETTE_BIN)")
    return max(candidates, key=lambda p: p.stat().st_mtime)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Account:
    access_key_id: str
    secret_access_key: str
    account_id: str


def make_accounts(count: int) -> list[Account]:
    # AKIA + 16 upper-case alphanumerics, like a real long-term key id.
    return [
        Account(
            access_key_id=f"AKIAVEDETTE{i:09d}",
            secret_access_key=secrets.token_urlsafe(30),
            account_id=f"{210000000000 + i:012d}",
        )
        for i in range(count)
    ]


def write_credentials(path: Path, accounts: list[Account]) -> Path:
    """The credentials file `vedette serve --credentials` reads (TOML, one table per key)."""
    lines = []
    for a in accounts:
        lines += [
            "[[credentials]]",
            f'access_key_id = "{a.access_key_id}"',
            f'secret_access_key = "{a.secret_access_key}"',
            f'account_id = "{a.account_id}"',
            "",
        ]
    path.write_text("\n".join(lines))
    return path


class VedetteServer:
    """One `vedette serve` process on a loopback port; restartable on the same data dir."""

    def __init__(self, data_dir: Path, log_dir: Path, credentials: Path | None = None,
                 auth: str = "sigv4", extra_args: tuple[str, ...] = ()):
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.credentials = credentials
        self.auth = auth
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.starts = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, port: int) -> list[str]:
        cmd = [str(vedette_binary()), "serve", "--data-dir", str(self.data_dir),
               "--listen", f"127.0.0.1:{port}", "--auth", self.auth]
        if self.credentials is not None:
            cmd += ["--credentials", str(self.credentials)]
        return cmd + list(self.extra_args)

    def start(self) -> "VedetteServer":
        assert self.proc is None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        # A port picked free can be taken before the server binds it: retry on a fresh port.
        for _attempt in range(3):
            port = free_port()
            self.starts += 1
            log_path = self.log_dir / f"serve-{self.starts}.log"
            log = open(log_path, "wb")
            env = dict(os.environ, VEDETTE_LOG=os.environ.get("VEDETTE_LOG", "info"))
            proc = subprocess.Popen(self.command(port), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env)
            log.close()
            if self._wait_ready(proc, port):
                self.proc, self.port = proc, port
                return self
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            last_error = log_path.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"vedette serve did not start; last log:\n{last_error}")

    @staticmethod
    def _wait_ready(proc: subprocess.Popen, port: int) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            time.sleep(0.05)
        return False

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("serve-*.log")))

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything that was not already durable."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code

    def restart(self) -> "VedetteServer":
        self.stop()
        return self.start()


def client_config(**overrides) -> botocore.config.Config:
    # No retries: a retried 5xx would hide a server fault from the test.
    opts = dict(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    opts.update(overrides)
    return botocore.config.Config(**opts)


def guardduty_client(endpoint: str, account: Account, region: str = REGION, **config):
    session = boto3.session.Session(
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        region_name=region,
    )
    return session.client("guardduty", endpoint_url=endpoint, config=client_config(**config))


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


_http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30))


@contextlib.contextmanager
def signing_clock(offset: datetime.timedelta) -> Iterator[None]:
    """Makes botocore's SigV4 signer believe the time is now + offset (expired-signature tests)."""
    original = botocore.auth.get_current_datetime

    def shifted(remove_tzinfo: bool = True):
        return original(remove_tzinfo) + offset

    botocore.auth.get_current_datetime = shifted
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = original


def raw_request(endpoint: str, method: str, path: str, body: bytes | str | dict | None = None,
                account: Account | None = None, region: str = REGION, sign: bool = True,
                secret_override: str | None = None, query: dict | None = None,
                headers: dict | None = None) -> RawResponse:
    """A SigV4-signed (by botocore's own signer) request with a body the test controls byte for byte."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    url = endpoint + path
    if query:
        url += "?" + "&".join(
            f"{quote(k, safe='')}={quote(str(v), safe='')}"
            for k, values in query.items()
            for v in (values if isinstance(values, list) else [values])
        )
    req_headers = {"Content-Type": "application/json"} if body is not None else {}
    req_headers.update(headers or {})
    request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body or b"", headers=req_headers)
    if sign:
        assert account is not None
        creds = botocore.credentials.Credentials(
            account.access_key_id, secret_override or account.secret_access_key)
        botocore.auth.SigV4Auth(creds, "guardduty", region).add_auth(request)
    prepared = request.prepare()
    resp = _http.request(method, prepared.url, body=prepared.body, headers=dict(prepared.headers),
                         redirect=False)
    return RawResponse(resp.status, dict(resp.headers), resp.data)


def detector_arn(account: Account, detector_id: str, region: str = REGION) -> str:
    return f"arn:aws:guardduty:{region}:{account.account_id}:detector/{detector_id}"


def run_vedette(*args: str, timeout: float = 300, check: bool = True,
                input_bytes: bytes | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(vedette_binary()), *args], capture_output=True, timeout=timeout,
                          input=input_bytes, stdin=None if input_bytes is not None else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"vedette {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout.decode(errors='replace')}"
            f"\nstderr:\n{proc.stderr.decode(errors='replace')}")
    return proc
