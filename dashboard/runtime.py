"""Everything a live dashboard process runs, wired once for ``plantar serve`` and ``demo``.

``LiveRuntime`` builds the hub, the live pipeline (recorder + analysis worker), the
bridge that feeds it (when insole URLs are given) and the web server, and tears them down
in the order that keeps the recording whole: bridge first, then the recording is
finalised, then the server goes.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.pivot import PivotSettings


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
        from dashboard.hub import LiveHub
        from dashboard.live import LivePipeline
        from dashboard.server import DashboardServer, bind_socket, page_url, resolve_token
        from hardware.layout import load_layout

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

    def start(self, record: bool = False) -> None:
        """Connect the insoles (left, then right) and optionally start recording."""
        if self.urls and self.pipeline is not None:
            from dashboard.bridge_feed import BridgeFeed

            self.bridge = BridgeFeed(self.urls, self.pipeline, self.hub)
            self.bridge.start()
            if record:
                self.pipeline.start_recording()

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
