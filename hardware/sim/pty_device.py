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

import queue
import select
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from base.errors import ConfigError, DeviceError
from hardware.sim.insole import SimulatedInsole
from hardware.sim.pty_endpoint import FAULTS, PtyEndpoint, PtyStats

#: Default interval between writes (s): ~2-4 frames per write at 200 Hz.
DEFAULT_BLOCK_S = 0.015
#: Bytes buffered between the simulated firmware and the reading program while the host
#: does not read (then whole frames are dropped and counted). It stands for the device's
#: own buffer plus the host kernel's tty buffer (64 KiB on Linux for a USB CDC device),
#: about 2 s at 2 x 200 Hz: a host process that pauses briefly loses nothing, as with a
#: real insole.
DEFAULT_TX_BUFFER_BYTES = 65536


class PtyDeviceServer:
    """Simulated insoles on pseudo-terminals; run in the foreground or in a thread.

    Parameters
    ----------
    insoles : one or more simulated insoles (e.g. ``make_pair(...)``).
    block_s : interval between writes (s).
    tx_buffer_bytes : simulated firmware transmit buffer per insole (bytes).
    links : optional symlink path per insole, pointed at its pty (re-pointed on replug).
    pregenerate_s : encode this many seconds per insole up front (see :class:`PtyEndpoint`).
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
        self._endpoints: list[PtyEndpoint] = []
        try:
            for i, insole in enumerate(insoles):
                link = Path(links[i]) if links is not None else None
                self._endpoints.append(
                    PtyEndpoint(insole, tx_buffer_bytes, link, pregenerate_s, seed=i)
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

    def _write_once(self) -> set[int]:
        """Offer each pty what is pending, without waiting; the fds that took nothing."""
        return {e.master_fd for e in self._endpoints if e.wants_to_write and e.write() == 0}

    def _flush_until(self, deadline: float, waiter: threading.Event) -> None:
        """Write pending bytes as the ptys take them, until ``deadline`` (monotonic s).

        Each pty is offered its pending bytes once even when ``deadline`` has already
        passed: a simulator whose step takes longer than ``block_s`` (a slow or busy CPU,
        emulation) is always behind its schedule, and would otherwise never write at all,
        so its insole would never answer.
        """
        stalled = self._write_once()
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
