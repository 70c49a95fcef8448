"""Running the dashboard: bind the port, print the URL, serve with uvicorn.

Binding happens before uvicorn starts so that a busy port or a bad address ends in one
line (``plantar: error: ...``) and so that ``--port 0`` picks a free port whose URL can
be printed. :func:`live_runtime` builds a :class:`live.runtime.LiveRuntime` whose front
end is this server: uvicorn then serves on the runtime's event loop, beside the bridge.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import socket
import sys
from typing import Any

from base.errors import ConfigError, DeviceError
from dashboard.security import is_loopback, new_token

SEND_BUFFER_BYTES = 128 * 1024


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port (0-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ConfigError(f"--host {host!r} is not an address of this machine ({err})") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # A fixed, modest send buffer per connection (inherited by accepted sockets): a
    # client that stops reading pushes back within seconds instead of after megabytes
    # of kernel-buffered display messages (~60 kB/s per client).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    try:
        sock.bind(addr)
    except OSError as err:
        sock.close()
        raise DeviceError(
            f"cannot listen on {host}:{port} ({err.strerror}): the port is busy or the "
            f"address is not on this machine; choose another with --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def resolve_token(host: str, token: str | None) -> str | None:
    """The access token to require: none on loopback unless given, generated otherwise."""
    if token:
        if len(token) < 12:
            raise ConfigError("--token must be at least 12 characters")
        return token
    return None if is_loopback(host) else new_token()


def page_url(host: str, port: int, token: str | None) -> str:
    """The URL to open (with the token, in LAN mode)."""
    shown = host
    if host in ("0.0.0.0", "::"):
        shown = _lan_address() or "127.0.0.1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def _lan_address() -> str | None:
    """This machine's address on the default route (no packet is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing lookup only
        addr: str = s.getsockname()[0]
        return addr
    except OSError:
        return None
    finally:
        s.close()


#: Requests and page connections still open this long after a stop is asked for are
#: cancelled (s): a page left open on a tablet must not hold ``systemctl stop``.
GRACEFUL_SHUTDOWN_S = 5.0

#: A stop still running this long after it was asked for prints every thread's stack to
#: stderr (the journal), once (s): what a bug report about a slow stop needs.
SLOW_STOP_DUMP_S = 30.0


def arm_slow_stop_dump() -> None:
    """Print all stacks to stderr if the process is still stopping in
    :data:`SLOW_STOP_DUMP_S` (the process exits first in a normal stop)."""
    with contextlib.suppress(ValueError, OSError, AttributeError):  # no usable stderr
        faulthandler.dump_traceback_later(SLOW_STOP_DUMP_S, repeat=False, file=sys.stderr)


def disarm_slow_stop_dump() -> None:
    """The stop finished (a process that goes on, such as a test run, stays quiet)."""
    faulthandler.cancel_dump_traceback_later()


class _StalledPagesAtStop(logging.Filter):
    """uvicorn logs the pages it cut at the end of :data:`GRACEFUL_SHUTDOWN_S` as an ERROR
    ("Cancel 1 running task(s), timeout graceful shutdown exceeded"): an expected event
    (a tablet asleep with its page open), said as such, at WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "timeout graceful shutdown exceeded" in str(record.msg):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = (
                "stop: closed the page connections still open %g s after the stop was asked "
                "for (a page that stopped reading, e.g. a tablet asleep); nothing was lost"
            )
            record.args = (GRACEFUL_SHUTDOWN_S,)
        return True


def _server_class() -> Any:
    import uvicorn

    stalled = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _StalledPagesAtStop) for f in stalled.filters):
        stalled.addFilter(_StalledPagesAtStop())

    class Server(uvicorn.Server):
        """uvicorn's server that arms the slow-stop dump when a signal asks it to exit."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            arm_slow_stop_dump()
            super().handle_exit(sig, frame)

    return Server


class DashboardServer:
    """uvicorn on a bound socket: :meth:`serve` on the runtime's loop, :meth:`stop` from
    anywhere; ``url`` and ``token`` are what the page is opened with."""

    def __init__(self, app: Any, sock: socket.socket, url: str, token: str | None) -> None:
        import uvicorn

        self.sock = sock
        self.url = url
        self.token = token
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
            access_log=False,
            # the display messages are quantised already (deflate cost ~0.07 ms each for
            # little), and the events are a few small JSON messages a second
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
        self.server = _server_class()(config)

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self.sock.getsockname()[1])

    async def serve(self) -> None:
        """Serve until Ctrl-C or :meth:`stop`."""
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            self.sock.close()

    def stop(self) -> None:
        """Ask the server to finish."""
        arm_slow_stop_dump()
        self.server.should_exit = True

    def close(self) -> None:
        """Release the listening socket (when :meth:`serve` never ran); the stop is over."""
        self.sock.close()
        disarm_slow_stop_dump()


def dashboard_frontend(hub: Any, pipeline: Any, options: Any) -> DashboardServer:
    """The dashboard as the front end of a live runtime (a ``live.runtime.FrontendFactory``)."""
    from dashboard.app import create_app

    token = resolve_token(options.host, options.token)
    app = create_app(
        hub,
        pipeline,
        token=token,
        sessions_root=options.sessions_root,
        allowed_hosts=options.allowed_hosts,
    )
    app.state.pairing = getattr(options, "pairing", None)  # the /pair page's service
    sock = bind_socket(options.host, options.port)
    port = int(sock.getsockname()[1])
    return DashboardServer(app, sock, page_url(options.host, port, token), token)


def live_runtime(
    options: Any, *, urls: dict[str, str] | None = None, meta: dict[str, Any] | None = None
) -> Any:
    """A :class:`live.runtime.LiveRuntime` serving this dashboard."""
    from live.runtime import LiveRuntime

    return LiveRuntime(options, frontend=dashboard_frontend, urls=urls, meta=meta)
