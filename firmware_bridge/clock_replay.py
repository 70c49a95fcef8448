"""Session times re-derived after the fact from device times and arrival times.

The bridge hands frames on from the first chunk of a link, stamped with the clock fit
of the arrivals so far: during the first :data:`~firmware_bridge.clock.CLOCK_SETTLE_S`
of a device clock those ``t_s`` are provisional (up to ~13 ms off with 20 ms arrival
jitter in the first 0.25 s, docs/bridge.md). Every frame also carries ``t_device_us`` and
``t_arrival_s`` (when the chunk that completed it arrived, on the session timebase), so
the whole mapping can be replayed later. :class:`ClockReplay` does that, streaming:

1. rows are grouped into chunks (runs of equal ``t_arrival_s``); each chunk is one
   observation of the :class:`~firmware_bridge.clock.DeviceClockModel`, its last frame
   against its arrival time, exactly as the bridge observed it;
2. chunks are fed in groups sharing the device-time bin of their last frame (the model
   refits only when a bin closes, so this is the bridge's fit for each chunk);
3. the rows of the first ``settle_s`` of every device clock (a link's start, or a device
   restart: device time going back) are mapped with the fit once the model has seen
   ``settle_s`` (or, for a shorter recording, the last fit): what the bridge would have
   handed on had it held them; later rows with the fit at their arrival;
4. times never step back (:func:`~firmware_bridge.clock.never_back`).

The store applies it at finalise and recovery (``store/retime.py``), so a session killed
2 s after its link started is re-timed the same way as one stopped normally. Method:
lower-envelope clock fit of Moon, Skelly & Towsley (1999), see
:mod:`firmware_bridge.clock`.
"""

from __future__ import annotations

import numpy as np

from firmware_bridge.clock import CLOCK_SETTLE_S, DeviceClockModel, never_back

__all__ = ["ClockReplay", "replay_session_times"]


class ClockReplay:
    """Re-derive one foot's session times (s) from ``t_device_us`` and ``t_arrival_s``.

    Feed rows in recording order with :meth:`push`; it returns the times of the rows
    now determined (a prefix of what was pushed and not yet returned); :meth:`finish`
    returns the rest. Memory holds at most the first ``settle_s`` of a device clock
    plus one bin of rows.

    Parameters
    ----------
    settle_s : device time (s) the model sees before its fit maps the first rows.
    """

    def __init__(self, settle_s: float = CLOCK_SETTLE_S) -> None:
        self.settle_us = settle_s * 1e6
        self.model = DeviceClockModel()
        self.last_t_s = -np.inf
        self._dev = np.empty(0, dtype=np.int64)  # rows pushed, not yet returned
        self._arr = np.empty(0, dtype=np.float64)
        self._held = 0  # leading rows of _dev waiting for the model to settle
        self._first_us: int | None = None  # first device time of the current clock
        self._tail_us = np.empty(0, dtype=np.int64)  # device time of the last row returned

    def push(self, t_device_us: np.ndarray, t_arrival_s: np.ndarray) -> np.ndarray:
        """Add rows; return the session times of the rows now determined."""
        self._dev = np.concatenate([self._dev, np.asarray(t_device_us, dtype=np.int64)])
        self._arr = np.concatenate([self._arr, np.asarray(t_arrival_s, dtype=np.float64)])
        return self._run(final=False)

    def finish(self) -> np.ndarray:
        """Session times of every row not yet returned (the recording ended)."""
        return self._run(final=True)

    # -- internals -----------------------------------------------------------------

    def _run(self, *, final: bool) -> np.ndarray:
        out: list[np.ndarray] = []
        while True:
            prev = self._dev[self._held - 1 : self._held] if self._held else self._tail_us
            back = np.flatnonzero(np.diff(np.r_[prev, self._dev[self._held :]]) < 0)
            if not back.size:
                break
            # the device clock restarted: map the old clock's rows with its last fit
            out.append(self._feed(self._held + int(back[0]) - prev.size + 1, final=True))
            out.append(self._emit(self._held))
            self.model.reset()
            self._first_us = None
            self._tail_us = self._tail_us[:0]
        out.append(self._feed(self._dev.size, final=final))
        if final and self._held:
            out.append(self._emit(self._held))
        return np.concatenate(out)

    def _feed(self, stop: int, *, final: bool) -> np.ndarray:
        """Observe rows ``[held, stop)`` of one device clock; return the times emitted."""
        dev, arr = self._dev[:stop], self._arr[:stop]
        lo = self._held
        if stop <= lo:
            return np.empty(0)
        ends = np.flatnonzero(arr[lo + 1 :] != arr[lo:-1]) + lo  # last row of each chunk
        if final or stop < self._dev.size:
            ends = np.r_[ends, stop - 1]
        if ends.size == 0:
            return np.empty(0)
        bins = dev[ends] // self.model.bin_us
        if not final and stop == self._dev.size:  # the newest bin may get more chunks
            keep = bins < bins[-1]
            ends, bins = ends[keep], bins[keep]
            if ends.size == 0:
                return np.empty(0)
        if self._first_us is None:
            self._first_us = int(dev[lo])
        emitted: list[np.ndarray] = [np.empty(0)]
        shift = 0  # rows emitted so far: indices into dev/arr are before the emits
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        for a, b in zip(starts, np.r_[starts[1:], ends.size], strict=True):
            group = ends[a:b]
            observe = group[np.isfinite(arr[group])]
            self.model.observe(dev[observe], arr[observe] * 1e9)
            self._held = int(group[-1]) + 1 - shift
            if self.model.ready and dev[group[-1]] - self._first_us >= self.settle_us:
                shift += self._held
                emitted.append(self._emit(self._held))
        return np.concatenate(emitted)

    def _emit(self, n: int) -> np.ndarray:
        """Map the first ``n`` rows with the current fit and drop them from the buffer."""
        dev = self._dev[:n]
        if n == 0:
            return np.empty(0)
        if self.model.ready:
            last_dev = float(self._tail_us[-1]) if self._tail_us.size else None
            t_s = never_back(self.model.to_host_ns(dev) * 1e-9, self.last_t_s, dev, last_dev)
        else:  # no arrival time at all (rows from an import): keep them in order only
            t_s = never_back(np.full(n, np.nan), self.last_t_s)
        self.last_t_s = float(t_s[-1])
        self._tail_us = dev[-1:].copy()
        self._dev, self._arr = self._dev[n:], self._arr[n:]
        self._held -= n
        return t_s


def replay_session_times(
    t_device_us: np.ndarray, t_arrival_s: np.ndarray, settle_s: float = CLOCK_SETTLE_S
) -> np.ndarray:
    """:class:`ClockReplay` over whole arrays: the session times of every row."""
    replay = ClockReplay(settle_s)
    return np.concatenate([replay.push(t_device_us, t_arrival_s), replay.finish()])
