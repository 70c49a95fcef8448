# Long module: InsoleStream is one state machine (decode, sequence, clock, reconnect).
"""One insole: transport → decoder → sequence accounting → clock → calibrated FootFrames.

:class:`InsoleStream` is the per-foot half of the bridge. For every chunk a transport
delivers it

1. decodes all complete frames at once (:class:`~firmware_bridge.stream_decoder.StreamDecoder`,
   a numba kernel; garbage is counted and skipped, never raised),
2. unwraps the 32-bit sequence numbers and drops any frame whose number is not above
   every number handed on before (duplicates, late frames): what leaves is strictly
   increasing,
3. records every jump in the numbers as a :class:`StreamEvent` of kind ``"gap"`` with
   the number of lost frames; nothing is interpolated,
4. maps device timestamps to the session timebase with a
   :class:`~firmware_bridge.clock.DeviceClockModel` (one per device, kept across
   reconnects, reset when the device restarts),
5. converts counts to kPa with the calibration the device names in its INFO.

All steps work on arrays of the whole chunk; there is no per-frame Python loop.

Frames are handed on from the first chunk, with their arrival time
(``FootFrames.t_arrival_s``). While the clock model has seen less than
:data:`CLOCK_SETTLE_S` of a new device their ``t_s`` are provisional (the fit of the
arrivals so far: the first second says too little about the clock to align two feet
within 1 ms); the store re-times them at finalise from ``t_device_us`` and
``t_arrival_s`` (:mod:`firmware_bridge.clock_replay`). Link drops raise
:class:`~firmware_bridge.transport.LinkLost` in the transport;
:meth:`InsoleStream.next_batch` turns them into ``link_lost``/``reconnected`` events and
reconnects with :func:`reconnect_with_backoff` (at most :data:`MAX_BACKOFF_S` between
attempts, so a device that is back is found within that).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from base.errors import ConfigError, DeviceError
from base.frames import FOOT_NAMES, FootFrames
from base.wire.messages import DeviceInfo
from base.wire.protocol import FOOT_LEFT
from firmware_bridge.clock import CLOCK_SETTLE_S, DeviceClockModel, never_back
from firmware_bridge.stream_decoder import StreamDecoder, unwrap_seq
from firmware_bridge.transport import Chunk, LinkLost, LinkState, StreamEnded, Transport

__all__ = [
    "CLOCK_SETTLE_S",
    "EVENT_KINDS",
    "MAX_BACKOFF_S",
    "InsoleStats",
    "InsoleStream",
    "SessionClock",
    "StreamEvent",
    "reconnect_with_backoff",
]

log = logging.getLogger("plantar.bridge")

#: Reconnect attempts: first after 50 ms, doubling up to this (s).
MAX_BACKOFF_S = 0.5
#: Event kinds an InsoleStream emits.
EVENT_KINDS = ("gap", "duplicate", "link_lost", "reconnected", "device_restart", "stream_ended")


@dataclass(frozen=True)
class StreamEvent:
    """Something that happened to one insole's stream, on the session timebase.

    Attributes
    ----------
    kind : one of :data:`EVENT_KINDS`.
    foot : "left" | "right".
    t_s : session time (s): for a gap, the time of the last frame before it.
    seq : gap: first missing (unwrapped) sequence number; duplicate: the first dropped.
    lost_frames : gap: frames missing; duplicate: frames dropped; else 0.
    duration_s : gap: time from the frame before to the frame after; reconnected: time
        the link was down.
    detail : free text (e.g. the LinkLost reason).
    """

    kind: str
    foot: str
    t_s: float
    seq: int | None = None
    lost_frames: int = 0
    duration_s: float = 0.0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "foot": self.foot,
            "t_s": round(self.t_s, 6),
            "seq": self.seq,
            "lost_frames": self.lost_frames,
            "duration_s": round(self.duration_s, 6),
            "detail": self.detail,
        }


#: Events an :class:`InsoleStream` keeps in memory (every event is also handed on to the
#: recorder; counts by kind cover the whole session).
EVENTS_KEPT = 1000


class EventLog:
    """One stream's events: counts by kind for the whole session, the last ``keep`` events.

    Bounded so a two-hour run with a flaky link does not grow without end; the recorder
    keeps every event on disk.
    """

    def __init__(self, keep: int = EVENTS_KEPT) -> None:
        self.recent: deque[StreamEvent] = deque(maxlen=keep)
        self.counts: Counter[str] = Counter()

    def append(self, event: StreamEvent) -> None:
        self.recent.append(event)
        self.counts[event.kind] += 1

    def extend(self, events: Iterable[StreamEvent]) -> None:
        for event in events:
            self.append(event)

    def __iter__(self) -> Iterator[StreamEvent]:
        return iter(self.recent)

    def __len__(self) -> int:
        return len(self.recent)

    def __getitem__(self, index: int) -> StreamEvent:
        return self.recent[index]


class SessionClock:
    """The session timebase shared by both feet: seconds since ``t0_ns`` (monotonic ns).

    ``t0_ns`` is set at construction, or lazily from the first chunk seen (replays carry
    their recorded arrival times).
    """

    def __init__(self, t0_ns: int | None = None) -> None:
        self.t0_ns = t0_ns

    def ensure(self, t_host_ns: int) -> int:
        if self.t0_ns is None:
            self.t0_ns = int(t_host_ns)
        return self.t0_ns

    def to_s(self, t_host_ns: np.ndarray | float) -> np.ndarray:
        return (np.asarray(t_host_ns, dtype=np.float64) - float(self.t0_ns or 0)) * 1e-9


@dataclass
class InsoleStats:
    """Counters of one insole's stream (a snapshot is taken by :meth:`InsoleStream.status`)."""

    foot: str
    url: str
    state: LinkState = LinkState.CONNECTING
    frames: int = 0  # frames handed on
    lost_frames: int = 0  # sum of the gaps
    gaps: int = 0
    duplicates: int = 0  # frames dropped as duplicate or out of order
    reconnects: int = 0
    bad_frames: int = 0  # rejected by the decoder (CRC, malformed, wrong layout)
    bytes_discarded: int = 0
    bytes_received: int = 0
    rate_hz: float = 0.0  # frames handed on per second, over the last ~2 s
    device_id: int | None = None
    info: DeviceInfo | None = None
    last_error: str = ""
    _rate_window: deque[tuple[float, int]] = field(default_factory=deque, repr=False)
    _rate_frames: int = field(default=0, repr=False)  # sum of n over _rate_window

    @property
    def loss_pct(self) -> float:
        """Lost frames as % of frames expected (handed on + lost)."""
        total = self.frames + self.lost_frames
        return 100.0 * self.lost_frames / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "foot": self.foot,
            "url": self.url,
            "state": self.state.value,
            "frames": self.frames,
            "lost_frames": self.lost_frames,
            "loss_pct": round(self.loss_pct, 4),
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "reconnects": self.reconnects,
            "bad_frames": self.bad_frames,
            "bytes_discarded": self.bytes_discarded,
            "bytes_received": self.bytes_received,
            "rate_hz": round(self.rate_hz, 2),
            "device_id": self.device_id,
            "layout_id": self.info.layout_id if self.info else None,
            "last_error": self.last_error,
        }


async def reconnect_with_backoff(
    transport: Transport,
    *,
    timeout_s: float | None = None,
    stop: asyncio.Event | None = None,
    on_attempt: Any = None,
) -> DeviceInfo:
    """Call ``transport.reconnect()`` until it succeeds, backing off 50 ms → 0.5 s.

    Raises
    ------
    LinkLost
        If ``timeout_s`` passes or ``stop`` is set first.
    """
    delay = 0.05
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        try:
            return await transport.reconnect()
        except (LinkLost, DeviceError) as exc:  # DeviceError: e.g. udev still setting modes
            if on_attempt is not None:
                on_attempt(exc)
        if stop is not None and stop.is_set():
            raise LinkLost("stopped while reconnecting")
        if deadline is not None and time.monotonic() + delay > deadline:
            raise LinkLost(f"{transport.description}: not back within {timeout_s:g} s")
        if stop is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        else:
            await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF_S)


@dataclass
class _Pending:
    """The frames of the chunk being processed (raw values, device time), and its gaps."""

    seq: list[np.ndarray] = field(default_factory=list)
    t_device_us: list[np.ndarray] = field(default_factory=list)
    counts: list[np.ndarray] = field(default_factory=list)
    shear: list[np.ndarray] = field(default_factory=list)
    gaps: list[tuple[int, int, int, int]] = field(default_factory=list)  # seq, lost, t0, t1


class InsoleStream:
    """The stream of one insole on the session timebase.

    Parameters
    ----------
    transport : an unopened transport (see :func:`firmware_bridge.transport.open_transport`).
    expected_foot : "left"/"right"; a device reporting the other foot is a DeviceError.
    session : the timebase shared with the other foot (default: a new one, lazily).
    clock : the device clock model (default: a new :class:`DeviceClockModel`).
    capture : optional :class:`firmware_bridge.transports.replay.ByteCaptureWriter`;
        every chunk and link event is written to it (``replay://`` plays it back).
    settle_s : device time after which the clock fit counts as settled
        (:attr:`clock_settled`); see :data:`CLOCK_SETTLE_S`. Nothing waits for it.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        expected_foot: str | None = None,
        session: SessionClock | None = None,
        clock: DeviceClockModel | None = None,
        capture: Any = None,
        settle_s: float = CLOCK_SETTLE_S,
    ) -> None:
        if expected_foot is not None and expected_foot not in FOOT_NAMES:
            raise ValueError(f"expected_foot must be left or right, got {expected_foot!r}")
        self.transport = transport
        self.expected_foot = expected_foot
        self.session = session or SessionClock()
        self.clock = clock or DeviceClockModel()
        self.capture = capture
        self.settle_us = settle_s * 1e6
        self.foot = expected_foot or "left"
        self.stats = InsoleStats(self.foot, transport.url)
        self.events = EventLog()  # counts + the recent events (all handed on)
        self.info: DeviceInfo | None = None
        self.decoder: StreamDecoder | None = None
        self.calibration: Any = None
        self._last_seq: int | None = None  # unwrapped device seq of the last frame kept
        self._seq_offset = 0  # added to device seq (non-zero after a device restart)
        self._last_t_dev: int | None = None
        self._last_t_s = -np.inf
        self._released_t_dev_us: float | None = None  # device time of the last frame handed on
        self._first_t_dev: int | None = None
        self._settled = settle_s <= 0
        self._pending = _Pending()
        self._lost_at_ns: int | None = None
        self._after_reconnect = False
        self._closed = asyncio.Event()

    # ---------------------------------------------------------------------- set-up

    @property
    def gap_events(self) -> list[StreamEvent]:
        """The ``gap`` events among the last :data:`EVENTS_KEPT` events."""
        return [e for e in self.events if e.kind == "gap"]

    async def open(self) -> DeviceInfo:
        """Open the transport and set up decoding for the device it reports."""
        self.stats.state = LinkState.CONNECTING
        info = await self.transport.open()
        self._setup(info)
        self.stats.state = LinkState.STREAMING
        return info

    def _setup(self, info: DeviceInfo) -> None:
        from hardware.calibration import load_calibration

        foot = "left" if info.foot == FOOT_LEFT else "right"
        where = self.transport.description
        if self.expected_foot is not None and foot != self.expected_foot:
            raise DeviceError(
                f"{where} is a {foot} insole but was given as the {self.expected_foot} one: "
                "swap the two URLs"
            )
        if self.info is not None and (info.n_sensels, info.n_shear) != (
            self.info.n_sensels,
            self.info.n_shear,
        ):
            raise DeviceError(
                f"{where} came back as a different insole ({info.n_sensels} sensels, was "
                f"{self.info.n_sensels}): restart the session"
            )
        if self.calibration is None:
            try:
                self.calibration = load_calibration(info.calibration_id, info.n_sensels)
            except ConfigError as exc:
                raise DeviceError(
                    f"{where} reports calibration {info.calibration_id!r} for "
                    f"{info.n_sensels} sensels, which cannot be used: {exc}"
                ) from None
        self.foot = foot
        self.stats.foot = foot
        self.info = info
        self.stats.info = info
        self.stats.device_id = info.device_id
        if self.decoder is None:
            self.decoder = StreamDecoder(info.n_sensels, info.n_shear)

    # ----------------------------------------------------------------- processing

    def process(self, chunk: Chunk) -> tuple[FootFrames | None, list[StreamEvent]]:
        """Decode one chunk; return the frames to hand on (or None) and new events."""
        if self.decoder is None:
            raise RuntimeError("InsoleStream.process before open()")
        if self.capture is not None:
            self.capture.write_chunk(chunk)
        self.session.ensure(chunk.t_host_ns)
        self.stats.bytes_received += len(chunk.data)
        batch = self.decoder.feed(chunk.data, discard_partial=chunk.gap)
        self.decoder.messages.clear()  # INFO/ACK: last_info is kept by the decoder
        dstats = self.decoder.stats
        self.stats.bad_frames = dstats.rejected
        self.stats.bytes_discarded = dstats.bytes_discarded
        events: list[StreamEvent] = []
        n = len(batch.seq)
        if n == 0:
            return None, events
        t_dev = batch.t_device_us.astype(np.int64)
        if self._after_reconnect and self._last_t_dev is not None and t_dev[0] < self._last_t_dev:
            events.append(self._device_restarted(chunk, int(batch.seq[0])))
        self._after_reconnect = False
        seq = unwrap_seq(batch.seq, self._last_seq)
        prev = seq[0] - 1 if self._last_seq is None else self._last_seq
        running_max = np.maximum.accumulate(np.concatenate(([prev], seq)))[:-1]
        keep = seq > running_max
        if not keep.all():
            dropped = int(n - keep.sum())
            self.stats.duplicates += dropped
            first = int(seq[np.flatnonzero(~keep)[0]]) + self._seq_offset
            events.append(
                self._event("duplicate", t_dev[0], seq=first, lost_frames=dropped, detail="dropped")
            )
            seq, t_dev = seq[keep], t_dev[keep]
            counts, shear = batch.pressure_counts[keep], batch.shear_centi_kpa[keep]
        else:
            counts, shear = batch.pressure_counts, batch.shear_centi_kpa
        if seq.size == 0:
            return None, events
        steps = np.diff(np.concatenate(([prev], seq)))
        jumps = np.flatnonzero(steps > 1)
        pending = self._pending
        for j in jumps.tolist():  # one iteration per gap, not per frame
            before = int(t_dev[j - 1]) if j > 0 else int(self._last_t_dev or t_dev[0])
            lost = int(steps[j] - 1)
            pending.gaps.append((int(prev if j == 0 else seq[j - 1]) + 1, lost, before, t_dev[j]))
            self.stats.gaps += 1
            self.stats.lost_frames += lost
        self._last_seq = int(seq[-1])
        self._last_t_dev = int(t_dev[-1])
        if self._first_t_dev is None:
            self._first_t_dev = int(t_dev[0])
        self.clock.observe(t_dev[-1:], np.array([chunk.t_host_ns], dtype=np.float64))
        pending.seq.append(seq + self._seq_offset)
        pending.t_device_us.append(t_dev)
        pending.counts.append(counts)
        pending.shear.append(shear)
        if not self._settled and self._last_t_dev - self._first_t_dev >= self.settle_us:
            self._settled = True
        arrival_s = float(self.session.to_s(chunk.t_host_ns))
        frames, gap_events = self._release(arrival_s)
        events.extend(gap_events)
        self._count_rate(len(frames), chunk.t_host_ns)
        return frames, events

    @property
    def clock_settled(self) -> bool:
        """True once the clock model has seen ``settle_s`` of this device's clock: until
        then the ``t_s`` handed on are provisional (re-timed by the store at finalise)."""
        return self._settled

    def _release(self, arrival_s: float) -> tuple[FootFrames, list[StreamEvent]]:
        p = self._pending
        self._pending = _Pending()
        if len(p.seq) == 1:
            seq, t_dev, counts, shear = p.seq[0], p.t_device_us[0], p.counts[0], p.shear[0]
        else:
            seq, t_dev = np.concatenate(p.seq), np.concatenate(p.t_device_us)
            counts, shear = np.concatenate(p.counts), np.concatenate(p.shear)
        t_s = never_back(
            self.session.to_s(self.clock.to_host_ns(t_dev)),
            self._last_t_s,
            t_dev,
            self._released_t_dev_us,
        )
        self._last_t_s, self._released_t_dev_us = float(t_s[-1]), float(t_dev[-1])
        frames = FootFrames(
            foot=self.foot,
            device_id=int(self.info.device_id) if self.info else 0,
            seq=seq.astype(np.int64, copy=False),
            t_device_us=t_dev,
            t_s=t_s,
            pressure_kpa=self.calibration.to_kpa(counts),
            shear_kpa=shear.astype(np.float32) * np.float32(0.01),
            t_arrival_s=np.full(len(seq), arrival_s),
        )
        self.stats.frames += len(seq)
        events = []
        for first, lost, t0, t1 in p.gaps:
            ts = self.session.to_s(self.clock.to_host_ns(np.array([t0, t1], dtype=np.float64)))
            events.append(
                StreamEvent(
                    "gap",
                    self.foot,
                    float(ts[0]),
                    seq=first + self._seq_offset,
                    lost_frames=lost,
                    duration_s=float(ts[1] - ts[0]),
                )
            )
        self.events.extend(events)
        return frames, events

    def _device_restarted(self, chunk: Chunk, first_seq: int) -> StreamEvent:
        """The device clock went back after a reconnect: a new clock and new numbering."""
        rate = float(self.info.sampling_rate_hz) if self.info else 0.0
        down_s = (chunk.t_host_ns - (self._lost_at_ns or chunk.t_host_ns)) * 1e-9
        t_s = float(self.session.to_s(chunk.t_host_ns))
        next_out = (self._last_seq or 0) + self._seq_offset + 1
        estimated = max(round(down_s * rate), 0)
        self._seq_offset = next_out + estimated - first_seq
        self._last_seq = None
        self._last_t_dev = None
        self._first_t_dev = None
        self.clock.reset()
        self._settled = self.settle_us <= 0
        event = StreamEvent(
            "device_restart",
            self.foot,
            t_s,
            seq=next_out,
            lost_frames=estimated,
            duration_s=down_s,
            detail="device clock restarted; lost frames estimated from the time away",
        )
        self.events.append(event)
        return event

    def _event(self, kind: str, t_dev: int | None, **kw: Any) -> StreamEvent:
        if t_dev is not None and self.clock.ready:
            t_s = float(self.session.to_s(self.clock.to_host_ns(np.array([float(t_dev)])))[0])
        else:
            t_s = float(self.session.to_s(time.monotonic_ns()))
        event = StreamEvent(kind, self.foot, t_s, **kw)
        self.events.append(event)
        return event

    def _count_rate(self, n: int, t_host_ns: int) -> None:
        st = self.stats
        window = st._rate_window
        window.append((t_host_ns * 1e-9, n))
        st._rate_frames += n
        while len(window) > 2 and window[-1][0] - window[0][0] > 2.0:
            st._rate_frames -= window.popleft()[1]
        span = window[-1][0] - window[0][0]
        if span > 0.2:  # frames after the first arrival, over the time since it
            st.rate_hz = (st._rate_frames - window[0][1]) / span

    # ---------------------------------------------------------------------- I/O

    async def next_batch(self) -> tuple[FootFrames | None, list[StreamEvent]]:
        """Read one chunk and process it; on a link drop, reconnect and report it.

        Raises
        ------
        StreamEnded
            The stream is over (end of a replay, or :meth:`close` was called).
        """
        if self._closed.is_set():
            raise StreamEnded(f"{self.transport.description}: closed")
        try:
            chunk = await self.transport.read()
        except LinkLost as exc:
            if self._closed.is_set():
                raise StreamEnded(f"{self.transport.description}: closed") from None
            return None, await self._reconnect(str(exc))
        except StreamEnded:
            self.stats.state = LinkState.CLOSED
            self.events.append(self._event("stream_ended", None))
            raise
        return self.process(chunk)

    async def _reconnect(self, reason: str) -> list[StreamEvent]:
        self._lost_at_ns = time.monotonic_ns()
        self.stats.state = LinkState.RECONNECTING
        self.stats.last_error = reason
        if self.capture is not None:
            self.capture.write_link_lost(self._lost_at_ns)
        events = [self._event("link_lost", self._last_t_dev, detail=reason)]
        log.warning("%s foot: link lost (%s); reconnecting", self.foot, reason)

        def note(exc: BaseException) -> None:
            self.stats.last_error = str(exc)

        try:
            info = await reconnect_with_backoff(self.transport, stop=self._closed, on_attempt=note)
        except LinkLost:
            raise StreamEnded(f"{self.transport.description}: closed") from None
        self._setup(info)
        if self.decoder is not None:
            self.decoder.discard_partial()
        self._after_reconnect = True
        self.stats.reconnects += 1
        self.stats.state = LinkState.STREAMING
        down_s = (time.monotonic_ns() - self._lost_at_ns) * 1e-9
        if self.capture is not None:
            self.capture.write_reconnected(time.monotonic_ns())
        events.append(self._event("reconnected", None, duration_s=down_s))
        log.info("%s foot: reconnected after %.2f s", self.foot, down_s)
        return events

    async def close(self) -> None:
        """Stop reading and release the transport (idempotent)."""
        self._closed.set()
        self.stats.state = LinkState.CLOSED
        await self.transport.close()
        if self.capture is not None:
            self.capture.close()
            self.capture = None
