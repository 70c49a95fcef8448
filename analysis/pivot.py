"""Pivot at toe-off from triaxial shear sites: friction-bounded shear, and the peak of the
free moment in late stance.

What this is: ``Tz`` from 5 shear sites of 100 mm² each (500 mm² of the ~17,000 mm² the
plantar-ref insole senses) at the foot–insole interface, a sampled proxy. Holden &
Cavanagh (1991) and Milner, Davis & Hamill (2006) measured the shoe–ground free moment
on a force plate; they motivate looking at the pivot, but our magnitudes are not
comparable to theirs. ``mu_max`` is an assumption (Eun et al. 2022 ramp-tested socks on
an artificial last, not sweaty skin).

Two steps, both applied before any pivot number is formed:

1. :func:`friction_bound_kernel`, per frame and shear site: the tangential stress is
   projected onto the Coulomb friction cone ``|τ| <= mu_max · σn`` of that site's own
   normal stress. A site that is not pressed onto the insole cannot carry shear, so what
   it reads is sensor noise; in late stance that is the heel site, whose noise acts on a
   ~160 mm lever arm about a forefoot centre of pressure and dominates the free moment's
   noise. ``mu_max = 1.0`` lies above the static friction coefficients measured between
   foot, sock and insole (0.27-0.86, Eun et al. 2022), so the projection leaves
   physically possible stresses unchanged and only removes shear that friction cannot
   transmit.
2. :func:`free_moment_peak`, per step: the largest ``|Tz|`` of a local quadratic
   least-squares fit (Savitzky & Golay 1964) over ``FREE_MOMENT_SMOOTH_S`` of frames
   centred on each late-stance frame, fitted in the frames' own times (near toe-off, where
   the window is one-sided, the mean of the window instead). A quadratic fit
   keeps the height of a peak that is wider than the window, where the maximum of the raw
   signal is biased upwards by the noise and a moving mean flattens it (the 30 ms moving
   mean used before read 13 % low on the simulator).

Late stance (heel unloaded → toe-off) is found by
:func:`~analysis.step_metrics.step_metrics_kernel`; ``Tz`` per frame by
:func:`~analysis.frame_kernels.free_moment_kernel`. Definitions and the measured accuracy
against the simulator's ground truth: ``docs/metrics.md``.

References
----------
Holden, J. P., & Cavanagh, P. R. (1991). The free moment of ground reaction in distance
running and its changes with pronation. J Biomech 24(10), 887-897 (free moment about the
CoP; its late-stance peak and time integral).
Milner, C. E., Davis, I. S., & Hamill, J. (2006). Free moment as a predictor of tibial
stress fracture in distance runners. J Biomech 39(15), 2819-2825.
Savitzky, A., & Golay, M. J. E. (1964). Smoothing and differentiation of data by
simplified least squares procedures. Anal Chem 36(8), 1627-1639.
Eun, J., Ryue, J., Park, S., & Lee, K. (2022). A novel method to measure the static
coefficient of friction for socks. Sensors 22(15), 5525 (static COF 0.271-0.861
foot-sock, 0.342-0.639 sock-insole).
"""

from __future__ import annotations

import numpy as np

from base.kernels import njit

#: Upper bound of the static friction coefficient at a shear site (dimensionless): above
#: the foot-sock-insole coefficients measured by Eun et al. (2022), 0.27-0.86.
FRICTION_MU_MAX = 1.0
#: Shortest span of the local quadratic fit whose peak is the step's free moment (s).
FREE_MOMENT_SMOOTH_S = 0.03
#: Span of that fit as a share of the step's contact time (41 ms at 0.21 s contact: 5
#: frames at 100 Hz, 9 at 200 Hz), narrower than the free moment's peak, which in
#: treadmill running rises from ~25 % of stance to a peak at 34-69 % and falls to zero at
#: toe-off (Fukuchi et al. 2017; docs/metrics.md). Chosen by
#: benchmarks/bench_pivot_recovery.py among 0.15, 0.2, 0.25, 0.3, 0.35 and 0.5 of
#: contact: at 4.5 m/s, 100 Hz, 1 kPa shear noise, mean r over 5 seeds 0.973, 0.979,
#: 0.964, 0.953, 0.944 and 0.960.
FREE_MOMENT_FIT_STANCE_FRAC = 0.2


@njit(cache=True, nogil=True)
def free_moment_fit_span_s(contact_time_s: float) -> float:
    """Span (s) of the free moment's local quadratic fit for a step of this contact time:
    ``max(FREE_MOMENT_SMOOTH_S, FREE_MOMENT_FIT_STANCE_FRAC · contact_time_s)``."""
    return max(FREE_MOMENT_SMOOTH_S, FREE_MOMENT_FIT_STANCE_FRAC * contact_time_s)


#: Fewest frames for a quadratic fit; with fewer (window cut by lost frames or the step
#: end), or fewer than ceil(h / 2) on either side of the frame, the mean of the frames is
#: used (see :func:`free_moment_peak`).
_MIN_FIT_FRAMES = 4


@njit(cache=True, nogil=True)
def friction_bound_kernel(shear_kpa: np.ndarray, mu_max: float, out_shear_kpa: np.ndarray) -> None:
    """Project each site's tangential stress onto its friction cone ``|τ| <= mu_max·σn``.

    Parameters
    ----------
    shear_kpa : (n, K, 3) tx, ty, normal stress per frame and shear site (kPa).
    mu_max : upper bound of the friction coefficient (dimensionless), ``>= 0``.
    out_shear_kpa : (n, K, 3), may be ``shear_kpa`` itself. ``(tx, ty)`` is scaled by
        ``min(1, mu_max·max(σn, 0) / |τ|)``, so its direction is kept and a site with no
        normal stress reads no shear; the normal stress is copied. Where ``σn`` is NaN the
        bound is unknown and ``(tx, ty)`` is copied unchanged; NaN ``tx``/``ty`` stay NaN.
    """
    n, k_count = shear_kpa.shape[0], shear_kpa.shape[1]
    for i in range(n):
        for k in range(k_count):
            tx = np.float64(shear_kpa[i, k, 0])
            ty = np.float64(shear_kpa[i, k, 1])
            sn = np.float64(shear_kpa[i, k, 2])
            if sn == sn and tx == tx and ty == ty:
                limit = mu_max * max(sn, 0.0)
                mag = np.sqrt(tx * tx + ty * ty)
                if mag > limit:
                    scale = limit / mag
                    tx *= scale
                    ty *= scale
            out_shear_kpa[i, k, 0] = tx
            out_shear_kpa[i, k, 1] = ty
            out_shear_kpa[i, k, 2] = sn


def friction_bounded_shear(shear_kpa: np.ndarray, mu_max: float = FRICTION_MU_MAX) -> np.ndarray:
    """A friction-bounded copy of ``shear_kpa`` ((n, K, 3), same dtype); see
    :func:`friction_bound_kernel`."""
    shear = np.ascontiguousarray(shear_kpa)
    out = np.empty_like(shear)
    friction_bound_kernel(shear, float(mu_max), out)
    return out


class FrictionBound:
    """:func:`friction_bound_kernel` into a buffer kept between calls (the live path: one
    call per received batch of a few frames, with no allocation once the buffer has
    grown to the largest batch).

    ``FrictionBound(mu_max)(shear_kpa)`` returns the bounded copy of ``shear_kpa``
    ((n, K, 3), same dtype) as a view of the buffer, valid until the next call.
    """

    def __init__(self, mu_max: float = FRICTION_MU_MAX) -> None:
        self.mu_max = float(mu_max)
        self._buf = np.empty((0, 0, 3), dtype=np.float32)

    def __call__(self, shear_kpa: np.ndarray) -> np.ndarray:
        shear = np.ascontiguousarray(shear_kpa)
        n = shear.shape[0]
        buf = self._buf
        if buf.shape[0] < n or buf.shape[1:] != shear.shape[1:] or buf.dtype != shear.dtype:
            buf = np.empty((max(n, 2 * buf.shape[0]), *shear.shape[1:]), dtype=shear.dtype)
            self._buf = buf
        out = buf[:n]
        friction_bound_kernel(shear, self.mu_max, out)
        return out


@njit(cache=True, nogil=True)
def twist_free_moment_kernel(
    pressure_kpa: np.ndarray,
    sensel_xy_mm: np.ndarray,
    sensel_area_mm2: np.ndarray,
    cop_xy_mm: np.ndarray,
    rotational_shear_kpa: np.ndarray,
    out_free_moment_nmm: np.ndarray,
) -> None:
    """Free moment of the whole insole from the twist measured at the shear sites.

    ``Tz = s · Σ_j A_j · |r_j − r_cop| · 1e-3`` over the loaded sensels (N·mm): the moment
    about the CoP of a rotational shear of uniform magnitude ``s`` (the sites' rotational
    shear, :func:`~analysis.frame_kernels.free_moment_kernel`) over the loaded area. A
    friction limit ``min(|s|, mu·p_j)`` per sensel was tried and read worse (r 0.944 with
    mu 0.6, 0.959 with mu 1.0, 0.967 without, 3.5 m/s, 200 Hz, docs/metrics.md): at the
    edge of the contact the measured pressure is mostly noise.

    Parameters
    ----------
    pressure_kpa : (n, S) per sensel (NaN or <= 0: not loaded, adds nothing).
    sensel_xy_mm : (S, 2); sensel_area_mm2 : (S,).
    cop_xy_mm : (n, 2) centre of pressure; NaN gives Tz = 0.
    rotational_shear_kpa : (n,) ``s``, counter-clockwise positive seen from above; NaN
        gives Tz = 0.
    out_free_moment_nmm : (n,) float64.
    """
    n, s_count = pressure_kpa.shape[0], pressure_kpa.shape[1]
    for i in range(n):
        cx = cop_xy_mm[i, 0]
        cy = cop_xy_mm[i, 1]
        s = rotational_shear_kpa[i]
        if cx != cx or cy != cy or s != s:
            out_free_moment_nmm[i] = 0.0
            continue
        polar = 0.0
        for j in range(s_count):
            p = pressure_kpa[i, j]
            if p == p and p > 0.0:
                dx = sensel_xy_mm[j, 0] - cx
                dy = sensel_xy_mm[j, 1] - cy
                polar += sensel_area_mm2[j] * np.sqrt(dx * dx + dy * dy)
        out_free_moment_nmm[i] = s * polar * 1e-3


@njit(cache=True, nogil=True)
def _local_quadratic(
    t_s: np.ndarray,
    force_n: np.ndarray,
    y: np.ndarray,
    i: int,
    lo: int,
    hi: int,
    reach_s: float,
    min_side: int,
) -> float:
    """Value at ``t_s[i]`` of the least-squares quadratic through the valid frames
    ``lo <= j < hi`` with ``|t_j − t_i| <= reach_s`` (valid: finite force); the mean of
    those frames if they are fewer than ``_MIN_FIT_FRAMES`` or fewer than ``min_side`` lie
    on either side of ``i``."""
    s0 = s1 = s2 = s3 = s4 = 0.0
    r0 = r1 = r2 = 0.0
    before = 0
    after = 0
    for j in range(lo, hi):
        if force_n[j] != force_n[j]:
            continue
        u = (t_s[j] - t_s[i]) / reach_s  # in [-1, 1]: keeps the normal equations scaled
        if abs(u) > 1.0:
            continue
        if j < i:
            before += 1
        elif j > i:
            after += 1
        v = y[j]
        u2 = u * u
        s0 += 1.0
        s1 += u
        s2 += u2
        s3 += u2 * u
        s4 += u2 * u2
        r0 += v
        r1 += v * u
        r2 += v * u2
    if s0 < _MIN_FIT_FRAMES or before < min_side or after < min_side:
        return r0 / s0 if s0 > 0.0 else np.nan
    # Normal equations [[s0 s1 s2] [s1 s2 s3] [s2 s3 s4]] (a b c) = (r0 r1 r2); a by Cramer.
    det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2)
    if not abs(det) > 1e-9 * s0 * s0 * s0:
        return r0 / s0
    det_a = r0 * (s2 * s4 - s3 * s3) - s1 * (r1 * s4 - s3 * r2) + s2 * (r1 * s3 - s2 * r2)
    return det_a / det


@njit(cache=True, nogil=True)
def free_moment_peak(
    t_s: np.ndarray,
    force_n: np.ndarray,
    free_moment_nmm: np.ndarray,
    i0: int,
    i_late: int,
    i1: int,
    window_s: float,
) -> tuple[float, float]:
    """Peak free moment of late stance: ``(max |fit|, fit at that frame)`` in N·mm.

    Parameters
    ----------
    t_s, force_n, free_moment_nmm : (n,) frame times (s), total force (N; NaN = missing
        frame, skipped) and free moment ``Tz`` (N·mm).
    i0, i_late, i1 : the step's stance frames are ``i0 <= i < i1``, its late stance
        ``i_late <= i < i1``.
    window_s : span of the fit (s). With ``dt`` the step's mean frame interval, each
        late-stance frame ``i`` gets the quadratic fitted to the valid stance frames
        ``j`` with ``|j − i| <= h`` and ``|t_j − t_i| <= (h + 0.5)·dt``,
        ``h = max(round(window_s / (2·dt)), 1)``; the fit may use stance frames before
        late stance, never frames after toe-off (so a step's value does not depend on
        what has been received after it).

    Edges: the fit is used only with at least ``ceil(h / 2)`` valid frames on each side
    of ``i`` (2 of 3 at 200 Hz) and at least ``_MIN_FIT_FRAMES`` in all; otherwise
    (the last frames before toe-off, the first of a step whose late stance starts at
    heel strike, or a window cut by lost frames) the frame gets the mean of its window's
    valid frames. A quadratic fitted to one side only and read at its end has ~3× the
    noise variance of the centred fit (0.95 σ² against 0.33 σ² with 4 and 7 frames at
    200 Hz), and the maximum over late stance would pick that noise up near toe-off;
    with ``ceil(h / 2)`` frames on each side the variance is within ~12 % of the centred
    fit's. The mean is not noisier than the centred fit; it flattens a peak, so a frame
    at the edge wins only where ``Tz`` is still rising at toe-off.

    Returns ``(nan, nan)`` if late stance has no valid frame.
    """
    best = -1.0
    signed = np.nan
    if i1 - i0 < 2:
        return np.nan, np.nan
    dt = (t_s[i1 - 1] - t_s[i0]) / (i1 - i0 - 1)
    if not dt > 0.0:
        return np.nan, np.nan
    h = max(int(0.5 * window_s / dt + 0.5), 1)
    reach = (h + 0.5) * dt
    min_side = (h + 1) // 2
    for i in range(i_late, i1):
        if force_n[i] != force_n[i]:
            continue
        v = _local_quadratic(
            t_s, force_n, free_moment_nmm, i, max(i - h, i0), min(i + h + 1, i1), reach, min_side
        )
        if abs(v) > best:
            best = abs(v)
            signed = v
    if best < 0.0:
        return np.nan, np.nan
    return best, signed
