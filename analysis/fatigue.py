"""Trends and change points: per-minute medians and a calibrated test for a change in a
per-step series ("change in <metric> from minute N").

Model: a ramp (two-breakpoint broken-stick) regression
``y = a + b * clip(t - τ1, 0, τ2 - τ1)`` (steady, drifting from τ1, steady again from τ2;
τ2 may be the end, which is the plain hinge; Muggeo, V. M. R. (2003). Estimating
regression models with unknown break-points. Stat Med 22(19), 3055-3071), fitted by least
squares over a grid of (τ1, τ2). Its statistic, the largest reduction of the residual
sum of squares over the grid, has no standard F distribution because the breakpoints are
searched (Hinkley, D. V. (1969). Inference about the intersection in two-phase
regression. Biometrika 56(3), 495-504), so an F cut-off would be arbitrary. It is
calibrated instead by a permutation test (Good, P. (2005). Permutation, Parametric and
Bootstrap Tests of Hypotheses, 3rd ed., Springer): the same statistic, maximised over the
same grid, of ``PERMUTATIONS`` random reorderings of the values (the null hypothesis: no
change, the order in time is exchangeable) gives the p-value
``(1 + #{perm >= observed}) / (1 + PERMUTATIONS)``. A change is flagged when
``p <= ALPHA`` and the fitted change by the end of the session is at least
``min_rel_change`` of the level before the onset. Steps that follow one another are
treated as exchangeable under the null; a slow wander of a runner's form is not, so a
flag says "changed", not "fatigue": a change of treadmill speed changes contact time and
pivot too, and the flag names one where the session records it.

:func:`ramp_gain_kernel` evaluates the grid in O(1) per (τ1, τ2) from prefix sums (so the
permutations cost O(n + G²) each); :func:`analysis.reference.ramp_gain_ref` is its NumPy
reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from base.kernels import njit
from base.units import mps_to_kmh

#: Permutations of the change-point test (p-values in steps of 1/200).
PERMUTATIONS = 199
#: Significance level of the change-point test.
ALPHA = 0.01
#: Most grid points per axis: the grid step grows beyond 5 s on long sessions.
MAX_GRID = 240
#: Seed of the permutations (the test is reproducible run to run).
PERMUTATION_SEED = 20261206


@dataclass
class ChangePoint:
    """Result of :func:`ramp_change_point`."""

    onset_s: float  # NaN when no change is flagged
    slope_per_s: float
    level_before: float
    rel_change: float
    gain: float  # reduction of the residual sum of squares by the best ramp
    p_value: float  # permutation test of ``gain``
    flagged: bool

    def to_dict(self) -> dict[str, float | bool | None]:
        """Plain dict for JSON (NaN -> None)."""
        return {
            k: (None if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in self.__dict__.items()
        }


@njit(cache=True, nogil=True)
def ramp_gain_kernel(
    t_s: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray, tau: np.ndarray
) -> tuple[float, int, int]:
    """Best ramp over a grid: ``(gain, g1, g2)`` with ``gain = Sxy² / Sxx`` the largest
    reduction of the residual sum of squares over the pairs ``g1 < g2`` of grid points
    (``tau[g1] <= last_onset`` is enforced by the caller through ``lo``: pairs with
    ``lo[g1] < 0`` are skipped).

    Parameters
    ----------
    t_s : (n,) sorted times; y : (n,) values.
    lo, hi : (G,) per grid point, the first index with ``t >= tau[g]`` (``lo``; -1: not
        an allowed onset) and the same index (``hi``) used as the ramp's end.
    tau : (G,) grid times (s).
    """
    n = t_s.shape[0]
    g_count = tau.shape[0]
    # Prefix sums: count, t, t², y, t·y.
    st = np.zeros(n + 1)
    st2 = np.zeros(n + 1)
    sy = np.zeros(n + 1)
    sty = np.zeros(n + 1)
    for i in range(n):
        st[i + 1] = st[i] + t_s[i]
        st2[i + 1] = st2[i] + t_s[i] * t_s[i]
        sy[i + 1] = sy[i] + y[i]
        sty[i + 1] = sty[i] + t_s[i] * y[i]
    ybar = sy[n] / n
    best = 0.0
    b1 = -1
    b2 = -1
    for g1 in range(g_count):
        a = lo[g1]
        if a < 0:
            continue
        t1 = tau[g1]
        for g2 in range(g1 + 1, g_count):
            b = hi[g2]
            d = tau[g2] - t1
            cnt = b - a
            s_t = st[b] - st[a]
            tail = n - b
            sh = (s_t - t1 * cnt) + d * tail
            sh2 = (st2[b] - st2[a] - 2.0 * t1 * s_t + t1 * t1 * cnt) + d * d * tail
            shy = (sty[b] - sty[a] - t1 * (sy[b] - sy[a])) + d * (sy[n] - sy[b])
            sxx = sh2 - sh * sh / n
            sxy = shy - sh * ybar
            if sxx > 1e-12:
                gain = sxy * sxy / sxx
                if gain > best:
                    best = gain
                    b1 = g1
                    b2 = g2
    return best, b1, b2


def _grid(t: np.ndarray, grid_step_s: float, min_segment_frac: float) -> tuple[np.ndarray, ...]:
    """Grid times and, per point, the first index at or after it (``lo`` -1 where the
    point is too late to be an onset)."""
    span = t[-1] - t[0]
    step = max(grid_step_s, span / MAX_GRID)
    tau = np.arange(t[0] + min_segment_frac * span, t[-1] + step, step)
    tau[-1] = min(tau[-1], t[-1])
    hi = np.searchsorted(t, tau, side="left").astype(np.int64)
    lo = np.where(tau <= t[-1] - min_segment_frac * span, hi, -1).astype(np.int64)
    return tau, lo, hi


def ramp_change_point(
    t_s: np.ndarray,
    values: np.ndarray,
    *,
    grid_step_s: float = 5.0,
    min_segment_frac: float = 0.05,
    min_rel_change: float = 0.1,
    permutations: int = PERMUTATIONS,
    alpha: float = ALPHA,
) -> ChangePoint:
    """Fit the ramp model over a grid of (τ1, τ2) and test it by permutation; ``onset_s``
    is τ1 when the change is flagged (see the module doc)."""
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    nan = float("nan")
    if t.size < 10 or t[-1] - t[0] <= 0:
        return ChangePoint(nan, nan, nan, nan, nan, nan, False)
    tau, lo, hi = _grid(t, grid_step_s, min_segment_frac)
    if not (lo >= 0).any():
        return ChangePoint(nan, nan, nan, nan, nan, nan, False)
    gain, g1, g2 = ramp_gain_kernel(t, y, lo, hi, tau)
    if g1 < 0:
        return ChangePoint(nan, 0.0, float(y.mean()), 0.0, 0.0, 1.0, False)
    tau_1, tau_2 = float(tau[g1]), float(tau[g2])
    h = np.clip(t - tau_1, 0.0, tau_2 - tau_1)
    hc = h - h.mean()
    b = float((hc * (y - y.mean())).sum() / (hc * hc).sum())
    a = float(y.mean() - b * h.mean())
    rel = b * (tau_2 - tau_1) / a if a != 0 else nan
    rng = np.random.default_rng(PERMUTATION_SEED)
    exceed = 0
    for _ in range(permutations):
        if ramp_gain_kernel(t, rng.permutation(y), lo, hi, tau)[0] >= gain:
            exceed += 1
    p_value = (1 + exceed) / (1 + permutations)
    flagged = bool(p_value <= alpha and np.isfinite(rel) and abs(rel) >= min_rel_change)
    return ChangePoint(
        onset_s=tau_1 if flagged else nan,
        slope_per_s=b,
        level_before=a,
        rel_change=float(rel),
        gain=float(gain),
        p_value=float(p_value),
        flagged=flagged,
    )


def change_flag(
    metric: str, onset_s: float, t0_s: float, speed_changes: list[tuple[float, float]]
) -> str:
    """The wording of a flagged change: "change in <metric> from minute N", naming a
    recorded treadmill speed change within a minute of the onset (then the change need
    not be fatigue)."""
    text = f"change in {metric} from minute {int((onset_s - t0_s) // 60)}"
    near = [(t, v) for t, v in speed_changes if abs(t - onset_s) <= 60.0]
    if near:
        t, v = near[0]
        text += (
            f" (treadmill speed changed to {mps_to_kmh(v):.1f} km/h at minute "
            f"{int((t - t0_s) // 60)}: not necessarily fatigue)"
        )
    return text


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
