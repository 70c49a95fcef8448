"""Simulated sessions written straight into a session store (no pty, no real time)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from base.frames import FootFrames
from hardware.sim import GaitParams, make_pair
from hardware.sim.insole import DEFAULT_LEFT_IMPERFECTIONS, DEFAULT_RIGHT_IMPERFECTIONS
from store.recorder import Recorder
from store.session import FootLayout, SessionMeta

RATE_HZ = 100.0


def record_sim_session(
    root: Path,
    *,
    steps: int = 600,
    seed: int = 1,
    athlete: str = "runner",
    shoe: str = "shoe1",
    sock: str = "A",
    speed_kmh: float = 11.9,
    catalog: object = None,
    dead_sensels: tuple[int, int] = (37, 101),
    **gait_kw: float,
) -> str:
    """Simulate ``steps`` steps (both feet together) and record them as one session.

    Frames come from the simulator's ``samples()`` (measured values, lost frames left
    out as sequence gaps) and go through :class:`store.recorder.Recorder`; returns the
    session id. ``dead_sensels`` (left, right) is a property of the insole pair, so it is
    the same in every session of one experiment (the seed changes the run, not the
    hardware).
    """
    gait = GaitParams(speed_mps=speed_kmh / 3.6, **gait_kw)
    imps = (
        replace(DEFAULT_LEFT_IMPERFECTIONS, dead_sensel_indices=(dead_sensels[0],)),
        replace(DEFAULT_RIGHT_IMPERFECTIONS, dead_sensel_indices=(dead_sensels[1],)),
    )
    left, right = make_pair(
        "plantar-ref", gait=gait, seed=seed, sampling_rate_hz=RATE_HZ, imperfections=imps
    )
    seconds = (steps + 8) / (gait.cadence_spm / 60.0)
    meta = SessionMeta(
        athlete=athlete,
        shoe=shoe,
        sock=sock,
        treadmill_speed_kmh=speed_kmh,
        source="sim",
        feet={f: FootLayout("plantar-ref", None) for f in ("left", "right")},
    )
    rec = Recorder(meta, root=root, max_queued_frames=10_000_000, catalog=catalog, recover=False)
    rec.start()
    n = int(seconds * RATE_HZ)
    for ins in (left, right):
        b = ins.samples(n)
        keep = ~b.lost
        rec.write_frames(
            FootFrames(
                foot=ins.foot,
                device_id=ins.device_id,
                seq=b.seq[keep].astype(np.int64),
                t_device_us=b.t_device_us[keep].astype(np.int64),
                t_s=b.t_true_s[keep],
                pressure_kpa=b.measured_pressure_kpa[keep],
                shear_kpa=b.measured_shear_kpa[keep],
            )
        )
    rec.stop()
    rec.raise_for_error()
    return rec.session_id
