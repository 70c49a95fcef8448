"""Statistics of the free moment per step, of real force-plate running and of the
simulator, computed alike so that the simulator's pivot can be calibrated to reality.

Real data: the Fukuchi, Fukuchi & Duarte (2017) treadmill runs (PeerJ 5:e3298,
doi:10.7717/peerj.3298; ``*forces.txt``: 300 Hz, ``Fy`` vertical in N, ``COPz``
medio-lateral in mm, ``Ty`` the free moment in N·mm; one signal, the feet alternating).
Only these few lines read that format, for calibration; the importer of such sessions lives
in ``store/importers``.

Per step (definitions, the same for both sources):

* stance: ``Fy > STANCE_FORCE_N`` for at least 0.1 s; the first and last stances of a
  file are dropped (cut by the recording's ends); the foot is told by the stance's median
  ``COPz`` against the median over all stances;
* the free moment is smoothed by a 30 ms moving mean applied twice (about 13 Hz low-pass,
  which removes the treadmill's vibration) and is zero in flight;
* ``late_peak_nmm``: the largest ``|Ty|`` in the second half of stance (the pivot "at
  toe-off" of the insole analysis); its step-to-step CV per foot;
* ``peak_tau``: the stance phase of the largest ``|Ty|`` from 30 % of stance to toe-off
  (after the impact transient, which on a treadmill is dominated by vibration).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Speed (m/s) -> (contact time s, cadence steps/min): the medians of the Fukuchi runs at
#: that speed (``benchmarks/calibrate_pivot.py``), for simulating them.
FUKUCHI_SPEEDS = {2.5: (0.29, 150.0), 3.5: (0.232, 157.0), 4.5: (0.207, 167.0)}
#: Vertical force above which a force-plate frame is stance (N).
STANCE_FORCE_N = 20.0
FORCE_PLATE_RATE_HZ = 300.0
_SMOOTH_S = 0.03
LATE_FROM_TAU = 0.5
TIMING_FROM_TAU = 0.3


@dataclass
class FreeMomentStats:
    """Per-foot statistics of the free moment's late-stance peak (see the module doc)."""

    source: str
    foot: str
    steps: int
    contact_time_s: float  # median
    cadence_spm: float  # both feet
    late_peak_nmm: float  # median over steps
    late_peak_cv: float
    peak_tau: float  # median
    peak_tau_sd: float

    def to_dict(self) -> dict[str, object]:
        """Plain dict, rounded for a JSON report."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def _smooth(x: np.ndarray, rate_hz: float) -> np.ndarray:
    w = max(round(_SMOOTH_S * rate_hz), 1)
    k = np.ones(w) / w
    return np.convolve(np.convolve(x, k, "same"), k, "same")


def step_peaks(stances: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Late-stance peak ``|Tz|`` and peak stance phase of each stance's (smoothed) free
    moment (one array per stance, heel strike to toe-off)."""
    peaks, taus = [], []
    for tz in stances:
        tau = (np.arange(tz.size) + 0.5) / tz.size
        late = tau >= LATE_FROM_TAU
        after = tau >= TIMING_FROM_TAU
        peaks.append(float(np.abs(tz[late]).max()))
        taus.append(float(tau[after][np.argmax(np.abs(tz[after]))]))
    return np.array(peaks), np.array(taus)


def _stats(
    source: str, foot: str, stances: list[np.ndarray], rate_hz: float, cadence: float
) -> FreeMomentStats:
    peaks, taus = step_peaks(stances)
    return FreeMomentStats(
        source=source,
        foot=foot,
        steps=len(stances),
        contact_time_s=float(np.median([s.size for s in stances]) / rate_hz),
        cadence_spm=cadence,
        late_peak_nmm=float(np.median(peaks)),
        late_peak_cv=float(peaks.std() / peaks.mean()),
        peak_tau=float(np.median(taus)),
        peak_tau_sd=float(taus.std()),
    )


def force_plate_stats(path: Path) -> list[FreeMomentStats]:
    """Both feet's statistics of one Fukuchi ``*forces.txt`` file ("A": the smaller
    ``COPz``, "B": the larger; which is left is not in the file)."""
    data = np.loadtxt(path, skiprows=1)
    fy, cop_ml, ty = data[:, 2], data[:, 6], data[:, 7]
    on = fy > STANCE_FORCE_N
    edges = np.flatnonzero(np.diff(on.astype(np.int8))) + 1
    starts = [int(i) for i in edges if on[i]]
    ends = [int(i) for i in edges if not on[i]]
    runs = []
    for a in starts:
        b = next((e for e in ends if e > a), None)
        if b is not None and b - a >= 0.1 * FORCE_PLATE_RATE_HZ:
            runs.append((a, b))
    runs = runs[1:-1]
    tz = _smooth(np.where(on, ty, 0.0), FORCE_PLATE_RATE_HZ)
    side = np.array([np.median(cop_ml[a:b]) for a, b in runs])
    duration_s = (runs[-1][1] - runs[0][0]) / FORCE_PLATE_RATE_HZ
    cadence = 60.0 * (len(runs) - 1) / duration_s
    out = []
    for foot, mask in (("A", side < np.median(side)), ("B", side >= np.median(side))):
        stances = [tz[a:b] for (a, b), m in zip(runs, mask, strict=True) if m]
        out.append(_stats(path.name, foot, stances, FORCE_PLATE_RATE_HZ, cadence))
    return out


def simulator_stats(
    step_index: np.ndarray, tau: np.ndarray, free_moment_nmm: np.ndarray, rate_hz: float,
    *, source: str = "simulator", foot: str = "left", cadence_spm: float = float("nan"),
) -> FreeMomentStats:  # fmt: skip
    """The same statistics of a simulated foot's noise-free free moment (continuous field),
    from its samples' step index and stance phase; smoothed like the force plate's."""
    stance = (step_index >= 0) & (tau >= 0.0) & (tau < 1.0)
    tz = _smooth(np.where(stance, free_moment_nmm, 0.0), rate_hz)
    steps = np.unique(step_index[stance])[1:-1]
    stances = [tz[stance & (step_index == k)] for k in steps]
    return _stats(source, foot, stances, rate_hz, cadence_spm)
