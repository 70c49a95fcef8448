"""The first run after installing: numba's cache is empty, and the link must still open.

JIT compilation of the decoder takes seconds; it must not count against the time an
insole has to answer the handshake (a fresh Pi would otherwise fail its first demo).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_stream_opens_serial_insoles_with_a_cold_numba_cache(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PLANTAR_HOME": str(tmp_path / "home")}
    sim = subprocess.Popen(
        [sys.executable, "-m", "plantar.cli", "sim", "--json", "--duration", "600", "--ideal"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert sim.stdout is not None
        devices = json.loads(sim.stdout.readline())["devices"]
        cold = {**env, "NUMBA_CACHE_DIR": str(tmp_path / "empty-numba-cache")}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "plantar.cli",
                "stream",
                "--json",
                "--quiet",
                "--duration",
                "2",
                f"serial://{devices['left']}",
                f"serial://{devices['right']}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=cold,
        )
    finally:
        sim.kill()
        sim.wait()
    assert result.returncode == 0, result.stderr
    assert any((tmp_path / "empty-numba-cache").rglob("*.nbi")), "the cache was not cold"
    feet = json.loads(result.stdout.strip().splitlines()[-1])["feet"]
    for foot in ("left", "right"):
        assert feet[foot]["bytes_received"] > 0
        assert feet[foot]["bad_frames"] == 0
