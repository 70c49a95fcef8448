"""Shared inputs of the analysis tests: simulated runs with ground truth and the real
Moticon files (module/session scoped so numba compiles once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from base.frames import FootFrames
from hardware.layout import Layout, load_layout

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
MOTICON_FILE = SHARED_DATA / "moticon" / "230927_102114.txt"


@dataclass
class SimRun:
    feet: dict[str, FootFrames]
    layouts: dict[str, Layout]
    truth: dict[str, list]
    dead: dict[str, np.ndarray]


def sim_run(seconds: float, *, seed: int = 1, rate_hz: float = 200.0, **gait_kw) -> SimRun:
    """Both feet of a simulated run; frame times are the simulator's true times."""
    from hardware.sim.gait_model import GaitParams
    from hardware.sim.insole import make_pair

    imperfections = gait_kw.pop("imperfections", None)
    left, right = make_pair(
        "plantar-ref",
        gait=GaitParams(**gait_kw),
        seed=seed,
        sampling_rate_hz=rate_hz,
        imperfections=imperfections,
    )
    feet, truth, dead = {}, {}, {}
    for ins in (left, right):
        b = ins.samples(int(seconds * rate_hz))
        keep = ~b.lost
        feet[ins.foot] = FootFrames(
            foot=ins.foot,
            device_id=ins.device_id,
            seq=b.seq[keep],
            t_device_us=b.t_device_us[keep],
            t_s=b.t_true_s[keep],
            pressure_kpa=b.measured_pressure_kpa[keep],
            shear_kpa=b.measured_shear_kpa[keep],
        )
        truth[ins.foot] = [s for s in ins.ground_truth if s.complete]
        dead[ins.foot] = ins.dead_sensels
    return SimRun(feet, {f: load_layout("plantar-ref", foot=f) for f in feet}, truth, dead)


@pytest.fixture(scope="session")
def sim60() -> SimRun:
    """60 s of running with the default imperfections (noise, dead sensel, frame loss)."""
    return sim_run(60.0, seed=4)


@pytest.fixture(scope="session")
def sim60_analysis(sim60: SimRun) -> dict:
    from analysis.analyzer import analyze_recording

    return analyze_recording(sim60.feet, sim60.layouts, speed_mps=3.3)


@pytest.fixture(scope="session")
def moticon():
    if not MOTICON_FILE.exists():
        pytest.skip(f"real Moticon data not found at {MOTICON_FILE}")
    from store.importers.moticon import read_moticon

    return read_moticon(MOTICON_FILE)


def match_truth(steps: list[dict], truth: list, tol_s: float = 0.05) -> list[tuple[dict, object]]:
    """Pairs (detected step, true step) whose heel strikes are within ``tol_s``."""
    if not truth:
        return []
    hs = np.array([g.heel_strike_s for g in truth])
    pairs = []
    for st in steps:
        j = int(np.argmin(np.abs(hs - st["heel_strike_s"])))
        if abs(hs[j] - st["heel_strike_s"]) < tol_s:
            pairs.append((st, truth[j]))
    return pairs
