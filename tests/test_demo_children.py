"""``plantar demo`` killed outright (SIGKILL, OOM killer) leaves no simulator behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone: it holds no CPU or memory)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_sigkill_of_demo_leaves_no_child(tmp_path: Path) -> None:
    env = dict(os.environ, PLANTAR_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantar.cli", "demo", "--no-browser", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: list[int] = []
    try:
        assert proc.stderr is not None
        t_end = time.monotonic() + 300  # a cold numba cache compiles first
        said: list[str] = []
        while time.monotonic() < t_end:
            said.append(proc.stderr.readline())
            if "simulated insoles on" in said[-1] or (not said[-1] and proc.poll() is not None):
                break
        assert proc.poll() is None, f"demo ended before its simulator was up: {said}"
        children = _children(proc.pid)
        assert children, "the demo has no child process to check"
        proc.kill()
        proc.wait(timeout=60)
        t_kill = time.monotonic()
        while any(_alive(c) for c in children) and time.monotonic() - t_kill < 2.0:
            time.sleep(0.02)
        left = [c for c in children if _alive(c)]
        assert left == [], f"children still running 2 s after SIGKILL of the demo: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for c in children:  # the saved list: proc.pid may name another process by now
            if _alive(c):
                os.kill(c, signal.SIGKILL)
