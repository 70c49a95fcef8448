"""Fatigue trend: per-minute trends and a change point that says "form is breaking down
after minute N".

Model: a ramp (two-breakpoint broken-stick) regression
``y = a + b * clip(t - τ1, 0, τ2 - τ1)`` fitted by least squares over a grid of
breakpoints (Muggeo, V. M. R. (2003). Estimating regression models with unknown
break-points. Stat Med 22(19), 3055-3071), compared with the constant model ``y = a``
by an F test with 3 extra parameters (Hinkley, D. V. (1969). Inference about the
intersection in two-phase regression. Biometrika 56(3), 495-504). A change is flagged
when the F statistic exceeds ``f_min`` and the fitted change by the end of the session
is at least ``min_rel_change`` of the level before the onset. The first 30 steps of each
foot are acclimatisation and are left out of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ChangePoint:
    """Result of :func:`ramp_change_point`."""

    onset_s: float  # NaN when no change is flagged
    slope_per_s: float
    level_before: float
    rel_change: float
    f_stat: float
    flagged: bool

    def to_dict(self) -> dict[str, float | bool | None]:
        """Plain dict for JSON (NaN -> None)."""
        return {
            k: (None if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in self.__dict__.items()
        }


def ramp_change_point(
    t_s: np.ndarray,
    values: np.ndarray,
    *,
    grid_step_s: float = 5.0,
    min_segment_frac: float = 0.05,
    f_min: float = 20.0,
    min_rel_change: float = 0.1,
) -> ChangePoint:
    """Fit the ramp model ``y = a + b * clip(t - τ1, 0, τ2 - τ1)`` (steady, drifting from
    τ1, steady again from τ2; τ2 may be the end, which is the plain hinge) over a grid of
    (τ1, τ2) and test it against a constant; ``onset_s`` is τ1."""
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    n = t.size
    nan = float("nan")
    if n < 10 or t[-1] - t[0] <= 0:
        return ChangePoint(nan, nan, nan, nan, nan, False)
    span = t[-1] - t[0]
    grid = np.arange(t[0] + min_segment_frac * span, t[-1] + grid_step_s, grid_step_s)
    grid[-1] = min(grid[-1], t[-1])
    i1, i2 = np.triu_indices(grid.size, k=1)
    tau1, tau2 = grid[i1], grid[i2]
    keep = tau1 <= t[-1] - min_segment_frac * span
    tau1, tau2 = tau1[keep], tau2[keep]
    if tau1.size == 0:
        return ChangePoint(nan, nan, nan, nan, nan, False)
    ym = y.mean()
    yc = y - ym
    best_sse, best = np.inf, (nan, nan, 0.0)
    for start in range(0, tau1.size, 512):  # blocks bound the memory of the (G, n) design
        a1 = tau1[start : start + 512, None]
        a2 = tau2[start : start + 512, None]
        h = np.clip(t[None, :] - a1, 0.0, a2 - a1)
        hc = h - h.mean(axis=1, keepdims=True)
        sxx = (hc * hc).sum(axis=1)
        sxy = (hc * yc).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            gain = np.where(sxx > 0, sxy * sxy / sxx, 0.0)
        g = int(np.argmax(gain))
        sse = float((yc * yc).sum() - gain[g])
        if sse < best_sse:
            best_sse = sse
            best = (float(a1[g, 0]), float(a2[g, 0]), float(sxy[g] / sxx[g]) if sxx[g] else 0.0)
    tau_1, tau_2, b = best
    sse0 = float((yc * yc).sum())
    sse1 = max(best_sse, 1e-300)
    f_stat = ((sse0 - sse1) / 3.0) / (sse1 / max(n - 4, 1))
    h = np.clip(t - tau_1, 0.0, tau_2 - tau_1)
    a = ym - b * h.mean()
    rel = b * (tau_2 - tau_1) / a if a != 0 else nan
    flagged = bool(f_stat > f_min and np.isfinite(rel) and abs(rel) >= min_rel_change)
    return ChangePoint(
        onset_s=tau_1 if flagged else nan,
        slope_per_s=b,
        level_before=float(a),
        rel_change=float(rel),
        f_stat=float(f_stat),
        flagged=flagged,
    )


def per_minute(t_s: np.ndarray, values: np.ndarray) -> list[float | None]:
    """Median of a per-step metric in each whole minute from the first step (None: empty)."""
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if t.size == 0:
        return []
    minute = np.floor((t - t[0]) / 60.0).astype(np.int64)
    out: list[float | None] = []
    for m in range(int(minute.max()) + 1):
        sel = y[(minute == m) & np.isfinite(y)]
        out.append(round(float(np.median(sel)), 6) if sel.size else None)
    return out
