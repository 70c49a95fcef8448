"""Compile every analysis kernel once on tiny inputs (fills numba's on-disk cache)."""

from __future__ import annotations

import numpy as np

from base.frames import FootFrames
from hardware.layout import REGIONS, load_layout

#: The kernels :func:`warm_up` compiles (the live and review paths), by defining module:
#: ``plantar doctor`` checks exactly these in numba's cache.
WARMED_KERNELS: dict[str, str] = {
    "decode_stream_kernel": "firmware_bridge.decode_kernels",
    "frame_reduce_kernel": "analysis.frame_kernels",
    "free_moment_kernel": "analysis.frame_kernels",
    "friction_bound_kernel": "analysis.pivot",
    "twist_free_moment_kernel": "analysis.pivot",
    "ramp_gain_kernel": "analysis.fatigue",
    "free_moment_peak": "analysis.pivot",
    "contact_events_kernel": "analysis.contact_events",
    "step_metrics_kernel": "analysis.step_metrics",
    "interpolate_kernel": "analysis.hotspots",
    "label_kernel": "analysis.hotspots",
}


def warm_up() -> list[str]:
    """Run the whole pipeline on a short synthetic two-step signal; returns kernel names."""
    from analysis.analyzer import Analyzer
    from analysis.frame_kernels import frame_reduce_kernel
    from firmware_bridge.stream_decoder import warm_up_decoder

    warm_up_decoder()

    layout = load_layout("plantar-ref")
    n = 400
    t = np.arange(n) / 200.0
    load = np.clip(np.sin(2 * np.pi * t / 0.7), 0.0, None) * 200.0
    pressure = np.outer(load, np.ones(layout.n_sensels)).astype(np.float32)
    shear = np.zeros((n, layout.n_shear, 3), dtype=np.float32)
    shear[..., 0] = 0.05 * load[:, None]
    shear[..., 2] = load[:, None]  # loaded sites: the friction bound keeps their shear
    frames = FootFrames("left", 0, np.arange(n), (t * 1e6).astype(np.int64), t, pressure, shear)
    Analyzer({"left": layout}).feed(frames)  # the live path (FrameReducer, FrictionBound)
    # the per-call form the review and the batch tools use
    k = 10
    frame_reduce_kernel(
        pressure[:k],
        layout.sensel_area_mm2,
        layout.sensel_xy_mm,
        layout.sensel_region,
        np.empty(k),
        np.empty((k, 2)),
        np.empty((k, len(REGIONS))),
        np.empty((k, len(REGIONS))),
    )
    from analysis.fatigue import ramp_change_point

    ramp_change_point(np.arange(20.0), np.arange(20.0), permutations=1)
    # a force-plate session (plantar analyze / review of a treadmill plate): the plate's
    # events and the measured free moment's peak, called from Python
    from analysis.force_plate_steps import PlateFoot, plate_steps

    plate_steps("left", PlateFoot(t, 4.0 * load, 1000.0 * np.sin(4 * np.pi * t)))
    return list(WARMED_KERNELS)
