"""Pivot recovery: the shear estimator's free-moment peak per step against the simulator's
ground truth (the free moment of the continuous shear field over the whole insole, not the
5 sampled sites the estimator reads), across running speed, sampling rate and shear noise.

Run ``PYTHONPATH=. .venv/bin/python benchmarks/bench_pivot_recovery.py`` (from the
repository root; ``--seconds 40`` for a quicker, noisier run, ``--json`` for one JSON
document). Numbers are recorded in docs/metrics.md.

Per configuration: one simulated foot (plantar-ref, left) running ``--seconds`` with the
calibrated pivot (``hardware.sim.pivot_calibration``), frame loss off (its effect is
measured in tests/analysis/test_metrics.py), analysed by
:func:`analysis.analyzer.analyze_recording`; steps are matched to the truth by heel
strike (within 50 ms) and Pearson r is taken over the matched steps with a valid pivot.
Each cell is the mean (and the lowest) r over ``--seeds`` runs of different seeds (the
seed moves the dead sensel, the step-to-step draws and the noise; one run's r varies by
about +-0.01). Speeds use the Fukuchi runs' median contact time and cadence.

The first table holds speed x rate at ``--noise`` kPa; the second sweeps the shear noise
(SD per shear component, kPa) at each speed's 100 Hz, and states the lowest noise where r
falls below 0.95.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from analysis.analyzer import analyze_recording
from analysis.records import PivotValue
from base.frames import FootFrames
from hardware.layout import load_layout
from hardware.sim.gait_model import GaitParams
from hardware.sim.imperfections import Imperfections
from hardware.sim.insole import make_pair
from hardware.sim.pivot_calibration import FUKUCHI_SPEEDS as SPEEDS

RATES_HZ = (100.0, 200.0, 500.0)
NOISE_KPA = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
R_BAR = 0.95


def recovery(
    speed_mps: float, rate_hz: float, noise_kpa: float, seconds: float, seed: int = 3
) -> dict[str, float]:
    """Pearson r (and n) of the measured pivot against the continuous-field truth."""
    contact_s, cadence = SPEEDS[speed_mps]
    gait = GaitParams(speed_mps=speed_mps, contact_time_s=contact_s, cadence_spm=cadence)
    imp = Imperfections(shear_noise_kpa=noise_kpa, loss_probability=0.0, burst_probability=0.0)
    left, _ = make_pair(
        "plantar-ref", gait=gait, seed=seed, sampling_rate_hz=rate_hz, imperfections=imp
    )
    block = left.samples(int(seconds * rate_hz))
    frames = FootFrames(
        foot="left",
        device_id=left.device_id,
        seq=block.seq,
        t_device_us=block.t_device_us,
        t_s=block.t_true_s,
        pressure_kpa=block.measured_pressure_kpa,
        shear_kpa=block.measured_shear_kpa,
    )
    result = analyze_recording(
        {"left": frames}, {"left": load_layout("plantar-ref", foot="left")}, hotspots=False
    )
    truth = [s for s in left.ground_truth if s.complete]
    hs = np.array([s.heel_strike_s for s in truth])
    got, want = [], []
    for step in result["steps"]:
        value = PivotValue.from_step(step).number()
        j = int(np.argmin(np.abs(hs - step["heel_strike_s"]))) if hs.size else -1
        if j >= 0 and abs(hs[j] - step["heel_strike_s"]) < 0.05 and np.isfinite(value):
            got.append(value)
            want.append(truth[j].pivot_torque_nmm)
    r = float(np.corrcoef(got, want)[0, 1]) if len(got) > 2 else float("nan")
    return {
        "speed_mps": speed_mps,
        "rate_hz": rate_hz,
        "noise_kpa": noise_kpa,
        "r": r,
        "n": len(got),
    }


def over_seeds(
    speed_mps: float, rate_hz: float, noise_kpa: float, seconds: float, seeds: int
) -> dict[str, float]:
    """:func:`recovery` over seeds 1..``seeds``: mean and lowest r, steps per run."""
    rows = [recovery(speed_mps, rate_hz, noise_kpa, seconds, seed) for seed in range(1, seeds + 1)]
    r = np.array([row["r"] for row in rows])
    return {
        "speed_mps": speed_mps,
        "rate_hz": rate_hz,
        "noise_kpa": noise_kpa,
        "r": round(float(r.mean()), 4),
        "r_min": round(float(r.min()), 4),
        "n": int(np.mean([row["n"] for row in rows])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=90.0, help="simulated run per config")
    ap.add_argument("--noise", type=float, default=1.0, help="shear noise of table 1 (kPa)")
    ap.add_argument("--seeds", type=int, default=5, help="runs (seeds 1..N) per config")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()
    grid = [
        over_seeds(v, f, args.noise, args.seconds, args.seeds) for v in SPEEDS for f in RATES_HZ
    ]
    sweep = [over_seeds(v, 100.0, n, args.seconds, args.seeds) for v in SPEEDS for n in NOISE_KPA]
    below = {
        v: next(
            (row["noise_kpa"] for row in sweep if row["speed_mps"] == v and row["r"] < R_BAR), None
        )
        for v in SPEEDS
    }
    if args.json:
        print(json.dumps({"grid": grid, "noise_sweep": sweep, "first_noise_below_bar": below}))
        return
    print(
        f"## Pivot recovery r, shear noise {args.noise:g} kPa, {args.seconds:g} s per run, "
        f"mean (lowest) over {args.seeds} seeds"
    )
    print("| speed (m/s) | " + " | ".join(f"{f:g} Hz" for f in RATES_HZ) + " |")
    print("|---|" + "---|" * len(RATES_HZ))
    for v in SPEEDS:
        cells = [
            f"{row['r']:.3f} ({row['r_min']:.3f}), n={row['n']}"
            for row in grid
            if row["speed_mps"] == v
        ]
        print(f"| {v:g} | " + " | ".join(cells) + " |")
    print("\n## Noise sweep at 100 Hz: mean r per shear noise (kPa)")
    print("| speed (m/s) | " + " | ".join(f"{n:g}" for n in NOISE_KPA) + " | r < 0.95 from |")
    print("|---|" + "---|" * (len(NOISE_KPA) + 1))
    for v in SPEEDS:
        cells = [f"{row['r']:.3f}" for row in sweep if row["speed_mps"] == v]
        first = below[v]
        print(
            f"| {v:g} | " + " | ".join(cells) + f" | {'-' if first is None else f'{first:g} kPa'} |"
        )


if __name__ == "__main__":
    main()
