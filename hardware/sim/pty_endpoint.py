"""One simulated insole's end of a pseudo-terminal (:mod:`hardware.sim.pty_device`):
the bytes it has to send, the host's requests it reads, and its counts."""

from __future__ import annotations

import contextlib
import os
import termios
import tty
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from base.errors import ConfigError
from base.wire.cobs import FrameSplitter, frame_message
from base.wire.messages import (
    Ack,
    ControlCommand,
    ProtocolError,
    decode_message,
    encode_ack,
    encode_info,
)
from base.wire.protocol import AckStatus, Command
from hardware.sim.insole import SimulatedInsole

#: The faults :meth:`PtyDeviceServer.inject` knows, with the meaning of their number.
FAULTS = {"garbage": "bytes", "drop": "bytes", "unplug": "seconds"}
_READ_CHUNK = 4096


@dataclass
class PtyStats:
    """Counters of one served insole."""

    path: str
    bytes_written: int = 0
    bytes_dropped: int = 0
    messages_dropped: int = 0  # framed messages (DATA or INFO) dropped on a stalled host
    controls_received: int = 0
    garbage_bytes: int = 0  # injected by the ``garbage`` fault
    cut_bytes: int = 0  # removed by the ``drop`` fault
    unplugs: int = 0
    streaming: bool = True


class PtyEndpoint:
    """One insole on one pty: pacing, controls, faults and the bounded transmit buffer.

    ``pregenerate_s`` > 0 encodes that many seconds of samples up front and hands the bytes
    out at their average rate (a benchmark's device that costs almost no CPU); controls
    are then ACKed but change nothing.
    """

    def __init__(
        self,
        insole: SimulatedInsole,
        tx_buffer_bytes: int,
        link: Path | None = None,
        pregenerate_s: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.insole = insole
        self.link = link
        self.stats = PtyStats(path="")
        self._pending = bytearray()
        self._tx_limit = tx_buffer_bytes
        self._control = FrameSplitter()
        self._rng = np.random.default_rng(seed + 99)
        self._cut_left = self._cut_total = 0
        self._replug_at: float | None = None
        self._t0_true_s: float | None = None
        self._pregenerated = b""
        self._pre_pos = 0
        self._pre_bytes_per_s = 0.0
        if pregenerate_s > 0:
            self._pregenerated = insole.encoded(int(pregenerate_s * insole.sampling_rate_hz))
            self._pre_bytes_per_s = len(self._pregenerated) / pregenerate_s
        self.master_fd = self.slave_fd = -1
        self._open_pty()

    @property
    def plugged(self) -> bool:
        return self._replug_at is None

    def _open_pty(self) -> None:
        self.master_fd, self.slave_fd = os.openpty()
        tty.setraw(self.slave_fd, termios.TCSANOW)
        os.set_blocking(self.master_fd, False)
        self.stats.path = os.ttyname(self.slave_fd)
        if self.link is not None:
            tmp = self.link.with_name(f"{self.link.name}.tmp{os.getpid()}")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.stats.path)
            tmp.replace(self.link)  # atomic re-point

    def close(self) -> None:
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for fd in (self.master_fd, self.slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.master_fd = self.slave_fd = -1

    def inject(self, fault: str, value: float, now: float) -> None:
        """Apply one fault of :data:`FAULTS` (``now``: monotonic time, s)."""
        if fault == "garbage":
            junk = self._rng.integers(0, 256, int(value), dtype=np.uint8).tobytes()
            self._pending += junk
            self.stats.garbage_bytes += len(junk)
        elif fault == "drop":
            self._cut_left = self._cut_total = int(value)
        elif fault == "unplug" and self.plugged:
            self.close()
            self._pending.clear()
            self._replug_at = now + max(float(value), 0.0)
            self.stats.unplugs += 1
        elif fault not in FAULTS:
            raise ConfigError(f"simulated device: unknown fault {fault!r}; use {list(FAULTS)}")

    def _queue(self, data: bytes) -> None:
        if len(self._pending) + len(data) > self._tx_limit:
            self.stats.bytes_dropped += len(data)
            self.stats.messages_dropped += data.count(0)
        else:
            self._pending += data

    def _handle(self, command: ControlCommand, t_true_s: float) -> None:
        insole = self.insole
        status = AckStatus.OK
        if self._pregenerated:
            pass  # a pre-encoded stream cannot change: ACK and go on
        elif command.command == Command.START:
            if not self.stats.streaming:
                insole.skip_to(t_true_s)
                self.stats.streaming = True
        elif command.command == Command.STOP:
            self.stats.streaming = False
        elif command.command == Command.SET_RATE:
            try:
                insole.set_sampling_rate(command.argument)
            except ConfigError:
                status = AckStatus.BAD_ARGUMENT
        elif command.command == Command.REQUEST_INFO:
            insole.request_info()
        else:
            status = AckStatus.UNKNOWN_COMMAND
        self._queue(frame_message(encode_ack(int(command.command), status, command.argument)))
        if command.command == Command.REQUEST_INFO and not self.stats.streaming:
            self._queue(frame_message(encode_info(insole.info)))

    def _read_controls(self, t_true_s: float) -> None:
        while True:
            try:
                data = os.read(self.master_fd, _READ_CHUNK)
            except OSError:  # EAGAIN: nothing to read; EIO: no slave open
                return
            if not data:
                return
            for raw in self._control.feed(data):
                try:
                    message = decode_message(raw)
                except ProtocolError:  # a corrupted control: the host times out and retries
                    continue
                if isinstance(message, ControlCommand):
                    self.stats.controls_received += 1
                    self._handle(message, t_true_s)
                elif isinstance(message, Ack):  # a host echoing ACKs: ignore
                    continue

    def _produce(self, t_true_s: float) -> bytes:
        if self._t0_true_s is None:
            self._t0_true_s = t_true_s
        if self._pregenerated:
            end = int((t_true_s - self._t0_true_s) * self._pre_bytes_per_s)
            data = self._pregenerated[self._pre_pos : end]
            self._pre_pos = max(self._pre_pos, min(end, len(self._pregenerated)))
            return data
        if not self.stats.streaming:
            return b""
        n = self.insole.samples_due(t_true_s)
        return self.insole.encoded(n) if n else b""

    def _cut(self, data: bytes) -> bytes:
        """The ``drop`` fault: remove bytes from the middle of the first write, then on."""
        start = len(data) // 2 if self._cut_left == self._cut_total else 0
        cut = min(self._cut_left, len(data) - start)
        self._cut_left -= cut
        self.stats.cut_bytes += cut
        return data[:start] + data[start + cut :]

    def step(self, t_true_s: float, now: float) -> bool:
        """Answer controls, produce the samples due by ``t_true_s`` and queue them.

        Returns True when the device came back from an unplug at this step.
        """
        replugged = False
        if self._replug_at is not None:
            if now < self._replug_at:
                self._produce(t_true_s)  # the device kept sampling while away: frames gone
                return False
            self._replug_at = None
            self._open_pty()
            replugged = True
        self._read_controls(t_true_s)
        data = self._produce(t_true_s)
        if self._cut_left and data:
            data = self._cut(data)
        if data:
            self._queue(data)
        return replugged

    def write(self) -> int:
        """Write what the pty takes now; the number of bytes written."""
        if not self._pending or not self.plugged:
            return 0
        try:
            written = os.write(self.master_fd, self._pending)
        except OSError:  # EAGAIN: pty full; EIO: nobody has the slave open
            return 0
        del self._pending[:written]
        self.stats.bytes_written += written
        return written

    @property
    def wants_to_write(self) -> bool:
        return bool(self._pending) and self.plugged
