"""A real S3-compatible server (moto's, from PyPI `moto[server]`) on a loopback port, in its own
process, for the tests of S3 publishing destinations and S3 sinks.

The child binds port 0 itself and prints the port it got, so there is no window in which another
process can take a port picked for it. It serves until its stdin closes: if pytest dies, the
server goes with it.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import boto3

from vedette_harness import REGION, client_config

# moto keeps every bucket in memory, keyed by the account its access key maps to; any key it does
# not know maps to its default account, so Vedette and the tests share buckets by using these.
MOTO_ACCESS_KEY_ID = "AKIAMOTOVEDETTETEST1"
MOTO_SECRET_ACCESS_KEY = "moto-test-secret-not-a-real-key"

_CHILD = r"""
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()          # until the parent closes the pipe
server.stop()
"""


@dataclass
class MotoS3:
    proc: subprocess.Popen
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self):
        """A boto3 S3 client on this server (path-style, like Vedette's own requests)."""
        session = boto3.session.Session(aws_access_key_id=MOTO_ACCESS_KEY_ID,
                                        aws_secret_access_key=MOTO_SECRET_ACCESS_KEY, region_name=REGION)
        return session.client("s3", endpoint_url=self.endpoint,
                              config=client_config(s3={"addressing_style": "path"}))

    def serve_args(self) -> tuple[str, ...]:
        """`vedette serve` flags that point its S3 client at this server."""
        return ("--s3-endpoint", self.endpoint, "--s3-region", REGION,
                "--s3-access-key-id", MOTO_ACCESS_KEY_ID, "--s3-secret-access-key", MOTO_SECRET_ACCESS_KEY)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def start_moto_s3() -> MotoS3:
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()  # blocks until the port is printed or the child exits
    if not line.strip().isdigit():
        proc.kill()
        proc.wait()
        raise RuntimeError(f"moto server did not start (printed {line!r}); is moto[server] installed?")
    return MotoS3(proc, int(line))
