"""Runs the real aws CLI (installed into the suite's venv) against a vedette endpoint."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from vedette_harness import Account


def aws_executable() -> str:
    beside = Path(sys.executable).parent / "aws"  # the venv's own CLI, pinned in requirements.txt
    if beside.is_file():
        return str(beside)
    found = shutil.which("aws")
    if not found:
        raise FileNotFoundError("aws CLI not installed (pip install -r tests/e2e/requirements.txt)")
    return found


def run_aws(endpoint: str, account: Account, *args: str, region: str = "us-east-1",
            check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=account.access_key_id, AWS_SECRET_ACCESS_KEY=account.secret_access_key,
               AWS_DEFAULT_REGION=region, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1", AWS_PAGER="")
    proc = subprocess.run([aws_executable(), "--endpoint-url", endpoint, "--output", "json", *args],
                          capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\n"
                             f"stderr: {proc.stderr}")
    return proc


def aws_json(endpoint: str, account: Account, *args: str, **kwargs):
    out = run_aws(endpoint, account, *args, **kwargs).stdout
    return json.loads(out) if out.strip() else None
