"""Crash safety: SIGKILL a recording process at 20 random points, restart, check every frame.

Each child records two synthetic insoles in real time (2 x 200 Hz, batches of 10 frames)
and reports every batch it handed to the recorder with its monotonic time. The parent
kills it at a random moment (during start-up and recovery of the previous session,
while recording, while finalising, or after a clean exit). The next child's start
recovers the previous session. At the end every frame handed over more than 1 s before
its kill must be readable and bit-identical to what was sent, and no session may be left
unfinalised or unreadable.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from store.catalog import Catalog
from store.recovery import recover_interrupted
from store.session import list_session_dirs, read_session_json
from store.synthetic import synthetic_frames
from tests.store.conftest import REPO

BATCH = 10
RATE_HZ = 200.0
KILLS = 20

CHILD = """
import sys, time
from store.recorder import Recorder
from store.session import SessionMeta
from store.synthetic import synthetic_frames
rec = Recorder(SessionMeta(athlete="crash"), flush_interval_s=0.5)
rec.start()
print("S", rec.session_id, flush=True)
duration = float(sys.argv[1])
t0 = time.monotonic()
k = 0
while time.monotonic() - t0 < duration:
    due = int((time.monotonic() - t0) * 200.0 / 10)
    while k < due:
        for foot in ("left", "right"):
            rec.write_frames(synthetic_frames(foot, k * 10, 10))
        print("B", k, time.monotonic(), flush=True)
        k += 1
    time.sleep(0.005)
rec.stop()
print("D", flush=True)
"""


def _run_and_kill(
    rng: random.Random, env: dict[str, str]
) -> tuple[str | None, dict[int, float], float]:
    """Run one child and SIGKILL it; returns its session id, batch times and the kill time.

    A quarter of the kills land in start-up (imports, recovery of the previous session);
    the others at a random moment after recording started (recording, finalising, or
    after a clean exit).
    """
    duration = rng.uniform(0.3, 1.6)
    during_startup = rng.random() < 0.25
    kill_after = rng.uniform(0.0, 0.6) if during_startup else rng.uniform(0.0, 2.0)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, f"{duration:.3f}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    session: list[str] = []
    batches: dict[int, float] = {}
    started = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            parts = line.split()
            if parts[:1] == ["S"]:
                session.append(parts[1])
                started.set()
            elif parts[:1] == ["B"]:
                batches[int(parts[1])] = float(parts[2])
        started.set()

    reader = threading.Thread(target=read)
    reader.start()
    if not during_startup:
        started.wait(30)
    time.sleep(kill_after)
    killed_at = time.monotonic()
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join()
    return (session[0] if session else None), batches, killed_at


def _check_session(directory: Path, batches: dict[int, float], killed_at: float) -> None:
    info = read_session_json(directory)
    assert info["status"] in ("finalised", "recovered"), directory
    assert not list(directory.glob("*.arrows")), directory
    required = [k for k, t in batches.items() if t < killed_at - 1.0]
    for foot in ("left", "right"):
        path = directory / f"{foot}.parquet"
        if not path.exists():
            assert not required, f"{directory.name}: {foot} lost {len(required)} old batches"
            continue
        table = pq.read_table(path)
        n = table.num_rows
        seq = table.column("seq").to_numpy()
        assert np.array_equal(seq, np.arange(n)), f"{directory.name}: seq not contiguous"
        assert n % BATCH == 0
        if required:
            late = killed_at - batches[max(required)]
            assert n >= (max(required) + 1) * BATCH, (
                f"{directory.name} {foot}: {n} frames on disk, needed "
                f"{(max(required) + 1) * BATCH} (last required batch sent {late:.2f} s "
                f"before the kill)"
            )
        sent = [synthetic_frames(foot, k * BATCH, BATCH) for k in range(n // BATCH)]
        if not sent:
            continue
        pressure = table.column("pressure_kpa").combine_chunks().values.to_numpy()
        shear = table.column("shear_kpa").combine_chunks().values.to_numpy()
        assert pressure.tobytes() == np.concatenate([f.pressure_kpa for f in sent]).tobytes()
        assert shear.tobytes() == np.concatenate([f.shear_kpa for f in sent]).tobytes()
        assert np.array_equal(
            table.column("t_device_us").to_numpy(),
            np.concatenate([f.t_device_us for f in sent]),
        )
        assert np.array_equal(table.column("t_s").to_numpy(), np.concatenate([f.t_s for f in sent]))


@pytest.mark.slow
def test_sigkill_at_twenty_random_points_loses_nothing_older_than_one_second(
    plantar_home: Path,
) -> None:
    rng = random.Random(int(os.environ.get("PLANTAR_CRASH_SEED", "20261121")))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PLANTAR_HOME": str(plantar_home)}
    started = time.monotonic()
    runs = []
    for _ in range(KILLS):
        runs.append(_run_and_kill(rng, env))
    recover_interrupted()  # the restart after the last kill
    sessions = {d.name: d for d in list_session_dirs()}
    recorded = [(sid, b, k) for sid, b, k in runs if sid is not None]
    assert len(recorded) >= KILLS // 2, "most children should have started recording"
    assert sum(1 for _, b, _ in recorded if b) >= KILLS // 3, "too few kills while recording"
    for sid, batches, killed_at in recorded:
        assert sid in sessions
        _check_session(sessions[sid], batches, killed_at)
    for directory in sessions.values():  # zero corrupt sessions, including unreported ones
        assert read_session_json(directory)["status"] in ("finalised", "recovered")
        for parquet in directory.glob("*.parquet"):
            pq.read_table(parquet)
    catalog = {r["id"]: r for r in Catalog().list_sessions()}
    for sid in sessions:
        assert catalog[sid]["status"] in ("finalised", "recovered")
    assert time.monotonic() - started < 60
