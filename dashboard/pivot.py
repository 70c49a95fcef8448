"""The pivot gauge: each foot's pivot at toe-off against that runner's own early-run level.

The analyzer measures the pivot of every step (``step["pivot"]``: the peak free moment
about the CoP from the shear sites, or a labelled CoP proxy on pressure-only insoles).
This module only decides what the gauge shows: the baseline is the median of a foot's
steps whose heel strike falls in ``[skip_s, skip_s + baseline_s)`` of session time (the
first ``skip_s`` are acclimatisation and are not used), and the alert is raised when a
foot's pivot stays above ``factor`` × baseline for ``consecutive_steps`` steps in a row.
It clears when a step falls back below the threshold. There is no validated threshold
for blister risk; the factor is a display setting, not a clinical one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PivotSettings:
    """How the gauge picks its baseline and when it alerts.

    skip_s : session time ignored before the baseline window (acclimatisation, s).
    baseline_s : length of the baseline window (s).
    factor : pivot / baseline above which a step counts as "above baseline".
    consecutive_steps : steps above in a row (one foot) that raise the alert.
    history_steps : steps per foot kept for the gauge's sparkline.
    """

    skip_s: float = 20.0
    baseline_s: float = 120.0
    factor: float = 1.25
    consecutive_steps: int = 8
    history_steps: int = 40

    def __post_init__(self) -> None:
        if not (self.skip_s >= 0 and self.baseline_s > 0 and self.factor > 1.0):
            raise ValueError("pivot settings: need skip_s >= 0, baseline_s > 0, factor > 1")
        if self.consecutive_steps < 1 or self.history_steps < 1:
            raise ValueError("pivot settings: consecutive_steps and history_steps must be >= 1")


def pivot_value(step: dict[str, Any]) -> tuple[float, str, str]:
    """(value, unit, kind) of a step record's pivot; NaN when it has none."""
    piv = step.get("pivot") or {}
    if piv.get("kind") == "shear":
        v = piv.get("free_moment_peak_nmm")
        return (math.nan if v is None else float(v)), "N·mm", "shear"
    v = piv.get("cop_ml_sweep_late_mm")
    return (math.nan if v is None else float(v)), "mm (proxy)", "proxy"


@dataclass
class _FootPivot:
    baseline_values: list[float] = field(default_factory=list)
    baseline: float = math.nan
    history: list[float] = field(default_factory=list)
    streak: int = 0
    alert: bool = False


class PivotMonitor:
    """Per-foot baseline, ratio, streak and alert state from step records."""

    def __init__(self, settings: PivotSettings | None = None) -> None:
        self.settings = settings or PivotSettings()
        self._feet = {"left": _FootPivot(), "right": _FootPivot()}
        self.kind = "shear"
        self.unit = "N·mm"

    def update(self, step: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Account one step; returns (gauge state of its foot, alert event or None).

        The alert event is returned once, on the step that completes the streak.
        """
        s = self.settings
        foot = step["foot"]
        st = self._feet[foot]
        value, self.unit, self.kind = pivot_value(step)
        t = float(step.get("heel_strike_s", math.nan))
        window_end = s.skip_s + s.baseline_s
        if math.isfinite(value):
            if s.skip_s <= t < window_end:
                st.baseline_values.append(value)
                st.baseline = float(np.median(st.baseline_values))
            st.history.append(value)
            del st.history[: -s.history_steps]
        ready = t >= window_end and math.isfinite(st.baseline) and st.baseline > 0
        event = None
        if ready and math.isfinite(value):
            if value > s.factor * st.baseline:
                st.streak += 1
            else:
                st.streak = 0
                st.alert = False
            if st.streak >= s.consecutive_steps and not st.alert:
                st.alert = True
                event = {
                    "kind": "pivot_above_baseline",
                    "foot": foot,
                    "t_s": round(t, 3),
                    "steps": st.streak,
                    "ratio": round(value / st.baseline, 3),
                    "message": (
                        f"{foot} pivot above {s.factor:.2f}x baseline "
                        f"for {st.streak} steps in a row"
                    ),
                }
        return self.state(foot, value, ready), event

    def state(self, foot: str, value: float = math.nan, ready: bool | None = None) -> dict:
        """The gauge of one foot (plain JSON)."""
        s = self.settings
        st = self._feet[foot]
        base = st.baseline
        ok = math.isfinite(base) and base > 0
        return {
            "foot": foot,
            "kind": self.kind,
            "unit": self.unit,
            "value": _num(value),
            "baseline": _num(base),
            "baseline_steps": len(st.baseline_values),
            "baseline_ready": bool(ready) if ready is not None else ok,
            "ratio": _num(value / base) if ok and math.isfinite(value) else None,
            "history_ratio": [_num(v / base) if ok else None for v in st.history],
            "threshold": s.factor,
            "streak": st.streak,
            "streak_needed": s.consecutive_steps,
            "alert": st.alert,
        }

    def states(self) -> dict[str, dict]:
        """Gauges of both feet."""
        return {f: self.state(f) for f in self._feet}


def _num(x: float) -> float | None:
    return round(float(x), 4) if math.isfinite(x) else None
