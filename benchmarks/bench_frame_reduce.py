"""Benchmark of the frame reduction kernel alone, by thread CPU time.

Run ``PYTHONPATH=. python benchmarks/bench_frame_reduce.py`` (from the repository root).

Two parts, both timed with ``time.thread_time`` (CPU time of this thread, so that
preemption by other processes on a busy machine drops out; best of ``--repeat``):

* ``ns per frame``: :func:`~analysis.frame_kernels.frame_reduce_kernel` over a 10-minute
  array (200 Hz, float32) of simulated plantar-ref frames resized to 64, 256 and 1024
  sensels (the layout's sensels repeated, as ``plantar bench`` does), in one call, and the
  same for ``np.sum`` over the same array (the bandwidth yardstick of
  ``bandwidth_fraction``).
* ``us per call``: the live path's small batches (1, 3, 10, 50 frames) at 170 sensels
  (plantar-ref) and 1024 sensels (plantar-dense), :func:`frame_reduce_kernel` (builds the
  layout tables on every call) against a prepared
  :class:`~analysis.frame_kernels.FrameReducer` (builds them once).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from analysis.bench import _with_sensels, sim_frames
from analysis.frame_kernels import FrameReducer, frame_reduce_kernel
from hardware.layout import REGIONS, load_layout


def _cpu_best(fn: Callable[[], object], repeat: int, calls: int = 1) -> float:
    """Best thread CPU time of ``calls`` calls of ``fn``, per call (s)."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.thread_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.thread_time() - t0) / calls)
    return best


def per_frame(minutes: float, repeat: int) -> None:
    ref = load_layout("plantar-ref")
    block = sim_frames(ref, 30.0, 200.0).pressure_kpa
    n = int(minutes * 60 * 200)
    r = len(REGIONS)
    print(f"## frame_reduce_kernel, {minutes:g} min x 200 Hz = {n} frames, thread CPU time")
    print("| sensels | ns/frame | ns/frame np.sum | np.sum time / kernel time |")
    print("|---|---|---|---|")
    for s in (64, 256, 1024):
        lay = _with_sensels(ref, s)
        src = block[:, np.resize(np.arange(ref.n_sensels), s)]
        big = np.empty((n, s), dtype=np.float32)
        for a in range(0, n, len(src)):
            big[a : a + len(src)] = src[: n - a]
        out = np.empty(n), np.empty((n, 2)), np.empty((n, r)), np.empty((n, r))
        args = (lay.sensel_area_mm2, lay.sensel_xy_mm, lay.sensel_region)

        def run(big=big, args=args, out=out) -> None:
            frame_reduce_kernel(big, *args, *out)

        run()  # compile / fault in the outputs
        t_k = _cpu_best(run, repeat)
        t_s = _cpu_best(lambda big=big: np.sum(big), repeat)
        print(f"| {s} | {t_k / n * 1e9:.1f} | {t_s / n * 1e9:.1f} | {t_s / t_k:.3f} |")


def small_batches(repeat: int) -> None:
    rng = np.random.default_rng(0)
    r = len(REGIONS)
    print("\n## small batches (live path), us per call, thread CPU time")
    print("| layout | sensels | frames | frame_reduce_kernel | FrameReducer | ratio |")
    print("|---|---|---|---|---|---|")
    for name in ("plantar-ref", "plantar-dense"):
        lay = load_layout(name)
        args = (lay.sensel_area_mm2, lay.sensel_xy_mm, lay.sensel_region)
        reduce = FrameReducer(*args, r)
        for n in (1, 3, 10, 50):
            p = rng.gamma(0.6, 60.0, (n, lay.n_sensels)).astype(np.float32)
            out = np.empty(n), np.empty((n, 2)), np.empty((n, r)), np.empty((n, r))
            calls = 20000 if n < 50 else 5000

            def kernel(p=p, out=out, args=args) -> None:
                frame_reduce_kernel(p, *args, *out)

            def prepared(p=p, out=out, reduce=reduce) -> None:
                reduce(p, *out)

            kernel(), prepared()
            best_k = best_p = np.inf
            for _ in range(repeat):  # in turns, so that a burst of load hits both
                best_k = min(best_k, _cpu_best(kernel, 1, calls))
                best_p = min(best_p, _cpu_best(prepared, 1, calls))
            print(
                f"| {name} | {lay.n_sensels} | {n} | {best_k * 1e6:.2f} | {best_p * 1e6:.2f} "
                f"| {best_p / best_k:.2f} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the array")
    ap.add_argument("--repeat", type=int, default=5, help="best of this many")
    args = ap.parse_args()
    per_frame(args.minutes, args.repeat)
    small_batches(args.repeat)


if __name__ == "__main__":
    main()
