"""``plantar import`` of a large file shows a progress bar on a terminal (a real pseudo-
terminal here) and nothing but its JSON document with ``--json``."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.store.test_streaming_import import _big_gaitpdb

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")


def _run_on_pty(args: list[str], home: Path) -> tuple[int, str]:
    """Run ``plantar ARGS`` with stdout and stderr on a pty; returns (exit code, output)."""
    master, slave = os.openpty()
    env = {**os.environ, "PLANTAR_HOME": str(home), "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantar.cli", *args],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env, cwd=REPO,
    )  # fmt: skip
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(30), out.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.txt"
    _big_gaitpdb(path, 30_000_000)
    return path


def test_import_shows_progress_on_a_terminal(big_file: Path, tmp_path: Path) -> None:
    code, out = _run_on_pty(["import", str(big_file), "--format", "gaitpdb"], tmp_path)
    assert code == 0, out
    assert "plantar: importing big.txt" in out
    assert "%" in out  # the bar's share done
    assert "imported " in out


def test_import_json_on_a_terminal_is_only_json(big_file: Path, tmp_path: Path) -> None:
    code, out = _run_on_pty(["import", str(big_file), "--format", "gaitpdb", "--json"], tmp_path)
    assert code == 0, out
    assert "importing" not in out and "\x1b[" not in out
    doc = json.loads(out.strip())
    assert doc["frames_per_foot"]["left"] > 100_000


def test_archive_shows_progress_on_a_terminal_and_only_json_with_json(tmp_path: Path) -> None:
    from tests.store.archive_helpers import record_sessions

    home = tmp_path / "home"
    record_sessions(home / "sessions", 2)
    code, out = _run_on_pty(["archive", "--to", str(tmp_path / "lake"), "--no-steps"], home)
    assert code == 0, out
    assert "plantar: archiving to" in out and "archived 2 session(s)" in out
    code, out = _run_on_pty(
        ["archive", "--to", str(tmp_path / "lake"), "--no-steps", "--json"], home
    )
    assert code == 0, out
    assert "archiving" not in out and "\x1b[" not in out
    assert json.loads(out.strip())
