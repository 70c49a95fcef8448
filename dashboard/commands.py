"""``plantar serve``: the dashboard, live from two insoles or review-only.

::

    plantar serve                                      # 127.0.0.1:8000, sessions only
    plantar serve --left serial:///dev/ttyACM0 --right serial:///dev/ttyACM1
    plantar serve --host 0.0.0.0 --left ble://name/Plantar-L --right ble://name/Plantar-R
    plantar serve --left ... --right ... --athlete "A. Runner" --shoe "Pegasus 40" --speed-kmh 12

On any address other than loopback a token is required; the URL with the token is
printed at start.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_server_options(p: argparse.ArgumentParser, default_port: int = 8000) -> None:
    """Options shared by ``serve`` and ``demo``."""
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 = the LAN, token required)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=default_port,
        help=f"TCP port (default {default_port}; 0 = any free)",
    )
    p.add_argument("--token", default=None, help="access token for LAN mode (default: generated)")
    p.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="a host name the page is opened by (a reverse proxy's or the lab's DNS name); "
        "IP addresses, localhost and this machine's name always work (repeatable)",
    )
    p.add_argument("--layout", default="plantar-ref", help="insole layout id (default plantar-ref)")
    p.add_argument("--eu-size", type=float, default=None, help="shoe size (EU) to scale the layout")
    from analysis.alert_policy import PivotAlertPolicy

    d = PivotAlertPolicy()
    g = p.add_argument_group("pivot alert (the analysis' policy: steps of both feet, in order)")
    g.add_argument(
        "--pivot-acclimatisation-steps",
        type=int,
        default=d.acclimatisation_steps,
        help=f"steps discarded before the pivot baseline (default {d.acclimatisation_steps})",
    )
    g.add_argument(
        "--pivot-baseline-steps",
        type=int,
        default=d.baseline_steps,
        help=f"steps whose median pivot is the runner's baseline (default {d.baseline_steps})",
    )
    g.add_argument(
        "--pivot-recent-steps",
        type=int,
        default=d.recent_steps,
        help=f"recent steps whose median is compared with it (default {d.recent_steps})",
    )
    g.add_argument(
        "--pivot-factor",
        type=float,
        default=d.factor,
        help=f"alert when recent median > factor x baseline (default {d.factor:g})",
    )


def add_session_options(
    p: argparse.ArgumentParser, *, speed_kmh: float | None = None, athlete: str = ""
) -> None:
    """The session state's starting values (``serve`` and ``demo``); every page can change
    them, and a recording carries them."""
    g = p.add_argument_group("session (shown and editable on the page; stored with the recording)")
    g.add_argument("--athlete", default=athlete, help="runner's name or code")
    g.add_argument("--shoe", default="", help="shoe of the session")
    g.add_argument("--sock", default="", help="sock of the session")
    speed = "" if speed_kmh is None else f" (default {speed_kmh:g})"
    g.add_argument("--speed-kmh", type=float, default=speed_kmh, help=f"treadmill speed{speed}")
    g.add_argument("--incline-pct", type=float, default=None, help="treadmill incline (%%)")
    g.add_argument("--notes", default="", help="free notes")


def session_meta(args: argparse.Namespace) -> dict[str, Any]:
    """The session state given by :func:`add_session_options` (checked like the page's)."""
    from base.errors import ConfigError

    speed, incline = args.speed_kmh, args.incline_pct
    if speed is not None and not 0.0 <= speed <= 40.0:
        raise ConfigError(f"--speed-kmh must be between 0 and 40 (got {speed:g})")
    if incline is not None and not -10.0 <= incline <= 40.0:
        raise ConfigError(f"--incline-pct must be between -10 and 40 (got {incline:g})")
    for name in ("athlete", "shoe", "sock"):
        if len(getattr(args, name)) > 100:
            raise ConfigError(f"--{name} is longer than 100 characters; shorten it")
    return {
        "athlete": args.athlete,
        "shoe": args.shoe,
        "sock": args.sock,
        "treadmill_speed_kmh": speed,
        "treadmill_incline_pct": incline,
        "notes": args.notes,
    }


def register(sub: Any) -> None:
    """Add ``serve`` to the ``plantar`` subcommands."""
    p = sub.add_parser(
        "serve",
        help="run the live dashboard (heat maps of both feet, recording control)",
        description=(
            "Serve the dashboard. With --left/--right, stream both insoles through the bridge, "
            "analyse them live and record from the page; without, browse recorded sessions."
        ),
    )
    add_server_options(p)
    p.add_argument("--left", metavar="URL", help="left insole, e.g. serial:///dev/ttyACM0")
    p.add_argument("--right", metavar="URL", help="right insole, e.g. ble://name/Plantar-R")
    p.add_argument("--record", action="store_true", help="start recording at once")
    add_session_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``plantar serve``."""
    from base.errors import ConfigError
    from dashboard.server import live_runtime
    from live.runtime import RuntimeOptions

    if bool(args.left) != bool(args.right):
        raise ConfigError("give both --left URL and --right URL, or neither (review only)")
    urls = {"left": args.left, "right": args.right} if args.left else None
    options = RuntimeOptions.from_args(args)
    meta = session_meta(args)
    runtime = live_runtime(options, urls=urls, meta=meta)
    try:
        runtime.start(record=args.record)
        print(f"Plantar dashboard: {runtime.url}", flush=True)
        if runtime.token:
            print("LAN mode: the page needs the token in this URL; share it only with your coach")
        runtime.serve()
    finally:
        runtime.close()
    return 0
