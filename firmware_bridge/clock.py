"""Device clock → host timebase: offset and drift per device, robust to arrival jitter.

Each insole stamps its samples with its own crystal (``t_device_us``); crystals differ
by tens of ppm (100 ppm = 0.36 s per hour) and start at arbitrary offsets. The host only
knows when bytes *arrived* (``Chunk.t_host_ns``), which is the sample time plus a delay
that is never negative and jitters by tens of ms (USB polling, BLE connection events,
scheduling).

Method (lower envelope, as in NTP's minimum-delay filter and Paxson's skew estimation):

1. Every chunk gives one observation: ``d = t_host_ns − 1000·t_device_us`` of the
   *last* frame it completed (the frame with the least delay in that chunk).
2. Observations are grouped in bins of ``bin_s`` (0.5 s) of device time; each bin keeps
   only its minimum ``d``: the sample that arrived with the least delay. With ~50-100
   chunks per second and 20 ms jitter the bin minimum is within ~0.5 ms of the true
   minimum delay.
3. Over a sliding window (``window_s``, 120 s) of bin minima a straight line
   ``d(t) = offset + drift·t`` is fitted by least squares, then refitted on the bins
   that lie no more than ``max(3·MAD, 0.2 ms)`` above it: bins where everything was
   late (a stalled USB hub, a busy CPU) sit above the envelope and are dropped.
4. Device times map to ``1000·t_device_us + d(t_device_us)`` ns on the host's
   ``time.monotonic_ns`` clock. The result is the time the sample would have arrived
   with the minimum delay: it contains the link's minimum latency, which is the same
   for two insoles on the same kind of link, so left and right stay aligned (the
   absolute offset to "true" sample time is the minimum latency, ~1 ms on USB).

Until two bins are complete the model uses the minimum ``d`` seen so far and zero drift.
The fit is recomputed once per completed bin (not per chunk), and mapping is vectorised,
so the cost per chunk is a few NumPy calls.

:func:`alignment_error_ms` and ``tests/firmware_bridge/test_clock.py`` measure the bar:
left and right aligned within 1 ms over 1 h with 100 ppm drift and 20 ms jitter.
"""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np

__all__ = ["CLOCK_SETTLE_S", "DeviceClockModel", "lower_envelope_line", "never_back"]

#: Device time (s) a new device clock's model must have seen before its fit is trusted:
#: frames before it are handed on at once with provisional times, and the store re-times
#: them at finalise with the fit at this point (:mod:`firmware_bridge.clock_replay`).
CLOCK_SETTLE_S = 5.0
#: Smallest step between the session times of consecutive frames of one device (s).
MIN_STEP_S = 1e-7
#: When a refit moves the device-to-session mapping back, frames keep at least this share
#: of their device-time spacing until the mapping is caught up (a slew, as NTP does).
MIN_SPACING_SHARE = 0.5


def never_back(
    t_s: np.ndarray,
    last_t_s: float,
    t_device_us: np.ndarray | None = None,
    last_t_device_us: float | None = None,
) -> np.ndarray:
    """Session times that never step back: a refit may move the mapping back, but a frame
    is never stamped before the one handed on before it.

    With the device times, frame ``i`` is also stamped at least ``MIN_SPACING_SHARE`` of its
    device interval after frame ``i - 1`` (``last_t_device_us``: the frame before this
    batch), so a backward refit is slewed out instead of stamping many frames alike:
    ``t[i] = max(fit[i], t[i - 1] + step[i])``, computed without a loop as a running maximum
    of ``fit - cumsum(step)``.
    """
    if t_device_us is None:
        return np.maximum.accumulate(np.maximum(t_s, last_t_s + MIN_STEP_S))
    dev = np.asarray(t_device_us, dtype=np.float64)
    prev = np.empty_like(dev)
    prev[:1] = dev[:1] if last_t_device_us is None else last_t_device_us
    prev[1:] = dev[:-1]
    step = np.maximum(MIN_SPACING_SHARE * 1e-6 * (dev - prev), MIN_STEP_S)
    offset = np.cumsum(step)
    return np.maximum.accumulate(np.maximum(t_s - offset, last_t_s)) + offset


def lower_envelope_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The line below all points (x sorted ascending) closest to them on average.

    Minimises ``sum(y_i - (a + b x_i))`` subject to ``a + b x_i <= y_i`` for every i
    (the linear programme of Moon, Skelly & Towsley 1999 for clock skew). Its solution is
    the edge of the points' lower convex hull above the mean of x.

    Returns
    -------
    (slope b, intercept a)
    """
    xs = np.asarray(x, dtype=np.float64).tolist()
    ys = np.asarray(y, dtype=np.float64).tolist()
    hull: list[int] = []
    for i, (xi, yi) in enumerate(zip(xs, ys, strict=True)):  # monotone chain, lower hull
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            if (xs[a] - xs[o]) * (yi - ys[o]) - (ys[a] - ys[o]) * (xi - xs[o]) > 0:
                break
            hull.pop()
        hull.append(i)
    if len(hull) == 1:
        return 0.0, ys[hull[0]]
    xm = sum(xs) / len(xs)
    a, b = hull[0], hull[1]
    for a, b in itertools.pairwise(hull):  # noqa: B007 - edge above the mean
        if xs[b] >= xm:
            break
    slope = (ys[b] - ys[a]) / (xs[b] - xs[a])
    return slope, ys[a] - slope * xs[a]


class DeviceClockModel:
    """Offset and drift of one device clock against the host's monotonic clock.

    Parameters
    ----------
    bin_s : float
        Length of a minimum-filter bin in device seconds.
    window_s : float
        Length of the sliding window of bins used for the linear fit (s).
    warmup_s : float
        Baseline (s) below which no drift is estimated (offset only, from the last 1 s).
    """

    def __init__(
        self,
        bin_s: float = 0.5,
        window_s: float = 120.0,
        warmup_s: float = 3.0,
        max_drift_ppm: float = 200.0,
    ) -> None:
        if bin_s <= 0 or window_s < 2 * bin_s:
            raise ValueError("need bin_s > 0 and window_s >= 2 * bin_s")
        self.bin_us = round(bin_s * 1e6)
        self.max_bins = int(np.ceil(window_s / bin_s))
        self.warmup_us = warmup_s * 1e6
        self.max_drift = max_drift_ppm * 1e-3
        self.reset()

    def reset(self) -> None:
        """Forget everything (the device restarted: its clock is new)."""
        self._bins: deque[tuple[float, float]] = deque()  # (t_device_us, min d_ns)
        self._cur_bin: int | None = None
        self._cur_t_us = 0.0
        self._cur_d_ns = np.inf
        self._ref_us = 0.0
        self._offset_ns = np.nan  # d at _ref_us
        self._drift = 0.0  # ns of d per us of device time (= ppm * 1e-3)
        self.observations = 0

    @property
    def ready(self) -> bool:
        """True once at least one observation has been made."""
        return bool(np.isfinite(self._offset_ns))

    @property
    def drift_ppm(self) -> float:
        """Estimated rate of the host clock against the device clock, in ppm (host − device)."""
        return self._drift * 1e3

    def observe(self, t_device_us: np.ndarray, t_host_ns: np.ndarray) -> None:
        """Add observations: per chunk, the last frame's device time and the arrival time.

        Parameters
        ----------
        t_device_us : (m,) device time (µs) of the last frame completed by each chunk,
            non-decreasing.
        t_host_ns : (m,) host monotonic arrival time (ns) of each chunk.
        """
        dev = np.asarray(t_device_us, dtype=np.float64).ravel()
        host = np.asarray(t_host_ns, dtype=np.float64).ravel()
        if dev.size == 0:
            return
        self.observations += dev.size
        d = host - dev * 1e3
        bins = np.floor_divide(dev, self.bin_us).astype(np.int64)
        # split into runs of equal bin index (device time is non-decreasing)
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        mins = np.minimum.reduceat(d, starts)
        ends = np.r_[starts[1:], dev.size]
        refit = False
        for b, lo, hi, m in zip(bins[starts], starts, ends, mins, strict=True):
            if self._cur_bin is not None and b != self._cur_bin:
                if b < self._cur_bin:  # device time went back: not this clock any more
                    self.reset()
                else:
                    self._close_bin()
                    refit = True
            self._cur_bin = int(b)
            if m < self._cur_d_ns:
                k = lo + int(np.argmin(d[lo:hi]))
                self._cur_d_ns = float(m)
                self._cur_t_us = float(dev[k])
        if refit or len(self._bins) < 2:
            self._fit()

    def _close_bin(self) -> None:
        self._bins.append((self._cur_t_us, self._cur_d_ns))
        while len(self._bins) > self.max_bins:
            self._bins.popleft()
        self._cur_d_ns = np.inf

    def _fit(self) -> None:
        if not self._bins or self._bins[-1][0] - self._bins[0][0] < self.warmup_us:
            # short baseline: a slope would be mostly noise; use the latest minima, no drift
            recent = [d for t, d in self._bins if t >= self._cur_t_us - 2 * self.bin_us]
            self._offset_ns = float(min([*recent, self._cur_d_ns]))
            self._ref_us = self._cur_t_us
            self._drift = 0.0
            return
        t = np.fromiter((b[0] for b in self._bins), np.float64, len(self._bins))
        d = np.fromiter((b[1] for b in self._bins), np.float64, len(self._bins))
        ref = t[-1]
        slope, icpt = lower_envelope_line(t - ref, d)
        slope = float(np.clip(slope, -self.max_drift, self.max_drift))
        self._ref_us = float(ref)
        self._offset_ns = float(icpt)
        self._drift = float(slope)

    def to_host_ns(self, t_device_us: np.ndarray) -> np.ndarray:
        """Host monotonic time (ns, float64) of device times (µs)."""
        dev = np.asarray(t_device_us, dtype=np.float64)
        if not self.ready:
            raise RuntimeError("DeviceClockModel.to_host_ns before any observation")
        return dev * 1e3 + self._offset_ns + self._drift * (dev - self._ref_us)
