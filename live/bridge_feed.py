# Long module: fail-fast and wait-for-insoles modes share the bridge task and link reports.
"""Feeding the live pipeline from the insoles through :class:`firmware_bridge.bridge.Bridge`.

The bridge opens the insoles one at a time, left then right (BlueZ cannot connect two at
once), then reads both concurrently. It runs as a task on the event loop it is given:
the server's loop (:class:`live.runtime.LiveRuntime`), so a batch goes from the transport
to the Analyzer, the recorder's queue and the hub without a thread hand-over. This object
is the bridge's consumer. Each batch
is handed to :meth:`live.pipeline.LivePipeline.on_frames` together with the arrival time
of the chunk that completed it (``Chunk.t_host_ns``, the "bridge receive" time of the
latency bar); stream events (gaps, link lost, reconnects) go to
:meth:`~live.pipeline.LivePipeline.on_event` and link status to the hub once a second.
The consumer calls never block, so a slow page or disk cannot hold the bridge up.

Two ways to start:

* **fail fast** (``plantar demo``, ``plantar serve --left/--right``): :meth:`BridgeFeed.start`
  returns once both insoles stream, or raises the first error (``DeviceError`` after
  :data:`OPEN_TIMEOUT_S`). It runs the loop until then when the loop is not running yet
  (the runtime connects before it serves), or waits on it from outside when it is.
* **wait** (``plantar run``, the service; ``wait=True``): :meth:`~BridgeFeed.start` checks
  the URLs (a malformed one is a ``ConfigError`` at once) and returns; the bridge task
  (once the loop runs) then tries to connect every ``retry_s`` seconds until both insoles
  answer, reporting each missing insole's link as
  ``{"state": "waiting", "url": ..., "detail": <why>}`` (an insole that answered while
  the other did not is ``"ready"``). Only device errors (port or insole not there, not
  answering, busy ...) are waited out; a configuration error found while connecting is
  handed to ``on_fatal``. Once both stream, ``on_connected`` is called on the loop before
  any frame is handed on (the runtime starts the recording there, so a session never
  starts before the insoles do).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from base.errors import DeviceError, PlantarError
from live.loop import running_loop

log = logging.getLogger("plantar.live.bridge")

#: How long opening both insoles may take before ``start`` gives up (s); in wait mode, the
#: bound on one connection attempt.
OPEN_TIMEOUT_S = 30.0
#: Seconds between connection attempts while waiting for the insoles (``plantar run``).
RETRY_S = 5.0


class _Stopped(Exception):  # noqa: N818 - an end, not an error
    """:meth:`BridgeFeed.stop` was called while connecting."""


class BridgeFeed:
    """Both insoles of one session, read by a task on ``loop``.

    Parameters
    ----------
    loop : the event loop the bridge runs on (the server's).
    urls : {"left": url, "right": url} transport URLs (``serial://``, ``ble://`` ...).
    pipeline : the consumer (``on_frames``, ``on_event``, ``on_link``).
    hub : the live hub (its timebase is set to the session's).
    settle_s : device time after which the clock fit counts as settled; frames leave at
        once either way (None: the bridge's default,
        :data:`firmware_bridge.clock.CLOCK_SETTLE_S`).
    wait : keep retrying until the insoles answer instead of failing (see the module).
    retry_s : seconds between attempts while waiting.
    on_connected : called (on the loop) once both insoles stream.
    on_fatal : called with the error that ended waiting for good (a ConfigError, a bug).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        urls: dict[str, str],
        pipeline: Any,
        hub: Any,
        settle_s: float | None = None,
        *,
        wait: bool = False,
        retry_s: float = RETRY_S,
        on_connected: Callable[[], None] | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        open_timeout_s: float = OPEN_TIMEOUT_S,
    ):
        self.urls = urls
        self.pipeline = pipeline
        self.hub = hub
        self.settle_s = settle_s
        self.wait = wait
        self.retry_s = retry_s
        self.on_connected = on_connected
        self.on_fatal = on_fatal
        self.streams: dict[str, Any] = {}
        self._loop = loop
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = threading.Event()
        self._opened = asyncio.Event()
        self._error: BaseException | None = None
        self.last_chunk_ns: dict[str, int] = {}
        self.bridge: Any = None
        self.hub_t0_pending = True
        #: True while waiting for the insoles (wait mode), False once they stream.
        self.waiting = False
        #: Per foot, why it is being waited for (empty once connected).
        self.waiting_for: dict[str, str] = {}
        self._opening: str | None = None
        #: Deadline of one connection attempt of both insoles (s).
        self.open_timeout_s = open_timeout_s

    def start(self) -> None:
        """Start the bridge task.

        Fail-fast mode: return once left and right stream; raise the first open error.
        Wait mode: check the URLs (ConfigError) and return at once.
        """
        if self.wait:
            from firmware_bridge.transport import open_transport

            for url in self.urls.values():
                open_transport(url)  # parses only; a bad URL fails here, not after a wait
            self.waiting = True
            self._set_waiting(True)
            self._on_loop(self._spawn())
            return
        if not self._on_loop(self._spawn_and_wait_opened()):
            self.stop()
            raise DeviceError(
                f"insoles did not answer within {self.open_timeout_s:g} s: check they are on and "
                "streaming"
            )
        if self._error is not None:
            err = self._error
            self.stop()
            raise err

    async def start_waiting(self) -> None:
        """Wait mode, from a coroutine on the loop (pairing switches insoles this way):
        check the URLs (ConfigError), start the task and return at once."""
        from firmware_bridge.transport import open_transport

        for url in self.urls.values():
            open_transport(url)
        self.wait = True
        self.waiting = True
        self._set_waiting(True)
        await self._spawn()

    async def stop_on_loop(self) -> None:
        """:meth:`stop`, from a coroutine on the loop: close the insoles, end the task."""
        self._stop_requested.set()
        task, self._task = self._task, None
        if task is not None:
            await self._shutdown(task)

    def _on_loop(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the loop to its end, from outside the loop: drive the loop when it
        is not running (before serving), or wait for it when it runs in another thread."""
        if self._loop.is_running():
            if running_loop() is self._loop:
                coro.close()
                raise RuntimeError("BridgeFeed.start/stop: call them from outside its loop")
            return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
        return self._loop.run_until_complete(coro)

    async def _spawn(self) -> None:
        self._task = asyncio.create_task(self._run(), name="plantar-bridge")

    async def _spawn_and_wait_opened(self) -> bool:
        await self._spawn()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._opened.wait(), self.open_timeout_s)
        return self._opened.is_set()

    async def _run(self) -> None:
        try:
            await self._main()
        except Exception as err:  # reported to start() or logged
            if not self._opened.is_set() and not self.wait:
                self._error = err
            elif self.waiting:
                log.exception("bridge failed while waiting for the insoles")
                self._fatal(err)
            else:
                log.exception("bridge stopped")
        finally:
            self._opened.set()

    def _new_bridge(self, order: list[str] | None = None) -> Any:
        """A bridge for both insoles, opening them in ``order`` (default left, right)."""
        from firmware_bridge.bridge import Bridge

        bridge = Bridge(
            self.urls.get("left"),
            self.urls.get("right"),
            consumers=[self],
            settle_s=self.settle_s,
        )
        if order is not None:  # Bridge.connect opens its streams in this dict's order
            bridge.streams = {f: bridge.streams[f] for f in order if f in bridge.streams}
        for foot, stream in bridge.streams.items():
            self._note_arrivals(foot, stream.transport)
            self._note_opening(foot, stream)
        self.bridge = bridge
        self.streams = bridge.streams
        return bridge

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        if self._stop_requested.is_set():
            return
        if self.wait:
            try:
                bridge = await self._wait_for_insoles()
            except PlantarError as err:  # a ConfigError found while connecting
                self._fatal(err)  # the caller logs it and exits
                return
            if bridge is None:  # stopped while waiting
                return
        else:
            try:
                bridge = self._new_bridge()
                for foot in self.streams:
                    self.pipeline.on_link(foot, {"state": "connecting", "url": self.urls[foot]})
                await bridge.connect()  # left, then right
            except PlantarError as err:
                self._error = err
                return
        self.hub.set_timebase(bridge.session.t0_ns or time.monotonic_ns())
        if self._stop.is_set():
            await bridge.close()
            return
        if self.wait:
            self.waiting = False
            self.waiting_for = {}
            self._set_waiting(False)
        # in both modes before the first frame is handed on: a recording started here holds
        # every frame of both links (the bridge hands frames on from the first one)
        if self.on_connected is not None:
            try:
                self.on_connected()
            except BaseException as err:
                log.exception("starting after the insoles connected failed")
                await bridge.close()
                if self.wait:
                    self._fatal(err)
                else:
                    self._error = err if isinstance(err, PlantarError) else DeviceError(str(err))
                    self._opened.set()
                return
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

    # -- waiting for the insoles (wait mode) ---------------------------------------------

    async def _wait_for_insoles(self) -> Any:
        """Connect both insoles, retrying every ``retry_s``; None if stopped first.

        Each attempt opens the insoles one at a time, the ones not known to answer first
        (least recently tried first), so that an insole that is on is not connected and
        dropped again every few seconds while the other one is off: it is opened only
        once the missing one answers. Returns the connected bridge.
        """
        assert self._stop is not None
        feet = list(self.urls)
        answers: dict[str, bool] = {}  # foot -> did it open in the last attempt it was in?
        tried_at: dict[str, int] = {}  # foot -> attempt number it was last tried in
        waiting_since = time.monotonic()
        logged: dict[str, str] | None = None
        attempt = 0
        for foot in feet:
            self.pipeline.on_link(foot, {"state": "connecting", "url": self.urls[foot]})
        while not self._stop.is_set():
            attempt += 1
            order = sorted(feet, key=lambda f: (answers.get(f, False), tried_at.get(f, 0)))
            bridge = self._new_bridge(order)
            self._opening = None
            try:
                await self._attempt(bridge.connect())
            except _Stopped:
                return None
            except DeviceError as err:
                failed = self._opening
                why = dict(self.waiting_for)
                if failed is None:  # cannot tell which: count it against both
                    for foot in feet:
                        why[foot] = str(err)
                        answers[foot] = False
                        tried_at[foot] = attempt
                else:
                    for foot in order[: order.index(failed)]:  # these opened
                        answers[foot] = True
                        tried_at[foot] = attempt
                        why.pop(foot, None)
                    answers[failed] = False
                    tried_at[failed] = attempt
                    why[failed] = str(err)
                # a new dict each time: the status thread reads it
                self.waiting_for = {f: why[f] for f in feet if f in why}
            else:
                if logged is not None:
                    waited = time.monotonic() - waiting_since
                    log.info(
                        "insoles connected after %.0f s of waiting: %s",
                        waited,
                        self._describe(),
                        extra={"fields": {"event": "connected", "waited_s": round(waited, 1)}},
                    )
                else:
                    log.info(
                        "insoles connected: %s",
                        self._describe(),
                        extra={"fields": {"event": "connected", "waited_s": 0.0}},
                    )
                return bridge
            self._publish_waiting(feet, answers)
            if any(f not in tried_at for f in feet):
                continue  # try the other insole at once: the first record names both
            if self.waiting_for != logged:
                self._log_waiting()
                logged = dict(self.waiting_for)
            else:
                log.debug("still waiting for insoles: %s", ", ".join(self.waiting_for))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.retry_s)
        return None

    async def _attempt(self, connect: Any) -> None:
        """Run one connection attempt, bounded by ``open_timeout_s``, ended by stop()."""
        assert self._stop is not None
        task = asyncio.ensure_future(connect)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait(
                {task, stopper}, timeout=self.open_timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopper.cancel()
        if task in done:
            task.result()  # raises the attempt's error
            return
        task.cancel()  # Bridge.connect closes what it opened when cancelled
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task
        if self._stop.is_set():
            raise _Stopped
        where = self.urls.get(self._opening or "", "the insoles")
        raise DeviceError(f"{where} did not answer within {self.open_timeout_s:g} s")

    def _publish_waiting(self, feet: list[str], answers: dict[str, bool]) -> None:
        for foot in feet:
            url = self.urls[foot]
            if foot in self.waiting_for:
                status = {"state": "waiting", "url": url, "detail": self.waiting_for[foot]}
            elif answers.get(foot):
                others = [f for f in self.waiting_for if f != foot]
                status = {
                    "state": "ready",
                    "url": url,
                    "detail": f"answered; waiting for the {' and '.join(others)} insole"
                    if others
                    else "answered",
                }
            else:
                status = {"state": "waiting", "url": url, "detail": "not tried yet"}
            self.pipeline.on_link(foot, status)

    def _log_waiting(self) -> None:
        parts = [f"{foot}: {why}" for foot, why in self.waiting_for.items()]  # why names it
        log.warning(
            "waiting for insoles: %s; retrying every %g s",
            "; ".join(parts),
            self.retry_s,
            extra={
                "fields": {
                    "event": "waiting",
                    "waiting_for": ",".join(self.waiting_for),
                    "retry_s": self.retry_s,
                    **{f"url_{foot}": self.urls[foot] for foot in self.waiting_for},
                    **{f"reason_{foot}": why for foot, why in self.waiting_for.items()},
                }
            },
        )

    def _describe(self) -> str:
        return ", ".join(
            f"{foot} {stream.transport.description}"
            for foot, stream in sorted(self.streams.items())
        )

    def _note_opening(self, foot: str, stream: Any) -> None:
        """Remember which insole is being opened (to tell which one did not answer)."""
        open_stream = stream.open

        async def open_and_note() -> Any:
            self._opening = foot
            return await open_stream()

        stream.open = open_and_note

    def _set_waiting(self, waiting: bool) -> None:
        setter = getattr(self.pipeline, "set_waiting_for_insoles", None)
        if setter is not None:
            setter(waiting)

    def _fatal(self, err: BaseException) -> None:
        if self.on_fatal is not None:
            self.on_fatal(err)

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
        state = st.state.value
        return {
            "state": state,
            # why it is not streaming (link lost, reconnect failing); cleared when it is
            "detail": None if state == "streaming" else st.last_error,
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
        """Close both insoles (or stop waiting for them) and end the task (from outside the
        loop, running or not)."""
        self._stop_requested.set()
        task = self._task
        if task is None or self._loop.is_closed():
            return
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            self._on_loop(self._shutdown(task))
        self._task = None

    async def _shutdown(self, task: asyncio.Task[None]) -> None:
        if self._stop is not None:
            self._stop.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 10.0)
