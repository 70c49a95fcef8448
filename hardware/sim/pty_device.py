"""Serve simulated insoles on pseudo-terminals, as if they were USB serial devices.

Each insole gets its own pty; its slave path (e.g. ``/dev/pts/7``) can be opened by any
serial reader (pyserial, ``serial://`` transport, ``cat``). The server writes the insole's
framed protocol bytes at real-time pace in small blocks, answers CONTROL messages (START,
STOP, SET_RATE, REQUEST_INFO) with ACKs, and behaves like firmware whose USB host stalls:
when nobody reads and the pty buffer is full, new frames are dropped and counted, never
queued without bound.

Example::

    stop = threading.Event()
    serve_on_pty(make_pair("plantar-ref"), on_ready=print, stop_event=stop)
"""

from __future__ import annotations

import contextlib
import os
import termios
import threading
import time
import tty
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

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
_READ_CHUNK = 4096


@dataclass
class PtyStats:
    """Counters of one served insole."""

    path: str
    bytes_written: int = 0
    bytes_dropped: int = 0
    messages_dropped: int = 0  # framed messages (DATA or INFO) dropped on a stalled host
    controls_received: int = 0
    streaming: bool = True


class _PtyEndpoint:
    """One insole on one pty: pacing, control handling and the bounded transmit buffer."""

    def __init__(self, insole: SimulatedInsole, tx_buffer_bytes: int) -> None:
        self.insole = insole
        self.master_fd, self.slave_fd = os.openpty()
        tty.setraw(self.slave_fd, termios.TCSANOW)
        os.set_blocking(self.master_fd, False)
        self.stats = PtyStats(path=os.ttyname(self.slave_fd))
        self._pending = bytearray()
        self._tx_limit = tx_buffer_bytes
        self._control = FrameSplitter()

    def close(self) -> None:
        for fd in (self.master_fd, self.slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _queue(self, data: bytes) -> None:
        if len(self._pending) + len(data) > self._tx_limit:
            self.stats.bytes_dropped += len(data)
            self.stats.messages_dropped += data.count(0)
        else:
            self._pending += data

    def _handle(self, command: ControlCommand, t_true_s: float) -> None:
        insole = self.insole
        status = AckStatus.OK
        if command.command == Command.START:
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
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EIO: no slave open (cannot happen while we hold it)
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

    def step(self, t_true_s: float) -> None:
        """Answer controls, produce the samples due by ``t_true_s`` and write what fits."""
        self._read_controls(t_true_s)
        if self.stats.streaming:
            n = self.insole.samples_due(t_true_s)
            if n:
                self._queue(self.insole.encoded(n))
        if self._pending:
            try:
                written = os.write(self.master_fd, self._pending)
            except (BlockingIOError, InterruptedError):
                written = 0
            del self._pending[:written]
            self.stats.bytes_written += written


class PtyDeviceServer:
    """Simulated insoles on pseudo-terminals; run in the foreground or in a thread.

    Parameters
    ----------
    insoles : one or more simulated insoles (e.g. ``make_pair(...)``).
    block_s : interval between writes (s).
    tx_buffer_bytes : simulated firmware transmit buffer per insole (bytes).

    The ptys are created in the constructor, so :attr:`paths` is valid at once; use as a
    context manager (``with PtyDeviceServer(...) as server:``) to run it in a thread.
    """

    def __init__(
        self,
        insoles: Sequence[SimulatedInsole],
        *,
        block_s: float = DEFAULT_BLOCK_S,
        tx_buffer_bytes: int = DEFAULT_TX_BUFFER_BYTES,
    ) -> None:
        if not insoles:
            raise ConfigError("simulated device: give at least one insole to serve")
        if not 0.001 <= block_s <= 1.0:
            raise ConfigError(f"simulated device: block_s={block_s} must be 0.001..1 s")
        self.block_s = block_s
        self._endpoints: list[_PtyEndpoint] = []
        try:
            for insole in insoles:
                self._endpoints.append(_PtyEndpoint(insole, tx_buffer_bytes))
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

    def run(
        self, duration_s: float | None = None, stop_event: threading.Event | None = None
    ) -> list[PtyStats]:
        """Serve at real-time pace until ``duration_s`` elapses or a stop event is set."""
        start = time.monotonic()
        t_offset = min(e.insole.next_t_true_s for e in self._endpoints)
        next_tick = start
        while not self._stop.is_set() and not (stop_event is not None and stop_event.is_set()):
            now = time.monotonic() - start
            if duration_s is not None and now >= duration_s:
                now = duration_s
            for endpoint in self._endpoints:
                endpoint.step(t_offset + now)
            if duration_s is not None and now >= duration_s:
                break
            next_tick += self.block_s
            delay = next_tick - time.monotonic()
            if delay < -1.0:  # fell far behind (suspended machine): do not burst to catch up
                next_tick = time.monotonic()
            waiter = stop_event if stop_event is not None else self._stop
            waiter.wait(max(delay, 0.0))
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
        """Stop and close the ptys (their paths disappear)."""
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
