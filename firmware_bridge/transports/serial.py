"""``serial://``: an insole on a USB CDC-ACM port or a UART (pyserial).

``serial:///dev/ttyACM0?baud=921600`` (``serial://COM3`` on Windows).

* The port is opened with ``exclusive=True`` (an advisory lock, so two Plantar
  processes cannot read the same insole; ModemManager is kept off by the udev rule
  :data:`UDEV_RULE`).
* A reader thread does the blocking reads and hands each read to the event loop as a
  :class:`~firmware_bridge.transport.Chunk`: it waits for a first byte, then takes
  everything that arrived (at most once per ``read_ms``). A read
  returns whatever arrived (0..n bytes, any split): framing is the decoder's job (COBS +
  0x00), so read boundaries carry no meaning and garbage costs at most the frame it hits.
* When the device disappears (unplug: the read fails), :meth:`read` raises
  :class:`~firmware_bridge.transport.LinkLost`; :meth:`reconnect` opens the same path
  again (udev recreates it, or the symlink ``/dev/plantar-left`` the rule names) and the
  bridge records the gap.

Query parameters: ``baud`` (default 921600; ignored by USB CDC-ACM), ``info_timeout``
(s to wait for the device's INFO, default 2.5), ``read_ms`` (shortest time between two
reads, default :data:`DEFAULT_READ_MS`; 0 reads as soon as a byte arrives).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import select
import threading
import time

from base.errors import ConfigError, DeviceError
from base.wire.cobs import frame_message
from base.wire.messages import DeviceInfo, encode_control
from base.wire.protocol import Command
from firmware_bridge.transport import (
    Chunk,
    LinkLost,
    Transport,
    register_transport,
    wait_for_info,
)

#: The udev rule file the Raspberry Pi image ships (permissions, ModemManager off).
UDEV_RULE = "/etc/udev/rules.d/60-plantar.rules"
DEFAULT_BAUD = 921600
#: Shortest time between two reads (ms): bytes arriving meanwhile wait in the kernel's tty
#: buffer and come as one chunk, so a 200 Hz insole costs ~40 chunks/s, not ~200, and the
#: bridge, Analyzer and recorder each see batches of several frames. Below the display
#: period (33 ms at 30 Hz), so the page still gets every foot's newest frame each tick.
DEFAULT_READ_MS = 25.0
_READ_TIMEOUT_S = 0.05
#: How long one read keeps taking bytes once some have arrived (s).
_DRAIN_S = 0.002
_MAX_READ = 1 << 16


def _open_error(device: str, exc: BaseException) -> DeviceError:
    """A one-line DeviceError for a failed open, naming the fix."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOENT or isinstance(exc, FileNotFoundError) or "No such file" in text:
        return DeviceError(
            f"serial port {device} not found: is the insole plugged in and switched on? "
            "(ls /dev/ttyACM* /dev/serial/by-id/ lists the ports)"
        )
    if code in (errno.EACCES, errno.EPERM) or isinstance(exc, PermissionError):
        return DeviceError(
            f"permission denied on serial port {device}: add your user to the dialout group "
            "(sudo usermod -aG dialout $USER, then log in again) or install the udev rule "
            f"{UDEV_RULE}"
        )
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in text.lower():
        return DeviceError(
            f"serial port {device} is busy: another program has it open (another plantar, "
            "a serial console, or ModemManager, which the udev rule "
            f"{UDEV_RULE} keeps away); close it and retry"
        )
    return DeviceError(f"cannot open serial port {device}: {text}")


def _what_arrived(n_bytes: int) -> str:
    """What the bytes read while waiting for INFO say about the port, for its error."""
    if n_bytes == 0:
        return "nothing arrived (wrong port, or the firmware is not running)"
    return (
        f"{n_bytes} bytes arrived, no INFO among them (another device on this port, or a "
        "UART at another baud rate: set ?baud= in the url)"
    )


@register_transport
class SerialTransport(Transport):
    """An insole on a serial port."""

    scheme = "serial"

    def __init__(self, url: str, params: dict[str, str]) -> None:
        super().__init__(url, params)
        unknown = sorted(set(params) - {"netloc", "path", "baud", "info_timeout", "read_ms"})
        if unknown:
            raise ConfigError(
                f"transport URL {url!r}: unknown parameter {unknown[0]!r} "
                "(serial:// takes baud, info_timeout and read_ms)"
            )
        netloc, path = params.get("netloc", ""), params.get("path", "")
        self.device = netloc + path if netloc else path
        if not self.device or self.device == "/" or not self.device.startswith("/"):
            what = "no port" if self.device in ("", "/") else "no absolute device path"
            raise ConfigError(
                f"transport URL {url!r} names {what}: use serial:///dev/ttyACM0 "
                "(three slashes before an absolute path)"
            )
        try:
            self.baud = int(params.get("baud", DEFAULT_BAUD))
            self.info_timeout_s = float(params.get("info_timeout", 2.5))
            self.read_interval_s = float(params.get("read_ms", DEFAULT_READ_MS)) * 1e-3
        except ValueError:
            raise ConfigError(
                f"transport URL {url!r}: baud, info_timeout and read_ms must be numbers"
            ) from None
        if self.baud <= 0 or self.info_timeout_s <= 0:
            raise ConfigError(f"transport URL {url!r}: baud and info_timeout must be > 0")
        if not 0 <= self.read_interval_s <= 0.1:
            raise ConfigError(f"transport URL {url!r}: read_ms must be 0..100 (ms)")
        self._port = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._queue: asyncio.Queue[Chunk | BaseException] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: list[Chunk] = []
        self._closed = False
        self._lost = False
        self._gap_next = False

    @property
    def description(self) -> str:
        return self.device

    # ------------------------------------------------------------------ port I/O

    def _open_port(self):
        import serial

        try:
            return serial.Serial(
                self.device, self.baud, timeout=_DRAIN_S, exclusive=True, write_timeout=1
            )
        except (OSError, serial.SerialException, ValueError) as exc:
            raise _open_error(self.device, exc) from None

    def _reader(self, port, queue, loop, stop: threading.Event) -> None:
        """Thread: blocking reads → chunks on the loop's queue; ends on error or stop."""

        def post(item: Chunk | BaseException) -> bool:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop has closed
                return False
            return True

        interval_s = self.read_interval_s
        fd = port.fileno()
        last_read = 0.0
        while not stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], _READ_TIMEOUT_S)  # a first byte
                if not ready:
                    continue
                # let the bytes of the next few frames gather (in the kernel's tty buffer)
                # so that one chunk carries several frames: at most 1 / interval chunks/s
                pause = interval_s - (time.monotonic() - last_read)
                if pause > 0 and stop.wait(pause):
                    return
                # everything that arrives within _DRAIN_S: pyserial reads on past the tty's
                # 4 KiB buffer as the kernel refills it (read(in_waiting) would stop there)
                data = port.read(_MAX_READ)
            except Exception as exc:
                if not stop.is_set():
                    post(LinkLost(f"{self.device}: {exc}"))
                return
            if not data:
                continue
            last_read = time.monotonic()
            if not post(Chunk(data, time.monotonic_ns())):
                return

    async def _start(self) -> DeviceInfo | None:
        port = await asyncio.to_thread(self._open_port)
        self._port = port
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._reader,
            args=(port, self._queue, self._loop, self._stop),
            name=f"plantar-serial-{self.device}",
            daemon=True,
        )
        self._thread.start()
        self._lost = False
        await self._request_info()
        info, chunks = await wait_for_info(
            self._read_raw, self.info_timeout_s, request_again=self._request_info
        )
        self._held = chunks
        return info

    async def _request_info(self) -> None:
        with contextlib.suppress(LinkLost):
            await self._write(frame_message(encode_control(Command.REQUEST_INFO)))

    async def _stop_reader(self) -> None:
        self._stop.set()
        port, self._port = self._port, None
        if port is not None:
            cancel = getattr(port, "cancel_read", None)
            if cancel is not None:
                with contextlib.suppress(Exception):
                    cancel()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2.0)
            self._thread = None
        if port is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(port.close)
        if self._queue is not None:
            self._queue.put_nowait(LinkLost(f"{self.device}: closed"))

    async def _read_raw(self) -> Chunk:
        if self._queue is None:
            raise LinkLost(f"{self.device}: not open")
        item = await self._queue.get()
        if isinstance(item, BaseException):
            self._lost = True
            raise item
        return item

    async def _write(self, data: bytes) -> None:
        port = self._port
        if port is None or self._lost:
            raise LinkLost(f"{self.device}: not connected")
        try:
            await asyncio.to_thread(port.write, data)
        except Exception as exc:
            raise LinkLost(f"{self.device}: write failed: {exc}") from None

    # -------------------------------------------------------------- the contract

    async def open(self) -> DeviceInfo:
        if self._closed:
            raise LinkLost(f"{self.device}: closed")
        info = await self._start()
        if info is None:
            await self._stop_reader()
            received = sum(len(chunk.data) for chunk in self._held)
            self._held = []
            raise DeviceError(
                f"no Plantar insole answers on {self.device}: no INFO message within "
                f"{self.info_timeout_s:g} s; {_what_arrived(received)}"
            )
        return info

    async def read(self) -> Chunk:
        if self._closed or self._lost:
            raise LinkLost(f"{self.device}: not connected")
        chunk = self._held.pop(0) if self._held else await self._read_raw()
        if self._gap_next:
            self._gap_next = False
            chunk = Chunk(chunk.data, chunk.t_host_ns, True)
        return chunk

    async def send_control(self, message: bytes) -> None:
        await self._write(frame_message(message))

    async def reconnect(self) -> DeviceInfo:
        if self._closed:
            raise LinkLost(f"{self.device}: closed")
        await self._stop_reader()
        try:
            info = await self._start()
        except DeviceError as exc:
            raise LinkLost(str(exc)) from None
        if info is None:
            await self._stop_reader()
            raise LinkLost(f"{self.device}: reopened but no INFO yet")
        self._gap_next = True
        return info

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._stop_reader()
