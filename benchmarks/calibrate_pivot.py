"""The simulator's pivot against the free moment of real treadmill running.

Run ``PYTHONPATH=. .venv/bin/python benchmarks/calibrate_pivot.py`` from the repository
root (``--data DIR`` for another folder of Fukuchi ``*forces.txt`` files; default
``../shared/data/fukuchi-running``; ``--json`` for one JSON document).

Prints, per file and foot, the statistics of :mod:`hardware.sim.pivot_calibration` (the
late-stance peak of the free moment, its step-to-step CV and the stance phase of the
peak) and the same statistics of the simulator's ground truth (the continuous field's
free moment, noise-free) at the three speeds, with the Fukuchi runs' median contact time
and cadence. The simulator's defaults (``GaitParams.pivot_shear_kpa``,
``Imperfections.pivot_cv`` / ``pivot_timing_sd``, ``gait_model.PIVOT_PEAK_TAU``) were set
from this table; docs/metrics.md records it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hardware.sim.gait_model import GaitParams
from hardware.sim.insole import make_pair
from hardware.sim.pivot_calibration import (
    FUKUCHI_SPEEDS as SPEEDS,
)
from hardware.sim.pivot_calibration import (
    FreeMomentStats,
    force_plate_stats,
    simulator_stats,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "fukuchi-running"


def simulated(seconds: float = 60.0, rate_hz: float = 300.0) -> list[FreeMomentStats]:
    """The simulator's statistics at each speed (left foot, seed 1)."""
    out = []
    for speed, (contact_s, cadence) in SPEEDS.items():
        gait = GaitParams(speed_mps=speed, contact_time_s=contact_s, cadence_spm=cadence)
        left, _ = make_pair("plantar-ref", gait=gait, seed=1, sampling_rate_hz=rate_hz)
        block = left.samples(int(seconds * rate_hz))
        out.append(
            simulator_stats(
                block.step_index,
                block.stance_phase,
                block.pivot_torque_nmm,
                rate_hz,
                source=f"simulator {speed:g} m/s",
                cadence_spm=cadence,
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of *forces.txt")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()
    files = sorted(args.data.glob("*forces.txt"))
    real = [s for f in files for s in force_plate_stats(f)]
    sim = simulated()
    if args.json:
        print(json.dumps({"real": [s.to_dict() for s in real], "sim": [s.to_dict() for s in sim]}))
        return
    print("| source | foot | steps | contact (s) | cadence | late peak (N·m) | CV | peak at |")
    print("|---|---|---|---|---|---|---|---|")
    for s in [*real, *sim]:
        print(
            f"| {s.source} | {s.foot} | {s.steps} | {s.contact_time_s:.3f} | "
            f"{s.cadence_spm:.0f} | {s.late_peak_nmm / 1000:.1f} | {s.late_peak_cv:.2f} | "
            f"{s.peak_tau:.2f} ± {s.peak_tau_sd:.2f} |"
        )
    if real:
        peaks = np.array([s.late_peak_nmm for s in real]) / 1000
        cvs = np.array([s.late_peak_cv for s in real])
        taus = np.array([s.peak_tau for s in real])
        print(
            f"\nreal, median (range) over {len(real)} file-feet: late peak "
            f"{np.median(peaks):.1f} ({peaks.min():.1f}-{peaks.max():.1f}) N·m, CV "
            f"{np.median(cvs):.2f} ({cvs.min():.2f}-{cvs.max():.2f}), peak at "
            f"{np.median(taus):.2f} ({taus.min():.2f}-{taus.max():.2f}) of stance"
        )


if __name__ == "__main__":
    main()
