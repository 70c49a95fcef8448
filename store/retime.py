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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from firmware_bridge.clock import CLOCK_SETTLE_S
from firmware_bridge.clock_replay import ClockReplay

__all__ = ["retime_frame_batches"]


def _has_arrivals(batch: pa.RecordBatch) -> bool:
    if "t_arrival_s" not in batch.schema.names:
        return False
    return bool(np.isfinite(batch.column("t_arrival_s").to_numpy(zero_copy_only=False)).any())


def _with_t_s(batch: pa.RecordBatch, t_s: np.ndarray) -> pa.RecordBatch:
    columns = list(batch.columns)
    columns[batch.schema.get_field_index("t_s")] = pa.array(t_s, type=pa.float64())
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
        t_dev = batch.column("t_device_us").to_numpy()
        arrival = batch.column("t_arrival_s").to_numpy(zero_copy_only=False)
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
