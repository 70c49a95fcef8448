"""Foot contact events from marker trajectories (coordinate-based, Zeni et al. 2008): a
reference for the force-plate steps that does not come from a force signal.

Used by ``plantar validate``'s tests to cross-check the C3D force-plate trials: which foot
each plate stance belongs to (the importer infers it from the medio-lateral CoP) and, as
a gross check, when. Not a timing reference for the bars: on treadmill running its own
error is several times the 10 ms bar (docs/metrics.md).

Method
------
Positions along the direction of travel relative to the pelvis centre (the mean of the
four ASIS/PSIS markers): heel strike at each maximum of the heel marker, toe-off at each
minimum of the forefoot (mean of the MT1 and MT5 markers), one per ``min_stride_s``
window, timed to a fraction of a frame by a parabola through the extremum and its two
neighbours. The direction of travel is the horizontal axis along which the heel moves
most relative to the pelvis, signed so that the forefoot lies ahead of the heel; the
vertical axis is the one along which the heel lies farthest from the pelvis.

References
----------
Zeni, J. A., Richards, J. G., & Higginson, J. S. (2008). Two simple methods for
determining gait events during treadmill and overground walking using kinematic data.
Gait & Posture, 27(4), 710-714. https://doi.org/10.1016/j.gaitpost.2007.07.007
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PELVIS = ("L.ASIS", "R.ASIS", "L.PSIS", "R.PSIS")
FEET = {"left": "L.", "right": "R."}


def read_markers(path: Path) -> tuple[float, dict[str, np.ndarray]]:
    """The point rate (Hz) and each marker's (n, 3) trajectory (mm) of a C3D file."""
    import c3d

    with open(path, "rb") as handle:
        reader = c3d.Reader(handle)
        labels = [label.strip() for label in reader.point_labels]
        frames = np.array([p[:, :3].copy() for _, p, _ in reader.read_frames()])
        rate = float(reader.point_rate)
    return rate, {name: frames[:, k, :] for k, name in enumerate(labels)}


def _extrema_s(signal: np.ndarray, rate_hz: float, window: int) -> np.ndarray:
    """Times (s) of the maxima of ``signal`` that are the largest within +-``window``."""
    times = []
    for i in range(window, len(signal) - window):
        if signal[i] == signal[i - window : i + window + 1].max():
            a, b, c = signal[i - 1], signal[i], signal[i + 1]
            curvature = a - 2.0 * b + c
            offset = 0.5 * (a - c) / curvature if curvature != 0.0 else 0.0
            times.append((i + offset) / rate_hz)
    return np.array(times)


def zeni_events(path: Path, min_stride_s: float = 0.5) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Heel strikes and toe-offs (s, from the first frame) per foot of a C3D file."""
    rate, m = read_markers(path)
    pelvis = np.mean([m[name] for name in PELVIS], axis=0)
    heel_l = m["L.Heel.Bottom"] - pelvis
    vertical = int(np.argmax(np.abs(heel_l.mean(axis=0))))
    horizontal = [k for k in range(3) if k != vertical]
    forward = horizontal[int(np.argmax([heel_l[:, k].std() for k in horizontal]))]
    sign = np.sign(np.mean((m["L.MT1"] - m["L.Heel.Bottom"])[:, forward]))
    window = max(1, int(0.5 * min_stride_s * rate))
    events = {}
    for foot, pre in FEET.items():
        heel = sign * (m[pre + "Heel.Bottom"] - pelvis)[:, forward]
        forefoot = sign * (0.5 * (m[pre + "MT1"] + m[pre + "MT5"]) - pelvis)[:, forward]
        events[foot] = (_extrema_s(heel, rate, window), _extrema_s(-forefoot, rate, window))
    return events
