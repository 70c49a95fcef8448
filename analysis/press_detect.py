"""Which insole is being pressed: telling left from right when pairing.

The pairing page asks the runner to press on the forefoot of the insole in their left
shoe (a palm or a thumb on the ball of the foot) and watches which insole's forefoot
pressure rises. :class:`PressDetector` takes the frames of every insole in the test; per
frame it keeps the peak forefoot pressure (kPa, the sensels of
:data:`hardware.layout.FOREFOOT_REGIONS`), and compares the level held through the last
``window_s`` with the level held through the first ``baseline_s`` (taken while nobody
presses). The level of a window is the pressure held through :data:`HELD_FRACTION` of it
(its 20th percentile), so only a sustained press counts: a foot that walks or runs
during the test is in swing, its forefoot unloaded, for more than 20 % of every stride,
and its level stays at its baseline however hard it lands (checked on the Moticon and
pedar walking recordings in ``tests/analysis/test_press_detect.py``).

Plain NumPy (a few hundred frames a second, no kernel needed).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PRESS_RISE_KPA", "PressDetector", "PressVerdict"]

#: A rise of the held peak forefoot pressure by this much counts as a press (kPa). A firm
#: thumb (20-30 N on 1.5 cm²) gives well over 100 kPa; standing still gives 40-60 kPa at
#: the forefoot (Moticon recording in shared/data), a foot resting in a shoe a few kPa.
PRESS_RISE_KPA = 80.0
#: An insole whose level rose by this fraction of the press threshold was touched too: with
#: another one pressed, the test cannot tell which is the left one (someone stood up).
MOVED_FRACTION = 0.5
#: Seconds of frames the baseline is taken over (nobody pressing).
BASELINE_S = 1.0
#: Seconds of frames the current level is taken over (longer than a walking stride).
WINDOW_S = 1.5
#: The level of a window is the pressure held through this fraction of it.
HELD_FRACTION = 0.8


@dataclass
class _Track:
    baseline: list[np.ndarray] = field(default_factory=list)
    baseline_from_s: float | None = None
    baseline_kpa: float | None = None
    recent: deque[tuple[float, float]] = field(default_factory=deque)


@dataclass(frozen=True)
class PressVerdict:
    """What the detector sees now.

    Attributes
    ----------
    ready : every insole has its baseline and a full window after it.
    rise_kpa : per insole, the peak forefoot pressure held through the last window minus
        the one held through the baseline (kPa).
    pressed : the insoles whose rise is at least the threshold.
    moved : the insoles whose rise is at least :data:`MOVED_FRACTION` of it (the pressed
        ones among them).
    """

    ready: bool
    rise_kpa: dict[str, float]
    pressed: tuple[str, ...]
    moved: tuple[str, ...]

    @property
    def single(self) -> str | None:
        """The one insole pressed while no other was touched, else None."""
        return self.pressed[0] if len(self.pressed) == 1 and len(self.moved) == 1 else None


class PressDetector:
    """Watch the forefoot pressure of several insoles for a press.

    Parameters
    ----------
    forefoot : per insole key, the boolean (n_sensels,) forefoot mask of its layout.
    rise_kpa : rise of the held peak forefoot pressure that counts as a press.
    baseline_s, window_s : see the module.
    """

    def __init__(
        self,
        forefoot: dict[str, np.ndarray],
        *,
        rise_kpa: float = PRESS_RISE_KPA,
        baseline_s: float = BASELINE_S,
        window_s: float = WINDOW_S,
    ) -> None:
        if not rise_kpa > 0 or not baseline_s > 0 or not window_s > 0:
            raise ValueError("rise_kpa, baseline_s and window_s must be positive")
        self.forefoot = {k: np.asarray(m, dtype=bool) for k, m in forefoot.items()}
        self.rise_kpa_threshold = float(rise_kpa)
        self.baseline_s = float(baseline_s)
        self.window_s = float(window_s)
        self._tracks = {k: _Track() for k in self.forefoot}

    def feed(self, key: str, t_s: np.ndarray, pressure_kpa: np.ndarray) -> None:
        """Frames of insole ``key``: times (n,) in s and pressures (n, n_sensels) in kPa."""
        if len(t_s) == 0:
            return
        mask = self.forefoot[key]
        forefoot = np.asarray(pressure_kpa, dtype=np.float64)[:, mask]
        forefoot = np.where(np.isfinite(forefoot), forefoot, 0.0)  # a dead sensel reads NaN
        peak = forefoot.max(axis=1, initial=0.0)
        times = np.asarray(t_s, dtype=np.float64)
        track = self._tracks[key]
        if track.baseline_kpa is None:
            if track.baseline_from_s is None:
                track.baseline_from_s = float(times[0])
            in_base = times < track.baseline_from_s + self.baseline_s
            track.baseline.append(peak[in_base])
            if not in_base.all():
                track.baseline_kpa = _held(np.concatenate(track.baseline))
                track.baseline.clear()
            times, peak = times[~in_base], peak[~in_base]
        track.recent.extend(zip(times.tolist(), peak.tolist(), strict=True))
        if track.recent:
            newest = track.recent[-1][0]
            while track.recent and track.recent[0][0] < newest - self.window_s:
                track.recent.popleft()

    def verdict(self) -> PressVerdict:
        """The rise of every insole and which are pressed (none until all have baselines)."""
        rises: dict[str, float] = {}
        for key, track in self._tracks.items():
            if track.baseline_kpa is None or not track.recent:
                continue
            if track.recent[-1][0] - track.recent[0][0] < 0.9 * self.window_s:
                continue  # the window is not full yet
            level = _held(np.array([p for _, p in track.recent]))
            rises[key] = level - track.baseline_kpa
        ready = len(rises) == len(self._tracks)
        threshold = self.rise_kpa_threshold
        pressed = tuple(k for k, r in rises.items() if r >= threshold) if ready else ()
        moved = tuple(k for k, r in rises.items() if r >= MOVED_FRACTION * threshold)
        return PressVerdict(
            ready=ready, rise_kpa=rises, pressed=pressed, moved=moved if ready else ()
        )


def _held(peak_kpa: np.ndarray) -> float:
    """The pressure held through :data:`HELD_FRACTION` of the frames (0 when none)."""
    if len(peak_kpa) == 0:
        return 0.0
    return float(np.quantile(peak_kpa, 1.0 - HELD_FRACTION))
