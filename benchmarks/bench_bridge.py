"""Bridge throughput on the serial/pty path: two feet, 500 Hz, 1024 sensels.

Two simulated insoles (layout ``plantar-dense``, 1024 sensels) run in their own
processes (:mod:`hardware.sim.pty_process`), each writing its
pre-encoded protocol bytes to a pseudo-terminal at real-time pace. This process runs the
real bridge (``serial://`` transports with reader threads → StreamDecoder → sequence
accounting → clock model → calibration to kPa → a consumer) and measures, after the
clock has settled, the frames per second handed on, the loss, and the CPU time of this
process (all its threads) as % of one core.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/bench_bridge.py [--seconds 10] [--rate 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from base.frames import FootFrames  # noqa: E402
from firmware_bridge.bridge import Bridge  # noqa: E402
from firmware_bridge.insole_stream import CLOCK_SETTLE_S  # noqa: E402
from hardware.sim.pty_process import spawn  # noqa: E402


class Count:
    def __init__(self) -> None:
        self.frames = {"left": 0, "right": 0}
        self.events = 0

    def on_frames(self, frames: FootFrames) -> None:
        self.frames[frames.foot] += len(frames)

    def on_event(self, event: object) -> None:
        self.events += 1


def start_device(link: Path, foot: str, rate: float, seconds: float) -> subprocess.Popen:
    return spawn(
        link,
        *("--foot", foot, "--rate", str(rate), "--layout", "plantar-dense"),
        *("--pregenerate", str(seconds), "--block-ms", "2"),
        wait_ready=False,
    )


def wait_ready(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()
    if not line.startswith("ready"):
        raise SystemExit(f"device process failed: {line!r}")


async def measure(links: list[Path], seconds: float) -> dict:
    count = Count()
    bridge = Bridge(f"serial://{links[0]}", f"serial://{links[1]}", consumers=[count])
    await bridge.connect()
    result: dict = {}

    async def window() -> None:
        await asyncio.sleep(CLOCK_SETTLE_S + 1.0)
        f0, c0, t0 = dict(count.frames), time.process_time(), time.perf_counter()
        s0 = {k: (s.stats.lost_frames, s.stats.bad_frames) for k, s in bridge.streams.items()}
        await asyncio.sleep(seconds)
        f1, c1, t1 = dict(count.frames), time.process_time(), time.perf_counter()
        wall = t1 - t0
        result["wall_s"] = wall
        result["cpu_pct"] = 100.0 * (c1 - c0) / wall
        for foot in ("left", "right"):
            st = bridge.streams[foot].stats
            result[foot] = {
                "frames_per_s": (f1[foot] - f0[foot]) / wall,
                "lost": st.lost_frames - s0[foot][0],
                "bad": st.bad_frames - s0[foot][1],
                "MB_per_s": None,
            }
        bridge.stop()

    task = asyncio.create_task(window())
    await bridge.run()
    await task
    result["bytes"] = {f: s.stats.bytes_received for f, s in bridge.streams.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window (s)")
    parser.add_argument("--rate", type=float, default=500.0, help="frames/s per foot")
    args = parser.parse_args()
    total = CLOCK_SETTLE_S + args.seconds + 6.0
    with tempfile.TemporaryDirectory() as tmp:
        links = [Path(tmp) / "plantar-left", Path(tmp) / "plantar-right"]
        procs = [
            start_device(link, foot, args.rate, total)
            for link, foot in zip(links, ("left", "right"), strict=True)
        ]
        for proc in procs:  # pre-encoding takes a while; both start streaming together
            wait_ready(proc)
        try:
            result = asyncio.run(measure(links, args.seconds))
        finally:
            stats = []
            for proc in procs:
                proc.stdin.close()
                out = proc.stdout.read()
                proc.wait()
                stats += [line for line in out.splitlines() if line.startswith("stats")]
    elapsed = CLOCK_SETTLE_S + 1.0 + result["wall_s"]
    print(f"## bridge, serial over pty, 2 feet x {args.rate:g} Hz x 1024 sensels (plantar-dense)")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"measured window: {result['wall_s']:.1f} s after {CLOCK_SETTLE_S + 1:.0f} s settle")
    print("| foot | frames/s handed on | x required | lost | bad frames | MB/s received |")
    print("|---|---|---|---|---|---|")
    for foot in ("left", "right"):
        r = result[foot]
        mb = result["bytes"][foot] / elapsed / 1e6
        print(
            f"| {foot} | {r['frames_per_s']:.1f} | {r['frames_per_s'] / args.rate:.3f} | "
            f"{r['lost']} | {r['bad']} | {mb:.2f} |"
        )
    print(f"bridge process CPU: {result['cpu_pct']:.1f} % of one core (all threads)")
    for line in stats:
        print(f"device {line}")


if __name__ == "__main__":
    main()
