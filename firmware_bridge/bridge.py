"""The bridge: two insoles → one time-aligned stream of FootFrames and events.

::

    bridge = Bridge("serial:///dev/plantar-left", "serial:///dev/plantar-right")
    bridge.add_consumer(my_consumer)                    # anything with on_frames/on_event
    await bridge.connect()                              # left, then right, one at a time
    await bridge.run(duration_s=7200)                   # both feet concurrently

* **Connect one at a time, stream concurrently.** BlueZ fails when two connections are
  set up at once (DESIGN.md); serial does not care. Both feet share one
  :class:`~firmware_bridge.insole_stream.SessionClock`, so their ``t_s`` are on one
  timebase, each mapped through its own device clock model.
* **Consumers never block the bridge.** A consumer is any object with
  ``on_frames(frames: FootFrames)`` and ``on_event(event: StreamEvent)``; both are called
  in the event loop right after a chunk is decoded and must return at once: put the
  batch on your own bounded queue and work in your own thread/task. The recorder does
  exactly that (``Recorder.write_frames`` only appends to its bounded queue and returns
  False, counting the loss, when it is full). A consumer that raises is logged and
  counted (:attr:`Bridge.consumer_errors`), never retried.
* **Link trouble is data.** Gaps, duplicates dropped, link drops and reconnects are
  :class:`~firmware_bridge.insole_stream.StreamEvent` objects handed to every consumer;
  one foot reconnecting does not stop the other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from base.errors import ConfigError
from base.frames import FOOT_NAMES, FootFrames
from firmware_bridge.insole_stream import InsoleStats, InsoleStream, SessionClock, StreamEvent
from firmware_bridge.transport import LinkState, StreamEnded, open_transport

__all__ = ["Bridge", "Consumer"]

log = logging.getLogger("plantar.bridge")


class Consumer(Protocol):
    """What the bridge hands frames and events to; both calls must not block."""

    def on_frames(self, frames: FootFrames) -> object: ...

    def on_event(self, event: StreamEvent) -> object: ...


class Bridge:
    """Two insoles (or one) streamed into consumers on one session timebase.

    Parameters
    ----------
    left_url, right_url : transport URLs; either may be None for a single insole.
    consumers : initial consumers (see :class:`Consumer`).
    capture_dir : if given, each foot's received bytes go to
        ``<capture_dir>/<foot>.plantar-bytes`` (play back with ``replay://``).
    settle_s : clock settle time (times before it are provisional; nothing is held), see
        :data:`firmware_bridge.clock.CLOCK_SETTLE_S`.
    """

    def __init__(
        self,
        left_url: str | None,
        right_url: str | None,
        *,
        consumers: Iterable[Consumer] = (),
        capture_dir: str | Path | None = None,
        settle_s: float | None = None,
    ) -> None:
        urls = {"left": left_url, "right": right_url}
        if not any(urls.values()):
            raise ConfigError(
                "no insole URL given (both are empty); give at least one, for example "
                "serial:///dev/ttyACM0 or sim://?foot=left"
            )
        self.session = SessionClock()
        self.consumers: list[Consumer] = list(consumers)
        self.consumer_errors = 0
        self._failed_consumers: set[int] = set()
        self.streams: dict[str, InsoleStream] = {}
        kwargs: dict[str, Any] = {} if settle_s is None else {"settle_s": settle_s}
        for foot in FOOT_NAMES:  # parse both URLs before touching any device
            url = urls[foot]
            if url:
                capture = None
                if capture_dir is not None:
                    from firmware_bridge.transports.replay import SUFFIX, ByteCaptureWriter

                    capture = ByteCaptureWriter(Path(capture_dir) / f"{foot}{SUFFIX}")
                self.streams[foot] = InsoleStream(
                    open_transport(url),
                    expected_foot=foot,
                    session=self.session,
                    capture=capture,
                    **kwargs,
                )
        self._stop = asyncio.Event()
        self._started_ns: int | None = None

    def add_consumer(self, consumer: Consumer) -> None:
        self.consumers.append(consumer)

    def status(self) -> dict[str, InsoleStats]:
        """Live counters per foot (the objects themselves; read, do not modify)."""
        return {foot: s.stats for foot, s in self.streams.items()}

    @property
    def elapsed_s(self) -> float:
        return 0.0 if self._started_ns is None else (time.monotonic_ns() - self._started_ns) * 1e-9

    async def connect(self) -> None:
        """Open left, then right: one connection set-up at a time."""
        try:
            for stream in self.streams.values():
                await stream.open()
        except BaseException:
            await self.close()
            raise
        self._started_ns = time.monotonic_ns()

    def _dispatch(self, frames: FootFrames | None, events: list[StreamEvent]) -> None:
        for consumer in self.consumers:
            try:
                for event in events:
                    consumer.on_event(event)
                if frames is not None and len(frames):
                    consumer.on_frames(frames)
            except Exception:
                self.consumer_errors += 1
                if id(consumer) not in self._failed_consumers:  # log once, then count
                    self._failed_consumers.add(id(consumer))
                    log.exception("bridge consumer %r failed (further failures counted)", consumer)

    async def _pump(self, stream: InsoleStream) -> None:
        while not self._stop.is_set():
            try:
                frames, events = await stream.next_batch()
            except StreamEnded:
                if stream.events and stream.events[-1].kind == "stream_ended":
                    self._dispatch(None, [stream.events[-1]])
                return
            self._dispatch(frames, events)

    async def run(self, duration_s: float | None = None) -> None:
        """Stream every foot concurrently until ``duration_s``, :meth:`stop`, or all end."""
        if self._started_ns is None:
            await self.connect()
        tasks = [asyncio.create_task(self._pump(s)) for s in self.streams.values()]
        stopper = asyncio.create_task(self._stop.wait())
        pumps = asyncio.gather(*tasks)
        try:
            done, _ = await asyncio.wait(
                {stopper, pumps}, timeout=duration_s, return_when=asyncio.FIRST_COMPLETED
            )
            if pumps in done and pumps.exception() is not None:
                raise pumps.exception()
        finally:
            self._stop.set()
            await self.close()
            for task in [*tasks, stopper]:
                task.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)
            if pumps.done() and not pumps.cancelled():
                pumps.exception()  # retrieved: no "never retrieved" warning

    def stop(self) -> None:
        """Ask :meth:`run` to end (safe from a signal handler in the loop)."""
        self._stop.set()

    async def close(self) -> None:
        for stream in self.streams.values():
            await stream.close()
        for stream in self.streams.values():
            stream.stats.state = LinkState.CLOSED
