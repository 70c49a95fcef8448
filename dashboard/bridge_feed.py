"""Feeding the live pipeline from the insoles through :class:`firmware_bridge.bridge.Bridge`.

The bridge opens the insoles one at a time, left then right (BlueZ cannot connect two at
once), then reads both concurrently; here it runs on an asyncio loop in a thread of its
own and this object is its consumer. Each batch
is handed to :meth:`dashboard.live.LivePipeline.on_frames` together with the arrival time
of the chunk that completed it (``Chunk.t_host_ns``, the "bridge receive" time of the
latency bar); stream events (gaps, link lost, reconnects) go to
:meth:`~dashboard.live.LivePipeline.on_event` and link status to the hub once a second.
The consumer calls never block, so a slow page or disk cannot hold the bridge up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

from plantar.errors import DeviceError, PlantarError

log = logging.getLogger("plantar.dashboard.bridge")

#: How long opening both insoles may take before ``start`` gives up (s).
OPEN_TIMEOUT_S = 30.0


class BridgeFeed:
    """Both insoles of one session, read in a background thread.

    Parameters
    ----------
    urls : {"left": url, "right": url} transport URLs (``serial://``, ``ble://`` ...).
    pipeline : the consumer (``on_frames``, ``on_event``, ``on_link``).
    hub : the live hub (its timebase is set to the session's).
    settle_s : device time the clock model sees before frames leave (None: the bridge's
        default, :data:`firmware_bridge.insole_stream.CLOCK_SETTLE_S`).
    """

    def __init__(
        self, urls: dict[str, str], pipeline: Any, hub: Any, settle_s: float | None = None
    ):
        self.urls = urls
        self.pipeline = pipeline
        self.hub = hub
        self.settle_s = settle_s
        self.streams: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._opened = threading.Event()
        self._error: BaseException | None = None
        self.last_chunk_ns: dict[str, int] = {}
        self.bridge: Any = None
        self.hub_t0_pending = True

    def start(self) -> None:
        """Open left then right and start streaming; raises the first open error."""
        self._thread = threading.Thread(target=self._run, name="plantar-bridge", daemon=True)
        self._thread.start()
        if not self._opened.wait(OPEN_TIMEOUT_S):
            self.stop()
            raise DeviceError(
                f"insoles did not answer within {OPEN_TIMEOUT_S:g} s: check they are on and "
                "streaming"
            )
        if self._error is not None:
            err = self._error
            self.stop()
            raise err

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as err:  # reported to start() or logged
            if not self._opened.is_set():
                self._error = err
            else:
                log.exception("bridge stopped")
        finally:
            self._opened.set()
            loop.close()

    async def _main(self) -> None:
        from firmware_bridge.bridge import Bridge

        self._stop = asyncio.Event()
        try:
            bridge = Bridge(
                self.urls["left"], self.urls["right"], consumers=[self], settle_s=self.settle_s
            )
            self.bridge = bridge
            self.streams = bridge.streams
            for foot, stream in self.streams.items():
                self._note_arrivals(foot, stream.transport)
                self.pipeline.on_link(foot, {"state": "connecting", "url": self.urls[foot]})
            await bridge.connect()  # left, then right
        except PlantarError as err:
            self._error = err
            return
        self.hub.set_timebase(bridge.session.t0_ns or time.monotonic_ns())
        self._opened.set()
        status = asyncio.create_task(self._link_status())
        run = asyncio.create_task(bridge.run())
        await self._stop.wait()
        bridge.stop()
        with contextlib.suppress(Exception):
            await run
        status.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await status

    # -- the bridge's consumer (called in its loop; never blocks) ----------------------

    def on_frames(self, frames: Any) -> None:
        """Frames of one foot, with the arrival time of the chunk that completed them."""
        if self.bridge is not None and self.hub_t0_pending:
            self.hub.set_timebase(self.bridge.session.t0_ns)
            self.hub_t0_pending = False
        self.pipeline.on_frames(frames, self.last_chunk_ns.get(frames.foot))

    def on_event(self, event: Any) -> None:
        """A stream event (gap, duplicate, link lost, reconnected ...)."""
        value = float(event.lost_frames) if event.kind in ("gap", "duplicate") else event.duration_s
        self.pipeline.on_event(
            event.kind, event.t_s, foot=event.foot, value=value, seq=event.seq, detail=event.detail
        )
        stream = self.streams.get(event.foot)
        if stream is not None and event.kind in ("link_lost", "reconnected", "stream_ended"):
            self.pipeline.on_link(event.foot, self._link(event.foot, stream))

    def _note_arrivals(self, foot: str, transport: Any) -> None:
        """Remember when the last chunk of ``foot`` arrived (the bridge receive time)."""
        read = transport.read

        async def read_and_note() -> Any:
            chunk = await read()
            self.last_chunk_ns[foot] = chunk.t_host_ns
            return chunk

        transport.read = read_and_note

    def _link(self, foot: str, stream: Any) -> dict[str, Any]:
        st = stream.stats
        return {
            "state": st.state.value,
            "rssi_dbm": stream.transport.rssi_dbm,
            "lost_frames": st.lost_frames,
            "loss_pct_session": round(st.loss_pct, 3),
            "reconnects": st.reconnects,
            "device": stream.transport.description,
        }

    async def _link_status(self) -> None:
        while True:
            for foot, stream in self.streams.items():
                self.pipeline.on_link(foot, self._link(foot, stream))
            await asyncio.sleep(1.0)

    def stats(self) -> dict[str, Any]:
        """Per-insole counters of the bridge."""
        return {f: s.stats.to_dict() for f, s in self.streams.items()}

    def stop(self) -> None:
        """Close both insoles and end the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
