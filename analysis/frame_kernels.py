# Long module: the per-frame kernels share private layout tables and loops (one home).
"""Per-frame reductions of a pressure frame: total force, centre of pressure, per-region
force and peak pressure, and the free moment from the shear sites.

One pass over each frame's sensels (the memory-bound part of the pipeline). Missing
values (NaN) are skipped sensel by sensel; a frame with no finite sensel is a missing
frame and gives NaN everywhere.

References
----------
Centre of pressure as the pressure-area weighted mean of sensel centres, and force as
Σ p·A: Cavanagh, P. R., & Lafortune, M. A. (1980). Ground reaction forces in distance
running. J Biomech 13(5), 397-406. Free moment about the CoP:
Holden, J. P., & Cavanagh, P. R. (1991). The free moment of ground reaction in distance
running and its changes with pronation. J Biomech 24(10), 887-897.
"""

from __future__ import annotations

import numpy as np

from base.kernels import njit

#: 1 kPa · 1 mm² = 1e-3 N.
N_PER_KPA_MM2 = 1e-3
#: Fewest loaded shear sites for splitting traction from twist (3 unknowns, 2 equations
#: per site; with 3 sites the fit has 3 spare equations).
_MIN_FIT_SITES = 3


#: Let LLVM reorder float sums (vectorised reductions) but keep NaN/inf semantics, which
#: the missing-value handling relies on.
REDUCTION_FASTMATH = {"reassoc", "contract", "nsz"}

#: Regions the vectorised path keeps as register accumulators (``len(REGIONS)``); a
#: layout with more regions takes the scalar path.
DENSE_MAX_REGIONS = 7


@njit(cache=True, nogil=True)
def _reduce_scalar(row, area, x, y, reg, rf, rp):
    """The same sums one sensel at a time, skipping NaN sensels.

    Returns ``(total, mx, my)`` (kPa·mm², kPa·mm³); adds region sums into ``rf`` (kPa·mm²)
    and region maxima into ``rp`` (kPa).
    """
    total = 0.0
    mx = 0.0
    my = 0.0
    for s in range(row.shape[0]):
        v = row[s]
        if v > 0.0:
            f = np.float64(v) * area[s]
            total += f
            mx += f * x[s]
            my += f * y[s]
            r = reg[s]
            rf[r] += f
            if v > rp[r]:
                rp[r] = v
    return total, mx, my


#: Largest region count: region indices are stored as int8 (the vectorised path compares
#: them byte-wise), so a layout may have at most 127 regions.
MAX_REGIONS = 127


@njit(cache=True, nogil=True)
def _prepare_layout(sensel_area_mm2, sensel_xy_mm, sensel_region, r_count):
    """Per-layout tables of :func:`_reduce_frames`, O(S).

    Returns ``(w32, w64, reg, x0, y0)``: ``w32`` three (S,) float32 arrays area,
    area·(x − x0), area·(y − y0) (the vectorised path); ``w64`` (3, S) float64 rows area,
    x − x0, y − y0 (the scalar path); ``reg`` (S,) int8;
    ``(x0, y0)`` the area centroid of the sensels (moments about it have short lever arms,
    so float32 moments are enough). Raises ``ValueError`` if ``r_count`` exceeds
    :data:`MAX_REGIONS` or a region index is outside ``0 .. r_count-1``.
    """
    if r_count > MAX_REGIONS:
        raise ValueError("more than 127 regions: region indices are stored as int8")
    s_count = sensel_region.shape[0]
    reg = np.empty(s_count, dtype=np.int8)
    w64 = np.empty((3, s_count))
    for s in range(s_count):
        r = sensel_region[s]
        if r < 0 or r >= r_count:
            raise ValueError("sensel_region out of range for out_region_force_n")
        reg[s] = r
        w64[0, s] = sensel_area_mm2[s]
        w64[1, s] = sensel_xy_mm[s, 0]
        w64[2, s] = sensel_xy_mm[s, 1]
    area = w64[0]
    area_sum = area.sum()
    x0 = (area * w64[1]).sum() / area_sum if area_sum > 0.0 else 0.0
    y0 = (area * w64[2]).sum() / area_sum if area_sum > 0.0 else 0.0
    # Three arrays, not the rows of one (3, S) array: with rows 4 KB apart (1024 sensels)
    # the vectorised loop measured 5-30 % slower (L1 set conflicts, presumably).
    w32 = (
        np.empty(s_count, dtype=np.float32),
        np.empty(s_count, dtype=np.float32),
        np.empty(s_count, dtype=np.float32),
    )
    for s in range(s_count):
        w64[1, s] -= x0
        w64[2, s] -= y0
        w32[0][s] = area[s]
        w32[1][s] = area[s] * w64[1, s]
        w32[2][s] = area[s] * w64[2, s]
    return w32, w64, reg, x0, y0


@njit(cache=True, nogil=True, fastmath=REDUCTION_FASTMATH)
def _reduce_frames(
    p,
    w32,
    w64,
    reg,
    x0,
    y0,
    out_force_n,
    out_cop_xy_mm,
    out_region_force_n,
    out_region_peak_kpa,
):
    """The frame loop of :func:`frame_reduce_kernel` and :class:`FrameReducer`; the layout
    tables ``w32``, ``w64``, ``reg``, ``(x0, y0)`` come from :func:`_prepare_layout`.

    With float32 input and at most 7 regions (the vectorised path) each frame is one
    vectorised pass over its sensels that keeps everything in vector registers: 7 region
    sums, 7 region maxima and the two CoP moments. Per sensel ``v = max(p, 0)`` (``NaN > 0``
    is False, so a missing sensel adds nothing and no frame needs a second pass) and per
    region ``r`` a mask ``m = -(reg == r)``: the region sum adds the bits ``f & m`` of
    ``f = v·A`` (0.0 outside the region) and the region maximum is the integer maximum of
    ``bits(v) & m`` (non-negative float32 values order like their int32 bit patterns, and
    LLVM vectorises an integer maximum where it does not vectorise a float one without
    ``nnan``). Written as ``f if reg == r else 0``, LLVM folds the addition into a select of
    the accumulator, which its loop vectoriser does not accept as a reduction; the integer
    masks keep it a plain one. Sums are float32 (non-negative terms: relative error ~1e-7);
    the moments ``Σ v·A·(x − x0)`` are float32 about the layout's area centroid ``(x0, y0)``
    (``w32[1]``, ``w32[2]``), which keeps the CoP to ~1e-5 mm.

    Otherwise each frame goes through :func:`_reduce_scalar` (float64 sums).

    The whole frame loop is one function on purpose: calling a helper per frame with
    array arguments costs NRT reference counting and ~40 pushed words per frame, as much
    as the sensel loop itself at 256 sensels.
    """
    n, s_count = p.shape
    r_count = out_region_force_n.shape[1]
    if s_count != reg.shape[0]:
        raise ValueError("pressure_kpa has a different number of sensels than the layout")
    vector = p.itemsize == 4 and r_count <= DENSE_MAX_REGIONS
    area32, wx, wy = w32
    area = w64[0]
    xc = w64[1]
    yc = w64[2]
    r_acc = max(r_count, DENSE_MAX_REGIONS)
    rf = np.zeros(r_acc)
    rp = np.zeros(r_acc)
    z = np.float32(0.0)
    for i in range(n):
        if vector:
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = z
            k0 = k1 = k2 = k3 = k4 = k5 = k6 = np.int32(0)
            mx32 = z
            my32 = z
            for s in range(s_count):
                v = p[i, s]
                v = v if v > z else z
                b = np.float32(v).view(np.int32)
                f = v * area32[s]
                fb = np.float32(f).view(np.int32)
                mx32 += v * wx[s]
                my32 += v * wy[s]
                g = reg[s]
                m = -np.int32(g == 0)
                a0 += np.int32(fb & m).view(np.float32)
                k0 = max(k0, np.int32(b & m))
                m = -np.int32(g == 1)
                a1 += np.int32(fb & m).view(np.float32)
                k1 = max(k1, np.int32(b & m))
                m = -np.int32(g == 2)
                a2 += np.int32(fb & m).view(np.float32)
                k2 = max(k2, np.int32(b & m))
                m = -np.int32(g == 3)
                a3 += np.int32(fb & m).view(np.float32)
                k3 = max(k3, np.int32(b & m))
                m = -np.int32(g == 4)
                a4 += np.int32(fb & m).view(np.float32)
                k4 = max(k4, np.int32(b & m))
                m = -np.int32(g == 5)
                a5 += np.int32(fb & m).view(np.float32)
                k5 = max(k5, np.int32(b & m))
                m = -np.int32(g == 6)
                a6 += np.int32(fb & m).view(np.float32)
                k6 = max(k6, np.int32(b & m))
            rf[0] = a0
            rf[1] = a1
            rf[2] = a2
            rf[3] = a3
            rf[4] = a4
            rf[5] = a5
            rf[6] = a6
            rp[0] = np.int32(k0).view(np.float32)
            rp[1] = np.int32(k1).view(np.float32)
            rp[2] = np.int32(k2).view(np.float32)
            rp[3] = np.int32(k3).view(np.float32)
            rp[4] = np.int32(k4).view(np.float32)
            rp[5] = np.int32(k5).view(np.float32)
            rp[6] = np.int32(k6).view(np.float32)
            total = rf[0] + rf[1] + rf[2] + rf[3] + rf[4] + rf[5] + rf[6]
            mx = np.float64(mx32)
            my = np.float64(my32)
        else:  # not float32, or more regions than accumulators
            rf[:] = 0.0
            rp[:] = 0.0
            total, mx, my = _reduce_scalar(p[i], area, xc, yc, reg, rf, rp)
        if total <= 0.0:
            # Unloaded or missing: missing only if no sensel is finite.
            finite = False
            for s in range(s_count):
                if p[i, s] == p[i, s]:
                    finite = True
                    break
            out_cop_xy_mm[i, 0] = np.nan
            out_cop_xy_mm[i, 1] = np.nan
            val = 0.0 if finite else np.nan
            out_force_n[i] = val
            for r in range(r_count):
                out_region_force_n[i, r] = val
                out_region_peak_kpa[i, r] = val
            continue
        out_force_n[i] = total * N_PER_KPA_MM2
        out_cop_xy_mm[i, 0] = x0 + mx / total
        out_cop_xy_mm[i, 1] = y0 + my / total
        for r in range(r_count):
            out_region_force_n[i, r] = rf[r] * N_PER_KPA_MM2
            out_region_peak_kpa[i, r] = rp[r]


@njit(cache=True, nogil=True)
def frame_reduce_kernel(
    pressure_kpa: np.ndarray,
    sensel_area_mm2: np.ndarray,
    sensel_xy_mm: np.ndarray,
    sensel_region: np.ndarray,
    out_force_n: np.ndarray,
    out_cop_xy_mm: np.ndarray,
    out_region_force_n: np.ndarray,
    out_region_peak_kpa: np.ndarray,
) -> None:
    """Force, CoP, per-region force and peak pressure of each frame.

    Each pressure value is read from memory once: per frame, one vectorised loop over
    the sensels (:func:`_reduce_frames`) accumulates the force per region, the region
    maxima and the CoP moments together; a frame is 1 KB at 256 sensels and stays in L1
    while it is worked on. Missing (NaN) sensels are skipped inside that loop.
    Non-float32 input or a layout with more than seven regions (at most
    :data:`MAX_REGIONS`) takes the scalar path (:func:`_reduce_scalar`); both agree to
    float rounding (relative ~1e-7; the CoP to ~1e-5 mm). Each call first builds the
    layout's tables (O(S), :func:`_prepare_layout`); a caller that reduces many small
    batches of one layout (the live path) uses :class:`FrameReducer`, which builds them
    once.

    Parameters
    ----------
    pressure_kpa : (n, S) float32 pressure per sensel, C-contiguous (NaN = missing).
    sensel_area_mm2 : (S,) float64 sensel areas.
    sensel_xy_mm : (S, 2) float64 sensel centres.
    sensel_region : (S,) integer region index of each sensel (see
        ``hardware.layout.REGIONS``), each in ``0 .. R-1``, ``R <= 127`` (else
        ``ValueError``).
    out_force_n : (n,) float64, vertical force Σ p·A (N); NaN for a missing frame.
    out_cop_xy_mm : (n, 2) float64, centre of pressure (mm); NaN when unloaded or missing.
    out_region_force_n : (n, R) float64, force per region (N).
    out_region_peak_kpa : (n, R) float64, highest sensel pressure per region (kPa).
    """
    w32, w64, reg, x0, y0 = _prepare_layout(
        sensel_area_mm2, sensel_xy_mm, sensel_region, out_region_force_n.shape[1]
    )
    _reduce_frames(
        pressure_kpa,
        w32,
        w64,
        reg,
        x0,
        y0,
        out_force_n,
        out_cop_xy_mm,
        out_region_force_n,
        out_region_peak_kpa,
    )


@njit(cache=True, nogil=True)
def free_moment_kernel(
    shear_kpa: np.ndarray,
    shear_xy_mm: np.ndarray,
    shear_area_mm2: np.ndarray,
    cop_xy_mm: np.ndarray,
    out_free_moment_nmm: np.ndarray,
    out_shear_resultant_kpa: np.ndarray,
    out_rotational_shear_kpa: np.ndarray,
) -> None:
    """Free moment about the CoP of the twisting part of the site shear, and resultant
    shear per site, per frame.

    The shear at the K sites is split, by area-weighted least squares over the loaded
    sites (normal stress ``σ_k > 0``), into a traction proportional to the local normal
    stress and a twist of uniform magnitude about the CoP::

        τ_k ≈ a·σ_k + s·u_k,   u_k = ẑ × (r_k − r_cop) / |r_k − r_cop|

    (``a``: 2-vector, braking/propulsion and medio-lateral traction per kPa of normal
    stress; ``s``: the rotational shear, kPa). Over the whole foot a traction proportional
    to the normal stress has no moment about the CoP (the CoP is where its moment
    vanishes), but at a few sampled sites it leaks into the sum; it is removed before
    ``Tz = Σ_k [(x_k − x_cop)·τ'y_k − (y_k − y_cop)·τ'x_k]·A_k`` (Holden & Cavanagh 1991)
    is formed with ``τ' = τ − a·σ``, z up, in N·mm (kPa·mm²·mm·1e-3), in the foot's own
    layout frame. With fewer than ``_MIN_FIT_SITES`` loaded sites (or a degenerate
    geometry) ``a = 0``: the plain site moment.

    Parameters
    ----------
    shear_kpa : (n, K, 3) float32 tx, ty, normal stress per shear site (kPa).
    shear_xy_mm : (K, 2) site centres; shear_area_mm2 : (K,) site areas.
    cop_xy_mm : (n, 2) centre of pressure; NaN gives Tz = 0 (no load, no moment).
    out_free_moment_nmm : (n,) float64.
    out_shear_resultant_kpa : (n, K) float64, sqrt(tx² + ty²); 0 for missing values.
    out_rotational_shear_kpa : (n,) float64, ``s`` (counter-clockwise positive, seen from
        above): the part of the shear field that twists the skin; without the fit, the
        area-weighted mean of the shear component perpendicular to the radius from the CoP.
    """
    n, k_count = shear_kpa.shape[0], shear_kpa.shape[1]
    for i in range(n):
        cx = cop_xy_mm[i, 0]
        cy = cop_xy_mm[i, 1]
        has_cop = cx == cx and cy == cy
        # Normal equations of the fit over the loaded sites: P = Σ A σ², X = Σ A σ ux,
        # Y = Σ A σ uy, U = Σ A, b1 = Σ A σ tx, b2 = Σ A σ ty, b3 = Σ A (ux tx + uy ty);
        # u_all, b3_all: U and b3 over every site with shear (the fallback's mean).
        p_ = x_ = y_ = u_ = b1 = b2 = b3 = 0.0
        u_all = b3_all = 0.0
        loaded = 0
        for k in range(k_count):
            tx = np.float64(shear_kpa[i, k, 0])
            ty = np.float64(shear_kpa[i, k, 1])
            if tx != tx or ty != ty:
                out_shear_resultant_kpa[i, k] = 0.0
                continue
            out_shear_resultant_kpa[i, k] = np.sqrt(tx * tx + ty * ty)
            if not has_cop:
                continue
            dx = shear_xy_mm[k, 0] - cx
            dy = shear_xy_mm[k, 1] - cy
            r = np.sqrt(dx * dx + dy * dy)
            if not r > 0.0:
                continue
            ux = -dy / r
            uy = dx / r
            a = shear_area_mm2[k]
            tangential = ux * tx + uy * ty
            u_all += a
            b3_all += a * tangential
            sn = np.float64(shear_kpa[i, k, 2])
            if sn == sn and sn > 0.0:
                loaded += 1
                u_ += a
                b3 += a * tangential
                p_ += a * sn * sn
                x_ += a * sn * ux
                y_ += a * sn * uy
                b1 += a * sn * tx
                b2 += a * sn * ty
        ax = 0.0
        ay = 0.0
        s = b3_all / u_all if u_all > 0.0 else 0.0
        if loaded >= _MIN_FIT_SITES and p_ > 0.0:
            den = p_ * u_ - x_ * x_ - y_ * y_
            if den > 1e-9 * p_ * u_:
                s = (p_ * b3 - x_ * b1 - y_ * b2) / den
                ax = (b1 - x_ * s) / p_
                ay = (b2 - y_ * s) / p_
        tz = 0.0
        if has_cop:
            for k in range(k_count):
                tx = np.float64(shear_kpa[i, k, 0])
                ty = np.float64(shear_kpa[i, k, 1])
                if tx != tx or ty != ty:
                    continue
                sn = np.float64(shear_kpa[i, k, 2])
                if sn == sn and sn > 0.0:
                    tx -= ax * sn
                    ty -= ay * sn
                dx = shear_xy_mm[k, 0] - cx
                dy = shear_xy_mm[k, 1] - cy
                tz += (dx * ty - dy * tx) * shear_area_mm2[k]
        out_free_moment_nmm[i] = tz * N_PER_KPA_MM2
        out_rotational_shear_kpa[i] = s


class FrameReducer:
    """:func:`frame_reduce_kernel` for one layout, with the layout's tables built once.

    The live path reduces batches of a few frames (one decoded chunk), where building
    the tables on every call (an O(S) pass and five small arrays) costs as much as the
    frames themselves. ``FrameReducer(area, xy, region, n_regions)(pressure, force, cop,
    region_force, region_peak)`` gives the same outputs as :func:`frame_reduce_kernel`
    (same arguments and shapes; ``n_regions`` is R). The tables are read-only, so one
    instance may serve several threads.
    """

    def __init__(
        self,
        sensel_area_mm2: np.ndarray,
        sensel_xy_mm: np.ndarray,
        sensel_region: np.ndarray,
        n_regions: int,
    ) -> None:
        self.w32, self.w64, self.reg, self.x0, self.y0 = _prepare_layout(
            np.ascontiguousarray(sensel_area_mm2, dtype=np.float64),
            np.ascontiguousarray(sensel_xy_mm, dtype=np.float64),
            np.ascontiguousarray(sensel_region),
            int(n_regions),
        )
        self.n_regions = int(n_regions)

    def __call__(
        self,
        pressure_kpa: np.ndarray,
        out_force_n: np.ndarray,
        out_cop_xy_mm: np.ndarray,
        out_region_force_n: np.ndarray,
        out_region_peak_kpa: np.ndarray,
    ) -> None:
        if out_region_force_n.shape[1] != self.n_regions:
            raise ValueError("out_region_force_n does not have the reducer's region count")
        _reduce_frames(
            pressure_kpa,
            self.w32,
            self.w64,
            self.reg,
            self.x0,
            self.y0,
            out_force_n,
            out_cop_xy_mm,
            out_region_force_n,
            out_region_peak_kpa,
        )


def frame_reduce_batch(
    pressure_kpa: np.ndarray,
    sensel_area_mm2: np.ndarray,
    sensel_xy_mm: np.ndarray,
    sensel_region: np.ndarray,
    out_force_n: np.ndarray,
    out_cop_xy_mm: np.ndarray,
    out_region_force_n: np.ndarray,
    out_region_peak_kpa: np.ndarray,
    threads: int = 1,
) -> None:
    """:func:`frame_reduce_kernel` over a whole stored session, optionally on threads.

    The post-run batch path. With ``threads > 1`` the frames are split into contiguous
    blocks, each reduced by the same kernel on its own Python thread (the kernel releases
    the GIL and writes disjoint output rows). This uses no numba threading layer, so it is
    safe on aarch64 too (``parallel=True`` is not: see DESIGN.md). Default 1: the live
    path shares the Pi's cores with the recorder and the dashboard.
    """
    reduce = FrameReducer(sensel_area_mm2, sensel_xy_mm, sensel_region, out_region_force_n.shape[1])
    n = len(pressure_kpa)
    if threads <= 1 or n < 2 * threads:
        reduce(
            pressure_kpa,
            out_force_n,
            out_cop_xy_mm,
            out_region_force_n,
            out_region_peak_kpa,
        )
        return
    from concurrent.futures import ThreadPoolExecutor

    edges = np.linspace(0, n, threads + 1).astype(np.int64)

    def one(k: int) -> None:
        a, b = edges[k], edges[k + 1]
        reduce(
            pressure_kpa[a:b],
            out_force_n[a:b],
            out_cop_xy_mm[a:b],
            out_region_force_n[a:b],
            out_region_peak_kpa[a:b],
        )

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(threads)))
