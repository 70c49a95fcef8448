"""Serve simulated insoles on pseudo-terminals, as if they were USB serial devices.

Each insole gets its own pty; its slave path (e.g. ``/dev/pts/7``) can be opened by any
serial reader (pyserial, ``serial://`` transport, ``cat``), and a symlink ``link`` can
point at it as a udev rule makes ``/dev/plantar-left``. The server writes the insole's
framed protocol bytes at real-time pace in small blocks, answers CONTROL messages (START,
STOP, SET_RATE, REQUEST_INFO) with ACKs, and behaves like firmware whose USB host stalls:
when nobody reads and the pty buffer is full, new frames are dropped and counted, never
queued without bound.

Faults on demand (:meth:`PtyDeviceServer.inject`): ``garbage N`` (N random bytes into
the stream), ``drop N`` (N bytes cut from the middle of the next writes: a torn frame and
lost frames), ``unplug S`` (close the pty and remove the link, as on a USB unplug; S
seconds later a new pty appears at the same link). ``plantar sim`` and ``plantar demo``
serve it; :mod:`hardware.sim.pty_process` runs it in its own process with the faults read
from stdin (the serial tests and ``benchmarks/bench_bridge.py``).

Example::

    stop = threading.Event()
    serve_on_pty(make_pair("plantar-ref"), on_ready=print, stop_event=stop)
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import termios
import threading
import time
import tty
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from base.errors import ConfigError, DeviceError
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

#: Default interval between writes (s): ~2-4 frames per write at 200 Hz.
DEFAULT_BLOCK_S = 0.015
#: Bytes buffered between the simulated firmware and the reading program while the host
#: does not read (then whole frames are dropped and counted). It stands for the device's
#: own buffer plus the host kernel's tty buffer (64 KiB on Linux for a USB CDC device),
#: about 2 s at 2 x 200 Hz: a host process that pauses briefly loses nothing, as with a
#: real insole.
DEFAULT_TX_BUFFER_BYTES = 65536
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


class _PtyEndpoint:
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


class PtyDeviceServer:
    """Simulated insoles on pseudo-terminals; run in the foreground or in a thread.

    Parameters
    ----------
    insoles : one or more simulated insoles (e.g. ``make_pair(...)``).
    block_s : interval between writes (s).
    tx_buffer_bytes : simulated firmware transmit buffer per insole (bytes).
    links : optional symlink path per insole, pointed at its pty (re-pointed on replug).
    pregenerate_s : encode this many seconds per insole up front (see :class:`_PtyEndpoint`).
    on_replugged : called with the insole's index when it comes back from an unplug.

    The ptys are created in the constructor, so :attr:`paths` is valid at once; use as a
    context manager (``with PtyDeviceServer(...) as server:``) to run it in a thread.
    """

    def __init__(
        self,
        insoles: Sequence[SimulatedInsole],
        *,
        block_s: float = DEFAULT_BLOCK_S,
        tx_buffer_bytes: int = DEFAULT_TX_BUFFER_BYTES,
        links: Sequence[Path | str] | None = None,
        pregenerate_s: float = 0.0,
        on_replugged: Callable[[int], None] | None = None,
    ) -> None:
        if not insoles:
            raise ConfigError("simulated device: give at least one insole to serve")
        if not 0.001 <= block_s <= 1.0:
            raise ConfigError(f"simulated device: block_s={block_s} must be 0.001..1 s")
        if links is not None and len(links) != len(insoles):
            raise ConfigError("simulated device: give one link path per insole")
        self.block_s = block_s
        self.on_replugged = on_replugged
        self._faults: queue.SimpleQueue[tuple[int, str, float]] = queue.SimpleQueue()
        self._endpoints: list[_PtyEndpoint] = []
        try:
            for i, insole in enumerate(insoles):
                link = Path(links[i]) if links is not None else None
                self._endpoints.append(
                    _PtyEndpoint(insole, tx_buffer_bytes, link, pregenerate_s, seed=i)
                )
        except OSError as exc:
            self.close()
            raise DeviceError(
                f"cannot create a pseudo-terminal for the simulator ({exc})"
            ) from None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def paths(self) -> list[str]:
        """Slave device paths, one per insole, in the order given."""
        return [e.stats.path for e in self._endpoints]

    @property
    def stats(self) -> list[PtyStats]:
        """Counters, one per insole."""
        return [e.stats for e in self._endpoints]

    def inject(self, fault: str, value: float, insole: int = 0) -> None:
        """Queue a fault of :data:`FAULTS` for insole number ``insole`` (thread-safe)."""
        if fault not in FAULTS:
            raise ConfigError(f"simulated device: unknown fault {fault!r}; use {list(FAULTS)}")
        self._faults.put((insole, fault, value))

    def _flush_until(self, deadline: float, waiter: threading.Event) -> None:
        """Write pending bytes as the ptys take them, until ``deadline`` (monotonic s)."""
        stalled: set[int] = set()
        while True:
            delay = deadline - time.monotonic()
            if delay <= 0 or waiter.is_set():
                return
            writers = {
                e.master_fd: e
                for e in self._endpoints
                if e.wants_to_write and e.master_fd not in stalled
            }
            if not writers:
                waiter.wait(delay)
                return
            _, ready, _ = select.select([], list(writers), [], delay)
            for fd in ready:
                if writers[fd].write() == 0:  # the pty takes nothing now: wait for the tick
                    stalled.add(fd)

    def run(
        self, duration_s: float | None = None, stop_event: threading.Event | None = None
    ) -> list[PtyStats]:
        """Serve at real-time pace until ``duration_s`` elapses or a stop event is set."""
        start = time.monotonic()
        t_offset = min(e.insole.next_t_true_s for e in self._endpoints)
        next_tick = start
        waiter = stop_event if stop_event is not None else self._stop
        while not self._stop.is_set() and not waiter.is_set():
            mono = time.monotonic()
            now = mono - start
            if duration_s is not None and now >= duration_s:
                now = duration_s
            while not self._faults.empty():
                index, fault, value = self._faults.get()
                self._endpoints[index].inject(fault, value, mono)
            for i, endpoint in enumerate(self._endpoints):
                if endpoint.step(t_offset + now, mono) and self.on_replugged is not None:
                    self.on_replugged(i)
            if duration_s is not None and now >= duration_s:
                for endpoint in self._endpoints:
                    endpoint.write()
                break
            next_tick += self.block_s
            if next_tick - time.monotonic() < -1.0:  # fell far behind (suspended machine)
                next_tick = time.monotonic()  # do not burst to catch up
            self._flush_until(next_tick, waiter)
        return self.stats

    def start(self, duration_s: float | None = None) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self.run, args=(duration_s,), name="plantar-sim-pty", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (and join the thread if one was started)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Stop and close the ptys (their paths and links disappear)."""
        self.stop()
        for endpoint in self._endpoints:
            endpoint.close()

    def __enter__(self) -> PtyDeviceServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve_on_pty(
    insoles: Sequence[SimulatedInsole],
    *,
    duration_s: float | None = None,
    on_ready: Callable[[list[str]], None] | None = None,
    stop_event: threading.Event | None = None,
    block_s: float = DEFAULT_BLOCK_S,
    tx_buffer_bytes: int = DEFAULT_TX_BUFFER_BYTES,
) -> list[PtyStats]:
    """Serve insoles on pseudo-terminals in the foreground until done.

    Parameters
    ----------
    insoles : the insoles to serve, one pty each.
    duration_s : stop after this much real time (s); None runs until ``stop_event``.
    on_ready : called once with the slave device paths, before streaming starts.
    stop_event : set it (from another thread or a signal handler) to stop.
    block_s : interval between writes (s).
    tx_buffer_bytes : simulated firmware transmit buffer per insole (bytes).

    Returns
    -------
    One :class:`PtyStats` per insole. The ptys are closed on return.
    """
    server = PtyDeviceServer(insoles, block_s=block_s, tx_buffer_bytes=tx_buffer_bytes)
    try:
        if on_ready is not None:
            on_ready(server.paths)
        return server.run(duration_s=duration_s, stop_event=stop_event)
    finally:
        server.close()
