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
from numba import njit

#: 1 kPa · 1 mm² = 1e-3 N.
N_PER_KPA_MM2 = 1e-3


#: Let LLVM reorder float sums (vectorised reductions) but keep NaN/inf semantics, which
#: the missing-value handling relies on.
REDUCTION_FASTMATH = {"reassoc", "contract", "nsz"}


@njit(cache=True, nogil=True, fastmath=REDUCTION_FASTMATH)
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

    Parameters
    ----------
    pressure_kpa : (n, S) float32 pressure per sensel (NaN = missing).
    sensel_area_mm2 : (S,) float64 sensel areas.
    sensel_xy_mm : (S, 2) float64 sensel centres.
    sensel_region : (S,) int8 region index of each sensel (see ``hardware.layout.REGIONS``).
    out_force_n : (n,) float64, vertical force Σ p·A (N); NaN for a missing frame.
    out_cop_xy_mm : (n, 2) float64, centre of pressure (mm); NaN when unloaded or missing.
    out_region_force_n : (n, R) float64, force per region (N).
    out_region_peak_kpa : (n, R) float64, highest sensel pressure per region (kPa).
    """
    n, s_count = pressure_kpa.shape
    r_count = out_region_force_n.shape[1]
    # Split the sensels into runs of consecutive sensels of one region: each run's sums
    # and maximum are contiguous, branch-free reductions the compiler vectorises.
    n_runs = 1
    for s in range(1, s_count):
        if sensel_region[s] != sensel_region[s - 1]:
            n_runs += 1
    run_start = np.empty(n_runs + 1, dtype=np.int64)
    run_region = np.empty(n_runs, dtype=np.int64)
    k = 0
    for s in range(s_count):
        if s == 0 or sensel_region[s] != sensel_region[s - 1]:
            run_start[k] = s
            run_region[k] = sensel_region[s]
            k += 1
    run_start[n_runs] = s_count
    x = np.ascontiguousarray(sensel_xy_mm[:, 0])
    y = np.ascontiguousarray(sensel_xy_mm[:, 1])
    for i in range(n):
        row = pressure_kpa[i]
        total = 0.0
        mx = 0.0
        my = 0.0
        valid = 0
        for r in range(r_count):
            out_region_force_n[i, r] = 0.0
            out_region_peak_kpa[i, r] = 0.0
        for k in range(n_runs):
            rf = 0.0
            pk = 0.0
            for s in range(run_start[k], run_start[k + 1]):
                p = row[s]
                q = p if p > 0.0 else 0.0  # NaN > 0 is False: missing adds nothing
                f = q * sensel_area_mm2[s]
                rf += f
                mx += f * x[s]
                my += f * y[s]
                pk = max(pk, q)
            total += rf
            r = run_region[k]
            out_region_force_n[i, r] += rf * N_PER_KPA_MM2
            if pk > out_region_peak_kpa[i, r]:
                out_region_peak_kpa[i, r] = pk
        if total <= 0.0:  # unloaded or missing: missing only if no sensel is finite
            for s in range(s_count):
                if row[s] == row[s]:
                    valid = 1
                    break
        else:
            valid = 1
        if valid == 0:
            out_force_n[i] = np.nan
            out_cop_xy_mm[i, 0] = np.nan
            out_cop_xy_mm[i, 1] = np.nan
            for r in range(r_count):
                out_region_force_n[i, r] = np.nan
                out_region_peak_kpa[i, r] = np.nan
            continue
        out_force_n[i] = total * N_PER_KPA_MM2
        if total > 0.0:
            out_cop_xy_mm[i, 0] = mx / total
            out_cop_xy_mm[i, 1] = my / total
        else:
            out_cop_xy_mm[i, 0] = np.nan
            out_cop_xy_mm[i, 1] = np.nan


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
    """Free moment about the CoP and resultant shear per site, per frame.

    ``Tz = Σ_i [(x_i − x_cop)·ty_i − (y_i − y_cop)·tx_i]·A_i`` (Holden & Cavanagh 1991),
    z up, in N·mm (kPa·mm²·mm·1e-3), in the foot's own layout frame.

    Parameters
    ----------
    shear_kpa : (n, K, 3) float32 tx, ty, normal stress per shear site (kPa).
    shear_xy_mm : (K, 2) site centres; shear_area_mm2 : (K,) site areas.
    cop_xy_mm : (n, 2) centre of pressure; NaN gives Tz = 0 (no load, no moment).
    out_free_moment_nmm : (n,) float64.
    out_shear_resultant_kpa : (n, K) float64, sqrt(tx² + ty²); 0 for missing values.
    out_rotational_shear_kpa : (n,) float64, rotational shear: the area-weighted mean of
        the shear component perpendicular to the radius from the CoP (counter-clockwise
        positive, seen from above), i.e. the part of the shear field that twists the skin.
    """
    n, k_count = shear_kpa.shape[0], shear_kpa.shape[1]
    for i in range(n):
        cx = cop_xy_mm[i, 0]
        cy = cop_xy_mm[i, 1]
        tz = 0.0
        rot = 0.0
        area = 0.0
        for k in range(k_count):
            tx = shear_kpa[i, k, 0]
            ty = shear_kpa[i, k, 1]
            if tx != tx or ty != ty:
                out_shear_resultant_kpa[i, k] = 0.0
                continue
            out_shear_resultant_kpa[i, k] = np.sqrt(tx * tx + ty * ty)
            if cx == cx and cy == cy:
                dx = shear_xy_mm[k, 0] - cx
                dy = shear_xy_mm[k, 1] - cy
                moment = dx * ty - dy * tx
                tz += moment * shear_area_mm2[k]
                r = np.sqrt(dx * dx + dy * dy)
                if r > 0.0:
                    rot += moment / r * shear_area_mm2[k]
                    area += shear_area_mm2[k]
        out_free_moment_nmm[i] = tz * N_PER_KPA_MM2
        out_rotational_shear_kpa[i] = rot / area if area > 0.0 else 0.0
