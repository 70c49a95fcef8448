"""A simulated insole behind a pseudo-terminal, in its own process, with faults on demand.

Run by the serial tests and the bridge benchmark (not a test module itself)::

    python -m tests.firmware_bridge.serial_device_process LINK [--foot left] [--rate 200]
        [--layout plantar-ref] [--seed 0] [--pregenerate S] [--block-ms 10]

It creates a pty, points the symlink LINK at its slave side (the serial transport
opens LINK, as it would open /dev/plantar-left made by a udev rule), prints
``ready <LINK>`` and streams the insole's protocol bytes at real-time pace. Commands on
stdin, one per line:

``garbage N``   write N random bytes into the stream between two writes
``drop N``      drop N bytes from the middle of the next write (a torn frame + lost frames)
``unplug S``    close the pty and remove LINK (the reader sees EIO, as on a USB unplug),
                wait S seconds, create a new pty and point LINK at it; prints ``replugged``
``quit``        exit (prints ``stats <json>``)

REQUEST_INFO controls are answered (INFO before the next frame); other controls ACKed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import subprocess
import sys
import termios
import threading
import time
import tty
from pathlib import Path

import numpy as np

from base.wire.cobs import FrameSplitter, frame_message
from base.wire.messages import ControlCommand, ProtocolError, decode_message, encode_ack
from base.wire.protocol import AckStatus, Command
from hardware.sim.imperfections import Imperfections
from hardware.sim.insole import make_pair

_TX_LIMIT = 1 << 18
_REPO = Path(__file__).resolve().parents[2]


def spawn(link: Path | str, *args: str, wait_ready: bool = True) -> subprocess.Popen[str]:
    """Start this module as a device process at ``link`` (stdin/stdout piped, text).

    With ``wait_ready`` it returns once the device printed ``ready`` (the pty exists).
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.firmware_bridge.serial_device_process", str(link), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(_REPO)},
        cwd=_REPO,
    )
    if wait_ready:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("ready"):
            proc.kill()
            raise RuntimeError(f"device process did not start: {line!r}")
    return proc


class PtyInsole:
    def __init__(self, link: str, args: argparse.Namespace) -> None:
        self.link = link
        imp = Imperfections(loss_probability=0.0, burst_probability=0.0)
        pair = make_pair(args.layout, imperfections=imp, sampling_rate_hz=args.rate, seed=args.seed)
        self.insole = pair[0] if args.foot == "left" else pair[1]
        self.block_s = args.block_ms * 1e-3
        self.rng = np.random.default_rng(args.seed + 99)
        self.pregenerated: bytes | None = None
        self.pre_pos = 0
        if args.pregenerate > 0:
            n = int(args.pregenerate * args.rate)
            self.pregenerated = self.insole.encoded(n)
            self.pre_bytes_per_s = len(self.pregenerated) / args.pregenerate
        self.lock = threading.Lock()
        self.commands: list[tuple[str, float]] = []
        self.stats = {"bytes_written": 0, "bytes_dropped_full": 0, "garbage": 0, "dropped": 0}
        self.pending = bytearray()
        self.drop_left = self.drop_total = 0
        self.control = FrameSplitter()
        self._open_pty()

    def _open_pty(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave, termios.TCSANOW)
        os.set_blocking(self.master, False)
        tmp = f"{self.link}.tmp{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(os.ttyname(self.slave), tmp)
        os.replace(tmp, self.link)  # atomic re-point

    def _close_pty(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.link)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _produce(self, t_true: float) -> bytes:
        if self.pregenerated is None:
            n = self.insole.samples_due(t_true)
            return self.insole.encoded(n) if n else b""
        end = min(int(t_true * self.pre_bytes_per_s), len(self.pregenerated))
        data = self.pregenerated[self.pre_pos : end]
        self.pre_pos = max(self.pre_pos, end)
        return data

    def _read_controls(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            for raw in self.control.feed(data):
                try:
                    msg = decode_message(raw)
                except ProtocolError:
                    continue
                if isinstance(msg, ControlCommand):
                    if msg.command == Command.REQUEST_INFO and self.pregenerated is None:
                        self.insole.request_info()
                    ack = encode_ack(int(msg.command), AckStatus.OK, msg.argument)
                    self.pending += frame_message(ack)

    def run(self) -> None:
        t0 = time.monotonic()
        t_true0 = 0.0 if self.pregenerated is not None else self.insole.next_t_true_s
        next_tick = t0
        while True:
            with self.lock:
                commands, self.commands = self.commands, []
            for name, value in commands:
                if name == "quit":
                    return
                if name == "garbage":
                    junk = self.rng.integers(0, 256, int(value), dtype=np.uint8).tobytes()
                    self.pending += junk
                    self.stats["garbage"] += len(junk)
                elif name == "drop":
                    self.drop_left = self.drop_total = int(value)
                elif name == "unplug":
                    self._close_pty()
                    time.sleep(value)
                    self.pending.clear()
                    # the device kept sampling while away: those frames are gone
                    self._produce(t_true0 + time.monotonic() - t0)
                    self._open_pty()
                    print("replugged", flush=True)
            self._read_controls()
            data = self._produce(t_true0 + time.monotonic() - t0)
            if self.drop_left and data:
                start = len(data) // 2 if self.drop_left == self.drop_total else 0
                cut = min(self.drop_left, len(data) - start)
                data = data[:start] + data[start + cut :]
                self.drop_left -= cut
                self.stats["dropped"] += cut
            if len(self.pending) + len(data) > _TX_LIMIT:
                self.stats["bytes_dropped_full"] += len(data)
            else:
                self.pending += data
            next_tick += self.block_s
            self._write_until(next_tick)
            if next_tick - time.monotonic() < -1.0:
                next_tick = time.monotonic()

    def _write_until(self, deadline: float) -> None:
        """Write pending bytes as the pty takes them, until the deadline."""
        while True:
            written = 0
            if self.pending:
                try:
                    written = os.write(self.master, self.pending)
                except OSError:  # EAGAIN: pty full; EIO: nobody has the slave open
                    written = 0
                del self.pending[:written]
                self.stats["bytes_written"] += written
            delay = deadline - time.monotonic()
            if delay <= 0:
                return
            if not self.pending or written == 0:  # done, or the pty takes nothing now
                time.sleep(delay)
                return
            select.select([], [self.master], [], delay)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("link")
    parser.add_argument("--foot", default="left")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--layout", default="plantar-ref")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pregenerate", type=float, default=0.0)
    parser.add_argument("--block-ms", type=float, default=10.0)
    args = parser.parse_args()
    device = PtyInsole(args.link, args)

    def commands() -> None:
        for line in sys.stdin:
            parts = line.split()
            if parts:
                with device.lock:
                    device.commands.append((parts[0], float(parts[1]) if len(parts) > 1 else 0))
        with device.lock:
            device.commands.append(("quit", 0.0))

    threading.Thread(target=commands, daemon=True).start()
    print(f"ready {args.link}", flush=True)
    try:
        device.run()
    finally:
        device._close_pty()
        print("stats " + json.dumps(device.stats), flush=True)


if __name__ == "__main__":
    main()
