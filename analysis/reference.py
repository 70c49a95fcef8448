"""Plain NumPy reference implementations of the analysis kernels (written from the
definitions, vectorised where the definition allows; the event detector is a state
machine, so its reference is a plain Python loop over samples)."""

from __future__ import annotations

import numpy as np

from analysis.events import EventParams


def frame_reduce_ref(pressure_kpa, area_mm2, xy_mm, region, n_regions):
    p = np.asarray(pressure_kpa, dtype=np.float64)
    missing = np.isnan(p).all(axis=1)
    f = np.where(np.isnan(p) | (p <= 0), 0.0, p) * area_mm2  # kPa mm^2
    total = f.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cop = (f @ xy_mm) / total[:, None]
    cop[total <= 0] = np.nan
    force = total * 1e-3
    onehot = np.eye(n_regions)[region]  # (S, R)
    region_force = (f @ onehot) * 1e-3
    pp = np.where(np.isnan(p), 0.0, np.maximum(p, 0.0))
    region_peak = np.stack(
        [
            pp[:, region == r].max(axis=1) if (region == r).any() else np.zeros(len(p))
            for r in range(n_regions)
        ],
        axis=1,
    )
    force[missing] = np.nan
    cop[missing] = np.nan
    region_force[missing] = np.nan
    region_peak[missing] = np.nan
    return force, cop, region_force, region_peak


def free_moment_ref(shear_kpa, shear_xy_mm, shear_area_mm2, cop_xy_mm, min_fit_sites=3):
    """Tz (N·mm) after removing the traction proportional to the normal stress (a least
    squares fit per frame, np.linalg.lstsq on sqrt(area)-weighted rows), the resultant per
    site and the rotational shear; see :func:`analysis.frame_kernels.free_moment_kernel`."""
    s = np.asarray(shear_kpa, dtype=np.float64)
    cop = np.asarray(cop_xy_mm, dtype=np.float64)
    n = s.shape[0]
    tz = np.zeros(n)
    rot = np.zeros(n)
    resultant = np.nan_to_num(np.hypot(s[..., 0], s[..., 1]))
    for i in range(n):
        if not np.isfinite(cop[i]).all():
            continue
        d = shear_xy_mm - cop[i]
        r = np.hypot(d[:, 0], d[:, 1])
        ok = np.isfinite(s[i, :, 0]) & np.isfinite(s[i, :, 1]) & (r > 0)
        u = np.stack([-d[:, 1], d[:, 0]], axis=1) / np.where(r > 0, r, 1.0)[:, None]
        sn = np.where(np.isfinite(s[i, :, 2]) & (s[i, :, 2] > 0), s[i, :, 2], 0.0)
        fit = ok & (sn > 0)
        a = np.zeros(2)
        w = shear_area_mm2[ok]
        rot[i] = (w * (u[ok] * s[i, ok, :2]).sum(axis=1)).sum() / w.sum() if ok.any() else 0.0
        if fit.sum() >= min_fit_sites:
            sw = np.sqrt(shear_area_mm2[fit])
            m = np.zeros((2 * fit.sum(), 3))
            m[0::2, 0] = sn[fit] * sw
            m[1::2, 1] = sn[fit] * sw
            m[0::2, 2] = u[fit, 0] * sw
            m[1::2, 2] = u[fit, 1] * sw
            y = (s[i, fit, :2] * sw[:, None]).ravel()
            if np.linalg.matrix_rank(m) == 3:
                sol = np.linalg.lstsq(m, y, rcond=None)[0]
                a, rot[i] = sol[:2], sol[2]
        t = np.where(ok[:, None], s[i, :, :2] - a[None, :] * sn[:, None], 0.0)
        tz[i] = ((d[:, 0] * t[:, 1] - d[:, 1] * t[:, 0]) * shear_area_mm2).sum() * 1e-3
    return tz, resultant, rot


def twist_free_moment_ref(pressure_kpa, xy_mm, area_mm2, cop_xy_mm, rot_kpa):
    """``s · Σ_j A_j |r_j − r_cop|`` over the loaded sensels (N·mm) per frame; 0 without a
    CoP or ``s``; see :func:`analysis.pivot.twist_free_moment_kernel`."""
    p = np.asarray(pressure_kpa, dtype=np.float64)
    loaded = np.isfinite(p) & (p > 0)
    cop = np.asarray(cop_xy_mm, dtype=np.float64)
    s = np.asarray(rot_kpa, dtype=np.float64)
    lever = np.hypot(xy_mm[None, :, 0] - cop[:, None, 0], xy_mm[None, :, 1] - cop[:, None, 1])
    polar = np.where(loaded, area_mm2 * lever, 0.0).sum(axis=1)
    ok = np.isfinite(cop).all(axis=1) & np.isfinite(s)
    return np.where(ok, s * polar * 1e-3, 0.0)


def ramp_gain_ref(t_s, y, lo, hi, tau):
    """Best ramp over the grid by direct evaluation of ``h = clip(t − τ1, 0, τ2 − τ1)``:
    ``(gain, g1, g2)``; see :func:`analysis.fatigue.ramp_gain_kernel`."""
    t = np.asarray(t_s, dtype=np.float64)
    yc = np.asarray(y, dtype=np.float64) - np.mean(y)
    best, b1, b2 = 0.0, -1, -1
    for g1 in range(len(tau)):
        if lo[g1] < 0:
            continue
        for g2 in range(g1 + 1, len(tau)):
            h = np.clip(t - tau[g1], 0.0, tau[g2] - tau[g1])
            h = np.where(np.arange(t.size) >= hi[g2], tau[g2] - tau[g1], h)
            hc = h - h.mean()
            sxx = float((hc * hc).sum())
            if sxx > 1e-12:
                gain = float((hc * yc).sum()) ** 2 / sxx
                if gain > best:
                    best, b1, b2 = gain, g1, g2
    return best, b1, b2


def _cross(t0, f0, t1, f1, level):
    """Time at which the line from (t0, f0) to (t1, f1) crosses ``level`` (clamped)."""
    if f1 == f0:
        return t1
    return t0 + min(max((level - f0) / (f1 - f0), 0.0), 1.0) * (t1 - t0)


def detect_events_ref(t_s, force_n, params: EventParams | None = None):
    """Same state machine as the kernel, written as a plain Python loop."""
    p = params or EventParams()
    phase, n_samples = -1, 0
    base = peak = t_prev = f_prev = t_cross = step_peak = dt_est = t_hs = np.nan
    rate_max = rate_prev = noise = 0.0
    init_min = init_max = np.nan
    n_steps = 0
    events = []

    for t, f in zip(np.asarray(t_s, float), np.asarray(force_n, float), strict=True):
        if np.isnan(f):
            continue
        if n_samples == 0:
            init_min = init_max = base = f
            t_prev, f_prev, n_samples = t, f, 1
            continue
        dt = t - t_prev
        if dt <= 0:
            continue
        if np.isnan(dt_est):
            dt_est = dt
        gap = dt > p.gap_factor * dt_est
        if not gap:
            dt_est += 0.01 * (dt - dt_est)
        n_samples += 1
        if phase < 0:
            init_min, init_max = min(init_min, f), max(init_max, f)
            span = max(init_max - init_min, p.min_range_n)
            base = init_min
            if f < init_min + 0.1 * span and init_max - init_min > p.min_range_n:
                phase, peak, t_cross = 0, init_max, np.nan
            t_prev, f_prev = t, f
            continue
        rng = max(peak - base, p.min_range_n)
        lt = base + max(p.timing_frac * rng, p.noise_k * noise)
        if phase == 0:
            lc = base + p.confirm_frac * rng
            if f < lt:
                t_cross = np.nan
            elif f_prev < lt:
                t_cross = _cross(t_prev, f_prev, t, f, lt)
            elif t - t_cross > 2.5 * p.min_contact_s:
                t_cross = np.nan
            if f < lc and np.isnan(t_cross):
                noise += p.baseline_alpha * (abs(f - base) - noise)
                base += p.baseline_alpha * (f - base)
            if f >= lc and not np.isnan(t_cross):
                events.append((1, t_cross))
                phase, t_hs, step_peak, rate_max, rate_prev, t_cross = (
                    1,
                    t_cross,
                    f,
                    0.0,
                    0.0,
                    np.nan,
                )
        else:
            step_peak = max(step_peak, f)
            step_rng = max(step_peak - base, p.min_range_n)
            to = np.nan
            if t - t_hs >= p.min_contact_s:
                if not gap:
                    rate = (f_prev - f) / dt
                    knee_level = base + p.knee_level_frac * step_rng
                    if f >= f_prev and f > base + 0.5 * step_rng:
                        rate_max = 0.0
                    elif (
                        rate_max > 0
                        and f_prev < knee_level
                        and rate < p.knee_rate_frac * rate_max
                        and rate < p.knee_drop_frac * rate_prev
                    ):
                        to = t_prev
                    elif rate > rate_max:
                        rate_max = rate
                    rate_prev = rate
                else:
                    rate_prev = 0.0
                if np.isnan(to) and f < lt:
                    to = _cross(t_prev, f_prev, t, f, base)
            if not np.isnan(to):
                events.append((2, to))
                phase = 0
                peak = step_peak if n_steps == 0 else peak + p.peak_alpha * (step_peak - peak)
                n_steps += 1
                t_cross = np.nan
        t_prev, f_prev = t, f
    kinds = np.array([e[0] for e in events], dtype=np.int8)
    times = np.array([e[1] for e in events], dtype=np.float64)
    return kinds, times


def interpolate_ref(grid, pressure_kpa):
    """Dense-matrix version of the CSR interpolation."""
    n_cells = grid.n_cells
    dense = np.zeros((n_cells, len(pressure_kpa)))
    rows = np.repeat(np.arange(n_cells), np.diff(grid.indptr))
    dense[rows, grid.indices] = grid.weights
    return dense @ np.asarray(pressure_kpa, np.float64)


# --- pivot (analysis/pivot.py) ---------------------------------------------------------


def friction_bound_ref(shear_kpa, mu_max):
    """Tangential stress scaled onto the cone |τ| <= mu_max·max(σn, 0); NaN σn: unchanged."""
    s = np.array(shear_kpa, dtype=np.float64)
    mag = np.hypot(s[..., 0], s[..., 1])
    limit = mu_max * np.maximum(s[..., 2], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(mag > limit, limit / mag, 1.0)
    scale = np.where(np.isnan(s[..., 2]), 1.0, scale)
    s[..., 0] *= scale
    s[..., 1] *= scale
    return s


def free_moment_peak_ref(t_s, force_n, tz_nmm, i0, i_late, i1, window_s, min_fit=4):
    """Largest |value| over late stance of the least-squares quadratic (np.polyfit) through
    the valid stance frames within h frames and (h + 0.5)·dt of each late frame; the mean
    of those frames where they are fewer than ``min_fit`` or fewer than ceil(h / 2) lie on
    either side of the frame."""
    t = np.asarray(t_s, dtype=np.float64)
    valid = np.isfinite(np.asarray(force_n, dtype=np.float64))
    dt = (t[i1 - 1] - t[i0]) / (i1 - i0 - 1)
    h = max(int(0.5 * window_s / dt + 0.5), 1)
    min_side = -(-h // 2)
    fits = []
    for i in range(i_late, i1):
        if not valid[i]:
            continue
        j = np.arange(max(i - h, i0), min(i + h + 1, i1))
        j = j[valid[j] & (np.abs(t[j] - t[i]) <= (h + 0.5) * dt)]
        y = np.asarray(tz_nmm, dtype=np.float64)[j]
        sides = min(np.sum(j < i), np.sum(j > i))
        if len(j) >= min_fit and sides >= min_side:
            fits.append(np.polyval(np.polyfit(t[j] - t[i], y, 2), 0.0))
        else:
            fits.append(y.mean())
    if not fits:
        return np.nan, np.nan
    fits = np.array(fits)
    k = int(np.argmax(np.abs(fits)))
    return float(np.abs(fits[k])), float(fits[k])


def contact_events_ref(t_s, force_n, params=None, typical_peak_n=None):
    """The contact detector of :mod:`analysis.contact_events` as a plain Python loop.

    Returns the ``(kind, time_s)`` rows the kernel writes (kind 1 heel strike, 2 toe-off).
    """
    from analysis.contact_events import TOE_OFF_KNEE, TOE_OFF_SHARE, ContactParams

    p = params or ContactParams()
    use_knee = p.toe_off_rule == TOE_OFF_KNEE
    phase, n_samples = -1, 0
    base = t_prev = f_prev = t_cross = step_peak = dt_est = t_hs = np.nan
    t_knee = f_knee = knee_rate_max = np.nan
    peak = np.nan if typical_peak_n is None else typical_peak_n
    rate_max = rate_prev = noise = 0.0
    init_min = init_max = floor0 = t_off = t_low = floor_est = np.nan
    events = []

    def end_contact(to: float) -> None:
        nonlocal floor0, peak, phase, t_cross, t_knee, t_off
        standing = not np.isnan(floor0) and floor0 >= 0.1 * (step_peak - floor0)
        if to - t_hs >= p.min_contact_s and not standing:
            floor0 = np.nan
            events.append((2, to))
            step = step_peak - base
            peak = step if step > peak else peak + p.peak_alpha * (step - peak)
        phase, t_cross, t_knee, t_off = 0, np.nan, np.nan, np.nan

    for t, f in zip(np.asarray(t_s, float), np.asarray(force_n, float), strict=True):
        if np.isnan(f):
            continue
        if n_samples == 0:
            init_min = init_max = base = f
            t_prev, f_prev, n_samples = t, f, 1
            continue
        dt = t - t_prev
        if dt <= 0:
            continue
        if np.isnan(dt_est):
            dt_est = dt
        gap = dt > p.gap_factor * dt_est
        if not gap:
            dt_est += 0.01 * (dt - dt_est)
        n_samples += 1
        if phase < 0:
            if np.isnan(floor_est):
                floor_est = f_prev
            rise_level = floor_est + p.contact_level_n
            if (
                n_samples >= 3
                and init_max - init_min < 2.0 * p.min_range_n
                and f >= rise_level
                and (np.isnan(peak) or floor_est < 0.1 * peak)
            ):
                phase, base = 0, floor_est
                if np.isnan(peak):
                    floor0 = floor_est
                t_cross = (
                    _cross(t_prev, f_prev, t, f, rise_level) if f_prev < rise_level else t_prev
                )
            else:
                init_min, init_max = min(init_min, f), max(init_max, f)
                if f < rise_level:
                    floor_est += (1.0 - np.exp(-dt / p.baseline_tau_s)) * (f - floor_est)
                base = init_min
                span = init_max - init_min
                unloaded = np.isnan(peak) or init_min < 0.1 * peak
                if span > p.min_range_n and f < init_min + 0.1 * span and f >= f_prev and unloaded:
                    phase, t_cross = 0, np.nan
                    if np.isnan(peak):
                        peak, floor0 = span, init_min
                t_prev, f_prev = t, f
                continue
        level = base + max(p.contact_level_n, p.noise_k * noise)
        swing_now = phase == 0
        share = p.toe_off_rule == TOE_OFF_SHARE
        if phase == 1:
            end = max(level, base + p.to_share * (step_peak - base)) if share else level
            if not np.isnan(t_off):
                if f >= end:
                    if _cross(t_prev, f_prev, t, f, end) - t_off < p.bridge_s:
                        t_off = np.nan
                    else:
                        end_contact(t_off)
                        swing_now = True
                elif t - t_off >= p.bridge_s:
                    end_contact(t_off)
            if phase == 1 and np.isnan(t_off):
                step_peak = max(step_peak, f)
                step_rng = max(step_peak - base, p.min_range_n)
                if use_knee:
                    if gap:
                        rate_prev = 0.0
                    else:
                        rate = (f_prev - f) / dt
                        if not np.isnan(t_knee) and f > f_knee + p.rebound_frac * step_rng:
                            t_knee, rate_max = np.nan, 0.0
                        if f >= f_prev and f > base + 0.5 * step_rng:
                            rate_max = 0.0
                        elif (
                            np.isnan(t_knee)
                            and rate_max > 0.0
                            and f_prev < base + p.knee_level_frac * step_rng
                            and rate < p.knee_rate_frac * rate_max
                            and rate < p.knee_drop_frac * rate_prev
                        ):
                            t_knee, f_knee, knee_rate_max = t_prev, f_prev, rate_max
                        elif rate > rate_max:
                            rate_max = rate
                        rate_prev = rate
                end = max(level, base + p.to_share * (step_peak - base)) if share else level
                if f < end:
                    to = _cross(t_prev, f_prev, t, f, end)
                    slow_tail = (
                        not np.isnan(t_knee)
                        and to > t_knee
                        and (f_knee - level) / (to - t_knee) < p.knee_rate_frac * knee_rate_max
                    )
                    t_off = t_knee if slow_tail else to
                    if t - t_off >= p.bridge_s or t_off - t_hs < p.min_contact_s:
                        end_contact(t_off)
        if swing_now:
            typical = p.min_range_n if np.isnan(peak) or peak < p.min_range_n else peak
            confirm = base + p.confirm_frac * typical
            rise = max(level, base + p.hs_share * peak) if share and not np.isnan(peak) else level
            if f < rise:
                t_cross = np.nan
            elif f_prev < rise:
                t_cross = _cross(t_prev, f_prev, t, f, rise)
            elif t - t_cross > p.max_rise_s:
                t_cross = np.nan
            if f < confirm and np.isnan(t_cross):
                base_alpha = 1.0 - np.exp(-dt_est / p.baseline_tau_s)
                if not gap:  # noise from sample-to-sample differences (x 1/sqrt 2)
                    diff = min(abs(f - f_prev), p.contact_level_n) * np.sqrt(0.5)
                    noise += base_alpha * (diff - noise)
                drop = p.contact_level_n
                alpha = base_alpha
                if f >= base - drop:
                    t_low = np.nan
                elif np.isnan(t_low):
                    t_low = t
                if t - t_low >= p.drop_s:
                    alpha = 0.5
                elif f > 0.5 * (base + level):
                    alpha = 0.1 * base_alpha
                base += alpha * (f - base)
            if f >= confirm and not np.isnan(t_cross):
                events.append((1, t_cross))
                phase, t_hs, step_peak = 1, t_cross, f
                floor0 = floor0 if np.isnan(floor0) else base
                rate_max, rate_prev, t_knee, t_cross, t_off = 0.0, 0.0, np.nan, np.nan, np.nan
        t_prev, f_prev = t, f
    return np.array(events, dtype=np.float64).reshape(-1, 2)


def slope_extension_ref(t_s, force_n, baseline_n, contacts, search_frac):
    """Slope extension (:mod:`analysis.slope_events`) written from the definition."""
    t = np.asarray(t_s, float)
    f = np.asarray(force_n, float)
    slope = np.diff(f) / np.diff(t)  # slope[i - 1] is the interval (i - 1, i)
    out = np.full((len(contacts), 2), np.nan)
    n = len(t)
    for k, (first, last) in enumerate(contacts):
        span = max(int((last - first) * search_frac), 2)
        up = np.arange(max(first - 2, 1), min(first + span, n))
        s_up = np.where(np.isfinite(slope[up - 1]), slope[up - 1], 0.0)
        if s_up.size and s_up.max() > 0:
            i = up[np.argmax(s_up)]
            out[k, 0] = t[i] - (f[i] - baseline_n) / slope[i - 1]
        down = np.arange(max(last - span, 1), min(last + 3, n))
        s_dn = np.where(np.isfinite(slope[down - 1]), -slope[down - 1], 0.0)
        if s_dn.size and s_dn.max() > 0:
            i = down[np.argmax(s_dn)]
            out[k, 1] = t[i - 1] + (f[i - 1] - baseline_n) / -slope[i - 1]
    return out
