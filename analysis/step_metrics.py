"""Per-step metrics of one stance phase from the per-frame reductions.

All metrics of one step come from one kernel call over that step's frames (heel strike
to toe-off). Definitions, units and references are listed in ``docs/metrics.md``.

References
----------
Cavanagh, P. R., & Lafortune, M. A. (1980). Ground reaction forces in distance running.
J Biomech 13(5), 397-406 (strike index: CoP at first contact as % of foot length).
Milner, C. E., et al. (2006). Biomechanical factors associated with tibial stress
fracture in female runners. Med Sci Sports Exerc 38(2), 323-328 (average loading rate
between 20 % and 80 % of the first force peak).
Melai, T., et al. (2011). Calculation of plantar pressure time integral, an alternative
approach. Gait Posture 34(3), 379-383 (PTI of the peak-pressure curve, FTI of force).
Holden, J. P., & Cavanagh, P. R. (1991). The free moment of ground reaction in distance
running and its changes with pronation. J Biomech 24(10), 887-897.
"""

from __future__ import annotations

import numpy as np

from analysis.pivot import free_moment_fit_span_s, free_moment_peak
from base.kernels import njit

# Scalar outputs (index into ``out_scalars``).
S_PEAK_FORCE_N = 0
S_LOADING_RATE_N_PER_S = 1
S_STRIKE_INDEX_PCT = 2
S_COP_VELOCITY_MM_PER_S = 3
S_COP_ML_SWEEP_LATE_MM = 4
S_COP_ROTATION_LATE_DEG = 5
S_LATE_START_S = 6
S_FREE_MOMENT_PEAK_ABS_NMM = 7
S_FREE_MOMENT_AT_PEAK_NMM = 8
S_FREE_MOMENT_IMPULSE_LATE_NMMS = 9
S_YAW_RATE_PEAK_LATE_DPS = 10
S_COP_PATH_MM = 11
S_ROTATIONAL_SHEAR_PEAK_LATE_KPA = 12
S_LONGEST_GAP_S = 13
S_LONGEST_GAP_LATE_S = 14
S_FRAME_INTERVAL_S = 15
N_SCALARS = 16

# Rows of ``out_region`` (R regions).
R_PEAK_KPA = 0
R_PTI_KPAS = 1
R_FTI_NS = 2
R_LATE_PEAK_KPA = 3
N_REGION_ROWS = 4

# Rows of ``out_site`` (K shear sites).
K_PEAK_LATE_KPA = 0
K_INTEGRAL_LATE_KPAS = 1
N_SITE_ROWS = 2

#: The heel is unloaded once its force falls below this share of its step peak.
HEEL_UNLOADED_FRAC = 0.1
#: A heel whose step peak stays below this share of the step's peak force was never
#: loaded; late stance then starts at the force peak.
HEEL_LOADED_FRAC = 0.05
#: A gap between valid frames (or from the last valid frame to toe-off) in late stance
#: longer than this many frame intervals hides the pivot: the step's late-stance (pivot)
#: values are not reported. The same 2.5 intervals mark a gap in the events and the
#: review's data quality.
PIVOT_MAX_GAP_FRAMES = 2.5
#: Share of stance (from heel strike) from which the free-moment peak is searched, if
#: late stance (heel unloaded) starts later: the free moment of treadmill running
#: (Fukuchi et al. 2017, ``benchmarks/calibrate_pivot.py``) peaks at 34-69 % of stance
#: (median 49 %), often before the heel is unloaded.
PIVOT_FROM_STANCE_FRAC = 0.5


@njit(cache=True, nogil=True)
def step_metrics_kernel(
    t_s: np.ndarray,
    force_n: np.ndarray,
    cop_xy_mm: np.ndarray,
    region_force_n: np.ndarray,
    region_peak_kpa: np.ndarray,
    free_moment_nmm: np.ndarray,
    rotational_shear_kpa: np.ndarray,
    shear_resultant_kpa: np.ndarray,
    yaw_rate_dps: np.ndarray,
    i0: int,
    i1: int,
    t_heel_strike_s: float,
    t_toe_off_s: float,
    heel_region: int,
    foot_length_mm: float,
    out_scalars: np.ndarray,
    out_region: np.ndarray,
    out_site: np.ndarray,
) -> None:
    """Metrics of the step whose stance frames are ``i0 <= i < i1``.

    Parameters
    ----------
    t_s, force_n : (n,) frame times (s) and total force (N); NaN rows are skipped.
    cop_xy_mm : (n, 2); region_force_n, region_peak_kpa : (n, R);
    free_moment_nmm, rotational_shear_kpa : (n,); shear_resultant_kpa : (n, K) (K may be 0);
    yaw_rate_dps : (n,) IMU yaw rate, NaN where there is no gyroscope.
    t_heel_strike_s, t_toe_off_s : the step's events (interpolated, so they may lie in a
        run of lost frames); the gaps from heel strike to the first valid frame and from
        the last valid frame to toe-off count in ``S_LONGEST_GAP_S``.
    heel_region : index of "heel" in the region list; foot_length_mm : for the strike index.
    out_scalars : (N_SCALARS,) see the ``S_*`` indices; out_region : (N_REGION_ROWS, R);
    out_site : (N_SITE_ROWS, K). Integrals use the trapezoid rule over valid frames.

    Gaps (valid frame: finite force): ``S_LONGEST_GAP_S`` is the longest time without a
    valid frame from heel strike to toe-off (between valid frames, heel strike → first,
    last → toe-off); ``S_LONGEST_GAP_LATE_S`` the same over late stance (gaps that end at
    or after its first frame, and last → toe-off); ``S_FRAME_INTERVAL_S`` the median
    interval between the step's frames (lost frames are absent, so a burst barely moves
    it). Without any valid frame ``S_LONGEST_GAP_S`` is the contact time; without a
    loaded one the late-stance values, ``S_LONGEST_GAP_LATE_S`` included, are NaN.
    """
    r_count = region_force_n.shape[1]
    k_count = shear_resultant_kpa.shape[1]
    out_scalars[:] = np.nan
    out_region[:, :] = 0.0
    out_site[:, :] = 0.0
    if i1 - i0 >= 2:
        out_scalars[S_FRAME_INTERVAL_S] = np.median(np.diff(t_s[i0:i1]))
    # Longest gap without a valid frame over stance, with the edges to the events.
    longest_gap = 0.0
    t_valid = t_heel_strike_s
    for i in range(i0, i1):
        if force_n[i] == force_n[i]:
            if t_s[i] - t_valid > longest_gap:
                longest_gap = t_s[i] - t_valid
            t_valid = t_s[i]
    if t_toe_off_s - t_valid > longest_gap:
        longest_gap = t_toe_off_s - t_valid
    out_scalars[S_LONGEST_GAP_S] = longest_gap
    # Peak force, first valid loaded frame, heel peak.
    peak_f = 0.0
    i_peak = -1
    i_first = -1
    heel_peak = 0.0
    i_heel_peak = -1
    for i in range(i0, i1):
        f = force_n[i]
        if f != f:
            continue
        if i_first < 0 and cop_xy_mm[i, 1] == cop_xy_mm[i, 1]:
            i_first = i
        if f > peak_f:
            peak_f = f
            i_peak = i
        h = region_force_n[i, heel_region]
        if h > heel_peak:
            heel_peak = h
            i_heel_peak = i
    if i_peak < 0:
        return
    out_scalars[S_PEAK_FORCE_N] = peak_f
    if i_first >= 0:
        out_scalars[S_STRIKE_INDEX_PCT] = 100.0 * cop_xy_mm[i_first, 1] / foot_length_mm
    # Loading rate: 20 % -> 80 % of the first force peak (largest force in the first half).
    t_mid = 0.5 * (t_s[i0] + t_s[i1 - 1])
    first_peak = 0.0
    for i in range(i0, i1):
        if t_s[i] > t_mid:
            break
        if force_n[i] > first_peak:
            first_peak = force_n[i]
    t20 = np.nan
    t80 = np.nan
    f_prev = np.nan
    t_prev = np.nan
    for i in range(i0, i1):
        f = force_n[i]
        if f != f:
            continue
        if f_prev == f_prev:
            lo = 0.2 * first_peak
            hi = 0.8 * first_peak
            if t20 != t20 and f_prev < lo <= f:
                t20 = t_prev + (lo - f_prev) / (f - f_prev) * (t_s[i] - t_prev)
            if t80 != t80 and f_prev < hi <= f:
                t80 = t_prev + (hi - f_prev) / (f - f_prev) * (t_s[i] - t_prev)
                break
        f_prev = f
        t_prev = t_s[i]
    if t20 == t20 and t80 == t80 and t80 > t20:
        out_scalars[S_LOADING_RATE_N_PER_S] = 0.6 * first_peak / (t80 - t20)
    # Late stance starts when the heel is unloaded (after its peak); without a loaded heel,
    # at the force peak.
    i_late = i_peak
    if i_heel_peak >= 0 and heel_peak > HEEL_LOADED_FRAC * peak_f:
        i_late = i1 - 1
        for i in range(i_heel_peak, i1):
            h = region_force_n[i, heel_region]
            if h == h and h < HEEL_UNLOADED_FRAC * heel_peak:
                i_late = i
                break
    out_scalars[S_LATE_START_S] = t_s[i_late]
    # The free-moment peak is searched from mid-stance (or from late stance where that
    # starts earlier): in real running it lies at 34-69 % of stance (docs/metrics.md).
    i_half = i0
    t_half = t_heel_strike_s + PIVOT_FROM_STANCE_FRAC * (t_toe_off_s - t_heel_strike_s)
    while i_half < i1 - 1 and t_s[i_half] < t_half:
        i_half += 1
    # Longest gap in late stance: gaps ending at or after its first frame, and to toe-off.
    late_gap = 0.0
    t_valid = np.nan
    for i in range(i0, i1):
        if force_n[i] == force_n[i]:
            if i >= i_late and t_valid == t_valid and t_s[i] - t_valid > late_gap:
                late_gap = t_s[i] - t_valid
            t_valid = t_s[i]
    if t_toe_off_s - t_valid > late_gap:
        late_gap = t_toe_off_s - t_valid
    out_scalars[S_LONGEST_GAP_LATE_S] = late_gap
    # Region peaks, PTI, FTI over stance; late-stance region peaks.
    path = 0.0
    j_last = i0
    last_x = np.nan
    last_y = np.nan
    t_last = np.nan
    for i in range(i0, i1):
        if force_n[i] != force_n[i]:
            continue
        for r in range(r_count):
            p = region_peak_kpa[i, r]
            if p > out_region[R_PEAK_KPA, r]:
                out_region[R_PEAK_KPA, r] = p
            if i >= i_late and p > out_region[R_LATE_PEAK_KPA, r]:
                out_region[R_LATE_PEAK_KPA, r] = p
        if t_last == t_last:
            dt = t_s[i] - t_last
            for r in range(r_count):
                p_sum = region_peak_kpa[i, r] + region_peak_kpa[j_last, r]
                f_sum = region_force_n[i, r] + region_force_n[j_last, r]
                out_region[R_PTI_KPAS, r] += 0.5 * dt * p_sum
                out_region[R_FTI_NS, r] += 0.5 * dt * f_sum
        x = cop_xy_mm[i, 0]
        y = cop_xy_mm[i, 1]
        if x == x and last_x == last_x:
            path += np.sqrt((x - last_x) ** 2 + (y - last_y) ** 2)
        if x == x:
            last_x = x
            last_y = y
        t_last = t_s[i]
        j_last = i
    out_scalars[S_COP_PATH_MM] = path
    duration = t_s[i1 - 1] - t_s[i0]
    if duration > 0.0:
        out_scalars[S_COP_VELOCITY_MM_PER_S] = path / duration
    # Late stance: CoP sweep and rotation (proxies), free moment, shear, yaw rate.
    x_min = np.inf
    x_max = -np.inf
    n_late = 0
    for i in range(i_late, i1):
        if cop_xy_mm[i, 0] == cop_xy_mm[i, 0] and force_n[i] == force_n[i]:
            n_late += 1
            x_min = min(x_min, cop_xy_mm[i, 0])
            x_max = max(x_max, cop_xy_mm[i, 0])
    if n_late >= 2:
        out_scalars[S_COP_ML_SWEEP_LATE_MM] = x_max - x_min
    if n_late >= 4:
        # Direction of the CoP path over the first and the second half of late stance.
        idx = np.empty(n_late, dtype=np.int64)
        c = 0
        for i in range(i_late, i1):
            if cop_xy_mm[i, 0] == cop_xy_mm[i, 0] and force_n[i] == force_n[i]:
                idx[c] = i
                c += 1
        a = idx[0]
        b = idx[n_late // 2]
        e = idx[n_late - 1]
        a1 = np.arctan2(cop_xy_mm[b, 1] - cop_xy_mm[a, 1], cop_xy_mm[b, 0] - cop_xy_mm[a, 0])
        a2 = np.arctan2(cop_xy_mm[e, 1] - cop_xy_mm[b, 1], cop_xy_mm[e, 0] - cop_xy_mm[b, 0])
        d = a2 - a1
        while d > np.pi:
            d -= 2.0 * np.pi
        while d < -np.pi:
            d += 2.0 * np.pi
        out_scalars[S_COP_ROTATION_LATE_DEG] = d * 180.0 / np.pi
    late_valid = False
    rot_abs = 0.0
    impulse = 0.0
    yaw_peak = np.nan
    t_last = np.nan
    for i in range(i_late, i1):
        if force_n[i] != force_n[i]:
            continue
        late_valid = True
        if abs(rotational_shear_kpa[i]) > rot_abs:
            rot_abs = abs(rotational_shear_kpa[i])
        w = yaw_rate_dps[i]
        if w == w and (yaw_peak != yaw_peak or abs(w) > yaw_peak):
            yaw_peak = abs(w)
        for k in range(k_count):
            s = shear_resultant_kpa[i, k]
            if s > out_site[K_PEAK_LATE_KPA, k]:
                out_site[K_PEAK_LATE_KPA, k] = s
        if t_last == t_last:
            dt = t_s[i] - t_last
            impulse += 0.5 * dt * (free_moment_nmm[i] + free_moment_nmm[j_last])
            for k in range(k_count):
                out_site[K_INTEGRAL_LATE_KPAS, k] += (
                    0.5 * dt * (shear_resultant_kpa[i, k] + shear_resultant_kpa[j_last, k])
                )
        t_last = t_s[i]
        j_last = i
    if late_valid:
        # Peak of the local quadratic fit of Tz (analysis.pivot: the raw peak is biased
        # by the shear noise, a moving mean flattens the peak).
        tz_abs, tz_at = free_moment_peak(
            t_s,
            force_n,
            free_moment_nmm,
            i0,
            min(i_late, i_half),
            i1,
            free_moment_fit_span_s(t_toe_off_s - t_heel_strike_s),
        )
        out_scalars[S_FREE_MOMENT_PEAK_ABS_NMM] = tz_abs
        out_scalars[S_FREE_MOMENT_AT_PEAK_NMM] = tz_at
        out_scalars[S_FREE_MOMENT_IMPULSE_LATE_NMMS] = impulse
        out_scalars[S_ROTATIONAL_SHEAR_PEAK_LATE_KPA] = rot_abs
    out_scalars[S_YAW_RATE_PEAK_LATE_DPS] = yaw_peak


def strike_pattern(strike_index_pct: float) -> str:
    """Strike pattern from the strike index (Cavanagh & Lafortune 1980): rearfoot 0-33 %,
    midfoot 34-67 %, forefoot 68-100 % of foot length; ``"unknown"`` for NaN."""
    if not np.isfinite(strike_index_pct):
        return "unknown"
    if strike_index_pct < 100.0 / 3.0:
        return "rearfoot"
    if strike_index_pct < 200.0 / 3.0:
        return "midfoot"
    return "forefoot"


def symmetry_index_pct(left: float, right: float) -> float:
    """Symmetry index ``SI = 100 * (L - R) / (0.5 * (L + R))`` in % (Robinson et al. 1987,
    J Manipulative Physiol Ther 10(4), 172-176); 0 is perfect symmetry, NaN if undefined."""
    mean = 0.5 * (left + right)
    if not (np.isfinite(left) and np.isfinite(right)) or mean == 0.0:
        return float("nan")
    return float(100.0 * (left - right) / mean)
