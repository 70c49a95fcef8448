"""Treadmill distance: the belt speed the runner set, integrated over time.

The distance shown on the live page is ``treadmill_speed_kmh`` × time (a change of speed
counts from when it was set); it is the belt's distance, not one measured from the insoles.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from base.units import kmh_to_mps


class TreadmillOdometer:
    """Distance (m) and time (s) since :meth:`reset`, at the speeds set with :meth:`set_speed`.

    ``clock`` returns seconds (default ``time.monotonic``).
    """

    def __init__(
        self, speed_kmh: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._speed_mps = _mps(speed_kmh)
        self._t0_s = self._t_last_s = clock()
        self._distance_m = 0.0

    def _advance(self) -> float:
        now = self._clock()
        self._distance_m += self._speed_mps * max(now - self._t_last_s, 0.0)
        self._t_last_s = now
        return now

    def set_speed(self, speed_kmh: float | None) -> None:
        """The belt speed from now on (None or 0: stopped / unknown)."""
        self._advance()
        self._speed_mps = _mps(speed_kmh)

    def reset(self) -> None:
        """Start counting from zero now."""
        self._t0_s = self._t_last_s = self._clock()
        self._distance_m = 0.0

    def read(self) -> tuple[float, float]:
        """(elapsed_s, distance_m) since the last reset."""
        now = self._advance()
        return now - self._t0_s, self._distance_m


def _mps(speed_kmh: float | None) -> float:
    return kmh_to_mps(float(speed_kmh)) if speed_kmh else 0.0
