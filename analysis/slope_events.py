"""Slope extension of contact events (Blades et al. 2023, FCE4), a batch kernel.

Each contact found by a threshold detector is refined: the heel strike is where the
tangent at the steepest loading of the contact meets the unloaded baseline, the toe-off
where the tangent at the steepest unloading meets it. The tangent ignores the slow
start of loading and the decaying tail of unloading, so the events do not depend on a
force level.

References
----------
Blades, S., Marriott, H., Hundza, S., Honert, E. C., Stellingwerff, T., & Klimstra, M. (2023).
Evaluation of different pressure-based foot contact event detection algorithms across
different slopes and speeds. Sensors, 23(5), 2736. https://doi.org/10.3390/s23052736
"""

from __future__ import annotations

import numpy as np

from base.kernels import njit


@njit(cache=True, nogil=True)
def slope_extension_kernel(
    t_s: np.ndarray,
    force_n: np.ndarray,
    baseline_n: float,
    contacts: np.ndarray,
    search_frac: float,
    out_times: np.ndarray,
) -> None:
    """Refine contacts by slope extension.

    Parameters
    ----------
    t_s, force_n : (n,) float64 samples of one foot (NaN force: missing, skipped).
    baseline_n : unloaded force level the tangents are extended to (N).
    contacts : (k, 2) int64 sample indices ``[first, last]`` of each contact.
    search_frac : the steepest loading is searched in the first ``search_frac`` of the
        contact, the steepest unloading in the last.
    out_times : (k, 2) float64 heel strike and toe-off times (s); NaN where no slope
        is found.
    """
    n = t_s.shape[0]
    for k in range(contacts.shape[0]):
        first = contacts[k, 0]
        last = contacts[k, 1]
        span = max(int((last - first) * search_frac), 2)
        best = 0.0
        t_hs = np.nan
        for i in range(max(first - 2, 1), min(first + span, n)):
            f0 = force_n[i - 1]
            f1 = force_n[i]
            dt = t_s[i] - t_s[i - 1]
            if f0 != f0 or f1 != f1 or dt <= 0.0:
                continue
            slope = (f1 - f0) / dt
            if slope > best:
                best = slope
                t_hs = t_s[i] - (f1 - baseline_n) / slope
        best = 0.0
        t_to = np.nan
        for i in range(max(last - span, 1), min(last + 3, n)):
            f0 = force_n[i - 1]
            f1 = force_n[i]
            dt = t_s[i] - t_s[i - 1]
            if f0 != f0 or f1 != f1 or dt <= 0.0:
                continue
            slope = (f0 - f1) / dt
            if slope > best:
                best = slope
                t_to = t_s[i - 1] + (f0 - baseline_n) / slope
        out_times[k, 0] = t_hs
        out_times[k, 1] = t_to
