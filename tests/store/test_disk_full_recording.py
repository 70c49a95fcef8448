"""A disk that fills while recording, for real (a 2 MiB tmpfs; root only, else skipped):
``plantar sessions`` says "disk full", never "disk I/O error", and the recovered session
counts the frames the recorder refused (issue 16, item 7)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.recorder import Recorder
from store.session import REFUSED_FILE, SessionMeta
from store.synthetic import synthetic_frames
from tests.store.conftest import mounted_tmpfs, run_cli

BALLAST_BYTES = 1024 * 1024
REFUSED_BATCHES = 137


@pytest.fixture
def small_home(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "small", "size=2m", "disk full needs a real small disk") as m:
        yield m


def test_disk_full_is_named_and_refused_frames_are_counted(
    small_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANTAR_HOME", str(small_home))
    ballast = small_home / "ballast"
    ballast.write_bytes(b"\1" * BALLAST_BYTES)
    rec = Recorder(SessionMeta(athlete="full"), flush_interval_s=0.02).start()
    k = 0
    deadline = time.monotonic() + 120
    while rec.error is None and time.monotonic() < deadline:
        rec.write_frames(synthetic_frames("left", k * 10, 10, n_sensels=256))
        k += 1
        time.sleep(0.001)
    assert rec.error is not None, "the disk never filled"
    # the writer thread sets the error; a batch queued in the same instant may still be
    # taken (and dropped later, counted). From the first refusal on, every batch is refused.
    while rec.write_frames(synthetic_frames("left", k * 10, 10, n_sensels=256)):
        k += 1
        assert time.monotonic() < deadline, "writes still accepted after the disk filled"
    k += 1
    for j in range(REFUSED_BATCHES):
        assert not rec.write_frames(synthetic_frames("left", (k + j) * 10, 10, n_sensels=256))
    rec.stop()
    refused = sum(rec.status().frames_dropped.values())
    assert refused >= 10 * REFUSED_BATCHES
    assert rec.directory is not None
    on_disk = json.loads((rec.directory / REFUSED_FILE).read_text())
    assert sum(f["frames"] for f in on_disk["feet"].values()) == refused

    env = {"PLANTAR_HOME": str(small_home)}
    full = run_cli("sessions", env=env)
    assert "disk full" in full.stderr, full.stderr
    assert "disk I/O error" not in full.stderr and "Traceback" not in full.stderr

    ballast.unlink()  # the user frees space; the next command recovers the session
    listed = run_cli("sessions", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["id"] == rec.session_id)
    assert row["status"] == "recovered"
    assert row["dropped_frames"] == refused
    assert not (rec.directory / REFUSED_FILE).exists()


@pytest.mark.slow
def test_demo_exits_non_zero_when_its_recording_fails(small_home: Path) -> None:
    # leave ~0.5 MiB: filled within a few seconds of recording even when a busy machine
    # takes seconds to open the links
    (small_home / "ballast").write_bytes(b"\1" * (BALLAST_BYTES + BALLAST_BYTES // 2))
    out = run_cli(
        "demo",
        "--no-browser",
        "--port",
        "0",
        "--duration",
        "12",
        env={"PLANTAR_HOME": str(small_home)},
        timeout=400,  # a cold numba cache compiles first
    )
    errors = [line for line in out.stderr.splitlines() if line.startswith("plantar: error: ")]
    assert out.returncode != 0, out.stderr
    assert len(errors) == 1 and "disk full" in errors[0], out.stderr
    assert "Traceback" not in out.stderr
