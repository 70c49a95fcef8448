"""``kill``/``systemctl stop`` of a demo finalises its recording instead of leaving it
for crash recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_sigterm_finalises_the_demo_recording(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = dict(os.environ, PLANTAR_HOME=str(home), PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantar.cli", "demo", "--no-browser", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if "Plantar demo:" in line or not line:
                break
        assert "Plantar demo:" in line, proc.stderr.read()
        time.sleep(8)  # past the bridge's clock settling: frames are being recorded
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        proc.kill()
    sessions = [d for d in (home / "sessions").iterdir() if d.is_dir()]
    assert len(sessions) == 1
    info = json.loads((sessions[0] / "session.json").read_text())
    assert info["status"] == "finalised"  # not "recording" (left for recovery)
    assert (sessions[0] / "left.parquet").exists() and (sessions[0] / "right.parquet").exists()
