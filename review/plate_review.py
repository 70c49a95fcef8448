"""The review of a force-plate session (an instrumented treadmill imported with
``plantar import``): what a plate measures, in the same document as an insole's review.

A plate has no pressure map, so there are no maps, hot spots or risk index (each says
"not measured"). What it does measure is reviewed as for an insole: the steps of
:func:`analysis.force_plate_steps.analyze_plate` (events by the chosen detector on the
vertical force, contact time, peak force, and the pivot of kind ``force_plate``: the
measured free moment, a reference, not a proxy), the summary, trends and change points
of :func:`analysis.analyzer.summarize_steps`, per-step curves of force and free moment
over stance, and data quality. :func:`review.session.compute_review` hands a plate
session here, so review pages, reports and ``plantar compare`` read both kinds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from analysis.force_plate_steps import PlateFoot, analyze_plate, load_plate
from analysis.records import round_or_none
from analysis.risk import RISK_REGIONS, RiskAssumptions

#: What the maps of a plate session say instead of a map.
NO_PRESSURE_MAP = "not measured: a force plate has no pressure map"


def plate_step_records(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plate steps completed to the insole step record's keys that a plate can fill:
    step time (from the other foot's last heel strike) and stride time (from the same
    foot's); pressure, hot spots and the risk dose are not measured (None / empty)."""
    last: dict[str, float] = {}
    prev: dict[str, Any] | None = None
    out = []
    for s in sorted(steps, key=lambda s: s["heel_strike_s"]):
        hs = s["heel_strike_s"]
        step_time = hs - prev["heel_strike_s"] if prev and prev["foot"] != s["foot"] else None
        stride_time = hs - last[s["foot"]] if s["foot"] in last else None
        last[s["foot"]], prev = hs, s
        out.append(
            {
                **s,
                "step_time_s": round_or_none(step_time, 6) if step_time else None,
                "stride_time_s": round_or_none(stride_time, 6) if stride_time else None,
                "peak_pressure_kpa": {},
                "pti_kpa_s": {},
                "hotspots": [],
                "risk_dose": dict.fromkeys(RISK_REGIONS),
                "longest_gap_s": None,
            }
        )
    return out


def _curves(data: PlateFoot, steps: list[dict[str, Any]], points: int) -> dict[str, np.ndarray]:
    """Force (N) and free moment (N·mm) of each step over stance, resampled to ``points``."""
    phase = np.linspace(0.0, 1.0, points)
    force = np.full((len(steps), points), np.nan, dtype=np.float32)
    moment = np.full((len(steps), points), np.nan, dtype=np.float32)
    t = data.t_s
    for k, s in enumerate(steps):
        i0 = int(np.searchsorted(t, s["heel_strike_s"]))
        i1 = int(np.searchsorted(t, s["toe_off_s"], side="right"))
        if i1 - i0 < 2:
            continue
        u = (t[i0:i1] - t[i0]) / max(t[i1 - 1] - t[i0], 1e-9)
        for out, y in ((force, data.force_n[i0:i1]), (moment, data.free_moment_nmm[i0:i1])):
            ok = np.isfinite(y)
            if ok.sum() >= 2:
                out[k] = np.interp(phase, u[ok], y[ok])
    return {"force_n": force, "pivot": moment}


def _quality(info: dict[str, Any], feet: dict[str, PlateFoot]) -> dict[str, Any]:
    per_foot = {}
    for foot, data in feet.items():
        n = len(data.t_s)
        dt = float(np.median(np.diff(data.t_s))) if n > 2 else math.nan
        missing = ~np.isfinite(data.force_n)
        per_foot[foot] = {
            "frames": n,
            "rate_hz": round_or_none(1.0 / dt, 2) if dt > 0 else None,
            "lost_frames": 0,
            "lost_pct": 0.0,
            "missing_samples": int(missing.sum()),
            "missing_pct": round_or_none(100.0 * missing.mean(), 3) if n else None,
            "rejected_steps": 0,
        }
    return {
        "per_foot": per_foot,
        "gaps": [],
        "n_gaps": 0,
        "gap_s_total": 0.0,
        "events": [],
        "steps_with_gaps": 0,
        "dropped_frames": 0,
        "lost_at_end_s": 0.0,
        "status": info.get("status"),
    }


def plate_review(directory: Path, info: dict[str, Any], progress: Any = None) -> Any:
    """The :class:`review.session.SessionReview` of the force-plate session in
    ``directory`` (``info``: its ``session.json``)."""
    from analysis.analyzer import summarize_steps
    from review.session import CURVES, GAIT_LINE_POINTS, SessionReview, review_document

    def tick(label: str) -> None:
        if progress is not None:
            progress(label)

    tick("loading the force plate")
    feet = load_plate(str(directory))
    assert feet is not None  # compute_review hands over plate sessions only
    meta = info.get("meta") or {}
    tick("analysing steps")
    steps = plate_step_records(analyze_plate(feet)["steps"])
    speed_kmh = meta.get("treadmill_speed_kmh")
    speed_mps = float(speed_kmh) / 3.6 if speed_kmh else None
    summary = summarize_steps(steps, speed_mps, RiskAssumptions(), None)
    arrays: dict[str, np.ndarray] = {}
    maps: dict[str, dict[str, Any]] = {}
    feet_info: dict[str, Any] = {}
    for foot, data in feet.items():
        fsteps = [s for s in steps if s["foot"] == foot]
        curves = _curves(data, fsteps, GAIT_LINE_POINTS)
        for name in CURVES:
            arrays[f"{foot}/curve/{name}"] = curves.get(
                name, np.full((len(fsteps), GAIT_LINE_POINTS), np.nan, dtype=np.float32)
            )
        maps[foot] = {}
        feet_info[foot] = {
            "layout_id": (meta.get("feet") or {}).get(foot, {}).get("layout_id", "force-plate"),
            "eu_size": None,
            "n_sensels": 0,
            "n_shear": 0,
            "steps": len(fsteps),
            "foot_length_mm": None,
            "interpolated": "",
            "no_map": NO_PRESSURE_MAP,
        }
    data_doc = review_document(
        info, directory, steps, summary, feet_info, maps, _quality(info, feet)
    )
    data_doc["no_map"] = NO_PRESSURE_MAP
    return SessionReview(data_doc, arrays)
