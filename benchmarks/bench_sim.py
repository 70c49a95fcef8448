"""Benchmark of the simulated insole: how many times faster than real time it makes data.

Run ``PYTHONPATH=. .venv/bin/python benchmarks/bench_sim.py``. The simulator feeds the
demo, the browser tests and the other benchmarks in its own process, so it must run well
ahead of the rate it stands in for. The figure is a ratio taken in one run (seconds of data
per second of CPU), so it holds on a busy machine where absolute times do not.
"""

from __future__ import annotations

import argparse
import time

from hardware.calibration import load_calibration
from hardware.layout import load_layout
from hardware.sim.insole import SimulatedInsole, make_pair


def _real_time_ratio(make_data, data_s: float, repeats: int) -> float:
    """Best of ``repeats`` of seconds of data per CPU second."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        make_data()
        best = min(best, time.process_time() - t0)
    return data_s / max(best, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of data per run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    layout = load_layout("plantar-ref")
    calibration = load_calibration(layout.calibration_id, layout.n_sensels)
    left, right = make_pair(layout, calibration, seed=0)
    ref_rate_hz = 200
    n_ref = int(args.seconds * ref_rate_hz)

    def reference_pair() -> None:
        left.encoded(n_ref)
        right.encoded(n_ref)

    dense = SimulatedInsole(load_layout("plantar-dense"), sampling_rate_hz=500, seed=0)
    n_dense = int(args.seconds * 500)

    print(f"simulator, {args.seconds:g} s of data per run, best of {args.repeats}")
    ratio_ref = _real_time_ratio(reference_pair, args.seconds, args.repeats)
    print(f"  2 feet x 200 Hz plantar-ref, encoded: {ratio_ref:8.1f} x real time")
    ratio_dense = _real_time_ratio(lambda: dense.samples(n_dense), args.seconds, args.repeats)
    print(f"  1 foot x 500 Hz plantar-dense, samples: {ratio_dense:8.1f} x real time")


if __name__ == "__main__":
    main()
