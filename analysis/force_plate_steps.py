"""Steps of a force-plate session (``plantar analyze`` on an imported treadmill plate).

A force plate has no pressure map, so the insole Analyzer (regions, hot spots, strike
index, risk) does not apply. What a plate does measure is analysed here, per foot, from
the session's ``force`` channels (:mod:`store.importers.force_plate`): contact events by
the chosen detector (:data:`analysis.event_detectors.CHOSEN_DETECTOR`) on the vertical
force, contact time, peak vertical force and the **pivot from the measured free moment**
(``free_moment_nmm``), of kind ``force_plate``: a measured reference, not a proxy.

Late stance, for a plate, is the second half of the contact (the plate cannot see the
heel unload); the peak is :func:`analysis.pivot.free_moment_peak` over it, as for shear
insoles, and the impulse is the time integral of the free moment over late stance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.event_detectors import CHOSEN_DETECTOR, EVENT_DETECTORS
from analysis.pivot import FREE_MOMENT_SMOOTH_S, free_moment_peak
from analysis.records import PivotValue, pivot_spec, round_or_none
from store.session import FORCE_PLATE_LAYOUT_ID

PIVOT_KIND = pivot_spec("force_plate").kind
PIVOT_UNIT = pivot_spec("force_plate").unit
PIVOT_LABEL = "measured: free moment of the force plate (a reference, not a proxy)"
LATE_STANCE_FRAC = 0.5
PLATE_LAYOUT = FORCE_PLATE_LAYOUT_ID


@dataclass
class PlateFoot:
    """One foot's force-plate channels."""

    t_s: np.ndarray
    force_n: np.ndarray
    free_moment_nmm: np.ndarray


def plate_steps(foot: str, data: PlateFoot) -> list[dict[str, Any]]:
    """The step records of one foot."""
    t, force = data.t_s, data.force_n
    det = EVENT_DETECTORS[CHOSEN_DETECTOR]().detect(force, sampling_rate_hz=1.0, t_s=t)
    tz = np.asarray(data.free_moment_nmm, dtype=np.float64)
    measured = np.where(np.isfinite(tz), force, np.nan)  # no free moment: not a frame
    steps = []
    for hs, to in zip(det.heel_strike_s_, det.toe_off_s_, strict=True):
        i0 = int(np.searchsorted(t, hs))
        i1 = int(np.searchsorted(t, to, side="right"))
        i_late = int(np.searchsorted(t, hs + LATE_STANCE_FRAC * (to - hs)))
        peak, at_peak = free_moment_peak(
            t, measured, np.nan_to_num(tz), i0, i_late, i1, FREE_MOMENT_SMOOTH_S
        )
        late = slice(i_late, i1)
        ok = np.isfinite(tz[late])
        impulse = float(np.trapezoid(tz[late][ok], t[late][ok])) if ok.sum() >= 2 else float("nan")
        steps.append(
            {
                "foot": foot,
                "heel_strike_s": round(float(hs), 6),
                "toe_off_s": round(float(to), 6),
                "contact_time_s": round(float(to - hs), 6),
                "peak_force_n": round_or_none(np.nanmax(force[i0:i1]), 1) if i1 > i0 else None,
                "pivot": PivotValue(
                    PIVOT_KIND,
                    peak,
                    {
                        "free_moment_peak_nmm": peak,
                        "free_moment_at_peak_nmm": at_peak,
                        "free_moment_impulse_nmm_s": impulse,
                    },
                    PIVOT_LABEL,
                ).to_dict(),
            }
        )
    return steps


def analyze_plate(feet: dict[str, PlateFoot]) -> dict[str, Any]:
    """Steps of both feet (ordered by heel strike) and a short summary."""
    steps = sorted(
        (s for foot, data in feet.items() for s in plate_steps(foot, data)),
        key=lambda s: s["heel_strike_s"],
    )
    hs = np.array([s["heel_strike_s"] for s in steps])
    cadence = 60.0 / float(np.median(np.diff(hs))) if len(hs) > 2 else None
    peaks = [s["pivot"]["free_moment_peak_nmm"] for s in steps]
    peaks_ok = np.array([p for p in peaks if p is not None])
    summary = {
        "steps": len(steps),
        "steps_per_foot": {f: sum(s["foot"] == f for s in steps) for f in feet},
        "cadence_spm": round_or_none(cadence, 2) if cadence else None,
        "contact_time_s": round_or_none(np.median([s["contact_time_s"] for s in steps]), 4)
        if steps
        else None,
        "pivot": {
            "kind": PIVOT_KIND,
            "unit": PIVOT_UNIT,
            "label": PIVOT_LABEL,
            "free_moment_peak_median_nmm": round_or_none(np.median(peaks_ok), 1)
            if len(peaks_ok)
            else None,
            "free_moment_peak_cv": round_or_none(np.std(peaks_ok) / np.mean(peaks_ok), 4)
            if len(peaks_ok) > 1 and np.mean(peaks_ok) > 0
            else None,
        },
    }
    return {"steps": steps, "summary": summary, "alerts": []}


def load_plate(target: str) -> dict[str, PlateFoot] | None:
    """A force-plate recording (file) or session (id), or None if ``target`` is not one."""
    path = Path(target).expanduser()
    if path.is_file():
        from store.importers import read_recording

        rec = read_recording(path)
        if not all(fl.layout_id == PLATE_LAYOUT for fl in rec.layouts.values()):
            return None
        return {
            c.foot: PlateFoot(
                np.asarray(c.t_s, dtype=np.float64),
                np.asarray(c.values["total_force_n"], dtype=np.float64),
                np.asarray(c.values["free_moment_nmm"], dtype=np.float64),
            )
            for c in rec.channels
            if c.group == "force"
        }
    from store.session import read_session_json
    from store.session_reader import locate_session

    directory = locate_session(target)
    meta = read_session_json(directory).get("meta") or {}
    feet = meta.get("feet") or {}
    if not feet or any((fl or {}).get("layout_id") != PLATE_LAYOUT for fl in feet.values()):
        return None
    import pyarrow.parquet as pq

    out = {}
    for foot in feet:
        table = pq.read_table(directory / f"force-{foot}.parquet")
        out[foot] = PlateFoot(
            table.column("t_s").to_numpy().astype(np.float64),
            table.column("total_force_n").to_numpy().astype(np.float64),
            table.column("free_moment_nmm").to_numpy(zero_copy_only=False).astype(np.float64),
        )
    return out
