"""Everything a live dashboard process runs, wired once for ``plantar serve`` and ``demo``.

``LiveRuntime`` builds the hub, the live pipeline (recorder + analysis worker), the
bridge that feeds it (when insole URLs are given) and the web server, and tears them down
in the order that keeps the recording whole: bridge first, then the recording is
finalised, then the server goes.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.pivot import PivotSettings

log = logging.getLogger("plantar.live.runtime")


@dataclass
class RuntimeOptions:
    """Server and display settings (see ``plantar serve --help``)."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    layout: str = "plantar-ref"
    eu_size: float | None = None
    pivot: PivotSettings = field(default_factory=PivotSettings)
    sessions_root: Path | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RuntimeOptions:
        """From the parsed options of :func:`dashboard.commands.add_server_options`."""
        from plantar.errors import ConfigError

        try:
            pivot = PivotSettings(
                skip_s=args.baseline_skip_s,
                baseline_s=args.baseline_s,
                factor=args.pivot_factor,
                consecutive_steps=args.pivot_steps,
            )
        except ValueError as err:
            raise ConfigError(str(err)) from None
        return cls(
            host=args.host,
            port=args.port,
            token=args.token,
            layout=args.layout,
            eu_size=args.eu_size,
            pivot=pivot,
        )


class LiveRuntime:
    """Hub, pipeline, bridge and server of one dashboard process."""

    def __init__(
        self,
        options: RuntimeOptions,
        *,
        urls: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        from dashboard.app import create_app
        from dashboard.server import DashboardServer, bind_socket, page_url, resolve_token
        from hardware.layout import load_layout
        from live.hub import LiveHub
        from live.pipeline import LivePipeline

        self.options = options
        self.urls = urls
        if urls:
            _warm_up_analysis()
        self.layouts = {
            f: load_layout(options.layout, foot=f, eu_size=options.eu_size)
            for f in ("left", "right")
        }
        self.token = resolve_token(options.host, options.token)
        self.hub = LiveHub(self.layouts, pivot=options.pivot)
        self.pipeline = (
            LivePipeline(
                self.hub,
                self.layouts,
                sessions_root=options.sessions_root,
                meta={k: v for k, v in (meta or {}).items() if v not in (None, "")},
            )
            if urls
            else None
        )
        self.app = create_app(
            self.hub, self.pipeline, token=self.token, sessions_root=options.sessions_root
        )
        self.sock = bind_socket(options.host, options.port)
        self.server = DashboardServer(self.app, self.sock)
        self.url = page_url(options.host, self.server.port, self.token)
        self.bridge: Any = None
        self.final_recording: dict[str, Any] | None = None
        #: The error that ended waiting for the insoles for good (``start(wait=True)``);
        #: serving stops when it is set, and the caller raises it.
        self.fatal_error: BaseException | None = None
        self._record_on_connect = False

    def start(
        self, record: bool = False, *, wait: bool = False, retry_s: float | None = None
    ) -> None:
        """Connect the insoles (left, then right) and optionally start recording.

        ``wait=False``: return once both stream; an insole that does not answer raises
        :class:`~plantar.errors.DeviceError`. ``wait=True`` (the service): return at once;
        the bridge thread retries every ``retry_s`` seconds until both insoles answer (the
        page shows them as waiting) and the recording, if ``record``, starts only then.
        A malformed URL raises :class:`~plantar.errors.ConfigError` either way.
        """
        if self.urls and self.pipeline is not None:
            from live.bridge_feed import RETRY_S, BridgeFeed

            self._record_on_connect = record and wait
            self.pipeline.record_when_connected = self._record_on_connect
            self.bridge = BridgeFeed(
                self.urls,
                self.pipeline,
                self.hub,
                wait=wait,
                retry_s=RETRY_S if retry_s is None else retry_s,
                on_connected=self._on_connected,
                on_fatal=self._on_fatal,
            )
            self.bridge.start()
            if record and not wait:
                self.pipeline.start_recording()

    @property
    def waiting_for_insoles(self) -> dict[str, str] | None:
        """Per foot, why it is waited for; None when not waiting."""
        bridge = self.bridge
        if bridge is None or not bridge.waiting:
            return None
        return dict(bridge.waiting_for)

    def _on_connected(self) -> None:
        """Both insoles stream (bridge thread, before any frame is handed on)."""
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
        """Serve the page in the foreground until Ctrl-C, SIGTERM or ``duration_s``.

        SIGTERM (``systemctl stop``, ``kill``) ends serving like Ctrl-C, so that the caller's
        :meth:`close` finalises the recording: uvicorn re-raises the signal it caught once
        it has shut down, and without a handler of ours that would kill the process first.
        """
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: self.server.stop())
        try:
            self.server.run(duration_s)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def close(self) -> None:
        """Stop the bridge, finalise the recording, stop the worker threads."""
        if self.bridge is not None:
            with contextlib.suppress(Exception):
                self.bridge.stop()
        if self.pipeline is not None:
            time.sleep(0.05)
            self.pipeline.drain()
            self.final_recording = self.pipeline.close()
        with contextlib.suppress(OSError):
            self.sock.close()


def _warm_up_analysis() -> None:
    """Load the numba kernels before streaming (a JIT pause would stall the bridge thread)."""
    try:
        from analysis.warmup import warm_up
    except ImportError:
        return
    warm_up()
