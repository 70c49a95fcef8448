"""A time range of a session review (session clock, s): the steps whose heel strike lies
in the range, and everything drawn from them (summary, per-step series, maps, curves,
gaps), so every metric on the page follows the selection.

The summary of the range comes from the analysis' own
:func:`~analysis.analyzer.summarize_steps` on the selected step records; the maps are the
same per-step reductions as the whole session's (:mod:`review.session`), averaged over
the selected steps. Change points stay those of the whole session (a trend needs the
whole run), and the proxy's CoP-dwell map too (it is not kept per step): both say so.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

import numpy as np

from review.session import (
    SessionReview,
    _hot_recurrence,
    dense_weights,
    interpolate_many,
    series_of,
    symmetry_per_minute,
    to_grid,
)

WHOLE_SESSION_NOTE = "whole session (not limited to the selected time range)"


def step_masks(review: SessionReview, t0_s: float, t1_s: float) -> dict[str, np.ndarray]:
    """Per foot, which of its steps start (heel strike) inside ``[t0_s, t1_s]``."""
    out: dict[str, np.ndarray] = {}
    for foot in review.data["feet"]:
        hs = np.array(
            [s["heel_strike_s"] for s in review.data["steps"] if s["foot"] == foot], dtype=float
        )
        out[foot] = (hs >= t0_s) & (hs <= t1_s)
    return out


def _mean_rows(x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=0) if len(x) else np.full(x.shape[1:], np.nan)


def restrict(review: SessionReview, t0_s: float, t1_s: float) -> SessionReview:
    """The review limited to steps starting in ``[t0_s, t1_s]`` (session clock)."""
    from analysis.analyzer import summarize_steps
    from analysis.hotspots import InterpolationGrid
    from analysis.risk import RiskAssumptions
    from hardware.layout import load_layout

    if not (math.isfinite(t0_s) and math.isfinite(t1_s)) or t1_s <= t0_s:
        from base.errors import ConfigError

        raise ConfigError(f"time range {t0_s}..{t1_s} s is empty; give from < to")
    data = copy.deepcopy({k: v for k, v in review.data.items() if k != "steps"})
    steps = [s for s in review.data["steps"] if t0_s <= s["heel_strike_s"] <= t1_s]
    masks = step_masks(review, t0_s, t1_s)
    arrays = dict(review.arrays)
    speed_kmh = data["session"].get("treadmill_speed_kmh")
    summary = summarize_steps(steps, speed_kmh / 3.6 if speed_kmh else None, RiskAssumptions())
    summary["rejected_steps"] = review.data["summary"].get("rejected_steps") or {}
    data["summary"] = summary
    data["steps"] = steps
    data["series"] = series_of(steps, data["pivot"]["kind"])
    data["symmetry_per_minute"] = symmetry_per_minute(steps)
    data["fatigue"]["note"] = WHOLE_SESSION_NOTE
    q = data["quality"]
    q["gaps"] = [g for g in q["gaps"] if g["t1_s"] >= t0_s and g["t0_s"] <= t1_s]
    data["range"] = {"t0_s": t0_s, "t1_s": t1_s, "steps": len(steps)}
    for foot, info in data["feet"].items():
        pfx, m = f"{foot}/", masks[foot]
        for key in [k for k in arrays if k.startswith(pfx + "curve/")] + [
            pfx + "step_peak_kpa",
            pfx + "step_pti_kpa_s",
            pfx + "step_peak_shear_kpa",
            pfx + "gait_line_mm",
        ]:
            if key in arrays:
                arrays[key] = review.arrays[key][m]
        info["steps"] = int(m.sum())
        if info.get("no_map"):  # a force plate: no map to restrict
            continue
        lay = load_layout(info["layout_id"], foot=foot, eu_size=info["eu_size"])
        grid = InterpolationGrid.from_layout(lay)
        w = dense_weights(grid, lay.n_sensels)
        peak = arrays[pfx + "step_peak_kpa"].astype(np.float64)
        arrays[pfx + "map/peak_pressure"] = to_grid(grid, interpolate_many(w, _mean_rows(peak))[0])
        pti = arrays[pfx + "step_pti_kpa_s"].astype(np.float64)
        arrays[pfx + "map/pti"] = to_grid(grid, interpolate_many(w, _mean_rows(pti))[0])
        arrays[pfx + "map/hotspot_recurrence"] = to_grid(
            grid, _hot_recurrence(grid, w, peak, lay.foot_length_mm)
        )
        maps: dict[str, Any] = data["maps"][foot]
        if maps["peak_shear"]["type"] == "sites":
            arrays[pfx + "sites/peak_shear"] = _mean_rows(arrays[pfx + "step_peak_shear_kpa"])
        for kind in ("pivot",):
            if maps[kind]["type"] == "sites" or maps[kind].get("proxy"):
                maps[kind]["label"] = (maps[kind].get("label") or "") + f" ({WHOLE_SESSION_NOTE})"
    return SessionReview(data, arrays)
