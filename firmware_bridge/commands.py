"""``plantar stream LEFT_URL RIGHT_URL``: stream two insoles and show how the links do.

One status line, rewritten in place (``\\r``) twice a second::

    L streaming 200.0 Hz loss 0.10% | R reconnecting 0.0 Hz loss 1.52% | 00:12:31

and a summary at the end (``--json``: one JSON document on stdout). Nothing is
recorded unless ``--capture DIR`` is given (raw bytes per foot, for ``replay://``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

_STATUS_PERIOD_S = 0.5


def register(sub: Any) -> None:
    """Add the ``stream`` subcommand to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "stream",
        help="stream two insoles and show rate, loss and link state",
        description=(
            "Connect to the left and then the right insole and stream both, showing the "
            "per-foot frame rate, loss and link state on one updating line. URLs: "
            "serial:///dev/ttyACM0, ble://AA:BB:CC:DD:EE:FF, ble://name/Plantar-L, "
            "sim://?foot=left, replay:///path/left.plantar-bytes."
        ),
    )
    p.add_argument("left_url", metavar="LEFT_URL", help="transport URL of the left insole")
    p.add_argument("right_url", metavar="RIGHT_URL", help="transport URL of the right insole")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    p.add_argument("--capture", metavar="DIR", help="write each foot's bytes to DIR")
    p.add_argument("--quiet", action="store_true", help="no status line")
    p.set_defaults(handler=run)


def format_status(stats: dict[str, Any], elapsed_s: float) -> str:
    """The status line: per foot state, rate and loss, then the elapsed time."""
    parts = []
    for foot, s in stats.items():
        parts.append(
            f"{foot[0].upper()} {s.state.value:<12} {s.rate_hz:6.1f} Hz loss {s.loss_pct:5.2f}%"
        )
    minutes, seconds = divmod(int(elapsed_s), 60)
    hours, minutes = divmod(minutes, 60)
    return " | ".join(parts) + f" | {hours:02d}:{minutes:02d}:{seconds:02d}"


def summary(bridge: Any) -> dict[str, Any]:
    """What ``--json`` prints: per-foot counters, events by kind, duration."""
    feet = {}
    for foot, stream in bridge.streams.items():
        d = stream.stats.to_dict()
        d["events"] = dict(stream.events.counts)
        d["gaps_detail"] = [e.to_dict() for e in stream.gap_events[-100:]]  # the last 100
        d["drift_ppm"] = round(stream.clock.drift_ppm, 2) if stream.clock.ready else None
        feet[foot] = d
    return {"duration_s": round(bridge.elapsed_s, 3), "feet": feet}


async def _stream(args: argparse.Namespace) -> dict[str, Any]:
    from firmware_bridge.bridge import Bridge

    bridge = Bridge(args.left_url, args.right_url, capture_dir=args.capture)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, bridge.stop)
    show = not args.quiet and sys.stderr.isatty()

    async def status_line() -> None:
        width = 0
        while True:
            line = format_status(bridge.status(), bridge.elapsed_s)
            sys.stderr.write("\r" + line.ljust(width))
            sys.stderr.flush()
            width = len(line)
            await asyncio.sleep(_STATUS_PERIOD_S)

    await bridge.connect()
    status = asyncio.create_task(status_line()) if show else None
    try:
        await bridge.run(duration_s=args.duration)
    finally:
        if status is not None:
            status.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await status
            sys.stderr.write("\r" + format_status(bridge.status(), bridge.elapsed_s) + "\n")
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return summary(bridge)


def run(args: argparse.Namespace) -> int:
    """Stream until --duration, Ctrl-C, or the end of both streams; print the summary."""
    if args.duration is not None and args.duration <= 0:
        from base.errors import ConfigError

        raise ConfigError(f"--duration {args.duration}: must be > 0 seconds")
    result = asyncio.run(_stream(args))
    if args.json:
        print(json.dumps(result))
    else:
        for foot, d in result["feet"].items():
            print(
                f"{foot:<5} {d['frames']:>9} frames  {d['lost_frames']:>7} lost "
                f"({d['loss_pct']:.2f}%)  {d['gaps']} gaps  {d['reconnects']} reconnects  "
                f"{d['bad_frames']} bad frames"
            )
    return 0
