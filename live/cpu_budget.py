"""The live process's CPU share, so that a Pi that cannot keep up says so before it loses frames.

:class:`CpuMeter` reads the CPU time of this process (all its threads: ``os.times()``)
once per :meth:`~CpuMeter.sample` and reports the share over the last few seconds as
**cores** (CPU seconds per second; 1.0 = one core busy all the time). The hub samples it
once a second and sends it to the page (``{"type": "cpu", ...}``) and in ``GET
/api/status``; ``plantar doctor`` reads it from a running service.

The limit is one core (:data:`CPU_LIMIT_CORES`), not the machine's: the bridge, the
Analyzer, the recorder hand-over and the page's messages all run on one event loop and
Python runs one thread at a time, so a process near one core is near the point where
batches queue up and, after the insole's own buffer (about 2 s), frames are lost. The
warning comes at :data:`CPU_WARN_FRACTION` of it.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

#: Cores the live process can use before it falls behind (one event loop, one GIL).
CPU_LIMIT_CORES = 1.0
#: Warn at this fraction of :data:`CPU_LIMIT_CORES`.
CPU_WARN_FRACTION = 0.7
#: Seconds the share is averaged over.
CPU_WINDOW_S = 5.0
#: What to do near the limit.
CPU_FIX = "lower the sampling rate, close other programs, or use a faster Pi"


def process_cpu_s() -> float:
    """User + system CPU seconds of this process so far (all threads, not children)."""
    t = os.times()
    return t.user + t.system


def cpu_warning(cores: float, limit_cores: float = CPU_LIMIT_CORES) -> str | None:
    """The warning for a process using ``cores``, or None below the warning level."""
    if cores < CPU_WARN_FRACTION * limit_cores:
        return None
    return (
        f"the live process uses {cores:.2f} of the {limit_cores:g} core it can use, close to "
        f"the point where frames are lost: {CPU_FIX}"
    )


class CpuMeter:
    """CPU share of this process over the last :data:`CPU_WINDOW_S` seconds.

    Parameters
    ----------
    window_s : averaging window (s).
    clock, cpu_s : wall and CPU time sources (s); the defaults are this process's.
    """

    def __init__(
        self,
        window_s: float = CPU_WINDOW_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        cpu_s: Callable[[], float] = process_cpu_s,
    ) -> None:
        self.window_s = float(window_s)
        self._clock = clock
        self._cpu_s = cpu_s
        self._samples: deque[tuple[float, float]] = deque([(clock(), cpu_s())])
        self._last: dict[str, Any] = self._report(None)

    def sample(self) -> dict[str, Any]:
        """Take a sample now; returns :meth:`last` updated."""
        now = self._clock()
        self._samples.append((now, self._cpu_s()))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()
        (t0, c0), (t1, c1) = self._samples[0], self._samples[-1]
        self._last = self._report((c1 - c0) / (t1 - t0) if t1 > t0 else None)
        return self._last

    def last(self) -> dict[str, Any]:
        """The latest report: ``cores`` (None before two samples), ``pct_of_machine``,
        ``limit_cores``, ``warning`` (None or one line with what to do)."""
        return dict(self._last)

    @staticmethod
    def _report(cores: float | None) -> dict[str, Any]:
        n_cpu = os.cpu_count() or 1
        return {
            "cores": None if cores is None else round(cores, 3),
            "pct_of_machine": None if cores is None else round(100.0 * cores / n_cpu, 1),
            "machine_cores": n_cpu,
            "limit_cores": CPU_LIMIT_CORES,
            "warning": None if cores is None else cpu_warning(cores),
        }
