"""The simulated pty device (:mod:`hardware.sim.pty_device`) in its own process.

Real insoles are their own devices: the serial tests and ``benchmarks/bench_bridge.py``
run one simulated insole per process, so that its pacing never shares a GIL with the
reader under test. :func:`spawn` starts it; faults are written to its stdin.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from base.errors import DeviceError
from base.frames import FOOT_NAMES
from hardware.sim.imperfections import Imperfections
from hardware.sim.insole import make_pair
from hardware.sim.pty_device import DEFAULT_TX_BUFFER_BYTES, FAULTS, PtyDeviceServer


def spawn(link: Path | str, *args: str, wait_ready: bool = True) -> subprocess.Popen[str]:
    """Start :func:`main` as its own device process at ``link`` (stdin/stdout piped, text).

    With ``wait_ready`` it returns once the device printed ``ready`` (the pty exists).
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "hardware.sim.pty_process", str(link), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    if wait_ready:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("ready"):
            proc.kill()
            proc.wait()
            raise DeviceError(f"the simulated device process did not start: {line!r}")
    return proc


def spawn_pair(
    directory: Path,
    *,
    layout: str = "plantar-ref",
    rate_hz: float = 200.0,
    seed: int = 0,
    pregenerate_s: float = 0.0,
) -> dict[str, subprocess.Popen[str]]:
    """A left and a right insole, each its own device process, at ``directory/plantar-<foot>``.

    Both are started before either is waited for (pre-encoding takes a while), so they
    begin streaming within moments of each other. Returns {foot: process}.
    """
    procs = {}
    for i, foot in enumerate(FOOT_NAMES):
        args = ["--foot", foot, "--rate", f"{rate_hz:g}", "--layout", layout]
        args += ["--seed", str(seed + i), "--pregenerate", f"{pregenerate_s:g}"]
        procs[foot] = spawn(Path(directory) / f"plantar-{foot}", *args, wait_ready=False)
    for proc in procs.values():
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("ready"):
            for p in procs.values():
                p.kill()
                p.wait()
            raise DeviceError(f"the simulated device process did not start: {line!r}")
    return procs


def main(argv: Sequence[str] | None = None) -> None:
    """One simulated insole behind a pty at LINK, in its own process, faults from stdin.

    ``python -m hardware.sim.pty_process LINK [--foot left] [--rate 200] [--layout
    plantar-ref] [--seed 0] [--pregenerate S] [--block-ms 10]`` prints ``ready LINK`` and
    streams until stdin closes. Commands on stdin, one per line: ``garbage N``, ``drop N``,
    ``unplug S`` (prints ``replugged`` when back) and ``quit`` (prints ``stats <json>``).
    The insole loses no samples of its own (no radio loss): every gap is a fault.
    """
    parser = argparse.ArgumentParser(prog="python -m hardware.sim.pty_process")
    parser.add_argument("link", type=Path)
    parser.add_argument("--foot", choices=FOOT_NAMES, default="left")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--layout", default="plantar-ref")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pregenerate", type=float, default=0.0, metavar="S")
    parser.add_argument("--block-ms", type=float, default=10.0)
    args = parser.parse_args(argv)
    lossless = Imperfections(loss_probability=0.0, burst_probability=0.0)
    pair = make_pair(
        args.layout, imperfections=lossless, sampling_rate_hz=args.rate, seed=args.seed
    )
    server = PtyDeviceServer(
        [pair[0] if args.foot == "left" else pair[1]],
        block_s=args.block_ms * 1e-3,
        tx_buffer_bytes=4 * DEFAULT_TX_BUFFER_BYTES,
        links=[args.link],
        pregenerate_s=args.pregenerate,
        on_replugged=lambda _: print("replugged", flush=True),
    )
    stop = threading.Event()

    def commands() -> None:
        for line in sys.stdin:
            parts = line.split()
            if parts and parts[0] == "quit":
                break
            if parts and parts[0] in FAULTS:
                server.inject(parts[0], float(parts[1]) if len(parts) > 1 else 0.0)
        stop.set()

    threading.Thread(target=commands, daemon=True).start()
    print(f"ready {args.link}", flush=True)
    try:
        server.run(stop_event=stop)
    finally:
        server.close()
        print("stats " + json.dumps(asdict(server.stats[0])), flush=True)


if __name__ == "__main__":
    main()
