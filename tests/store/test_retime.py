"""Re-timing at finalise and recovery: the settled clock fit over the stored arrival times.

Frames go through the real :class:`store.recorder.Recorder` (Arrow streams on disk), one
batch per chunk as the bridge hands them on, with device times of a drifting clock and
arrival times with jitter; the first chunk arrives late, so its provisional times are
off. Finalise and recovery must both rewrite ``t_s`` to the replayed clock fit and move
the foot's events with their frames.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from firmware_bridge.clock import never_back
from firmware_bridge.clock_replay import replay_session_times
from store.recorder import Recorder
from store.recovery import recover_interrupted
from store.retime import EVENT_SHIFT_STEP_S
from store.session import FootLayout, SessionMeta
from store.synthetic import synthetic_frames

RATE_HZ = 200
CHUNK = 4  # frames per chunk
SECONDS = 8.0
LATE_S = 0.030  # the first chunk's extra delay


def _chunks(foot: str, ppm: float, seed: int) -> list:
    """One foot's frames as the bridge hands them on: per chunk, provisional ``t_s`` (the
    arrival minus the least delay seen so far, never stepping back) and its arrival."""
    rng = np.random.default_rng(seed)
    n = int(SECONDS * RATE_HZ)
    t_true = np.arange(n) / RATE_HZ
    t_dev = np.rint(2e6 + (1 + ppm * 1e-6) * t_true * 1e6).astype(np.int64)
    out, best, last = [], np.inf, -np.inf
    for k, lo in enumerate(range(0, n, CHUNK)):
        hi = min(lo + CHUNK, n)
        arrival = t_true[hi - 1] + 1e-3 + rng.uniform(0, 0.02) + (LATE_S if k == 0 else 0.0)
        best = min(best, arrival - (t_dev[hi - 1] - t_dev[0]) * 1e-6)
        frames = synthetic_frames(foot, lo, hi - lo, sampling_rate_hz=RATE_HZ)
        provisional = never_back(best + (t_dev[lo:hi] - t_dev[0]) * 1e-6, last)
        last = float(provisional[-1])
        out.append(
            dataclasses.replace(
                frames,
                t_device_us=t_dev[lo:hi],
                t_s=provisional,
                t_arrival_s=np.full(hi - lo, arrival),
            )
        )
    return out


def _record(finalise: bool) -> Path:
    meta = SessionMeta(feet={f: FootLayout("plantar-ref", 42.0) for f in ("left", "right")})
    rec = Recorder(meta, catalog=False, flush_interval_s=0.05).start()
    for foot, ppm, seed in (("left", 40.0, 1), ("right", -60.0, 2)):
        for frames in _chunks(foot, ppm, seed):
            assert rec.write_frames(frames)
        first = _chunks(foot, ppm, seed)[0]
        rec.write_event("step", float(first.t_s[-1]), foot=foot, value=0.25)
    rec.write_event("marker", 1.0)  # no foot: left alone
    rec.stop(finalise=finalise)
    assert rec.directory is not None
    return rec.directory


def _read(directory: Path) -> dict[str, np.ndarray]:
    out = {}
    for foot in ("left", "right"):
        table = pq.read_table(directory / f"{foot}.parquet")
        out[foot] = table.column("t_s").to_numpy()
        replayed = replay_session_times(
            table.column("t_device_us").to_numpy(), table.column("t_arrival_s").to_numpy()
        )
        assert out[foot].tobytes() == replayed.tobytes(), f"{foot}: not the replayed fit"
    events = pq.read_table(directory / "events.parquet").to_pydict()
    for foot, t_s in zip(events["foot"], events["t_s"], strict=True):
        out[f"event-{foot}"] = np.array([t_s])
    return out


def test_finalise_and_recovery_rewrite_the_provisional_times_alike(plantar_home: Path) -> None:
    stopped = _read(_record(finalise=True))
    killed_dir = _record(finalise=False)  # as if the process had died: still "recording"
    (report,) = recover_interrupted(catalog=False)
    assert report.status == "recovered"
    recovered = _read(killed_dir)
    for key, values in stopped.items():
        assert values.tobytes() == recovered[key].tobytes(), key
    for foot, ppm, seed in (("left", 40.0, 1), ("right", -60.0, 2)):
        provisional = np.concatenate([c.t_s for c in _chunks(foot, ppm, seed)])
        change = stopped[foot] - provisional
        # the late first chunk moved to the settled fit (about LATE_S earlier)
        assert change[0] < -0.5 * LATE_S, change[:CHUNK]
        # the step at the first chunk's last frame moved with it
        assert abs(stopped[f"event-{foot}"][0] - stopped[foot][CHUNK - 1]) < 2 * EVENT_SHIFT_STEP_S
    assert stopped["event-None"][0] == 1.0
