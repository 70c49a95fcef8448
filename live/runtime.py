"""Everything a live process runs, wired once for ``plantar serve``, ``demo`` and ``run``.

``LiveRuntime`` owns one asyncio event loop. On it run the bridge (a task, started by
:meth:`LiveRuntime.start`), the live pipeline it feeds (Analyzer, recorder hand-over, hub)
and the front end that subscribes to the hub (the dashboard's web server, given as a
factory so that this package does not import the dashboard). :meth:`~LiveRuntime.close`
tears them down in the order that keeps the recording whole: bridge first, then the
recording is finalised, then the front end's socket goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from analysis.alert_policy import PivotAlertPolicy
from live.hub import LiveHub
from live.pipeline import LivePipeline

log = logging.getLogger("plantar.live.runtime")

#: The link state of a foot with no insole configured yet (the page shows it as waiting).
UNPAIRED_LINK = {
    "state": "waiting",
    "url": "",
    "detail": "no insole paired yet: pair the insoles on the pairing page (/pair)",
}

#: GIL switch interval while serving (s; Python's default is 0.005): the loop gets the
#: GIL back from the recorder's and the serial readers' threads within 1 ms.
GIL_SWITCH_S = 0.001


@dataclass
class RuntimeOptions:
    """Server, display and alert settings (see ``plantar serve --help``)."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    layout: str = "plantar-ref"
    eu_size: float | None = None
    pivot_alert: PivotAlertPolicy = field(default_factory=PivotAlertPolicy)
    sessions_root: Path | None = None
    #: host names the page may be opened by besides IP addresses and this machine's names
    allowed_hosts: tuple[str, ...] = ()
    #: the pairing page's :class:`live.pairing.PairingService` (None: no pairing)
    pairing: Any = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RuntimeOptions:
        """From the parsed options of ``dashboard.commands.add_server_options``."""
        from base.errors import ConfigError

        try:
            pivot_alert = PivotAlertPolicy(
                acclimatisation_steps=args.pivot_acclimatisation_steps,
                baseline_steps=args.pivot_baseline_steps,
                recent_steps=args.pivot_recent_steps,
                factor=args.pivot_factor,
            )
        except ValueError as err:
            raise ConfigError(str(err)) from None
        return cls(
            host=args.host,
            port=args.port,
            token=args.token,
            layout=args.layout,
            eu_size=args.eu_size,
            pivot_alert=pivot_alert,
            allowed_hosts=tuple(getattr(args, "allow_host", None) or ()),
        )


class Frontend(Protocol):
    """What subscribes to the hub and serves it (the dashboard's web server)."""

    url: str
    token: str | None

    @property
    def port(self) -> int: ...

    async def serve(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


#: Builds the front end of a runtime from its hub, pipeline (None: no insoles) and options.
FrontendFactory = Callable[[LiveHub, LivePipeline | None, RuntimeOptions], Frontend]


class LiveRuntime:
    """Event loop, hub, pipeline, bridge and front end of one live process."""

    def __init__(
        self,
        options: RuntimeOptions,
        *,
        frontend: FrontendFactory,
        urls: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        from hardware.layout import load_layout
        from store.arrow_numpy import use_system_allocator

        use_system_allocator()  # a live process must give finalise's buffers back
        self.options = options
        #: {} (not None): live, with the insoles still to be paired (:meth:`use_insoles`).
        self.urls = urls
        if urls is not None:
            _warm_up_analysis()
        self.layouts = {
            f: load_layout(options.layout, foot=f, eu_size=options.eu_size)
            for f in ("left", "right")
        }
        self.loop = asyncio.new_event_loop()
        self.hub = LiveHub(self.layouts, pivot_alert=options.pivot_alert)
        self.pipeline = (
            LivePipeline(
                self.hub,
                self.layouts,
                sessions_root=options.sessions_root,
                meta={k: v for k, v in (meta or {}).items() if v not in (None, "")},
                pivot_alert=options.pivot_alert,
            )
            if urls is not None
            else None
        )
        if options.pairing is not None:
            options.pairing.attach(self)
        self.server = frontend(self.hub, self.pipeline, options)
        self.url = self.server.url
        self.token = self.server.token
        self.bridge: Any = None
        self.final_recording: dict[str, Any] | None = None
        #: The error that ended waiting for the insoles for good (``start(wait=True)``);
        #: serving stops when it is set, and the caller raises it.
        self.fatal_error: BaseException | None = None
        self._record_on_connect = False

    def start(
        self,
        record: bool = False,
        *,
        wait: bool = False,
        retry_s: float | None = None,
        open_timeout_s: float | None = None,
    ) -> None:
        """Connect the insoles (left, then right) and optionally start recording.

        ``wait=False``: return once both stream; an insole that does not answer raises
        :class:`~base.errors.DeviceError`. ``wait=True`` (the service): return at once;
        the bridge task retries every ``retry_s`` seconds, once the loop runs, until both
        insoles answer (the page shows them as waiting) and the recording, if ``record``,
        starts only then. A malformed URL raises :class:`~base.errors.ConfigError`
        either way. ``open_timeout_s`` bounds one attempt to open both insoles (default
        :data:`live.bridge_feed.OPEN_TIMEOUT_S`).
        """
        if self.pipeline is not None:
            # the recording starts on the loop once both stream, before any frame is handed
            # on, in both modes (so it holds every frame from the first one)
            self._record_on_connect = record
            self.pipeline.record_when_connected = self._record_on_connect
            if not self.urls:  # nothing paired yet: wait for use_insoles
                self.pipeline.set_waiting_for_insoles(True)
                for foot in ("left", "right"):
                    self.hub.publish_link(foot, UNPAIRED_LINK)
        if self.urls and self.pipeline is not None:
            from live.bridge_feed import OPEN_TIMEOUT_S, RETRY_S, BridgeFeed

            self.bridge = BridgeFeed(
                self.loop,
                self.urls,
                self.pipeline,
                self.hub,
                wait=wait,
                retry_s=RETRY_S if retry_s is None else retry_s,
                on_connected=self._on_connected,
                on_fatal=self._on_fatal,
                open_timeout_s=OPEN_TIMEOUT_S if open_timeout_s is None else open_timeout_s,
            )
            self.bridge.start()

    async def pause_insoles(self) -> None:
        """Close the insoles (on the loop): pairing needs them advertising, not connected."""
        bridge, self.bridge = self.bridge, None
        if bridge is not None:
            await bridge.stop_on_loop()
        if self.pipeline is not None:
            self.pipeline.set_waiting_for_insoles(True)

    async def use_insoles(self, urls: dict[str, str]) -> None:
        """Stream from ``urls`` from now on (on the loop; the pairing page's "save"): the
        bridge is restarted on them in wait mode, and a recording, if the runtime records,
        starts once both stream."""
        from live.bridge_feed import RETRY_S, BridgeFeed

        if self.pipeline is None:
            raise RuntimeError("use_insoles: this runtime has no live pipeline")
        await self.pause_insoles()
        self.urls = dict(urls)
        bridge = BridgeFeed(
            self.loop,
            self.urls,
            self.pipeline,
            self.hub,
            wait=True,
            retry_s=RETRY_S,
            on_connected=self._on_connected,
            on_fatal=self._on_fatal,
        )
        await bridge.start_waiting()
        self.bridge = bridge

    @property
    def waiting_for_insoles(self) -> dict[str, str] | None:
        """Per foot, why it is waited for; None when not waiting."""
        bridge = self.bridge
        if bridge is None or not bridge.waiting:
            return None
        return dict(bridge.waiting_for)

    def _on_connected(self) -> None:
        """Both insoles stream (on the loop, before any frame is handed on)."""
        if self._record_on_connect and self.pipeline is not None:
            status = self.pipeline.start_recording()
            log.info(
                "recording %s started",
                status.get("session_id"),
                extra={"fields": {"event": "recording", "session_id": status.get("session_id")}},
            )

    def _on_fatal(self, err: BaseException) -> None:
        """Waiting for the insoles ended in an error a retry cannot fix: stop serving."""
        self.fatal_error = err
        self.server.stop()

    def serve(self, duration_s: float | None = None) -> None:
        """Run the loop (bridge, pipeline, page) until Ctrl-C, SIGTERM or ``duration_s``.

        SIGTERM (``systemctl stop``, ``kill``) ends serving like Ctrl-C, so that the caller's
        :meth:`close` finalises the recording: uvicorn re-raises the signal it caught once
        it has shut down, and without a handler of ours that would kill the process first.
        """
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: self.server.stop())
        # the loop is not running yet: scheduling on it from here is safe
        timer = self.loop.call_later(duration_s, self.server.stop) if duration_s else None
        switch_s = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SWITCH_S)
        try:
            self.loop.run_until_complete(self.server.serve())
        finally:
            sys.setswitchinterval(switch_s)
            if timer is not None:
                timer.cancel()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def close(self) -> None:
        """Stop the bridge, finalise the recording, close the front end and the loop."""
        if self.bridge is not None:
            with contextlib.suppress(Exception):
                self.bridge.stop()
        if self.pipeline is not None:
            self.final_recording = self.pipeline.close()
        with contextlib.suppress(OSError):
            self.server.close()
        if not self.loop.is_running() and not self.loop.is_closed():
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()


def _warm_up_analysis() -> None:
    """Load the numba kernels before streaming (a JIT pause would stall the loop)."""
    try:
        from analysis.warmup import warm_up
    except ImportError:
        return
    warm_up()
