"""Start ``plantar serve`` as a subprocess and read the URL it prints (shared by tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: generous: the first start on a busy machine loads numba's cache and the simulators
START_TIMEOUT_S = 180.0


def start_serve(tmp: Path, args: list[str]) -> tuple[subprocess.Popen[str], str]:
    """``plantar serve ARGS`` with ``PLANTAR_HOME=tmp/home``; (process, the page's URL).

    stderr goes to a log file under ``tmp`` (a pipe nobody reads could fill), whose text
    the assertion shows if the URL never comes.
    """
    env = dict(os.environ, PLANTAR_HOME=str(tmp / "home"), PYTHONPATH=str(REPO))
    log = tmp / f"serve-{time.monotonic_ns()}.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "plantar.cli", "serve", *args],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
        )  # fmt: skip
    assert proc.stdout is not None
    t_end = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < t_end:
        line = proc.stdout.readline()
        if "Plantar dashboard:" in line:
            return proc, line.split("Plantar dashboard:", 1)[1].strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    proc.wait()
    raise AssertionError(f"serve did not print its URL: {log.read_text()}")
