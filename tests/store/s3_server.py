"""A real S3 API over HTTP on localhost: moto's standalone server in a subprocess.

The server logs one line per request on stderr (werkzeug's access log,
``"PUT /bucket/key HTTP/1.1" 200 -``); :meth:`S3Server.writes` counts the requests that
change the bucket, so a test can show that a run sent nothing.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

_WRITE = re.compile(r'"(PUT|POST|DELETE) ')


@dataclass
class S3Server:
    """A running server: its endpoint, its request log and the env a client needs."""

    endpoint_url: str
    log: Path

    @property
    def env(self) -> dict[str, str]:
        """The AWS_* variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def filesystem(self) -> pafs.S3FileSystem:
        """A pyarrow client of this server (that may create buckets)."""
        return pafs.S3FileSystem(
            endpoint_override=self.endpoint_url.split("://")[1],
            scheme="http",
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
            allow_bucket_creation=True,
        )

    def writes(self) -> int:
        """Requests so far that create, change or delete objects."""
        return len(_WRITE.findall(self.log.read_text(errors="replace")))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server(directory: Path, deadline_s: float = 60.0) -> Iterator[S3Server]:
    """Start ``moto.server`` on a free port, wait until it answers, stop it afterwards."""
    port = _free_port()
    log = directory / "moto.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = S3Server(f"http://127.0.0.1:{port}", log)
    try:
        end = time.monotonic() + deadline_s
        while True:
            try:
                with urllib.request.urlopen(server.endpoint_url + "/moto-api/", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError(
                        f"moto server did not start: {log.read_text(errors='replace')[-500:]}"
                    ) from None
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
