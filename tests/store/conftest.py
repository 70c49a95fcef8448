"""Fixtures for the session store tests: a private data directory, the CLI, the real files."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def plantar_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$PLANTAR_HOME`` for one test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PLANTAR_HOME", str(home))
    return home


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    """``plantar.cli.main``, the command line in-process."""
    from plantar.cli import main

    return main


def run_cli(
    *args: str, env: dict[str, str] | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Run ``plantar ARGS`` in a subprocess (for exit codes and stderr)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    kw.setdefault("timeout", 120)
    return subprocess.run(
        [sys.executable, "-m", "plantar.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        **kw,  # type: ignore[arg-type]
    )


def shared_file(relative: str) -> Path:
    """A file of ``../shared/data``; skips the test when the folder is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real recordings not available: {path} is absent (see shared/data/README.md)")
    return path


@contextlib.contextmanager
def mounted_tmpfs(mnt: Path, options: str, why_skip: str) -> Iterator[Path]:
    """Mount a tmpfs with ``options`` on ``mnt`` (root only); skips with ``why_skip``."""
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (not root); {why_skip}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (root only); skips when mounting is not allowed."""
    with mounted_tmpfs(tmp_path / "tiny", "size=1m", "the RLIMIT_FSIZE test covers disk full") as m:
        yield m


_MEASURE = """
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(r.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stdout.write(r.stdout + "\\n--stderr--\\n" + r.stderr)
"""


def run_cli_peak_rss(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``plantar ARGS`` as the only child of a wrapper process and return its result
    and its peak RSS in MB (``resource.getrusage(RUSAGE_CHILDREN)`` in the wrapper)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    cmd = [sys.executable, "-m", "plantar.cli", *args]
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    code, rss_kb, rest = out.stdout.split("\n", 2)
    stdout, stderr = rest.split("\n--stderr--\n")
    return subprocess.CompletedProcess(cmd, int(code), stdout, stderr), int(rss_kb) / 1024
