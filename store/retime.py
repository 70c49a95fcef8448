"""Re-timing a live session at finalise: the settled clock fit applied to every frame.

The bridge hands frames on from the first chunk of a link, so nothing waits in memory,
but the ``t_s`` of the first :data:`~firmware_bridge.clock.CLOCK_SETTLE_S` of a device
clock come from a fit of the arrivals so far (provisional). Each stored frame keeps
``t_device_us`` and ``t_arrival_s`` (the arrival of its chunk on the session timebase),
so finalising (:func:`store.finalise.finalise_session`, also run by recovery after a
crash) replays the bridge's clock model over them with
:class:`firmware_bridge.clock_replay.ClockReplay` and rewrites ``t_s``: the first seconds
get the settled fit, later frames the fit at their arrival. A session stopped normally
and one killed 2 s after its link started are re-timed by the same code from what is on
disk. Streams without arrival times (imports, older recordings) pass through unchanged.

Events of a foot (gaps, steps, alerts, queue overflows) recorded with provisional times
are moved by the change of that foot's frames around them (:class:`SessionRetime`,
interpolated between points where the change differs by more than
:data:`EVENT_SHIFT_STEP_S`), so they stay where they were among the frames. Step times
inside an event's JSON ``detail`` are not rewritten.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from firmware_bridge.clock import CLOCK_SETTLE_S
from firmware_bridge.clock_replay import ClockReplay
from store.arrow_numpy import numpy_column, to_numpy, to_strings

__all__ = ["EVENT_SHIFT_STEP_S", "SessionRetime", "retime_frame_batches"]

#: Resolution (s) of the per-foot change of ``t_s`` kept for moving events.
EVENT_SHIFT_STEP_S = 1e-4


def _has_arrivals(batch: pa.RecordBatch) -> bool:
    if "t_arrival_s" not in batch.schema.names:
        return False
    return bool(np.isfinite(to_numpy(batch.column("t_arrival_s"))).any())


def _with_t_s(batch: pa.RecordBatch, t_s: np.ndarray) -> pa.RecordBatch:
    columns = list(batch.columns)
    columns[batch.schema.get_field_index("t_s")] = numpy_column(t_s, np.float64)
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def retime_frame_batches(
    batches: Iterator[pa.RecordBatch], settle_s: float = CLOCK_SETTLE_S
) -> Iterator[pa.RecordBatch]:
    """One foot's frame batches, in order, with ``t_s`` replayed from the clock model.

    The same batches come out (same rows, same schema), only ``t_s`` replaced; a batch
    waits until its times are known (at most the first ``settle_s`` of a device clock).
    """
    replay: ClockReplay | None = None
    held: deque[pa.RecordBatch] = deque()
    ready: list[np.ndarray] = []
    n_ready = 0
    for batch in batches:
        if replay is None:
            if not _has_arrivals(batch):  # an import or an older recording: keep its t_s
                yield batch
                yield from batches
                return
            replay = ClockReplay(settle_s)
        t_dev = to_numpy(batch.column("t_device_us"))
        arrival = to_numpy(batch.column("t_arrival_s"))
        times = replay.push(t_dev, arrival)
        ready.append(times)
        n_ready += times.size
        held.append(batch)
        while held and n_ready >= held[0].num_rows:
            ready, n_ready, out = _take(held.popleft(), ready, n_ready)
            yield out
    if replay is None:
        return
    ready.append(replay.finish())
    n_ready += ready[-1].size
    while held:
        ready, n_ready, out = _take(held.popleft(), ready, n_ready)
        yield out


def _take(
    batch: pa.RecordBatch, ready: list[np.ndarray], n_ready: int
) -> tuple[list[np.ndarray], int, pa.RecordBatch]:
    times = np.concatenate(ready)
    n = batch.num_rows
    return [times[n:]], n_ready - n, _with_t_s(batch, times[:n])


class SessionRetime:
    """Re-time one session: each foot's frames (:meth:`frames`), then the events
    (:meth:`events`) by the change of their foot's frames. Feed the feet first.

    Memory: the points where a foot's change of ``t_s`` moves by more than
    :data:`EVENT_SHIFT_STEP_S` (a few hundred for the first seconds of a link; after the
    settle time the replay reproduces the bridge's own times).
    """

    def __init__(self, settle_s: float = CLOCK_SETTLE_S) -> None:
        self.settle_s = settle_s
        self._points: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}

    def frames(self, foot: str) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
        """The transform of ``foot``'s frame batches (for ``compact_stream``)."""

        def transform(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            old_t: list[np.ndarray] = []
            shift: list[np.ndarray] = []
            prev = np.nan
            for old, new in _pairs(batches, retime_frame_batches, self.settle_s):
                t_old = to_numpy(old.column("t_s"))
                if t_old.size:
                    change = to_numpy(new.column("t_s")) - t_old
                    step = np.rint(change / EVENT_SHIFT_STEP_S)
                    moved = step[1:] != step[:-1]
                    # both ends of every run of one step: np.interp is exact within a run
                    keep = np.r_[step[0] != prev, moved] | np.r_[moved, True]
                    old_t.append(t_old[keep])
                    shift.append(change[keep])
                    prev = step[-1]
                yield new
            if old_t:
                self._points[foot] = (old_t, shift)

        return transform

    def events(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Event batches with the ``t_s`` of each foot's events moved with its frames."""
        points = {
            foot: (np.concatenate(t), np.concatenate(d)) for foot, (t, d) in self._points.items()
        }
        for batch in batches:
            if not points or batch.num_rows == 0:
                yield batch
                continue
            t_s = to_numpy(batch.column("t_s")).copy()
            feet = np.asarray(to_strings(batch.column("foot")), dtype=object)
            for foot, (t_old, change) in points.items():
                mine = feet == foot
                if mine.any():
                    t_s[mine] += np.interp(t_s[mine], t_old, change)
            yield _with_t_s(batch, t_s)


def _pairs(
    batches: Iterator[pa.RecordBatch], transform: Any, settle_s: float
) -> Iterator[tuple[pa.RecordBatch, pa.RecordBatch]]:
    """(batch read, batch re-timed) pairs: the transform keeps order and batch boundaries."""
    read: deque[pa.RecordBatch] = deque()

    def remember() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            read.append(batch)
            yield batch

    for new in transform(remember(), settle_s):
        yield read.popleft(), new
