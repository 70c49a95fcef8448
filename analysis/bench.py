"""``plantar bench``: the analysis benchmarks, as ratios measured in one run.

* ``headroom_1024``: streaming frames/s on one core at 1024 sensels (plantar-dense,
  batches of 50 frames = 100 ms at 500 Hz, full Analyzer incl. per-step metrics and hot
  spots) divided by 1000 frames/s (two feet at 500 Hz).
* ``headroom_ref_shear``: the same on plantar-ref (170 sensels + 5 triaxial shear sites,
  500 Hz, batches of 50), so that the friction bound, the free moment and the pivot peak,
  which plantar-dense (no shear sites) skips, are in a live figure; ÷ 1000 frames/s.
* ``speedup_vs_numpy``: the per-frame pipeline (frame reduction, free moment, event
  detector) with the numba kernels vs the NumPy reference shipped in :mod:`analysis.reference`
  on the same frames (installed with the package, so every install reports it).
* ``bandwidth_fraction``: bytes/s of the batch per-frame pass (frame reduction + events)
  over a 1 h x 200 Hz x 256-sensel float32 foot (the session is 2 feet; each foot is
  one such pass) divided by the bytes/s of ``np.sum`` over the same array.
* ``bandwidth_fraction_threads``: the same pass with the frame reduction split over
  ``batch_threads`` (= CPU count) threads by :func:`~analysis.frame_kernels.frame_reduce_batch`
  (the post-run option; ``np.sum`` stays on one core, so this is not the goal's ratio).
* ``warm_start_s``: wall time of a fresh interpreter from start to the first analysed
  batch, with the numba cache warm.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from analysis.analyzer import Analyzer
from analysis.contact_events import ContactParams, contact_events_kernel, new_contact_state
from analysis.frame_kernels import (
    FrameReducer,
    frame_reduce_batch,
    frame_reduce_kernel,
    free_moment_kernel,
)
from analysis.reference import contact_events_ref, frame_reduce_ref, free_moment_ref
from analysis.warmup import warm_up
from base.frames import FootFrames
from hardware.layout import REGIONS, Layout, load_layout


def sim_frames(layout: Layout, seconds: float, rate_hz: float) -> FootFrames:
    """``seconds`` of one simulated left insole without link loss, as :class:`FootFrames`."""
    from hardware.sim.imperfections import Imperfections
    from hardware.sim.insole import SimulatedInsole

    ins = SimulatedInsole(
        layout, sampling_rate_hz=rate_hz, imperfections=Imperfections(loss_probability=0.0)
    )
    b = ins.samples(int(seconds * rate_hz))
    return FootFrames(
        "left", 1, b.seq, b.t_device_us, b.t_true_s, b.measured_pressure_kpa, b.measured_shear_kpa
    )


def _pipeline_numba(fr: FootFrames, layout: Layout, batch: int) -> None:
    n = len(fr)
    area, xy, reg = layout.sensel_area_mm2, layout.sensel_xy_mm, layout.sensel_region
    sxy, sarea = layout.shear_xy_mm.reshape(-1, 2), layout.shear_area_mm2
    state, params = new_contact_state(), ContactParams().as_array()
    r = len(REGIONS)
    reduce = FrameReducer(area, xy, reg, r)  # layout tables built once, as the Analyzer does
    for a in range(0, n, batch):
        p = fr.pressure_kpa[a : a + batch]
        m = len(p)
        force, cop = np.empty(m), np.empty((m, 2))
        rf, rp = np.empty((m, r)), np.empty((m, r))
        reduce(p, force, cop, rf, rp)
        tz, res, rot = np.empty(m), np.empty((m, layout.n_shear)), np.empty(m)
        free_moment_kernel(fr.shear_kpa[a : a + batch], sxy, sarea, cop, tz, res, rot)
        contact_events_kernel(fr.t_s[a : a + batch], force, params, state, np.empty((m + 1, 3)))


def _pipeline_numpy(fr: FootFrames, layout: Layout, batch: int) -> None:
    force_all = []
    for a in range(0, len(fr), batch):
        f, cop, _, _ = frame_reduce_ref(
            fr.pressure_kpa[a : a + batch],
            layout.sensel_area_mm2,
            layout.sensel_xy_mm,
            layout.sensel_region,
            len(REGIONS),
        )
        free_moment_ref(fr.shear_kpa[a : a + batch], layout.shear_xy_mm, layout.shear_area_mm2, cop)
        force_all.append(f)
    # The detector is a state machine: its reference runs over the samples in order.
    contact_events_ref(fr.t_s, np.concatenate(force_all))


def _best(fn: Any, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _best_interleaved(fns: list[Any], repeat: int = 3) -> list[float]:
    """Best wall time of each function, timed in turns (a, b, a, b, ...) so that a burst
    of load from other processes does not fall on all runs of one of them."""
    best = [np.inf] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def _streaming_frames_per_s(layout: Any, frames: Any, batch: int) -> float:
    """Frames/s of the streaming Analyzer fed ``batch``-frame batches (warm, best of 3)."""

    def stream() -> None:
        an = Analyzer({"left": layout})
        for a in range(0, len(frames), batch):
            an.feed(frames.rows(a, a + batch))

    stream()
    return len(frames) / _best(stream)


def run_benchmarks(quick: bool = False) -> dict[str, Any]:
    """Run all benchmarks; returns the JSON object of ``plantar bench --json``."""
    warm_up()
    result: dict[str, Any] = {}
    dense = load_layout("plantar-dense")
    fr = sim_frames(dense, 4.0 if quick else 20.0, 500.0)
    batch = 50
    fps = _streaming_frames_per_s(dense, fr, batch)
    result["headroom_1024"] = round(fps / 1000.0, 2)
    result["streaming_frames_per_s_1024"] = round(fps, 0)

    # plantar-dense has no shear sites: the same stream on plantar-ref (170 sensels +
    # 5 shear sites) puts the friction bound, the free moment and the pivot in the figure.
    ref_layout = load_layout("plantar-ref")
    fr_shear = sim_frames(ref_layout, 4.0 if quick else 20.0, 500.0)
    fps = _streaming_frames_per_s(ref_layout, fr_shear, batch)
    result["headroom_ref_shear"] = round(fps / 1000.0, 2)
    result["streaming_frames_per_s_ref_shear"] = round(fps, 0)

    t_nb = _best(lambda: _pipeline_numba(fr, dense, batch))
    ref_fr = fr.rows(0, min(len(fr), 2000))
    t0 = time.perf_counter()
    _pipeline_numpy(ref_fr, dense, batch)
    t_np = (time.perf_counter() - t0) * len(fr) / len(ref_fr)
    result["speedup_vs_numpy"] = round(t_np / t_nb, 1)

    ref = load_layout("plantar-ref")
    ref = ref if ref.n_sensels == 256 else _with_sensels(ref, 256)
    minutes = 2.0 if quick else 60.0
    n = int(minutes * 60 * 200)
    block = sim_frames(ref, 30.0, 200.0)
    big = np.empty((n, ref.n_sensels), dtype=np.float32)
    for a in range(0, n, len(block)):
        m = min(len(block), n - a)
        big[a : a + m] = block.pressure_kpa[:m]
    t_s = np.arange(n) / 200.0
    r = len(REGIONS)
    force, cop = np.empty(n), np.empty((n, 2))
    rf, rp = np.empty((n, r)), np.empty((n, r))
    events = np.empty((n + 1, 3))

    def batch_pass() -> None:
        frame_reduce_kernel(
            big, ref.sensel_area_mm2, ref.sensel_xy_mm, ref.sensel_region, force, cop, rf, rp
        )
        contact_events_kernel(t_s, force, ContactParams().as_array(), new_contact_state(), events)

    batch_pass()  # first touch of the ~0.1 GB of outputs: page faults are not the pass
    t_batch, t_sum = _best_interleaved([batch_pass, lambda: np.sum(big)], 3)
    result["bandwidth_fraction"] = round(t_sum / t_batch, 3)
    result["batch_gb_per_s"] = round(big.nbytes / t_batch / 1e9, 2)
    result["np_sum_gb_per_s"] = round(big.nbytes / t_sum / 1e9, 2)
    result["batch_array_gb"] = round(big.nbytes / 1e9, 3)
    threads = os.cpu_count() or 1

    def batch_pass_threads() -> None:
        frame_reduce_batch(
            big,
            ref.sensel_area_mm2,
            ref.sensel_xy_mm,
            ref.sensel_region,
            force,
            cop,
            rf,
            rp,
            threads=threads,
        )
        contact_events_kernel(t_s, force, ContactParams().as_array(), new_contact_state(), events)

    result["bandwidth_fraction_threads"] = round(t_sum / _best(batch_pass_threads, 3), 3)
    result["batch_threads"] = threads

    code = (
        "import time; t0 = time.perf_counter(); from analysis.warmup import warm_up; warm_up(); "
        "print(time.perf_counter() - t0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result["warm_start_s"] = round(float(out.stdout.strip().splitlines()[-1]), 3)
    result["quick"] = quick
    return result


def _with_sensels(layout: Layout, n: int) -> Layout:
    idx = np.resize(np.arange(layout.n_sensels), n)
    from dataclasses import replace

    return replace(
        layout,
        sensel_xy_mm=layout.sensel_xy_mm[idx],
        sensel_area_mm2=layout.sensel_area_mm2[idx],
        sensel_region=layout.sensel_region[idx],
    )
